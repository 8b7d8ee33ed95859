/* cmd-uki.c: `volseal uki inspect|measure|sign|build`: read a UKI (or a stub and its parts), predict PCR 11,
 * sign the PCR 11 policy (.pcrsig JSON), assemble a UKI. The file I/O lives here; uki/ and policy/ do the
 * bytes. */
#include "cli.h"
#include "cli-file.h"
#include "cleanup.h"
#include "encoding.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "progress.h"
#include "secret.h"
#include "uki.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const char usage[] =
        "Usage: volseal uki inspect UKI [--json]\n"
        "       volseal uki measure UKI [--phase PATH]... [--phases systemd|talos] [--bank B]... [--json]\n"
        "       volseal uki sign UKI --key KEY.pem [--phase PATH]... [--phases systemd|talos] [--bank B]...\n"
        "                        [-o FILE] [--append FILE]\n"
        "       volseal uki build --stub STUB --linux K --initrd I --cmdline C --os-release F [--splash F] [--dtb F]\n"
        "                        [--pcr-key PUB.pem] [--pcr-sign-key KEY.pem] [--phase PATH]... [--phases P]\n"
        "                        [--bank B]... -o OUT\n"
        "\n"
        "inspect  print the stub version, the sections and which of them systemd-stub measures into PCR 11.\n"
        "measure  predict PCR 11 after the stub (path ':') and after each phase path. Without --phase: the\n"
        "         empty path and every path of the phase profile.\n"
        "sign     write the signed PCR policy JSON (.pcrsig, systemd's format) for the UKI: one entry per bank\n"
        "         and path. Default: exactly one path, the profile's unlock phase (systemd: enter-initrd;\n"
        "         talos: enter-initrd:leave-initrd:enter-machined), so later boot stages cannot unseal.\n"
        "build    assemble a UKI from a systemd-stub: add .osrel .cmdline [.splash .dtb] [.pcrpkey] .initrd\n"
        "         .linux, measure, sign the policy with --pcr-sign-key and add .pcrsig. SecureBoot-sign the\n"
        "         result afterwards with sbsign (signing changes nothing that PCR 11 measures).\n"
        "\n"
        "Options:\n"
        "  --phase PATH        colon-separated phase words (enter-initrd:leave-initrd); ':' = right after the\n"
        "                      stub. Repeatable.\n"
        "  --phases PROFILE    systemd (enter-initrd, leave-initrd, sysinit, ready; default) or talos\n"
        "                      (enter-initrd, leave-initrd, enter-machined)\n"
        "  --bank B            sha1, sha256 (default), sha384, sha512. Repeatable.\n"
        "  --order LIST        override the measurement order (comma-separated section names)\n"
        "  --key KEY.pem       the RSA private key signing the PCR policy (use RSA-2048)\n"
        "  -o, --output FILE   where to write (sign: default stdout)\n"
        "  --append FILE       sign: merge into this existing .pcrsig JSON (written back unless -o is given)\n"
        "  --pcr-key PUB.pem   build: the .pcrpkey section (default: the public half of --pcr-sign-key)\n"
        "  --json              JSON output (inspect, measure)\n"
        "  -h, --help          this text\n"
        "\n"
        "Exit codes: 0 success, 1 usage error or a malformed/unsuitable input file, 4 a file is missing.\n";

#define MAX_LIST 16

struct file_map {
        uint8_t *data;
        size_t size;
        bool mapped;
};

static void file_unmap(struct file_map *m) {
        if (m->mapped)
                munmap(m->data, m->size);
        else
                free(m->data);
        *m = (struct file_map) {};
}

/* Maps a file read-only (no copy: a 100 MB kernel is hashed straight from the page cache). */
static int file_map(const char *path, struct file_map *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(-EINVAL, "%s is not a regular file", path);
        if (st.st_size == 0) {
                *ret = (struct file_map) { .data = calloc(1, 1), .size = 0 };
                return ret->data ? 0 : -ENOMEM;
        }
        void *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return log_error_errno(-errno, "cannot map %s: %m", path);
        *ret = (struct file_map) { .data = p, .size = (size_t) st.st_size, .mapped = true };
        return 0;
}

/* A PEM private key (an RSA-4096 one is 3.3 KiB), read into a locked buffer reserved up front. */
#define PRIVATE_KEY_MAX 65536

/* A private key read through a locked, wiped buffer. */
static int load_private_key(const char *path, EVP_PKEY **ret) {
        _cleanup_secret_ struct vs_secret *s = NULL;
        int r = vs_read_file_secret(path, 0, PRIVATE_KEY_MAX, &s);
        if (r < 0)
                return log_error_errno(r, "cannot read the PCR signing key %s: %m", path);
        r = policy_load_private_pem((const char *) s->data, s->len, ret);
        if (r < 0)
                return log_error_errno(r, "%s: not an unencrypted PEM RSA private key", path);
        return 0;
}

static int write_output(const char *path, const void *data, size_t len) {
        int r = vs_write_file_atomic(path, data, len, 0644, 0);
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %m", path);
        return 0;
}

/* ---- shared option state ---- */
struct uki_opts {
        const char *phases[MAX_LIST];
        size_t n_phases;
        const char *banks[MAX_LIST];
        size_t n_banks;
        const char *profile;
        const char *order;
        bool json;
        const char *key, *output, *append;
        const char *stub, *linux_, *initrd, *cmdline, *osrel, *splash, *dtb, *pcr_key;
};

static int add_list(const char **list, size_t *n, const char *v, const char *what) {
        if (*n == MAX_LIST)
                return cli_usage_error("uki", "too many %s options (at most %d)", what, MAX_LIST);
        list[(*n)++] = v;
        return 0;
}

enum { OPT_PHASE = 256, OPT_PHASES, OPT_BANK, OPT_ORDER, OPT_JSON, OPT_KEY, OPT_APPEND, OPT_STUB, OPT_LINUX, OPT_INITRD, OPT_CMDLINE,
       OPT_OSREL, OPT_SPLASH, OPT_DTB, OPT_PCRKEY, OPT_SIGNKEY };

static int parse_opts(int argc, char **argv, struct uki_opts *o, const char **ret_file) {
        static const struct option opts[] = {
                { "phase", required_argument, NULL, OPT_PHASE },
                { "phases", required_argument, NULL, OPT_PHASES },
                { "bank", required_argument, NULL, OPT_BANK },
                { "order", required_argument, NULL, OPT_ORDER },
                { "json", no_argument, NULL, OPT_JSON },
                { "key", required_argument, NULL, OPT_KEY },
                { "output", required_argument, NULL, 'o' },
                { "append", required_argument, NULL, OPT_APPEND },
                { "stub", required_argument, NULL, OPT_STUB },
                { "linux", required_argument, NULL, OPT_LINUX },
                { "initrd", required_argument, NULL, OPT_INITRD },
                { "cmdline", required_argument, NULL, OPT_CMDLINE },
                { "os-release", required_argument, NULL, OPT_OSREL },
                { "splash", required_argument, NULL, OPT_SPLASH },
                { "dtb", required_argument, NULL, OPT_DTB },
                { "pcr-key", required_argument, NULL, OPT_PCRKEY },
                { "pcr-sign-key", required_argument, NULL, OPT_SIGNKEY },
                {}
        };
        int c, r;
        *o = (struct uki_opts) { .profile = "systemd" };
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
                switch (c) {
                case OPT_PHASE:
                        if ((r = add_list(o->phases, &o->n_phases, optarg, "--phase")))
                                return r;
                        break;
                case OPT_BANK:
                        if (!uki_bank_md(optarg))
                                return cli_usage_error("uki", "unknown bank '%s' (sha1, sha256, sha384 or sha512)", optarg);
                        if ((r = add_list(o->banks, &o->n_banks, optarg, "--bank")))
                                return r;
                        break;
                case OPT_PHASES:
                        if (!uki_phase_profile(optarg))
                                return cli_usage_error("uki", "unknown phase profile '%s' (systemd or talos)", optarg);
                        o->profile = optarg;
                        break;
                case OPT_ORDER: o->order = optarg; break;
                case OPT_JSON: o->json = true; break;
                case OPT_KEY: case OPT_SIGNKEY: o->key = optarg; break;
                case 'o': o->output = optarg; break;
                case OPT_APPEND: o->append = optarg; break;
                case OPT_STUB: o->stub = optarg; break;
                case OPT_LINUX: o->linux_ = optarg; break;
                case OPT_INITRD: o->initrd = optarg; break;
                case OPT_CMDLINE: o->cmdline = optarg; break;
                case OPT_OSREL: o->osrel = optarg; break;
                case OPT_SPLASH: o->splash = optarg; break;
                case OPT_DTB: o->dtb = optarg; break;
                case OPT_PCRKEY: o->pcr_key = optarg; break;
                default:
                        return cli_usage_error("uki", "invalid option '%s'", argv[optind - 1]);
                }
        }
        if (o->n_banks == 0)
                o->banks[o->n_banks++] = "sha256";
        if (ret_file) {
                if (optind >= argc)
                        return cli_usage_error("uki", "%s: missing the UKI file", argv[0]);
                *ret_file = argv[optind++];
        }
        if (optind < argc)
                return cli_usage_error("uki", "unexpected argument '%s'", argv[optind]);
        return 0;
}

/* ---- a parsed UKI with its measured blobs ---- */
struct uki_image {
        struct file_map map;
        uint8_t *owned;   /* build: the image in memory */
        struct uki_pe pe;
        unsigned version;
        char *version_text;
        const char *const *order;
        char **order_owned;
        struct uki_blob *blobs;
        size_t n_blobs;
};

static void uki_image_done(struct uki_image *u) {
        free(u->blobs);
        free(u->order_owned);
        free(u->version_text);
        uki_pe_done(&u->pe);
        file_unmap(&u->map);
        free(u->owned);
        *u = (struct uki_image) {};
}

static int uki_image_parse(struct uki_image *u, const uint8_t *data, size_t size, const char *what, const char *order) {
        int r = uki_pe_parse(data, size, what, &u->pe);
        if (r < 0)
                return r;
        u->version = uki_stub_version(&u->pe, &u->version_text);
        if (order) {
                r = uki_parse_order(order, &u->order_owned);
                if (r < 0)
                        return r;
                u->order = (const char *const *) u->order_owned;
        } else {
                u->order = uki_measure_order(u->version);
                if (u->version == 0)
                        log_warning("%s: no systemd-stub version in .sdmagic; measuring in systemd 252's order", what);
        }
        return uki_pe_blobs(&u->pe, u->order, &u->blobs, &u->n_blobs);
}

static int uki_image_open(struct uki_image *u, const char *path, const char *order) {
        int r = file_map(path, &u->map);
        if (r < 0)
                return r;
        return uki_image_parse(u, u->map.data, u->map.size, path, order);
}

/* PCR 11 of `bank` after the stub, measured once per bank (a 100 MB kernel is hashed once, not once per
 * phase path). */
static int measure_base(const struct uki_image *u, const char *bank, uint8_t *base, size_t *ret_len) {
        const EVP_MD *md = uki_bank_md(bank);
        size_t bytes = 0;
        for (size_t i = 0; i < u->n_blobs; i++)
                bytes += u->blobs[i].measure_size;
        vs_progress_begin("hashing %.1f MiB of UKI sections for PCR 11 (%s)", (double) bytes / 1048576.0, bank);
        int r = uki_measure(u->blobs, u->n_blobs, u->order, md, base);
        vs_progress_end();
        if (r < 0)
                return r;
        *ret_len = (size_t) EVP_MD_get_size(md);
        return 0;
}

/* The value after `path`, from the bank's base value. */
static int predict(const uint8_t *base, const char *bank, const char *path, uint8_t *pcr) {
        memcpy(pcr, base, (size_t) EVP_MD_get_size(uki_bank_md(bank)));
        return uki_extend_path(uki_bank_md(bank), pcr, path);
}

static const char *path_label(const char *p) {
        return p[strspn(p, ":")] ? p : ":";
}

/* ---- inspect ---- */
static int do_inspect(int argc, char **argv) {
        struct uki_opts o;
        const char *file;
        struct uki_image u = {};
        int r = parse_opts(argc, argv, &o, &file);
        if (r)
                return r;
        r = uki_image_open(&u, file, o.order);
        if (r < 0) {
                uki_image_done(&u);
                return cli_exit_from_errno(r);
        }
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *secs = json_object_new_array(), *ord = json_object_new_array();
        json_object_object_add(root, "file", json_object_new_string(file));
        json_object_object_add(root, "stub_version", u.version_text ? json_object_new_string(u.version_text) : NULL);
        json_object_object_add(root, "stub_major", json_object_new_int((int) u.version));
        json_object_object_add(root, "authenticode_signed", json_object_new_boolean(u.pe.cert_size != 0));
        for (const char *const *p = u.order; *p; p++)
                json_object_array_add(ord, json_object_new_string(*p));
        json_object_object_add(root, "measure_order", ord);
        if (!o.json) {
                printf("file: %s\nstub: %s%s\nauthenticode signature: %s\nmeasure order: ", file,
                       u.version_text ? "systemd-stub " : "unknown (no .sdmagic)", u.version_text ? u.version_text : "",
                       u.pe.cert_size ? "yes" : "no");
                for (const char *const *p = u.order; *p; p++)
                        printf("%s%s", p == u.order ? "" : " ", *p);
                printf("\n%-9s %10s %10s %10s %10s  %s\n", "section", "vsize", "vaddr", "rawsize", "rawoff", "pcr11");
        }
        for (unsigned i = 0; i < u.pe.n_sections; i++) {
                const struct uki_section *s = &u.pe.sections[i];
                bool measured = false;
                for (size_t j = 0; j < u.n_blobs; j++)
                        measured = measured || (u.blobs[j].name == s->name && s->virtual_size > 0);
                json_object *js = json_object_new_object();
                json_object_object_add(js, "name", json_object_new_string(s->name));
                json_object_object_add(js, "virtual_size", json_object_new_int64(s->virtual_size));
                json_object_object_add(js, "virtual_address", json_object_new_int64(s->virtual_address));
                json_object_object_add(js, "raw_size", json_object_new_int64(s->raw_size));
                json_object_object_add(js, "raw_offset", json_object_new_int64(s->raw_offset));
                json_object_object_add(js, "measured", json_object_new_boolean(measured));
                json_object_array_add(secs, js);
                if (!o.json)
                        printf("%-9s 0x%08x 0x%08x 0x%08x 0x%08x  %s\n", s->name, s->virtual_size, s->virtual_address,
                               s->raw_size, s->raw_offset, measured ? "measured" : "-");
        }
        json_object_object_add(root, "sections", secs);
        if (o.json)
                puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        uki_image_done(&u);
        return EXIT_OK;
}

/* ---- measure ---- */
static int do_measure(int argc, char **argv) {
        struct uki_opts o;
        const char *file;
        struct uki_image u = {};
        int r = parse_opts(argc, argv, &o, &file);
        if (r)
                return r;
        const char *paths[MAX_LIST + 1];
        size_t n_paths = 0;
        if (o.n_phases)
                for (size_t i = 0; i < o.n_phases; i++)
                        paths[n_paths++] = o.phases[i];
        else {
                paths[n_paths++] = ":";
                for (const char *const *p = uki_phase_profile(o.profile); *p; p++)
                        paths[n_paths++] = *p;
        }
        r = uki_image_open(&u, file, o.order);
        _cleanup_json_ json_object *root = json_object_new_object();
        for (size_t b = 0; b < o.n_banks && r >= 0; b++) {
                json_object *arr = json_object_new_array();
                uint8_t base[UKI_PCR_MAX];
                size_t len;
                json_object_object_add(root, o.banks[b], arr);
                r = measure_base(&u, o.banks[b], base, &len);
                for (size_t i = 0; i < n_paths && r >= 0; i++) {
                        uint8_t pcr[UKI_PCR_MAX];
                        char hex[2 * UKI_PCR_MAX + 1];
                        r = predict(base, o.banks[b], paths[i], pcr);
                        if (r < 0)
                                break;
                        vs_hex_encode_to(pcr, len, hex);
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "phase", json_object_new_string(path_label(paths[i])[0] == ':' ? "" : paths[i]));
                        json_object_object_add(e, "pcr", json_object_new_int(11));
                        json_object_object_add(e, "hash", json_object_new_string(hex));
                        json_object_array_add(arr, e);
                        if (!o.json)
                                printf("11:%s=%s %s\n", o.banks[b], hex, path_label(paths[i]));
                }
        }
        if (r >= 0 && o.json)
                puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        uki_image_done(&u);
        return r < 0 ? cli_exit_from_errno(r) : EXIT_OK;
}

/* ---- signing (sign and build) ---- */

/* Signs each (bank, path) of the image with `key` into a .pcrsig JSON document, merged into `existing`
 * when given. Prints each signed path to `report`. */
static int sign_paths(const struct uki_image *u, EVP_PKEY *key, const struct uki_opts *o, const char *existing,
                      size_t existing_len, FILE *report, char **ret_json) {
        const char *paths[MAX_LIST];
        size_t n_paths = 0;
        _cleanup_free_ char *doc = existing ? strdup(existing) : NULL;
        size_t doc_len = existing ? existing_len : 0;
        if (existing && !doc)
                return log_error_errno(-ENOMEM, "out of memory");
        if (o->n_phases)
                for (size_t i = 0; i < o->n_phases; i++)
                        paths[n_paths++] = o->phases[i];
        else
                paths[n_paths++] = uki_phase_unlock(o->profile);

        for (size_t b = 0; b < o->n_banks; b++) {
                uint16_t alg;
                size_t sz, len;
                uint8_t base[UKI_PCR_MAX];
                struct pcrsig s = { .bank = (char *) o->banks[b] };
                int r = policy_bank_from_name(o->banks[b], &alg, &sz);
                if (r < 0)
                        return log_error_errno(r, "unknown bank %s", o->banks[b]);
                r = measure_base(u, o->banks[b], base, &len);
                for (size_t i = 0; i < n_paths && r >= 0; i++) {
                        uint8_t pcr[UKI_PCR_MAX], pol[POLICY_SHA256_SIZE];
                        char hex[2 * UKI_PCR_MAX + 1];
                        struct pcrsig_entry e;
                        r = predict(base, o->banks[b], paths[i], pcr);
                        if (r >= 0)
                                r = policy_pcr_signed_pol(alg, UINT32_C(1) << 11, pcr, len, pol);
                        if (r >= 0)
                                r = pcrsig_sign(key, UINT32_C(1) << 11, pol, &e);
                        if (r >= 0) {
                                r = pcrsig_add(&s, &e);
                                free(e.sig);
                        }
                        if (r >= 0) {
                                vs_hex_encode_to(pcr, len, hex);
                                fprintf(report, "signed: 11:%s=%s %s\n", o->banks[b], hex, path_label(paths[i]));
                        }
                }
                char *out = NULL;
                if (r >= 0)
                        r = pcrsig_format(&s, doc, doc_len, &out);
                for (size_t i = 0; i < s.n_entries; i++)
                        free(s.entries[i].sig);
                free(s.entries);
                if (r < 0)
                        return r;
                free(doc);
                doc = out;
                doc_len = strlen(out);
        }
        *ret_json = TAKE_PTR(doc);
        return 0;
}

static int check_pcrpkey(const struct uki_image *u, EVP_PKEY *key, const char *what) {
        const struct uki_section *s = uki_pe_find(&u->pe, ".pcrpkey");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
        uint8_t a[POLICY_SHA256_SIZE], b[POLICY_SHA256_SIZE];
        if (!s) {
                log_warning("%s has no .pcrpkey section: systemd-stub will not pass the public key to the initrd", what);
                return 0;
        }
        if (policy_load_public_pem((const char *) u->pe.data + s->raw_offset, uki_section_file_bytes(s), &pub) < 0)
                return log_error_errno(-EBADMSG, "%s: the .pcrpkey section is not a PEM public key", what);
        int r = policy_pkfp(pub, a);
        if (r >= 0)
                r = policy_pkfp(key, b);
        if (r >= 0 && memcmp(a, b, sizeof(a)) != 0)
                return log_error_errno(-EINVAL, "%s: the signing key does not match the .pcrpkey section's public key", what);
        return r;
}

static int do_sign(int argc, char **argv) {
        struct uki_opts o;
        const char *file;
        struct uki_image u = {};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_free_ char *existing = NULL, *json = NULL;
        size_t existing_len = 0;
        int r = parse_opts(argc, argv, &o, &file);
        if (r)
                return r;
        if (!o.key)
                return cli_usage_error("uki", "sign: --key KEY.pem is required");
        r = uki_image_open(&u, file, o.order);
        if (r >= 0 && u.pe.cert_size)
                log_warning("%s carries an Authenticode signature: adding a .pcrsig section will invalidate it; "
                            "re-sign with sbsign afterwards", file);
        if (r >= 0)
                r = load_private_key(o.key, &key);
        if (r >= 0)
                r = check_pcrpkey(&u, key, file);
        if (r >= 0 && o.append)
                r = cli_read_text(o.append, &existing, &existing_len);
        const char *dest = o.output ? o.output : o.append;
        if (r >= 0)
                r = sign_paths(&u, key, &o, existing, existing_len, dest ? stdout : stderr, &json);
        if (r >= 0) {
                if (dest) {
                        size_t len = strlen(json);
                        json[len] = '\n';
                        r = write_output(dest, json, len + 1);
                        json[len] = 0;
                } else
                        puts(json);
        }
        uki_image_done(&u);
        return r < 0 ? cli_exit_from_errno(r) : EXIT_OK;
}

/* ---- build ---- */
static int do_build(int argc, char **argv) {
        struct uki_opts o;
        struct file_map stub = {}, parts[7] = {};
        struct uki_pe stub_pe = {};
        struct uki_image u = {};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *pub = NULL;
        _cleanup_free_ char *pcrpkey = NULL, *json = NULL;
        size_t pcrpkey_len = 0;
        uint8_t *final = NULL;
        size_t final_size = 0;
        int r = parse_opts(argc, argv, &o, NULL);
        if (r)
                return r;
        if (!o.stub || !o.linux_ || !o.initrd || !o.cmdline || !o.osrel || !o.output)
                return cli_usage_error("uki", "build: --stub, --linux, --initrd, --cmdline, --os-release and -o are required");
        if (o.append)
                return cli_usage_error("uki", "build: --append is for 'uki sign'");

        /* In file order: small sections first, the kernel last. */
        const struct { const char *name, *path; } want[] = {
                { ".osrel", o.osrel }, { ".cmdline", o.cmdline }, { ".splash", o.splash }, { ".dtb", o.dtb },
                { ".initrd", o.initrd }, { ".linux", o.linux_ },
        };
        struct uki_add add[8];
        size_t n_add = 0;
        r = file_map(o.stub, &stub);
        if (r >= 0)
                r = uki_pe_parse(stub.data, stub.size, o.stub, &stub_pe);
        if (r >= 0 && !uki_pe_find(&stub_pe, ".sdmagic"))
                log_warning("%s has no .sdmagic section: is it a systemd-stub?", o.stub);
        if (r >= 0 && o.key)
                r = load_private_key(o.key, &key);
        if (r >= 0 && o.pcr_key) {
                r = cli_read_text(o.pcr_key, &pcrpkey, &pcrpkey_len);
                if (r >= 0 && (r = policy_load_public_pem(pcrpkey, pcrpkey_len, &pub)) < 0)
                        log_error("%s: not a PEM public key", o.pcr_key);
                if (r >= 0 && key) {
                        uint8_t a[POLICY_SHA256_SIZE], b[POLICY_SHA256_SIZE];
                        r = policy_pkfp(pub, a);
                        if (r >= 0)
                                r = policy_pkfp(key, b);
                        if (r >= 0 && memcmp(a, b, sizeof(a)) != 0)
                                r = log_error_errno(-EINVAL, "--pcr-key %s is not the public half of --pcr-sign-key %s",
                                                    o.pcr_key, o.key);
                }
        } else if (r >= 0 && key) {
                /* .pcrpkey defaults to the signing key's public half, as SubjectPublicKeyInfo PEM. */
                _cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_mem());
                char *p = NULL;
                long len = 0;
                if (bio && PEM_write_bio_PUBKEY(bio, key) == 1)
                        len = BIO_get_mem_data(bio, &p);
                if (len > 0 && (pcrpkey = strndup(p, (size_t) len)))
                        pcrpkey_len = (size_t) len;
                else
                        r = log_error_errno(-EIO, "cannot encode the public half of %s", o.key);
        }
        for (size_t i = 0; i < ELEMENTSOF(want) && r >= 0; i++) {
                if (streq(want[i].name, ".initrd") && pcrpkey)
                        add[n_add++] = (struct uki_add) { ".pcrpkey", (const uint8_t *) pcrpkey, pcrpkey_len };
                if (!want[i].path)
                        continue;
                r = file_map(want[i].path, &parts[i]);
                if (r < 0)
                        break;
                if (parts[i].size == 0) {
                        log_warning("%s is empty: no %s section", want[i].path, want[i].name);
                        continue;
                }
                add[n_add++] = (struct uki_add) { want[i].name, parts[i].data, parts[i].size };
        }
        /* 1. the measured sections */
        if (r >= 0)
                r = uki_pe_add_sections(&stub_pe, add, n_add, &u.owned, &u.map.size);
        if (r >= 0)
                r = uki_image_parse(&u, u.owned, u.map.size, o.output, o.order);
        /* 2. measure and sign, 3. add .pcrsig */
        if (r >= 0 && key) {
                r = sign_paths(&u, key, &o, NULL, 0, stdout, &json);
                if (r >= 0) {
                        struct uki_add sig = { ".pcrsig", (const uint8_t *) json, strlen(json) };
                        r = uki_pe_add_sections(&u.pe, &sig, 1, &final, &final_size);
                }
        } else if (r >= 0)
                final_size = u.map.size; /* no signing key: the image as built, no .pcrsig */
        if (r >= 0)
                r = write_output(o.output, final ? final : u.owned, final_size);
        if (r >= 0)
                printf("built %s (%zu bytes, systemd-stub %s)%s\n", o.output, final_size,
                       u.version_text ? u.version_text : "unknown", key ? "" : "; no .pcrsig (no --pcr-sign-key)");
        free(final);
        u.map.size = 0;
        uki_image_done(&u);
        uki_pe_done(&stub_pe);
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                file_unmap(&parts[i]);
        file_unmap(&stub);
        return r < 0 ? cli_exit_from_errno(r) : EXIT_OK;
}

int cmd_uki(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        if (argc < 2)
                return cli_usage_error("uki", "missing subcommand (inspect, measure, sign or build)");
        const char *sub = argv[1];
        if (streq(sub, "inspect"))
                return do_inspect(argc - 1, argv + 1);
        if (streq(sub, "measure"))
                return do_measure(argc - 1, argv + 1);
        if (streq(sub, "sign"))
                return do_sign(argc - 1, argv + 1);
        if (streq(sub, "build"))
                return do_build(argc - 1, argv + 1);
        return cli_usage_error("uki", "unknown subcommand '%s' (inspect, measure, sign or build)", sub);
}
