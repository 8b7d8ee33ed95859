/* common.c: what both token plugins share (token.h): the open path through src/keys/, the wiping buffer,
 * the generic token checks, luksDump lines, and volseal's log routed into libcryptsetup's log. */
#include "token.h"
#include "cleanup.h"
#include "keys/keys.h"
#include "log.h"
#include "meta.h"
#include "util.h"

#include <errno.h>
#include <libcryptsetup.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_SLOTS 32

/* volseal's own messages during one plugin call: library errors are details (cryptsetup -v shows them);
 * the plugin says the one sentence that matters at CRYPT_LOG_ERROR. The last error is kept, in case the
 * reason refers to it. */
struct sink_ctx {
        struct crypt_device *cd;
        char last_error[512];
};

static void sink(enum vs_log_level level, const char *message, void *userdata) {
        struct sink_ctx *c = userdata;
        if (level <= VS_LOG_ERR)
                snprintf(c->last_error, sizeof(c->last_error), "%s", message);
        crypt_logf(c->cd, level >= VS_LOG_DEBUG ? CRYPT_LOG_DEBUG : CRYPT_LOG_VERBOSE, "volseal: %s\n", message);
}

static void sink_begin(struct sink_ctx *c, struct crypt_device *cd) {
        *c = (struct sink_ctx) { .cd = cd };
        vs_log_set_sink(sink, c);
}

static void sink_end(void) {
        vs_log_set_sink(NULL, NULL);
}

void vs_token_print(struct crypt_device *cd, const char *name, const char *fmt, ...) {
        char value[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        char label[64];
        snprintf(label, sizeof(label), "%s:", name);
        crypt_logf(cd, CRYPT_LOG_NORMAL, "\t%-20s%s\n", label, value);
}

const char *vs_token_ud_string(struct json_object *token, const char *field) {
        struct json_object *ud, *o;
        if (!json_object_object_get_ex(token, "UserData", &ud) || !json_object_object_get_ex(ud, field, &o) ||
            !json_object_is_type(o, json_type_string))
                return NULL;
        return json_object_get_string(o);
}

/* A decimal keyslot number 0..31 in a string; -1 when it is not one. */
static int slot_of_string(const char *s) {
        if (!s || !*s || strlen(s) > 2)
                return -1;
        int v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                v = v * 10 + (*p - '0');
        }
        return v < MAX_SLOTS ? v : -1;
}

/* The checks every volseal token passes: an object of type t->name, "keyslots" an array of keyslot numbers
 * as strings, "UserData" an object; then the type's own checks. Sets *ret_slot to the first keyslot
 * referenced (-1 when none). */
static int check_token(const struct vs_token_type *t, struct json_object *token, int *ret_slot, char *why, size_t size) {
        struct json_object *o;
        *ret_slot = -1;
        if (!json_object_is_type(token, json_type_object))
                return snprintf(why, size, "the token is not a JSON object"), -EBADMSG;
        if (!json_object_object_get_ex(token, "type", &o) || !json_object_is_type(o, json_type_string) ||
            !streq(json_object_get_string(o), t->name))
                return snprintf(why, size, "the token's type is not \"%s\"", t->name), -EBADMSG;
        if (!json_object_object_get_ex(token, "keyslots", &o) || !json_object_is_type(o, json_type_array))
                return snprintf(why, size, "the token has no \"keyslots\" array"), -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                struct json_object *e = json_object_array_get_idx(o, i);
                int s = json_object_is_type(e, json_type_string) ? slot_of_string(json_object_get_string(e)) : -1;
                if (s < 0)
                        return snprintf(why, size, "the token's keyslots[%zu] is not a keyslot number in a string", i), -EBADMSG;
                if (*ret_slot < 0)
                        *ret_slot = s;
        }
        if (!json_object_object_get_ex(token, "UserData", &o) || !json_object_is_type(o, json_type_object))
                return snprintf(why, size, "the token has no UserData object"), -EBADMSG;
        return t->check(token, *ret_slot < 0 ? 0 : (unsigned) *ret_slot, why, size);
}

static int parse_and_check(const struct vs_token_type *t, const char *json, struct json_object **ret, int *ret_slot,
                           char *why, size_t size) {
        enum json_tokener_error err = json_tokener_success;
        _cleanup_json_ struct json_object *token = json ? json_tokener_parse_verbose(json, &err) : NULL;
        if (!token) {
                snprintf(why, size, "the token is not valid JSON%s%s", json ? ": " : "",
                         json ? json_tokener_error_desc(err) : "");
                return -EBADMSG;
        }
        int r = check_token(t, token, ret_slot, why, size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(token);
        return 0;
}

int vs_token_validate(const struct vs_token_type *t, struct crypt_device *cd, const char *json) {
        struct sink_ctx c;
        sink_begin(&c, cd);
        char why[512] = "";
        _cleanup_json_ struct json_object *token = NULL;
        int slot;
        int r = parse_and_check(t, json, &token, &slot, why, sizeof(why));
        if (r < 0)
                crypt_logf(cd, CRYPT_LOG_ERROR, "volseal: malformed %s token: %s.\n", t->name, why);
        sink_end();
        return r < 0 ? 1 : 0;
}

void vs_token_dump(const struct vs_token_type *t, struct crypt_device *cd, const char *json) {
        struct sink_ctx c;
        sink_begin(&c, cd);
        char why[512] = "";
        _cleanup_json_ struct json_object *token = NULL;
        int slot;
        if (parse_and_check(t, json, &token, &slot, why, sizeof(why)) < 0)
                vs_token_print(cd, "volseal", "malformed token: %s", why);
        else
                t->dump(cd, token);
        sink_end();
}

void vs_token_buffer_free(void *buffer, size_t buffer_len) {
        if (!buffer)
                return;
        explicit_bzero(buffer, buffer_len);
        munlock(buffer, buffer_len);
        munmap(buffer, buffer_len);
}

/* The passphrase for libcryptsetup in a mapping of its own: never dumped, locked where the limit allows,
 * wiped and unmapped by vs_token_buffer_free (munmap needs only the start and the length it was given). */
static int hand_out(const struct vs_secret *pass, char **buffer, size_t *buffer_len) {
        if (pass->len == 0)
                return -EINVAL;
        void *p = mmap(NULL, pass->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return -errno;
        if (madvise(p, pass->len, MADV_DONTDUMP) < 0) {
                int r = -errno;
                munmap(p, pass->len);
                return r;
        }
        (void) mlock(p, pass->len);
        memcpy(p, pass->data, pass->len);
        *buffer = p;
        *buffer_len = pass->len;
        return 0;
}

static const char *env(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

/* META tag 15 from $VOLSEAL_META (a META partition or image), as volseal unlock --meta reads it. */
static int uuid_override(char **ret, char *why, size_t size) {
        const char *path = env("VOLSEAL_META");
        *ret = NULL;
        if (!path)
                return 0;
        struct vs_meta m = {};
        int r = vs_meta_load(&m, path);
        if (r >= 0)
                r = vs_meta_uuid_override(&m, ret);
        vs_meta_done(&m);
        if (r < 0)
                snprintf(why, size, "cannot read the UUID override (tag 15) from META %s ($VOLSEAL_META): %s", path, strerror(-r));
        return r < 0 ? r : 0;
}

/* Failures that mean "the TPM or the KMS is not there": libcryptsetup's -EAGAIN (hardware missing) lets
 * the next token be tried and is reported as such. Anything else: -ENOENT (this token cannot open). */
static int open_errno(int r) {
        switch (-r) {
        case ENODEV: case ECONNREFUSED: case ECONNRESET: case EHOSTUNREACH: case ETIMEDOUT:
                return -EAGAIN;
        case ENOMEM:
                return -ENOMEM;
        default:
                return -ENOENT;
        }
}

/* The passphrase of token token_id through the type's key kind; -errno with one sentence in why. */
static int recover(const struct vs_token_type *t, struct crypt_device *cd, int token_id, struct vs_secret **ret,
                   char *why, size_t size) {
        _cleanup_json_ struct json_object *token = NULL;
        _cleanup_free_ char *uuid = NULL;
        int slot = -1;
        const char *json = NULL;
        int r = crypt_token_json_get(cd, token_id, &json);
        if (r < 0)
                return snprintf(why, size, "cannot read the token: %s", strerror(-r)), r;
        r = parse_and_check(t, json, &token, &slot, why, size);
        if (r < 0)
                return r;
        if (slot < 0)
                return snprintf(why, size, "the token references no keyslot (volseal token adopt adds it)"), -ENOENT;
        r = uuid_override(&uuid, why, size);
        if (r < 0)
                return r;
        struct vs_key_run run = {
                .tcti = env("VOLSEAL_TCTI"),
                .pcr_signature_path = env("VOLSEAL_PCR_SIGNATURE"),
                .pcr_public_key_path = env("VOLSEAL_PCR_PUBLIC_KEY"),
                .product_uuid_file = env("VOLSEAL_PRODUCT_UUID_FILE"),
                .uuid_override = uuid,
                .state_dir = env("VOLSEAL_STATE_DIR"),
                .kms_ca_file = env("VOLSEAL_KMS_CA"),
                .no_reseal = true,
        };
        struct vs_key_config key = {
                .slot = (unsigned) slot,
                .kind = t->kind,
                .lock_to_state = run.state_dir != NULL,
                .kms_endpoint = (char *) env("VOLSEAL_KMS_ENDPOINT"),
        };
        const char *dev = crypt_get_device_name(cd);
        struct vs_key_volume vol = { .id = env("VOLSEAL_VOLUME_ID") ?: "", .device = dev ? dev : "" };
        if (t->kind == VS_KEY_KMS && !key.kms_endpoint)
                return snprintf(why, size, "no KMS endpoint: set VOLSEAL_KMS_ENDPOINT (the token does not record it)"), -ENOENT;
        r = vs_key_get(&run, &vol, &key, (unsigned) slot, token, ret);
        if (r < 0)
                snprintf(why, size, "%s", run.reason[0] ? run.reason : strerror(-r));
        vs_key_run_done(&run);
        return r;
}

int vs_token_open(const struct vs_token_type *t, struct crypt_device *cd, int token_id, char **buffer, size_t *buffer_len) {
        struct sink_ctx c;
        sink_begin(&c, cd);
        char why[512] = "";
        _cleanup_secret_ struct vs_secret *pass = NULL;
        int r = recover(t, cd, token_id, &pass, why, sizeof(why));
        if (r >= 0) {
                r = hand_out(pass, buffer, buffer_len);
                if (r < 0)
                        snprintf(why, sizeof(why), "cannot hand the passphrase over: %s", strerror(-r));
        }
        if (r < 0) {
                crypt_logf(cd, CRYPT_LOG_ERROR, "volseal: %s token %d: %s.\n", t->name, token_id, why);
                if (c.last_error[0] && !strstr(why, c.last_error))
                        crypt_logf(cd, CRYPT_LOG_ERROR, "volseal: %s\n", c.last_error);
                r = open_errno(r);
        }
        sink_end();
        return r;
}
