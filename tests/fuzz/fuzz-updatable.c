/* fuzz-updatable.c: libFuzzer target for the parsers of the updatable tpm slot (docs/tpm-updatable.md). The
 * first byte picks one, the rest is its input:
 *   0  the volseal-tpm2-updatable token JSON (src/keys/token-updatable.c): a token that parses is written back
 *      and must parse again to the same fields; a refusal always says why
 *   1  the NV index's bytes (policy/authnv.c): what parses marshals back to the same bytes
 *   2  the authority file on STATE (src/authority.c): what parses formats back and parses to the same key
 *   3  a typed recovery key (src/recovery-key.c): what normalises is 71 characters and normalises to itself */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "authnv.h"
#include "authority.h"
#include "keys/token-updatable.h"
#include "log.h"
#include "recovery-key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static void check_token(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        if (!text)
                return;
        memcpy(text, data, size);
        text[size] = 0;
        struct json_object *tok = json_tokener_parse(text);
        free(text);
        struct vs_key_run run = {};
        struct vs_updatable_token t, back;
        if (vs_key_updatable_token_parse(&run, 0, tok, &t) < 0) {
                if (!run.reason[0])
                        abort();
                json_object_put(tok);
                return;
        }
        json_object_put(tok);
        struct json_object *made = NULL, *remade = NULL;
        if (vs_key_updatable_token_make(&t, &made) < 0)
                return;
        const char *first = json_object_to_json_string_ext(made, JSON_C_TO_STRING_PLAIN);
        struct json_object *again = json_tokener_parse(first);
        if (!again || vs_key_updatable_token_parse(&run, 0, again, &back) < 0)
                abort(); /* what the writer makes reads back */
        if (vs_key_updatable_token_make(&back, &remade) < 0 ||
            strcmp(first, json_object_to_json_string_ext(remade, JSON_C_TO_STRING_PLAIN)) != 0)
                abort(); /* ... to the same fields */
        json_object_put(made);
        json_object_put(remade);
        json_object_put(again);
}

static void check_nv(const uint8_t *data, size_t size) {
        struct authnv_set s;
        uint8_t out[AUTHNV_DATA_SIZE];
        if (authnv_parse(data, size, &s) < 0)
                return;
        if (authnv_marshal(&s, out) < 0 || size != AUTHNV_DATA_SIZE || memcmp(out, data, size) != 0)
                abort();
}

static void check_authority(const uint8_t *data, size_t size) {
        struct vs_authority a, b;
        struct vs_secret *text = NULL;
        if (vs_authority_parse("fuzz", data, size, &a) < 0)
                return;
        if (vs_authority_format(&a, &text) < 0 || vs_authority_parse("fuzz", text->data, text->len, &b) < 0)
                abort();
        if (a.nv_index != b.nv_index || EVP_PKEY_eq(a.write_key, b.write_key) != 1)
                abort();
        vs_secret_free(text);
        vs_authority_done(&a);
        vs_authority_done(&b);
}

static void check_recovery(const uint8_t *data, size_t size) {
        struct vs_secret *k = NULL, *again = NULL;
        if (vs_recovery_key_normalize((const char *) data, size, &k) < 0)
                return;
        if (k->len != VS_RECOVERY_KEY_LENGTH || vs_recovery_key_normalize((const char *) k->data, k->len, &again) < 0 ||
            !vs_secret_equal(k, again))
                abort();
        vs_secret_free(k);
        vs_secret_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        if (size < 1)
                return 0;
        switch (data[0] % 4) {
        case 0: check_token(data + 1, size - 1); break;
        case 1: check_nv(data + 1, size - 1); break;
        case 2: check_authority(data + 1, size - 1); break;
        case 3: check_recovery(data + 1, size - 1); break;
        }
        return 0;
}
