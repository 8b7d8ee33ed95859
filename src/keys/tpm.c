/* tpm.c: the `tpm` kind (docs/tpm.md): the passphrase is base64 of 32 bytes sealed in the TPM to
 * PolicyAuthorize(PCR key) + PolicyPCR(configured, default [7]), stored in a `talos-tpm2` token.
 * Promise: one TPM context per run (run->kind_state), the SRK and PCR key loaded once; enrolment only after
 * a measured boot of a signed UKI; get_key returns -ENOKEY (sync replaces the slot with a fresh seal) only
 * under the re-seal gate (docs/tpm.md), never for a modified UKI or a capped PCR 11. */
#include "keys.h"
#include "cleanup.h"
#include "token.h"
#include "tpm-run.h"
#include "efi.h"
#include "encoding.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "tpm/tpm.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_TYPE "talos-tpm2"
#define PCR11 (1u << 11)
#define FIELD_PK "volseal_pk_sha256"
#define FIELD_KEK "volseal_kek_sha256"
#define FIELD_DB "volseal_db_sha256"

void vs_key_tpm_force_reseal(struct vs_key_run *run) {
        struct tpm_state *st = tpm_run_state(run);
        if (st)
                st->force_reseal = true;
}

/* ---- EFI: SecureBoot modes and SHA-256 of PK, KEK, db ---- */

struct sb_hashes {
        bool ok;                     /* SecureBoot = 1 and PK, KEK, db all present */
        char hex[3][65];             /* PK, KEK, db */
};

static void read_sb_hashes(struct sb_hashes *h) {
        *h = (struct sb_hashes) {};
        struct pcr_sb_vars vars = {};
        if (vs_efi_read_secureboot_vars(&vars) < 0)
                return;
        static const enum pcr_sb_var which[3] = { PCR_SB_PK, PCR_SB_KEK, PCR_SB_DB };
        bool ok = vars.v[PCR_SB_SECUREBOOT].present && vars.v[PCR_SB_SECUREBOOT].size >= 1 &&
                  vars.v[PCR_SB_SECUREBOOT].data[0] == 1;
        for (int i = 0; i < 3 && ok; i++) {
                if (!vars.v[which[i]].present) {
                        ok = false;
                        break;
                }
                uint8_t d[32];
                unsigned n = 0;
                if (!EVP_Digest(vars.v[which[i]].data, vars.v[which[i]].size, d, &n, EVP_sha256(), NULL)) {
                        ok = false;
                        break;
                }
                vs_hex_encode_to(d, 32, h->hex[i]);
        }
        h->ok = ok;
        pcr_sb_vars_free(&vars);
}

/* A base64 field of a talos-tpm2 token: TPM2B blobs of at most a few KiB. */
#define TOKEN_FIELD_MAX 16384

/* ---- the token ---- */

static const char *ud_string(struct json_object *ud, const char *field) {
        struct json_object *o;
        if (!json_object_object_get_ex(ud, field, &o) || !json_object_is_type(o, json_type_string))
                return NULL;
        return json_object_get_string(o);
}

int vs_key_tpm_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token, struct vs_tpm_token *ret) {
        *ret = (struct vs_tpm_token) {};
        struct json_object *ud;
        if (!token || !json_object_object_get_ex(token, "UserData", &ud) || !json_object_is_type(ud, json_type_object))
                return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token has no UserData object", slot);
        static const char *const need[] = { "sealed_blob_private", "sealed_blob_public", "policy_hash" };
        for (size_t i = 0; i < ELEMENTSOF(need); i++)
                if (!ud_string(ud, need[i]))
                        return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token %s UserData.%s%s", slot,
                                             json_object_object_get_ex(ud, need[i], NULL) ? "has a non-string" : "lacks", need[i],
                                             json_object_object_get_ex(ud, need[i], NULL) ? " (wrong field type)" : "");
        _cleanup_free_ uint8_t *b = NULL;
        size_t n = 0;
        int r = vs_base64_decode(ud_string(ud, "sealed_blob_private"), TOKEN_FIELD_MAX, &b, &n);
        if (r >= 0)
                r = vs_tpm_parse_private(b, n, &ret->sealed.priv);
        if (r < 0)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token's sealed_blob_private is not a TPM2B_PRIVATE in base64", slot);
        free(TAKE_PTR(b));
        r = vs_base64_decode(ud_string(ud, "sealed_blob_public"), TOKEN_FIELD_MAX, &b, &n);
        if (r >= 0)
                r = vs_tpm_parse_public(b, n, &ret->sealed.pub);
        if (r < 0)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token's sealed_blob_public is not a TPM2B_PUBLIC in base64", slot);
        free(TAKE_PTR(b));
        r = vs_base64_decode(ud_string(ud, "policy_hash"), 32, &b, &n);
        if (r < 0 || n != 32)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token's policy_hash is not 32 bytes in base64", slot);
        memcpy(ret->sealed.policy_hash, b, 32);
        free(TAKE_PTR(b));
        const char *kn = ud_string(ud, "key_name");
        if (kn && kn[0]) {
                r = vs_base64_decode(kn, TOKEN_FIELD_MAX, &b, &n);
                if (r >= 0)
                        r = vs_tpm_parse_name(b, n, &ret->sealed.srk_name);
                if (r < 0)
                        return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token's key_name is not a TPM2B_NAME in base64", slot);
        }
        /* pcrs: the literal PCRs, PCR 11 included, bound after PolicyAuthorize (Talos 1.12+: encryption_version
         * set). A token without encryption_version and pubkey_pcrs was written before 1.12: pcrs [11] there
         * meant PolicyAuthorize (PCR 11 through the signed policy) + PolicyPCR(7), any other list binds no
         * literal PCR (internal/pkg/secureboot/tpm2/unseal.go). */
        bool versioned = ud_string(ud, "encryption_version") != NULL;
        struct json_object *pk = NULL;
        bool has_pubkey_pcrs = json_object_object_get_ex(ud, "pubkey_pcrs", &pk) && json_object_is_type(pk, json_type_array) &&
                               json_object_array_length(pk) > 0;
        uint32_t mask = 0;
        size_t n_listed = 0;
        struct json_object *pcrs;
        if (json_object_object_get_ex(ud, "pcrs", &pcrs) && json_object_is_type(pcrs, json_type_array)) {
                n_listed = json_object_array_length(pcrs);
                for (size_t i = 0; i < n_listed; i++) {
                        int64_t p = json_object_get_int64(json_object_array_get_idx(pcrs, i));
                        if (p < 0 || p >= VS_TPM_PCR_COUNT)
                                return vs_key_reason(run, EBADMSG, "keyslot %u: the talos-tpm2 token names PCR %lld", slot, (long long) p);
                        mask |= 1u << p;
                }
        }
        if (!versioned)
                mask = !has_pubkey_pcrs && n_listed == 1 && mask == PCR11 ? 1u << 7 : 0;
        ret->sealed.pcr_mask = mask;
        const char *h[3] = { ud_string(ud, FIELD_PK), ud_string(ud, FIELD_KEK), ud_string(ud, FIELD_DB) };
        ret->has_hashes = h[0] && h[1] && h[2] && strlen(h[0]) == 64 && strlen(h[1]) == 64 && strlen(h[2]) == 64;
        for (int i = 0; i < 3 && ret->has_hashes; i++)
                memcpy(ret->hex[i], h[i], 65);
        return 0;
}

int vs_key_tpm_token_check(struct vs_key_run *run, unsigned slot, struct json_object *token) {
        struct vs_tpm_token pt;
        return vs_key_tpm_token_parse(run, slot, token, &pt);
}

static int add_b64(struct json_object *o, const char *field, const uint8_t *p, size_t n) {
        char *s = vs_base64_encode(p, n);
        if (!s)
                return -ENOMEM;
        json_object_object_add(o, field, json_object_new_string(s));
        free(s);
        return 0;
}

int vs_key_tpm_token_make(unsigned slot, const struct vs_tpm_token *tt, struct json_object **ret) {
        const struct vs_tpm_sealed *sd = &tt->sealed;
        _cleanup_free_ uint8_t *priv = NULL, *pub = NULL, *name = NULL;
        size_t priv_len, pub_len, name_len;
        int r = vs_tpm_blob_private(&sd->priv, &priv, &priv_len);
        if (r >= 0)
                r = vs_tpm_blob_public(&sd->pub, &pub, &pub_len);
        if (r >= 0)
                r = vs_tpm_blob_name(&sd->srk_name, &name, &name_len);
        if (r < 0)
                return r;
        _cleanup_json_ struct json_object *ud = json_object_new_object();
        struct json_object *ks = json_object_new_array();
        json_object_array_add(ks, json_object_new_int((int) slot));
        json_object_object_add(ud, "keyslots", ks);
        r = add_b64(ud, "sealed_blob_private", priv, priv_len);
        if (r >= 0)
                r = add_b64(ud, "sealed_blob_public", pub, pub_len);
        if (sd->pcr_mask) {
                struct json_object *pcrs = json_object_new_array();
                for (int i = 0; i < VS_TPM_PCR_COUNT; i++)
                        if (sd->pcr_mask & (1u << i))
                                json_object_array_add(pcrs, json_object_new_int(i));
                json_object_object_add(ud, "pcrs", pcrs);
        }
        struct json_object *pk = json_object_new_array();
        json_object_array_add(pk, json_object_new_int(11));
        json_object_object_add(ud, "pubkey_pcrs", pk);
        json_object_object_add(ud, "alg", json_object_new_string("sha256"));
        json_object_object_add(ud, "encryption_version", json_object_new_string("1"));
        if (r >= 0)
                r = add_b64(ud, "policy_hash", sd->policy_hash, 32);
        if (r >= 0)
                r = add_b64(ud, "key_name", name, name_len);
        if (tt->has_hashes) {
                json_object_object_add(ud, FIELD_PK, json_object_new_string(tt->hex[0]));
                json_object_object_add(ud, FIELD_KEK, json_object_new_string(tt->hex[1]));
                json_object_object_add(ud, FIELD_DB, json_object_new_string(tt->hex[2]));
        }
        if (r < 0)
                return r;
        struct json_object *t = json_object_new_object();
        json_object_object_add(t, "type", json_object_new_string(TOKEN_TYPE));
        json_object_object_add(t, "UserData", TAKE_PTR(ud));
        *ret = t;
        return 0;
}

/* ---- the ops ---- */

static int tpm_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        struct tpm_state *st = tpm_run_state(run);
        if (!st)
                return -ENOMEM;
        return tpm_run_enrol_gate(run, st, key->tpm_check_secureboot ? "checkSecurebootStatusOnEnroll" : NULL);
}

static int tpm_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                   unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        struct tpm_state *st = tpm_run_state(run);
        if (!st)
                return -ENOMEM;
        int r = tpm_run_ready(run, st, true);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *secret = NULL;
        struct vs_tpm_sealed sd;
        r = vs_tpm_seal(st->tpm, st->key, key->tpm_pcrs, &secret, &sd);
        if (r < 0)
                return vs_key_reason(run, r, "cannot seal a key in the TPM: %s", vs_tpm_last_error(st->tpm));
        struct sb_hashes h;
        read_sb_hashes(&h);
        struct vs_tpm_token tt = { .sealed = sd, .has_hashes = h.ok };
        memcpy(tt.hex, h.hex, sizeof(tt.hex));
        _cleanup_json_ struct json_object *token = NULL;
        r = vs_key_tpm_token_make(slot, &tt, &token);
        if (r < 0)
                return vs_key_reason(run, r, "cannot build the talos-tpm2 token: %s", strerror(-r));
        _cleanup_secret_ struct vs_secret *pass = NULL;
        r = vs_base64_encode_secret(secret, &pass);
        if (r < 0)
                return r;
        *ret_pass = TAKE_PTR(pass);
        *ret_token = TAKE_PTR(token);
        return 0;
}

/* The re-seal gate (docs/tpm.md, "The re-seal gate"), for a slot whose unseal failed because of PCR 7 / the policy or a
 * cleared TPM. Returns NULL when sync may re-seal, else why not. */
static const char *reseal_refused(const struct vs_tpm_token *pt) {
        bool sb = false, setup = false;
        if (vs_efi_read_modes(&sb, &setup) < 0)
                sb = false;
        if (!sb)
                return "SecureBoot is not enabled";
        if (setup)
                return "the firmware is in SetupMode";
        if (!pt->has_hashes)
                return "the token records no PK/KEK/db hashes (not written by volseal)";
        struct sb_hashes h;
        read_sb_hashes(&h);
        if (!h.ok)
                return "PK, KEK or db cannot be read";
        if (!streq(h.hex[0], pt->hex[0]))
                return "PK changed since enrolment";
        if (!streq(h.hex[1], pt->hex[1]))
                return "KEK changed since enrolment";
        if (!streq(h.hex[2], pt->hex[2]))
                return "db changed since enrolment";
        return NULL;
}

static int tpm_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                   unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        struct tpm_state *st = tpm_run_state(run);
        if (!st)
                return -ENOMEM;
        struct vs_tpm_token pt;
        int r = vs_key_tpm_token_parse(run, slot, token, &pt);
        if (r < 0)
                return r;
        r = tpm_run_ready(run, st, false);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *secret = NULL;
        r = vs_tpm_unseal(st->tpm, &pt.sealed, st->key, &st->sig, &secret);
        if (r >= 0) {
                return tpm_run_passphrase(run, slot, secret, ret_pass);
        }
        char why[768];
        snprintf(why, sizeof(why), "%s", vs_tpm_last_error(st->tpm));
        if (run->no_reseal)
                return vs_key_reason(run, r, "keyslot %u: %s", slot, why);
        /* Which failures a re-seal can heal: a cleared TPM (SRK changed), or PCR 7 / the policy while PCR 11 is
         * still one the signed policy covers. Never a modified UKI or a capped PCR 11. */
        bool healable = false;
        if (r == -ENOKEY)
                healable = true;
        else if (r == -EKEYREJECTED) {
                bool sig = false, blank = false;
                if (tpm_run_pcr11_signed(st, &sig, &blank) >= 0 && sig)
                        healable = true;
        }
        if (st->force_reseal)
                return vs_key_reason(run, ENOKEY, "keyslot %u: %s; re-sealing (--force)", slot, why);
        if (!healable)
                return vs_key_reason(run, r == -ENOKEY ? EKEYREVOKED : r, "keyslot %u: %s", slot, why);
        const char *refused = reseal_refused(&pt);
        if (refused)
                return vs_key_reason(run, r == -ENOKEY ? EKEYREVOKED : r,
                                     "keyslot %u: %s; not re-sealed automatically: %s (volseal tpm reseal --force re-seals)",
                                     slot, why, refused);
        return vs_key_reason(run, ENOKEY, "keyslot %u: %s; re-sealing: SecureBoot is on and PK, KEK and db are unchanged", slot, why);
}

const struct vs_key_ops vs_key_ops_tpm = {
        .kind = VS_KEY_TPM,
        .name = "tpm",
        .token_type = TOKEN_TYPE,
        .minimal_pbkdf = true,
        .can_enroll = tpm_can_enroll,
        .new_key = tpm_new,
        .get_key = tpm_get,
        .run_done = tpm_run_free,
};
