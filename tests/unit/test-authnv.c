/* test-authnv.c: the digests of the updatable tpm slot (docs/tpm-updatable.md) and the authorized set kept in
 * volseal's NV index, against vectors. The vectors were computed independently from the TPM 2.0 Part 3
 * policyDigest updates (a few lines of Python over hashlib: PolicySigned, PolicyCommandCode, PolicyOR,
 * PolicyPCR, PolicyAuthorizeNV, the NV public area's Name, cpHash, aHash); the one-key one-state policy equals
 * the plain tpm slot's documented digest (docs/policy.md). tests/integration/test-tpm-updatable.sh checks the
 * same digests against swtpm's trial sessions and Names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authnv.h"
#include "fixture.h"
#include "policy.h"

/* A throw-away ECC P-256 test key. */
static const char ec_key_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgteEzU6xzf12MI62i\n"
        "hnjM7DkTH+Ysfez4kUCFS+3elmShRANCAATpXrxAHGWNrjICn7Wc1ExjBJisz2AL\n"
        "hWbiy6VPGw8LQExQyUwZrSragzYspUN6rvIkfpmV+M7GHEUbX3yQvyGv\n"
        "-----END PRIVATE KEY-----\n";
/* The Name of the RSA test key of test-policy.c (docs/policy.md). */
static const char rsa_key_name[] = "000babd2ea6801d523002886640866c0175d22535fc6e14ef881535bded79ae4d21b";
static const char ec_key_name[] = "000b6bc6b62b40f376bde900d202c071740c0c49b0e6af568f13f239b02c18a9a76a";
#define HANDLE 0x01805600u

static EVP_PKEY *ec_key(void) {
        BIO *b = BIO_new_mem_buf(ec_key_pem, -1);
        EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_non_null(k);
        return k;
}

static TPM2B_NAME name_hex(const char *hex) {
        TPM2B_NAME n = { .size = (uint16_t) (strlen(hex) / 2) };
        assert_int_equal(policy_unhex(hex, n.name, n.size), 0);
        return n;
}

static void sha(const char *s, uint8_t out[32]) {
        unsigned len = 0;
        assert_true(EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL));
}

static void test_building_blocks(void **state) {
        uint8_t d[32];
        policy_digest_init(d);
        policy_command_code(d, TPM2_CC_NV_Write);
        assert_hex(d, 32, "1c4f7107dcaf23ce00756448508558683104bd9e203e93749c227b451270438f");

        TPM2B_PUBLIC pub;
        TPM2B_NAME kname;
        EVP_PKEY *k = ec_key();
        assert_int_equal(policy_ecc_public(k, &pub), 0);
        assert_int_equal(policy_public_name(&pub, &kname), 0);
        assert_hex(kname.name, 34, ec_key_name);
        policy_digest_init(d);
        assert_int_equal(policy_signed(d, &kname, (const uint8_t *) AUTHNV_WRITE_REF, strlen(AUTHNV_WRITE_REF)), 0);
        assert_hex(d, 32, "42bd838cebf4bbd9ea28a9a07bc509dfeeca51c3a3ef08c6c46708b816f290c6");
        assert_int_equal(authnv_write_policy(&kname, d), 0);
        assert_hex(d, 32, "dce8da71b18624ed2928d5aaa5fbca82dc10b014879042b86d0e95c0f9022e90");

        /* the index's Name before and after its first write: TPMA_NV_WRITTEN is part of it */
        TPM2B_NV_PUBLIC nv;
        TPM2B_NAME nvname;
        authnv_nv_public(HANDLE, d, false, &nv);
        assert_int_equal(nv.nvPublic.attributes, 0x02041008);
        assert_int_equal(policy_nv_name(&nv.nvPublic, &nvname), 0);
        assert_hex(nvname.name, 34, "000be553ae6c45cb163f3d82090031ac4100b33f6faf380952e83679fe845f08478f");
        assert_int_equal(authnv_nv_name(HANDLE, &kname, &nvname), 0);
        assert_hex(nvname.name, 34, "000b1d54e3af16889fc32e23c041a38aea1831be81c10e45b26e6ffd64f208fb8c46");
        assert_int_equal(policy_authorize_nv(d, &nvname), 0);
        assert_hex(d, 32, "49e52d106027617670c40a9bd3f9c62b8cc0ce799c065a442102267c3618f41b");

        /* cpHash of NV_Write(3 bytes, offset 0) and what PolicySigned signs over it */
        const uint8_t data[3] = { 1, 2, 3 }, nonce[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
        uint8_t cp[32], ah[32];
        assert_int_equal(policy_nv_write_cphash(&nvname, data, sizeof(data), 0, cp), 0);
        assert_hex(cp, 32, "941e4ac00c17df2d1e9ae5002a8e9c911fc6c208f0e8e7150a8cf082424f1dbd");
        assert_int_equal(policy_signed_ahash(nonce, sizeof(nonce), 0, cp, 32, (const uint8_t *) AUTHNV_WRITE_REF,
                                             strlen(AUTHNV_WRITE_REF), ah), 0);
        assert_hex(ah, 32, "3fa90cd5d2cedff97cfb94456478dfb969e78c634136fa89e6c68cf6fa662cf1");
        EVP_PKEY_free(k);
}

/* The TPM form of the signature verifies with openssl over the same digest. */
static void test_sign_ecdsa(void **state) {
        EVP_PKEY *k = ec_key();
        uint8_t digest[32];
        sha("approve this", digest);
        TPMT_SIGNATURE sig;
        assert_int_equal(policy_sign_ecdsa(k, digest, &sig), 0);
        assert_int_equal(sig.sigAlg, TPM2_ALG_ECDSA);
        assert_int_equal(sig.signature.ecdsa.hash, TPM2_ALG_SHA256);
        ECDSA_SIG *es = ECDSA_SIG_new();
        assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig.signature.ecdsa.signatureR.buffer, 32, NULL),
                                        BN_bin2bn(sig.signature.ecdsa.signatureS.buffer, 32, NULL)), 1);
        unsigned char *der = NULL;
        int der_len = i2d_ECDSA_SIG(es, &der);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_verify(ctx, der, (size_t) der_len, digest, 32), 1);
        digest[0] ^= 1;
        assert_int_not_equal(EVP_PKEY_verify(ctx, der, (size_t) der_len, digest, 32), 1);
        EVP_PKEY_CTX_free(ctx);
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
        EVP_PKEY_free(k);
}

static void test_set_edits(void **state) {
        struct authnv_set s;
        TPM2B_NAME k1 = name_hex(rsa_key_name), k2 = name_hex(ec_key_name), bad = { .size = 3 };
        assert_int_equal(authnv_init(&s, 1u << 11), -EINVAL);
        assert_int_equal(authnv_init(&s, 1u << 24), -EINVAL);
        assert_int_equal(authnv_init(&s, 1u << 7), 0);
        assert_int_equal(authnv_max_states(&s), 8);
        assert_int_equal(authnv_add_key(&s, &bad), -EINVAL);
        assert_int_equal(authnv_add_key(&s, &k1), 1);
        assert_int_equal(authnv_add_key(&s, &k1), 0);
        assert_int_equal(authnv_remove_key(&s, &k1), -EPERM);
        assert_int_equal(authnv_remove_key(&s, &k2), -ENOENT);
        assert_int_equal(authnv_add_key(&s, &k2), 1);
        for (uint8_t i = 0; i < 2; i++) {
                TPM2B_NAME k = k2;
                k.name[33] ^= (uint8_t) (i + 1);
                assert_int_equal(authnv_add_key(&s, &k), 1);
        }
        TPM2B_NAME k5 = k1;
        k5.name[33] ^= 0x80;
        assert_int_equal(authnv_add_key(&s, &k5), -ENOSPC);
        assert_int_equal(authnv_remove_key(&s, &k1), 1);
        assert_int_equal(authnv_find_key(&s, &k2), 0); /* the order of the others is kept */
        assert_int_equal(s.n_keys, 3);

        uint8_t v[9][32];
        for (int i = 0; i < 9; i++)
                memset(v[i], 'a' + i, 32);
        assert_int_equal(authnv_add_state(&s, v[0], 31), -EINVAL);
        for (int i = 0; i < 8; i++)
                assert_int_equal(authnv_add_state(&s, v[i], 32), 1);
        assert_int_equal(authnv_add_state(&s, v[3], 32), 0);
        assert_int_equal(authnv_add_state(&s, v[8], 32), -ENOSPC);
        /* retiring: everything older than the state that booted; a state not authorized changes nothing */
        assert_int_equal(authnv_retire_before(&s, v[8], 32), -ENOENT);
        assert_int_equal(authnv_retire_before(&s, v[5], 32), 5);
        assert_int_equal(s.n_states, 3);
        assert_int_equal(authnv_find_state(&s, v[5], 32), 0);
        assert_int_equal(authnv_find_state(&s, v[7], 32), 2);
        assert_int_equal(authnv_find_state(&s, v[0], 32), -ENOENT);
        assert_int_equal(authnv_retire_before(&s, v[5], 32), 0);
        uint8_t zero[AUTHNV_STATE_BYTES] = {};
        assert_memory_equal(s.states + 3 * 32, zero, AUTHNV_STATE_BYTES - 3 * 32);

        /* two literal PCRs: 64 bytes a state, 4 states; none: no states at all */
        assert_int_equal(authnv_init(&s, 1u << 7 | 1u << 14), 0);
        assert_int_equal(authnv_state_size(&s), 64);
        assert_int_equal(authnv_max_states(&s), 4);
        assert_int_equal(authnv_init(&s, 0), 0);
        assert_int_equal(authnv_add_state(&s, v[0], 0), -EINVAL);
}

static void test_set_policy(void **state) {
        struct authnv_set s;
        TPM2B_NAME k1 = name_hex(rsa_key_name), k2 = name_hex(ec_key_name);
        uint8_t zero[32] = {}, a[32], b[32], p[32];
        assert_int_equal(authnv_init(&s, 1u << 7), 0);
        assert_int_equal(authnv_policy(&s, p), -EINVAL); /* no key */
        assert_int_equal(authnv_add_key(&s, &k1), 1);
        assert_int_equal(authnv_policy(&s, p), -EINVAL); /* no state */
        assert_int_equal(authnv_add_state(&s, zero, 32), 1);
        assert_int_equal(authnv_policy(&s, p), 0);
        /* one key, one state: the plain tpm slot's policy (docs/policy.md) */
        assert_hex(p, 32, "65e2114407230dfea43db4689d3e9ae1df29aa8b45a2ec09e86d5f24422be8ab");

        sha("a", a);
        sha("b", b);
        assert_int_equal(authnv_init(&s, 1u << 7), 0);
        assert_int_equal(authnv_add_key(&s, &k1), 1);
        assert_int_equal(authnv_add_key(&s, &k2), 1);
        assert_int_equal(authnv_add_state(&s, a, 32), 1);
        assert_int_equal(authnv_add_state(&s, b, 32), 1);
        assert_int_equal(authnv_policy(&s, p), 0);
        assert_hex(p, 32, "d9dde8abee6da352d2d32ccf05b3f8f6002fd815f584e77124130e2d57cbbe1e");
        uint8_t branches[8][32];
        assert_int_equal(authnv_key_branches(&s, branches), 0);
        assert_hex(branches[0], 32, "aea94a5bf800b572544b9c0fc8d83c9746e1f6a74d4ff3e82ed08febec3c055a");

        assert_int_equal(authnv_init(&s, 0), 0);
        assert_int_equal(authnv_add_key(&s, &k1), 1);
        assert_int_equal(authnv_add_key(&s, &k2), 1);
        assert_int_equal(authnv_policy(&s, p), 0);
        assert_hex(p, 32, "7a7700ecbc52ce3a22cd9fbe2313e8c7e6edf6cbc9b1a0a7f4d1f910d433fd27");
}

static void full_set(struct authnv_set *s) {
        TPM2B_NAME k1 = name_hex(rsa_key_name), k2 = name_hex(ec_key_name);
        uint8_t a[32], b[32];
        sha("a", a);
        sha("b", b);
        assert_int_equal(authnv_init(s, 1u << 7), 0);
        assert_int_equal(authnv_add_key(s, &k1), 1);
        assert_int_equal(authnv_add_key(s, &k2), 1);
        assert_int_equal(authnv_add_state(s, a, 32), 1);
        assert_int_equal(authnv_add_state(s, b, 32), 1);
        s->serial = 7;
}

static void test_marshal_roundtrip(void **state) {
        struct authnv_set s, back;
        uint8_t buf[AUTHNV_DATA_SIZE];
        full_set(&s);
        assert_int_equal(AUTHNV_DATA_SIZE, 442);
        assert_int_equal(authnv_marshal(&s, buf), 0);
        assert_hex(buf, 2, "000b");
        assert_hex(buf + 2, 32, "d9dde8abee6da352d2d32ccf05b3f8f6002fd815f584e77124130e2d57cbbe1e");
        assert_memory_equal(buf + 34, "VSAS\x01\x02\x02\x00\x00\x00\x00\x80\x00\x00\x00\x07", 16);
        assert_int_equal(authnv_parse(buf, sizeof(buf), &back), 0);
        assert_int_equal(back.serial, 7);
        assert_int_equal(back.pcr_mask, 1u << 7);
        assert_int_equal(back.n_keys, 2);
        assert_int_equal(back.n_states, 2);
        assert_memory_equal(back.keys, s.keys, sizeof(s.keys));
        assert_memory_equal(back.states, s.states, sizeof(s.states));
}

/* Every way the bytes can be wrong is refused, naming the byte. */
static void test_parse_refuses(void **state) {
        static const struct {
                size_t offset;
                uint8_t value;
                const char *message;
        } cases[] = {
                { 1, 0x0c, "byte 0: the policy at offset 0 is not a SHA-256 TPMT_HA" },
                { 2, 0x00, "byte 2: the policy is not the one the lists give" },
                { 34, 'X', "byte 34: no 'VSAS' magic" },
                { 38, 2, "byte 38: unknown version" },
                { 39, 0, "byte 39: key count is not 1-4" },
                { 39, 5, "byte 39: key count is not 1-4" },
                { 40, 9, "byte 40: state count does not fit" },
                { 41, 1, "byte 41: reserved byte is not zero" },
                { 44, 0x08, "byte 42: invalid literal PCR mask" },
                { 50, 0x01, "byte 50: key Name is not a SHA-256 Name" },
                { 50 + 2 * 34 + 5, 1, "byte 118: unused key slot is not zero" },
                { 186 + 64 + 3, 1, "byte 250: bytes after the last state are not zero" },
        };
        struct authnv_set s, back;
        uint8_t buf[AUTHNV_DATA_SIZE];
        full_set(&s);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                assert_int_equal(authnv_marshal(&s, buf), 0);
                buf[cases[i].offset] = cases[i].value;
                fixture_log[0] = 0;
                assert_int_equal(authnv_parse(buf, sizeof(buf), &back), -EBADMSG);
                if (!strstr(fixture_log, cases[i].message))
                        fail_msg("case %zu: '%s' not in '%s'", i, cases[i].message, fixture_log);
        }
        /* a duplicate key or state (with a consistent policy) */
        struct authnv_set dup = s;
        dup.keys[1] = dup.keys[0];
        assert_int_equal(authnv_marshal(&dup, buf), 0);
        assert_int_equal(authnv_parse(buf, sizeof(buf), &back), -EBADMSG);
        assert_non_null(strstr(fixture_log, "key listed twice"));
        dup = s;
        memcpy(dup.states + 32, dup.states, 32);
        assert_int_equal(authnv_marshal(&dup, buf), 0);
        assert_int_equal(authnv_parse(buf, sizeof(buf), &back), -EBADMSG);
        assert_non_null(strstr(fixture_log, "state listed twice"));
        assert_int_equal(authnv_parse(buf, sizeof(buf) - 1, &back), -EBADMSG);
        assert_non_null(strstr(fixture_log, "is 441 bytes, not 442"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_building_blocks, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_sign_ecdsa, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_set_edits, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_set_policy, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_marshal_roundtrip, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_parse_refuses, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
