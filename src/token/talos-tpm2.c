/* talos-tpm2.c: libcryptsetup-token-talos-tpm2.so: the `talos-tpm2` token (docs/tpm.md) of volseal
 * and Talos. open unseals through src/keys/tpm.c (the one unseal sequence of src/tpm/): the TPM from
 * $VOLSEAL_TCTI (else /dev/tpmrm0, /dev/tpm0), the signed PCR policy and its key from
 * $VOLSEAL_PCR_SIGNATURE / $VOLSEAL_PCR_PUBLIC_KEY (else /.extra/, /run/systemd/). */
#include "token.h"
#include "encoding.h"
#include "keys/keys.h"
#include "util.h"
#include "volseal-version.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* The largest base64 field luksDump decodes (65536 characters). */
#define DUMP_FIELD_MAX 49152

/* An optional UserData array of integers in [0, max); -EBADMSG (why set) when present and not that. */
static int int_array(struct json_object *ud, const char *field, int max, uint32_t *ret_mask, char *why, size_t size) {
        struct json_object *a;
        *ret_mask = 0;
        if (!json_object_object_get_ex(ud, field, &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return snprintf(why, size, "UserData.%s is not an array", field), -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t v = json_object_is_type(e, json_type_int) ? json_object_get_int64(e) : -1;
                if (v < 0 || v >= max)
                        return snprintf(why, size, "UserData.%s[%zu] is not a number from 0 to %d", field, i, max - 1), -EBADMSG;
                *ret_mask |= 1u << v;
        }
        return 0;
}

static int tpm2_check(struct json_object *token, unsigned slot, char *why, size_t size) {
        struct json_object *ud, *o;
        json_object_object_get_ex(token, "UserData", &ud);
        static const char *const strings[] = { "sealed_blob_private", "sealed_blob_public", "policy_hash", "key_name",
                                               "alg", "encryption_version", "volseal_pk_sha256", "volseal_kek_sha256",
                                               "volseal_db_sha256" };
        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                if (json_object_object_get_ex(ud, strings[i], &o) && !json_object_is_type(o, json_type_string))
                        return snprintf(why, size, "UserData.%s is not a string", strings[i]), -EBADMSG;
        const char *alg = vs_token_ud_string(token, "alg");
        if (alg && !streq(alg, "sha256"))
                return snprintf(why, size, "UserData.alg is \"%s\", not \"sha256\"", alg), -EBADMSG;
        uint32_t mask;
        int r = int_array(ud, "pcrs", 24, &mask, why, size);
        if (r >= 0)
                r = int_array(ud, "pubkey_pcrs", 24, &mask, why, size);
        if (r >= 0)
                r = int_array(ud, "keyslots", 32, &mask, why, size);
        if (r < 0)
                return r;
        /* The rest exactly as `volseal unlock` reads it (blobs, policy_hash, key_name, pcrs). */
        struct vs_key_run run = {};
        r = vs_key_tpm_token_check(&run, slot, token);
        if (r < 0)
                return snprintf(why, size, "%s", run.reason), -EBADMSG;
        return 0;
}

static void print_pcrs(struct crypt_device *cd, const char *name, struct json_object *ud, const char *field, const char *none) {
        struct json_object *a;
        char buf[128] = "";
        size_t n = 0;
        if (json_object_object_get_ex(ud, field, &a))
                for (size_t i = 0; i < json_object_array_length(a) && n < sizeof(buf) - 8; i++)
                        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : "",
                                               json_object_get_int(json_object_array_get_idx(a, i)));
        vs_token_print(cd, name, "%s", n ? buf : none);
}

/* A base64 field as luksDump shows it: its size, or (hex) its first 80 bytes in hex. */
static void print_b64(struct crypt_device *cd, const char *name, const char *b64, bool hex) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n = 0;
        if (!b64 || !*b64) {
                vs_token_print(cd, name, "not recorded");
                return;
        }
        if (vs_base64_decode(b64, DUMP_FIELD_MAX, &b, &n) < 0) {
                vs_token_print(cd, name, "not base64");
                return;
        }
        if (!hex) {
                vs_token_print(cd, name, "%zu bytes", n);
                return;
        }
        char h[VS_HEX_SIZE(80)];
        vs_hex_encode_to(b, n < 80 ? n : 80, h);
        vs_token_print(cd, name, "%s", h);
}

static void tpm2_dump(struct crypt_device *cd, struct json_object *token) {
        struct json_object *ud;
        json_object_object_get_ex(token, "UserData", &ud);
        const char *ver = vs_token_ud_string(token, "encryption_version");
        if (ver)
                print_pcrs(cd, "tpm2-pcrs", ud, "pcrs", "none (signed policy only)");
        else
                print_pcrs(cd, "tpm2-pcrs", ud, "pcrs", "none");
        print_pcrs(cd, "tpm2-signed-pcrs", ud, "pubkey_pcrs", "11 (Talos before 1.12)");
        const char *alg = vs_token_ud_string(token, "alg");
        vs_token_print(cd, "tpm2-pcr-bank", "%s", alg ? alg : "sha256");
        vs_token_print(cd, "layout", "%s", ver ? "Talos 1.12 (encryption_version 1)" : "Talos before 1.12 (pcrs [11] = PCR 7 + signed PCR 11)");
        print_b64(cd, "tpm2-policy-hash", vs_token_ud_string(token, "policy_hash"), true);
        print_b64(cd, "tpm2-srk-name", vs_token_ud_string(token, "key_name"), true);
        print_b64(cd, "tpm2-blob-private", vs_token_ud_string(token, "sealed_blob_private"), false);
        print_b64(cd, "tpm2-blob-public", vs_token_ud_string(token, "sealed_blob_public"), false);
        print_pcrs(cd, "talos-keyslots", ud, "keyslots", "none");
        bool hashes = vs_token_ud_string(token, "volseal_pk_sha256") && vs_token_ud_string(token, "volseal_kek_sha256") &&
                      vs_token_ud_string(token, "volseal_db_sha256");
        vs_token_print(cd, "volseal-reseal", "%s", hashes ? "PK, KEK and db hashes recorded (re-sealed after dbx/firmware updates)"
                                                           : "no PK/KEK/db hashes (never re-sealed automatically)");
}

static const struct vs_token_type talos_tpm2 = {
        .name = "talos-tpm2",
        .kind = VS_KEY_TPM,
        .check = tpm2_check,
        .dump = tpm2_dump,
};

const char *cryptsetup_token_version(void) {
        return VOLSEAL_VERSION;
}

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len, void *usrptr) {
        return vs_token_open(&talos_tpm2, cd, token, buffer, buffer_len);
}

void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len) {
        vs_token_buffer_free(buffer, buffer_len);
}

int cryptsetup_token_validate(struct crypt_device *cd, const char *json) {
        return vs_token_validate(&talos_tpm2, cd, json);
}

void cryptsetup_token_dump(struct crypt_device *cd, const char *json) {
        vs_token_dump(&talos_tpm2, cd, json);
}
