/* test-meta.c: META (Talos ADV + legacy syslinux ADV) on crafted blocks, and tag 9 JSON.
 * The blocks are built here by an independent encoder written from the format description (docs/meta.md),
 * so the reader is checked against the format, and the writer's bytes against the encoder's. */
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
#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "meta-config.h"
#include "meta.h"

#define IMG (1024u * 1024u)

static char logbuf[16384];

static void capture(enum vs_log_level level, const char *msg, void *ud) {
        (void) ud;
        size_t n = strlen(logbuf);
        snprintf(logbuf + n, sizeof(logbuf) - n, "%d|%s\n", (int) level, msg);
}

static int setup(void **state) {
        (void) state;
        logbuf[0] = 0;
        vs_log_set_sink(capture, NULL);
        vs_log_set_level(VS_LOG_DEBUG);
        return 0;
}

/* ---- an independent encoder ---- */

struct entry { uint32_t tag; const char *value; size_t len; };

static void be(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24); p[1] = (uint8_t) (v >> 16); p[2] = (uint8_t) (v >> 8); p[3] = (uint8_t) v;
}

static void le(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); p[2] = (uint8_t) (v >> 16); p[3] = (uint8_t) (v >> 24);
}

/* One 256 KiB Talos ADV copy with the given entries, in order. */
static void talos_copy(uint8_t *c, const struct entry *e, size_t n) {
        const size_t L = 256 * 1024;
        memset(c, 0, L);
        be(c, 0x5a4b3c2d);
        size_t off = 4;
        for (size_t i = 0; i < n; i++) {
                size_t len = e[i].len ? e[i].len : strlen(e[i].value);
                be(c + off, e[i].tag);
                be(c + off + 4, (uint32_t) len);
                memcpy(c + off + 8, e[i].value, len);
                off += 8 + len;
        }
        be(c + L - 4, 0xa5b4c3d2);
        unsigned char d[32];
        unsigned int dl = 0;
        EVP_Digest(c, L, d, &dl, EVP_sha256(), NULL);
        memcpy(c + L - 36, d, 32);
}

/* One 512-byte syslinux ADV copy. */
static void legacy_copy(uint8_t *c, const struct entry *e, size_t n) {
        memset(c, 0, 512);
        le(c, 0x5a2d2fa5);
        size_t off = 8;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(e[i].value);
                c[off] = (uint8_t) e[i].tag;
                c[off + 1] = (uint8_t) len;
                memcpy(c + off + 2, e[i].value, len);
                off += 2 + len;
        }
        le(c + 508, 0xdd28bf64);
        uint32_t sum = 0;
        for (size_t i = 8; i < 508; i += 4)
                sum += (uint32_t) c[i] | (uint32_t) c[i + 1] << 8 | (uint32_t) c[i + 2] << 16 | (uint32_t) c[i + 3] << 24;
        le(c + 4, 0xa3041767u - sum);
}

static uint8_t *image(void) {
        uint8_t *img = calloc(1, IMG);
        assert_non_null(img);
        return img;
}

static void expect_tag(const struct vs_meta *m, unsigned tag, const char *value, int source) {
        const uint8_t *p;
        size_t len;
        assert_int_equal(vs_meta_get(m, tag, &p, &len), source);
        assert_int_equal(len, strlen(value));
        assert_memory_equal(p, value, len);
}

/* ---- Talos ADV ---- */

static void test_good(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry e[] = { { 9, "null", 0 }, { 15, "8a9e5c1a-0000-4000-8000-000000000001", 0 }, { 200, "x", 0 } };
        talos_copy(img, e, 3);
        talos_copy(img + 256 * 1024, e, 3);
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "good"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        expect_tag(&m, 9, "null", 1);
        expect_tag(&m, 15, "8a9e5c1a-0000-4000-8000-000000000001", 1);
        expect_tag(&m, 200, "x", 1);
        assert_int_equal(vs_meta_get(&m, 10, NULL, NULL), 0);
        assert_false(m.legacy_valid);

        /* The writer produces exactly the encoder's bytes (tags in ascending order). */
        uint8_t *copy = malloc(256 * 1024);
        assert_non_null(copy);
        assert_int_equal(vs_meta_serialize(&m, copy), 0);
        assert_memory_equal(copy, img, 256 * 1024);
        free(copy);
        vs_meta_done(&m);
        free(img);
}

static void test_copy1_corrupt(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry old[] = { { 9, "old", 0 } }, cur[] = { { 9, "new", 0 }, { 12, "user", 0 } };
        talos_copy(img, old, 1);
        talos_copy(img + 256 * 1024, cur, 2);
        img[4 + 8] ^= 0x01; /* one bit of copy 1's first value: the checksum no longer matches */
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY2);
        expect_tag(&m, 9, "new", 1);
        expect_tag(&m, 12, "user", 1);
        assert_non_null(strstr(logbuf, "META copy 1 is invalid (SHA-256 checksum mismatch); using copy 2"));
        vs_meta_done(&m);

        /* Bad head magic on copy 1 is named too. */
        logbuf[0] = 0;
        img[0] = 0;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY2);
        assert_non_null(strstr(logbuf, "bad head magic"));
        vs_meta_done(&m);
        free(img);
}

static void test_both_corrupt(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry e[] = { { 9, "abc", 0 } };
        talos_copy(img, e, 1);
        talos_copy(img + 256 * 1024, e, 1);
        img[100] ^= 0xff;
        img[256 * 1024 + 5] ^= 0xff;
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_INVALID);
        assert_int_equal(vs_meta_get(&m, 9, NULL, NULL), 0);
        assert_non_null(strstr(logbuf, "both META copies are invalid"));

        /* Refused without force, before any byte is written. */
        FILE *f = tmpfile();
        assert_non_null(f);
        int fd = fileno(f);
        assert_int_equal(pwrite(fd, img, IMG, 0), (ssize_t) IMG);
        assert_int_equal(vs_meta_set(&m, 9, "null", 4, "img"), 0);
        logbuf[0] = 0;
        assert_int_equal(vs_meta_store_fd(&m, fd, "img", false), -EUCLEAN);
        assert_non_null(strstr(logbuf, "refusing to write (use --force"));
        uint8_t *back = malloc(IMG);
        assert_non_null(back);
        assert_int_equal(pread(fd, back, IMG, 0), (ssize_t) IMG);
        assert_memory_equal(back, img, IMG);

        /* With force it is replaced and reads back as copy 1. */
        assert_int_equal(vs_meta_store_fd(&m, fd, "img", true), 0);
        vs_meta_done(&m);
        assert_int_equal(vs_meta_load_fd(&m, fd, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        expect_tag(&m, 9, "null", 1);
        vs_meta_done(&m);
        fclose(f);
        free(back);
        free(img);
}

static void test_oversized(void **state) {
        (void) state;
        uint8_t *img = image();
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_BLANK);
        size_t max = VS_META_MAX_PAYLOAD - 8;
        uint8_t *big = malloc(max + 1);
        assert_non_null(big);
        memset(big, 'a', max + 1);
        assert_int_equal(vs_meta_set(&m, 8, big, max + 1, "img"), -E2BIG);
        assert_non_null(strstr(logbuf, "tag 8: a value of 262077 bytes does not fit META"));
        assert_int_equal(vs_meta_get(&m, 8, NULL, NULL), 0); /* nothing changed */
        assert_int_equal(vs_meta_set(&m, 8, big, max, "img"), 0);
        /* Full: one more byte anywhere is refused, replacing the value with a smaller one is fine. */
        assert_int_equal(vs_meta_set(&m, 9, "", 0, "img"), -E2BIG);
        assert_int_equal(vs_meta_set(&m, 8, big, max - 8, "img"), 0);
        assert_int_equal(vs_meta_set(&m, 9, "", 0, "img"), 0);
        assert_int_equal(vs_meta_payload(&m), VS_META_MAX_PAYLOAD);
        /* The largest payload still serializes into one copy and reads back. */
        uint8_t *copy = malloc(256 * 1024);
        assert_non_null(copy);
        assert_int_equal(vs_meta_serialize(&m, copy), 0);
        memcpy(img, copy, 256 * 1024);
        memcpy(img + 256 * 1024, copy, 256 * 1024);
        vs_meta_done(&m);
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        const uint8_t *p;
        size_t len;
        assert_int_equal(vs_meta_get(&m, 8, &p, &len), 1);
        assert_int_equal(len, max - 8);
        assert_int_equal(vs_meta_get(&m, 9, &p, &len), 1);
        assert_int_equal(len, 0);
        /* Tag 0 and tags above 255 are refused. */
        assert_int_equal(vs_meta_set(&m, 0, "x", 1, "img"), -EINVAL);
        assert_int_equal(vs_meta_set(&m, 256, "x", 1, "img"), -EINVAL);
        vs_meta_done(&m);
        free(copy);
        free(big);
        free(img);
}

static void test_tag0_in_the_middle(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry e[] = { { 5, "a", 0 }, { 0, "xyz", 0 }, { 7, "b", 0 } };
        talos_copy(img, e, 3);
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        expect_tag(&m, 5, "a", 1);
        assert_int_equal(vs_meta_get(&m, 7, NULL, NULL), 0); /* after the end marker: not an entry */
        vs_meta_done(&m);
        free(img);
}

static void test_bad_entries(void **state) {
        (void) state;
        uint8_t *img = image();
        /* A size running past the end makes the copy invalid even with a good checksum. */
        const struct entry e[] = { { 9, "abc", 0 } };
        talos_copy(img, e, 1);
        be(img + 8, 300000);
        unsigned char d[32];
        unsigned int dl = 0;
        memset(img + 256 * 1024 - 36, 0, 32);
        EVP_Digest(img, 256 * 1024, d, &dl, EVP_sha256(), NULL);
        memcpy(img + 256 * 1024 - 36, d, 32);
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_INVALID);
        assert_non_null(strstr(m.copy1_error, "runs past the end"));
        vs_meta_done(&m);
        /* A tag above 255. */
        const struct entry e2[] = { { 256, "abc", 0 } };
        talos_copy(img, e2, 1);
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_INVALID);
        assert_non_null(strstr(m.copy1_error, "tag 256 is out of range"));
        vs_meta_done(&m);
        /* Too small to be META. */
        assert_int_equal(vs_meta_parse(&m, img, 512 * 1024, "tiny"), -EINVAL);
        assert_non_null(strstr(logbuf, "tiny: 524288 bytes is too small for META"));
        free(img);
}

/* ---- legacy syslinux ADV ---- */

static void test_legacy_only(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry le1[] = { { 15, "legacy-uuid", 0 }, { 6, "upgrade", 0 } };
        legacy_copy(img + IMG - 1024, le1, 2);
        legacy_copy(img + IMG - 512, le1, 2);
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_BLANK); /* an old Talos META: the Talos area was never written */
        assert_true(m.legacy_valid);
        expect_tag(&m, 15, "legacy-uuid", 2);
        expect_tag(&m, 6, "upgrade", 2);
        char *uuid = NULL;
        assert_int_equal(vs_meta_uuid_override(&m, &uuid), 1);
        assert_string_equal(uuid, "legacy-uuid");
        free(uuid);

        /* The Talos ADV wins over the legacy one for the same tag. */
        assert_int_equal(vs_meta_set(&m, 15, "talos-uuid", 10, "img"), 0);
        expect_tag(&m, 15, "talos-uuid", 1);

        /* Writing keeps the legacy block byte for byte; deleting a legacy tag rebuilds it validly. */
        FILE *f = tmpfile();
        int fd = fileno(f);
        assert_int_equal(pwrite(fd, img, IMG, 0), (ssize_t) IMG);
        assert_int_equal(vs_meta_store_fd(&m, fd, "img", false), 0);
        uint8_t tail[1024];
        assert_int_equal(pread(fd, tail, 1024, IMG - 1024), 1024);
        assert_memory_equal(tail, img + IMG - 1024, 1024);
        assert_int_equal(vs_meta_delete(&m, 6), 1);
        assert_int_equal(vs_meta_delete(&m, 6), 0);
        assert_int_equal(vs_meta_store_fd(&m, fd, "img", false), 0);
        vs_meta_done(&m);
        assert_int_equal(vs_meta_load_fd(&m, fd, "img"), 0);
        assert_true(m.legacy_valid);
        assert_int_equal(vs_meta_get(&m, 6, NULL, NULL), 0);
        expect_tag(&m, 15, "talos-uuid", 1);
        assert_int_equal(m.legacy[15].present, true); /* still in the legacy block */
        const struct entry le2[] = { { 15, "legacy-uuid", 0 } };
        uint8_t want[512];
        legacy_copy(want, le2, 1);
        assert_int_equal(pread(fd, tail, 1024, IMG - 1024), 1024);
        assert_memory_equal(tail, want, 512);
        assert_memory_equal(tail + 512, want, 512);
        vs_meta_done(&m);
        fclose(f);
        free(img);
}

static void test_legacy_copy2(void **state) {
        (void) state;
        uint8_t *img = image();
        const struct entry a[] = { { 15, "from-copy-2", 0 } };
        legacy_copy(img + IMG - 1024, a, 1);
        legacy_copy(img + IMG - 512, a, 1);
        img[IMG - 1024 + 12] ^= 1; /* copy 1's checksum fails */
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        expect_tag(&m, 15, "from-copy-2", 2);
        vs_meta_done(&m);
        img[IMG - 512 + 12] ^= 1; /* both fail: no legacy ADV at all */
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_false(m.legacy_valid);
        assert_int_equal(vs_meta_get(&m, 15, NULL, NULL), 0);
        assert_int_equal(m.state, VS_META_BLANK); /* the Talos area is still all zero */
        vs_meta_done(&m);
        free(img);
}

static void test_never_written(void **state) {
        (void) state;
        FILE *f = tmpfile();
        int fd = fileno(f);
        assert_int_equal(ftruncate(fd, IMG), 0);
        struct vs_meta m;
        assert_int_equal(vs_meta_load_fd(&m, fd, "zero"), 0);
        assert_int_equal(m.state, VS_META_BLANK);
        assert_int_equal(vs_meta_payload(&m), 0);
        assert_int_equal(vs_meta_set(&m, 9, "null", 4, "zero"), 0);
        assert_int_equal(vs_meta_store_fd(&m, fd, "zero", false), 0); /* blank is writable without force */
        vs_meta_done(&m);
        assert_int_equal(vs_meta_load_fd(&m, fd, "zero"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        expect_tag(&m, 9, "null", 1);
        vs_meta_done(&m);

        /* A torn write (copy 1 half-written) leaves copy 2 readable. */
        uint8_t junk[4096];
        memset(junk, 0x5a, sizeof(junk));
        assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), (ssize_t) sizeof(junk));
        assert_int_equal(vs_meta_load_fd(&m, fd, "zero"), 0);
        assert_int_equal(m.state, VS_META_COPY2);
        expect_tag(&m, 9, "null", 1);
        vs_meta_done(&m);
        fclose(f);
}

static void test_tags_and_uuid(void **state) {
        (void) state;
        unsigned t = 0;
        assert_int_equal(vs_meta_tag_parse("9", &t), 0);
        assert_int_equal(t, 9);
        assert_int_equal(vs_meta_tag_parse("0x0f", &t), 0);
        assert_int_equal(t, 15);
        assert_int_equal(vs_meta_tag_parse("stateencryptionconfig", &t), 0);
        assert_int_equal(t, 9);
        assert_int_equal(vs_meta_tag_parse("UUIDOverride", &t), 0);
        assert_int_equal(t, 15);
        assert_int_equal(vs_meta_tag_parse("0", &t), -EINVAL);
        assert_int_equal(vs_meta_tag_parse("256", &t), -EINVAL);
        assert_int_equal(vs_meta_tag_parse("9x", &t), -EINVAL);
        assert_int_equal(vs_meta_tag_parse("Nope", &t), -EINVAL);
        assert_string_equal(vs_meta_tag_name(9), "StateEncryptionConfig");
        assert_null(vs_meta_tag_name(100));

        uint8_t *img = image();
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        char *u = NULL;
        assert_int_equal(vs_meta_uuid_override(&m, &u), 0);
        assert_int_equal(vs_meta_set(&m, 15, " \n", 2, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 0); /* empty after trimming: no override */
        assert_int_equal(vs_meta_set(&m, 15, "abcd-ef\n", 8, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 1);
        assert_string_equal(u, "abcd-ef");
        free(u);
        assert_int_equal(vs_meta_set(&m, 15, "ab\001cd", 5, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), -EINVAL);
        vs_meta_done(&m);
        free(img);
}

/* ---- tag 9 JSON ---- */

/* What Talos's json.Marshal of a block EncryptionSpec looks like: Go field names, nulls for unused kinds. */
static const char modern[] =
        "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":["
        "{\"KeySlot\":1,\"KeyStatic\":null,\"KeyNodeID\":null,\"KeyKMS\":null,"
        "\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[7,11]},\"TPMCheckSecurebootStatusOnEnroll\":true},\"KeyLockToSTATE\":null},"
        "{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":\"s3cret\"},\"KeyNodeID\":null,\"KeyKMS\":null,\"KeyTPM\":null,\"KeyLockToSTATE\":null},"
        "{\"KeySlot\":2,\"KeyNodeID\":{},\"KeyKMS\":null},"
        "{\"KeySlot\":3,\"KeyKMS\":{\"KMSEndpoint\":\"grpc://kms:4050\"}}"
        "],\"EncryptionCipher\":\"xchacha12,aes-adiantum-plain64\",\"EncryptionKeySize\":0,\"EncryptionBlockSize\":4096,"
        "\"EncryptionPerfOptions\":[\"no_read_workqueue\"],\"EncryptionAllowDiscards\":true,\"SomethingNew\":1}";

/* The legacy v1alpha1 shape: no options, no TPM PCRs (PCR 7), no AllowDiscards. */
static const char legacy[] =
        "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeyStatic\":null,\"KeyNodeID\":{},\"KeyKMS\":null,\"KeySlot\":0,"
        "\"KeyTPM\":null},{\"KeySlot\":1,\"KeyTPM\":{\"TPMCheckSecurebootStatusOnEnroll\":null}}],\"EncryptionCipher\":\"\","
        "\"EncryptionKeySize\":0,\"EncryptionBlockSize\":0,\"EncryptionPerfOptions\":null}";

static void test_config_modern(void **state) {
        (void) state;
        struct vs_encryption_config enc;
        assert_int_equal(vs_meta_config_parse(modern, strlen(modern), "t9", &enc), 1);
        assert_string_equal(enc.provider, "luks2");
        assert_int_equal(enc.n_keys, 4);
        assert_int_equal(enc.keys[0].slot, 0); /* sorted by slot */
        assert_int_equal(enc.keys[0].kind, VS_KEY_STATIC);
        assert_int_equal(enc.keys[0].passphrase->len, 6);
        assert_memory_equal(enc.keys[0].passphrase->data, "s3cret", 6);
        assert_int_equal(enc.keys[1].kind, VS_KEY_TPM);
        assert_int_equal(enc.keys[1].tpm_pcrs, (1u << 7) | (1u << 11));
        assert_true(enc.keys[1].tpm_check_secureboot);
        assert_int_equal(enc.keys[2].kind, VS_KEY_NODEID);
        assert_int_equal(enc.keys[3].kind, VS_KEY_KMS);
        assert_string_equal(enc.keys[3].kms_endpoint, "grpc://kms:4050");
        assert_string_equal(enc.cipher, "xchacha12");
        assert_int_equal(enc.key_size, 256);
        assert_int_equal(enc.block_size, 4096);
        assert_int_equal(enc.perf_flags, VS_PERF_NO_READ_WORKQUEUE);
        assert_true(enc.allow_discards);
        assert_true(vs_meta_config_has_static(&enc));

        /* Round trip through our writer: same config back. */
        struct vs_secret *json = NULL;
        assert_int_equal(vs_meta_config_format(&enc, &json), 0);
        assert_non_null(strstr((char *) json->data, "\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[7,11]},\"TPMCheckSecurebootStatusOnEnroll\":true}"));
        assert_non_null(strstr((char *) json->data, "\"KeyStatic\":{\"KeyData\":\"s3cret\"},\"KeyNodeID\":null"));
        assert_non_null(strstr((char *) json->data, "\"EncryptionAllowDiscards\":true"));
        struct vs_encryption_config back;
        assert_int_equal(vs_meta_config_parse(json->data, json->len, "t9", &back), 1);
        assert_int_equal(back.n_keys, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(back.keys[i].slot, enc.keys[i].slot);
                assert_int_equal(back.keys[i].kind, enc.keys[i].kind);
                assert_int_equal(back.keys[i].tpm_pcrs, enc.keys[i].tpm_pcrs);
        }
        assert_int_equal(back.perf_flags, enc.perf_flags);
        struct vs_secret *json2 = NULL;
        assert_int_equal(vs_meta_config_format(&back, &json2), 0);
        assert_true(vs_secret_equal(json, json2));
        vs_secret_free(json);
        vs_secret_free(json2);
        vs_encryption_config_done(&back);
        vs_encryption_config_done(&enc);
}

static void test_config_legacy_and_null(void **state) {
        (void) state;
        struct vs_encryption_config enc;
        assert_int_equal(vs_meta_config_parse(legacy, strlen(legacy), "t9", &enc), 1);
        assert_int_equal(enc.n_keys, 2);
        assert_int_equal(enc.keys[0].kind, VS_KEY_NODEID);
        assert_int_equal(enc.keys[1].kind, VS_KEY_TPM);
        assert_int_equal(enc.keys[1].tpm_pcrs, 1u << 7);
        assert_string_equal(enc.cipher, "aes-xts-plain64");
        assert_int_equal(enc.key_size, 512);
        assert_false(vs_meta_config_has_static(&enc));
        vs_encryption_config_done(&enc);

        /* Flat TPMPCRs (one Talos release), an empty list = no PolicyPCR. */
        const char flat[] = "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMPCRs\":[]}}]}";
        assert_int_equal(vs_meta_config_parse(flat, strlen(flat), "t9", &enc), 1);
        assert_int_equal(enc.keys[0].tpm_pcrs, 0);
        vs_encryption_config_done(&enc);

        assert_int_equal(vs_meta_config_parse("null", 4, "t9", &enc), 0);
        assert_int_equal(vs_meta_config_parse(" null\n", 6, "t9", &enc), 0);
        const char none[] = "{\"EncryptionProvider\":0,\"EncryptionKeys\":null}";
        assert_int_equal(vs_meta_config_parse(none, strlen(none), "t9", &enc), 0);
        struct vs_secret *json = NULL;
        assert_int_equal(vs_meta_config_format(NULL, &json), 0);
        assert_int_equal(json->len, 4);
        assert_memory_equal(json->data, "null", 4);
        vs_secret_free(json);
}

struct bad_json { const char *json; const char *fragment; };

static void test_config_errors(void **state) {
        (void) state;
        static const struct bad_json cases[] = {
                { "{\"EncryptionKeys\":[{\"KeySlot\":\"0\",\"KeyNodeID\":{}}]}", "t9: field EncryptionKeys[0].KeySlot: expected an integer, got string" },
                { "{\"EncryptionKeys\":[{\"KeyNodeID\":{}}]}", "field EncryptionKeys[0].KeySlot: missing" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}},{\"KeySlot\":1,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[7,\"11\"]}}}]}",
                  "field EncryptionKeys[1].KeyTPM.TPMOptions.PCRs[1]: expected a PCR number" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[24]}}}]}", "PCRs[0]: PCR 24 is out of range" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":5}}]}", "field EncryptionKeys[0].KeyStatic.KeyData: expected a string" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyKMS\":\"x\"}]}", "field EncryptionKeys[0].KeyKMS: expected an object or null" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0}]}", "field EncryptionKeys[0]: a key needs one kind" },
                { "{\"EncryptionKeys\":{}}", "field EncryptionKeys: expected a list of keys" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionPerfOptions\":[\"fast\"]}",
                  "field EncryptionPerfOptions[0]: unknown option \"fast\"" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionAllowDiscards\":\"yes\"}", "field EncryptionAllowDiscards: expected true" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionKeySize\":-1}", "field EncryptionKeySize: -1 is out of range" },
                { "[1]", "field (top level): expected an object or null, got array" },
                { "{\"EncryptionKeys\":[", "t9: not valid JSON at byte 19: unexpected end of data" },
                { "{\"a\":1} x", "unexpected data after the value" },
                /* Valid JSON, invalid config: the shared rules of config.c speak. */
                { "{\"EncryptionKeys\":[{\"KeySlot\":1,\"KeyNodeID\":{}},{\"KeySlot\":1,\"KeyNodeID\":{}}]}", "slot 1 is used by more than one key" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{},\"KeyLockToSTATE\":true}]}", "STATE cannot be locked to itself" },
                { "{\"EncryptionKeys\":[]}", "at least one key is required" },
                { "{\"EncryptionProvider\":\"luks1\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}]}", "unsupported provider \"luks1\"" },
                { "{\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionCipher\":\"des\"}", "unknown cipher \"des\"" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                logbuf[0] = 0;
                struct vs_encryption_config enc;
                int r = vs_meta_config_parse(cases[i].json, strlen(cases[i].json), "t9", &enc);
                if (r != -EINVAL || !strstr(logbuf, cases[i].fragment))
                        fail_msg("case %zu (%s): r=%d, log: %s (wanted '%s')", i, cases[i].json, r, logbuf, cases[i].fragment);
                assert_null(enc.keys);
        }
}

static void test_state_config_in_meta(void **state) {
        (void) state;
        uint8_t *img = image();
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        struct vs_encryption_config enc;
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), -ENOENT);
        struct vs_encryption_config in;
        assert_int_equal(vs_meta_config_parse(modern, strlen(modern), "t9", &in), 1);
        assert_int_equal(vs_meta_state_config_set(&m, "img", &in), 1);
        assert_int_equal(vs_meta_state_config_set(&m, "img", &in), 0); /* unchanged: nothing to write */
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), 1);
        assert_int_equal(enc.n_keys, 4);
        vs_encryption_config_done(&enc);
        assert_int_equal(vs_meta_state_config_set(&m, "img", NULL), 1);
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), 0);
        assert_int_equal(vs_meta_set(&m, 9, "{\"EncryptionKeys\":[{\"KeySlot\":true}]}", 37, "img"), 0);
        logbuf[0] = 0;
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), -EINVAL);
        assert_non_null(strstr(logbuf, "img: META tag 9 (StateEncryptionConfig): field EncryptionKeys[0].KeySlot: expected an integer, got boolean"));
        vs_encryption_config_done(&in);
        vs_meta_done(&m);
        free(img);
}


#define YSTATE "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  keys:\n    - slot: 0\n      static: {passphrase: machinepw}\n    - slot: 1\n      nodeID: {}\n"
#define YEPH "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      nodeID: {}\n"

static void test_unlock_helpers(void **state) {
        (void) state;
        char path[] = "/tmp/volseal-test-meta.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, IMG), 0);
        close(fd);

        /* First boot: the machine config has STATE; persisting writes tag 9, a second time writes nothing. */
        struct vs_config cfg = {};
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", YSTATE "---\n" YEPH, strlen(YSTATE "---\n" YEPH)), 0);
        struct vs_meta m;
        assert_int_equal(vs_meta_load(&m, path), 0);
        assert_int_equal(vs_meta_config_fill_state(&cfg, &m, path), 0); /* the machine config wins */
        assert_int_equal(vs_meta_state_static_slot(&m, path), -1);
        vs_meta_done(&m);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 1);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 0);
        assert_int_equal(vs_meta_config_persist_state(path, NULL), 0);
        vs_config_free(&cfg);

        /* Second boot: no STATE document; STATE comes from tag 9, first in the list. */
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", YEPH, strlen(YEPH)), 0);
        assert_int_equal(vs_meta_load(&m, path), 0);
        assert_int_equal(vs_meta_state_static_slot(&m, path), 0);
        assert_int_equal(vs_meta_config_fill_state(&cfg, &m, path), 1);
        assert_int_equal(cfg.n_volumes, 2);
        const struct vs_volume_config *st = &cfg.volumes[0];
        assert_string_equal(st->id, "STATE");
        assert_true(st->encrypted);
        assert_int_equal(st->enc.n_keys, 2);
        assert_int_equal(st->enc.keys[0].kind, VS_KEY_STATIC);
        assert_memory_equal(st->enc.keys[0].passphrase->data, "machinepw", 9);
        assert_int_equal(st->enc.keys[1].kind, VS_KEY_NODEID);
        assert_non_null(strstr(st->source, "tag 9"));
        assert_string_equal(cfg.volumes[1].id, "EPHEMERAL");
        assert_int_equal(vs_meta_config_persist_state(path, st), 0); /* came from META: nothing to write */
        vs_meta_done(&m);
        vs_config_free(&cfg);

        /* An unencrypted STATE in the machine config stores null; null fills nothing. */
        const char plain[] = "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\n";
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", plain, strlen(plain)), 0);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 1);
        vs_config_free(&cfg);
        assert_int_equal(vs_meta_load(&m, path), 0);
        expect_tag(&m, 9, "null", 1);
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", YEPH, strlen(YEPH)), 0);
        assert_int_equal(vs_meta_config_fill_state(&cfg, &m, path), 0);
        assert_int_equal(cfg.n_volumes, 1);
        /* Tag 9 that does not parse is an error, never a guess. */
        assert_int_equal(vs_meta_set(&m, 9, "{", 1, path), 0);
        assert_int_equal(vs_meta_config_fill_state(&cfg, &m, path), -EINVAL);
        assert_int_equal(cfg.n_volumes, 1);
        vs_meta_done(&m);
        vs_config_free(&cfg);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_good, setup),
                cmocka_unit_test_setup(test_copy1_corrupt, setup),
                cmocka_unit_test_setup(test_both_corrupt, setup),
                cmocka_unit_test_setup(test_oversized, setup),
                cmocka_unit_test_setup(test_tag0_in_the_middle, setup),
                cmocka_unit_test_setup(test_bad_entries, setup),
                cmocka_unit_test_setup(test_legacy_only, setup),
                cmocka_unit_test_setup(test_legacy_copy2, setup),
                cmocka_unit_test_setup(test_never_written, setup),
                cmocka_unit_test_setup(test_tags_and_uuid, setup),
                cmocka_unit_test_setup(test_config_modern, setup),
                cmocka_unit_test_setup(test_config_legacy_and_null, setup),
                cmocka_unit_test_setup(test_config_errors, setup),
                cmocka_unit_test_setup(test_state_config_in_meta, setup),
                cmocka_unit_test_setup(test_unlock_helpers, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
