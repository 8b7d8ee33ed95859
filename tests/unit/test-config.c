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
#define E "encryption:\n  provider: luks2\n"

struct bad_case {
        const char *name;
        const char *yaml;
        const char *position;  /* "t.yaml:L:C" */
        const char *fragment;
};

static const struct bad_case bad_cases[] = {
        { "syntax error", H "STATE\nencryption: [\n", "t.yaml:5:1", "YAML syntax error" },
        { "unknown system volume", H "SWAP\n", "t.yaml:3:7", "only [\"STATE\" \"EPHEMERAL\" \"IMAGECACHE\" \"ETCD\" \"CRI\" \"KUBELET\" \"LOG\"] volumes are supported" },
        { "bad user name", U "bad_name\n", "t.yaml:3:7", "invalid name \"bad_name\" (allowed: 1-34 characters" },
        { "user name too long", U "a234567890123456789012345678901234x\n", "t.yaml:3:7", "1-34 characters" },
        { "missing name", "apiVersion: v1alpha1\nkind: VolumeConfig\n", "t.yaml:1:1", "field name: name is required" },
        { "wrong apiVersion", "apiVersion: v1\nkind: VolumeConfig\nname: STATE\n", "t.yaml:1:13", "allowed: v1alpha1" },
        { "unknown top field", H "STATE\nfoo: 1\n", "t.yaml:4:1", "field foo: unknown field (allowed: apiVersion, kind, name, provisioning" },
        { "unknown encryption field", H "STATE\n" E "  keys: [{slot: 0, nodeID: {}}]\n  color: red\n", "t.yaml:7:3", "field encryption.color: unknown field" },
        { "provider", H "STATE\nencryption:\n  provider: luks1\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:13",
          "luks1 does not belong to EncryptionProviderType values (allowed: luks2" },
        { "provider missing with keys", H "STATE\nencryption:\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3",
          "unsupported encryption provider: none (allowed: luks2; Talos requires the provider when keys are given)" },
        { "provider none with keys", H "STATE\nencryption:\n  provider: none\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:13",
          "unsupported encryption provider: none" },
        { "provider empty string", H "STATE\nencryption:\n  provider: \"\"\n", "t.yaml:5:13", "does not belong to EncryptionProviderType values" },
        { "no keys", H "STATE\n" E, "t.yaml:5:3", "encryption keys are required" },
        { "empty keys", H "STATE\n" E "  keys: []\n", "t.yaml:5:3", "encryption keys are required" },
        { "slot out of range", H "STATE\n" E "  keys:\n    - slot: 32\n      nodeID: {}\n", "t.yaml:7:13", "slot 32 is out of range (allowed: 0-31" },
        { "negative slot", H "STATE\n" E "  keys:\n    - slot: -1\n      nodeID: {}\n", "t.yaml:7:13", "slot -1 is out of range" },
        { "slot not a number", H "STATE\n" E "  keys:\n    - slot: one\n      nodeID: {}\n", "t.yaml:7:13", "expected a whole number" },
        { "quoted slot", H "STATE\n" E "  keys:\n    - slot: \"1\"\n      nodeID: {}\n", "t.yaml:7:13", "expected a whole number" },
        { "duplicate slot", H "STATE\n" E "  keys:\n    - slot: 1\n      nodeID: {}\n    - slot: 1\n      static: {passphrase: x}\n",
          "t.yaml:9:7", "encryption.keys[1].slot: duplicate key slot 1" },
        { "duplicate slot 0 when slots are omitted", H "STATE\n" E "  keys:\n    - nodeID: {}\n    - static: {passphrase: x}\n",
          "t.yaml:8:7", "duplicate key slot 0" },
        { "no kind", H "STATE\n" E "  keys:\n    - slot: 0\n", "t.yaml:7:7", "at least one encryption key type must be specified for slot 0" },
        { "null nodeID is no kind", H "STATE\n" E "  keys:\n    - slot: 0\n      nodeID:\n", "t.yaml:7:7", "at least one encryption key type" },
        { "nodeID with fields", H "STATE\n" E "  keys:\n    - slot: 0\n      nodeID: {x: 1}\n", "t.yaml:8:16", "field encryption.keys[0].nodeID.x: unknown field (encryption.keys[0].nodeID takes no fields" },
        { "static without passphrase", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      static: {}\n", "t.yaml:7:7", "non-empty passphrase" },
        { "static empty passphrase", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      static: {passphrase: \"\"}\n", "t.yaml:7:7", "non-empty passphrase" },
        { "static unknown field", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      static: {passphrase: x, key: y}\n", "t.yaml:8:31", "unknown field (allowed: passphrase)" },
        { "kms without endpoint", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      kms: {}\n", "t.yaml:7:7", "endpoint \"\" cannot be used: it names no host" },
        { "kms endpoint opaque", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      kms: {endpoint: \"unix:///run/kms.sock\"}\n", "t.yaml:7:7",
          "field encryption.keys[0].kms.endpoint: endpoint \"unix:///run/kms.sock\" cannot be used: it names no host" },
        { "kms endpoint bad port", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://kms:99999\"}\n", "t.yaml:7:7",
          "endpoint \"grpc://kms:99999\" cannot be used: its port is not a number from 1 to 65535" },
        { "kms endpoint port letters", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      kms: {endpoint: \"https://kms:4a\"}\n", "t.yaml:7:7",
          "Go's URL parser refuses it: invalid port after host" },
        { "kms endpoint trailing colon", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      kms: {endpoint: \"grpc://kms:\"}\n", "t.yaml:7:7",
          "its port is empty" },
        { "pcr out of range", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm:\n        options:\n          pcrs: [7, 24]\n", "t.yaml:10:21",
          "TPM PCR 24 is out of range (0-23)" },
        { "pcrs not a list", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {options: {pcrs: 7}}\n", "t.yaml:8:29", "expected a list" },
        { "tpm unknown option", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {options: {bank: sha1}}\n", "t.yaml:8:23", "unknown field (allowed: pcrs)" },
        { "tpm bad bool", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {checkSecurebootStatusOnEnroll: maybe}\n", "t.yaml:8:44", "expected a boolean" },
        { "tpm quoted true", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {checkSecurebootStatusOnEnroll: \"true\"}\n", "t.yaml:8:44", "expected a boolean" },
        { "lockToState on STATE", H "STATE\n" E "  keys:\n    - slot: 0\n      nodeID: {}\n      lockToState: true\n", "t.yaml:7:7",
          "state-locked key is not allowed for the \"STATE\" volume" },
        { "unknown key field", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      nodeID: {}\n      lockToStat: true\n", "t.yaml:9:7",
          "unknown field (allowed: slot, static, nodeID, kms, tpm, lockToState, lockToSTATE, recovery)" },
        { "unknown cipher", H "EPHEMERAL\n" E "  cipher: aes-cbc-essiv\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "unknown cipher \"aes-cbc-essiv\"" },
        { "short adiantum cipher", H "EPHEMERAL\n" E "  cipher: xchacha12\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3",
          "unknown cipher \"xchacha12\" (allowed: aes-xts-plain64, xchacha12,aes-adiantum-plain64, xchacha20,aes-adiantum-plain64; Talos does not know the short form" },
        { "key size for adiantum", H "EPHEMERAL\n" E "  cipher: xchacha20,aes-adiantum-plain64\n  keySize: 512\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3",
          "key size 512 does not fit cipher xchacha20,aes-adiantum-plain64 (allowed: 256)" },
        { "block size", H "EPHEMERAL\n" E "  blockSize: 3000\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:5:3", "allowed: 512, 1024, 2048, 4096" },
        { "unknown perf option", H "EPHEMERAL\n" E "  options: [no_read_workqueue, fast]\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:6:32",
          "invalid perf option \"fast\"" },
        { "allowDiscards not bool", H "EPHEMERAL\n" E "  allowDiscards: 1\n  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:6:18", "expected a boolean" },
        { "duplicate mapping key", H "EPHEMERAL\n" E "  keys: [{slot: 0, nodeID: {}}]\n  keys: [{slot: 1, nodeID: {}}]\n", "t.yaml:7:3", "\"keys\" is given twice" },
        { "volume twice", H "STATE\n---\n" H "STATE\n", "t.yaml:7:7", "volume STATE is configured twice" },
        { "keys not a list", H "STATE\n" E "  keys: {slot: 0}\n", "t.yaml:6:9", "expected a list" },
        { "document not a mapping", "- a\n- b\n", "t.yaml:1:1", "a config document must be a mapping" },
        { "other kinds skipped", "apiVersion: v1alpha1\nkind: HostnameConfig\nfoo: [1\n  , 2]\n", NULL, NULL },
        { "error in second document", H "STATE\n---\n" U "data\n" E "  keys: [{slot: 40, nodeID: {}}]\n", "t.yaml:10:17", "slot 40 is out of range" },
        { "directory volume with encryption", U "d\nvolumeType: directory\n" E "  keys: [{slot: 0, nodeID: {}}]\n", "t.yaml:6:3",
          "encryption spec is invalid for volumeType directory" },
        { "unsupported volume type", U "d\nvolumeType: tmpfs\n", "t.yaml:4:13", "unsupported volume type \"tmpfs\" (allowed: partition, disk, directory)" },
        { "STATE provisioning", H "STATE\nprovisioning: {minSize: 1GiB}\n", "t.yaml:4:15", "provisioning config is not allowed for the \"STATE\" volume" },
        { "min size over max size", H "EPHEMERAL\nprovisioning: {minSize: 2TiB, maxSize: 10GiB}\n", "t.yaml:4:25", "min size is greater than max size" },
        { "bad size", H "EPHEMERAL\nprovisioning: {minSize: lots}\n", "t.yaml:4:25", "\"lots\" is not a size" },
        { "scrub interval", H "EPHEMERAL\nscrub: {interval: 5s}\n", "t.yaml:4:19", "scrub interval: minimum value is 10s" },
        { "v1alpha1 and VolumeConfig both", "machine:\n  systemDiskEncryption:\n    state:\n      keys: [{nodeID: {}}]\n---\n" H "STATE\n" E "  keys: [{slot: 0, nodeID: {}}]\n",
          "t.yaml:4", "system disk encryption for \"STATE\" is configured in both v1alpha1.Config and VolumeConfig" },
        { "v1alpha1 no keys", "machine:\n  systemDiskEncryption:\n    ephemeral:\n      provider: luks2\n", "t.yaml:4:7", "no encryption keys provided" },
        { "v1alpha1 tpm options", "machine:\n  systemDiskEncryption:\n    state:\n      keys: [{slot: 0, tpm: {options: {pcrs: []}}}]\n", "t.yaml:4:30",
          "unknown field (allowed: checkSecurebootStatusOnEnroll, updatable)" },
        { "recovery locked to STATE", H "EPHEMERAL\n" E "  keys:\n    - slot: 1\n      recovery: {}\n      lockToState: true\n", "t.yaml:7:7",
          "a recovery key is typed by a human as it was written out: it cannot be locked to STATE" },
        { "recovery with fields", H "EPHEMERAL\n" E "  keys:\n    - slot: 1\n      recovery: {words: 8}\n", "t.yaml:8:18",
          "unknown field (encryption.keys[0].recovery takes no fields" },
        { "updatable with PCR 11", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {updatable: true, options: {pcrs: [7, 11]}}\n", "t.yaml:7:7",
          "an updatable tpm key binds PCR 11 through the signed policy only" },
        { "updatable with 5 PCRs", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {updatable: true, options: {pcrs: [0, 1, 2, 3, 7]}}\n", "t.yaml:7:7",
          "an updatable tpm key binds at most 4 literal PCRs" },
        { "updatable not a bool", H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {updatable: sometimes}\n", "t.yaml:8:24", "expected a boolean" },
        { "updatable PCRs differ", H "STATE\n" E "  keys:\n    - slot: 0\n      tpm: {updatable: true}\n---\n" H "EPHEMERAL\n" E
          "  keys:\n    - slot: 0\n      tpm: {updatable: true, options: {pcrs: [7, 14]}}\n", "volume EPHEMERAL: slot 0",
          "the updatable slots of a node share one NV index and one set of literal PCRs" },
        { "v1alpha1 lockToState", "machine:\n  systemDiskEncryption:\n    ephemeral:\n      keys: [{slot: 0, nodeID: {}, lockToState: true}]\n", "t.yaml:4:36",
          "unknown field (allowed: static, nodeID, kms, slot, tpm, recovery)" },
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

/* The examples of Talos's disk encryption guide (examples/seed.yaml) with the provider Talos requires. */
static const char seed_examples[] =
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: UserVolumeConfig\nname: my-user-volume\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n";

static const char seed_examples2[] =
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {} # key kind\n      slot: 1\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n    - static:\n        passphrase: supersecret\n      slot: 0\n      lockToSTATE: true\n";

static struct vs_config load_flags(const char *yaml, unsigned flags, int want) {
        struct vs_config cfg = {};
        logbuf[0] = 0;
        int r = vs_config_load_string_flags(&cfg, "t.yaml", yaml, strlen(yaml), flags);
        if (r != want)
                print_error("r=%d, log:\n%s", r, logbuf);
        assert_int_equal(r, want);
        return cfg;
}

static struct vs_config load_ok(const char *yaml) {
        return load_flags(yaml, 0, 0);
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
                assert_string_equal(cfg.volumes[i].enc.cipher, VS_CIPHER_XTS);
                assert_int_equal(cfg.volumes[i].enc.key_size, 512);
                assert_int_equal(cfg.volumes[i].enc.n_keys, 1);
                assert_int_equal(cfg.volumes[i].enc.keys[0].kind, VS_KEY_NODEID);
        }
        vs_config_free(&cfg);

        cfg = load_ok(seed_examples2);
        assert_int_equal(cfg.n_volumes, 2);
        assert_int_equal(cfg.volumes[0].enc.keys[0].slot, 1);
        const struct vs_key_config *k = &cfg.volumes[1].enc.keys[0];
        assert_int_equal(k->kind, VS_KEY_STATIC);
        assert_true(k->lock_to_state); /* the seed's lockToSTATE spelling, a volseal extension */
        assert_int_equal(k->passphrase->len, strlen("supersecret"));
        assert_memory_equal(k->passphrase->data, "supersecret", k->passphrase->len);
        vs_config_free(&cfg);

        /* --talos names the extensions: lockToSTATE, and a user volume without provisioning. */
        cfg = load_flags(seed_examples2, VS_CONFIG_TALOS, -EINVAL);
        assert_non_null(strstr(logbuf, "t.yaml:19:7: document VolumeConfig EPHEMERAL: field encryption.keys[0].lockToSTATE: volseal's spelling of lockToState"));
        cfg = load_flags(seed_examples, VS_CONFIG_TALOS, -EINVAL);
        assert_non_null(strstr(logbuf, "document UserVolumeConfig my-user-volume: field provisioning.diskSelector: disk selector is required"));
        assert_non_null(strstr(logbuf, "field provisioning: min size or max size is required"));
}

static void test_tpm_pcrs(void **state) {
        struct vs_config cfg = load_ok(
                U "a\n" E "  keys:\n    - {slot: 0, tpm: {}}\n    - {slot: 1, tpm: {options: {}}}\n"
                "    - {slot: 2, tpm: {options: {pcrs: []}}}\n    - {slot: 3, tpm: {options: {pcrs: [11, 7, 0, 7]}, checkSecurebootStatusOnEnroll: true}}\n"
                "    - {slot: 4, tpm: {options: }}\n    - {slot: 5, tpm: {options: {pcrs: }}}\n    - {slot: 6, tpm: {checkSecurebootStatusOnEnroll: yes}}\n");
        const struct vs_encryption_config *e = &cfg.volumes[0].enc;
        assert_int_equal(e->keys[0].tpm_pcrs, 1u << 7);
        assert_int_equal(e->keys[1].tpm_pcrs, 0);
        assert_int_equal(e->keys[2].tpm_pcrs, 0);
        assert_int_equal(e->keys[3].tpm_pcrs, (1u << 0) | (1u << 7) | (1u << 11));
        assert_int_equal(e->keys[4].tpm_pcrs, 1u << 7); /* options: null = not set = PCR 7 */
        assert_int_equal(e->keys[5].tpm_pcrs, 0);       /* pcrs: null = none */
        assert_true(e->keys[3].tpm_check_secureboot);
        assert_false(e->keys[0].tpm_check_secureboot);
        assert_true(e->keys[6].tpm_check_secureboot);   /* yaml's YAML 1.1 yes */
        assert_non_null(strstr(logbuf, "PCRs are bound in ascending order without duplicates"));
        vs_config_free(&cfg);
}

static void test_updatable_and_recovery(void **state) {
        /* volseal's extensions: read (updatable PCRs as for tpm keys), named by --talos at their position */
        static const char yaml[] = H "STATE\n" E "  keys:\n    - slot: 0\n      tpm: {updatable: true}\n    - slot: 1\n      recovery: {}\n"
                "---\n" U "data\nprovisioning: {diskSelector: {match: 'true'}, minSize: 1GiB}\n" E "  keys:\n    - slot: 0\n"
                "      tpm: {updatable: yes, checkSecurebootStatusOnEnroll: true}\n";
        struct vs_config cfg = load_ok(yaml);
        const struct vs_key_config *k = cfg.volumes[0].enc.keys;
        assert_int_equal(k[0].kind, VS_KEY_TPM);
        assert_true(k[0].tpm_updatable);
        assert_int_equal(k[0].tpm_pcrs, 1u << 7);
        assert_string_equal(vs_key_config_name(&k[0]), "tpm-updatable");
        assert_int_equal(k[1].kind, VS_KEY_RECOVERY);
        assert_string_equal(vs_key_kind_name(k[1].kind), "recovery");
        assert_true(cfg.volumes[1].enc.keys[0].tpm_updatable);
        uint32_t pcrs = 0;
        assert_true(vs_config_has_updatable(&cfg, &pcrs));
        assert_int_equal(pcrs, 1u << 7);
        /* the Go value (META tag 9) keeps them in members Talos's decoder ignores */
        const char *tag9 = json_object_to_json_string_ext(cfg.volumes[0].enc.talos_value, JSON_C_TO_STRING_PLAIN);
        assert_non_null(strstr(tag9, "\"TPMUpdatable\":true"));
        assert_non_null(strstr(tag9, "\"KeyRecovery\":{}"));
        struct json_object *show = vs_volume_config_to_json(&cfg.volumes[0]);
        assert_non_null(strstr(json_object_to_json_string(show), "\"updatable\": true"));
        json_object_put(show);
        vs_config_free(&cfg);
        cfg = load_flags(yaml, VS_CONFIG_TALOS, -EINVAL);
        assert_non_null(strstr(logbuf, "t.yaml:8:13: document VolumeConfig STATE: field encryption.keys[0].tpm.updatable: volseal's updatable tpm slot"));
        assert_non_null(strstr(logbuf, "t.yaml:10:7: document VolumeConfig STATE: field encryption.keys[1].recovery: volseal's recovery key"));
        assert_non_null(strstr(logbuf, "t.yaml:20:13: document UserVolumeConfig data: field encryption.keys[0].tpm.updatable"));
}

static void test_several_kinds_resolved(void **state) {
        struct vs_config cfg = load_ok(H "EPHEMERAL\n" E "  keys:\n    - slot: 0\n      tpm: {}\n      nodeID: {}\n      kms: {endpoint: \"kms:4050\"}\n");
        assert_int_equal(cfg.volumes[0].enc.keys[0].kind, VS_KEY_NODEID);
        assert_non_null(strstr(logbuf, "names several kinds; using nodeID"));
        vs_config_free(&cfg);
}

static void test_talos_machine_config(void **state) {
        /* A Talos config: the v1alpha1 document's systemDiskEncryption is read, other documents are skipped,
         * the other fields of our documents are checked as Talos checks them. */
        struct vs_config cfg = load_ok(
                "version: v1alpha1\nmachine:\n  type: controlplane\n  install: {disk: /dev/sda}\n  systemDiskEncryption:\n"
                "    ephemeral:\n      keys:\n        - slot: 0\n          nodeID: {}\ncluster: {}\n"
                "---\napiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n"
                "---\n" U "ceph-data\nprovisioning:\n  diskSelector:\n    match: disk.transport == \"nvme\"\n  maxSize: 50GiB\n"
                "filesystem:\n  type: xfs\ntrim: {enabled: on, interval: 168h}\nscrub: {interval: 0}\n"
                "encryption:\n  provider: LUKS2\n  keys:\n    - slot: 0\n      tpm: {}\n    - slot: 1\n      kms:\n        endpoint: https://kms.example:4443/v1?x=1\n"
                "  cipher: xchacha12,aes-adiantum-plain64\n  blockSize: 4_096\n  options: [no_read_workqueue, same_cpu_crypt]\n  allowDiscards: true\n"
                "---\n" H "EPHEMERAL\nprovisioning: {minSize: 10GiB}\nmount: {secure: false}\n"
                "---\napiVersion: v1alpha1\nkind: RawVolumeConfig\nname: raw1\nprovisioning: {diskSelector: {match: 'true'}, maxSize: 80%}\n" E "  keys: [{static: {passphrase: p}}]\n"
                "---\napiVersion: v1alpha1\nkind: SwapVolumeConfig\nname: sw\nprovisioning: {diskSelector: {match: 'true'}, minSize: 1GiB}\nencryption: {}\n");
        assert_int_equal(cfg.n_volumes, 4);
        assert_string_equal(cfg.volumes[0].id, "EPHEMERAL");
        assert_true(cfg.volumes[0].encrypted);
        assert_true(cfg.volumes[0].from_v1alpha1);
        assert_string_equal(cfg.volumes[0].enc.provider, "luks2");
        const struct vs_encryption_config *e = &cfg.volumes[1].enc;
        assert_string_equal(cfg.volumes[1].id, "u-ceph-data");
        assert_string_equal(e->cipher, VS_CIPHER_XCHACHA12);
        assert_int_equal(e->key_size, 256);
        assert_int_equal(e->block_size, 4096);
        assert_int_equal(e->perf_flags, VS_PERF_NO_READ_WORKQUEUE | VS_PERF_SAME_CPU_CRYPT);
        assert_true(e->allow_discards);
        assert_string_equal(e->keys[1].kms_endpoint, "https://kms.example:4443/v1?x=1");
        assert_string_equal(cfg.volumes[2].id, "r-raw1");
        assert_int_equal(cfg.volumes[2].kind, VS_VOLUME_RAW);
        assert_true(cfg.volumes[2].encrypted);
        assert_string_equal(cfg.volumes[3].id, "s-sw");
        assert_false(cfg.volumes[3].encrypted); /* encryption: {} is none */
        vs_config_free(&cfg);
}

static void test_order_and_sorting(void **state) {
        struct vs_config cfg = load_ok(U "b\n---\n" H "EPHEMERAL\n---\n" U "a\n---\n" H "LOG\n---\n"
                                       "apiVersion: v1alpha1\nkind: SwapVolumeConfig\nname: s\n---\n"
                                       H "STATE\n" E "  keys:\n    - {slot: 5, nodeID: {}}\n    - {slot: 2, static: {passphrase: p}}\n");
        const char *want[] = { "STATE", "EPHEMERAL", "LOG", "u-b", "u-a", "s-s" };
        assert_int_equal(cfg.n_volumes, 6);
        for (size_t i = 0; i < 6; i++)
                assert_string_equal(cfg.volumes[i].id, want[i]);
        assert_int_equal(cfg.volumes[2].type, VS_VOLUME_DIRECTORY); /* LOG without provisioning: a directory */
        assert_int_equal(cfg.volumes[0].enc.keys[0].slot, 2);
        assert_int_equal(cfg.volumes[0].enc.keys[1].slot, 5);
        assert_int_equal(cfg.volumes[0].enc.keys[1].kind, VS_KEY_NODEID);
        vs_config_free(&cfg);
}

static void test_show_redacts(void **state) {
        struct vs_config cfg = load_ok(H "EPHEMERAL\n" E "  keys:\n    - {slot: 0, static: {passphrase: hunter2}}\n");
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
        struct vs_encryption_config enc = { .provider = (char *) "luks2", .keys = keys, .n_keys = 2, .cipher = (char *) VS_CIPHER_XTS };
        logbuf[0] = 0;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), -EINVAL);
        assert_non_null(strstr(logbuf, "META tag 9: keys[1].slot: duplicate key slot 3"));
        assert_non_null(strstr(logbuf, "state-locked key is not allowed for the \"STATE\" volume"));
        keys[1].slot = 4;
        keys[1].lock_to_state = false;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), 0);
        /* META's kms endpoints go through the KMS client's parser too. */
        keys[1] = (struct vs_key_config) { .slot = 4, .kind = VS_KEY_KMS, .kms_endpoint = (char *) "https://[::1" };
        logbuf[0] = 0;
        assert_int_equal(vs_encryption_validate(&enc, "STATE", "META tag 9"), -EINVAL);
        assert_non_null(strstr(logbuf, "META tag 9: keys[1].kms.endpoint: endpoint \"https://[::1\" cannot be used: Go's URL parser refuses it: missing ']' in host"));
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
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_updatable_and_recovery);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_talos_machine_config);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_order_and_sorting);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_show_redacts);
        tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_validate_struct);
        return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
