/* test-tpm-blob.c: the pure parts of src/tpm: token blobs (size-prefixed TPM2B through tss2-mu) round trip
 * and refuse short or trailing bytes; the measurement log record is RFC 7464 JSON-seq in systemd's shape;
 * algorithm names. No TPM here (the TPM paths are tested on swtpm in tests/integration/test-tpm-*.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "tpm/tpm.h"
#include "util.h"

static void test_blob_private(void **state) {
        TPM2B_PRIVATE p = { .size = 5, .buffer = { 1, 2, 3, 4, 5 } }, q;
        _cleanup_free_ uint8_t *b = NULL;
        size_t len = 0;
        assert_int_equal(vs_tpm_blob_private(&p, &b, &len), 0);
        assert_int_equal(len, 7);
        assert_int_equal(b[0], 0);
        assert_int_equal(b[1], 5); /* big-endian size prefix */
        assert_int_equal(vs_tpm_parse_private(b, len, &q), 0);
        assert_int_equal(q.size, 5);
        assert_memory_equal(q.buffer, p.buffer, 5);
        assert_int_equal(vs_tpm_parse_private(b, len - 1, &q), -EBADMSG);
        uint8_t longer[8];
        memcpy(longer, b, len);
        longer[7] = 0;
        assert_int_equal(vs_tpm_parse_private(longer, sizeof(longer), &q), -EBADMSG);
}

static void test_blob_public_name(void **state) {
        TPM2B_PUBLIC p = {
                .publicArea = {
                        .type = TPM2_ALG_KEYEDHASH,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA,
                        .authPolicy = { .size = 32, .buffer = { 0xaa } },
                        .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                        .unique.keyedHash = { .size = 32, .buffer = { 0x55 } },
                },
        }, q;
        _cleanup_free_ uint8_t *b = NULL;
        size_t len = 0;
        assert_int_equal(vs_tpm_blob_public(&p, &b, &len), 0);
        assert_int_equal(b[0] << 8 | b[1], len - 2);
        assert_int_equal(vs_tpm_parse_public(b, len, &q), 0);
        assert_int_equal(q.publicArea.objectAttributes, p.publicArea.objectAttributes);
        assert_memory_equal(q.publicArea.authPolicy.buffer, p.publicArea.authPolicy.buffer, 32);
        assert_int_equal(vs_tpm_parse_public(b, 3, &q), -EBADMSG);
        /* found by fuzz-token: a size field that disagrees with the TPMT_PUBLIC after it (tss2-mu reads the
         * content without checking) is refused, both shorter and, with a trailing byte, longer */
        b[1]--;
        assert_int_equal(vs_tpm_parse_public(b, len, &q), -EBADMSG);
        b[1] += 2;
        uint8_t *longer = malloc(len + 1);
        assert_non_null(longer);
        memcpy(longer, b, len);
        longer[len] = 0;
        assert_int_equal(vs_tpm_parse_public(longer, len + 1, &q), -EBADMSG);
        free(longer);

        TPM2B_NAME n = { .size = 34, .name = { 0x00, 0x0b, 0x11 } }, m;
        _cleanup_free_ uint8_t *nb = NULL;
        assert_int_equal(vs_tpm_blob_name(&n, &nb, &len), 0);
        assert_int_equal(len, 36);
        assert_int_equal(vs_tpm_parse_name(nb, len, &m), 0);
        assert_memory_equal(m.name, n.name, 34);
        uint8_t empty[2] = { 0, 0 };
        assert_int_equal(vs_tpm_parse_name(empty, 2, &m), 0);
        assert_int_equal(m.size, 0);
        assert_int_equal(vs_tpm_parse_name(empty, 1, &m), -EBADMSG);
}

/* TPM return codes as sentences: TPM_RC_LOCKOUT says what dictionary-attack lockout is, how it ends and that
 * volseal's noDA objects are not affected; each maps to the errno callers act on. */
static void test_rc_describe(void **state) {
        char buf[768];
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_LOCKOUT, buf, sizeof(buf)), -EACCES);
        assert_non_null(strstr(buf, "(0x921)"));
        assert_non_null(strstr(buf, "dictionary-attack lockout"));
        assert_non_null(strstr(buf, "tpm2_dictionarylockout --clear-lockout"));
        assert_non_null(strstr(buf, "noDA"));
        /* tss2-rc's layer bits (ESYS passes TPM codes through unchanged; a resource manager sets 0x0b) */
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_LOCKOUT | TSS2_RESMGR_TPM_RC_LAYER, buf, sizeof(buf)), -EIO);
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_1, buf, sizeof(buf)), -EACCES);
        assert_non_null(strstr(buf, "password volseal does not know"));
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_POLICY_FAIL | TPM2_RC_S | TPM2_RC_1, buf, sizeof(buf)), -EKEYREJECTED);
        assert_null(strstr(buf, "lockout"));
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_SESSION_MEMORY, buf, sizeof(buf)), -EIO);
        assert_non_null(strstr(buf, "the TPM is full"));
        assert_int_equal(vs_tpm_rc_describe(TSS2_TCTI_RC_LAYER | TSS2_BASE_RC_IO_ERROR, buf, sizeof(buf)), -ENODEV);
        assert_non_null(strstr(buf, "stopped answering"));
        assert_int_equal(vs_tpm_rc_describe(TPM2_RC_SIGNATURE | TPM2_RC_P | TPM2_RC_2, buf, sizeof(buf)), -EBADMSG);
        char small[16];
        vs_tpm_rc_describe(TPM2_RC_LOCKOUT, small, sizeof(small)); /* truncates, terminated */
        assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_measure_log(void **state) {
        char dir[] = "/tmp/test-tpm-blob.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/run/volseal/tpm2-measure.log", dir);
        TPML_DIGEST_VALUES d = { .count = 2 };
        d.digests[0].hashAlg = TPM2_ALG_SHA1;
        memset(&d.digests[0].digest, 0x11, 20);
        d.digests[1].hashAlg = TPM2_ALG_SHA256;
        memset(&d.digests[1].digest, 0xab, 32);
        assert_int_equal(vs_measure_log_append(path, 11, &d, "enter-initrd"), 0);
        assert_int_equal(vs_measure_log_append(path, 11, &d, "a\"quote"), 0);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        assert_int_equal(buf[0], 0x1e);
        char *second = strchr(buf + 1, 0x1e);
        assert_non_null(second);
        assert_int_equal(second[-1], '\n');
        second[-1] = 0;
        const char *want = "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha1\",\"digest\":\""
                           "1111111111111111111111111111111111111111\"},{\"hashAlg\":\"sha256\",\"digest\":\""
                           "abababababababababababababababababababababababababababababababab\"}],"
                           "\"content_type\":\"systemd\",\"content\":{\"string\":\"enter-initrd\"}}";
        assert_string_equal(buf + 1, want);
        struct json_object *o = json_tokener_parse(second + 1);
        assert_non_null(o);
        struct json_object *c, *s;
        assert_true(json_object_object_get_ex(o, "content", &c));
        assert_true(json_object_object_get_ex(c, "string", &s));
        assert_string_equal(json_object_get_string(s), "a\"quote");
        json_object_put(o);
        TPML_DIGEST_VALUES bad = { .count = 1 };
        bad.digests[0].hashAlg = 0x7777;
        assert_int_equal(vs_measure_log_append(path, 11, &bad, "x"), -EINVAL);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_alg_names(void **state) {
        assert_string_equal(vs_tpm_alg_name(TPM2_ALG_SHA256), "sha256");
        assert_int_equal(vs_tpm_alg_from_name("SHA384"), TPM2_ALG_SHA384);
        assert_int_equal(vs_tpm_alg_from_name("md5"), 0);
        assert_null(vs_tpm_alg_name(0x7777));
        setenv("VOLSEAL_MEASURE_LOG", "", 1);
        assert_string_equal(vs_measure_log_path(), VS_MEASURE_LOG_DEFAULT);
        setenv("VOLSEAL_MEASURE_LOG", "/x/y", 1);
        assert_string_equal(vs_measure_log_path(), "/x/y");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_blob_private),
                cmocka_unit_test(test_blob_public_name),
                cmocka_unit_test(test_rc_describe),
                cmocka_unit_test(test_measure_log),
                cmocka_unit_test(test_alg_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
