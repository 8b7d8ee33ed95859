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
        char want[96];
        snprintf(want, sizeof(want), "tag 8: a value of %zu bytes does not fit META", max + 1);
        assert_non_null(strstr(logbuf, want));
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
        /* go-adv stores an entry's tag as a byte: 0x109 is tag 9; 0x100 is tag 0 and not kept. */
        const struct entry e2[] = { { 0x109, "abc", 0 }, { 0x100, "zero", 0 }, { 7, "seven", 0 } };
        talos_copy(img, e2, 3);
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY1);
        expect_tag(&m, 9, "abc", 1);
        expect_tag(&m, 7, "seven", 1);
        assert_int_equal(vs_meta_get(&m, 0, NULL, NULL), 0);
        vs_meta_done(&m);
        /* go-adv keeps the entries of copy 1 read before its bad entry, then reads copy 2 into the same map. */
        const struct entry e3[] = { { 12, "from-copy-1", 0 }, { 13, "bad", 0 } }, e4[] = { { 14, "from-copy-2", 0 } };
        talos_copy(img, e3, 2);
        be(img + 4 + 8 + 11 + 4, 300000);
        memset(img + 256 * 1024 - 36, 0, 32);
        EVP_Digest(img, 256 * 1024, d, &dl, EVP_sha256(), NULL);
        memcpy(img + 256 * 1024 - 36, d, 32);
        talos_copy(img + 256 * 1024, e4, 1);
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(m.state, VS_META_COPY2);
        expect_tag(&m, 12, "from-copy-1", 1);
        expect_tag(&m, 14, "from-copy-2", 1);
        assert_int_equal(vs_meta_get(&m, 13, NULL, NULL), 0);
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
        /* Talos's controllers see the Talos ADV only: the legacy tag 15 is no UUID override. */
        char *uuid = NULL;
        assert_int_equal(vs_meta_uuid_override(&m, &uuid), 0);

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
        /* Deleting a tag the Talos ADV has leaves the legacy one (Talos's order): it shows through again. */
        assert_int_equal(vs_meta_delete(&m, 15), 1);
        expect_tag(&m, 15, "legacy-uuid", 2);
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
        const struct entry a[] = { { 15, "from-copy-1", 0 } }, b[] = { { 15, "from-copy-2", 0 } };
        legacy_copy(img + IMG - 1024, a, 1);
        legacy_copy(img + IMG - 512, b, 1);
        img[IMG - 1024 + 4] ^= 1; /* copy 1's checksum word fails: go-adv reads its entries anyway */
        struct vs_meta m;
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_true(m.legacy_valid); /* copy 2 passes the checks */
        expect_tag(&m, 15, "from-copy-1", 2);
        vs_meta_done(&m);
        /* An entry that runs past byte 508 cannot be read; the ones before it can. */
        char big1[201], big2[201];
        memset(big1, 'a', 200);
        memset(big2, 'b', 200);
        big1[200] = big2[200] = 0;
        const struct entry c[] = { { 4, big1, 0 }, { 5, big2, 0 }, { 6, "up", 0 } };
        legacy_copy(img + IMG - 1024, c, 3);
        img[IMG - 1024 + 416] = 7;   /* the next entry starts at 8 + 202 + 202 + 4 = 416 */
        img[IMG - 1024 + 417] = 200; /* 416 + 2 + 200 > 508 */
        assert_int_equal(vs_meta_parse(&m, img, IMG, "img"), 0);
        assert_int_equal(vs_meta_get(&m, 7, NULL, NULL), 0);
        expect_tag(&m, 6, "up", 2);
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
        assert_int_equal(vs_meta_set(&m, 15, "", 0, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 0); /* empty: no override */
        /* Talos uses the value byte for byte: no trimming (it changes the nodeID passphrase). */
        assert_int_equal(vs_meta_set(&m, 15, " \n", 2, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 1);
        assert_string_equal(u, " \n");
        free(u);
        assert_int_equal(vs_meta_set(&m, 15, "abcd-ef\n", 8, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 1);
        assert_string_equal(u, "abcd-ef\n");
        free(u);
        assert_int_equal(vs_meta_set(&m, 15, "ab\001cd", 5, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), 1);
        free(u);
        assert_int_equal(vs_meta_set(&m, 15, "ab\0cd", 5, "img"), 0);
        assert_int_equal(vs_meta_uuid_override(&m, &u), -EINVAL);
        vs_meta_done(&m);
        free(img);
}

/* ---- tag 9 JSON ---- */

/* Talos's internal/app/machined/pkg/controllers/block/internal/volumes/encryption_meta_test.go pins these
 * (its Go values set no KeySlot, so both keys are slot 0). */
static const char talos_legacy[] =
        "{\"EncryptionProvider\":\"\",\"EncryptionKeys\":[{\"KeyStatic\":{\"KeyData\":\"secret\"},\"KeyNodeID\":null,\"KeyKMS\":null,"
        "\"KeySlot\":0,\"KeyTPM\":null},{\"KeyStatic\":null,\"KeyNodeID\":{},\"KeyKMS\":null,\"KeySlot\":0,\"KeyTPM\":null}],"
        "\"EncryptionCipher\":\"aes-xts-plain64\",\"EncryptionKeySize\":0,\"EncryptionBlockSize\":0,\"EncryptionPerfOptions\":null}";
static const char talos_modern[] =
        "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":\"secret\"},\"KeyNodeID\":null,"
        "\"KeyKMS\":null,\"KeyTPM\":null,\"KeyLockToSTATE\":null},{\"KeySlot\":0,\"KeyStatic\":null,\"KeyNodeID\":{},\"KeyKMS\":null,"
        "\"KeyTPM\":null,\"KeyLockToSTATE\":null}],\"EncryptionCipher\":\"aes-xts-plain64\",\"EncryptionKeySize\":0,"
        "\"EncryptionBlockSize\":0,\"EncryptionPerfOptions\":null,\"EncryptionAllowDiscards\":null}";

/* The same with the nodeID key on slot 1 (a config Talos validates): Talos writes the second "KeySlot":1. */
static char *slot1(const char *json) {
        char *s = strdup(json);
        assert_non_null(s);
        char *k = strstr(s, "\"KeyNodeID\":{}");
        char *slot = strstr(strstr(s, "\"KeySlot\":0") + 1, "\"KeySlot\":0");
        if (strstr(s, "\"KeySlot\":0,\"KeyStatic\":null"))
                slot = strstr(s, "\"KeySlot\":0,\"KeyStatic\":null");
        assert_non_null(k);
        assert_non_null(slot);
        slot[10] = '1';
        return s;
}

static void expect_format(const struct vs_encryption_config *enc, enum vs_meta_config_shape shape, const char *want) {
        struct vs_secret *json = NULL;
        assert_int_equal(vs_meta_config_format(enc, shape, &json), 0);
        if (json->len != strlen(want) || memcmp(json->data, want, json->len) != 0)
                fail_msg("wrote\n%s\nwanted\n%s", (char *) json->data, want);
        vs_secret_free(json);
}

static void test_config_talos_pinned(void **state) {
        (void) state;
        struct vs_encryption_config enc;
        /* The pinned strings decode (legacy via the v1alpha1 fallback); their duplicate slot 0 is refused. */
        assert_int_equal(vs_meta_config_parse(talos_legacy, strlen(talos_legacy), "t9", &enc), -EINVAL);
        assert_non_null(strstr(logbuf, "t9: keys[1].slot: duplicate key slot 0"));
        logbuf[0] = 0;
        assert_int_equal(vs_meta_config_parse(talos_modern, strlen(talos_modern), "t9", &enc), -EINVAL);
        assert_non_null(strstr(logbuf, "t9: keys[1].slot: duplicate key slot 0"));

        /* With slot 1: the meaning, and json.Marshal of the decoded value is the input, byte for byte. */
        char *legacy = slot1(talos_legacy), *modern = slot1(talos_modern);
        assert_int_equal(vs_meta_config_parse(legacy, strlen(legacy), "t9", &enc), 1);
        assert_string_equal(enc.provider, "luks2"); /* "" is luks2 in the v1alpha1 shape (Talos issue #11502) */
        assert_int_equal(enc.n_keys, 2);
        assert_int_equal(enc.keys[0].kind, VS_KEY_STATIC);
        assert_memory_equal(enc.keys[0].passphrase->data, "secret", 6);
        assert_int_equal(enc.keys[1].kind, VS_KEY_NODEID);
        assert_int_equal(enc.keys[1].slot, 1);
        assert_string_equal(enc.cipher, VS_CIPHER_XTS);
        assert_int_equal(enc.key_size, 512);
        expect_format(&enc, VS_META_CONFIG_TALOS_1_14, legacy);
        struct vs_secret *json = NULL;
        assert_int_equal(vs_meta_config_format(&enc, VS_META_CONFIG_TALOS_1_11, &json), -ENOENT);
        vs_encryption_config_done(&enc);

        assert_int_equal(vs_meta_config_parse(modern, strlen(modern), "t9", &enc), 1);
        assert_int_equal(enc.n_keys, 2);
        assert_int_equal(enc.keys[1].kind, VS_KEY_NODEID);
        expect_format(&enc, VS_META_CONFIG_TALOS_1_14, modern);
        /* Talos 1.11-1.13's EncryptionSpec has no EncryptionAllowDiscards (their encryption_meta_test.go). */
        char *older = strdup(modern);
        *strstr(older, ",\"EncryptionAllowDiscards\":null}") = 0;
        strcat(older, "}");
        expect_format(&enc, VS_META_CONFIG_TALOS_1_11, older);
        vs_encryption_config_done(&enc);
        assert_int_equal(vs_meta_config_parse(older, strlen(older), "t9", &enc), 1);
        expect_format(&enc, VS_META_CONFIG_TALOS_1_14, modern);
        vs_encryption_config_done(&enc);
        free(older);
        free(legacy);
        free(modern);
}

struct meaning_case {
        const char *json;
        int r;            /* vs_meta_config_parse */
        unsigned slot0;   /* first key's slot and kind and PCRs, when r == 1 */
        enum vs_key_kind kind0;
        uint32_t pcrs0;
};

static void test_config_meaning(void **state) {
        (void) state;
        static const struct meaning_case cases[] = {
                /* The v1alpha1 shape with an empty provider: luks2 (Talos issue #11502). */
                { "{\"EncryptionProvider\":\"\",\"EncryptionKeys\":[{\"KeyStatic\":null,\"KeyNodeID\":{},\"KeyKMS\":null,\"KeySlot\":3,\"KeyTPM\":null}],"
                  "\"EncryptionCipher\":\"\",\"EncryptionKeySize\":0,\"EncryptionBlockSize\":0,\"EncryptionPerfOptions\":null}", 1, 3, VS_KEY_NODEID, 0 },
                /* TPMOptions {PCRs: null}: no literal PCR; no TPMOptions: PCR 7; PCRs [] none; a list as given. */
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":null}}}]}", 1, 0, VS_KEY_TPM, 0 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":null}}]}", 1, 0, VS_KEY_TPM, 1u << 7 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{}}]}", 1, 0, VS_KEY_TPM, 1u << 7 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[]}}}]}", 1, 0, VS_KEY_TPM, 0 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[0,7,11]}}}]}", 1, 0, VS_KEY_TPM, (1u << 0) | (1u << 7) | (1u << 11) },
                /* The v1alpha1 shape ignores TPMOptions: PCR 7. A flat TPMPCRs is no Talos field: ignored. */
                { "{\"EncryptionProvider\":\"\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[0]}}}]}", 1, 0, VS_KEY_TPM, 1u << 7 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMPCRs\":[]}}]}", 1, 0, VS_KEY_TPM, 1u << 7 },
                /* Go matches member names case-insensitively; the provider's case does not matter. */
                { "{\"encryptionprovider\":\"LUKS2\",\"encryptionKEYS\":[{\"keyslot\":2,\"keynodeid\":{}}]}", 1, 2, VS_KEY_NODEID, 0 },
                /* null, provider none (keys ignored), an unparsable v1alpha1 provider: not encrypted. */
                { "null", 0, 0, 0, 0 },
                { " null\n", 0, 0, 0, 0 },
                { "{}", 0, 0, 0, 0 },
                { "{\"EncryptionProvider\":\"none\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}]}", 0, 0, 0, 0 },
                /* Not a block provider: the v1alpha1 shape decodes, and Talos cannot parse "luks1": unencrypted. */
                { "{\"EncryptionProvider\":\"luks1\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}]}", 0, 0, 0, 0 },
                { "{\"EncryptionProvider\":\"\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"X\":1}", 1, 0, VS_KEY_NODEID, 0 },
                /* Any other decode error of the block shape also falls back to v1alpha1, which ignores TPMOptions. */
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":1,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[0,\"11\"]}}}]}", 1, 1, VS_KEY_TPM, 1u << 7 },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionAllowDiscards\":\"yes\"}", 1, 0, VS_KEY_NODEID, 0 },
                /* Several kinds: static > nodeID > kms > tpm, as Talos's ApplyEncryptionConfig. */
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{},\"KeyKMS\":{\"KMSEndpoint\":\"k:1\"}}]}", 1, 0, VS_KEY_KMS, 0 },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vs_encryption_config enc;
                logbuf[0] = 0;
                int r = vs_meta_config_parse(cases[i].json, strlen(cases[i].json), "t9", &enc);
                if (r != cases[i].r)
                        fail_msg("case %zu (%s): r=%d, log: %s", i, cases[i].json, r, logbuf);
                if (r == 1 && (enc.keys[0].slot != cases[i].slot0 || enc.keys[0].kind != cases[i].kind0 ||
                               (enc.keys[0].kind == VS_KEY_TPM && enc.keys[0].tpm_pcrs != cases[i].pcrs0)))
                        fail_msg("case %zu (%s): slot %u kind %d pcrs %#x", i, cases[i].json, enc.keys[0].slot,
                                 enc.keys[0].kind, enc.keys[0].tpm_pcrs);
                vs_encryption_config_done(&enc);
        }
        struct vs_secret *json = NULL;
        assert_int_equal(vs_meta_config_format(NULL, VS_META_CONFIG_TALOS_1_14, &json), 0);
        assert_int_equal(json->len, 4);
        assert_memory_equal(json->data, "null", 4);
        vs_secret_free(json);
}

/* A config with no Go value of its own (built in code): every pointer set, Go's escaping. */
static void test_config_built(void **state) {
        (void) state;
        struct vs_secret *pw = NULL;
        assert_int_equal(vs_secret_from("a<b>&\"\\\n\x7f\xe2\x80\xa8\xff", 13, &pw), 0);
        struct vs_key_config keys[2] = { { .slot = 0, .kind = VS_KEY_STATIC, .passphrase = pw },
                                         { .slot = 2, .kind = VS_KEY_TPM, .tpm_pcrs = (1u << 7) | (1u << 11), .tpm_check_secureboot = true } };
        struct vs_encryption_config enc = { .provider = (char *) "luks2", .keys = keys, .n_keys = 2, .cipher = (char *) VS_CIPHER_XCHACHA20,
                                            .key_size = 256, .perf_flags = VS_PERF_SAME_CPU_CRYPT };
        expect_format(&enc, VS_META_CONFIG_TALOS_1_14,
                      "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":"
                      "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\x7f\\u2028\\ufffd\"},\"KeyNodeID\":null,\"KeyKMS\":null,\"KeyTPM\":null,"
                      "\"KeyLockToSTATE\":false},{\"KeySlot\":2,\"KeyStatic\":null,\"KeyNodeID\":null,\"KeyKMS\":null,\"KeyTPM\":"
                      "{\"TPMOptions\":{\"PCRs\":[7,11]},\"TPMCheckSecurebootStatusOnEnroll\":true},\"KeyLockToSTATE\":false}],"
                      "\"EncryptionCipher\":\"xchacha20,aes-adiantum-plain64\",\"EncryptionKeySize\":256,\"EncryptionBlockSize\":0,"
                      "\"EncryptionPerfOptions\":[\"same_cpu_crypt\"],\"EncryptionAllowDiscards\":false}");
        vs_secret_free(pw);
}

/* volseal's extensions survive tag 9: an updatable tpm key and a recovery key, written and read back. */
static void test_config_extensions(void **state) {
        (void) state;
        struct vs_key_config keys[2] = { { .slot = 0, .kind = VS_KEY_TPM, .tpm_pcrs = 1u << 7, .tpm_updatable = true },
                                         { .slot = 1, .kind = VS_KEY_RECOVERY } };
        struct vs_encryption_config enc = { .provider = (char *) "luks2", .keys = keys, .n_keys = 2,
                                            .cipher = (char *) VS_CIPHER_XTS, .key_size = 512 };
        expect_format(&enc, VS_META_CONFIG_TALOS_1_14,
                      "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":null,\"KeyNodeID\":null,"
                      "\"KeyKMS\":null,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[7]},\"TPMCheckSecurebootStatusOnEnroll\":false,"
                      "\"TPMUpdatable\":true},\"KeyLockToSTATE\":false},{\"KeySlot\":1,\"KeyStatic\":null,\"KeyNodeID\":null,"
                      "\"KeyKMS\":null,\"KeyTPM\":null,\"KeyLockToSTATE\":false,\"KeyRecovery\":{}}],"
                      "\"EncryptionCipher\":\"aes-xts-plain64\",\"EncryptionKeySize\":512,\"EncryptionBlockSize\":0,"
                      "\"EncryptionPerfOptions\":null,\"EncryptionAllowDiscards\":false}");
        _cleanup_secret_ struct vs_secret *text = NULL;
        assert_int_equal(vs_meta_config_format(&enc, VS_META_CONFIG_TALOS_1_14, &text), 0);
        struct vs_encryption_config back = {};
        assert_int_equal(vs_meta_config_parse(text->data, text->len, "tag 9", &back), 1);
        assert_int_equal(back.n_keys, 2);
        assert_int_equal(back.keys[0].kind, VS_KEY_TPM);
        assert_true(back.keys[0].tpm_updatable);
        assert_int_equal(back.keys[1].kind, VS_KEY_RECOVERY);
        vs_encryption_config_done(&back);
}

struct bad_json { const char *json; const char *fragment; };

static void test_config_errors(void **state) {
        (void) state;
        static const struct bad_json cases[] = {
                /* Neither Talos shape decodes: the first (block EncryptionSpec) error is named. */
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":\"0\",\"KeyNodeID\":{}}]}",
                  "t9: field EncryptionKeys[0].KeySlot: cannot decode string 0 into an integer" },
                { "{\"EncryptionProvider\":1,\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}]}", "field EncryptionProvider: cannot decode int into a string" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0.0,\"KeyNodeID\":{}}]}", "KeySlot: cannot decode double" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":5}}]}", "field EncryptionKeys[0].KeyStatic.KeyData: cannot decode int into a string" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyKMS\":\"x\"}]}", "field EncryptionKeys[0].KeyKMS: cannot decode string into an object" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":{}}", "field EncryptionKeys: cannot decode object into a list" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionKeySize\":-1}",
                  "field EncryptionKeySize: cannot decode int -1 into an unsigned integer" },
                { "[1]", "cannot decode array into an encryption config" },
                { "{\"EncryptionKeys\":[", "t9: not valid JSON at byte 19: unexpected end of data" },
                { "{\"a\":1} x", "not valid JSON at byte 8" },
                { "null\0", "data after the value" },
                /* Decoded, then refused: what Talos leaves to fail at use, and volseal's rules. */
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0}]}", "field EncryptionKeys[0]: no key kind is set" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[null]}", "field EncryptionKeys[0]: no key kind is set" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyTPM\":{\"TPMOptions\":{\"PCRs\":[24]}}}]}", "TPM PCRs must be 0-23" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionPerfOptions\":[\"fast\"]}",
                  "invalid perf option \"fast\"" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":1,\"KeyNodeID\":{}},{\"KeySlot\":1,\"KeyNodeID\":{}}]}", "duplicate key slot 1" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{},\"KeyLockToSTATE\":true}]}",
                  "state-locked key is not allowed for the \"STATE\" volume" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[]}", "encryption keys are required" },
                { "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyNodeID\":{}}],\"EncryptionCipher\":\"xchacha12\"}",
                  "unknown cipher \"xchacha12\"" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                logbuf[0] = 0;
                struct vs_encryption_config enc;
                size_t len = strlen(cases[i].json) + (strcmp(cases[i].json, "null") == 0 ? 1 : 0);
                int r = vs_meta_config_parse(cases[i].json, len, "t9", &enc);
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
        char *modern = slot1(talos_modern);
        struct vs_encryption_config in;
        assert_int_equal(vs_meta_config_parse(modern, strlen(modern), "t9", &in), 1);
        assert_int_equal(vs_meta_state_config_set(&m, "img", &in), 1);
        assert_int_equal(vs_meta_state_config_set(&m, "img", &in), 0); /* unchanged: nothing to write */
        expect_tag(&m, 9, modern, 1);
        /* What Talos 1.11-1.13 wrote for the same config is current too: not rewritten. */
        char *older = strdup(modern);
        *strstr(older, ",\"EncryptionAllowDiscards\":null}") = 0;
        strcat(older, "}");
        assert_int_equal(vs_meta_set(&m, 9, older, strlen(older), "img"), 0);
        assert_int_equal(vs_meta_state_config_set(&m, "img", &in), 0);
        expect_tag(&m, 9, older, 1);
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), 1);
        assert_int_equal(enc.n_keys, 2);
        vs_encryption_config_done(&enc);
        assert_int_equal(vs_meta_state_config_set(&m, "img", NULL), 1);
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), 0);
        assert_int_equal(vs_meta_set(&m, 9, "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":true}]}", 66, "img"), 0);
        logbuf[0] = 0;
        assert_int_equal(vs_meta_state_config_get(&m, "img", &enc), -EINVAL);
        assert_non_null(strstr(logbuf, "img: META tag 9 (StateEncryptionConfig): field EncryptionKeys[0].KeySlot: cannot decode boolean"));
        vs_encryption_config_done(&in);
        vs_meta_done(&m);
        free(older);
        free(modern);
        free(img);
}

#define YSTATE "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - slot: 0\n      static: {passphrase: machinepw}\n    - slot: 1\n      nodeID: {}\n"
#define YEPH "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n    - slot: 0\n      nodeID: {}\n"

static void test_unlock_helpers(void **state) {
        (void) state;
        char path[] = "/tmp/volseal-test-meta.XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, IMG), 0);
        close(fd);

        /* The machine config has STATE; persisting writes what Talos writes, a second time writes nothing. */
        struct vs_config cfg = {};
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", YSTATE "---\n" YEPH, strlen(YSTATE "---\n" YEPH)), 0);
        struct vs_meta m;
        assert_int_equal(vs_meta_load(&m, path), 0);
        assert_int_equal(vs_meta_state_static_slot(&m, path), -1);
        vs_meta_done(&m);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 1);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 0);
        assert_int_equal(vs_meta_config_persist_state(path, NULL), 0);
        vs_config_free(&cfg);
        assert_int_equal(vs_meta_load(&m, path), 0);
        expect_tag(&m, 9, "{\"EncryptionProvider\":\"luks2\",\"EncryptionKeys\":[{\"KeySlot\":0,\"KeyStatic\":{\"KeyData\":\"machinepw\"},"
                   "\"KeyNodeID\":null,\"KeyKMS\":null,\"KeyTPM\":null,\"KeyLockToSTATE\":null},{\"KeySlot\":1,\"KeyStatic\":null,"
                   "\"KeyNodeID\":{},\"KeyKMS\":null,\"KeyTPM\":null,\"KeyLockToSTATE\":null}],\"EncryptionCipher\":\"\","
                   "\"EncryptionKeySize\":0,\"EncryptionBlockSize\":0,\"EncryptionPerfOptions\":null,\"EncryptionAllowDiscards\":null}", 1);
        assert_int_equal(vs_meta_state_static_slot(&m, path), 0);
        vs_meta_done(&m);

        /* An unencrypted STATE in the machine config stores null, as Talos's json.Marshal of a nil config. */
        const char plain[] = "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\n";
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", plain, strlen(plain)), 0);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 1);
        vs_config_free(&cfg);
        assert_int_equal(vs_meta_load(&m, path), 0);
        expect_tag(&m, 9, "null", 1);
        vs_meta_done(&m);

        /* machine.systemDiskEncryption.state: the v1alpha1 shape, and the value even when Talos cannot parse
         * its provider (STATE is then not encrypted, the tag still holds the config). */
        const char v1[] = "machine:\n  systemDiskEncryption:\n    state:\n      provider: luks3\n      keys:\n        - nodeID: {}\n";
        assert_int_equal(vs_config_load_string(&cfg, "mc.yaml", v1, strlen(v1)), 0);
        assert_false(vs_config_find(&cfg, "STATE")->encrypted);
        assert_int_equal(vs_meta_config_persist_state(path, vs_config_find(&cfg, "STATE")), 1);
        vs_config_free(&cfg);
        assert_int_equal(vs_meta_load(&m, path), 0);
        expect_tag(&m, 9, "{\"EncryptionProvider\":\"luks3\",\"EncryptionKeys\":[{\"KeyStatic\":null,\"KeyNodeID\":{},\"KeyKMS\":null,"
                   "\"KeySlot\":0,\"KeyTPM\":null}],\"EncryptionCipher\":\"\",\"EncryptionKeySize\":0,\"EncryptionBlockSize\":0,"
                   "\"EncryptionPerfOptions\":null}", 1);
        vs_meta_done(&m);
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
                cmocka_unit_test_setup(test_config_talos_pinned, setup),
                cmocka_unit_test_setup(test_config_meaning, setup),
                cmocka_unit_test_setup(test_config_built, setup),
                cmocka_unit_test_setup(test_config_extensions, setup),
                cmocka_unit_test_setup(test_config_errors, setup),
                cmocka_unit_test_setup(test_state_config_in_meta, setup),
                cmocka_unit_test_setup(test_unlock_helpers, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
