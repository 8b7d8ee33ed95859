/* salt.c: see salt.h. libyaml parses the file (block or flow list); openssl makes the random bytes. */
#include "salt.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <yaml.h>

/* 32 lines of "    - N": about 330 bytes. */
#define SALT_FILE_MAX 4096

static int parse(const char *path, const uint8_t *buf, size_t len, struct vs_secret *out) {
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, buf, len);
        if (!yaml_parser_load(&parser, &doc)) {
                int r = log_error_errno(EINVAL, "%s:%zu:%zu: not YAML: %s", path, parser.problem_mark.line + 1,
                                        parser.problem_mark.column + 1, parser.problem ? parser.problem : "?");
                yaml_parser_delete(&parser);
                return r;
        }
        int r = -EINVAL;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        yaml_node_t *list = NULL;
        if (root && root->type == YAML_MAPPING_NODE)
                for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
                        if (k && k->type == YAML_SCALAR_NODE && streq((const char *) k->data.scalar.value, "diskSalt"))
                                list = yaml_document_get_node(&doc, p->value);
                }
        if (!list || list->type != YAML_SEQUENCE_NODE) {
                log_error("%s: field diskSalt: missing or not a list of byte values", path);
                goto done;
        }
        size_t n = 0;
        for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top; i++, n++) {
                yaml_node_t *v = yaml_document_get_node(&doc, *i);
                char *end = NULL;
                unsigned long b = v && v->type == YAML_SCALAR_NODE ? strtoul((const char *) v->data.scalar.value, &end, 10) : 256;
                if (!end || *end || b > 255 || n >= VS_SALT_SIZE) {
                        log_error("%s:%zu: field diskSalt[%zu]: not a byte value 0-255 (the list holds %d of them)", path,
                                  v ? v->start_mark.line + 1 : 0, n, VS_SALT_SIZE);
                        goto done;
                }
                uint8_t byte = (uint8_t) b;
                r = vs_secret_append(out, &byte, 1);
                byte = 0;
                if (r < 0)
                        goto done;
                r = -EINVAL;
        }
        if (n != VS_SALT_SIZE) {
                log_error("%s: field diskSalt: %zu byte values, expected %d", path, n, VS_SALT_SIZE);
                goto done;
        }
        r = 0;
done:
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

static int create(const char *path) {
        _cleanup_secret_ struct vs_secret *salt = NULL, *text = NULL;
        int r = vs_secret_new(VS_SALT_SIZE, &salt);
        if (r < 0)
                return r;
        if (RAND_bytes(salt->data, VS_SALT_SIZE) != 1)
                return log_error_errno(EIO, "cannot make the lockToSTATE salt: no random bytes from OpenSSL");
        salt->len = VS_SALT_SIZE;
        r = vs_secret_new(VS_SALT_SIZE * 10 + 16, &text);
        if (r < 0)
                return r;
        r = vs_secret_append(text, "diskSalt:\n", 10);
        for (size_t i = 0; r >= 0 && i < VS_SALT_SIZE; i++) {
                char line[16];
                int n = snprintf(line, sizeof(line), "    - %u\n", salt->data[i]);
                r = vs_secret_append(text, line, (size_t) n);
                explicit_bzero(line, sizeof(line));
        }
        if (r < 0)
                return r;
        /* No replace: a salt that appeared meanwhile (another volseal) is the one every key uses. */
        r = vs_write_file_atomic(path, text->data, text->len, 0600, VS_WRITE_NO_REPLACE);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return log_error_errno(r, "cannot create %s: %m", path);
        log_info("created the lockToSTATE salt %s", path);
        return 0;
}

int vs_salt_load(const char *state_dir, bool create_missing, struct vs_secret **ret) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", state_dir, VS_SALT_FILE) < 0)
                return -ENOMEM;
        _cleanup_secret_ struct vs_secret *text = NULL, *salt = NULL;
        int r = vs_read_file_secret(path, O_NOFOLLOW, SALT_FILE_MAX, &text);
        if (r == -ENOENT && create_missing) {
                r = create(path);
                if (r < 0)
                        return r;
                r = vs_read_file_secret(path, O_NOFOLLOW, SALT_FILE_MAX, &text);
        }
        if (r == -ENOENT)
                return r;
        if (r == -EFBIG)
                return log_error_errno(EINVAL, "%s is too large to be a salt file", path);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", path);
        r = vs_secret_new(VS_SALT_SIZE, &salt);
        if (r < 0)
                return r;
        r = parse(path, text->data, text->len, salt);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(salt);
        return 0;
}
