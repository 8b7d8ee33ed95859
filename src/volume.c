/* volume.c: see volume.h. The order of keyslot writes in sync is the power-safety argument of design §4:
 * the key that opened the volume (slot S) is never touched, a changed slot is first copied to a spare slot,
 * tokens are written after their keyslot exists and removed right after it. */
#include "volume.h"
#include "blk.h"
#include "cli.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>

#define FINGERPRINT_PREFIX "volseal-sync:"

const char *vs_volume_state_name(enum vs_volume_state s) {
        static const char *const names[] = {
                [VS_VOLUME_OPENED] = "opened",
                [VS_VOLUME_FORMATTED] = "formatted",
                [VS_VOLUME_ALREADY_OPEN] = "already-open",
                [VS_VOLUME_WAITING_FOR_STATE] = "waiting-for-state",
                [VS_VOLUME_NOT_OPENED] = "not-opened",
                [VS_VOLUME_FOREIGN] = "foreign",
                [VS_VOLUME_NOT_FOUND] = "not-found",
                [VS_VOLUME_UNENCRYPTED] = "unencrypted",
                [VS_VOLUME_ERROR] = "error",
                [VS_VOLUME_EMPTY] = "empty",
                [VS_VOLUME_LUKS2] = "luks2",
        };
        return (size_t) s < ELEMENTSOF(names) && names[s] ? names[s] : "unknown";
}

int vs_exit_merge(int a, int b) {
        static const int rank[] = { [EXIT_OK] = 0, [EXIT_SYNC] = 1, [EXIT_ENV] = 2, [EXIT_NOT_OPENED] = 3,
                                    [EXIT_USAGE] = 4, [EXIT_NOT_IMPLEMENTED] = 5 };
        if (a < 0 || (size_t) a >= ELEMENTSOF(rank))
                return a;
        if (b < 0 || (size_t) b >= ELEMENTSOF(rank))
                return b;
        return rank[a] >= rank[b] ? a : b;
}

/* ---- report helpers ---- */

__attribute__((format(printf, 1, 0)))
static char *vfmt(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

static void push(char ***arr, size_t *n, char *s) {
        if (!s)
                return;
        char **a = realloc(*arr, (*n + 1) * sizeof(char *));
        if (!a) {
                free(s);
                return;
        }
        a[(*n)++] = s;
        *arr = a;
}

__attribute__((format(printf, 3, 4)))
static void rep_error(struct vs_volume_report *rep, int exit_code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        push(&rep->errors, &rep->n_errors, vfmt(fmt, ap));
        va_end(ap);
        rep->exit_code = vs_exit_merge(rep->exit_code, exit_code);
}

__attribute__((format(printf, 2, 3)))
static void rep_pending(struct vs_volume_report *rep, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        push(&rep->pending, &rep->n_pending, vfmt(fmt, ap));
        va_end(ap);
}

static struct vs_slot_report *slot_entry(struct vs_volume_report *rep, unsigned slot, const char *kind) {
        size_t i = 0;
        for (; i < rep->n_slots; i++)
                if (rep->slots[i].slot == slot)
                        break;
        if (i == rep->n_slots) {
                if (rep->n_slots == ELEMENTSOF(rep->slots))
                        return NULL;
                /* keep them sorted by slot */
                size_t at = 0;
                while (at < rep->n_slots && rep->slots[at].slot < slot)
                        at++;
                memmove(&rep->slots[at + 1], &rep->slots[at], (rep->n_slots - at) * sizeof(rep->slots[0]));
                rep->slots[at] = (struct vs_slot_report) { .slot = slot };
                rep->n_slots++;
                i = at;
        }
        if (kind)
                snprintf(rep->slots[i].kind, sizeof(rep->slots[i].kind), "%s", kind);
        return &rep->slots[i];
}

__attribute__((format(printf, 5, 6)))
static void slot_set(struct vs_volume_report *rep, unsigned slot, const char *kind, const char *status, const char *fmt, ...) {
        struct vs_slot_report *e = slot_entry(rep, slot, kind);
        if (!e)
                return;
        e->status = status;
        free(e->detail);
        e->detail = NULL;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                e->detail = vfmt(fmt, ap);
                va_end(ap);
        }
}

/* A slot that failed to sync: status "failed", an error line, exit 3. */
__attribute__((format(printf, 4, 5)))
static void slot_fail(struct vs_volume_report *rep, unsigned slot, const char *kind, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = vfmt(fmt, ap);
        va_end(ap);
        slot_set(rep, slot, kind, "failed", "%s", msg ? msg : "?");
        rep_error(rep, EXIT_SYNC, "volume %s slot %u: %s", rep->volume, slot, msg ? msg : "?");
        free(msg);
}

void vs_volume_report_done(struct vs_volume_report *rep) {
        free(rep->volume);
        free(rep->device);
        free(rep->mapper);
        free(rep->what);
        for (size_t i = 0; i < rep->n_slots; i++)
                free(rep->slots[i].detail);
        for (size_t i = 0; i < rep->n_errors; i++)
                free(rep->errors[i]);
        free(rep->errors);
        for (size_t i = 0; i < rep->n_pending; i++)
                free(rep->pending[i]);
        free(rep->pending);
        *rep = (struct vs_volume_report) { .opened_by_slot = -1 };
}

struct json_object *vs_volume_report_to_json(const struct vs_volume_report *rep) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "volume", json_object_new_string(rep->volume ? rep->volume : ""));
        json_object_object_add(o, "device", rep->device ? json_object_new_string(rep->device) : NULL);
        json_object_object_add(o, "state", json_object_new_string(vs_volume_state_name(rep->state)));
        json_object_object_add(o, "opened_by_slot", rep->opened_by_slot >= 0 ? json_object_new_int(rep->opened_by_slot) : NULL);
        json_object_object_add(o, "mapper", rep->mapper ? json_object_new_string(rep->mapper) : NULL);
        if (rep->partition) {
                json_object_object_add(o, "partition", json_object_new_int((int) rep->partition));
                json_object_object_add(o, "offset", json_object_new_int64((int64_t) rep->offset));
                json_object_object_add(o, "size", json_object_new_int64((int64_t) rep->size));
        }
        if (rep->what)
                json_object_object_add(o, "holds", json_object_new_string(rep->what));
        struct json_object *slots = json_object_new_array();
        for (size_t i = 0; i < rep->n_slots; i++) {
                const struct vs_slot_report *s = &rep->slots[i];
                struct json_object *so = json_object_new_object();
                json_object_object_add(so, "slot", json_object_new_int((int) s->slot));
                json_object_object_add(so, "kind", json_object_new_string(s->kind));
                json_object_object_add(so, "status", json_object_new_string(s->status ? s->status : "unknown"));
                if (s->detail)
                        json_object_object_add(so, "detail", json_object_new_string(s->detail));
                json_object_array_add(slots, so);
        }
        json_object_object_add(o, "slots", slots);
        struct json_object *errors = json_object_new_array();
        for (size_t i = 0; i < rep->n_errors; i++)
                json_object_array_add(errors, json_object_new_string(rep->errors[i]));
        json_object_object_add(o, "errors", errors);
        struct json_object *pending = json_object_new_array();
        for (size_t i = 0; i < rep->n_pending; i++)
                json_object_array_add(pending, json_object_new_string(rep->pending[i]));
        json_object_object_add(o, "pending", pending);
        return o;
}

void vs_volume_report_print(const struct vs_volume_report *rep) {
        printf("%s: %s", rep->volume, vs_volume_state_name(rep->state));
        if (rep->opened_by_slot >= 0 && (rep->state == VS_VOLUME_OPENED || rep->state == VS_VOLUME_FORMATTED))
                printf(" by slot %d", rep->opened_by_slot);
        else if (rep->opened_by_slot >= 0 && rep->state != VS_VOLUME_ERROR)
                printf(", slot %d opens it", rep->opened_by_slot);
        if (rep->device && rep->partition)
                printf(" (%s partition %u at offset %llu)", rep->device, rep->partition, (unsigned long long) rep->offset);
        else if (rep->device)
                printf(" (%s)", rep->device);
        if (rep->mapper)
                printf(" as %s", rep->mapper);
        if (rep->what)
                printf(", holds %s", rep->what);
        putchar('\n');
        for (size_t i = 0; i < rep->n_slots; i++) {
                const struct vs_slot_report *s = &rep->slots[i];
                printf("  slot %-2u %-12s %s%s%s\n", s->slot, s->kind, s->status ? s->status : "unknown",
                       s->detail ? ": " : "", s->detail ? s->detail : "");
        }
        for (size_t i = 0; i < rep->n_pending; i++)
                printf("  pending: %s\n", rep->pending[i]);
        for (size_t i = 0; i < rep->n_errors; i++)
                printf("  error: %s\n", rep->errors[i]);
}

/* ---- locating ---- */

int vs_volume_list(const struct vs_config *cfg, const struct vs_volume_options *o,
                   const struct vs_volume_config ***ret, size_t *ret_n) {
        static struct vs_volume_config meta_state;
        const struct vs_volume_config **list = calloc(cfg->n_volumes + 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        size_t n = 0;
        const struct vs_volume_config *state = vs_config_find(cfg, "STATE");
        if (o->state_from_meta && (!state || !state->encrypted)) {
                /* The machine config always wins; META only fills in a STATE it does not encrypt. */
                meta_state = (struct vs_volume_config) {
                        .kind = VS_VOLUME_SYSTEM, .name = (char *) "STATE", .id = (char *) "STATE", .encrypted = true,
                        .enc = *o->state_from_meta, .source = (char *) "META tag 9",
                };
                list[n++] = &meta_state;
        }
        for (size_t i = 0; i < cfg->n_volumes; i++) {
                if (n > 0 && list[0] == &meta_state && streq(cfg->volumes[i].id, "STATE"))
                        continue;
                list[n++] = &cfg->volumes[i];
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int vs_volume_device(const char *id, const struct vs_volume_options *o, char **ret) {
        for (size_t i = 0; i < o->n_overrides; i++)
                if (streq(o->overrides[i].id, id)) {
                        *ret = strdup(o->overrides[i].device);
                        return *ret ? 0 : -ENOMEM;
                }
        return vs_blk_find_by_partlabel(id, ret);
}

/* Where volume `v` lives: rep->device and, in rescue mode (--disk), its partition's byte range. */
static int find_device(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        bool overridden = false;
        for (size_t i = 0; i < o->n_overrides; i++)
                overridden |= streq(o->overrides[i].id, v->id);
        if (!o->disk || overridden)
                return vs_volume_device(v->id, o, &rep->device);
        struct vs_blk_partition p;
        int r = vs_blk_find_partition(o->disk, v->id, &p);
        if (r < 0)
                return r;
        if (!(rep->device = strdup(o->disk)))
                return -ENOMEM;
        rep->partition = p.number;
        rep->offset = p.offset;
        rep->size = p.size;
        return 0;
}

/* Reads the LUKS2 header once, validates it and loads the validated detached copy (luks.h). A refused
 * header is reported with its reason; nothing is written. */
static int load_header(const struct vs_volume_config *v, struct vs_volume_report *rep, const char *loop,
                       struct vs_luks **ret) {
        char reason[320];
        int r = loop ? vs_luks_load_validated(loop, 0, 0, loop, ret, reason, sizeof(reason))
                     : vs_luks_load_validated(rep->device, rep->offset, rep->size, rep->device, ret, reason, sizeof(reason));
        if (r == -EINVAL) {
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, EXIT_NOT_OPENED, "volume %s: refused the LUKS2 header on %s: %s; no key was tried, nothing was written",
                          v->id, rep->device, reason);
                return r;
        }
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, EXIT_NOT_OPENED, "volume %s: cannot read the LUKS2 header on %s: %s", v->id, rep->device, strerror(-r));
        }
        return r;
}

static bool needs_state(const struct vs_volume_config *v) {
        for (size_t i = 0; i < v->enc.n_keys; i++)
                if (v->enc.keys[i].lock_to_state)
                        return true;
        return false;
}

static uint32_t configured_mask(const struct vs_volume_config *v) {
        uint32_t m = 0;
        for (size_t i = 0; i < v->enc.n_keys; i++)
                m |= 1u << v->enc.keys[i].slot;
        return m;
}

static const char *kind_name(const struct vs_key_config *k) { return vs_key_kind_name(k->kind); }

static struct vs_pbkdf pbkdf_for(const struct vs_volume_options *o, const struct vs_key_config *k) {
        struct vs_pbkdf p = o->pbkdf;
        const struct vs_key_ops *kind = vs_key_ops_get(k->kind);
        p.minimal = kind && kind->minimal_pbkdf;
        return p;
}

static const char *token_type_of(struct json_object *tok) {
        struct json_object *t;
        return tok && json_object_object_get_ex(tok, "type", &t) ? json_object_get_string(t) : NULL;
}

/* A tokened kind (tpm, kms) needs its own token at id = slot; without it the slot is stale. Returns NULL
 * when the token fits, else the reason. */
static const char *token_misfit(const struct vs_key_config *k, struct json_object *tok) {
        const struct vs_key_ops *kind = vs_key_ops_get(k->kind);
        if (!kind || !kind->token_type)
                return NULL;
        if (!tok)
                return "its token is missing";
        const char *type = token_type_of(tok);
        if (!type || !streq(type, kind->token_type))
                return "its token is of another kind";
        return NULL;
}

/* ---- the sync fingerprint ----
 * HMAC-SHA256 keyed with the volume key over: every configured key (slot, kind, lockToSTATE, kind options,
 * the passphrase of kinds that derive it without a token, the salt when locked) and the header's keyslot
 * set and tokens. Kept as "volseal-sync:<first 16 bytes hex>" in the LUKS2 header's subsystem field. Keyed
 * with the volume key, so the field is no offline oracle for a static passphrase. */
static int fingerprint(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_volume_options *o,
                       const struct vs_key_volume *kv, const struct vs_secret *vk, char out[64]) {
        _cleanup_secret_ struct vs_secret *d = NULL;
        int r = vs_secret_new(4096, &d);
        if (r < 0)
                return r;
        r = vs_secret_append(d, "volseal-sync-v1", 16);
        for (size_t i = 0; r >= 0 && i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                char head[128];
                int n = snprintf(head, sizeof(head), "|slot=%u kind=%d lock=%d pcrs=%u sb=%d kms=", k->slot, (int) k->kind,
                                 k->lock_to_state, k->tpm_pcrs, k->tpm_check_secureboot);
                r = vs_secret_append(d, head, (size_t) n);
                if (r >= 0 && k->kms_endpoint)
                        r = vs_secret_append(d, k->kms_endpoint, strlen(k->kms_endpoint) + 1);
                const struct vs_key_ops *kind = vs_key_ops_get(k->kind);
                if (r >= 0 && kind && !kind->token_type) {
                        _cleanup_secret_ struct vs_secret *pass = NULL;
                        r = vs_key_get(o->run, kv, k, k->slot, NULL, &pass);
                        if (r >= 0)
                                r = vs_secret_append(d, pass->data, pass->len);
                } else if (r >= 0 && k->lock_to_state) {
                        const struct vs_secret *salt;
                        r = vs_key_run_salt(o->run, &salt);
                        if (r >= 0)
                                r = vs_secret_append(d, salt->data, salt->len);
                }
        }
        for (unsigned s = 0; r >= 0 && s < VS_MAX_SLOTS; s++) {
                char head[32];
                int n = snprintf(head, sizeof(head), "|ks%u=%d", s, vs_luks_slot_active(l, s));
                r = vs_secret_append(d, head, (size_t) n);
                struct json_object *tok = NULL;
                if (r >= 0 && vs_luks_token_get(l, s, &tok) >= 0) {
                        const char *js = json_object_to_json_string_ext(tok, JSON_C_TO_STRING_PLAIN);
                        r = vs_secret_append(d, js, strlen(js));
                        json_object_put(tok);
                }
        }
        if (r < 0)
                return r;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        if (!HMAC(EVP_sha256(), vk->data, (int) vk->len, d->data, d->len, mac, &mac_len))
                return -EIO;
        int n = snprintf(out, 64, "%s", FINGERPRINT_PREFIX);
        for (unsigned i = 0; i < 16; i++)
                n += snprintf(out + n, (size_t) (64 - n), "%02x", mac[i]);
        explicit_bzero(mac, sizeof(mac));
        return 0;
}

/* ---- keyslot writes ---- */

static int add_slot_with_token(struct vs_luks *l, unsigned slot, const struct vs_secret *vk, const struct vs_secret *pass,
                               const struct vs_pbkdf *pbkdf, struct json_object *token) {
        int r = vs_luks_add_slot(l, slot, vk, pass, pbkdf);
        if (r < 0)
                return r;
        if (!token)
                return 0;
        struct json_object *copy = NULL;
        if (json_object_deep_copy(token, &copy, NULL) < 0)
                return -ENOMEM;
        r = vs_luks_token_set(l, slot, copy, (int) slot);
        json_object_put(copy);
        return r;
}

static int kill_slot_and_token(struct vs_luks *l, unsigned slot) {
        int r = vs_luks_destroy_slot(l, slot);
        if (r < 0)
                return r;
        return vs_luks_token_set(l, slot, NULL, -1);
}

/* Replaces keyslot `slot` with `pass` so that at every step some configured key still opens the volume:
 * new key at a spare slot (+ token), old slot and token gone, new key at `slot` (+ token), spare gone. */
static int replace_slot(struct vs_luks *l, unsigned slot, uint32_t reserved, const struct vs_secret *vk,
                        const struct vs_secret *pass, const struct vs_pbkdf *pbkdf, struct json_object *token) {
        int spare = -1;
        for (int s = VS_MAX_SLOTS - 1; s >= 0; s--)
                if (!(reserved & (1u << s)) && !vs_luks_slot_active(l, (unsigned) s)) {
                        spare = s;
                        break;
                }
        int r;
        if (spare >= 0) {
                (void) vs_luks_token_set(l, (unsigned) spare, NULL, -1);
                r = add_slot_with_token(l, (unsigned) spare, vk, pass, pbkdf, token);
                if (r < 0)
                        return r;
        }
        /* Without a spare this is still safe: the key that opened the volume is unchanged. */
        r = kill_slot_and_token(l, slot);
        if (r < 0)
                return r;
        r = add_slot_with_token(l, slot, vk, pass, pbkdf, token);
        if (r < 0)
                return r;
        if (spare >= 0)
                r = kill_slot_and_token(l, (unsigned) spare);
        return r;
}

/* ---- sync (design §4) ---- */

static void sync_volume(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_volume_options *o,
                        const struct vs_key_volume *kv, const struct vs_secret *vk, unsigned opened,
                        struct vs_volume_report *rep) {
        struct vs_key_run *run = o->run;
        uint32_t configured = configured_mask(v);
        char fp[64];
        const char *have = vs_luks_subsystem(l);
        /* A configured slot that failed while opening (a tpm slot after a dbx update) must be looked at again
         * even though config and header are unchanged: its key kind may ask for a re-seal. A kms slot is not:
         * sync never re-seals it, and asking a down or slow KMS again would cost a second timeout. */
        bool open_failed = false;
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                const struct vs_slot_report *e = k->slot != opened ? slot_entry(rep, k->slot, NULL) : NULL;
                if (e && e->status && streq(e->status, "failed") && k->kind != VS_KEY_KMS)
                        open_failed = true;
        }
        if (!o->full_sync && !open_failed && fingerprint(l, v, o, kv, vk, fp) >= 0 && have && streq(have, fp)) {
                for (size_t i = 0; i < v->enc.n_keys; i++) {
                        const struct vs_key_config *k = &v->enc.keys[i];
                        if (k->slot == opened)
                                continue;
                        /* A kms slot tried before `opened` in this boot's open loop did not give its key (KMS
                         * down, slow, wrong secret): the fingerprint says its config is as synced, not that it
                         * works, so it is reported as the failure it was, as --full-sync would, never as
                         * "unchanged". */
                        const struct vs_slot_report *e = slot_entry(rep, k->slot, NULL);
                        if (e && e->status && (streq(e->status, "failed") || streq(e->status, "rejected"))) {
                                slot_fail(rep, k->slot, kind_name(k), "%s", e->detail ? e->detail : e->status);
                                continue;
                        }
                        slot_set(rep, k->slot, kind_name(k), "unchanged",
                                 "config and header unchanged since the last sync (--full-sync verifies)");
                }
                return;
        }

        /* Writes go to the device itself, after checking that its header is still the validated copy. */
        _cleanup_luks_ struct vs_luks *w = NULL;
        if (vs_luks_validated(l)) {
                if (vs_luks_load_for_write(l, &w) < 0) {
                        rep_error(rep, EXIT_SYNC, "volume %s: keyslots not synced: the LUKS2 header on %s changed after it was validated",
                                  v->id, rep->device);
                        return;
                }
                l = w;
        }
        bool complete = true;
        size_t errors_before = rep->n_errors;

        /* Tokens whose keyslot is gone are stale: drop them first (harmless, frees spare ids). */
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++) {
                struct json_object *tok = NULL;
                if (vs_luks_slot_active(l, s) || vs_luks_token_get(l, s, &tok) < 0)
                        continue;
                log_info("volume %s: removing stale token %u (%s) that has no keyslot", v->id, s, token_type_of(tok) ?: "?");
                json_object_put(tok);
                if (vs_luks_token_set(l, s, NULL, -1) < 0)
                        rep_error(rep, EXIT_SYNC, "volume %s: cannot remove stale token %u", v->id, s);
        }

        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                const unsigned s = k->slot;
                const struct vs_key_ops *kind = vs_key_ops_get(k->kind);
                struct json_object *tok = NULL;
                (void) vs_luks_token_get(l, s, &tok);
                bool stale_token = kind && !kind->token_type && tok;
                json_object_put(tok);
                tok = NULL;

                if (s == opened) {
                        if (stale_token && vs_luks_token_set(l, s, NULL, -1) >= 0)
                                slot_set(rep, s, kind_name(k), "opened", "removed a stale token");
                        continue;
                }
                if (!kind) {
                        slot_fail(rep, s, kind_name(k), "key kind %s is not built into this volseal yet", kind_name(k));
                        complete = false;
                        continue;
                }
                bool add = !vs_luks_slot_active(l, s);
                const char *why = NULL;
                char why_buf[sizeof(run->reason)];
                if (!add) {
                        (void) vs_luks_token_get(l, s, &tok);
                        _cleanup_secret_ struct vs_secret *pass = NULL;
                        const char *misfit = token_misfit(k, tok);
                        int r = misfit ? vs_key_reason(run, ENOKEY, "%s", misfit) : vs_key_get(run, kv, k, s, tok, &pass);
                        json_object_put(tok);
                        tok = NULL;
                        if (r == -ENOKEY) {
                                /* copied: can_enroll/new_key below overwrite run->reason */
                                snprintf(why_buf, sizeof(why_buf), "%s", run->reason[0] ? run->reason : "its token is missing");
                                why = why_buf;
                        } else if (r < 0) {
                                slot_fail(rep, s, kind_name(k), "%s", run->reason[0] ? run->reason : strerror(-r));
                                complete = false;
                                continue;
                        } else {
                                r = vs_luks_test_passphrase(l, s, pass);
                                if (r == -EPERM && k->kind == VS_KEY_KMS) {
                                        /* The KMS answered a secret that does not open the slot: the KMS is
                                         * wrong, not the config. Re-sealing would lose the slot; leave it. */
                                        slot_fail(rep, s, kind_name(k), "the KMS returned a secret that does not open "
                                                  "keyslot %u (left as it is)", s);
                                        complete = false;
                                        continue;
                                } else if (r == -EPERM) {
                                        why = "the configured key does not open it (the config changed)";
                                } else if (r < 0) {
                                        slot_fail(rep, s, kind_name(k), "cannot test keyslot %u: %s", s, strerror(-r));
                                        complete = false;
                                        continue;
                                } else {
                                        if (stale_token && vs_luks_token_set(l, s, NULL, -1) >= 0)
                                                slot_set(rep, s, kind_name(k), "ok", "removed a stale token");
                                        else
                                                slot_set(rep, s, kind_name(k), "ok", NULL);
                                        continue;
                                }
                        }
                }
                int r = vs_key_can_enroll(run, kv, k);
                if (r == 0) {
                        slot_set(rep, s, kind_name(k), "pending", "%s", run->reason[0] ? run->reason : "cannot be enrolled yet");
                        complete = false;
                        continue;
                }
                if (r < 0) {
                        slot_fail(rep, s, kind_name(k), "%s", run->reason[0] ? run->reason : strerror(-r));
                        complete = false;
                        continue;
                }
                _cleanup_secret_ struct vs_secret *pass = NULL;
                struct json_object *token = NULL;
                r = vs_key_new(run, kv, k, s, &pass, &token);
                if (r < 0) {
                        slot_fail(rep, s, kind_name(k), "cannot make a new key: %s", run->reason[0] ? run->reason : strerror(-r));
                        complete = false;
                        continue;
                }
                struct vs_pbkdf pbkdf = pbkdf_for(o, k);
                if (add) {
                        (void) vs_luks_token_set(l, s, NULL, -1);
                        r = add_slot_with_token(l, s, vk, pass, &pbkdf, token);
                } else
                        r = replace_slot(l, s, configured | (1u << opened), vk, pass, &pbkdf, token);
                json_object_put(token);
                if (r < 0) {
                        slot_fail(rep, s, kind_name(k), "cannot %s keyslot %u: %s", add ? "add" : "replace", s, strerror(-r));
                        complete = false;
                        continue;
                }
                if (add)
                        slot_set(rep, s, kind_name(k), "added", NULL);
                else
                        slot_set(rep, s, kind_name(k), "replaced", "%s", why);
        }

        /* Slots the config no longer names go last, when every configured slot is in place. */
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++) {
                if ((configured & (1u << s)) || s == opened || !vs_luks_slot_active(l, s))
                        continue;
                struct json_object *tok = NULL;
                (void) vs_luks_token_get(l, s, &tok);
                char kind[16];
                snprintf(kind, sizeof(kind), "%s", token_type_of(tok) ?: "unconfigured");
                json_object_put(tok);
                if (kill_slot_and_token(l, s) < 0) {
                        slot_fail(rep, s, kind, "cannot remove keyslot %u, which the config no longer names", s);
                        complete = false;
                } else
                        slot_set(rep, s, kind, "removed", "not in the config");
        }

        if (complete && rep->n_errors == errors_before && fingerprint(l, v, o, kv, vk, fp) >= 0) {
                have = vs_luks_subsystem(l);
                if (!have || !streq(have, fp))
                        (void) vs_luks_set_subsystem(l, fp);
        }
}

/* ---- unlock ---- */

static void report_init(struct vs_volume_report *rep, const struct vs_volume_config *v) {
        *rep = (struct vs_volume_report) { .opened_by_slot = -1, .exit_code = EXIT_OK };
        rep->volume = strdup(v->id);
}

/* Locates and probes. Returns 1 when the caller should continue with *ret_content, 0 when the report is
 * final. */
static int locate(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep,
                  enum vs_blk_content *ret_content) {
        int r = find_device(v, o, rep);
        if (r < 0) {
                rep->state = VS_VOLUME_NOT_FOUND;
                if (o->disk)
                        rep_error(rep, EXIT_ENV, "volume %s: no partition labelled %s on %s", v->id, v->id, o->disk);
                else
                        rep_error(rep, EXIT_ENV, "volume %s: no partition labelled %s (give --volume %s=DEVICE)", v->id, v->id, v->id);
                return 0;
        }
        r = vs_blk_probe_at(rep->device, rep->offset, rep->size, ret_content, &rep->what);
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, EXIT_ENV, "volume %s: cannot read %s: %s", v->id, rep->device, strerror(-r));
                return 0;
        }
        if (*ret_content == VS_BLK_FOREIGN) {
                rep->state = VS_VOLUME_FOREIGN;
                rep_error(rep, EXIT_NOT_OPENED, "volume %s on %s holds %s; volseal formats only empty volumes: wipe it first (volseal wipe %s)",
                          v->id, rep->device, rep->what, v->id);
                return 0;
        }
        free(rep->what); /* "nothing" / "crypto_LUKS version 2": only a foreign volume's content is reported */
        rep->what = NULL;
        if (*ret_content == VS_BLK_LUKS2 && vs_luks_format_interrupted(rep->device) > 0) {
                /* Power was lost inside crypt_format (the power-loss test found it): libcryptsetup cannot load
                 * the header and no keyslot was ever written, so it is empty, as never_activated() below. */
                log_notice("volume %s: %s holds only an unfinished LUKS2 header without keyslots (an interrupted format): formatting again",
                           v->id, rep->device);
                *ret_content = VS_BLK_EMPTY;
        }
        return 1;
}

/* A LUKS2 header without any keyslot, or one still marked VS_LUKS_FORMATTING, cannot hold reachable data
 * (power was lost between format and the first complete key): it counts as empty. */
static bool never_activated(struct vs_luks *l) {
        const char *sub = vs_luks_subsystem(l);
        if (sub && streq(sub, VS_LUKS_FORMATTING))
                return true;
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++)
                if (vs_luks_slot_active(l, s))
                        return false;
        return true;
}

static int activate(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_volume_options *o,
                    const struct vs_secret *vk, struct vs_volume_report *rep) {
        /* --check: the key came from keyslot opened_by_slot through crypt_volume_key_get, which verified it
         * against that keyslot's digest; for a keyslot bound to the data segment that is the segment's
         * digest, so a check-only activation would only run the same PBKDF2 digest again (~4% of an
         * unlock's CPU: docs/performance.md). An unbound keyslot is still checked the long way. */
        if (o->check && rep->opened_by_slot >= 0 && vs_luks_slot_bound(l, (unsigned) rep->opened_by_slot))
                return 0;
        _cleanup_free_ char *mapper = NULL;
        if (asprintf(&mapper, "luks2-%s", v->id) < 0)
                return -ENOMEM;
        struct vs_luks_activation a = { .perf_flags = v->enc.perf_flags, .allow_discards = v->enc.allow_discards };
        int r = vs_luks_activate(l, o->check ? NULL : mapper, vk, &a);
        if (r == -EEXIST) {
                rep->state = VS_VOLUME_ALREADY_OPEN;
                rep->mapper = TAKE_PTR(mapper);
                return 0;
        }
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, r == -EOPNOTSUPP ? EXIT_ENV : EXIT_NOT_OPENED, "volume %s: cannot activate %s: %s", v->id,
                          mapper, r == -EOPNOTSUPP ? "device-mapper is not available (use --check)" : strerror(-r));
                return r;
        }
        if (!o->check)
                rep->mapper = TAKE_PTR(mapper);
        return 0;
}

static int format_volume(const struct vs_volume_config *v, const struct vs_volume_options *o,
                         const struct vs_key_volume *kv, struct vs_volume_report *rep) {
        struct vs_key_run *run = o->run;
        const struct vs_key_config *first = NULL;
        _cleanup_secret_ struct vs_secret *pass = NULL;
        struct json_object *token = NULL;
        for (size_t i = 0; i < v->enc.n_keys && !first; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                int r = vs_key_can_enroll(run, kv, k);
                if (r == 0) {
                        slot_set(rep, k->slot, kind_name(k), "pending", "%s", run->reason[0] ? run->reason : "cannot be enrolled yet");
                        continue;
                }
                if (r > 0)
                        r = vs_key_new(run, kv, k, k->slot, &pass, &token);
                if (r < 0) {
                        /* Not fatal yet: a later key may format the volume, and sync retries this one. */
                        slot_set(rep, k->slot, kind_name(k), "failed", "%s", run->reason[0] ? run->reason : strerror(-r));
                        continue;
                }
                first = k;
        }
        if (!first) {
                rep->state = VS_VOLUME_NOT_OPENED;
                for (size_t i = 0; i < rep->n_slots; i++)
                        rep_error(rep, EXIT_NOT_OPENED, "volume %s slot %u (%s): %s", v->id, rep->slots[i].slot,
                                  rep->slots[i].kind, rep->slots[i].detail ? rep->slots[i].detail : rep->slots[i].status);
                rep_error(rep, EXIT_NOT_OPENED, "volume %s on %s is empty, but none of its keys can be made now; nothing was written",
                          v->id, rep->device);
                return 0;
        }
        size_t bits = v->enc.key_size ? v->enc.key_size : vs_cipher_is_adiantum(v->enc.cipher) ? 256 : 512;
        _cleanup_secret_ struct vs_secret *vk = NULL;
        int r = vs_secret_new(bits / 8, &vk);
        if (r >= 0 && RAND_bytes(vk->data, (int) (bits / 8)) != 1)
                r = -EIO;
        if (r < 0) {
                json_object_put(token);
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, EXIT_ENV, "volume %s: cannot make a volume key", v->id);
                return 0;
        }
        vk->len = bits / 8;
        struct vs_luks_format_params fp = { .cipher = v->enc.cipher, .key_bits = (unsigned) bits, .sector_size = v->enc.block_size };
        _cleanup_luks_ struct vs_luks *l = NULL;
        r = vs_luks_format(rep->device, &fp, vk, &l);
        if (r >= 0) {
                struct vs_pbkdf pbkdf = pbkdf_for(o, first);
                r = add_slot_with_token(l, first->slot, vk, pass, &pbkdf, token);
        }
        if (r >= 0) /* the first key is complete: from here on the volume may hold data */
                r = vs_luks_set_subsystem(l, "");
        json_object_put(token);
        if (r < 0) {
                rep->state = VS_VOLUME_NOT_OPENED;
                rep_error(rep, EXIT_NOT_OPENED, "volume %s: cannot format %s: %s", v->id, rep->device, strerror(-r));
                return 0;
        }
        log_info("volume %s: formatted %s with keyslot %u (%s)", v->id, rep->device, first->slot, kind_name(first));
        rep->state = VS_VOLUME_FORMATTED;
        rep->opened_by_slot = (int) first->slot;
        slot_set(rep, first->slot, kind_name(first), "added", "formatted with this key");
        if (activate(l, v, o, vk, rep) < 0)
                return 0;
        if (rep->state == VS_VOLUME_ALREADY_OPEN)
                rep->state = VS_VOLUME_FORMATTED;
        /* The rest of the keys: a fresh volume always gets every key that can be made now. */
        sync_volume(l, v, o, kv, vk, first->slot, rep);
        return 0;
}

int vs_volume_unlock(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        report_init(rep, v);
        if (!v->encrypted) {
                rep->state = VS_VOLUME_UNENCRYPTED;
                return rep->exit_code;
        }
        if (needs_state(v) && !o->run->state_dir) {
                rep->state = VS_VOLUME_WAITING_FOR_STATE;
                (void) find_device(v, o, rep);
                return rep->exit_code;
        }
        if (!o->check) {
                _cleanup_free_ char *mapper = NULL;
                if (asprintf(&mapper, "luks2-%s", v->id) < 0)
                        return EXIT_ENV;
                if (vs_luks_mapping_active(mapper)) {
                        (void) find_device(v, o, rep);
                        rep->state = VS_VOLUME_ALREADY_OPEN;
                        rep->mapper = TAKE_PTR(mapper);
                        return rep->exit_code;
                }
        }
        enum vs_blk_content content;
        if (!locate(v, o, rep, &content))
                return rep->exit_code;
        struct vs_key_volume kv = { .id = v->id, .device = rep->device };
        if (content == VS_BLK_EMPTY && o->disk) {
                rep->state = VS_VOLUME_NOT_OPENED;
                if (rep->partition)
                        rep_error(rep, EXIT_NOT_OPENED, "volume %s: partition %u of %s holds no LUKS2 header; --disk never formats",
                                  v->id, rep->partition, rep->device);
                else
                        rep_error(rep, EXIT_NOT_OPENED, "volume %s: %s holds no LUKS2 header; --disk never formats", v->id, rep->device);
                return rep->exit_code;
        }
        if (content == VS_BLK_EMPTY) {
                format_volume(v, o, &kv, rep);
                return rep->exit_code;
        }

        /* Rescue activation: a loop device over the partition (no partition device nodes in an image file);
         * autoclear, so it goes away with the mapping, or when loop_fd closes if activation fails. */
        _cleanup_free_ char *loop = NULL;
        _cleanup_close_ int loop_fd = -1;
        if (o->disk && rep->partition && !o->check &&
            vs_blk_loop_attach(rep->device, rep->offset, rep->size, &loop, &loop_fd) < 0) {
                rep->state = VS_VOLUME_ERROR;
                rep_error(rep, EXIT_ENV, "volume %s: cannot set up a loop device over partition %u of %s", v->id, rep->partition,
                          rep->device);
                return rep->exit_code;
        }
        _cleanup_luks_ struct vs_luks *l = NULL;
        int r = load_header(v, rep, loop, &l);
        if (r < 0)
                return rep->exit_code;
        if (never_activated(l) && o->disk) {
                rep->state = VS_VOLUME_NOT_OPENED;
                rep_error(rep, EXIT_NOT_OPENED, "volume %s: the LUKS2 header on %s has no complete key (an interrupted format); --disk never formats",
                          v->id, rep->device);
                return rep->exit_code;
        }
        if (never_activated(l)) {
                log_notice("volume %s: the LUKS2 header on %s has no complete key (an interrupted format): formatting again", v->id, rep->device);
                vs_luks_free(TAKE_PTR(l));
                format_volume(v, o, &kv, rep);
                return rep->exit_code;
        }

        /* Open: keys in ascending slot order, each against its own slot only; the first success wins. */
        struct vs_key_run *run = o->run;
        _cleanup_secret_ struct vs_secret *vk = NULL;
        const struct vs_key_config *opened = NULL;
        bool config_changed = false;
        for (size_t i = 0; i < v->enc.n_keys && !opened; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                if (!vs_luks_slot_active(l, k->slot)) {
                        slot_set(rep, k->slot, kind_name(k), "missing", "keyslot %u is empty", k->slot);
                        config_changed = true;
                        continue;
                }
                struct json_object *tok = NULL;
                (void) vs_luks_token_get(l, k->slot, &tok);
                _cleanup_secret_ struct vs_secret *pass = NULL;
                const char *misfit = token_misfit(k, tok);
                r = misfit ? vs_key_reason(run, ENOKEY, "keyslot %u: %s", k->slot, misfit) : vs_key_get(run, &kv, k, k->slot, tok, &pass);
                json_object_put(tok);
                if (r < 0) {
                        slot_set(rep, k->slot, kind_name(k), "failed", "%s", run->reason[0] ? run->reason : strerror(-r));
                        continue;
                }
                r = vs_luks_volume_key(l, k->slot, pass, &vk);
                if (r == -EPERM && k->kind == VS_KEY_KMS) {
                        slot_set(rep, k->slot, kind_name(k), "rejected", "the KMS returned a secret that does not open keyslot %u", k->slot);
                        continue;
                }
                if (r == -EPERM) {
                        slot_set(rep, k->slot, kind_name(k), "rejected", "the %s key does not open keyslot %u", kind_name(k), k->slot);
                        config_changed = true;
                        continue;
                }
                if (r < 0) {
                        slot_set(rep, k->slot, kind_name(k), "failed", "cannot read keyslot %u: %s", k->slot, strerror(-r));
                        continue;
                }
                opened = k;
                slot_set(rep, k->slot, kind_name(k), "opened", NULL);
        }
        if (!opened) {
                rep->state = VS_VOLUME_NOT_OPENED;
                for (size_t i = 0; i < rep->n_slots; i++)
                        rep_error(rep, EXIT_NOT_OPENED, "volume %s slot %u (%s): %s", v->id, rep->slots[i].slot,
                                  rep->slots[i].kind, rep->slots[i].detail ? rep->slots[i].detail : rep->slots[i].status);
                rep_error(rep, EXIT_NOT_OPENED, "no configured key opens volume %s on %s%s", v->id, rep->device,
                          config_changed ? "; if every key changed at once, put one old key back: keep at least one unchanged key and rotate in two steps" : "");
                return rep->exit_code;
        }
        rep->opened_by_slot = (int) opened->slot;
        rep->state = VS_VOLUME_OPENED;
        if (activate(l, v, o, vk, rep) < 0)
                return rep->exit_code;
        if (o->no_sync || o->disk) {
                for (size_t i = 0; i < v->enc.n_keys; i++)
                        if (&v->enc.keys[i] != opened && !slot_entry(rep, v->enc.keys[i].slot, NULL)->status)
                                slot_set(rep, v->enc.keys[i].slot, kind_name(&v->enc.keys[i]), "not-checked",
                                         o->disk ? "--disk is read-only" : "--no-sync");
                return rep->exit_code;
        }
        sync_volume(l, v, o, &kv, vk, opened->slot, rep);
        return rep->exit_code;
}

/* ---- status ---- */

int vs_volume_status(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        report_init(rep, v);
        if (!v->encrypted) {
                rep->state = VS_VOLUME_UNENCRYPTED;
                (void) find_device(v, o, rep);
                return rep->exit_code;
        }
        enum vs_blk_content content;
        if (!locate(v, o, rep, &content))
                return rep->exit_code;
        struct vs_key_volume kv = { .id = v->id, .device = rep->device };
        struct vs_key_run *run = o->run;
        if (content == VS_BLK_EMPTY && o->disk) {
                rep->state = VS_VOLUME_EMPTY;
                rep_pending(rep, "nothing: --disk never formats");
                return rep->exit_code;
        }
        if (content == VS_BLK_EMPTY) {
                rep->state = VS_VOLUME_EMPTY;
                bool first = true;
                for (size_t i = 0; i < v->enc.n_keys; i++) {
                        const struct vs_key_config *k = &v->enc.keys[i];
                        int r = vs_key_can_enroll(run, &kv, k);
                        if (r > 0) {
                                slot_set(rep, k->slot, kind_name(k), "to-enrol", NULL);
                                rep_pending(rep, "%s slot %u (%s)", first ? "format LUKS2 with" : "add", k->slot, kind_name(k));
                                first = false;
                        } else {
                                slot_set(rep, k->slot, kind_name(k), r == 0 ? "pending" : "failed", "%s", run->reason);
                                rep_pending(rep, "enrol slot %u (%s) later: %s", k->slot, kind_name(k), run->reason);
                        }
                }
                return rep->exit_code;
        }
        _cleanup_luks_ struct vs_luks *l = NULL;
        if (load_header(v, rep, NULL, &l) < 0)
                return rep->exit_code;
        if (never_activated(l)) {
                rep->state = VS_VOLUME_EMPTY;
                rep_pending(rep, o->disk ? "nothing: --disk never formats" : "format LUKS2 again (the header has no complete key: an interrupted format)");
                return rep->exit_code;
        }
        rep->state = VS_VOLUME_LUKS2;
        _cleanup_free_ char *mapper = NULL;
        if (asprintf(&mapper, "luks2-%s", v->id) >= 0 && vs_luks_mapping_active(mapper)) {
                rep->state = VS_VOLUME_ALREADY_OPEN;
                rep->mapper = TAKE_PTR(mapper);
        }
        uint32_t configured = configured_mask(v);
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                if (!vs_luks_slot_active(l, k->slot)) {
                        int r = vs_key_can_enroll(run, &kv, k);
                        slot_set(rep, k->slot, kind_name(k), "missing", "keyslot %u is empty", k->slot);
                        if (r > 0)
                                rep_pending(rep, "add slot %u (%s)", k->slot, kind_name(k));
                        else
                                rep_pending(rep, "add slot %u (%s) when it can be made: %s", k->slot, kind_name(k), run->reason);
                        continue;
                }
                struct json_object *tok = NULL;
                (void) vs_luks_token_get(l, k->slot, &tok);
                const struct vs_key_ops *kind = vs_key_ops_get(k->kind);
                if (kind && !kind->token_type && tok)
                        rep_pending(rep, "remove stale token %u (%s)", k->slot, token_type_of(tok) ?: "?");
                _cleanup_secret_ struct vs_secret *pass = NULL;
                const char *misfit = token_misfit(k, tok);
                int r = misfit ? vs_key_reason(run, ENOKEY, "%s", misfit) : vs_key_get(run, &kv, k, k->slot, tok, &pass);
                json_object_put(tok);
                if (r == -ENOKEY) {
                        slot_set(rep, k->slot, kind_name(k), "does-not-open", "%s", run->reason);
                        rep_pending(rep, "replace slot %u (%s)", k->slot, kind_name(k));
                        continue;
                }
                if (r < 0) {
                        slot_set(rep, k->slot, kind_name(k), "unknown", "%s", run->reason[0] ? run->reason : strerror(-r));
                        continue;
                }
                r = vs_luks_test_passphrase(l, k->slot, pass);
                if (r == 0) {
                        slot_set(rep, k->slot, kind_name(k), "opens", NULL);
                        if (rep->opened_by_slot < 0)
                                rep->opened_by_slot = (int) k->slot;
                } else if (r == -EPERM) {
                        slot_set(rep, k->slot, kind_name(k), "does-not-open", "the configured %s key does not open keyslot %u", kind_name(k), k->slot);
                        rep_pending(rep, "replace slot %u (%s)", k->slot, kind_name(k));
                } else
                        slot_set(rep, k->slot, kind_name(k), "unknown", "cannot test keyslot %u: %s", k->slot, strerror(-r));
        }
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++) {
                struct json_object *tok = NULL;
                bool active = vs_luks_slot_active(l, s);
                bool has_tok = vs_luks_token_get(l, s, &tok) >= 0;
                if (active && !(configured & (1u << s))) {
                        char kdf[32] = "";
                        (void) vs_luks_slot_kdf(l, s, kdf, sizeof(kdf));
                        slot_set(rep, s, has_tok ? token_type_of(tok) ?: "?" : "unconfigured", "unconfigured", "%s keyslot not in the config", kdf);
                        rep_pending(rep, "remove slot %u", s);
                } else if (!active && has_tok)
                        rep_pending(rep, "remove stale token %u (%s)", s, token_type_of(tok) ?: "?");
                json_object_put(tok);
        }
        bool unknown = false;
        for (size_t i = 0; i < rep->n_slots; i++)
                if (rep->slots[i].status && streq(rep->slots[i].status, "unknown"))
                        unknown = true;
        if (rep->opened_by_slot < 0 && !unknown) {
                /* A sync needs a working key: listing "replace slot N" here would promise what the next unlock
                 * cannot do, so the error is the only thing status reports. */
                for (size_t i = 0; i < rep->n_pending; i++)
                        free(rep->pending[i]);
                rep->n_pending = 0;
                rep_error(rep, EXIT_NOT_OPENED, "no configured key opens volume %s on %s", v->id, rep->device);
        }
        return rep->exit_code;
}

/* ---- wipe ---- */

int vs_volume_wipe(const char *id, const char *device) {
        _cleanup_free_ char *mapper = NULL, *what = NULL;
        if (asprintf(&mapper, "luks2-%s", id) < 0)
                return -ENOMEM;
        if (vs_luks_mapping_active(mapper))
                return log_error_errno(EBUSY, "volume %s is open as %s: close it before wiping %s", id, mapper, device);
        enum vs_blk_content content;
        int r = vs_blk_probe(device, &content, &what);
        if (r < 0)
                return r;
        if (content == VS_BLK_EMPTY) {
                log_info("volume %s on %s holds no signature: nothing to wipe", id, device);
                return 0;
        }
        if (strncmp(what, "crypto_LUKS", 11) == 0) {
                r = vs_luks_destroy_all_slots(device);
                if (r < 0)
                        return r;
                log_info("volume %s: destroyed %d keyslot%s on %s", id, r, r == 1 ? "" : "s", device);
        }
        r = vs_blk_wipe(device);
        if (r < 0)
                return r;
        log_info("volume %s: erased %d signature%s on %s", id, r, r == 1 ? "" : "s", device);
        return 0;
}
