/* recovery-key.c: see recovery-key.h. */
#include "recovery-key.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/evp.h>

#define DIGITS 64                     /* modhex characters */
#define GROUP 8                       /* characters between dashes */

static const char modhex[16] = { 'c', 'b', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'n', 'r', 't', 'u', 'v' };

static int modhex_value(char c) {
        c = (char) tolower((unsigned char) c);
        for (int i = 0; i < 16; i++)
                if (modhex[i] == c)
                        return i;
        return -1;
}

int vs_recovery_key_format(const uint8_t raw[VS_RECOVERY_KEY_BYTES], struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *out = NULL;
        int r = vs_secret_new(VS_RECOVERY_KEY_LENGTH, &out);
        if (r < 0)
                return r;
        size_t j = 0;
        for (size_t i = 0; i < VS_RECOVERY_KEY_BYTES; i++) {
                if (i > 0 && i % (GROUP / 2) == 0)
                        out->data[j++] = '-';
                out->data[j++] = (uint8_t) modhex[raw[i] >> 4];
                out->data[j++] = (uint8_t) modhex[raw[i] & 15];
        }
        out->data[j] = 0;
        out->len = j;
        *ret = TAKE_PTR(out);
        return 0;
}

int vs_recovery_key_generate(const uint8_t *extra, size_t extra_len, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *raw = NULL;
        int r = vs_secret_new(VS_RECOVERY_KEY_BYTES, &raw);
        if (r < 0)
                return r;
        ssize_t n = getrandom(raw->data, VS_RECOVERY_KEY_BYTES, 0);
        if (n != VS_RECOVERY_KEY_BYTES)
                return log_error_errno(n < 0 ? errno : EIO, "cannot make a recovery key: getrandom() failed");
        raw->len = VS_RECOVERY_KEY_BYTES;
        if (extra_len) {
                unsigned len = 0;
                EVP_MD_CTX *md = EVP_MD_CTX_new();
                int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
                         EVP_DigestUpdate(md, raw->data, raw->len) && EVP_DigestUpdate(md, extra, extra_len) &&
                         EVP_DigestFinal_ex(md, raw->data, &len) && len == VS_RECOVERY_KEY_BYTES;
                EVP_MD_CTX_free(md);
                if (!ok)
                        return log_error_errno(EIO, "cannot make a recovery key: SHA-256 failed in openssl");
        }
        return vs_recovery_key_format(raw->data, ret);
}

/* Where the i-th modhex character sits in the input: with dashes, a dash follows every GROUP characters. */
static size_t digit_position(size_t i, bool dashes) {
        return dashes ? i + i / GROUP : i;
}

int vs_recovery_key_normalize(const char *typed, size_t len, struct vs_secret **ret) {
        while (len > 0 && isspace((unsigned char) typed[0])) {
                typed++;
                len--;
        }
        while (len > 0 && isspace((unsigned char) typed[len - 1]))
                len--;
        bool dashes = len == VS_RECOVERY_KEY_LENGTH;
        if (!dashes && len != DIGITS)
                return log_error_errno(EINVAL, "the recovery key has %zu characters: it is 64 modhex characters, "
                                       "with a dash after every 8 (71) or without dashes (64)", len);
        for (size_t i = GROUP; dashes && i < DIGITS; i += GROUP)
                if (typed[digit_position(i, true) - 1] != '-')
                        return log_error_errno(EINVAL, "the recovery key has no dash at position %zu",
                                               digit_position(i, true));
        _cleanup_secret_ struct vs_secret *raw = NULL;
        int r = vs_secret_new(VS_RECOVERY_KEY_BYTES, &raw);
        if (r < 0)
                return r;
        for (size_t i = 0; i < DIGITS; i += 2) {
                size_t p = digit_position(i, dashes), q = digit_position(i + 1, dashes);
                int hi = modhex_value(typed[p]), lo = modhex_value(typed[q]);
                if (hi < 0 || lo < 0)
                        return log_error_errno(EINVAL, "the recovery key's character at position %zu is not one of "
                                               "\"cbdefghijklnrtuv\"", (hi < 0 ? p : q) + 1);
                raw->data[i / 2] = (uint8_t) (hi << 4 | lo);
        }
        raw->len = VS_RECOVERY_KEY_BYTES;
        return vs_recovery_key_format(raw->data, ret);
}

int vs_recovery_key_decode(const struct vs_secret *formatted, struct vs_secret **ret_raw) {
        _cleanup_secret_ struct vs_secret *norm = NULL, *raw = NULL;
        int r = vs_recovery_key_normalize((const char *) formatted->data, formatted->len, &norm);
        if (r < 0)
                return r;
        r = vs_secret_new(VS_RECOVERY_KEY_BYTES, &raw);
        if (r < 0)
                return r;
        for (size_t i = 0; i < DIGITS; i += 2)
                raw->data[i / 2] = (uint8_t) (modhex_value((char) norm->data[digit_position(i, true)]) << 4 |
                                              modhex_value((char) norm->data[digit_position(i + 1, true)]));
        raw->len = VS_RECOVERY_KEY_BYTES;
        *ret_raw = TAKE_PTR(raw);
        return 0;
}
