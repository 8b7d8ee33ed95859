/* sidero-kms.c: libcryptsetup-token-sideroKMS.so: the `sideroKMS` token (docs/kms.md) of volseal and
 * Talos. open asks the KMS through src/keys/kms.c (src/kms/): Unseal{node_uuid, UserData.sealedData}.
 * The endpoint comes from $VOLSEAL_KMS_ENDPOINT only: the token does not record it (Talos's does not
 * either), and an endpoint read from the unauthenticated header would let whoever can write the header
 * choose the server this node sends its sealed blob to. The node UUID is the nodeID kind's: META tag 15
 * from $VOLSEAL_META when set, else $VOLSEAL_PRODUCT_UUID_FILE, else SMBIOS product_uuid. TLS CA bundle:
 * $VOLSEAL_KMS_CA. */
#include "token.h"
#include "keys/token.h"
#include "util.h"
#include "volseal-version.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* UserData.sealedData as `volseal unlock` reads it (src/keys/kms.c); the byte count when it parses. */
static int sealed_size(struct json_object *token, unsigned slot, size_t *ret) {
        struct vs_key_run run = {};
        _cleanup_free_ uint8_t *sealed = NULL;
        return vs_key_kms_token_parse(&run, slot, token, &sealed, ret);
}

static int kms_check(struct json_object *token, unsigned slot, char *why, size_t size) {
        size_t n;
        if (sealed_size(token, slot, &n) < 0)
                return snprintf(why, size, "UserData.sealedData is missing, not a string or not a sealed blob in base64"), -EBADMSG;
        return 0;
}

static void kms_dump(struct crypt_device *cd, struct json_object *token) {
        size_t n = 0;
        (void) sealed_size(token, 0, &n);
        vs_token_print(cd, "kms-sealed-data", "%zu bytes", n);
        vs_token_print(cd, "kms-endpoint", "not recorded in the token (give VOLSEAL_KMS_ENDPOINT)");
}

static const struct vs_token_type sidero_kms = {
        .name = "sideroKMS",
        .kind = VS_KEY_KMS,
        .check = kms_check,
        .dump = kms_dump,
};

const char *cryptsetup_token_version(void) {
        return VOLSEAL_VERSION;
}

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len, void *usrptr) {
        return vs_token_open(&sidero_kms, cd, token, buffer, buffer_len);
}

void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len) {
        vs_token_buffer_free(buffer, buffer_len);
}

int cryptsetup_token_validate(struct crypt_device *cd, const char *json) {
        return vs_token_validate(&sidero_kms, cd, json);
}

void cryptsetup_token_dump(struct crypt_device *cd, const char *json) {
        vs_token_dump(&sidero_kms, cd, json);
}
