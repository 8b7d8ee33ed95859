/* encoding.c: see encoding.h. The decoders check the whole input before they write a byte, so a refused
 * input leaves the output untouched. */
#include "encoding.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- the secret variants, one shape for both encodings ---- */

typedef void (*encode_fn)(const void *p, size_t n, char *out);
typedef int (*check_fn)(const char *s, size_t max, size_t *ret_len);
typedef void (*decode_fn)(const char *s, size_t len, uint8_t *out);

/* The text of `in` (out_len characters and a NUL) in a new secret. */
static int encode_secret(const struct vs_secret *in, size_t out_len, encode_fn encode, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *s = NULL;
        int r = vs_secret_new(out_len, &s);
        if (r < 0)
                return r;
        encode(in->data, in->len, (char *) s->data);
        s->len = out_len;
        *ret = TAKE_PTR(s);
        return 0;
}

/* s checked whole, then decoded straight into a new secret. */
static int decode_secret(const char *s, size_t max, check_fn check, decode_fn decode, struct vs_secret **ret) {
        size_t len;
        int r = check(s, max, &len);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *out = NULL;
        r = vs_secret_new(len, &out);
        if (r < 0)
                return r;
        decode(s, len, out->data);
        out->len = len;
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- hex ---- */

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

void vs_hex_encode_to(const void *p, size_t n, char *out) {
        const uint8_t *b = p;
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex_digits[b[i] >> 4];
                out[2 * i + 1] = hex_digits[b[i] & 15];
        }
        out[2 * n] = 0;
}

char *vs_hex_encode(const void *p, size_t n) {
        char *s = malloc(VS_HEX_SIZE(n));
        if (s)
                vs_hex_encode_to(p, n, s);
        return s;
}

int vs_hex_encode_secret(const struct vs_secret *in, struct vs_secret **ret) {
        return encode_secret(in, 2 * in->len, vs_hex_encode_to, ret);
}

/* The byte count of hex string s: -EBADMSG unless it is hex, -E2BIG above max. */
static int hex_check(const char *s, size_t max, size_t *ret_len) {
        size_t n = strlen(s);
        if (n % 2)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (hex_value(s[i]) < 0)
                        return -EBADMSG;
        if (n / 2 > max)
                return -E2BIG;
        *ret_len = n / 2;
        return 0;
}

static void hex_decode_checked(const char *s, size_t len, uint8_t *out) {
        for (size_t i = 0; i < len; i++)
                out[i] = (uint8_t) (hex_value(s[2 * i]) << 4 | hex_value(s[2 * i + 1]));
}

int vs_hex_decode(const char *s, uint8_t *out, size_t max, size_t *ret_len) {
        size_t len;
        int r = hex_check(s, max, &len);
        if (r < 0)
                return r;
        hex_decode_checked(s, len, out);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int vs_hex_decode_secret(const char *s, size_t max, struct vs_secret **ret) {
        return decode_secret(s, max, hex_check, hex_decode_checked, ret);
}

/* ---- base64 ---- */

static size_t b64_encoded_size(size_t n) { return 4 * ((n + 2) / 3); }

static void b64_encode_to(const void *data, size_t n, char *out) {
        const uint8_t *p = data;
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;
                if (i + 1 < n)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                out[o++] = b64_alphabet[v >> 18 & 63];
                out[o++] = b64_alphabet[v >> 12 & 63];
                out[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
                out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        }
        out[o] = 0;
}

char *vs_base64_encode(const void *p, size_t n) {
        char *s = malloc(b64_encoded_size(n) + 1);
        if (s)
                b64_encode_to(p, n, s);
        return s;
}

int vs_base64_encode_secret(const struct vs_secret *in, struct vs_secret **ret) {
        return encode_secret(in, b64_encoded_size(in->len), b64_encode_to, ret);
}

static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The decoded size of padded base64 s: -EBADMSG unless it is that, -E2BIG above max. */
static int b64_check(const char *s, size_t max, size_t *ret_len) {
        size_t n = strlen(s);
        if (n == 0 || n % 4)
                return -EBADMSG;
        size_t pad = (s[n - 1] == '=') + (s[n - 1] == '=' && s[n - 2] == '=');
        for (size_t i = 0; i < n - pad; i++)
                if (b64_value(s[i]) < 0)
                        return -EBADMSG;
        size_t len = n / 4 * 3 - pad;
        if (len > max)
                return -E2BIG;
        *ret_len = len;
        return 0;
}

static void b64_decode_checked(const char *s, size_t len, uint8_t *out) {
        for (size_t i = 0, o = 0; o < len; i += 4) {
                uint32_t v = 0;
                for (size_t k = 0; k < 4; k++)
                        v = v << 6 | (s[i + k] == '=' ? 0 : (uint32_t) b64_value(s[i + k]));
                for (int shift = 16; shift >= 0 && o < len; shift -= 8)
                        out[o++] = (uint8_t) (v >> shift);
        }
}

int vs_base64_decode(const char *s, size_t max, uint8_t **ret, size_t *ret_len) {
        size_t len;
        int r = b64_check(s, max, &len);
        if (r < 0)
                return r;
        uint8_t *out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        b64_decode_checked(s, len, out);
        out[len] = 0;
        *ret = out;
        *ret_len = len;
        return 0;
}

int vs_base64_decode_secret(const char *s, size_t max, struct vs_secret **ret) {
        return decode_secret(s, max, b64_check, b64_decode_checked, ret);
}
