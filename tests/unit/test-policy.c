/* test-policy.c: libvolseal-policy against vectors. The digests were computed from the TPM 2.0 Part 3
 * definitions (PolicyUpdate of each command) and cross-checked with tpm2_policypcr/tpm2_policyauthorize
 * trial sessions and tpm2_loadexternal on swtpm (tests/integration/test-policy-tpm.sh repeats that check
 * on every run). The RSA key below is a throw-away test key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "fixture.h"
#include "policy.h"
#include "src/log.h"

static const char test_key_pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCm8TUi65G4I1dX\n"
        "CnjkPSCRtI1tQCzUSMXOg62VUmkD+V7GQdC7X5AFKl0260s/Ho4beLmswE/A6hqg\n"
        "CiTPnOfFzfKNLG7UcXS69Tbezm0ON4lOs/xWUTVk0uiODplfDdV/oTqnT4rH16c5\n"
        "dTRerIs/x4d66HY2OmkA5x2v0VgAWrG6vl90Lz2EWnoBlL45pgoJlmUdmvec87is\n"
        "OkJC+hztmc6fQiRb2M4LTIVln8DAiCcUb8H3OwYfxW3U+tlyDzGDIZF7S71VjWQH\n"
        "/h4eLKpshdZZvtstnmv3XipYli4rDBN5p37fJAr2xoDDI6B7IbwLikMTX1fFePP/\n"
        "S2yU2JevAgMBAAECggEAPXTCeO57oGvyNSq3wl32ZW0wOy3K0wNPPm0fM784xavB\n"
        "hf6olrHhVOV5l0QbWUsoSViyEbRiJ8SGtK/HSV6bvCfKyMm4qyBxNnobDv6zCu7K\n"
        "71w24pfWrh0uW01ojKONGwUBkKIpltP+zZomA0xFnt8XMtns2p26Fgj+1sCcQtSH\n"
        "RXvq0u5jRJfK5nlbXpO8Ej29KgAPYupMNmb3Yz1RusTVcOAxO9kGoNPiUdF5UcMM\n"
        "7FZY1pgHPAFK1Nuro0s3B00PZobOlLRUnJ3SnQLVqyIy45/iQo9sFkn/P8oZRB2H\n"
        "s2QFh7EYCfufwYClE6NcAzj0fejfqfLgSUke1KwrgQKBgQDmrP6ZP5NG9+S8NSia\n"
        "U08aRSULGnjQOJPK2Q9Nw5XbvOK9UjfP0D+kg0QE2WKgT0qlvKiVvV/Iq8oell9g\n"
        "yQx8NYzjfju13V+OoEg+9Y4zS9m3bvI8HCsCGlWUNubCrb0EqF4+T3gjSZov/Bq9\n"
        "a2BfHIIkf5kKtbQfb9mcv1s94QKBgQC5RQUEoaJ0cqn+wYho1EoMSjTgHcZwcuTU\n"
        "dQ6rIZq+BEU7IeZr7nJ9qBgWjCf01uOqZH9oss/ozGhnDdATQGt/pghlM6Sn3rFE\n"
        "qV3PFbdUiUbOnYWoD8Gm4SZSwRcJCeqzjbKAzZG4UaWERWgwPh7e2R7Udgyn/SFa\n"
        "+m45X2vnjwKBgCvPiV9TusYMyM2SDw8YaXqkzT9JnM53IGKzTPvI/MpKGoo4dk8q\n"
        "zxuQrrd5DglCZfwKU750xB9ZuT6L8rtwE8X3abW/QNnunHp7KJ2Eh6hobIYxNSKD\n"
        "ewugMsa+kp9A3hhnXdbZwwh4rycT64Q0Q45s3K7P6SImlnouBReHJG4hAoGBAI7X\n"
        "wSu194wy0BCkZKj2bHUXTbcyHcqbOwT3j6ywBx/UKRCTbZXvzYRGcvQHcdMbT4MT\n"
        "Ywx1OUmzOBeklbYSKA/OEpD8hUoMr75RmwtMIgJiqR4qY1+VbmhdFXAegcUtSTDQ\n"
        "4jzewihLgwL9hHwVmTWWT2fd8Jog13POu+cuRALPAoGBAOZPb1j/OxrtnhFgf4zR\n"
        "medJK1OhBU9IKj3KOfGJjQclLM33OqLWGWvZq0AQ26aclnoMmTwDivtnNezC882I\n"
        "S3+WAj5b/ge+k/XU3nigKX4Fkx3dNf6TT9BvriG3Y+Jrkw4c8N/zpKKyHVE9PAfl\n"
        "mnrzE/B/jJDE6ppKqOG7cYY9\n"
        "-----END PRIVATE KEY-----\n";
static const char test_pub_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApvE1IuuRuCNXVwp45D0g\n"
        "kbSNbUAs1EjFzoOtlVJpA/lexkHQu1+QBSpdNutLPx6OG3i5rMBPwOoaoAokz5zn\n"
        "xc3yjSxu1HF0uvU23s5tDjeJTrP8VlE1ZNLojg6ZXw3Vf6E6p0+Kx9enOXU0XqyL\n"
        "P8eHeuh2NjppAOcdr9FYAFqxur5fdC89hFp6AZS+OaYKCZZlHZr3nPO4rDpCQvoc\n"
        "7ZnOn0IkW9jOC0yFZZ/AwIgnFG/B9zsGH8Vt1PrZcg8xgyGRe0u9VY1kB/4eHiyq\n"
        "bIXWWb7bLZ5r914qWJYuKwwTead+3yQK9saAwyOgeyG8C4pDE19XxXjz/0tslNiX\n"
        "rwIDAQAB\n"
        "-----END PUBLIC KEY-----\n";
static const char test_pub_pkcs1_pem[] =
        "-----BEGIN RSA PUBLIC KEY-----\n"
        "MIIBCgKCAQEApvE1IuuRuCNXVwp45D0gkbSNbUAs1EjFzoOtlVJpA/lexkHQu1+Q\n"
        "BSpdNutLPx6OG3i5rMBPwOoaoAokz5znxc3yjSxu1HF0uvU23s5tDjeJTrP8VlE1\n"
        "ZNLojg6ZXw3Vf6E6p0+Kx9enOXU0XqyLP8eHeuh2NjppAOcdr9FYAFqxur5fdC89\n"
        "hFp6AZS+OaYKCZZlHZr3nPO4rDpCQvoc7ZnOn0IkW9jOC0yFZZ/AwIgnFG/B9zsG\n"
        "H8Vt1PrZcg8xgyGRe0u9VY1kB/4eHiyqbIXWWb7bLZ5r914qWJYuKwwTead+3yQK\n"
        "9saAwyOgeyG8C4pDE19XxXjz/0tslNiXrwIDAQAB\n"
        "-----END RSA PUBLIC KEY-----\n";

static void test_auth_value(void **state) {
        uint8_t d[32];
        policy_digest_init(d);
        policy_auth_value(d);
        assert_hex(d, 32, "8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e");
}

static void test_pcr(void **state) {
        uint8_t d[32], zero[32] = {}, vals[64], v1[20], v384[48];
        policy_digest_init(d);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, 1u << 7, zero, 32), 0);
        assert_hex(d, 32, "8b5682d81b29435d08d79278150611dc7e5923b2fefcce684a09577b40130a8b");

        for (int i = 0; i < 32; i++)
                vals[i] = (uint8_t) i;
        memset(vals + 32, 0xaa, 32);
        policy_digest_init(d);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, (1u << 7) | (1u << 11), vals, 32), 0);
        assert_hex(d, 32, "50df43e1ff2d6c2061c0545d906d96bd34121fcb44387a53e81b96d3f47d79b2");

        memset(v1, 0x11, sizeof(v1));
        policy_digest_init(d);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA1, 1u << 11, v1, 20), 0);
        assert_hex(d, 32, "82f316ff1b07a954e0447db35278478898bd33107902f5d79606a7954d41fce0");

        memset(v384, 0x22, sizeof(v384));
        policy_digest_init(d);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA384, 1u, v384, 48), 0);
        assert_hex(d, 32, "7b167c72262635adf95a1141744d7d613e7dca3c7378577259a972f2d96ab258");

        /* the same through the selection form */
        TPML_PCR_SELECTION sel = { .count = 1, .pcrSelections[0] = { .hash = TPM2_ALG_SHA256, .sizeofSelect = 3,
                                                                    .pcrSelect = { 0x80, 0, 0 } } };
        uint8_t pd[32] = { 0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77, 0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20,
                           0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3, 0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25 };
        policy_digest_init(d);
        assert_int_equal(policy_pcr_selection(d, &sel, pd), 0); /* pd = SHA-256(32 zero bytes) */
        assert_hex(d, 32, "8b5682d81b29435d08d79278150611dc7e5923b2fefcce684a09577b40130a8b");
}

static void test_pcr_refused(void **state) {
        uint8_t d[32], v[64] = {};
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, 1u << 7, v, 20), -EINVAL);
        assert_non_null(strstr(fixture_log, "are 32 bytes, not 20"));
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, 0, v, 32), -EINVAL);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, 1u << 24, v, 32), -EINVAL);
        assert_int_equal(policy_pcr(d, 0x1234, 1u, v, 32), -EINVAL);
}

static void test_authorize_or(void **state) {
        uint8_t d[32];
        TPM2B_NAME name = { .size = 34 };
        name.name[0] = 0x00;
        name.name[1] = 0x0b;
        memset(name.name + 2, 0x11, 32);
        memset(d, 0x5a, 32); /* PolicyAuthorize resets the digest: the start value does not matter */
        assert_int_equal(policy_authorize(d, &name, NULL, 0), 0);
        assert_hex(d, 32, "4a1abcfbbd695141639ae9da442c5b6121baadc246ba3aaa129076f5f508af1b");
        assert_int_equal(policy_authorize(d, &name, (const uint8_t *) "ref", 3), 0);
        assert_hex(d, 32, "39922cc97c6aefd60ed1da8270e90bcea92c4a01d2904bba88595672e1790b07");

        /* the order of docs/policy.md: PolicyAuthorize, then PolicyPCR(7) */
        uint8_t zero[32] = {};
        assert_int_equal(policy_authorize(d, &name, NULL, 0), 0);
        assert_int_equal(policy_pcr(d, TPM2_ALG_SHA256, 1u << 7, zero, 32), 0);
        assert_hex(d, 32, "57bc5f8424db16e90f7ec18207074d3d3bae1bb9d43f05272bb788989128b679");

        uint8_t br[2][32];
        policy_digest_init(br[0]);
        policy_auth_value(br[0]);
        policy_digest_init(br[1]);
        assert_int_equal(policy_pcr(br[1], TPM2_ALG_SHA256, 1u << 7, zero, 32), 0);
        assert_int_equal(policy_or(d, (const uint8_t (*)[32]) br, 2), 0);
        assert_hex(d, 32, "c87b52ca37ecfbc2fae6aad2a119327865d421af58afbc510f2c20f54c77318a");
        assert_int_equal(policy_or(d, (const uint8_t (*)[32]) br, 1), -EINVAL);
        TPM2B_NAME empty = {};
        assert_int_equal(policy_authorize(d, &empty, NULL, 0), -EINVAL);
}

static void test_rsa_name(void **state) {
        EVP_PKEY *pk = NULL, *pk1 = NULL;
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        uint8_t fp[32], fp1[32];
        assert_int_equal(policy_load_public_pem(test_pub_pem, strlen(test_pub_pem), &pk), 0);
        assert_int_equal(policy_load_public_pem(test_pub_pkcs1_pem, strlen(test_pub_pkcs1_pem), &pk1), 0);
        assert_int_equal(policy_rsa_public(pk, 65537, &pub), 0);
        assert_int_equal(pub.publicArea.parameters.rsaDetail.keyBits, 2048);
        assert_int_equal(pub.publicArea.objectAttributes, 0x00060040);
        assert_int_equal(policy_public_name(&pub, &name), 0);
        assert_int_equal(name.size, 34);
        assert_hex(name.name, 34, "000babd2ea6801d523002886640866c0175d22535fc6e14ef881535bded79ae4d21b");
        assert_int_equal(policy_rsa_public(pk1, 0, &pub), 0);
        assert_int_equal(policy_public_name(&pub, &name), 0);
        assert_hex(name.name, 34, "000b6ae031c769173c2f649e96b8a48707c7078a6e2ccd9ff090652c8e0676698f81");
        assert_int_equal(policy_rsa_public(pk, 3, &pub), -EINVAL);

        assert_int_equal(policy_pkfp(pk, fp), 0);
        assert_int_equal(policy_pkfp(pk1, fp1), 0);
        assert_memory_equal(fp, fp1, 32);
        assert_hex(fp, 32, "2b1f3f8377f89ebf3cdc4113d1dc46f08d4dffe8d8019a20ba841a1a079e56c3");
        /* the same bytes systemd hashes: SHA-256 of i2d_PublicKey() (PKCS#1 RSAPublicKey DER) */
        unsigned char *der = NULL;
        int der_len = i2d_PublicKey(pk, &der);
        assert_true(der_len > 0);
        assert_non_null(SHA256(der, (size_t) der_len, fp1));
        OPENSSL_free(der);
        assert_memory_equal(fp, fp1, 32);
        EVP_PKEY_free(pk);
        EVP_PKEY_free(pk1);

        assert_int_equal(policy_load_public_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 58, &pk), -EBADMSG);

        /* not RSA: still a public key (the OSSL_DECODER path), but no pkfp */
        static const char ec_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                                     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOgXqcNIcRFSIB/n0DdCbgBMOmSP/\n"
                                     "/7OfkkzCf6+VAL01imLZLUryf3xgIgzOYRNhh4dlNoZJLlJKLAAZ7klcrQ==\n"
                                     "-----END PUBLIC KEY-----\n";
        assert_int_equal(policy_load_public_pem(ec_pem, strlen(ec_pem), &pk), 0);
        assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
        assert_int_equal(policy_pkfp(pk, fp), -EINVAL);
        EVP_PKEY_free(pk);
}

static void test_srk(void **state) {
        TPM2B_PUBLIC t;
        TPM2B_NAME name;
        policy_srk_template(&t);
        assert_int_equal(t.publicArea.objectAttributes, 0x00030472);
        assert_int_equal(policy_public_name(&t, &name), 0);
        assert_hex(name.name, 34, "000b9430f5e63490113d4ed813e7afe4e3012af75fd74076f3c6efdd392701fa7204");
}

static const char sig_b64[] =
        "iKGmtZGBMdW77BdxzcCEuSaTDpvkYEgX0SP1DVYZaSmJgoxkLv9ZafwrEdfy3sCxMNSAvk1uUSMfqi7mudKkLZ4JiL5l1XngO93WW9BMtxS7"
        "xPSFIlBEE8FMXIZ7Wh3VJth0yl6NGUOy6irAfXPluYkpWhFP0iWF2oB9EgZOAcDZJn0MLIGgk7TSoa2unJJCtHkA818J80ZrVc7OYx3eiWl/"
        "wnl4fLtse/65ljN69UuyI/oIGSjRgPm43cd8KBJfT9NZJJzvoi/JRS3PSl8FrhvrJg7yeOSoOcwQsKmokDLbht//l1liAMpwuox+C9V2fQ27"
        "x41WNTKAN6xXWDUpFQ==";
#define PKFP "2b1f3f8377f89ebf3cdc4113d1dc46f08d4dffe8d8019a20ba841a1a079e56c3"
#define POL1 "0101010101010101010101010101010101010101010101010101010101010101"

static void test_pcrsig(void **state) {
        char json[2048];
        struct pcrsig s = {};
        EVP_PKEY *pk = NULL;
        uint8_t fp[32], pol[32];
        snprintf(json, sizeof(json),
                 "{\"sha1\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"AAAA\"}],"
                 "\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"%s\"},"
                 "{\"pcrs\":[7,11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"%s\"}]}\n", sig_b64, sig_b64);
        assert_int_equal(pcrsig_parse(json, strlen(json), "sha256", &s), 0);
        assert_string_equal(s.bank, "sha256");
        assert_int_equal(s.n_entries, 2);
        assert_int_equal(s.entries[0].pcrs, 1u << 11);
        assert_int_equal(s.entries[1].pcrs, (1u << 7) | (1u << 11));
        assert_int_equal(s.entries[0].sig_len, 256);
        assert_int_equal(policy_unhex(PKFP, fp, 32), 0);
        memset(pol, 1, 32);
        const struct pcrsig_entry *e = pcrsig_find(&s, 1u << 11, fp, pol);
        assert_ptr_equal(e, &s.entries[0]);
        assert_null(pcrsig_find(&s, 1u << 7, fp, pol));
        pol[0] = 2;
        assert_null(pcrsig_find(&s, 1u << 11, fp, pol));

        assert_int_equal(policy_load_public_pem(test_pub_pem, strlen(test_pub_pem), &pk), 0);
        assert_int_equal(pcrsig_verify(e, pk), 0);
        s.entries[0].pol[31] ^= 1;
        assert_int_equal(pcrsig_verify(&s.entries[0], pk), -EBADMSG);
        pcrsig_done(&s);

        /* a bank that is absent is an empty list, not an error */
        assert_int_equal(pcrsig_parse(json, strlen(json), "sha512", &s), 0);
        assert_int_equal(s.n_entries, 0);
        pcrsig_done(&s);
        EVP_PKEY_free(pk);
}

static void test_pcrsig_malformed(void **state) {
        static const struct { const char *json, *fragment; } bad[] = {
                { "[1]", "top level is not a JSON object" },
                { "{\"sha256\":{}}", "field sha256 is not an array" },
                { "{\"sha256\":[1]}", "sha256[0] is not an object" },
                { "{\"sha256\":[{\"pcrs\":[24],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"AAAA\"}]}", "sha256[0].pcrs[0]" },
                { "{\"sha256\":[{\"pcrs\":[],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"AAAA\"}]}", "sha256[0].pcrs is missing" },
                { "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"xyz\",\"pol\":\"" POL1 "\",\"sig\":\"AAAA\"}]}", "sha256[0].pkfp" },
                { "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"sig\":\"AAAA\"}]}", "sha256[0].pol" },
                { "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"A*A=\"}]}", "sha256[0].sig is not valid base64" },
                { "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\"}]}", "sha256[0].sig is missing" },
                { "{\"sha256\":[]", "not valid JSON" },
                { "{} x", "trailing data" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct pcrsig s = {};
                fixture_log[0] = 0;
                assert_int_equal(pcrsig_parse(bad[i].json, strlen(bad[i].json), "sha256", &s), -EBADMSG);
                if (!strstr(fixture_log, bad[i].fragment))
                        fail_msg("case %zu: '%s' not in '%s'", i, bad[i].fragment, fixture_log);
                assert_null(s.entries);
        }
}

static void test_pcrsig_sign_format(void **state) {
        EVP_PKEY *key = NULL, *pub = NULL;
        struct pcrsig_entry e;
        uint8_t pol[32];
        char *out = NULL, *out2 = NULL;
        memset(pol, 1, 32);
        assert_int_equal(policy_load_private_pem(test_key_pem, strlen(test_key_pem), &key), 0);
        assert_int_equal(pcrsig_sign(key, 1u << 11, pol, &e), 0);
        assert_int_equal(e.sig_len, 256);
        assert_hex(e.pkfp, 32, PKFP);

        struct pcrsig s = { .bank = (char *) "sha256" };
        assert_int_equal(pcrsig_add(&s, &e), 0);
        assert_int_equal(pcrsig_add(&s, &e), 0); /* the same entry twice is one entry */
        assert_int_equal(s.n_entries, 1);
        assert_int_equal(pcrsig_format(&s, NULL, 0, &out), 0);
        char want[1024];
        snprintf(want, sizeof(want), "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"" PKFP "\",\"pol\":\"" POL1 "\",\"sig\":\"%s\"}]}", sig_b64);
        assert_string_equal(out, want);

        /* append to an existing document: other banks are kept, the same entry is not duplicated */
        const char *existing = "{\"sha1\":[],\"sha256\":[]}";
        assert_int_equal(pcrsig_format(&s, existing, strlen(existing), &out2), 0);
        assert_non_null(strstr(out2, "\"sha1\":[]"));
        free(out);
        assert_int_equal(pcrsig_format(&s, out2, strlen(out2), &out), 0);
        assert_string_equal(out, out2);

        struct pcrsig back = {};
        assert_int_equal(pcrsig_parse(out, strlen(out), "sha256", &back), 0);
        assert_int_equal(back.n_entries, 1);
        assert_int_equal(policy_load_public_pem(test_pub_pem, strlen(test_pub_pem), &pub), 0);
        assert_int_equal(pcrsig_verify(&back.entries[0], pub), 0);
        pcrsig_done(&back);
        free(s.entries[0].sig);
        free(s.entries);
        free(e.sig);
        free(out);
        free(out2);
        EVP_PKEY_free(key);
        EVP_PKEY_free(pub);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_auth_value, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pcr, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pcr_refused, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_authorize_or, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_rsa_name, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_srk, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pcrsig, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pcrsig_malformed, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_pcrsig_sign_format, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
