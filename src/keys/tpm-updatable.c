/* tpm-updatable.c: the updatable `tpm` kind (`tpm: {updatable: true}`, docs/tpm-updatable.md): the passphrase
 * is base64 of 32 bytes sealed once to PolicyAuthorizeNV(volseal's NV index), stored in a
 * `volseal-tpm2-updatable` token; which PCR-policy keys and literal-PCR states unseal it is the index's
 * authorized set, which the authority on STATE alone writes.
 * Promise: shares the tpm kind's run (one TPM context, one signed policy); the index is read once per run;
 * enrolment needs --state-dir (the authority) and the gates of a tpm slot plus SecureBoot on, and writes only
 * into an index never written; get_key returns -ENOKEY (sync seals anew) only when the slot's index is lost
 * (removed, redefined, the TPM cleared) and the authority is at hand, never for a PCR 7 or a key that is
 * not authorized: that is prepared (volseal tpm prepare), never re-sealed. */
#include "keys.h"
#include "token-updatable.h"
#include "tpm-run.h"
#include "authorized-set.h"
#include "encoding.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EXPONENT_DEFAULT 65537u

struct updatable_state {
        struct vs_authset set;       /* set.nv: the one index read in this run; set.authority when loaded */
        bool have_nv;
        bool have_authority;
        uint32_t failed_handle;      /* an index that could not be read in this run (its error below) */
        int failed_err;
        char failed_reason[512];
};

static struct updatable_state *ustate(struct vs_key_run *run) {
        struct updatable_state *u = run->updatable_state;
        if (!u && (u = calloc(1, sizeof(*u))))
                u->set.nv.tr = VS_TPM_NV_NOT_OPEN;
        return run->updatable_state = u;
}

static void forget_index(struct tpm_state *st, struct updatable_state *u) {
        vs_authset_done(st->tpm, &u->set);
        u->set.nv.tr = VS_TPM_NV_NOT_OPEN;
        u->have_nv = u->have_authority = false;
}

/* The booted PCR key's Name (the index lists Names; 65537 written out, as enrolment authorizes it). */
static int booted_key_name(struct vs_key_run *run, struct tpm_state *st, TPM2B_NAME *ret) {
        TPM2B_PUBLIC pub;
        int r = policy_rsa_public(st->key, EXPONENT_DEFAULT, &pub);
        if (r >= 0)
                r = policy_public_name(&pub, ret);
        return r < 0 ? vs_key_reason(run, r, "the PCR public key cannot be used: it must be an RSA key") : 0;
}

/* The authority on STATE and its index, once per run. -ENOENT (no authority yet) is not an error. */
static int load_authority(struct vs_key_run *run, struct tpm_state *st, struct updatable_state *u) {
        if (u->have_authority)
                return 0;
        forget_index(st, u);
        int r = vs_authset_load(st->tpm, run->state_dir, &u->set);
        if (r == -ENOENT && !u->set.authority.write_key)
                return -ENOENT;
        if (r < 0)
                return vs_key_reason(run, r, "the authority in %s and its NV index: %s", run->state_dir,
                                     vs_tpm_last_error(st->tpm)[0] ? vs_tpm_last_error(st->tpm) : strerror(-r));
        u->have_authority = u->have_nv = true;
        return 0;
}

/* 1 when the index's set authorizes the booted key and state for literal PCRs `pcrs`, else 0 with why. */
static int booted_authorized(struct vs_key_run *run, struct tpm_state *st, const struct authnv_set *set, uint32_t pcrs) {
        TPM2B_NAME key;
        uint8_t state[AUTHNV_STATE_BYTES];
        size_t len = 0;
        int r = booted_key_name(run, st, &key);
        if (r >= 0)
                r = vs_authset_current_state(st->tpm, pcrs, state, &len);
        if (r < 0)
                return r;
        if (set->pcr_mask != pcrs)
                return vs_key_reason(run, 0, "the node's NV index authorizes states of other literal PCRs (0x%06x) than "
                                     "this key's (0x%06x)", set->pcr_mask, pcrs), 0;
        if (authnv_find_key(set, &key) < 0)
                return vs_key_reason(run, 0, "the booted UKI's PCR-policy key is not authorized in the node's NV index: "
                                     "enrolment waits (volseal tpm prepare --add-pcr-public-key)"), 0;
        if (pcrs && authnv_find_state(set, state, len) < 0)
                return vs_key_reason(run, 0, "the booted PCR state is not authorized in the node's NV index: enrolment "
                                     "waits (volseal tpm prepare --pcr)"), 0;
        return 1;
}

static int updatable_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        if (!run->state_dir)
                return vs_key_reason(run, 0, "an updatable tpm slot is enrolled with its authority on STATE: it waits "
                                     "for a run with --state-dir (STATE mounted)"), 0;
        struct tpm_state *st = tpm_run_state(run);
        struct updatable_state *u = ustate(run);
        if (!st || !u)
                return -ENOMEM;
        int r = tpm_run_enrol_gate(run, st, "an updatable slot authorizes SecureBoot states only");
        if (r <= 0)
                return r;
        r = load_authority(run, st, u);
        /* No authority yet: the first updatable slot of the node creates it and the index. Its index gone, or
         * defined and never written (an enrolment cut between the two TPM writes): vs_authset_enrol defines
         * and writes it, as it does for the first slot. */
        if (r == -ENOENT || r == -ENODATA)
                return 1;
        if (r < 0)
                return r;
        return booted_authorized(run, st, &u->set.nv.set, key->tpm_pcrs);
}

static int updatable_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                         unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        struct tpm_state *st = tpm_run_state(run);
        struct updatable_state *u = ustate(run);
        if (!st || !u)
                return -ENOMEM;
        if (!run->state_dir)
                return vs_key_reason(run, EAGAIN, "an updatable tpm slot needs --state-dir");
        TPM2B_NAME kname;
        int r = tpm_run_ready(run, st, true);
        if (r >= 0)
                r = booted_key_name(run, st, &kname);
        if (r < 0)
                return r;
        forget_index(st, u);
        r = vs_authset_enrol(st->tpm, run->state_dir, key->tpm_pcrs, &kname, &u->set);
        if (r < 0)
                return vs_key_reason(run, r, "cannot set up the NV index of updatable slots: %s",
                                     vs_tpm_last_error(st->tpm)[0] ? vs_tpm_last_error(st->tpm) : strerror(-r));
        u->have_authority = u->have_nv = true;
        r = booted_authorized(run, st, &u->set.nv.set, key->tpm_pcrs);
        if (r <= 0)
                return r < 0 ? r : -EKEYREJECTED;
        struct vs_updatable_token tok = { .nv_index = u->set.authority.nv_index, .nv_name = u->set.nv_name };
        _cleanup_secret_ struct vs_secret *secret = NULL;
        r = vs_tpm_seal_updatable(st->tpm, &tok.nv_name, key->tpm_pcrs, &secret, &tok.sealed);
        if (r < 0)
                return vs_key_reason(run, r, "cannot seal a key in the TPM: %s", vs_tpm_last_error(st->tpm));
        r = vs_key_updatable_token_make(&tok, ret_token);
        if (r < 0)
                return vs_key_reason(run, r, "cannot build the %s token: %s", VS_UPDATABLE_TOKEN_TYPE, strerror(-r));
        r = vs_base64_encode_secret(secret, ret_pass);
        if (r < 0) {
                json_object_put(*ret_token);
                *ret_token = NULL;
        }
        return r;
}

/* The slot's index, read once per run (the one the authority names when it was loaded). */
static int index_for(struct vs_key_run *run, struct tpm_state *st, struct updatable_state *u,
                     const struct vs_updatable_token *tok, const struct vs_tpm_authnv **ret) {
        const struct vs_tpm_authnv *nv = &u->set.nv;
        if (u->have_nv && nv->handle == tok->nv_index && nv->name.size == tok->nv_name.size &&
            memcmp(nv->name.name, tok->nv_name.name, nv->name.size) == 0) {
                *ret = nv;
                return 0;
        }
        if (u->failed_err < 0 && u->failed_handle == tok->nv_index)
                return vs_key_reason(run, u->failed_err, "%s", u->failed_reason);
        forget_index(st, u);
        int r = vs_tpm_nv_read(st->tpm, tok->nv_index, &tok->nv_name, &u->set.nv);
        if (r < 0) {
                u->set.nv.tr = VS_TPM_NV_NOT_OPEN;
                u->failed_handle = tok->nv_index;
                u->failed_err = r;
                snprintf(u->failed_reason, sizeof(u->failed_reason), "%s", vs_tpm_last_error(st->tpm));
                return vs_key_reason(run, r, "%s", u->failed_reason);
        }
        u->have_nv = true;
        *ret = &u->set.nv;
        return 0;
}

/* A failed unseal: -ENOKEY (sync seals anew) only when the slot lost its index (removed, redefined, never
 * written, or the TPM cleared) and the authority on STATE can restore it; never -ENOKEY otherwise. */
static int refuse(struct vs_key_run *run, unsigned slot, int r) {
        char why[sizeof(run->reason)];
        snprintf(why, sizeof(why), "%s", run->reason);
        bool lost = r == -ENOENT || r == -ENODATA || r == -ENOKEY;
        if (lost && run->state_dir && !run->no_reseal)
                return vs_key_reason(run, ENOKEY, "keyslot %u: %s; sealing anew with the authority on STATE", slot, why);
        if (lost)
                return vs_key_reason(run, EKEYREVOKED, "keyslot %u: %s%s", slot, why,
                                     run->no_reseal ? "" : " (a run with --state-dir seals it anew)");
        return vs_key_reason(run, r, "keyslot %u: %s", slot, why);
}

static int updatable_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                         unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        struct tpm_state *st = tpm_run_state(run);
        struct updatable_state *u = ustate(run);
        if (!st || !u)
                return -ENOMEM;
        struct vs_updatable_token tok;
        int r = vs_key_updatable_token_parse(run, slot, token, &tok);
        if (r < 0)
                return r;
        r = tpm_run_ready(run, st, false);
        if (r < 0)
                return r;
        const struct vs_tpm_authnv *nv = NULL;
        r = index_for(run, st, u, &tok, &nv);
        _cleanup_secret_ struct vs_secret *secret = NULL;
        if (r >= 0) {
                r = vs_tpm_unseal_updatable(st->tpm, &tok.sealed, nv, st->key, &st->sig, &secret);
                if (r < 0)
                        vs_key_reason(run, r, "%s", vs_tpm_last_error(st->tpm));
        }
        if (r < 0)
                return refuse(run, slot, r);
        return tpm_run_passphrase(run, slot, secret, ret_pass);
}

int vs_key_updatable_settle(struct vs_key_run *run) {
        if (!run->state_dir)
                return 0;
        struct tpm_state *st = tpm_run_state(run);
        struct updatable_state *u = ustate(run);
        if (!st || !u)
                return -ENOMEM;
        int r = tpm_run_open(run, st, false);
        if (r >= 0)
                r = load_authority(run, st, u);
        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = vs_authset_retire(st->tpm, &u->set);
        if (r < 0 && !run->reason[0])
                vs_key_reason(run, r, "%s", vs_tpm_last_error(st->tpm));
        if (r < 0)
                log_error("updatable tpm slots: superseded states not retired: %s", run->reason);
        return r;
}

int vs_key_updatable_view(struct vs_key_run *run, uint32_t *ret_handle, struct authnv_set *ret) {
        const struct updatable_state *u = run->updatable_state;
        if (!u || !u->have_nv)
                return -ENOENT;
        *ret_handle = u->set.nv.handle;
        *ret = u->set.nv.set;
        return 0;
}

static void updatable_run_done(struct vs_key_run *run) {
        struct updatable_state *u = run->updatable_state;
        if (!u)
                return;
        struct tpm_state *st = run->kind_state[VS_KEY_TPM];
        vs_authset_done(st ? st->tpm : NULL, &u->set);
        free(u);
        run->updatable_state = NULL;
}

const struct vs_key_ops vs_key_ops_tpm_updatable = {
        .kind = VS_KEY_TPM,
        .name = "tpm-updatable",
        .token_type = VS_UPDATABLE_TOKEN_TYPE,
        .minimal_pbkdf = true,
        .can_enroll = updatable_can_enroll,
        .new_key = updatable_new,
        .get_key = updatable_get,
        .run_done = updatable_run_done,
};
