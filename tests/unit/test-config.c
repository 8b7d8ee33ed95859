/* test-config.c: the config parser on a table of good and bad documents. Every bad case asserts the
 * exact FILE:LINE:COL position and a fragment of the message; every good case asserts the normalized
 * result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"

static char logbuf[8192];

static void capture(enum vs_log_level level, const char *msg, void *ud) {
        (void) ud;
        size_t n = strlen(logbuf);
        snprintf(logbuf + n, sizeof(logbuf) - n, "%d|%s\n", (int) level, msg);
}

#define H "apiVersion: v1alpha1\nkind: VolumeConfig\nname: "
#define U "apiVersion: v1alpha1\nkind: UserVolumeConfig\nname: "

struct bad_case {
        const char *name;
        const char *yaml;
        const char *position;  /* "t.yaml:L:C" */
        const char *fragment;
};

static const struct bad_case bad_cases[] = {
        { "syntax error", H "STATE\nencryption: [\n", "t.yaml:5:1", "YAML syntax error" },
        { "unknown system volume", H "SWAP\n", "t.yaml:3:7", "unknown system volume \"SWAP\"" },
        { "bad user name", U "bad_name\n", "t.yaml:3:7", "invalid user volume name" },
        { "user name too long", U "a234567890123456789012345678901234x\n", "t.yaml:3:7", "1-34 characters" },
        { "missing name", "apiVersion: v1alpha1\nkind: VolumeConfig\n", "t.yaml:1:1", "field name: a volume name is required" },
        { "wrong apiVersion", "apiVersion: v1\nkind: VolumeConfig\nname: STATE\n", "t.yaml:1:13", "allowed: v1alpha1" },
        { "unknown top field", H "STATE\nfoo: 1\n", "t.yaml:4:1", "field foo: unknown field" },
        { "unknown encryption field", H "STATE\nencryption:\n  keys: [{slot: 0, nodeID: {}}]\n  color: red\n", "t.yaml:6:3", "field encryption.color: unknown field" },
        { "provider", H "STATE\nencryption:\n  provider: luks1\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "unsupported provider \"luks1\" (allowed: luks2)" },
        { "no keys", H "STATE\nencryption:\n  provider: luks2\n", "t.yaml:5:3", "at least one key" },
        { "empty keys", H "STATE\nencryption:\n  keys: []\n", "t.yaml:5:3", "at least one key" },
        { "slot out of range", H "STATE\nencryption:\n  keys:\n    - slot: 32\n      nodeID: {}\n", "t.yaml:6:13", "expected a whole number from 0 to 31" },
        { "negative slot", H "STATE\nencryption:\n  keys:\n    - slot: -1\n      nodeID: {}\n", "t.yaml:6:13", "from 0 to 31" },
        { "duplicate slot", H "STATE\nencryption:\n  keys:\n    - slot: 1\n      nodeID: {}\n    - slot: 1\n      static: {passphrase: x}\n",
          "t.yaml:8:7", "encryption.keys[1].slot: slot 1 is used by more than one key" },
        { "missing slot", H "STATE\nencryption:\n  keys:\n    - nodeID: {}\n", "t.yaml:6:7", "every key needs a slot" },
        { "no kind", H "STATE\nencryption:\n  keys:\n    - slot: 0\n", "t.yaml:6:7", "a key needs one kind" },
        { "null nodeID", H "STATE\nencryption:\n  keys:\n    - slot: 0\n      nodeID:\n", "t.yaml:7:1", "expected a mapping ({} for an empty one)" },
        { "nodeID with fields", H "STATE\nencryption:\n  keys:\n    - slot: 0\n      nodeID: {x: 1}\n", "t.yaml:7:15", "nodeID takes no fields" },
        { "static without passphrase", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      static: {}\n", "t.yaml:6:7", "non-empty passphrase" },
        { "static empty passphrase", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      static: {passphrase: \"\"}\n", "t.yaml:6:7", "non-empty passphrase" },
        { "static unknown field", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      static: {passphrase: x, key: y}\n", "t.yaml:7:31", "unknown field (allowed: passphrase)" },
        { "kms without endpoint", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {}\n", "t.yaml:6:7", "a kms key needs an endpoint" },
        { "kms endpoint http scheme", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"http://kms:80\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"http://kms:80\" cannot be used: its scheme is not supported" },
        { "kms endpoint unix scheme", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"unix:///run/kms.sock\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"unix:///run/kms.sock\" cannot be used: its scheme is not supported" },
        { "kms endpoint path", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"https://kms.example/v1\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"https://kms.example/v1\" cannot be used: it has a path, query or fragment" },
        { "kms endpoint query", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://kms:4050?x=1\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"grpc://kms:4050?x=1\" cannot be used: it has a path, query or fragment" },
        { "kms endpoint user info", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"https://user@kms.example\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"https://user@kms.example\" cannot be used: it has user info" },
        { "kms endpoint plaintext without port", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"kms.example\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"kms.example\" cannot be used: it needs a port for plaintext gRPC" },
        { "kms endpoint grpc without port", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://kms.example\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"grpc://kms.example\" cannot be used: it needs a port for plaintext gRPC" },
        { "kms endpoint ipv6 without port", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"[::1]\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"[::1]\" cannot be used: it needs a port for plaintext gRPC" },
        { "kms endpoint bad port", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://kms:99999\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"grpc://kms:99999\" cannot be used: its port is not a number from 1 to 65535" },
        { "kms endpoint no host", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://:4050\"}\n", "t.yaml:6:7", "field encryption.keys[0].kms.endpoint: endpoint \"grpc://:4050\" cannot be used: it names no host" },
        { "pcr out of range", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      tpm:\n        options:\n          pcrs: [7, 24]\n", "t.yaml:9:21", "from 0 to 23" },
        { "pcrs not a list", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      tpm: {options: {pcrs: 7}}\n", "t.yaml:7:29", "expected a list of PCR numbers" },
        { "tpm unknown option", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      tpm: {options: {bank: sha1}}\n", "t.yaml:7:23", "unknown field (allowed: pcrs)" },
        { "tpm bad bool", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      tpm: {checkSecurebootStatusOnEnroll: maybe}\n", "t.yaml:7:44", "expected true or false" },
        { "lockToState on STATE", H "STATE\nencryption:\n  keys:\n    - slot: 0\n      nodeID: {}\n      lockToState: true\n", "t.yaml:6:7", "STATE cannot be locked to itself" },
        { "unknown key field", H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      nodeID: {}\n      lockToStat: true\n", "t.yaml:8:7", "unknown field (allowed: slot, static, nodeID, kms, tpm, lockToState)" },
        { "unknown cipher", H "EPHEMERAL\nencryption:\n  cipher: aes-cbc-essiv\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "unknown cipher \"aes-cbc-essiv\"" },
        { "key size for adiantum", H "EPHEMERAL\nencryption:\n  cipher: xchacha20\n  keySize: 512\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "key size 512 does not fit cipher xchacha20 (allowed: 256)" },
        { "block size", H "EPHEMERAL\nencryption:\n  blockSize: 3000\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "allowed: 512, 1024, 2048, 4096" },
        { "unknown perf option", H "EPHEMERAL\nencryption:\n  options: [no_read_workqueue, fast]\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:32", "unknown option \"fast\"" },
        { "allowDiscards not bool", H "EPHEMERAL\nencryption:\n  allowDiscards: 1\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:18", "expected true or false" },
        { "duplicate mapping key", H "EPHEMERAL\nencryption:\n  keys: [{slot: 0, nodeID: {}}]\n  keys: [{slot: 1, nodeID: {}}]\n", "t.yaml:6:3", "\"keys\" is given twice" },
        { "volume twice", H "STATE\n---\n" H "STATE\n", "t.yaml:7:7", "volume STATE is configured twice" },
        { "keys not a list", H "STATE\nencryption:\n  keys: {slot: 0}\n", "t.yaml:5:9", "expected a list of keys" },
        { "document not a mapping", "- a\n- b\n", "t.yaml:1:1", "a config document must be a mapping" },
        { "other kinds skipped", "apiVersion: v1alpha1\nkind: HostnameConfig\nfoo: [1\n  , 2]\n", NULL, NULL },
        { "error in second document", H "STATE\n---\n" U "data\nencryption:\n  keys: [{slot: 40, nodeID: {}}]\n", "t.yaml:9:17", "from 0 to 31" },
};

static void test_bad(void **state) {
        const struct bad_case *c = *state;
        struct vs_config cfg = {};
        logbuf[0] = 0;
        int r = vs_config_load_string(&cfg, "t.yaml", c->yaml, strlen(c->yaml));
        if (!c->position) {
                assert_int_equal(r, 0);
                assert_int_equal(cfg.n_volumes, 0);
                vs_config_free(&cfg);
                return;
        }
        if (r != -EINVAL || !strstr(logbuf, c->position) || !strstr(logbuf, c->fragment))
                print_error("case '%s': r=%d, log:\n%s", c->name, r, logbuf);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(logbuf, c->position));
        assert_non_null(strstr(logbuf, c->fragment));
        assert_int_equal(cfg.n_volumes, 0);
        assert_null(cfg.volumes);
}

/* The seed document's examples, verbatim in shape: every one must validate. */
static const char seed_examples[] =
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: UserVolumeConfig\nname: my-user-volume\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n";

static const char seed_examples2[] =
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  keys:\n    - nodeID: {} # key kind\n      slot: 1\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  keys:\n    - static:\n        passphrase: supersecret\n      slot: 0\n      lockToSTATE: true\n";

static const char seed_rotation[] =
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  keys:\n    - static:\n        passphrase: oldkey\n      slot: 0\n"
        "    - static:\n        passphrase: newkey\n      slot: 1\n";

static struct vs_config load_ok(const char *yaml) {
        struct vs_config cfg = {};
        logbuf[0] = 0;
        int r = vs_config_load_string(&cfg, "t.yaml", yaml, strlen(yaml));
        if (r != 0)
                print_error("log:\n%s", logbuf);
        assert_int_equal(r, 0);
        return cfg;
}

static void test_seed_examples(void **state) {
        struct vs_config cfg = load_ok(seed_examples);
        assert_int_equal(cfg.n_volumes, 3);
        assert_string_equal(cfg.volumes[0].id, "STATE");
        assert_string_equal(cfg.volumes[1].id, "EPHEMERAL");
        assert_string_equal(cfg.volumes[2].id, "u-my-user-volume");
        assert_string_equal(cfg.volumes[2].name, "my-user-volume");
        for (size_t i = 0; i < 3; i++) {
                assert_true(cfg.volumes[i].encrypted);
                assert_string_equal(cfg.volumes[i].enc.provider, "luks2");
                assert_string_equal(cfg.volumes[i].enc.cipher, "aes-xts-plain64");
                assert_int_equal(cfg.volumes[i].enc.key_size, 512);
                assert_int_equal(cfg.volumes[i].enc.n_keys, 1);
                assert_int_equal(cfg.volumes[i].enc.keys[0].kind, VS_KEY_NODEID);
        }
        vs_config_free(&cfg);

        cfg = load_ok(seed_examples2);
        assert_int_equal(cfg.n_volumes, 2);
        assert_string_equal(cfg.volumes[0].enc.provider, "luks2"); /* omitted -> luks2 */
        assert_int_equal(cfg.volumes[0].enc.keys[0].slot, 1);
        const struct vs_key_config *k = &cfg.volumes[1].enc.keys[0];
        assert_int_equal(k->kind, VS_KEY_STATIC);
        assert_true(k->lock_to_state); /* the seed's lockToSTATE spelling */
        assert_int_equal(k->passphrase->len, strlen("supersecret"));
        assert_memory_equal(k->passphrase->data, "supersecret", k->passphrase->len);
        vs_config_free(&cfg);

        cfg = load_ok(seed_rotation);
        assert_int_equal(cfg.volumes[0].enc.n_keys, 2);
        vs_config_free(&cfg);
}

static void test_tpm_pcrs(void **state) {
        struct vs_config cfg = load_ok(
                U "a\nencryption:\n  keys:\n    - {slot: 0, tpm: {}}\n    - {slot: 1, tpm: {options: {}}}\n"
                "    - {slot: 2, tpm: {options: {pcrs: []}}}\n    - {slot: 3, tpm: {options: {pcrs: [11, 7, 0, 7]}, checkSecurebootStatusOnEnroll: true}}\n");
        const struct vs_encryption_config *e = &cfg.volumes[0].enc;
        assert_int_equal(e->keys[0].tpm_pcrs, 1u << 7);
        assert_int_equal(e->keys[1].tpm_pcrs, 0);
        assert_int_equal(e->keys[2].tpm_pcrs, 0);
        assert_int_equal(e->keys[3].tpm_pcrs, (1u << 0) | (1u << 7) | (1u << 11));
        assert_true(e->keys[3].tpm_check_secureboot);
        assert_false(e->keys[0].tpm_check_secureboot);
        assert_non_null(strstr(logbuf, "was not sorted and had duplicates"));
        vs_config_free(&cfg);
}

static void test_several_kinds_resolved(void **state) {
        struct vs_config cfg = load_ok(H "EPHEMERAL\nencryption:\n  keys:\n    - slot: 0\n      tpm: {}\n      nodeID: {}\n      kms: {endpoint: \"kms:4050\"}\n");
        assert_int_equal(cfg.volumes[0].enc.keys[0].kind, VS_KEY_NODEID);
        assert_non_null(strstr(logbuf, "names several kinds; using nodeID"));
        vs_config_free(&cfg);
}

static void test_talos_machine_config(void **state) {
        /* A Talos config: the v1alpha1 machine config and other documents are skipped, Talos fields of
         * our documents that volseal does not use are accepted. */
        struct vs_config cfg = load_ok(
                "version: v1alpha1\nmachine:\n  type: controlplane\n  install: {disk: /dev/sda}\ncluster: {}\n"
                "---\napiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n"
                "---\n" U "ceph-data\nprovisioning:\n  diskSelector:\n    match: disk.transport == \"nvme\"\n  maxSize: 50GiB\n"
                "filesystem:\n  type: xfs\nencryption:\n  provider: luks2\n  keys:\n    - slot: 0\n      tpm: {}\n    - slot: 1\n      kms:\n        endpoint: https://kms.example:4443\n"
                "  cipher: xchacha12,aes-adiantum-plain64\n  blockSize: 4096\n  options: [no_read_workqueue, same_cpu_crypt]\n  allowDiscards: true\n"
                "---\n" H "EPHEMERAL\nprovisioning: {minSize: 10GiB}\n");
        assert_int_equal(cfg.n_volumes, 2);
        assert_string_equal(cfg.volumes[0].id, "EPHEMERAL");
        assert_false(cfg.volumes[0].encrypted);
        const struct vs_encryption_config *e = &cfg.volumes[1].enc;
        assert_string_equal(cfg.volumes[1].id, "u-ceph-data");
        assert_string_equal(e->cipher, "xchacha12");
        assert_int_equal(e->key_size, 256);
        assert_int_equal(e->block_size, 4096);
        assert_int_equal(e->perf_flags, VS_PERF_NO_READ_WORKQUEUE | VS_PERF_SAME_CPU_CRYPT);
        assert_true(e->allow_discards);
        assert_string_equal(e->keys[1].kms_endpoint, "https://kms.example:4443");
        vs_config_free(&cfg);
}

static void test_order_and_sorting(void **state) {
        struct vs_config cfg = load_ok(U "b\n---\n" H "EPHEMERAL\n---\n" U "a\n---\n" H "LOG\n---\n" H "STATE\nencryption:\n  keys:\n    - {slot: 5, nodeID: {}}\n    - {slot: 2, static: {passphrase: p}}\n");
        const char *want[] = { "STATE", "EPHEMERAL", "LOG", "u-b", "u-a" };
        assert_int_equal(cfg.n_volumes, 5);
        for (size_t i = 0; i < 5; i++)
                assert_string_equal(cfg.volumes[i].id, want[i]);
        assert_int_equal(cfg.volumes[0].enc.keys[0].slot, 2);
        assert_int_equal(cfg.volumes[0].enc.keys[1].slot, 5);
        assert_int_equal(cfg.volumes[0].enc.keys[1].kind, VS_KEY_NODEID);
        vs_config_free(&cfg);
}

static void test_show_redacts(void **state) {
        struct vs_config cfg = load_ok(H "EPHEMERAL\nencryption:\n  keys:\n    - {slot: 0, static: {passphrase: hunter2}}\n");
        struct json_object *o = vs_volume_config_to_json(&cfg.volumes[0]);
        const char *s = json_object_to_json_string(o);
        assert_null(strstr(s, "hunter2"));
        assert_non_null(strstr(s, "<redacted>"));
        json_object_put(o);
        vs_config_free(&cfg);
}

static void test_validate_struct(void **state) {
        /* The rules used for META's tag 9 config are the YAML rules. */
        struct vs_key_config keys[2] = { { .slot = 3, .kind = VS_KEY_NODEID }, { .slot = 3, .kind = VS_KEY_NODEID, .lock_to_state = true } };
        struct vs_encryption_config enc = { .provider = (char *) "luks2", .keys = keys, .n_keys = 2, .cipher = (char *) "aes-xts-plain64" };
        logbuf[0] = 0;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), -EINVAL);
        assert_non_null(strstr(logbuf, "META tag 9: keys[1].slot: slot 3 is used by more than one key"));
        assert_non_null(strstr(logbuf, "STATE cannot be locked to itself"));
        keys[1].slot = 4;
        keys[1].lock_to_state = false;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), 0);
        /* META's kms endpoints go through the KMS client's parser too. */
        keys[1] = (struct vs_key_config) { .slot = 4, .kind = VS_KEY_KMS, .kms_endpoint = (char *) "https://kms/x" };
        logbuf[0] = 0;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), -EINVAL);
        assert_non_null(strstr(logbuf, "META tag 9: keys[1].kms.endpoint: endpoint \"https://kms/x\" cannot be used: it has a path"));
        keys[1].kms_endpoint = (char *) "grpc://127.0.0.1:4050";
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), 0);
}

int main(void) {
        vs_log_set_sink(capture, NULL);
        struct CMUnitTest tests[(sizeof(bad_cases) / sizeof(bad_cases[0])) + 16];
        size_t n = 0;
        for (size_t i = 0; i < (sizeof(bad_cases) / sizeof(bad_cases[0])); i++)
                tests[n++] = (struct CMUnitTest) { bad_cases[i].name, test_bad, NULL, NULL, (void *) &bad_cases[i] };
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_seed_examples);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_tpm_pcrs);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_several_kinds_resolved);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_talos_machine_config);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_order_and_sorting);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_show_redacts);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_validate_struct);
        return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
