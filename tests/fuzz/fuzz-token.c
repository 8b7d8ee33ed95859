/* fuzz-token.c: libFuzzer target for the LUKS2 token JSON of the tokened kinds (src/keys/token.h): the text
 * is parsed as vs_luks_token_get() does (json-c, NUL-terminated as libcryptsetup hands it over), then read by
 * the talos-tpm2 parser (base64 TPM2B blobs through tss2-mu, pcrs, hashes) and the sideroKMS parser
 * (sealedData). A talos-tpm2 token that parses is written back with the enrolment writer and must parse
 * again to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "keys/token.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static void check_tpm(struct json_object *tok) {
        struct vs_key_run run = {};
        struct vs_tpm_token t, back;
        if (vs_key_tpm_token_parse(&run, 0, tok, &t) < 0) {
                if (!run.reason[0])
                        abort(); /* a refused token always says why */
                return;
        }
        struct json_object *made = NULL;
        if (vs_key_tpm_token_make(0, &t, &made) < 0)
                return;
        /* through the text form, as it goes to the header and back */
        const char *text = json_object_to_json_string_ext(made, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        struct json_object *again = json_tokener_parse(text);
        json_object_put(made);
        if (!again || vs_key_tpm_token_parse(&run, 0, again, &back) < 0)
                abort(); /* what enrolment writes must read back */
        if (memcmp(&t.sealed, &back.sealed, sizeof(t.sealed)) != 0 || t.has_hashes != back.has_hashes ||
            (t.has_hashes && memcmp(t.hex, back.hex, sizeof(t.hex)) != 0))
                abort(); /* ... to the same fields */
        json_object_put(again);
}

static void check_kms(struct json_object *tok) {
        struct vs_key_run run = {};
        uint8_t *sealed = NULL;
        size_t len = 0;
        if (vs_key_kms_token_parse(&run, 0, tok, &sealed, &len) < 0) {
                if (!run.reason[0] || sealed)
                        abort();
                return;
        }
        if (len == 0 || len > 8192)
                abort(); /* sealedData is 1..8192 base64 characters */
        free(sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        struct json_object *tok = json_tokener_parse(text);
        free(text);
        if (!tok)
                return 0;
        check_tpm(tok);
        check_kms(tok);
        json_object_put(tok);
        return 0;
}
