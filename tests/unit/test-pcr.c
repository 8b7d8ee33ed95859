/* test-pcr.c: pcr/ on event logs the tests build themselves: both formats, every decoded record kind,
 * StartupLocality and H-CRTM, malformed lengths, volseal's JSON-seq log, ESL append, PCR 7 prediction,
 * and the SecureBoot-variable vectors computed from the UEFI_VARIABLE_DATA layout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "log.h"
#include "pcr.h"
#include "util.h"

static void quiet_sink(enum vs_log_level level, const char *message, void *userdata) {
        (void) level;
        (void) message;
        (void) userdata;
}

static void sha256(const void *d, size_t n, uint8_t out[32]) {
        unsigned int len = 0;
        assert_int_equal(EVP_Digest(d, n, out, &len, EVP_sha256(), NULL), 1);
}

static void assert_hex(const uint8_t *d, size_t n, const char *hex) {
        char *h = pcr_hex(d, n);
        assert_string_equal(h, hex);
        free(h);
}

/* UEFI_VARIABLE_DATA laid out by hand (not with pcr_efi_variable_data). */
static size_t manual_var(uint8_t *b, const uint8_t guid[16], const char *name, const uint8_t *data, size_t dlen) {
        size_t n = strlen(name), off = 0;
        memcpy(b, guid, 16);
        off = 16;
        memset(b + off, 0, 16);
        b[off] = (uint8_t) n;        /* u64 UnicodeNameLength (little endian) */
        b[off + 8] = (uint8_t) dlen; /* u64 VariableDataLength */
        off += 16;
        for (size_t i = 0; i < n; i++) {
                b[off++] = (uint8_t) name[i];
                b[off++] = 0;
        }
        if (dlen)
                memcpy(b + off, data, dlen);
        return off + dlen;
}

static void test_empty_secureboot_vectors(void **state) {
        (void) state;
        static const struct {
                const char *name;
                bool image_db;
                const char *digest;
        } v[] = {
                { "PK", false, "dea7b80ab53a3daaa24d5cc46c64e1fa9ffd03739f90aadbd8c0867c4a5b4890" },
                { "db", true, "baf89a3ccace52750c5f0128351e0422a41597a1adfd50822aa363b9d124ea7c" },
                { "dbx", true, "9f75b6823bff6af1024a4e2036719cdd548d3cbc2bf1de8e7ef4d0ed01f94bf9" },
        };
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                uint8_t manual[64], d1[32], d2[32];
                const uint8_t *guid = v[i].image_db ? pcr_guid_image_security_db : pcr_guid_efi_global;
                size_t n = manual_var(manual, guid, v[i].name, NULL, 0);
                sha256(manual, n, d1);
                uint8_t *lib = NULL;
                size_t lib_size = 0;
                assert_int_equal(pcr_efi_variable_data(guid, v[i].name, NULL, 0, &lib, &lib_size), 0);
                assert_int_equal(lib_size, n);
                assert_memory_equal(lib, manual, n);
                assert_int_equal(pcr_hash(PCR_ALG_SHA256, lib, lib_size, d2), 0);
                assert_memory_equal(d1, d2, 32);
                assert_hex(d1, 32, v[i].digest);
                free(lib);
        }
        /* separator: SHA-256 of 4 zero bytes */
        uint8_t z[4] = {}, d[32];
        sha256(z, 4, d);
        assert_hex(d, 32, "df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119");
        /* GUIDs round-trip and are in EFI byte order */
        uint8_t g[16];
        char s[37];
        assert_int_equal(pcr_guid_parse("8be4df61-93ca-11d2-aa0d-00e098032b8c", g), 0);
        assert_memory_equal(g, pcr_guid_efi_global, 16);
        pcr_guid_format(pcr_guid_image_security_db, s);
        assert_string_equal(s, "d719b2cb-3d3a-4596-a3bc-dad00e67656f");
        assert_int_equal(pcr_guid_parse("8be4df61-93ca-11d2-aa0d-00e098032b8", g), -EINVAL);
        assert_int_equal(pcr_guid_parse("8be4df61x93ca-11d2-aa0d-00e098032b8c", g), -EINVAL);
}

/* A log of every kind the decoder knows; the same script is written crypto-agile and legacy. */
static void write_sample(struct pcr_log_writer *w, bool with_locality) {
        uint8_t *v;
        size_t n;
        uint8_t one = 1;
        if (with_locality)
                assert_int_equal(pcr_writer_startup_locality(w, 3), 0);
        assert_int_equal(pcr_writer_add(w, 0, PCR_EV_S_CRTM_VERSION, "1.0\0", 4, NULL, 0, NULL), 0);
        assert_int_equal(pcr_efi_variable_data(pcr_guid_efi_global, "SecureBoot", &one, 1, &v, &n), 0);
        assert_int_equal(pcr_writer_add(w, 7, PCR_EV_EFI_VARIABLE_DRIVER_CONFIG, v, n, NULL, 0, NULL), 0);
        free(v);
        const char *names[] = { "PK", "KEK", "db", "dbx" };
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(pcr_efi_variable_data(i < 2 ? pcr_guid_efi_global : pcr_guid_image_security_db, names[i],
                                                       NULL, 0, &v, &n), 0);
                assert_int_equal(pcr_writer_add(w, 7, PCR_EV_EFI_VARIABLE_DRIVER_CONFIG, v, n, NULL, 0, NULL), 0);
                free(v);
        }
        for (uint32_t p = 0; p < 8; p++)
                assert_int_equal(pcr_writer_add(w, p, PCR_EV_SEPARATOR, "\0\0\0\0", 4, NULL, 0, NULL), 0);
        uint8_t sig[16 + 5] = { 0 };
        memcpy(sig + 16, "CERT!", 5);
        assert_int_equal(pcr_efi_variable_data(pcr_guid_image_security_db, "db", sig, sizeof(sig), &v, &n), 0);
        assert_int_equal(pcr_writer_add(w, 7, PCR_EV_EFI_VARIABLE_AUTHORITY, v, n, NULL, 0, NULL), 0);
        free(v);
        /* UEFI_IMAGE_LOAD_EVENT with a file path node "\A.EFI" and the end node */
        uint8_t img[32 + 4 + 14 + 4] = {};
        img[8] = 0x10;           /* length in memory */
        img[24] = 4 + 14 + 4;    /* device path length */
        uint8_t *node = img + 32;
        node[0] = 4; node[1] = 4; node[2] = 4 + 14;
        const char *path = "\\A.EFI";
        for (size_t i = 0; i < 6; i++)
                node[4 + 2 * i] = (uint8_t) path[i];
        node += 4 + 14;
        node[0] = 0x7f; node[1] = 0xff; node[2] = 4;
        assert_int_equal(pcr_writer_add(w, 4, PCR_EV_EFI_BOOT_SERVICES_APPLICATION, img, sizeof(img), "PEHASH", 6, NULL), 0);
        uint8_t tag[8 + 3] = { 0x34, 0x12, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc };
        assert_int_equal(pcr_writer_add(w, 5, PCR_EV_EVENT_TAG, tag, sizeof(tag), NULL, 0, NULL), 0);
        assert_int_equal(pcr_writer_add(w, 8, PCR_EV_IPL, "grub_cmd: boot", 14, NULL, 0, NULL), 0);
}

static void check_decoded(const struct pcr_eventlog *log) {
        size_t seen = 0;
        for (size_t i = 0; i < log->n_events; i++) {
                const struct pcr_event *ev = &log->events[i];
                char *d = pcr_event_describe(ev);
                struct json_object *j = pcr_event_to_json(ev), *dec = NULL, *x = NULL;
                assert_non_null(d);
                assert_non_null(j);
                json_object_object_get_ex(j, "decoded", &dec);
                switch (ev->type) {
                case PCR_EV_EFI_VARIABLE_DRIVER_CONFIG:
                        if (strstr(d, "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c: 1 byte")) {
                                assert_true(json_object_object_get_ex(dec, "data", &x));
                                assert_string_equal(json_object_get_string(x), "01");
                                seen |= 1;
                        }
                        break;
                case PCR_EV_EFI_VARIABLE_AUTHORITY:
                        assert_string_equal(d, "db-d719b2cb-3d3a-4596-a3bc-dad00e67656f: 21 bytes");
                        seen |= 2;
                        break;
                case PCR_EV_SEPARATOR:
                        assert_string_equal(d, "separator");
                        seen |= 4;
                        break;
                case PCR_EV_EFI_BOOT_SERVICES_APPLICATION:
                        assert_string_equal(d, "image \\A.EFI (16 bytes)");
                        assert_true(json_object_object_get_ex(dec, "path", &x));
                        assert_string_equal(json_object_get_string(x), "\\A.EFI");
                        seen |= 8;
                        break;
                case PCR_EV_EVENT_TAG:
                        assert_string_equal(d, "tag 0x00001234, 3 bytes");
                        assert_true(json_object_object_get_ex(dec, "data", &x));
                        assert_string_equal(json_object_get_string(x), "aabbcc");
                        seen |= 16;
                        break;
                case PCR_EV_IPL:
                        assert_string_equal(d, "\"grub_cmd: boot\"");
                        seen |= 32;
                        break;
                }
                json_object_put(j);
                free(d);
        }
        assert_int_equal(seen, 63);
}

/* Replays by hand: every non-EV_NO_ACTION record extends its PCR with SHA-256. */
static void manual_replay_sha256(const struct pcr_eventlog *log, uint8_t pcrs[PCR_NUM][32], uint8_t locality) {
        memset(pcrs, 0, PCR_NUM * 32);
        pcrs[0][31] = locality;
        for (size_t i = 0; i < log->n_events; i++) {
                const struct pcr_event *ev = &log->events[i];
                if (ev->type == PCR_EV_NO_ACTION)
                        continue;
                for (size_t j = 0; j < ev->n_digests; j++)
                        if (ev->digests[j].alg == PCR_ALG_SHA256) {
                                uint8_t buf[64];
                                memcpy(buf, pcrs[ev->pcr], 32);
                                memcpy(buf + 32, ev->digests[j].d, 32);
                                sha256(buf, 64, pcrs[ev->pcr]);
                        }
        }
}

static void test_crypto_agile_roundtrip(void **state) {
        (void) state;
        struct pcr_log_writer w;
        uint16_t algs[] = { PCR_ALG_SHA1, PCR_ALG_SHA256, PCR_ALG_SHA384 };
        assert_int_equal(pcr_writer_init(&w, false, algs, 3), 0);
        write_sample(&w, false);
        struct pcr_eventlog log = {};
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "test"), 0);
        assert_int_equal(log.format, PCR_LOG_CRYPTO_AGILE);
        assert_int_equal(log.n_algs, 3);
        assert_int_equal(log.algs[2].alg, PCR_ALG_SHA384);
        assert_int_equal(log.n_events, 1 + 1 + 5 + 8 + 1 + 3);
        assert_int_equal(log.events[1].n_digests, 3);
        check_decoded(&log);

        struct pcr_values v;
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        assert_int_equal(v.n_banks, 3);
        uint8_t manual[PCR_NUM][32];
        manual_replay_sha256(&log, manual, 0);
        const struct pcr_bank *b = pcr_values_bank(&v, PCR_ALG_SHA256);
        assert_non_null(b);
        for (int p = 0; p < PCR_NUM; p++)
                assert_memory_equal(b->v[p], manual[p], 32);
        assert_int_equal(b->n_extends[7], 7);
        /* PCR 7 by hand from the recorded digests: SecureBoot=1, 4 empty vars, separator, authority */
        pcr_eventlog_free(&log);
        pcr_writer_free(&w);
}

static void test_legacy_roundtrip(void **state) {
        (void) state;
        struct pcr_log_writer w;
        assert_int_equal(pcr_writer_init(&w, true, NULL, 0), 0);
        write_sample(&w, false);
        struct pcr_eventlog log = {};
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "legacy"), 0);
        assert_int_equal(log.format, PCR_LOG_SHA1);
        assert_int_equal(log.n_events, 1 + 5 + 8 + 1 + 3);
        check_decoded(&log);
        struct pcr_values v;
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        assert_int_equal(v.n_banks, 1);
        assert_int_equal(v.banks[0].alg, PCR_ALG_SHA1);
        /* PCR 1 saw only a separator: SHA1(zero20 || SHA1(00000000)) */
        uint8_t sep[20], buf[40], want[20];
        unsigned int len;
        EVP_Digest("\0\0\0\0", 4, sep, &len, EVP_sha1(), NULL);
        memset(buf, 0, 20);
        memcpy(buf + 20, sep, 20);
        EVP_Digest(buf, 40, want, &len, EVP_sha1(), NULL);
        assert_memory_equal(v.banks[0].v[1], want, 20);
        pcr_eventlog_free(&log);
        pcr_writer_free(&w);
}

static void test_startup_locality_and_hcrtm(void **state) {
        (void) state;
        struct pcr_log_writer w;
        uint16_t alg = PCR_ALG_SHA256;
        assert_int_equal(pcr_writer_init(&w, false, &alg, 1), 0);
        write_sample(&w, true);
        struct pcr_eventlog log = {};
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "loc"), 0);
        assert_true(log.has_startup_locality);
        assert_int_equal(log.startup_locality, 3);
        struct pcr_values v;
        uint8_t manual[PCR_NUM][32];
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        manual_replay_sha256(&log, manual, 3);
        assert_memory_equal(v.banks[0].v[0], manual[0], 32);
        manual_replay_sha256(&log, manual, 0);
        assert_memory_not_equal(v.banks[0].v[0], manual[0], 32);
        pcr_eventlog_free(&log);
        pcr_writer_free(&w);

        /* H-CRTM: PCR 0 starts at 4 and the H-CRTM measurement is its first extend */
        assert_int_equal(pcr_writer_init(&w, false, &alg, 1), 0);
        assert_int_equal(pcr_writer_add(&w, 0, PCR_EV_EFI_HCRTM_EVENT, "HCRTM", 5, "code", 4, NULL), 0);
        assert_int_equal(pcr_writer_add(&w, 0, PCR_EV_SEPARATOR, "\0\0\0\0", 4, NULL, 0, NULL), 0);
        log = (struct pcr_eventlog) {};
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "hcrtm"), 0);
        assert_true(log.hcrtm);
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        manual_replay_sha256(&log, manual, 4);
        assert_memory_equal(v.banks[0].v[0], manual[0], 32);
        pcr_eventlog_free(&log);
        pcr_writer_free(&w);
}

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static int parse_bytes(const uint8_t *b, size_t n) {
        struct pcr_eventlog log = {};
        int r = pcr_eventlog_parse(&log, b, n, "bad");
        pcr_eventlog_free(&log);
        return r;
}

static void test_malformed_lengths(void **state) {
        (void) state;
        vs_log_set_sink(quiet_sink, NULL);
        struct pcr_log_writer w;
        uint16_t algs[] = { PCR_ALG_SHA1, PCR_ALG_SHA256 };
        assert_int_equal(pcr_writer_init(&w, false, algs, 2), 0);
        size_t header = w.size;
        write_sample(&w, true);
        uint8_t *b = malloc(w.size);
        /* Every truncation inside a record is refused; never a crash or a read past the end. */
        size_t refused = 0;
        for (size_t n = 1; n < w.size; n++) {
                memcpy(b, w.buf, n);
                int r = parse_bytes(b, n);
                assert_true(r == 0 || r == -EBADMSG);
                refused += r == -EBADMSG;
        }
        assert_true(refused > w.size / 2);
        assert_int_equal(parse_bytes(w.buf, 0), -EBADMSG);

        /* First record after the header: pcr(4) type(4) count(4) ... */
        memcpy(b, w.buf, w.size);
        put32(b + header + 8, 6); /* digest count above the bank limit */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        put32(b + header + 8, 1); /* one digest where the header declares two banks */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        b[header + 12 + 2 + 20] = 0x04; /* second digest is sha1 again: a duplicate bank */
        b[header + 12 + 2 + 20 + 1] = 0x00;
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        b[header + 12] = 0x12; /* first digest's algorithm: SM3, not declared in the header */
        b[header + 13] = 0x00;
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        size_t esize_off = header + 12 + 2 + 20 + 2 + 32; /* event size of the first record */
        put32(b + esize_off, 0x7fffffff);
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        put32(b + esize_off, (uint32_t) (w.size - esize_off - 4 + 1)); /* one byte past the end */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        put32(b + header + 89, 24); /* PCR index out of range (record after the 89-byte StartupLocality one) */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);

        /* Spec ID header: numberOfAlgorithms 0, huge, digest size wrong, vendor info overrun */
        memcpy(b, w.buf, w.size);
        put32(b + 32 + 24, 0);
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        put32(b + 32 + 24, 0xffffffff);
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        b[32 + 28 + 2] = 21; /* sha1 declared with 21 bytes */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);
        memcpy(b, w.buf, w.size);
        b[32 + 28 + 8] = 200; /* vendorInfoSize beyond the header */
        assert_int_equal(parse_bytes(b, w.size), -EBADMSG);

        /* Trailing zero padding after the last record is accepted. */
        uint8_t *pad = calloc(1, w.size + 64);
        memcpy(pad, w.buf, w.size);
        assert_int_equal(parse_bytes(pad, w.size + 64), 0);
        free(pad);

        /* UEFI_VARIABLE_DATA with lengths beyond the event: not decoded. */
        uint8_t var[40] = {};
        struct pcr_efi_variable v;
        var[16] = 4; /* 4 chars = 8 bytes: fits exactly */
        assert_int_equal(pcr_decode_efi_variable(var, sizeof(var), &v), 0);
        var[24] = 1; /* one data byte too many */
        assert_int_equal(pcr_decode_efi_variable(var, sizeof(var), &v), -EBADMSG);
        var[24] = 0;
        var[23] = 0x80; /* name length 2^63 + 4: overflow attempt */
        assert_int_equal(pcr_decode_efi_variable(var, sizeof(var), &v), -EBADMSG);

        free(b);
        pcr_writer_free(&w);
        vs_log_set_sink(NULL, NULL);
}

static void test_measure_log(void **state) {
        (void) state;
        uint8_t d[32];
        sha256("enter-initrd", 12, d);
        char *h = pcr_hex(d, 32), text[1024];
        snprintf(text, sizeof(text),
                 "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"},{\"hashAlg\":\"sm3_256\",\"digest\":\"00\"}],"
                 "\"content_type\":\"systemd\",\"content\":{\"string\":\"enter-initrd\"}}\n"
                 "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"%s\"}]", h, h);
        struct pcr_eventlog log = {};
        assert_int_equal(pcr_eventlog_add_measure_log(&log, text, strlen(text), "m"), 0);
        assert_int_equal(log.n_events, 1); /* the truncated second record is ignored */
        assert_int_equal(log.events[0].pcr, 11);
        assert_string_equal(log.events[0].text, "enter-initrd");
        assert_int_equal(log.events[0].n_digests, 1);
        struct pcr_values v;
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        uint8_t buf[64] = {}, want[32];
        memcpy(buf + 32, d, 32);
        sha256(buf, 64, want);
        assert_memory_equal(pcr_values_bank(&v, PCR_ALG_SHA256)->v[11], want, 32);
        pcr_eventlog_free(&log);

        vs_log_set_sink(quiet_sink, NULL);
        const char *bad[] = {
                "\x1e{\"pcr\":24,\"digests\":[]}\n",
                "\x1e{\"pcr\":11}\n",
                "\x1e{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"abcd\"}]}\n",
                "\x1enot json\n",
                "{\"pcr\":11,\"digests\":[]}\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                log = (struct pcr_eventlog) {};
                assert_int_equal(pcr_eventlog_add_measure_log(&log, bad[i], strlen(bad[i]), "bad"), -EBADMSG);
                pcr_eventlog_free(&log);
        }
        vs_log_set_sink(NULL, NULL);
        free(h);
}

/* ESL with one list of `n` SHA-256 entries (owner = 0x11.., data = byte i repeated) */
static size_t make_esl(uint8_t *b, const uint8_t *first_bytes, size_t n) {
        size_t ssize = 16 + 32, lsize = 28 + n * ssize;
        memcpy(b, pcr_guid_cert_sha256, 16);
        put32(b + 16, (uint32_t) lsize);
        put32(b + 20, 0);
        put32(b + 24, (uint32_t) ssize);
        for (size_t i = 0; i < n; i++) {
                memset(b + 28 + i * ssize, 0x11, 16);
                memset(b + 28 + i * ssize + 16, first_bytes[i], 32);
        }
        return lsize;
}

static void test_esl_append_and_auth(void **state) {
        (void) state;
        uint8_t cur[512], add[512], *out = NULL;
        size_t cur_n = make_esl(cur, (uint8_t[]) { 1, 2 }, 2);
        size_t add_n = make_esl(add, (uint8_t[]) { 2, 3 }, 2);
        size_t out_n, entries;
        assert_int_equal(pcr_esl_append(cur, cur_n, add, add_n, &out, &out_n), 0);
        assert_int_equal(pcr_esl_validate(out, out_n, &entries, "out"), 0);
        assert_int_equal(entries, 3); /* 2 was a duplicate */
        assert_int_equal(out_n, cur_n + 28 + 48);
        free(out);
        /* all duplicates: the list disappears */
        assert_int_equal(pcr_esl_append(cur, cur_n, cur, cur_n, &out, &out_n), 0);
        assert_int_equal(out_n, cur_n);
        free(out);

        /* .auth: EFI_TIME + WIN_CERTIFICATE_UEFI_GUID(PKCS7) + ESL */
        uint8_t auth[1024] = {};
        size_t wc = 24 + 10;
        put32(auth + 16, (uint32_t) wc);
        auth[20] = 0x00; auth[21] = 0x02; auth[22] = 0xf1; auth[23] = 0x0e;
        uint8_t pkcs7[16];
        assert_int_equal(pcr_guid_parse("4aafd29d-68df-49ee-8aa9-347d375665a7", pkcs7), 0);
        memcpy(auth + 24, pkcs7, 16);
        memcpy(auth + 16 + wc, add, add_n);
        bool was_auth = false;
        assert_int_equal(pcr_esl_from_file_data(auth, 16 + wc + add_n, "auth", &out, &out_n, &was_auth), 0);
        assert_true(was_auth);
        assert_int_equal(out_n, add_n);
        assert_memory_equal(out, add, add_n);
        free(out);
        assert_int_equal(pcr_esl_from_file_data(add, add_n, "esl", &out, &out_n, &was_auth), 0);
        assert_false(was_auth);
        free(out);

        vs_log_set_sink(quiet_sink, NULL);
        put32(add + 16, 1000); /* list size beyond the buffer */
        assert_int_equal(pcr_esl_validate(add, add_n, NULL, "bad"), -EBADMSG);
        put32(add + 16, (uint32_t) add_n - 1); /* not a multiple of the signature size */
        assert_int_equal(pcr_esl_validate(add, add_n - 1, NULL, "bad"), -EBADMSG);
        put32(auth + 16, 5000); /* WIN_CERTIFICATE longer than the file */
        assert_int_equal(pcr_esl_from_file_data(auth, 16 + wc + add_n, "auth", &out, &out_n, NULL), -EBADMSG);
        vs_log_set_sink(NULL, NULL);
}

/* A boot's PCR 7 from given variable contents, written as firmware would. */
static void write_boot(struct pcr_log_writer *w, const struct pcr_sb_vars *vars, const uint8_t *authority, size_t auth_size,
                       const char *image) {
        uint16_t algs[] = { PCR_ALG_SHA1, PCR_ALG_SHA256 };
        assert_int_equal(pcr_writer_init(w, false, algs, 2), 0);
        for (int k = 0; k < _PCR_SB_MAX; k++) {
                uint8_t *v;
                size_t n;
                assert_int_equal(pcr_efi_variable_data(pcr_sb_var_guid((enum pcr_sb_var) k), pcr_sb_var_name((enum pcr_sb_var) k),
                                                       vars->v[k].data, vars->v[k].present ? vars->v[k].size : 0, &v, &n), 0);
                assert_int_equal(pcr_writer_add(w, 7, PCR_EV_EFI_VARIABLE_DRIVER_CONFIG, v, n, NULL, 0, NULL), 0);
                free(v);
        }
        assert_int_equal(pcr_writer_add(w, 7, PCR_EV_SEPARATOR, "\0\0\0\0", 4, NULL, 0, NULL), 0);
        uint8_t *v;
        size_t n;
        assert_int_equal(pcr_efi_variable_data(pcr_guid_image_security_db, "db", authority, auth_size, &v, &n), 0);
        assert_int_equal(pcr_writer_add(w, 7, PCR_EV_EFI_VARIABLE_AUTHORITY, v, n, NULL, 0, NULL), 0);
        free(v);
        uint8_t img[32] = {};
        assert_int_equal(pcr_writer_add(w, 4, PCR_EV_EFI_BOOT_SERVICES_APPLICATION, img, sizeof(img), image, strlen(image), NULL), 0);
}

static void set_var(struct pcr_sb_vars *vars, enum pcr_sb_var k, const void *d, size_t n) {
        free(vars->v[k].data);
        vars->v[k].data = malloc(n ? n : 1);
        memcpy(vars->v[k].data, d, n);
        vars->v[k].size = n;
        vars->v[k].present = true;
}

static void test_predict_pcr7(void **state) {
        (void) state;
        /* db: one X.509 entry (the "cert" bytes) owned by 0x22..; dbx: one hash */
        uint8_t cert[40];
        memset(cert, 0x5c, sizeof(cert));
        uint8_t db[28 + 16 + 40];
        memcpy(db, pcr_guid_cert_x509, 16);
        put32(db + 16, sizeof(db));
        put32(db + 20, 0);
        put32(db + 24, 16 + 40);
        memset(db + 28, 0x22, 16);
        memcpy(db + 44, cert, 40);
        uint8_t dbx[256], add[256], authority[56];
        size_t dbx_n = make_esl(dbx, (uint8_t[]) { 9 }, 1);
        size_t add_n = make_esl(add, (uint8_t[]) { 9, 10 }, 2);
        memset(authority, 0x22, 16);
        memcpy(authority + 16, cert, 40);

        struct pcr_sb_vars vars = {};
        set_var(&vars, PCR_SB_SECUREBOOT, "\1", 1);
        set_var(&vars, PCR_SB_PK, "pk", 2);
        set_var(&vars, PCR_SB_KEK, "kek", 3);
        set_var(&vars, PCR_SB_DB, db, sizeof(db));
        set_var(&vars, PCR_SB_DBX, dbx, dbx_n);

        struct pcr_log_writer w, w2;
        write_boot(&w, &vars, authority, sizeof(authority), "image-1");
        struct pcr_eventlog log = {};
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "boot"), 0);

        /* Same variables: prediction = current. */
        struct pcr_values cur, pred, after;
        char *reason = NULL;
        assert_int_equal(pcr_eventlog_replay(&log, &cur), 0);
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &pred, &reason), 0);
        assert_memory_equal(cur.banks[1].v[7], pred.banks[1].v[7], 32);

        /* dbx append: hash 9 is dropped as a duplicate, hash 10 appended; the next boot measures that dbx. */
        uint8_t *merged;
        size_t merged_n;
        assert_int_equal(pcr_esl_append(dbx, dbx_n, add, add_n, &merged, &merged_n), 0);
        assert_int_equal(merged_n, dbx_n + 28 + 48);
        set_var(&vars, PCR_SB_DBX, merged, merged_n);
        free(merged);
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &pred, &reason), 0);
        write_boot(&w2, &vars, authority, sizeof(authority), "image-1");
        struct pcr_eventlog log2 = {};
        assert_int_equal(pcr_eventlog_parse(&log2, w2.buf, w2.size, "boot2"), 0);
        assert_int_equal(pcr_eventlog_replay(&log2, &after), 0);
        for (size_t b = 0; b < 2; b++) {
                assert_memory_equal(pred.banks[b].v[7], after.banks[b].v[7], pred.banks[b].size);
                assert_memory_not_equal(pred.banks[b].v[7], cur.banks[b].v[7], pred.banks[b].size);
                assert_memory_equal(pred.banks[b].v[4], cur.banks[b].v[4], pred.banks[b].size);
        }
        pcr_eventlog_free(&log2);
        pcr_writer_free(&w2);

        /* The db entry named by the authority event leaves db: unknown. */
        uint8_t db2[sizeof(db)];
        memcpy(db2, db, sizeof(db));
        db2[28] = 0x33; /* different owner: a different EFI_SIGNATURE_DATA */
        set_var(&vars, PCR_SB_DB, db2, sizeof(db2));
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &pred, &reason), 1);
        assert_non_null(strstr(reason, "not in the new db"));
        free(reason);
        set_var(&vars, PCR_SB_DB, db, sizeof(db));

        /* The new dbx revokes the logged boot application's hash: unknown. */
        uint8_t apphash[32], revoke[128];
        sha256("image-1", 7, apphash);
        size_t rn = make_esl(revoke, (uint8_t[]) { 0 }, 1);
        memcpy(revoke + 28 + 16, apphash, 32);
        set_var(&vars, PCR_SB_DBX, revoke, rn);
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &pred, &reason), 1);
        assert_non_null(strstr(reason, "revoked by the new dbx"));
        free(reason);

        pcr_eventlog_free(&log);
        pcr_writer_free(&w);
        pcr_sb_vars_free(&vars);
}

/* OVMF in setup mode (no keys) measures SecureBoot = one 0x00 byte, empty PK/KEK/db/dbx, then the
 * separator; the QEMU runs on this machine read PCR 7 = 65caf8dd...3068 (docs/pcr.md, "Tests"). The full value is
 * recomputed here both by replaying a written log and by predicting from the variables. */
static void test_ovmf_setup_mode_vector(void **state) {
        (void) state;
        static const char want[] = "65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068";
        struct pcr_sb_vars vars = {};
        set_var(&vars, PCR_SB_SECUREBOOT, "\0", 1);
        struct pcr_log_writer w;
        uint16_t alg = PCR_ALG_SHA256;
        assert_int_equal(pcr_writer_init(&w, false, &alg, 1), 0);
        for (int k = 0; k < _PCR_SB_MAX; k++) {
                uint8_t *v;
                size_t n;
                assert_int_equal(pcr_efi_variable_data(pcr_sb_var_guid((enum pcr_sb_var) k), pcr_sb_var_name((enum pcr_sb_var) k),
                                                       vars.v[k].data, vars.v[k].size, &v, &n), 0);
                assert_int_equal(pcr_writer_add(&w, 7, PCR_EV_EFI_VARIABLE_DRIVER_CONFIG, v, n, NULL, 0, NULL), 0);
                free(v);
        }
        assert_int_equal(pcr_writer_add(&w, 7, PCR_EV_SEPARATOR, "\0\0\0\0", 4, NULL, 0, NULL), 0);
        struct pcr_eventlog log = {};
        struct pcr_values v, p;
        char *reason = NULL;
        assert_int_equal(pcr_eventlog_parse(&log, w.buf, w.size, "ovmf"), 0);
        assert_int_equal(pcr_eventlog_replay(&log, &v), 0);
        assert_hex(v.banks[0].v[7], 32, want);
        /* Predicting from the variables gives the same; SecureBoot=1 gives another value. */
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &p, &reason), 0);
        assert_hex(p.banks[0].v[7], 32, want);
        set_var(&vars, PCR_SB_SECUREBOOT, "\1", 1);
        assert_int_equal(pcr_predict_pcr7(&log, &vars, &p, &reason), 0);
        assert_memory_not_equal(p.banks[0].v[7], v.banks[0].v[7], 32);
        pcr_eventlog_free(&log);
        pcr_writer_free(&w);
        pcr_sb_vars_free(&vars);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_secureboot_vectors),
                cmocka_unit_test(test_crypto_agile_roundtrip),
                cmocka_unit_test(test_legacy_roundtrip),
                cmocka_unit_test(test_startup_locality_and_hcrtm),
                cmocka_unit_test(test_malformed_lengths),
                cmocka_unit_test(test_measure_log),
                cmocka_unit_test(test_esl_append_and_auth),
                cmocka_unit_test(test_predict_pcr7),
                cmocka_unit_test(test_ovmf_setup_mode_vector),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
