/* volume-keyslot.c: one configured key against its keyslot: the key a slot should open with (its token
 * checked first), and keyslot writes with their tokens in the order that keeps the volume openable
 * (docs/operations.md "Keyslot sync"). */
#include "volume-keyslot.h"
#include "util.h"

#include <errno.h>

const char *kind_name(const struct vs_key_config *k) { return vs_key_config_name(k); }

uint32_t configured_mask(const struct vs_volume_config *v) {
        uint32_t m = 0;
        for (size_t i = 0; i < v->enc.n_keys; i++)
                m |= 1u << v->enc.keys[i].slot;
        return m;
}

const char *token_type_of(struct json_object *tok) {
        struct json_object *t;
        return tok && json_object_object_get_ex(tok, "type", &t) ? json_object_get_string(t) : NULL;
}

/* A tokened kind (tpm, kms) needs its own token at id = slot; without it the slot is stale. Returns NULL
 * when the token fits, else the reason. */
static const char *token_misfit(const struct vs_key_config *k, struct json_object *tok) {
        const struct vs_key_ops *kind = vs_key_ops_for(k);
        if (!kind || !kind->token_type)
                return NULL;
        if (!tok)
                return "its token is missing";
        const char *type = token_type_of(tok);
        if (!type || !streq(type, kind->token_type))
                return "its token is of another kind";
        return NULL;
}

int key_for_slot(struct vs_key_run *run, struct vs_luks *l, const struct vs_key_volume *kv,
                 const struct vs_key_config *k, struct vs_secret **ret) {
        struct json_object *tok = NULL;
        (void) vs_luks_token_get(l, k->slot, &tok);
        const char *misfit = token_misfit(k, tok);
        int r = misfit ? vs_key_reason(run, ENOKEY, "keyslot %u: %s", k->slot, misfit)
                       : vs_key_get(run, kv, k, k->slot, tok, ret);
        json_object_put(tok);
        return r;
}

bool has_stale_token(struct vs_luks *l, const struct vs_key_config *k, char type[16]) {
        const struct vs_key_ops *kind = vs_key_ops_for(k);
        struct json_object *tok = NULL;
        if (!kind || kind->token_type || vs_luks_token_get(l, k->slot, &tok) < 0)
                return false;
        if (type)
                snprintf(type, 16, "%s", token_type_of(tok) ?: "?");
        json_object_put(tok);
        return true;
}

struct vs_pbkdf pbkdf_for(const struct vs_pbkdf *base, const struct vs_key_config *k) {
        struct vs_pbkdf p = *base;
        const struct vs_key_ops *kind = vs_key_ops_for(k);
        p.minimal = kind && kind->minimal_pbkdf;
        return p;
}

int add_slot_with_token(struct vs_luks *l, unsigned slot, const struct vs_secret *vk, const struct vs_secret *pass,
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

int kill_slot_and_token(struct vs_luks *l, unsigned slot) {
        int r = vs_luks_destroy_slot(l, slot);
        if (r < 0)
                return r;
        return vs_luks_token_set(l, slot, NULL, -1);
}

int replace_slot(struct vs_luks *l, unsigned slot, uint32_t reserved, const struct vs_secret *vk,
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
