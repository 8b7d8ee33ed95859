/* volume-sync.c: keyslot sync after an open (docs/operations.md "Keyslot sync"). The order of writes is the
 * power-safety argument: the key that opened the volume (slot S) is never touched, a changed slot is first
 * copied to a spare slot, tokens are written after their keyslot exists and removed right after it. */
#include "volume-sync.h"
#include "volume-keyslot.h"
#include "volume-report-internal.h"
#include "encoding.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define FINGERPRINT_PREFIX "volseal-sync:"
#define FINGERPRINT_SIZE 64

/* ---- the sync fingerprint (docs/operations.md "The sync fingerprint") ----
 * HMAC-SHA256 keyed with the volume key over: every configured key (slot, kind, lockToSTATE, kind options,
 * the passphrase of kinds that derive it without a token, the salt when locked) and the header's keyslot
 * set and tokens. Kept as "volseal-sync:<first 16 bytes hex>" in the LUKS2 header's subsystem field. Keyed
 * with the volume key, so the field is no offline oracle for a static passphrase. */
static int fingerprint_keys(const struct volume_sync *s, struct vs_secret *d) {
        int r = 0;
        for (size_t i = 0; r >= 0 && i < s->v->enc.n_keys; i++) {
                const struct vs_key_config *k = &s->v->enc.keys[i];
                char head[128];
                int n = snprintf(head, sizeof(head), "|slot=%u kind=%d lock=%d pcrs=%u sb=%d kms=", k->slot, (int) k->kind,
                                 k->lock_to_state, k->tpm_pcrs, k->tpm_check_secureboot);
                r = vs_secret_append(d, head, (size_t) n);
                if (r >= 0 && k->kms_endpoint)
                        r = vs_secret_append(d, k->kms_endpoint, strlen(k->kms_endpoint) + 1);
                const struct vs_key_ops *kind = vs_key_ops_for(k);
                if (r >= 0 && kind && !kind->token_type && !kind->human_held) {
                        _cleanup_secret_ struct vs_secret *pass = NULL;
                        r = vs_key_get(s->run, s->kv, k, k->slot, NULL, &pass);
                        if (r >= 0)
                                r = vs_secret_append(d, pass->data, pass->len);
                } else if (r >= 0 && k->lock_to_state) {
                        const struct vs_secret *salt;
                        r = vs_key_run_salt(s->run, &salt);
                        if (r >= 0)
                                r = vs_secret_append(d, salt->data, salt->len);
                }
        }
        return r;
}

static int fingerprint_header(const struct volume_sync *s, struct vs_secret *d) {
        int r = 0;
        for (unsigned slot = 0; r >= 0 && slot < VS_MAX_SLOTS; slot++) {
                char head[32];
                int n = snprintf(head, sizeof(head), "|ks%u=%d", slot, vs_luks_slot_active(s->l, slot));
                r = vs_secret_append(d, head, (size_t) n);
                struct json_object *tok = NULL;
                if (r >= 0 && vs_luks_token_get(s->l, slot, &tok) >= 0) {
                        const char *js = json_object_to_json_string_ext(tok, JSON_C_TO_STRING_PLAIN);
                        r = vs_secret_append(d, js, strlen(js));
                        json_object_put(tok);
                }
        }
        return r;
}

static int fingerprint(const struct volume_sync *s, char out[FINGERPRINT_SIZE]) {
        _cleanup_secret_ struct vs_secret *d = NULL;
        int r = vs_secret_new(4096, &d);
        if (r < 0)
                return r;
        r = vs_secret_append(d, "volseal-sync-v1", 16);
        if (r >= 0)
                r = fingerprint_keys(s, d);
        if (r >= 0)
                r = fingerprint_header(s, d);
        if (r < 0)
                return r;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        if (!HMAC(EVP_sha256(), s->vk->data, (int) s->vk->len, d->data, d->len, mac, &mac_len))
                return -EIO;
        int n = snprintf(out, FINGERPRINT_SIZE, "%s", FINGERPRINT_PREFIX);
        vs_hex_encode_to(mac, 16, out + n); /* 13 + 33 bytes of FINGERPRINT_SIZE */
        explicit_bzero(mac, sizeof(mac));
        return 0;
}

/* ---- the steps ---- */

/* A configured slot that failed while opening (a tpm slot after a dbx update) must be looked at again even
 * though config and header are unchanged: its key kind may ask for a re-seal. A kms slot is not: sync never
 * re-seals it, and asking a down or slow KMS again would cost a second timeout. */
static bool open_failed(const struct volume_sync *s) {
        for (size_t i = 0; i < s->v->enc.n_keys; i++) {
                const struct vs_key_config *k = &s->v->enc.keys[i];
                if (k->slot != s->opened && k->kind != VS_KEY_KMS && report_slot_is(s->rep, k->slot, VS_SLOT_FAILED))
                        return true;
        }
        return false;
}

/* Step 1: when the fingerprint in the header is the one of this config and header, nothing is verified:
 * every slot above the one that opened is reported not tried (a tpm slot behind a nodeID key must not read
 * as healthy). Returns true when the sync is done. */
static bool skip_by_fingerprint(const struct volume_sync *s) {
        char fp[FINGERPRINT_SIZE];
        const char *have = vs_luks_subsystem(s->l);
        if (s->full_sync || open_failed(s) || fingerprint(s, fp) < 0 || !have || !streq(have, fp))
                return false;
        for (size_t i = 0; i < s->v->enc.n_keys; i++) {
                const struct vs_key_config *k = &s->v->enc.keys[i];
                if (k->slot == s->opened)
                        continue;
                /* A kms slot tried before `opened` in this boot's open loop did not give its key (KMS down, slow,
                 * wrong secret): the fingerprint says its config is as synced, not that it works, so it is
                 * reported as the failure it was, as --full-sync would, never as "not-tried". */
                const struct vs_slot_report *e = report_slot(s->rep, k->slot, NULL);
                if (e && (e->status == VS_SLOT_FAILED || e->status == VS_SLOT_REJECTED)) {
                        report_slot_fail(s->rep, k->slot, kind_name(k), "%s",
                                         e->detail ? e->detail : vs_slot_status_name(e->status));
                        continue;
                }
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_NOT_TRIED, "slot %u opened the volume"
                                " (config and header unchanged since the last sync; --full-sync verifies)",
                                s->opened);
        }
        return true;
}

/* Step 2: tokens whose keyslot is gone are stale: dropped first (harmless, frees spare ids). */
static void drop_stale_tokens(const struct volume_sync *s) {
        for (unsigned slot = 0; slot < VS_MAX_SLOTS; slot++) {
                struct json_object *tok = NULL;
                if (vs_luks_slot_active(s->l, slot) || vs_luks_token_get(s->l, slot, &tok) < 0)
                        continue;
                log_info("volume %s: removing stale token %u (%s) that has no keyslot", s->v->id, slot,
                         token_type_of(tok) ?: "?");
                json_object_put(tok);
                if (vs_luks_token_set(s->l, slot, NULL, -1) < 0)
                        report_error(s->rep, VS_PROBLEM_SYNC, "volume %s: cannot remove stale token %u", s->v->id, slot);
        }
}

/* Whether an active configured slot opens with its key: 0 it does (reported ok), 1 it must be replaced (the
 * reason in `why`), -errno it failed (reported). */
static int check_slot(const struct volume_sync *s, const struct vs_key_config *k, char *why, size_t why_size) {
        struct vs_key_run *run = s->run;
        _cleanup_secret_ struct vs_secret *pass = NULL;
        /* A key the open loop could not make is not asked for again: its answer (a tpm slot's re-seal verdict,
         * a KMS timeout) holds for the run, and asking again would cost TPM commands or a second timeout. */
        int r = s->open_errors[k->slot];
        const char *reason = run->reason;
        if (r < 0) {
                const struct vs_slot_report *e = report_slot(s->rep, k->slot, NULL);
                reason = e && e->detail ? e->detail : "";
        } else
                r = key_for_slot(run, s->l, s->kv, k, &pass);
        if (r == -ENOMEDIUM) {
                /* a key the operator holds and did not give (recovery): not checked, which is no failure */
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_NOT_CHECKED, "%s", reason);
                return 0;
        }
        if (r == -ENOKEY) {
                /* copied: enrolling overwrites run->reason */
                snprintf(why, why_size, "%s", reason[0] ? reason : "its token is missing");
                return 1;
        }
        if (r < 0) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "%s", reason[0] ? reason : strerror(-r));
                return r;
        }
        r = vs_luks_test_passphrase(s->l, k->slot, pass);
        if (r == -EPERM && k->kind == VS_KEY_KMS) {
                /* The KMS answered a secret that does not open the slot: the KMS is wrong, not the config.
                 * Re-sealing would lose the slot; leave it. */
                report_slot_fail(s->rep, k->slot, kind_name(k), "the KMS returned a secret that does not open "
                                 "keyslot %u (left as it is)", k->slot);
                return r;
        }
        const struct vs_key_ops *kind = vs_key_ops_for(k);
        if (r == -EPERM && kind && kind->human_held) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "the %s key given does not open keyslot %u (left as it "
                                 "is: volseal never replaces a key the operator holds)", kind_name(k), k->slot);
                return r;
        }
        if (r == -EPERM) {
                snprintf(why, why_size, "the configured key does not open it (the config changed)");
                return 1;
        }
        if (r < 0) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "cannot test keyslot %u: %s", k->slot, strerror(-r));
                return r;
        }
        if (has_stale_token(s->l, k, NULL) && vs_luks_token_set(s->l, k->slot, NULL, -1) >= 0)
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_OK, "removed a stale token");
        else
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_OK, NULL);
        return 0;
}

/* A new key for slot k->slot, added to an empty keyslot or replacing the one there (`why` says why).
 * Returns true when it is in place. */
static bool enrol_slot(const struct volume_sync *s, const struct vs_key_config *k, bool add, const char *why) {
        struct vs_key_run *run = s->run;
        int r = vs_key_can_enroll(run, s->kv, k);
        if (r == 0) {
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_PENDING, "%s",
                                run->reason[0] ? run->reason : "cannot be enrolled yet");
                return false;
        }
        if (r < 0) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "%s", run->reason[0] ? run->reason : strerror(-r));
                return false;
        }
        _cleanup_secret_ struct vs_secret *pass = NULL;
        struct json_object *token = NULL;
        r = vs_key_new(run, s->kv, k, k->slot, &pass, &token);
        if (r < 0) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "cannot make a new key: %s",
                                 run->reason[0] ? run->reason : strerror(-r));
                return false;
        }
        struct vs_pbkdf pbkdf = pbkdf_for(&s->pbkdf, k);
        if (add) {
                (void) vs_luks_token_set(s->l, k->slot, NULL, -1);
                r = add_slot_with_token(s->l, k->slot, s->vk, pass, &pbkdf, token);
        } else
                r = replace_slot(s->l, k->slot, configured_mask(s->v) | (1u << s->opened), s->vk, pass, &pbkdf, token);
        json_object_put(token);
        if (r < 0) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "cannot %s keyslot %u: %s", add ? "add" : "replace",
                                 k->slot, strerror(-r));
                return false;
        }
        if (add)
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_ADDED, NULL);
        else
                report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_REPLACED, "%s", why);
        return true;
}

/* Step 3, for one configured slot: kept when its key opens it, else (re)enrolled. Returns true when the
 * slot is in place (not failed, not pending). */
static bool sync_slot(const struct volume_sync *s, const struct vs_key_config *k) {
        if (k->slot == s->opened) {
                if (has_stale_token(s->l, k, NULL) && vs_luks_token_set(s->l, k->slot, NULL, -1) >= 0)
                        report_slot_set(s->rep, k->slot, kind_name(k), VS_SLOT_OPENED, "removed a stale token");
                return true;
        }
        if (!vs_key_ops_for(k)) {
                report_slot_fail(s->rep, k->slot, kind_name(k), "key kind %s is not built into this volseal yet",
                                 kind_name(k));
                return false;
        }
        bool add = !vs_luks_slot_active(s->l, k->slot);
        char why[sizeof(s->run->reason)];
        if (!add) {
                int r = check_slot(s, k, why, sizeof(why));
                if (r <= 0)
                        return r == 0;
        }
        return enrol_slot(s, k, add, add ? NULL : why);
}

/* Step 4: slots the config no longer names go last, when every configured slot is in place. */
static bool remove_unconfigured_slots(const struct volume_sync *s) {
        bool complete = true;
        uint32_t configured = configured_mask(s->v);
        for (unsigned slot = 0; slot < VS_MAX_SLOTS; slot++) {
                if ((configured & (1u << slot)) || slot == s->opened || !vs_luks_slot_active(s->l, slot))
                        continue;
                struct json_object *tok = NULL;
                (void) vs_luks_token_get(s->l, slot, &tok);
                char kind[16];
                snprintf(kind, sizeof(kind), "%s", token_type_of(tok) ?: "unconfigured");
                json_object_put(tok);
                if (kill_slot_and_token(s->l, slot) < 0) {
                        report_slot_fail(s->rep, slot, kind, "cannot remove keyslot %u, which the config no longer names", slot);
                        complete = false;
                } else
                        report_slot_set(s->rep, slot, kind, VS_SLOT_REMOVED, "not in the config");
        }
        return complete;
}

/* Step 5: after a sync that left nothing failed or pending, the next boot may skip it. */
static void store_fingerprint(const struct volume_sync *s) {
        char fp[FINGERPRINT_SIZE];
        if (fingerprint(s, fp) < 0)
                return;
        const char *have = vs_luks_subsystem(s->l);
        if (!have || !streq(have, fp))
                (void) vs_luks_set_subsystem(s->l, fp);
}

void volume_sync(const struct volume_sync *in) {
        if (skip_by_fingerprint(in))
                return;
        /* Writes go to the device itself, after checking that its header is still the validated copy. */
        struct volume_sync s = *in;
        _cleanup_luks_ struct vs_luks *w = NULL;
        if (vs_luks_validated(in->l)) {
                if (vs_luks_load_for_write(in->l, &w) < 0) {
                        report_error(in->rep, VS_PROBLEM_SYNC, "volume %s: keyslots not synced: the LUKS2 header on %s "
                                     "changed after it was validated", in->v->id, in->rep->device);
                        return;
                }
                s.l = w;
        }
        size_t errors_before = s.rep->n_errors;
        drop_stale_tokens(&s);
        bool complete = true;
        for (size_t i = 0; i < s.v->enc.n_keys; i++)
                complete &= sync_slot(&s, &s.v->enc.keys[i]);
        complete &= remove_unconfigured_slots(&s);
        if (complete && s.rep->n_errors == errors_before)
                store_fingerprint(&s);
}
