/* token.h: libcryptsetup external token plugins (libcryptsetup-token-talos-tpm2.so and
 * libcryptsetup-token-sideroKMS.so), the side of volseal that libcryptsetup calls.
 * Promise: each plugin exports exactly the CRYPTSETUP_TOKEN_1.0 symbols below (token.sym) and nothing
 * else; open recovers the keyslot passphrase through volseal's own key kinds (src/keys/ on src/tpm/ or
 * src/kms/), configured from the environment because `cryptsetup open` passes no user data; the buffer
 * handed to libcryptsetup is a locked, never-dumped mapping that cryptsetup_token_buffer_free wipes;
 * validate refuses tokens volseal could not use (before any TPM or network access); dump prints the fields
 * for `cryptsetup luksDump`. From here only crypt_token_json_get, crypt_get_device_name and crypt_logf of
 * libcryptsetup are called (the plugin is loaded by libcryptsetup itself). */
#pragma once
#include <stddef.h>

#include "config.h"

struct crypt_device;
struct json_object;

/* The CRYPTSETUP_TOKEN_1.0 ABI (libcryptsetup.h: crypt_token_*_func). Each plugin defines them. */
const char *cryptsetup_token_version(void);
int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len, void *usrptr);
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len);
int cryptsetup_token_validate(struct crypt_device *cd, const char *json);
void cryptsetup_token_dump(struct crypt_device *cd, const char *json);

/* One token type: its name, the key kind that recovers its passphrase, and its UserData checks. */
struct vs_token_type {
        const char *name;                 /* "talos-tpm2", "sideroKMS" */
        enum vs_key_kind kind;
        /* Checks UserData (already known to be an object); 0, or -EBADMSG with one sentence in why. */
        int (*check)(struct json_object *token, unsigned slot, char *why, size_t size);
        /* Prints the human-readable fields (crypt_logf through vs_token_print). */
        void (*dump)(struct crypt_device *cd, struct json_object *token);
};

/* Shared implementations of the ABI, parameterized by the type. */
int vs_token_open(const struct vs_token_type *t, struct crypt_device *cd, int token, char **buffer, size_t *buffer_len);
int vs_token_validate(const struct vs_token_type *t, struct crypt_device *cd, const char *json);
void vs_token_dump(const struct vs_token_type *t, struct crypt_device *cd, const char *json);
void vs_token_buffer_free(void *buffer, size_t buffer_len);

/* One "\tNAME: VALUE" line of luksDump (names padded to one column). */
__attribute__((format(printf, 3, 4)))
void vs_token_print(struct crypt_device *cd, const char *name, const char *fmt, ...);
/* UserData's string field, or NULL when absent or not a string. */
const char *vs_token_ud_string(struct json_object *token, const char *field);
