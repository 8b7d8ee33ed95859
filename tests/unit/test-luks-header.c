/* test-luks-header.c: the LUKS2 header validator (src/luks-header.c) on metadata areas built here by an
 * independent encoder written from the on-disk format (both binary headers, JSON areas, sha256 checksums),
 * one vector per check: each refused with its reason, and the states an interrupted write leaves accepted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "luks-header.h"

#define HDR 16384u
#define KS 65536u
#define META (2 * HDR + KS)

static const char *const good_json =
        "{\"keyslots\":{\"0\":{\"type\":\"luks2\",\"key_size\":64,\"af\":{\"type\":\"luks1\",\"stripes\":4000,\"hash\":\"sha256\"},"
        "\"area\":{\"type\":\"raw\",\"offset\":\"32768\",\"size\":\"65536\",\"encryption\":\"aes-xts-plain64\",\"key_size\":64},"
        "\"kdf\":{\"type\":\"argon2id\",\"time\":4,\"memory\":32,\"cpus\":1,\"salt\":\"AA==\"}}},"
        "\"tokens\":{},"
        "\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
        "\"encryption\":\"aes-xts-plain64\",\"sector_size\":4096}},"
        "\"digests\":{\"0\":{\"type\":\"pbkdf2\",\"keyslots\":[\"0\"],\"segments\":[\"0\"],\"hash\":\"sha256\",\"iterations\":1000,"
        "\"salt\":\"AA==\",\"digest\":\"AA==\"}},"
        "\"config\":{\"json_size\":\"12288\",\"keyslots_size\":\"65536\"}}";

static void put_be64(uint8_t *p, uint64_t v) {
        for (int i = 7; i >= 0; i--, v >>= 8)
                p[i] = (uint8_t) v;
}

/* One binary header + JSON area at `off`, checksum included. */
static void encode_copy(uint8_t *buf, uint64_t off, int secondary, uint64_t seqid, const char *json) {
        uint8_t *h = buf + off;
        memset(h, 0, HDR);
        memcpy(h, secondary ? "SKUL\xba\xbe" : "LUKS\xba\xbe", 6);
        h[7] = 2;
        put_be64(h + 8, HDR);
        put_be64(h + 16, seqid);
        memcpy(h + 72, "sha256", 6);
        memcpy(h + 168, "3d8c0b1e-0000-4000-8000-000000000001", 36);
        put_be64(h + 256, off);
        memcpy(h + 4096, json, strlen(json));
        unsigned n;
        EVP_Digest(h, HDR, h + 448, &n, EVP_sha256(), NULL);
}

static uint8_t *image(const char *p_json, uint64_t p_seq, const char *s_json, uint64_t s_seq) {
        uint8_t *b = calloc(1, META);
        encode_copy(b, 0, 0, p_seq, p_json);
        encode_copy(b, HDR, 1, s_seq, s_json);
        return b;
}

/* good_json with `from` replaced by `to` (once). */
static char *edit(const char *from, const char *to) {
        const char *at = strstr(good_json, from);
        assert_non_null(at);
        char *s = malloc(strlen(good_json) + strlen(to) + 1);
        size_t pre = (size_t) (at - good_json);
        memcpy(s, good_json, pre);
        strcpy(s + pre, to);
        strcat(s, at + strlen(from));
        return s;
}

static char reason[512];

static int validate(const uint8_t *b, size_t len, struct vs_luks_header_info *info) {
        reason[0] = 0;
        return vs_luks_header_validate(b, len, info, reason, sizeof(reason));
}

static void refused_json(const char *from, const char *to, const char *want) {
        char *j = edit(from, to);
        uint8_t *b = image(j, 3, j, 3);
        struct vs_luks_header_info info;
        assert_int_equal(validate(b, META, &info), -EINVAL);
        if (!strstr(reason, want))
                fail_msg("reason '%s' lacks '%s'", reason, want);
        free(b);
        free(j);
}

static void test_valid(void **state) {
        (void) state;
        uint8_t *b = image(good_json, 3, good_json, 3);
        struct vs_luks_header_info info;
        assert_int_equal(validate(b, META, &info), 0);
        assert_int_equal(info.hdr_size, HDR);
        assert_int_equal(info.metadata_size, META);
        assert_int_equal(info.segment_offset, 16777216);
        assert_int_equal(info.seqid, 3);
        assert_int_equal(info.damaged_copy, 0);
        assert_int_equal(info.json_offset, 4096);
        assert_string_equal(info.cipher, "aes-xts-plain64");
        uint64_t hs = 0;
        assert_int_equal(vs_luks_header_size(b, 4096, &hs, reason, sizeof(reason)), 0);
        assert_int_equal(hs, HDR);
        /* both headers are enough: the keyslot areas are listed for the caller to copy */
        assert_int_equal(validate(b, 2 * HDR, &info), 0);
        assert_int_equal(info.n_areas, 1);
        assert_int_equal(info.areas[0].offset, 32768);
        assert_int_equal(info.areas[0].size, 65536);
        free(b);
}

static void test_segments(void **state) {
        (void) state;
        refused_json("\"encryption\":\"aes-xts-plain64\",\"sector_size\"", "\"encryption\":\"cipher_null-ecb\",\"sector_size\"",
                     "segment 0 uses cipher_null");
        refused_json("\"encryption\":\"aes-xts-plain64\",\"sector_size\"", "\"encryption\":\"aes-cbc-plain\",\"sector_size\"",
                     "segment 0 uses cipher aes-cbc-plain, not one of the allowed");
        refused_json("\"segments\":{", "\"segments\":{\"1\":{\"type\":\"linear\",\"offset\":\"16777216\",\"size\":\"4096\"},",
                     "it has 2 segments (volseal accepts exactly one crypt segment)");
        refused_json("\"segments\":{\"0\":{\"type\":\"crypt\"", "\"segments\":{\"0\":{\"type\":\"linear\"", "segment 0 is of type linear");
        refused_json("\"offset\":\"16777216\"", "\"offset\":\"16384\"", "segment 0 starts at 16384, inside the metadata area");
        refused_json("\"offset\":\"16777216\"", "\"offset\":16777216", "segment 0 has no decimal offset");
        refused_json("\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"16777216\",\"size\":\"dynamic\",\"iv_tweak\":\"0\","
                     "\"encryption\":\"aes-xts-plain64\",\"sector_size\":4096}}", "\"segments\":{}", "it has 0 segments");
        /* the allowed Adiantum ciphers pass */
        char *j = edit("\"encryption\":\"aes-xts-plain64\",\"sector_size\"", "\"encryption\":\"xchacha12,aes-adiantum-plain64\",\"sector_size\"");
        uint8_t *b = image(j, 1, j, 1);
        struct vs_luks_header_info info;
        assert_int_equal(validate(b, META, &info), 0);
        assert_string_equal(info.cipher, "xchacha12,aes-adiantum-plain64");
        free(b);
        free(j);
}

static void test_keyslots_config(void **state) {
        (void) state;
        refused_json("\"encryption\":\"aes-xts-plain64\",\"key_size\":64}", "\"encryption\":\"cipher_null\",\"key_size\":64}",
                     "keyslot 0 uses cipher_null");
        refused_json("\"encryption\":\"aes-xts-plain64\",\"key_size\":64}", "\"encryption\":\"twofish-xts-plain64\",\"key_size\":64}",
                     "keyslot 0 uses cipher twofish-xts-plain64");
        refused_json("{\"type\":\"luks2\",\"key_size\"", "{\"type\":\"reencrypt\",\"key_size\"", "keyslot 0 is of type reencrypt");
        refused_json("\"offset\":\"32768\"", "\"offset\":\"4096\"", "keyslot 0's area [4096, +65536) lies outside the keyslots area");
        refused_json("\"size\":\"65536\"", "\"size\":\"16777216\"", "lies outside the keyslots area");
        refused_json("\"keyslots\":{\"0\"", "\"keyslots\":{\"32\"", "keyslot 32 is not a keyslot number 0-31");
        refused_json("\"keyslots_size\":\"65536\"}", "\"keyslots_size\":\"65536\",\"requirements\":{\"mandatory\":[\"online-reencrypt-v2\"]}}",
                     "mandatory requirements");
        refused_json("\"json_size\":\"12288\"", "\"json_size\":12288", "config.json_size or config.keyslots_size is not a decimal string");
        refused_json("\"json_size\":\"12288\"", "\"json_size\":\"28672\"", "does not match the binary header size");
}

static void test_tokens_optional(void **state) {
        (void) state;
        char *j = edit("\"tokens\":{},", "");
        uint8_t *b = image(j, 1, j, 1);
        struct vs_luks_header_info info;
        assert_int_equal(validate(b, META, &info), 0);
        free(b);
        free(j);
}

static void test_not_json(void **state) {
        (void) state;
        uint8_t *b = image("{\"keyslots\":{} garbage", 1, "{\"keyslots\":{} garbage", 1);
        struct vs_luks_header_info info;
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "not one JSON document"));
        free(b);
        b = image("[1,2]", 1, "[1,2]", 1);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "not a JSON object"));
        free(b);
        b = image("{\"keyslots\":[]}", 1, "{\"keyslots\":[]}", 1);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "lacks one of the objects"));
        free(b);
}

static void test_copies(void **state) {
        (void) state;
        struct vs_luks_header_info info;
        /* same seqid, different JSON in the secondary */
        char *j = edit("\"cpus\":1", "\"cpus\":2");
        uint8_t *b = image(good_json, 5, j, 5);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "the two header copies differ (same seqid 5, different JSON metadata)"));
        free(b);
        /* a secondary newer than the primary: libcryptsetup would pick it */
        b = image(good_json, 5, j, 6);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "the secondary header copy is newer than the primary (seqid 6 > 5)"));
        free(b);
        /* two writes apart */
        b = image(good_json, 7, j, 5);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "more than one write"));
        free(b);
        /* one write apart (the secondary's write was interrupted): accepted, the primary is used */
        b = image(j, 6, good_json, 5);
        assert_int_equal(validate(b, META, &info), 0);
        assert_int_equal(info.damaged_copy, 2);
        assert_int_equal(info.seqid, 6);
        free(b);
        /* ... but the stale copy must pass the content checks too */
        char *bad = edit("\"encryption\":\"aes-xts-plain64\",\"sector_size\"", "\"encryption\":\"cipher_null\",\"sector_size\"");
        b = image(good_json, 6, bad, 5);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "secondary copy: segment 0 uses cipher_null"));
        free(b);
        /* a torn primary (checksum broken): the secondary is used */
        b = image(good_json, 5, good_json, 5);
        b[4096 + 10] ^= 1;
        assert_int_equal(validate(b, META, &info), 0);
        assert_int_equal(info.damaged_copy, 1);
        assert_int_equal(info.json_offset, HDR + 4096);
        /* both torn */
        b[HDR + 4096 + 10] ^= 1;
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "neither LUKS2 header copy is intact (primary: its checksum does not match)"));
        free(b);
        /* a different UUID in the secondary */
        b = image(good_json, 5, good_json, 5);
        b[HDR + 168] = 'f';
        unsigned n;
        memset(b + HDR + 448, 0, 64);
        EVP_Digest(b + HDR, HDR, b + HDR + 448, &n, EVP_sha256(), NULL);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "different label, UUID or subsystem"));
        free(b);
        free(bad);
        free(j);
}

static void test_not_luks2(void **state) {
        (void) state;
        struct vs_luks_header_info info;
        uint8_t *b = calloc(1, META);
        memcpy(b, "LUKS\xba\xbe\x00\x01", 8);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "LUKS1 header"));
        memset(b, 0xa5, META);
        assert_int_equal(validate(b, META, &info), -EINVAL);
        assert_non_null(strstr(reason, "neither LUKS2 header copy is intact (primary: no LUKS2 magic)"));
        uint64_t hs;
        assert_int_equal(vs_luks_header_size(b, 4096, &hs, reason, sizeof(reason)), -EINVAL);
        assert_int_equal(validate(b, 100, &info), -EINVAL);
        assert_non_null(strstr(reason, "shorter than one LUKS2 binary header"));
        free(b);
        /* a header cut after the primary: the secondary is missing, the primary is used (the caller then
         * finds the keyslot areas missing and reports "truncated") */
        b = image(good_json, 1, good_json, 1);
        assert_int_equal(validate(b, HDR + 100, &info), 0);
        assert_int_equal(info.damaged_copy, 2);
        free(b);
        /* a bogus header size */
        b = image(good_json, 1, good_json, 1);
        put_be64(b + 8, 12345);
        assert_int_equal(validate(b, META, &info), 0); /* the primary is refused, the secondary is found */
        assert_int_equal(info.damaged_copy, 1);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_segments),
                cmocka_unit_test(test_keyslots_config),
                cmocka_unit_test(test_tokens_optional),
                cmocka_unit_test(test_not_json),
                cmocka_unit_test(test_copies),
                cmocka_unit_test(test_not_luks2),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
