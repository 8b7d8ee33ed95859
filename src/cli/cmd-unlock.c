/* cmd-unlock.c: `volseal unlock`, and the option parsing it shares with `volseal status`. */
#include "cli.h"
#include "cli-authorized.h"
#include "cmd-volume.h"
#include "encoding.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "slot-order.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>

static const char usage[] =
        "Usage: volseal unlock -c CONFIG.yaml [-c MORE.yaml] [--disk DISK] [--volume ID=DEVICE]... [--meta DEVICE]\n"
        "              [--state-dir DIR] [--tcti TCTI] [--pcr-signature FILE] [--pcr-public-key FILE]\n"
        "              [--product-uuid-file FILE] [--kms-ca FILE] [--kms-timeout SECONDS] [--check] [--no-sync] [--full-sync]\n"
        "              [--cap-phase WORD] [--recovery-key-out PATH] [--recovery-key-file PATH] [--json] [--debug-tpm]\n"
        "\n"
        "For each configured volume (STATE first, then EPHEMERAL and the other system volumes, then user\n"
        "volumes u-NAME, raw r-NAME, swap s-NAME): find it by PARTLABEL (or --volume), format it as LUKS2 when\n"
        "it is empty, else open it with the configured keys in ascending slot order (each key tried against its\n"
        "own slot only), activate it as luks2-ID, then sync its keyslots to the config. A volume holding\n"
        "anything else is refused and left untouched. A volumeType: disk volume (a whole disk Talos picks by a\n"
        "CEL diskSelector) has no PARTLABEL: name it with --volume u-NAME=DEVICE.\n"
        "Every LUKS2 header is validated before any key is tried (both copies, one crypt segment, no cipher_null,\n"
        "allowed ciphers; docs/security.md) and the validated copy is what libcryptsetup uses.\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE          Talos config documents (VolumeConfig, UserVolumeConfig, RawVolumeConfig,\n"
        "                             SwapVolumeConfig, v1alpha1 machine.systemDiskEncryption); repeatable\n"
        "      --volume ID=DEVICE     use DEVICE (block device or image file) for volume ID; repeatable\n"
        "      --disk DISK            rescue: the volumes are partitions of DISK (a whole disk or a disk image file),\n"
        "                             found by PARTLABEL in its partition table (META too, read-only); never formats,\n"
        "                             never syncs keyslots; activation goes through a loop device over the partition\n"
        "                             (docs/rescue.md)\n"
        "      --meta DEVICE          the META partition (default: the partition labelled META, if any): tag 15\n"
        "                             replaces the machine UUID of nodeID keys; tag 9 gives STATE's config when\n"
        "                             the machine config has no STATE VolumeConfig, and is updated after STATE\n"
        "                             opened with the machine config's; copies that differ are rewritten\n"
        "                             (docs/meta.md)\n"
        "      --state-dir DIR        STATE is mounted at DIR: lockToSTATE volumes open (salt created once);\n"
        "                             updatable tpm slots are enrolled (the authority on STATE) and the states\n"
        "                             their NV index authorized before the booted one are retired\n"
        "      --recovery-key-out PATH  recovery keys: make one (once per run) for every recovery slot to enrol and\n"
        "                             write it to PATH, a new file (mode 0600; an existing file is never\n"
        "                             overwritten); never printed or logged. Without it recovery slots wait\n"
        "      --recovery-key-file PATH the recovery key, as written out or typed (dashes optional); tried for\n"
        "                             recovery slots (without it they are not tried)\n"
        "      --tcti TCTI            TPM access (default $VOLSEAL_TCTI, then device:/dev/tpmrm0)\n"
        "      --pcr-signature FILE   signed PCR policy (default /.extra/tpm2-pcr-signature.json)\n"
        "      --pcr-public-key FILE  its key (default /.extra/tpm2-pcr-public-key.pem)\n"
        "      --product-uuid-file F  machine UUID for nodeID keys (default /sys/class/dmi/id/product_uuid)\n"
        "      --kms-ca FILE          PEM CA bundle to verify TLS KMS endpoints (default: system CA store)\n"
        "      --kms-timeout SECONDS  total time per KMS call (Seal/Unseal), 0.001-600, fractions allowed\n"
        "                             (0.5 = 500 ms); a call that takes longer fails as \"slow\" (default 10)\n"
        "      --check                verify keys without activating dm-crypt (hosts without device-mapper)\n"
        "      --no-sync              open only; leave keyslots as they are\n"
        "      --full-sync            verify every configured slot even when the sync fingerprint matches\n"
        "      --cap-phase WORD       after every volume (also when some failed): extend PCR 11 with WORD, log it\n"
        "                             ($VOLSEAL_MEASURE_LOG or /run/volseal/tpm2-measure.log), then check that the\n"
        "                             new PCR 11 matches no signed policy entry (else exit 3)\n"
        "      --debug-tpm            let tpm2-tss log as TSS2_LOG says (prints session keys: never in production)\n"
        "      --json                 one JSON object per volume and line: volume, device, state,\n"
        "                             opened_by_slot, mapper, slots [{slot, kind, status, detail}], errors, pending\n"
        "                             (stdout holds only the JSON; errors and warnings still go to stderr)\n"
        "  For tests and demos only (never on real machines): argon2id of static/nodeID keyslots\n"
        "      --pbkdf-memory KIB     memory cost instead of the benchmarked ~1 GiB\n"
        "      --pbkdf-iterations N   iterations, skipping the benchmark (with --pbkdf-memory: e.g. 32 and 4)\n"
        "      --pbkdf-time MS        benchmark target instead of 2000 ms\n"
        "  -h, --help                 this text\n"
        "\n"
        "Volume states: opened, formatted, already-open, waiting-for-state (lockToSTATE without --state-dir,\n"
        "or an empty volume with an updatable tpm key: not a failure), not-opened, foreign, not-found,\n"
        "unencrypted, error.\n"
        "Exit codes: 0 all volumes open and in sync; 1 usage or config error, nothing touched; 2 a volume\n"
        "could not be opened by any key (or holds something else); 3 opened, but some slots failed to sync\n"
        "(listed); 4 environment missing (no device, no device-mapper).\n";

static int parse_u32(const char *cmd, const char *opt, const char *s, uint32_t *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || !*s || *end || v == 0 || v > UINT32_MAX)
                return cli_usage_error(cmd, "%s: '%s' is not a positive number", opt, s);
        *ret = (uint32_t) v;
        return EXIT_OK;
}

/* SECONDS with up to 3 decimals ("10", "0.5", "2.25") -> milliseconds, 1 ms to max_ms. No strtod: the
 * decimal point must not depend on the locale. */
static int parse_seconds_ms(const char *cmd, const char *opt, const char *s, unsigned max_ms, unsigned *ret) {
        unsigned long ms = 0;
        const char *p = s;
        size_t int_digits = 0, frac_digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, int_digits++) {
                ms = ms * 10 + (unsigned long) (*p - '0');
                if (ms > max_ms)
                        break;
        }
        ms *= 1000;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9' && frac_digits < 3; p++, frac_digits++) {
                        static const unsigned long scale[] = { 100, 10, 1 };
                        ms += scale[frac_digits] * (unsigned long) (*p - '0');
                }
        if (*p || (int_digits == 0 && frac_digits == 0) || ms == 0 || ms > max_ms)
                return cli_usage_error(cmd, "%s: '%s' is not a number of seconds from 0.001 to %u (up to 3 decimals)",
                                       opt, s, max_ms / 1000u);
        *ret = (unsigned) ms;
        return EXIT_OK;
}

int volume_cli_parse(struct volume_cli *c, int argc, char **argv, bool unlock) {
        const char *cmd = argv[0];
        enum { O_VOLUME = 256, O_META, O_STATE_DIR, O_TCTI, O_PCRSIG, O_PCRKEY, O_UUID, O_KMS_CA, O_KMS_TIMEOUT, O_CHECK, O_NO_SYNC, O_FULL_SYNC,
               O_CAP, O_JSON, O_MEM, O_ITER, O_TIME, O_DEBUG_TPM, O_FORCE, O_DISK, O_RECOVERY_OUT, O_RECOVERY_FILE };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "volume", required_argument, NULL, O_VOLUME },
                { "meta", required_argument, NULL, O_META },
                { "state-dir", required_argument, NULL, O_STATE_DIR },
                { "tcti", required_argument, NULL, O_TCTI },
                { "pcr-signature", required_argument, NULL, O_PCRSIG },
                { "pcr-public-key", required_argument, NULL, O_PCRKEY },
                { "product-uuid-file", required_argument, NULL, O_UUID },
                { "kms-ca", required_argument, NULL, O_KMS_CA },
                { "kms-timeout", required_argument, NULL, O_KMS_TIMEOUT },
                { "check", no_argument, NULL, O_CHECK },
                { "no-sync", no_argument, NULL, O_NO_SYNC },
                { "full-sync", no_argument, NULL, O_FULL_SYNC },
                { "cap-phase", required_argument, NULL, O_CAP },
                { "json", no_argument, NULL, O_JSON },
                { "pbkdf-memory", required_argument, NULL, O_MEM },
                { "pbkdf-iterations", required_argument, NULL, O_ITER },
                { "pbkdf-time", required_argument, NULL, O_TIME },
                { "debug-tpm", no_argument, NULL, O_DEBUG_TPM },
                { "force", no_argument, NULL, O_FORCE },
                { "disk", required_argument, NULL, O_DISK },
                { "recovery-key-out", required_argument, NULL, O_RECOVERY_OUT },
                { "recovery-key-file", required_argument, NULL, O_RECOVERY_FILE },
                {}
        };
        *c = (struct volume_cli) {};
        c->run.tcti = getenv("VOLSEAL_TCTI");
        int o, r;
        optind = 1;
        opterr = 0;
        while ((o = getopt_long(argc, argv, ":c:", opts, NULL)) != -1) {
                bool unlock_only = o == O_CHECK || o == O_NO_SYNC || o == O_FULL_SYNC || o == O_CAP ||
                                   o == O_MEM || o == O_ITER || o == O_TIME || o == O_FORCE || o == O_RECOVERY_OUT;
                if (unlock_only && !unlock)
                        return cli_usage_error(cmd, "option %s is for 'volseal unlock' only", argv[optind - 1]);
                switch (o) {
                case 'c':
                        if (c->n_files == ELEMENTSOF(c->files))
                                return cli_usage_error(cmd, "too many -c files (at most %zu)", ELEMENTSOF(c->files));
                        c->files[c->n_files++] = optarg;
                        break;
                case O_VOLUME: {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || !eq[1])
                                return cli_usage_error(cmd, "--volume wants ID=DEVICE, got '%s'", optarg);
                        if (c->n_overrides == ELEMENTSOF(c->overrides))
                                return cli_usage_error(cmd, "too many --volume options");
                        *eq = 0;
                        c->overrides[c->n_overrides++] = (struct vs_volume_override) { optarg, eq + 1 };
                        break;
                }
                case O_META: c->meta = optarg; break;
                case O_DISK: c->opts.disk = optarg; break;
                case O_STATE_DIR: c->run.state_dir = optarg; break;
                case O_TCTI: c->run.tcti = optarg; break;
                case O_PCRSIG: c->run.pcr_signature_path = optarg; break;
                case O_PCRKEY: c->run.pcr_public_key_path = optarg; break;
                case O_UUID: c->run.product_uuid_file = optarg; break;
                case O_KMS_CA: c->run.kms_ca_file = optarg; break;
                case O_KMS_TIMEOUT:
                        if ((r = parse_seconds_ms(cmd, "--kms-timeout", optarg, 600u * 1000u, &c->run.kms_timeout_ms)) != EXIT_OK)
                                return r;
                        break;
                case O_CHECK: c->opts.check = true; break;
                case O_NO_SYNC: c->opts.no_sync = true; break;
                case O_FULL_SYNC: c->opts.full_sync = true; break;
                case O_CAP: c->cap_phase = optarg; break;
                case O_JSON: c->json = true; break;
                case O_DEBUG_TPM: c->run.debug_tpm = true; break;
                case O_FORCE: c->force = true; break;
                case O_RECOVERY_OUT: c->run.recovery_key_out = optarg; break;
                case O_RECOVERY_FILE: c->run.recovery_key_file = optarg; break;
                case O_MEM:
                        if ((r = parse_u32(cmd, "--pbkdf-memory", optarg, &c->opts.pbkdf.memory_kib)) != EXIT_OK)
                                return r;
                        break;
                case O_ITER:
                        if ((r = parse_u32(cmd, "--pbkdf-iterations", optarg, &c->opts.pbkdf.iterations)) != EXIT_OK)
                                return r;
                        break;
                case O_TIME:
                        if ((r = parse_u32(cmd, "--pbkdf-time", optarg, &c->opts.pbkdf.time_ms)) != EXIT_OK)
                                return r;
                        break;
                case ':':
                        return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
                default:
                        return cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (c->n_files == 0)
                return cli_usage_error(cmd, "no config file given (-c FILE)");
        if (c->opts.pbkdf.iterations && !c->opts.pbkdf.memory_kib)
                return cli_usage_error(cmd, "--pbkdf-iterations needs --pbkdf-memory (no benchmark, so both are fixed)");
        if (c->opts.check && c->cap_phase)
                return cli_usage_error(cmd, "--cap-phase and --check exclude each other");
        if (c->opts.disk && c->cap_phase)
                return cli_usage_error(cmd, "--cap-phase is for booting, not for --disk (rescue)");
        if (c->opts.disk && c->run.recovery_key_out)
                return cli_usage_error(cmd, "--recovery-key-out enrols keys: --disk (rescue) is read-only");
        c->run.create_salt = unlock && !c->opts.disk;
        c->opts.run = &c->run;
        c->opts.overrides = c->overrides;
        c->opts.n_overrides = c->n_overrides;
        return EXIT_OK;
}

/* A volume with an updatable tpm key: the node's authorized set as this run read it ("authorized" in JSON). */
static void show_authorized(struct volume_cli *c, const struct vs_volume_config *v, struct json_object *o) {
        struct vs_config one = { .volumes = (struct vs_volume_config *) v, .n_volumes = 1 };
        struct authnv_set set;
        uint32_t handle;
        if (!v->encrypted || !vs_config_has_updatable(&one, NULL) || vs_key_updatable_view(&c->run, &handle, &set) < 0)
                return;
        if (o)
                json_object_object_add(o, "authorized", cli_authorized_to_json(handle, &set));
        else
                cli_authorized_print(handle, &set, NULL, 0);
}

int volume_cli_run(struct volume_cli *c, int (*fn)(const struct vs_volume_config *, const struct vs_volume_options *,
                                                   struct vs_volume_report *)) {
        if (c->json)
                vs_log_set_quiet(1);
        struct vs_config cfg = {};
        if (vs_config_load(&cfg, c->files, c->n_files) < 0)
                return EXIT_USAGE;
        bool unlock = fn == vs_volume_unlock;
        struct volume_meta vm;
        int rc = volume_meta_begin(&vm, c->meta, &cfg, &c->run, &c->opts);
        if (rc == EXIT_OK && unlock)
                rc = volume_meta_repair(&vm);
        if (rc != EXIT_OK && rc != EXIT_SYNC) {
                volume_meta_done(&vm);
                vs_config_free(&cfg);
                return rc;
        }
        for (size_t i = 0; i < c->n_overrides; i++)
                if (!vs_config_find(&cfg, c->overrides[i].id) && !(streq(c->overrides[i].id, "STATE") && c->opts.state_from_meta)) {
                        log_error("--volume %s: the config has no volume %s", c->overrides[i].id, c->overrides[i].id);
                        volume_meta_done(&vm);
                        vs_config_free(&cfg);
                        return EXIT_USAGE;
                }
        const struct vs_volume_config **list = NULL;
        size_t n = 0;
        if (vs_volume_list(&cfg, &c->opts, &list, &n) < 0) {
                volume_meta_done(&vm);
                vs_config_free(&cfg);
                return EXIT_ENV;
        }
        for (size_t i = 0; unlock && i < n; i++)
                vs_slot_order_warn(list[i]);
        for (size_t i = 0; i < n; i++) {
                struct vs_volume_report rep;
                int r = fn(list[i], &c->opts, &rep);
                rc = cli_exit_merge(rc, r < 0 ? EXIT_ENV : volume_report_exit(&rep));
                rc = cli_exit_merge(rc, volume_meta_after(&vm, &cfg, list[i], &rep, unlock));
                if (c->json) {
                        struct json_object *o = volume_report_to_json(&rep);
                        volume_meta_annotate(&vm, list[i], o);
                        show_authorized(c, list[i], o);
                        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(o);
                } else {
                        volume_report_print(&rep);
                        show_authorized(c, list[i], NULL);
                }
                fflush(stdout);
                vs_volume_report_done(&rep);
        }
        free(list);
        if (unlock && !c->opts.disk && c->run.state_dir && vs_config_has_updatable(&cfg, NULL) &&
            vs_key_updatable_settle(&c->run) < 0)
                rc = cli_exit_merge(rc, EXIT_SYNC);
        vs_key_run_done(&c->run);
        volume_meta_done(&vm);
        vs_config_free(&cfg);
        return rc;
}

static bool valid_phase(const char *w) {
        size_t n = strlen(w);
        if (n == 0 || n > 256)
                return false;
        for (const char *p = w; *p; p++)
                if ((unsigned char) *p < 0x21 || (unsigned char) *p > 0x7e)
                        return false;
        return true;
}

/* The signed policy (as the tpm kind finds it), or 0 entries when there is none. */
static int load_pcrsig(const char *given, struct pcrsig *ret) {
        static const char *const defaults[] = { "/.extra/tpm2-pcr-signature.json", "/run/systemd/tpm2-pcr-signature.json" };
        for (size_t i = 0; i < (given ? 1 : ELEMENTSOF(defaults)); i++) {
                const char *path = given ? given : defaults[i];
                _cleanup_free_ char *buf = NULL;
                size_t n;
                int r = vs_read_file(path, 0, 65536, &buf, &n);
                if (r == -ENOENT && !given)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "cannot read the signed PCR policy %s: %m", path);
                return pcrsig_parse(buf, n, "sha256", ret);
        }
        *ret = (struct pcrsig) {};
        return 0;
}

/* The cap (docs/tpm.md, "The cap"): extend PCR 11 with the cap word, log it, then check that no .pcrsig entry matches the new
 * value (a cap word can itself complete a signed path). */
static int cap(struct volume_cli *c) {
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = vs_tpm_open(c->run.tcti, c->run.debug_tpm ? VS_TPM_DEBUG_LOG : 0, &t);
        if (r < 0)
                return EXIT_ENV;
        const char *log_path = vs_measure_log_path();
        r = vs_tpm_extend_word(t, 11, c->cap_phase, log_path, NULL);
        if (r < 0) {
                log_error("cannot cap PCR 11 with '%s': %s", c->cap_phase, vs_tpm_last_error(t));
                return EXIT_ENV;
        }
        struct vs_tpm_pcrs p;
        r = vs_tpm_pcr_read(t, TPM2_ALG_SHA256, 1u << 11, &p);
        if (r < 0)
                return EXIT_ENV;
        struct pcrsig sig = {};
        r = load_pcrsig(c->run.pcr_signature_path, &sig);
        if (r < 0)
                return EXIT_SYNC;
        uint8_t pol[32];
        r = policy_pcr_signed_pol(TPM2_ALG_SHA256, 1u << 11, p.value[11], 32, pol);
        const struct pcrsig_entry *e = r >= 0 ? pcrsig_find(&sig, 1u << 11, NULL, pol) : NULL;
        pcrsig_done(&sig);
        if (r < 0)
                return EXIT_SYNC;
        char hex[65];
        vs_hex_encode_to(p.value[11], 32, hex);
        if (e) {
                log_error("PCR 11 after the cap phase '%s' (%s) still matches an entry of the signed PCR policy: "
                          "a later boot stage could unseal; cap with another word", c->cap_phase, hex);
                return EXIT_SYNC;
        }
        log_info("capped PCR 11 with '%s' (now %s, matched by no signed policy entry; logged to %s)", c->cap_phase, hex, log_path);
        return EXIT_OK;
}

int cmd_reseal(int argc, char **argv) {
        struct volume_cli c;
        int r = volume_cli_parse(&c, argc, argv, true);
        if (r != EXIT_OK)
                return r;
        if (!c.force)
                return cli_usage_error("tpm reseal", "re-sealing bypasses the SecureBoot/PK/KEK/db gate: confirm with --force");
        if (c.cap_phase)
                return cli_usage_error("tpm reseal", "--cap-phase is an option of 'volseal unlock'");
        if (c.opts.disk)
                return cli_usage_error("tpm reseal", "--disk is read-only rescue: re-sealing writes keyslots");
        /* Open with the other keys (no activation), then sync re-seals every tpm slot that does not unseal. */
        c.opts.check = true;
        c.opts.full_sync = true;
        vs_key_tpm_force_reseal(&c.run);
        return volume_cli_run(&c, vs_volume_unlock);
}

int cmd_unlock(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        struct volume_cli c;
        int r = volume_cli_parse(&c, argc, argv, true);
        if (r != EXIT_OK)
                return r;
        if (c.force)
                return cli_usage_error("unlock", "--force is an option of 'volseal tpm reseal'");
        if (c.cap_phase && !valid_phase(c.cap_phase))
                return cli_usage_error("unlock", "--cap-phase: the word must be 1-256 printable ASCII characters without blanks");
        int rc = volume_cli_run(&c, vs_volume_unlock);
        if (c.cap_phase)
                rc = cli_exit_merge(rc, cap(&c));
        return rc;
}
