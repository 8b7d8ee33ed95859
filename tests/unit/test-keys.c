/* test-keys.c: the key-kind vtable with static and nodeID (Talos's nodeID passphrase and entropy rule,
 * the META UUID override), and lockToSTATE (salt appended, salt file created once, parsed strictly). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"
#include "salt.h"

static char dir[] = "/tmp/volseal-test-keys.XXXXXX";
static char uuid_path[512];
static const struct vs_key_volume vol = { .id = "EPHEMERAL", .device = "/dev/null" };

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int get(struct vs_key_run *run, struct vs_key_config *k, struct vs_secret **ret) {
        return vs_key_get(run, &vol, k, k->slot, NULL, ret);
}

static void test_nodeid_passphrase(void **state) {
        write_file(uuid_path, "4c4c4544-0042-3510-8052-b4c04f4e3232\n");
        struct vs_key_run run = { .product_uuid_file = uuid_path };
        struct vs_key_config k = { .slot = 0, .kind = VS_KEY_NODEID };
        struct vs_secret *s = NULL;
        assert_int_equal(get(&run, &k, &s), 0);
        assert_string_equal((char *) s->data, "4c4c4544-0042-3510-8052-b4c04f4e3232EPHEMERAL");
        vs_secret_free(s);
        run.uuid_override = "11111111-2222-3333-4444-555555555555"; /* META tag 15 wins */
        assert_int_equal(get(&run, &k, &s), 0);
        assert_string_equal((char *) s->data, "11111111-2222-3333-4444-555555555555EPHEMERAL");
        vs_secret_free(s);
        vs_key_run_done(&run);
}

static void test_nodeid_entropy(void **state) {
        struct vs_key_run run = { .product_uuid_file = uuid_path };
        struct vs_key_config k = { .slot = 0, .kind = VS_KEY_NODEID };
        struct vs_secret *s = NULL;
        write_file(uuid_path, "00000000-0000-0000-0000-000000000000\n");
        assert_int_equal(get(&run, &k, &s), -EINVAL);
        assert_string_equal(run.reason, "machine UUID 00000000-0000-0000-0000-000000000000 entropy check failed");
        /* 36 characters: 18 of one is allowed, 19 is not (Talos: count > len/2) */
        write_file(uuid_path, "aaaaaaaa-aaaa-aaaa-aab0-123456789012\n"); /* 18 'a' */
        assert_int_equal(get(&run, &k, &s), 0);
        vs_secret_free(s);
        write_file(uuid_path, "aaaaaaaa-aaaa-aaaa-aaa0-123456789012\n"); /* 19 'a' */
        assert_int_equal(get(&run, &k, &s), -EINVAL);
        write_file(uuid_path, "\n");
        assert_int_equal(get(&run, &k, &s), -EINVAL);
        assert_string_equal(run.reason, "machine UUID is not populated");
        write_file(uuid_path, "not-a-uuid-at-all\n"); /* Talos has no format rule: the text is the UUID */
        assert_int_equal(get(&run, &k, &s), 0);
        assert_string_equal((char *) s->data, "not-a-uuid-at-allEPHEMERAL");
        vs_secret_free(s);
        /* Talos counts runes (an invalid byte is U+FFFD) against the length in bytes: 4 of 6 fail. */
        run.uuid_override = "\xff\xfe\xfd\xfc" "ab";
        assert_int_equal(get(&run, &k, &s), -EINVAL);
        assert_non_null(strstr(run.reason, "entropy check failed"));
        run.uuid_override = " 1234567-89ab\n"; /* tag 15 byte for byte: no trimming */
        assert_int_equal(get(&run, &k, &s), 0);
        assert_string_equal((char *) s->data, " 1234567-89ab\nEPHEMERAL");
        vs_secret_free(s);
        run.uuid_override = NULL;
        write_file(uuid_path, "4C4C4544-0042-3510-8052-B4C04F4E3232\n"); /* upper case hex is a UUID */
        assert_int_equal(get(&run, &k, &s), 0);
        vs_secret_free(s);
        run.product_uuid_file = "/nonexistent/product_uuid";
        assert_int_equal(get(&run, &k, &s), -ENOENT);
        assert_non_null(strstr(run.reason, "/nonexistent/product_uuid"));
        vs_key_run_done(&run);
}

/* An SMBIOS table with one system information structure (type 1) whose UUID is `u`. */
static size_t smbios_table(uint8_t *t, const uint8_t u[16]) {
        size_t o = 0;
        const uint8_t bios[] = { 0, 4, 0, 0 }; /* type 0, no fields, no strings */
        memcpy(t, bios, 4);
        o = 4;
        t[o++] = 0, t[o++] = 0;
        uint8_t sys[27] = { 1, 27, 1, 0 };
        memcpy(sys + 8, u, 16);
        memcpy(t + o, sys, 27);
        o += 27;
        t[o++] = 0, t[o++] = 0;
        const uint8_t end[] = { 127, 4, 0xff, 0xfe, 0, 0 };
        memcpy(t + o, end, sizeof(end));
        return o + sizeof(end);
}

/* go-smbios's formatting, which Talos's SystemInformation holds, all-zero and all-FF included (the kernel
 * hides those from product_uuid; volseal then reads the tables). */
static void test_smbios_uuid(void **state) {
        const uint8_t u[16] = { 0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x4e, 0x32, 0x32 };
        uint8_t t[128];
        char buf[64];
        size_t n = smbios_table(t, u);
        assert_int_equal(vs_smbios_uuid(t, n, 2, 6, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "4c4c4544-0042-3510-8052-b4c04f4e3232");
        assert_int_equal(vs_smbios_uuid(t, n, 2, 5, buf, sizeof(buf)), 0); /* before 2.6: big-endian as stored */
        assert_string_equal(buf, "44454c4c-4200-1035-8052-b4c04f4e3232");
        assert_int_equal(vs_smbios_uuid(t, n, 3, 0, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "4c4c4544-0042-3510-8052-b4c04f4e3232");
        assert_int_equal(vs_smbios_uuid(t, 6, 3, 0, buf, sizeof(buf)), 0); /* no type 1: "" */
        assert_string_equal(buf, "");

        /* The kernel hides an all-FF UUID: volseal reads /sys/firmware/dmi/tables as go-smbios does. */
        const uint8_t ff[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        char path[600];
        n = smbios_table(t, ff);
        snprintf(path, sizeof(path), "%s/DMI", dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(t, 1, n, f), n);
        fclose(f);
        snprintf(path, sizeof(path), "%s/smbios_entry_point", dir);
        const uint8_t ep[24] = { '_', 'S', 'M', '3', '_', 0, 24, 3, 2, 0 };
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(ep, 1, sizeof(ep), f), sizeof(ep));
        fclose(f);
        struct vs_key_run run = { .product_uuid_file = "/nonexistent/product_uuid", .dmi_dir = dir };
        assert_int_equal(vs_key_node_uuid(&run, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "ffffffff-ffff-ffff-ffff-ffffffffffff"); /* what the kms kind sends */
        struct vs_key_config k = { .slot = 0, .kind = VS_KEY_NODEID };
        struct vs_secret *s = NULL;
        assert_int_equal(get(&run, &k, &s), -EINVAL); /* nodeID refuses it, as Talos does */
        assert_string_equal(run.reason, "machine UUID ffffffff-ffff-ffff-ffff-ffffffffffff entropy check failed");
        vs_key_run_done(&run);
        snprintf(path, sizeof(path), "%s/DMI", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/smbios_entry_point", dir);
        unlink(path);
}

static void test_static_and_salt(void **state) {
        struct vs_secret *pass = NULL, *s = NULL;
        assert_int_equal(vs_secret_from("supersecret", 11, &pass), 0);
        struct vs_key_config k = { .slot = 0, .kind = VS_KEY_STATIC, .passphrase = pass };
        struct vs_key_run run = {};
        assert_int_equal(get(&run, &k, &s), 0);
        assert_int_equal(s->len, 11);
        vs_secret_free(s);

        k.lock_to_state = true;
        assert_int_equal(get(&run, &k, &s), -EAGAIN);            /* no --state-dir: waiting */
        assert_non_null(strstr(run.reason, "--state-dir"));
        run.state_dir = dir;
        assert_int_equal(get(&run, &k, &s), -ENOENT);            /* status never creates the salt */
        run.create_salt = true;
        assert_int_equal(get(&run, &k, &s), 0);
        assert_int_equal(s->len, 11 + VS_SALT_SIZE);
        assert_memory_equal(s->data, "supersecret", 11);
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, VS_SALT_FILE);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        vs_key_run_done(&run);

        struct vs_key_run run2 = { .state_dir = dir, .create_salt = true };  /* created once, then reused */
        struct vs_secret *s2 = NULL;
        assert_int_equal(get(&run2, &k, &s2), 0);
        assert_true(vs_secret_equal(s, s2));
        vs_secret_free(s);
        vs_secret_free(s2);
        vs_key_run_done(&run2);
        vs_secret_free(pass);
        unlink(path);
}

static void test_salt_file(void **state) {
        char path[600], text[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, VS_SALT_FILE);
        int n = snprintf(text, sizeof(text), "diskSalt: [");
        for (int i = 0; i < 32; i++)
                n += snprintf(text + n, sizeof(text) - (size_t) n, "%s%d", i ? ", " : "", i * 8);
        snprintf(text + n, sizeof(text) - (size_t) n, "]\n");
        write_file(path, text);                                   /* flow style is accepted too */
        struct vs_secret *s = NULL;
        assert_int_equal(vs_salt_load(dir, false, &s), 0);
        assert_int_equal(s->len, 32);
        assert_int_equal(s->data[31], 248);
        vs_secret_free(s);
        write_file(path, "diskSalt: [1, 2, 3]\n");
        assert_int_equal(vs_salt_load(dir, true, &s), -EINVAL);   /* never overwritten, never accepted */
        write_file(path, "diskSalt: [256, 2, 3]\n");
        assert_int_equal(vs_salt_load(dir, true, &s), -EINVAL);
        write_file(path, "other: 1\n");
        assert_int_equal(vs_salt_load(dir, true, &s), -EINVAL);
        unlink(path);
}

static void test_table(void **state) {
        const struct vs_key_ops *st = vs_key_ops_get(VS_KEY_STATIC), *nid = vs_key_ops_get(VS_KEY_NODEID);
        assert_non_null(st);
        assert_non_null(nid);
        assert_string_equal(st->name, "static");
        assert_string_equal(nid->name, "nodeID");
        assert_null(st->token_type);
        assert_false(st->minimal_pbkdf);
        assert_null(vs_key_ops_get(_VS_KEY_KIND_MAX));
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        snprintf(uuid_path, sizeof(uuid_path), "%s/product_uuid", dir);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nodeid_passphrase),
                cmocka_unit_test(test_nodeid_entropy),
                cmocka_unit_test(test_smbios_uuid),
                cmocka_unit_test(test_static_and_salt),
                cmocka_unit_test(test_salt_file),
                cmocka_unit_test(test_table),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(uuid_path);
        rmdir(dir);
        return r;
}
