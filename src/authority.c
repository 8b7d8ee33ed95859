/* authority.c: see authority.h. The text is parsed in place in its struct vs_secret (no JSON or YAML
 * library holds a copy); openssl decodes the key from a locked buffer. */
#include "authority.h"
#include "encoding.h"
#include "fileio.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#define MAX_FILE 4096
#define HEADER "# volseal: the write authority of the updatable tpm slots' NV index (docs/tpm-updatable.md).\n" \
               "# Secret: whoever holds it decides which boot states unseal them. Keep it on STATE only.\n"

static bool p256(EVP_PKEY *k) {
        char group[64] = "";
        bool ok = k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
                  EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) &&
                  (streq(group, "prime256v1") || streq(group, "P-256"));
        ERR_clear_error();
        return ok;
}

/* Standard padded base64 (src/encoding.c) of the n bytes at v into a new secret; the NUL-terminated copy
 * the decoder reads is a secret too, so no part of the key lands in ordinary memory. */
static int unbase64(const uint8_t *v, size_t n, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *text = NULL;
        if (n == 0 || n > MAX_FILE)
                return -EBADMSG;
        int r = vs_secret_new(n, &text);
        if (r < 0)
                return r;
        memcpy(text->data, v, n);
        text->data[n] = 0;
        text->len = n;
        return vs_base64_decode_secret((const char *) text->data, MAX_FILE, ret);
}

static int parse_key(const uint8_t *v, size_t n, EVP_PKEY **ret) {
        _cleanup_secret_ struct vs_secret *der = NULL;
        if (unbase64(v, n, &der) < 0)
                return -EBADMSG;
        const unsigned char *p = der->data;
        EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long) der->len);
        ERR_clear_error();
        if (!k || p != der->data + der->len || !p256(k)) {
                EVP_PKEY_free(k);
                return -EBADMSG;
        }
        *ret = k;
        return 0;
}

static int parse_index(const uint8_t *v, size_t n, uint32_t *ret) {
        char buf[16];
        if (n != 10 || v[0] != '0' || v[1] != 'x')
                return -EBADMSG;
        memcpy(buf, v, n);
        buf[n] = 0;
        char *end = NULL;
        unsigned long h = strtoul(buf + 2, &end, 16);
        if (*end || !isxdigit((unsigned char) buf[2]) || h < 0x01000000ul || h > 0x01fffffful)
                return -EBADMSG;
        *ret = (uint32_t) h;
        return 0;
}

/* One `name: value` line; *seen collects which names were given. */
static int parse_line(const char *where, size_t line, const uint8_t *s, size_t n, unsigned *seen,
                      struct vs_authority *a) {
        static const char *const names[] = { "version", "nv_index", "write_key" };
        static const char *const expect[] = { "1", "0x followed by 8 hex digits, an NV index handle",
                                              "the base64 PKCS#8 DER of an ECC P-256 private key" };
        const uint8_t *colon = memchr(s, ':', n);
        if (!colon || (size_t) (colon - s) + 1 >= n || colon[1] != ' ')
                return log_error_errno(EBADMSG, "%s:%zu:1: not a 'name: value' line", where, line);
        size_t name_len = (size_t) (colon - s), off = name_len + 2;
        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                if (strlen(names[i]) != name_len || memcmp(s, names[i], name_len) != 0)
                        continue;
                if (*seen & (1u << i))
                        return log_error_errno(EBADMSG, "%s:%zu:1: %s given twice", where, line, names[i]);
                *seen |= 1u << i;
                int r = i == 0 ? (n - off == 1 && s[off] == '1' ? 0 : -EBADMSG) :
                        i == 1 ? parse_index(s + off, n - off, &a->nv_index) :
                                 parse_key(s + off, n - off, &a->write_key);
                if (r < 0)
                        return log_error_errno(EBADMSG, "%s:%zu:%zu: %s is not %s", where, line, off + 1, names[i],
                                               expect[i]);
                return 0;
        }
        return log_error_errno(EBADMSG, "%s:%zu:1: unknown field (this volseal knows version, nv_index, write_key)",
                               where, line);
}

int vs_authority_parse(const char *where, const uint8_t *text, size_t len, struct vs_authority *ret) {
        struct vs_authority a = {};
        unsigned seen = 0;
        size_t line = 0, start = 0;
        int r = 0;
        if (len == 0 || text[len - 1] != '\n')
                r = log_error_errno(EBADMSG, "%s: %s", where, len ? "the last line has no newline (cut short?)" :
                                    "the file is empty");
        while (r >= 0 && start < len) {
                const uint8_t *nl = memchr(text + start, '\n', len - start);
                size_t n = (size_t) (nl - (text + start));
                line++;
                if (n > 0 && text[start] != '#')
                        r = parse_line(where, line, text + start, n, &seen, &a);
                start += n + 1;
        }
        if (r >= 0 && seen != 7)
                r = log_error_errno(EBADMSG, "%s: %s is missing", where,
                                    !(seen & 1) ? "version" : !(seen & 2) ? "nv_index" : "write_key");
        if (r < 0) {
                vs_authority_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

int vs_authority_format(const struct vs_authority *a, struct vs_secret **ret) {
        _cleanup_secret_ struct vs_secret *der = NULL, *text = NULL;
        unsigned char *p = NULL;
        size_t n = 0;
        OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(a->write_key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo",
                                                              NULL);
        int ok = ctx && OSSL_ENCODER_to_data(ctx, &p, &n) && n < MAX_FILE;
        OSSL_ENCODER_CTX_free(ctx);
        ERR_clear_error();
        int r = ok ? vs_secret_from(p, n, &der) : log_error_errno(EIO, "cannot encode the write key in openssl");
        OPENSSL_clear_free(p, n);
        if (r < 0)
                return r;
        char line[64];
        int k = snprintf(line, sizeof(line), "version: 1\nnv_index: 0x%08x\nwrite_key: ", a->nv_index);
        r = vs_secret_new(sizeof(HEADER) + (size_t) k + 4 * ((der->len + 2) / 3) + 2, &text);
        if (r >= 0)
                r = vs_secret_append(text, HEADER, strlen(HEADER));
        if (r >= 0)
                r = vs_secret_append(text, line, (size_t) k);
        if (r < 0)
                return r;
        text->len += (size_t) EVP_EncodeBlock(text->data + text->len, der->data, (int) der->len);
        r = vs_secret_append(text, "\n", 1);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

int vs_authority_key_name(const struct vs_authority *a, TPM2B_NAME *ret) {
        TPM2B_PUBLIC pub;
        int r = policy_ecc_public(a->write_key, &pub);
        if (r < 0)
                return r;
        return policy_public_name(&pub, ret);
}

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;
        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* DIR/volseal-tpm-authority, replaced or (VS_WRITE_NO_REPLACE) new, durable when this returns 0: fileio's
 * temporary file, fsync, rename or link, fsync of the folder. A new file whose folder fsync failed is
 * removed again (vs_write_file_atomic): an index defined for an authority that a power cut can take away
 * would be left behind for good, its slots bound to a key nobody holds. */
static int write_atomic(const char *dir, const struct vs_secret *text, unsigned flags) {
        _cleanup_free_ char *path = path_in(dir, VS_AUTHORITY_FILE);
        if (!path)
                return -ENOMEM;
        int r = vs_write_file_atomic(path, text->data, text->len, 0600, flags);
        if (r == -EEXIST && (flags & VS_WRITE_NO_REPLACE))
                return r;
        if (r < 0)
                return log_error_errno(r, "cannot write %s: %s", path, strerror(-r));
        return 0;
}

int vs_authority_load(const char *state_dir, struct vs_authority *ret) {
        _cleanup_free_ char *path = path_in(state_dir, VS_AUTHORITY_FILE);
        if (!path)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : log_error_errno(errno, "cannot open %s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) == 0 && (st.st_mode & 077))
                log_warning("%s is readable by others than its owner (mode %04o): it should be 0600", path,
                            st.st_mode & 07777);
        _cleanup_secret_ struct vs_secret *text = NULL;
        int r = vs_secret_new(MAX_FILE, &text);
        if (r < 0)
                return r;
        ssize_t n = read(fd, text->data, text->cap);
        if (n < 0)
                return log_error_errno(errno, "cannot read %s: %s", path, strerror(errno));
        if ((size_t) n == text->cap)
                return log_error_errno(EBADMSG, "%s: larger than %d bytes: not volseal's authority file", path, MAX_FILE);
        text->len = (size_t) n;
        return vs_authority_parse(path, text->data, text->len, ret);
}

int vs_authority_create(const char *state_dir, uint32_t nv_index, struct vs_authority *ret) {
        struct vs_authority a = { .nv_index = nv_index, .write_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") };
        ERR_clear_error();
        if (!a.write_key)
                return log_error_errno(EIO, "cannot make an ECC P-256 key in openssl");
        _cleanup_secret_ struct vs_secret *text = NULL;
        int r = vs_authority_format(&a, &text);
        if (r >= 0)
                r = write_atomic(state_dir, text, VS_WRITE_NO_REPLACE);
        if (r < 0) {
                vs_authority_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

int vs_authority_save(const char *state_dir, const struct vs_authority *a) {
        _cleanup_secret_ struct vs_secret *text = NULL;
        int r = vs_authority_format(a, &text);
        if (r < 0)
                return r;
        return write_atomic(state_dir, text, 0);
}

int vs_authority_remove(const char *state_dir) {
        _cleanup_free_ char *path = path_in(state_dir, VS_AUTHORITY_FILE);
        if (!path)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "cannot remove %s: %s", path, strerror(errno));
        int r = vs_sync_folder_of(path);
        if (r < 0)
                return log_error_errno(r, "cannot sync the folder %s: %s", state_dir, strerror(-r));
        return 0;
}

void vs_authority_done(struct vs_authority *a) {
        if (!a)
                return;
        EVP_PKEY_free(a->write_key);
        *a = (struct vs_authority) {};
}
