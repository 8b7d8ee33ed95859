/* static.c: the `static` kind: the passphrase is the configured bytes. No token. */
#include "keys.h"

#include <errno.h>

static int static_key(struct vs_key_run *run, const struct vs_key_config *key, struct vs_secret **ret) {
        if (!key->passphrase || key->passphrase->len == 0)
                return vs_key_reason(run, EINVAL, "static key of slot %u has no passphrase", key->slot);
        return vs_secret_from(key->passphrase->data, key->passphrase->len, ret);
}

static int static_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        *ret_token = NULL;
        return static_key(run, key, ret_pass);
}

static int static_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        return static_key(run, key, ret_pass);
}

const struct vs_key_ops vs_key_ops_static = {
        .kind = VS_KEY_STATIC,
        .name = "static",
        .token_type = NULL,
        .minimal_pbkdf = false,
        .new_key = static_new,
        .get_key = static_get,
};
