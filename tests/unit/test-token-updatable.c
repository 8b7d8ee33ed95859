/* test-token-updatable.c: the `volseal-tpm2-updatable` LUKS2 token (src/keys/token-updatable.c): what the
 * writer makes parses back to the same fields (also through its JSON text), and every malformed or
 * inconsistent token is refused with its reason and no partial result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <json-c/json.h>

#include "fixture.h"
#include "keys/token-updatable.h"
#include "policy.h"
#include "util.h"

static const char nv_name_hex[] = "000b1d54e3af16889fc32e23c041a38aea1831be81c10e45b26e6ffd64f208fb8c46";
static const char srk_name_hex[] = "000b9430f5e63490113d4ed813e7afe4e3012af75fd74076f3c6efdd392701fa7204";

static void sample(struct vs_updatable_token *t) {
        *t = (struct vs_updatable_token) {
                .sealed = {
                        .priv = { .size = 5, .buffer = { 1, 2, 3, 4, 5 } },
                        .pub.publicArea = {
                                .type = TPM2_ALG_KEYEDHASH,
                                .nameAlg = TPM2_ALG_SHA256,
                                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA,
                                .authPolicy.size = 32,
                                .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                                .unique.keyedHash = { .size = 32, .buffer = { 0x55 } },
                        },
                        .srk_name.size = 34,
                        .pcr_mask = 1u << 7,
                },
                .nv_index = 0x01805600,
                .nv_name.size = 34,
        };
        assert_int_equal(policy_unhex(nv_name_hex, t->nv_name.name, 34), 0);
        assert_int_equal(policy_unhex(srk_name_hex, t->sealed.srk_name.name, 34), 0);
        assert_int_equal(policy_authorize_nv(t->sealed.policy_hash, &t->nv_name), 0);
        memcpy(t->sealed.pub.publicArea.authPolicy.buffer, t->sealed.policy_hash, 32);
}

static void test_roundtrip(void **state) {
        struct vs_updatable_token t, back;
        struct vs_key_run run = {};
        struct json_object *o = NULL;
        sample(&t);
        assert_int_equal(vs_key_updatable_token_make(&t, &o), 0);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        assert_non_null(strstr(text, "\"type\":\"volseal-tpm2-updatable\",\"version\":1,"));
        assert_non_null(strstr(text, "\"nv_index\":\"0x01805600\""));
        assert_non_null(strstr(text, "\"pcrs\":[7]"));
        assert_non_null(strstr(text, "\"policy_hash\":\"49e52d106027617670c40a9bd3f9c62b8cc0ce799c065a442102267c3618f41b\""));
        struct json_object *parsed = json_tokener_parse(text);
        json_object_object_add(parsed, "keyslots", json_object_new_array()); /* volume.c adds it; ignored here */
        assert_int_equal(vs_key_updatable_token_parse(&run, 3, parsed, &back), 0);
        assert_int_equal(back.nv_index, t.nv_index);
        assert_int_equal(back.sealed.pcr_mask, t.sealed.pcr_mask);
        assert_memory_equal(&back.nv_name, &t.nv_name, sizeof(t.nv_name));
        assert_memory_equal(&back.sealed.srk_name, &t.sealed.srk_name, sizeof(t.sealed.srk_name));
        assert_memory_equal(back.sealed.policy_hash, t.sealed.policy_hash, 32);
        assert_int_equal(back.sealed.priv.size, 5);
        assert_memory_equal(back.sealed.priv.buffer, t.sealed.priv.buffer, 5);
        assert_int_equal(back.sealed.pub.publicArea.objectAttributes, t.sealed.pub.publicArea.objectAttributes);
        json_object_put(parsed);
        json_object_put(o);
}

/* Each case replaces one field of a good token (value NULL: removes it). */
static void test_refused(void **state) {
        static const struct {
                const char *field, *json, *reason;
        } cases[] = {
                { "type", "\"talos-tpm2\"", "the token is not of type volseal-tpm2-updatable" },
                { "version", "2", "token's version is not 1" },
                { "version", "\"1\"", "token's version is not 1" },
                { "sealed_blob_private", NULL, "token lacks sealed_blob_private" },
                { "sealed_blob_private", "5", "token has a non-string sealed_blob_private (wrong field type)" },
                { "sealed_blob_private", "\"AAUBAgMEBQ=\"", "sealed_blob_private is not a TPM2B in base64" },
                { "sealed_blob_private", "\"AA=VAQIDBAU=\"", "sealed_blob_private is not a TPM2B in base64" },
                { "sealed_blob_private", "\"AAYBAgMEBQ==\"", "sealed_blob_private is not a TPM2B in base64" },
                { "sealed_blob_public", "\"\"", "sealed_blob_public is not a TPM2B in base64" },
                { "srk_name", "\"000b9430\"", "srk_name is not a SHA-256 Name in hex" },
                { "srk_name", "\"000c9430f5e63490113d4ed813e7afe4e3012af75fd74076f3c6efdd392701fa7204\"",
                  "srk_name is not a SHA-256 Name" },
                { "policy_hash", "\"00\"", "policy_hash is not 32 bytes in hex" },
                { "policy_hash", "\"59e52d106027617670c40a9bd3f9c62b8cc0ce799c065a442102267c3618f41b\"",
                  "policy_hash is not PolicyAuthorizeNV of its nv_name" },
                { "nv_index", "\"0x81000001\"", "nv_index is not an NV index handle" },
                { "nv_index", "\"01805600\"", "nv_index is not an NV index handle" },
                { "nv_index", "\"0x0180560g\"", "nv_index is not an NV index handle" },
                { "nv_index", "25188864", "token has a non-string nv_index" },
                { "nv_name", "\"000b1d54e3af16889fc32e23c041a38aea1831be81c10e45b26e6ffd64f208fb8c47\"",
                  "policy_hash is not PolicyAuthorizeNV of its nv_name" },
                { "pcrs", "[7, 11]", "pcrs[1] is not a literal PCR" },
                { "pcrs", "[7, 7]", "pcrs[1] is not a literal PCR" },
                { "pcrs", "[\"7\"]", "pcrs[0] is not a literal PCR" },
                { "pcrs", "7", "pcrs is missing or not a list" },
        };
        struct vs_updatable_token t, back;
        sample(&t);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct vs_key_run run = {};
                struct json_object *o = NULL;
                assert_int_equal(vs_key_updatable_token_make(&t, &o), 0);
                if (cases[i].json)
                        json_object_object_add(o, cases[i].field, json_tokener_parse(cases[i].json));
                else
                        json_object_object_del(o, cases[i].field);
                memset(&back, 0xaa, sizeof(back));
                assert_int_equal(vs_key_updatable_token_parse(&run, 2, o, &back), -EBADMSG);
                if (!strstr(run.reason, cases[i].reason) || !strstr(run.reason, "keyslot 2: "))
                        fail_msg("case %zu: '%s' not in '%s'", i, cases[i].reason, run.reason);
                assert_int_equal(back.nv_index, 0xaaaaaaaa); /* nothing written on a refusal */
                json_object_put(o);
        }
}

/* The sealed object itself must be what an updatable seal makes. */
static void test_refused_object(void **state) {
        struct vs_updatable_token t, back;
        struct {
                TPMA_OBJECT attrs;
                uint8_t policy0;
                const char *reason;
        } cases[] = {
                { TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA | TPMA_OBJECT_USERWITHAUTH, 0,
                  "sealed object is not a policy-only, noDA, fixedTPM keyedHash object" },
                { TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT, 0, "sealed object is not a policy-only, noDA" },
                { TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA, 1,
                  "sealed object has another policy than its policy_hash" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct vs_key_run run = {};
                struct json_object *o = NULL;
                sample(&t);
                t.sealed.pub.publicArea.objectAttributes = cases[i].attrs;
                t.sealed.pub.publicArea.authPolicy.buffer[0] ^= cases[i].policy0;
                assert_int_equal(vs_key_updatable_token_make(&t, &o), 0);
                assert_int_equal(vs_key_updatable_token_parse(&run, 0, o, &back), -EBADMSG);
                if (!strstr(run.reason, cases[i].reason))
                        fail_msg("case %zu: '%s' not in '%s'", i, cases[i].reason, run.reason);
                json_object_put(o);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_roundtrip, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_refused, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_refused_object, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
