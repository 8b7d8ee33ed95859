/* tpm-updatable-helper: drives the updatable tpm slot's library parts (src/authority.c, src/tpm/nv.c,
 * src/tpm/seal.c, src/tpm/nv-policy.c, src/keys/token-updatable.c) for tests/integration/test-tpm-updatable.sh, until
 * `volseal tpm prepare` and the key kind exist. Test-only: it writes the sealed secret to a file so the test
 * can compare it; volseal itself never does that. The TPM comes from VOLSEAL_TCTI.
 *
 *   init       --state-dir D [--handle H]        authority file (created when absent) and its NV index
 *   set        --state-dir D --pcrs 7|none --key PEM... [--state HEX...]   writes exactly this set
 *   add-state  --state-dir D --state HEX         adds a state (prepare), reads and writes the index
 *   retire     --state-dir D                     retires the states authorized before the current PCRs
 *   add-key | remove-key --state-dir D --key PEM
 *   show       --state-dir D                     "serial S keys K states N" then one state (hex) a line
 *   seal       --state-dir D --dir OUT           OUT/token.json (volseal-tpm2-updatable) and OUT/secret
 *   unseal     --dir OUT --key PEM --pcrsig SIG [--count N] [--nv-name HEX]   OUT/unsealed, "unsealed N"
 *              (--nv-name: accept the index under that Name and pretend it is the token's: the TPM must refuse)
 *   trial      --state-dir D                     "write|policy|sealed SOFTWARE TPM" lines
 *   undefine   --state-dir D                     removes the index (wipe)
 * Exit 0 ok, 1 refused (the sentence on stderr, "error: <errno name>" on stdout), 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "authnv.h"
#include "authority.h"
#include "keys/token-updatable.h"
#include "helper-files.h"
#include "log.h"
#include "policy.h"
#include "secret.h"
#include "tpm/tpm.h"
#include "tpm/updatable.h"
#include "util.h"

#define PCR_SIZE 32

struct args {
        const char *state_dir, *dir, *pcrsig;
        const char *keys[8], *states[8];
        size_t n_keys, n_states;
        uint32_t handle, pcrs;
        int count;
        const char *nv_name;
};

static int load_key(const char *path, EVP_PKEY **ret) {
        _cleanup_free_ char *pem = NULL;
        size_t len = 0;
        int r = helper_read_file(path, &pem, &len);
        return r < 0 ? r : policy_load_public_pem(pem, len, ret);
}

static int key_name(const char *path, TPM2B_NAME *ret) {
        EVP_PKEY *k = NULL;
        TPM2B_PUBLIC pub;
        int r = load_key(path, &k);
        if (r >= 0)
                r = policy_rsa_public(k, 65537, &pub);
        if (r >= 0)
                r = policy_public_name(&pub, ret);
        EVP_PKEY_free(k);
        return r;
}

/* The authority (created with the first free handle when absent) and its index, defined. */
static int init(struct vs_tpm *t, const struct args *a, struct vs_authority *auth, bool *ret_written) {
        int r = vs_authority_load(a->state_dir, auth);
        if (r == -ENOENT) {
                uint32_t h = a->handle;
                if (!h && (r = vs_tpm_nv_free_handle(t, &h)) < 0)
                        return r;
                r = vs_authority_create(a->state_dir, h, auth);
        }
        return r < 0 ? r : vs_tpm_nv_define(t, auth->nv_index, auth->write_key, ret_written);
}

/* The set in the index (whose Name must be the one this authority gives it). */
static int read_set(struct vs_tpm *t, const struct vs_authority *auth, struct vs_tpm_authnv *nv) {
        TPM2B_NAME kname, name;
        int r = vs_authority_key_name(auth, &kname);
        if (r >= 0)
                r = authnv_nv_name(auth->nv_index, &kname, &name);
        return r < 0 ? r : vs_tpm_nv_read(t, auth->nv_index, &name, nv);
}

static int edit_set(struct vs_tpm *t, const char *cmd, const struct args *a, struct vs_authority *auth) {
        struct vs_tpm_authnv nv = {};
        int r = read_set(t, auth, &nv);
        if (r < 0)
                return r;
        struct authnv_set set = nv.set;
        vs_tpm_nv_done(t, &nv);
        if (streq(cmd, "add-state")) {
                uint8_t v[PCR_SIZE];
                if (a->n_states != 1 || policy_unhex(a->states[0], v, PCR_SIZE) < 0)
                        return -EINVAL;
                r = authnv_add_state(&set, v, PCR_SIZE);
        } else if (streq(cmd, "retire")) {
                struct vs_tpm_pcrs p;
                uint8_t values[AUTHNV_STATE_BYTES];
                size_t n = 0;
                r = vs_tpm_pcr_read(t, TPM2_ALG_SHA256, set.pcr_mask, &p);
                for (uint32_t i = 0; r >= 0 && i < VS_TPM_PCR_COUNT; i++)
                        if (set.pcr_mask & (1u << i))
                                memcpy(values + PCR_SIZE * n++, p.value[i], PCR_SIZE);
                if (r >= 0)
                        r = authnv_retire_before(&set, values, n * PCR_SIZE);
                if (r >= 0)
                        printf("retired %d\n", r);
        } else {
                TPM2B_NAME k;
                r = a->n_keys == 1 ? key_name(a->keys[0], &k) : -EINVAL;
                if (r >= 0)
                        r = streq(cmd, "add-key") ? authnv_add_key(&set, &k) : authnv_remove_key(&set, &k);
        }
        return r < 0 ? r : vs_tpm_nv_write(t, auth->nv_index, auth->write_key, &set);
}

static int set_exactly(struct vs_tpm *t, const struct args *a, struct vs_authority *auth, bool written) {
        struct authnv_set set;
        int r = authnv_init(&set, a->pcrs);
        for (size_t i = 0; r >= 0 && i < a->n_keys; i++) {
                TPM2B_NAME k;
                r = key_name(a->keys[i], &k);
                if (r >= 0)
                        r = authnv_add_key(&set, &k);
        }
        for (size_t i = 0; r >= 0 && i < a->n_states; i++) {
                uint8_t v[PCR_SIZE];
                r = policy_unhex(a->states[i], v, PCR_SIZE);
                if (r >= 0)
                        r = authnv_add_state(&set, v, PCR_SIZE);
        }
        struct vs_tpm_authnv nv = {};
        if (r >= 0 && written && read_set(t, auth, &nv) >= 0) {
                set.serial = nv.set.serial; /* the serial keeps counting the index's writes */
                vs_tpm_nv_done(t, &nv);
        }
        return r < 0 ? r : vs_tpm_nv_write(t, auth->nv_index, auth->write_key, &set);
}

static int show(struct vs_tpm *t, struct vs_authority *auth) {
        struct vs_tpm_authnv nv = {};
        int r = read_set(t, auth, &nv);
        if (r < 0)
                return r;
        printf("serial %u keys %zu states %zu\n", nv.set.serial, nv.set.n_keys, nv.set.n_states);
        for (size_t i = 0; i < nv.set.n_states; i++) {
                char hex[2 * AUTHNV_STATE_BYTES + 1];
                policy_hex(authnv_state(&nv.set, i), authnv_state_size(&nv.set), hex);
                printf("%s\n", hex);
        }
        vs_tpm_nv_done(t, &nv);
        return 0;
}

static int seal(struct vs_tpm *t, const struct args *a, struct vs_authority *auth) {
        struct vs_updatable_token tok = { .nv_index = auth->nv_index };
        _cleanup_secret_ struct vs_secret *secret = NULL;
        TPM2B_NAME kname;
        int r = vs_authority_key_name(auth, &kname);
        if (r >= 0)
                r = authnv_nv_name(auth->nv_index, &kname, &tok.nv_name);
        if (r >= 0)
                r = vs_tpm_seal_updatable(t, &tok.nv_name, a->pcrs, &secret, &tok.sealed);
        struct json_object *o = NULL;
        if (r >= 0)
                r = vs_key_updatable_token_make(&tok, &o);
        if (r < 0)
                return r;
        const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        r = helper_write_file(a->dir, "token.json", js, strlen(js));
        json_object_put(o);
        if (r >= 0)
                r = helper_write_file(a->dir, "secret", secret->data, secret->len);
        if (r >= 0)
                printf("sealed policy %s\n", js ? "ok" : "");
        return r;
}

static int unseal(struct vs_tpm *t, const struct args *a) {
        char path[4096];
        _cleanup_free_ char *sigjs = NULL;
        size_t sig_len = 0;
        struct vs_key_run run = {};
        struct vs_updatable_token tok;
        struct pcrsig sig = {};
        EVP_PKEY *key = NULL;
        snprintf(path, sizeof(path), "%s/token.json", a->dir);
        struct json_object *o = json_object_from_file(path);
        int r = o ? vs_key_updatable_token_parse(&run, 0, o, &tok) : -EINVAL;
        json_object_put(o);
        if (r < 0) {
                fprintf(stderr, "%s\n", run.reason);
                return r;
        }
        if (a->n_keys != 1 || load_key(a->keys[0], &key) < 0 || helper_read_file(a->pcrsig, &sigjs, &sig_len) < 0 ||
            pcrsig_parse(sigjs, sig_len, "sha256", &sig) < 0)
                return -EINVAL;
        struct vs_tpm_authnv nv = {};
        if (a->nv_name) {
                /* --nv-name: read the index as if this were its Name, then pretend it is the token's, so that
                 * only the TPM (PolicyAuthorizeNV binds the real Name) can refuse */
                TPM2B_NAME n = { .size = 34 };
                r = policy_unhex(a->nv_name, n.name, n.size) < 0 ? -EINVAL : vs_tpm_nv_read(t, tok.nv_index, &n, &nv);
                nv.name = tok.nv_name;
        } else
                r = vs_tpm_nv_read(t, tok.nv_index, &tok.nv_name, &nv);
        int ok = 0;
        for (int i = 0; r >= 0 && i < a->count; i++) {
                _cleanup_secret_ struct vs_secret *out = NULL;
                r = vs_tpm_unseal_updatable(t, &tok.sealed, &nv, key, &sig, &out);
                if (r >= 0 && helper_write_file(a->dir, "unsealed", out->data, out->len) < 0)
                        r = -EIO;
                ok += r >= 0;
        }
        vs_tpm_nv_done(t, &nv);
        pcrsig_done(&sig);
        EVP_PKEY_free(key);
        if (r >= 0)
                printf("unsealed %d\n", ok);
        return r;
}

static int trial(struct vs_tpm *t, struct vs_authority *auth) {
        struct vs_tpm_authnv nv = {};
        uint8_t sw[3][32], tpm[3][32];
        TPM2B_NAME kname, name;
        int r = read_set(t, auth, &nv);
        if (r < 0)
                return r;
        r = vs_authority_key_name(auth, &kname);
        if (r >= 0)
                r = authnv_write_policy(&kname, sw[0]);
        if (r >= 0)
                r = authnv_policy(&nv.set, sw[1]);
        if (r >= 0)
                r = authnv_nv_name(auth->nv_index, &kname, &name);
        if (r >= 0)
                r = policy_authorize_nv(sw[2], &name);
        if (r >= 0)
                r = vs_tpm_updatable_trial(t, auth->write_key, &nv.set, auth->nv_index, tpm[0], tpm[1], tpm[2]);
        vs_tpm_nv_done(t, &nv);
        static const char *const what[3] = { "write", "policy", "sealed" };
        for (int i = 0; r >= 0 && i < 3; i++) {
                char a[65], b[65];
                policy_hex(sw[i], 32, a);
                policy_hex(tpm[i], 32, b);
                printf("%s %s %s\n", what[i], a, b);
        }
        if (r >= 0) {
                char h[69];
                policy_hex(name.name, name.size, h);
                printf("name %s\n", h);
        }
        return r;
}

static const char *errname(int r) {
        switch (-r) {
        case ENODEV: return "ENODEV";
        case ENOENT: return "ENOENT";
        case ENODATA: return "ENODATA";
        case ENOKEY: return "ENOKEY";
        case EKEYREJECTED: return "EKEYREJECTED";
        case EBADMSG: return "EBADMSG";
        case EACCES: return "EACCES";
        case EEXIST: return "EEXIST";
        case EPERM: return "EPERM";
        case ENOSPC: return "ENOSPC";
        case EINVAL: return "EINVAL";
        default: return "EIO";
        }
}

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, 'S' }, { "dir", required_argument, NULL, 'd' },
                { "pcrsig", required_argument, NULL, 's' }, { "key", required_argument, NULL, 'k' },
                { "state", required_argument, NULL, 'v' }, { "handle", required_argument, NULL, 'H' },
                { "pcrs", required_argument, NULL, 'p' }, { "count", required_argument, NULL, 'n' },
                { "nv-name", required_argument, NULL, 'N' }, { "debug", no_argument, NULL, 'D' }, {}
        };
        int c;
        *a = (struct args) { .pcrs = 1u << 7, .count = 1 };
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'S': a->state_dir = optarg; break;
                case 'd': a->dir = optarg; break;
                case 's': a->pcrsig = optarg; break;
                case 'k': if (a->n_keys < 8) a->keys[a->n_keys++] = optarg; break;
                case 'v': if (a->n_states < 8) a->states[a->n_states++] = optarg; break;
                case 'H': a->handle = (uint32_t) strtoul(optarg, NULL, 0); break;
                case 'p': a->pcrs = streq(optarg, "none") ? 0 : 1u << atoi(optarg); break;
                case 'n': a->count = atoi(optarg); break;
                case 'N': a->nv_name = optarg; break;
                case 'D': vs_log_set_level(VS_LOG_DEBUG); break;
                default: return -EINVAL;
                }
        }
        return 0;
}

static int run(struct vs_tpm *t, const char *cmd, const struct args *a) {
        struct vs_authority auth = {};
        bool written = false;
        int r;
        if (streq(cmd, "unseal"))
                return unseal(t, a);
        if (!a->state_dir)
                return -EINVAL;
        if (streq(cmd, "init") || streq(cmd, "set"))
                r = init(t, a, &auth, &written);
        else
                r = vs_authority_load(a->state_dir, &auth);
        if (r >= 0) {
                if (streq(cmd, "set"))
                        r = set_exactly(t, a, &auth, written);
                else if (streq(cmd, "add-state") || streq(cmd, "retire") || streq(cmd, "add-key") ||
                         streq(cmd, "remove-key"))
                        r = edit_set(t, cmd, a, &auth);
                else if (streq(cmd, "show"))
                        r = show(t, &auth);
                else if (streq(cmd, "seal"))
                        r = seal(t, a, &auth);
                else if (streq(cmd, "trial"))
                        r = trial(t, &auth);
                else if (streq(cmd, "undefine"))
                        r = vs_tpm_nv_undefine(t, auth.nv_index, auth.write_key);
                else if (!streq(cmd, "init"))
                        r = -EINVAL;
        }
        if (r >= 0 && streq(cmd, "init"))
                printf("handle 0x%08x\n", auth.nv_index);
        vs_authority_done(&auth);
        return r;
}

int main(int argc, char **argv) {
        struct args a;
        if (argc < 2 || parse_args(argc - 1, argv + 1, &a) < 0) {
                fprintf(stderr, "usage: tpm-updatable-helper COMMAND [OPTIONS] (see the source)\n");
                return 2;
        }
        _cleanup_tpm_ struct vs_tpm *t = NULL;
        int r = vs_tpm_open(NULL, 0, &t);
        if (r >= 0)
                r = run(t, argv[1], &a);
        if (r < 0) {
                printf("error: %s\n", errname(r));
                return 1;
        }
        return 0;
}
