/* token-updatable.c: see token-updatable.h. */
#include "token-updatable.h"
#include "encoding.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define PCR11 (1u << 11)
#define OBJECT_ATTRIBUTES (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA)

static const char *field_string(struct json_object *o, const char *name) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int missing(struct vs_key_run *run, unsigned slot, struct json_object *o, const char *name) {
        bool present = json_object_object_get_ex(o, name, NULL);
        return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token %s %s%s", slot, VS_UPDATABLE_TOKEN_TYPE,
                             present ? "has a non-string" : "lacks", name, present ? " (wrong field type)" : "");
}

/* A base64 field of the token: TPM2B blobs of at most a few KiB. */
#define TOKEN_FIELD_MAX 16384

/* A TPM2B blob in standard padded base64. */
static int field_blob(struct vs_key_run *run, unsigned slot, struct json_object *o, const char *name,
                      int (*parse)(const uint8_t *, size_t, void *), void *ret) {
        const char *s = field_string(o, name);
        if (!s)
                return missing(run, slot, o, name);
        _cleanup_free_ uint8_t *b = NULL;
        size_t n = 0;
        int r = vs_base64_decode(s, TOKEN_FIELD_MAX, &b, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || parse(b, n, ret) < 0)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's %s is not a TPM2B in base64", slot,
                                     VS_UPDATABLE_TOKEN_TYPE, name);
        return 0;
}

static int parse_private(const uint8_t *b, size_t n, void *ret) {
        return vs_tpm_parse_private(b, n, ret);
}

static int parse_public(const uint8_t *b, size_t n, void *ret) {
        return vs_tpm_parse_public(b, n, ret);
}

/* A hex field of exactly `size` bytes; a Name must be a SHA-256 Name (000b + digest). */
static int field_hex(struct vs_key_run *run, unsigned slot, struct json_object *o, const char *name, uint8_t *out,
                     size_t size, bool is_name) {
        const char *s = field_string(o, name);
        if (!s)
                return missing(run, slot, o, name);
        size_t len = 0;
        if (vs_hex_decode(s, out, size, &len) < 0 || len != size || (is_name && (out[0] != 0x00 || out[1] != 0x0b)))
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's %s is not %s", slot,
                                     VS_UPDATABLE_TOKEN_TYPE, name,
                                     is_name ? "a SHA-256 Name in hex (000b and 32 bytes)" : "32 bytes in hex");
        return 0;
}

static int field_pcrs(struct vs_key_run *run, unsigned slot, struct json_object *o, uint32_t *ret) {
        struct json_object *a;
        *ret = 0;
        if (!json_object_object_get_ex(o, "pcrs", &a) || !json_object_is_type(a, json_type_array))
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's pcrs is missing or not a list", slot,
                                     VS_UPDATABLE_TOKEN_TYPE);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *p = json_object_array_get_idx(a, i);
                int64_t v = json_object_get_int64(p);
                if (!json_object_is_type(p, json_type_int) || v < 0 || v > 23 || v == 11 || (*ret & (1u << v)))
                        return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's pcrs[%zu] is not a literal PCR "
                                             "(0-23 but 11, each once)", slot, VS_UPDATABLE_TOKEN_TYPE, i);
                *ret |= 1u << v;
        }
        return 0;
}

static int field_index(struct vs_key_run *run, unsigned slot, struct json_object *o, uint32_t *ret) {
        const char *s = field_string(o, "nv_index");
        if (!s)
                return missing(run, slot, o, "nv_index");
        char *end = NULL;
        unsigned long h = strncmp(s, "0x", 2) == 0 && strlen(s) == 10 ? strtoul(s + 2, &end, 16) : 0;
        if (!end || *end || h < 0x01000000ul || h > 0x01fffffful)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's nv_index is not an NV index handle "
                                     "(0x01000000-0x01ffffff, written 0x and 8 hex digits)", slot, VS_UPDATABLE_TOKEN_TYPE);
        *ret = (uint32_t) h;
        return 0;
}

/* The token must be consistent in itself: S = PolicyAuthorizeNV(nv_name) is the object's authPolicy. */
static int check_consistent(struct vs_key_run *run, unsigned slot, const struct vs_updatable_token *t) {
        uint8_t s[POLICY_SHA256_SIZE];
        const TPMT_PUBLIC *p = &t->sealed.pub.publicArea;
        if (policy_authorize_nv(s, &t->nv_name) < 0 || memcmp(s, t->sealed.policy_hash, sizeof(s)) != 0)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's policy_hash is not PolicyAuthorizeNV "
                                     "of its nv_name", slot, VS_UPDATABLE_TOKEN_TYPE);
        if (p->type != TPM2_ALG_KEYEDHASH || p->nameAlg != TPM2_ALG_SHA256 || p->objectAttributes != OBJECT_ATTRIBUTES)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's sealed object is not a policy-only, noDA, "
                                     "fixedTPM keyedHash object", slot, VS_UPDATABLE_TOKEN_TYPE);
        if (p->authPolicy.size != sizeof(s) || memcmp(p->authPolicy.buffer, s, sizeof(s)) != 0)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's sealed object has another policy than "
                                     "its policy_hash", slot, VS_UPDATABLE_TOKEN_TYPE);
        return 0;
}

int vs_key_updatable_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token,
                                 struct vs_updatable_token *ret) {
        struct vs_updatable_token t = { .nv_name.size = 34, .sealed.srk_name.size = 34 };
        const char *type = token ? field_string(token, "type") : NULL;
        if (!type || !streq(type, VS_UPDATABLE_TOKEN_TYPE))
                return vs_key_reason(run, EBADMSG, "keyslot %u: the token is not of type %s", slot, VS_UPDATABLE_TOKEN_TYPE);
        struct json_object *v;
        if (!json_object_object_get_ex(token, "version", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) != VERSION)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the %s token's version is not %d (written by another "
                                     "volseal?)", slot, VS_UPDATABLE_TOKEN_TYPE, VERSION);
        int r = field_blob(run, slot, token, "sealed_blob_private", parse_private, &t.sealed.priv);
        if (r >= 0)
                r = field_blob(run, slot, token, "sealed_blob_public", parse_public, &t.sealed.pub);
        if (r >= 0)
                r = field_hex(run, slot, token, "srk_name", t.sealed.srk_name.name, 34, true);
        if (r >= 0)
                r = field_hex(run, slot, token, "policy_hash", t.sealed.policy_hash, 32, false);
        if (r >= 0)
                r = field_index(run, slot, token, &t.nv_index);
        if (r >= 0)
                r = field_hex(run, slot, token, "nv_name", t.nv_name.name, 34, true);
        if (r >= 0)
                r = field_pcrs(run, slot, token, &t.sealed.pcr_mask);
        if (r >= 0)
                r = check_consistent(run, slot, &t);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

static int add_base64(struct json_object *o, const char *field, const uint8_t *p, size_t n) {
        _cleanup_free_ char *s = vs_base64_encode(p, n);
        if (!s)
                return -ENOMEM;
        json_object_object_add(o, field, json_object_new_string(s));
        return 0;
}

static void add_hex(struct json_object *o, const char *field, const uint8_t *p, size_t n) {
        char s[VS_HEX_SIZE(sizeof(TPMU_NAME))];
        vs_hex_encode_to(p, n, s);
        json_object_object_add(o, field, json_object_new_string(s));
}

int vs_key_updatable_token_make(const struct vs_updatable_token *t, struct json_object **ret) {
        _cleanup_free_ uint8_t *priv = NULL, *pub = NULL;
        size_t priv_len, pub_len;
        int r = vs_tpm_blob_private(&t->sealed.priv, &priv, &priv_len);
        if (r >= 0)
                r = vs_tpm_blob_public(&t->sealed.pub, &pub, &pub_len);
        if (r < 0)
                return r;
        struct json_object *o = json_object_new_object(), *pcrs = json_object_new_array();
        json_object_object_add(o, "type", json_object_new_string(VS_UPDATABLE_TOKEN_TYPE));
        json_object_object_add(o, "version", json_object_new_int(VERSION));
        r = add_base64(o, "sealed_blob_private", priv, priv_len);
        if (r >= 0)
                r = add_base64(o, "sealed_blob_public", pub, pub_len);
        add_hex(o, "srk_name", t->sealed.srk_name.name, t->sealed.srk_name.size);
        add_hex(o, "policy_hash", t->sealed.policy_hash, sizeof(t->sealed.policy_hash));
        char index[16];
        snprintf(index, sizeof(index), "0x%08x", t->nv_index);
        json_object_object_add(o, "nv_index", json_object_new_string(index));
        add_hex(o, "nv_name", t->nv_name.name, t->nv_name.size);
        for (int i = 0; i < VS_TPM_PCR_COUNT; i++)
                if (t->sealed.pcr_mask & (1u << i))
                        json_object_array_add(pcrs, json_object_new_int(i));
        json_object_object_add(o, "pcrs", pcrs);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}
