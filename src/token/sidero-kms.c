/* sidero-kms.c: libcryptsetup-token-sideroKMS.so: the `sideroKMS` token (design §3 "kms") of volseal and
 * Talos. open asks the KMS through src/keys/kms.c (src/kms/): Unseal{node_uuid, UserData.sealedData}.
 * The endpoint comes from $VOLSEAL_KMS_ENDPOINT only: the token does not record it (Talos's does not
 * either), and an endpoint read from the unauthenticated header would let whoever can write the header
 * choose the server this node sends its sealed blob to. The node UUID is the nodeID kind's: META tag 15
 * from $VOLSEAL_META when set, else $VOLSEAL_PRODUCT_UUID_FILE, else SMBIOS product_uuid. TLS CA bundle:
 * $VOLSEAL_KMS_CA. */
#include "token.h"
#include "util.h"
#include "volseal-version.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static int kms_check(struct json_object *token, unsigned slot, char *why, size_t size) {
        const char *s = vs_token_ud_string(token, "sealedData");
        if (!s)
                return snprintf(why, size, "UserData.sealedData is missing or not a string"), -EBADMSG;
        _cleanup_free_ unsigned char *b = NULL;
        size_t n = 0;
        if (strlen(s) > 8192 || vs_token_unbase64(s, &b, &n) < 0 || n == 0)
                return snprintf(why, size, "UserData.sealedData is not a sealed blob in base64"), -EBADMSG;
        return 0;
}

static void kms_dump(struct crypt_device *cd, struct json_object *token) {
        _cleanup_free_ unsigned char *b = NULL;
        size_t n = 0;
        (void) vs_token_unbase64(vs_token_ud_string(token, "sealedData"), &b, &n);
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
