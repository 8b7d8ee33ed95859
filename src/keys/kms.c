/* kms.c: the `kms` kind: 32 random bytes sealed by a network KMS speaking the Talos protocol (src/kms/).
 * Enrolment: Seal{node_uuid, 32 random bytes} -> token `sideroKMS` at id = slot with
 * UserData.sealedData = base64 of the sealed blob. Unlock: Unseal{node_uuid, sealedData} -> the 32 bytes.
 * The passphrase is base64 (padded, 44 characters) of the 32 bytes, as Talos makes it; the keyslot is
 * argon2id at libcryptsetup's minimum (a full-entropy secret). node_uuid is the node UUID as Talos sends it
 * (vs_key_node_uuid: no format or entropy rule). Unseal's answer is used whatever its length, as Talos does.
 * One KMS client per endpoint per run, so every volume of a run shares one HTTP/2 connection. */
#include "keys.h"
#include "cleanup.h"
#include "token.h"
#include "encoding.h"
#include "kms/kms.h"
#include "util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <string.h>

#define KMS_TOKEN_TYPE "sideroKMS"
/* UserData.sealedData: the KMS's sealed blob (60 bytes for a 32-byte secret); 8192 base64 characters. */
#define KMS_SEALED_MAX 6144

struct kms_conn {
        char *endpoint;
        struct vs_kms *client;
};

struct kms_state {
        struct kms_conn *conns;
        size_t n;
};

static int get_client(struct vs_key_run *run, const char *endpoint, struct vs_kms **ret) {
        if (!endpoint || !*endpoint)
                return vs_key_reason(run, EINVAL, "the kms key has no endpoint");
        struct kms_state *st = run->kind_state[VS_KEY_KMS];
        if (!st) {
                st = calloc(1, sizeof(*st));
                if (!st)
                        return vs_key_reason(run, ENOMEM, "out of memory");
                run->kind_state[VS_KEY_KMS] = st;
        }
        for (size_t i = 0; i < st->n; i++)
                if (streq(st->conns[i].endpoint, endpoint)) {
                        *ret = st->conns[i].client;
                        return 0;
                }
        struct kms_conn *c = realloc(st->conns, (st->n + 1) * sizeof(*c));
        if (!c)
                return vs_key_reason(run, ENOMEM, "out of memory");
        st->conns = c;
        struct vs_kms_options o = { .ca_file = run->kms_ca_file, .timeout_ms = run->kms_timeout_ms };
        struct vs_kms *k = NULL;
        int r = vs_kms_open(endpoint, &o, &k);
        if (r < 0)
                return vs_key_reason(run, r, "KMS endpoint %s cannot be used%s", endpoint,
                                     r == -EINVAL ? " (see the error above)" : "");
        c[st->n].endpoint = strdup(endpoint);
        if (!c[st->n].endpoint) {
                vs_kms_close(k);
                return vs_key_reason(run, ENOMEM, "out of memory");
        }
        c[st->n].client = k;
        st->n++;
        *ret = k;
        return 0;
}

static void kms_run_done(struct vs_key_run *run) {
        struct kms_state *st = run->kind_state[VS_KEY_KMS];
        if (!st)
                return;
        for (size_t i = 0; i < st->n; i++) {
                vs_kms_close(st->conns[i].client);
                free(st->conns[i].endpoint);
        }
        free(st->conns);
        free(st);
        run->kind_state[VS_KEY_KMS] = NULL;
}

/* base64 (padded) of the 32-byte secret, in a locked buffer: the passphrase. */
static int passphrase_of(struct vs_key_run *run, const struct vs_secret *secret, struct vs_secret **ret) {
        int r = vs_base64_encode_secret(secret, ret);
        if (r < 0)
                return vs_key_reason(run, r, "cannot allocate a locked buffer for the passphrase");
        return 0;
}

static int kms_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                   unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        char uuid[256];
        int r = vs_key_node_uuid(run, uuid, sizeof(uuid));
        if (r < 0)
                return r;
        struct vs_kms *k;
        r = get_client(run, key->kms_endpoint, &k);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *secret = NULL;
        r = vs_secret_new(VS_KMS_SECRET_SIZE, &secret);
        if (r < 0)
                return vs_key_reason(run, r, "cannot allocate a locked buffer for the KMS secret");
        if (RAND_bytes(secret->data, VS_KMS_SECRET_SIZE) != 1)
                return vs_key_reason(run, EIO, "cannot get random bytes for the KMS secret");
        secret->len = VS_KMS_SECRET_SIZE;
        _cleanup_free_ uint8_t *sealed = NULL;
        size_t len = 0;
        r = vs_kms_seal(k, uuid, secret, &sealed, &len);
        if (r < 0)
                return vs_key_reason(run, r, "%s", vs_kms_last_error(k));
        _cleanup_free_ char *b64 = vs_base64_encode(sealed, len);
        if (!b64)
                return vs_key_reason(run, ENOMEM, "out of memory");
        _cleanup_json_ struct json_object *tok = json_object_new_object();
        struct json_object *ud = json_object_new_object();
        /* Talos's member order (go-blockdevice luks.Token: UserData, then type). */
        if (!tok || !ud || json_object_object_add(tok, "UserData", ud) < 0) {
                json_object_put(ud); /* not handed to tok */
                return vs_key_reason(run, ENOMEM, "out of memory");
        }
        if (json_object_object_add(ud, "sealedData", json_object_new_string(b64)) < 0 ||
            json_object_object_add(tok, "type", json_object_new_string(KMS_TOKEN_TYPE)) < 0)
                return vs_key_reason(run, ENOMEM, "out of memory");
        r = passphrase_of(run, secret, ret_pass);
        if (r < 0)
                return r;
        *ret_token = TAKE_PTR(tok);
        return 0;
}

int vs_key_kms_token_parse(struct vs_key_run *run, unsigned slot, struct json_object *token, uint8_t **ret,
                           size_t *ret_len) {
        struct json_object *t, *ud, *sd;
        if (!token)
                return vs_key_reason(run, ENOKEY, "no sideroKMS token at id %u", slot);
        if (!json_object_object_get_ex(token, "type", &t) || !json_object_is_type(t, json_type_string) ||
            !streq(json_object_get_string(t), KMS_TOKEN_TYPE))
                return vs_key_reason(run, ENOKEY, "token %u is not a sideroKMS token", slot);
        if (!json_object_object_get_ex(token, "UserData", &ud) || !json_object_object_get_ex(ud, "sealedData", &sd) ||
            !json_object_is_type(sd, json_type_string))
                return vs_key_reason(run, ENOKEY, "sideroKMS token %u has no UserData.sealedData", slot);
        int r = vs_base64_decode(json_object_get_string(sd), KMS_SEALED_MAX, ret, ret_len);
        if (r == -ENOMEM)
                return vs_key_reason(run, ENOMEM, "out of memory");
        if (r < 0)
                return vs_key_reason(run, ENOKEY, "sideroKMS token %u: sealedData is not base64", slot);
        return 0;
}

static int kms_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                   unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        _cleanup_free_ uint8_t *sealed = NULL;
        size_t len = 0;
        int r = vs_key_kms_token_parse(run, slot, token, &sealed, &len);
        if (r < 0)
                return r;
        char uuid[256];
        r = vs_key_node_uuid(run, uuid, sizeof(uuid));
        if (r < 0)
                return r;
        struct vs_kms *k;
        r = get_client(run, key->kms_endpoint, &k);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *secret = NULL;
        r = vs_kms_unseal(k, uuid, sealed, len, &secret);
        if (r < 0)
                return vs_key_reason(run, r, "%s", vs_kms_last_error(k));
        return passphrase_of(run, secret, ret_pass);
}

const struct vs_key_ops vs_key_ops_kms = {
        .kind = VS_KEY_KMS,
        .name = "kms",
        .token_type = KMS_TOKEN_TYPE,
        .minimal_pbkdf = true,
        .new_key = kms_new,
        .get_key = kms_get,
        .run_done = kms_run_done,
};
