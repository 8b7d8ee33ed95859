/* go-json.c: see go-json.h. The escaping follows Go's encoding/json encodeState.string with escapeHTML
 * (what json.Marshal uses) and utf8.DecodeRuneInString's notion of a valid sequence: shortest form, no
 * surrogates, at most U+10FFFF. */
#include "go-json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when the first byte starts none. */
static size_t utf8_valid_len(const unsigned char *p, size_t n, uint32_t *ret_rune) {
        unsigned char c = p[0];
        size_t len;
        uint32_t r, min;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2, r = c & 0x1fu, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3, r = c & 0x0fu, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4, r = c & 0x07u, min = 0x10000;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                r = r << 6 | (p[i] & 0x3fu);
        }
        if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
                return 0;
        *ret_rune = r;
        return len;
}

static bool html_safe(unsigned char c) {
        return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

int vs_go_json_string(struct vs_secret *out, const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        int r = vs_secret_append(out, "\"", 1);
        size_t start = 0, i = 0;
        while (r >= 0 && i < len) {
                unsigned char c = p[i];
                if (html_safe(c)) {
                        i++;
                        continue;
                }
                char esc[8];
                size_t elen = 0, adv = 1;
                uint32_t rune = 0;
                if (c < 0x80) {
                        const char *shortform = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                              : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
                        if (shortform)
                                elen = (size_t) snprintf(esc, sizeof(esc), "%s", shortform);
                        else
                                elen = (size_t) snprintf(esc, sizeof(esc), "\\u00%c%c", hex_digits[c >> 4], hex_digits[c & 0xf]);
                } else if ((adv = utf8_valid_len(p + i, len - i, &rune)) == 0) {
                        adv = 1;
                        elen = (size_t) snprintf(esc, sizeof(esc), "\\ufffd");
                } else if (rune == 0x2028 || rune == 0x2029) {
                        elen = (size_t) snprintf(esc, sizeof(esc), "\\u202%c", hex_digits[rune & 0xf]);
                } else {
                        i += adv; /* valid multi-byte sequence: copied as is */
                        continue;
                }
                r = vs_secret_append(out, s + start, i - start);
                if (r >= 0)
                        r = vs_secret_append(out, esc, elen);
                i += adv;
                start = i;
        }
        if (r >= 0)
                r = vs_secret_append(out, s + start, len - start);
        if (r >= 0)
                r = vs_secret_append(out, "\"", 1);
        return r;
}

static int put(struct vs_secret *out, const char *s) {
        return vs_secret_append(out, s, strlen(s));
}

static int marshal(struct json_object *o, struct vs_secret *out, unsigned depth) {
        if (depth > 64)
                return -EINVAL;
        char num[32];
        int r = 0;
        switch (json_object_get_type(o)) {
        case json_type_null:
                return put(out, "null");
        case json_type_boolean:
                return put(out, json_object_get_boolean(o) ? "true" : "false");
        case json_type_int:
                if (json_object_get_int64(o) == INT64_MAX && json_object_get_uint64(o) > INT64_MAX)
                        snprintf(num, sizeof(num), "%" PRIu64, json_object_get_uint64(o));
                else
                        snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(o));
                return put(out, num);
        case json_type_string:
                return vs_go_json_string(out, json_object_get_string(o), (size_t) json_object_get_string_len(o));
        case json_type_array:
                r = put(out, "[");
                for (size_t i = 0; r >= 0 && i < json_object_array_length(o); i++) {
                        if (i > 0)
                                r = put(out, ",");
                        if (r >= 0)
                                r = marshal(json_object_array_get_idx(o, i), out, depth + 1);
                }
                return r < 0 ? r : put(out, "]");
        case json_type_object: {
                bool first = true;
                r = put(out, "{");
                json_object_object_foreach(o, key, val) {
                        if (r >= 0 && !first)
                                r = put(out, ",");
                        first = false;
                        if (r >= 0)
                                r = vs_go_json_string(out, key, strlen(key));
                        if (r >= 0)
                                r = put(out, ":");
                        if (r >= 0)
                                r = marshal(val, out, depth + 1);
                }
                return r < 0 ? r : put(out, "}");
        }
        default:
                return -EINVAL; /* double */
        }
}

int vs_go_json_marshal(struct json_object *o, struct vs_secret **ret) {
        struct vs_secret *out = NULL;
        int r = vs_secret_new(256, &out);
        if (r < 0)
                return r;
        r = marshal(o, out, 0);
        if (r < 0) {
                vs_secret_free(out);
                return r;
        }
        *ret = out;
        return 0;
}

void vs_json_wipe(struct json_object *o) {
        if (json_object_is_type(o, json_type_string))
                explicit_bzero((char *) json_object_get_string(o), (size_t) json_object_get_string_len(o));
        else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        vs_json_wipe(json_object_array_get_idx(o, i));
        else if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, val) {
                        (void) key;
                        vs_json_wipe(val);
                }
        }
}
