/* tag9.c: META tag 9 against the Talos conformance corpus (tests/talos/).
 *   table.jsonl rows with "tag9": the fixture's STATE config, as volseal writes it to tag 9, is byte for byte
 *     the file tag9/<name>.json: what Talos's json.Marshal writes for the same config (Talos >= 1.14);
 *   meta.jsonl rows: a tag 9 value as Talos's tests pin it or a Talos version wrote it reads as Talos reads
 *     it (result 1 encrypted with these keys, 0 not encrypted, -22 refused naming the field), and the Go
 *     value decoded from it marshals back to the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "meta-config.h"

static char logbuf[16384];

static void capture(enum vs_log_level level, const char *msg, void *ud) {
        (void) ud;
        size_t n = strlen(logbuf);
        snprintf(logbuf + n, sizeof(logbuf) - n, "%d|%s\n", (int) level, msg);
}

static char *slurp(const char *rel, size_t *len) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", CORPUS, rel);
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        char *buf = calloc(1, 1 << 20);
        assert_non_null(buf);
        *len = fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        return buf;
}

/* Calls fn for each JSON line of the corpus file; returns the number of lines. */
static size_t each_row(const char *rel, void (*fn)(struct json_object *row)) {
        size_t len, n = 0;
        char *text = slurp(rel, &len);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                struct json_object *row = json_tokener_parse(line);
                assert_non_null(row);
                fn(row);
                json_object_put(row);
                n++;
        }
        free(text);
        return n;
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static size_t tag9_rows;

static void check_yaml_row(struct json_object *row) {
        const char *want_file = str(row, "tag9"), *fixture = str(row, "fixture");
        if (!want_file)
                return;
        size_t ylen, wlen;
        char *yaml = slurp(fixture, &ylen), *want = slurp(want_file, &wlen);
        struct vs_config cfg = {};
        logbuf[0] = 0;
        if (vs_config_load_string(&cfg, fixture, yaml, ylen) != 0)
                fail_msg("%s: refused: %s", fixture, logbuf);
        const struct vs_volume_config *st = vs_config_find(&cfg, "STATE");
        assert_non_null(st);
        struct vs_secret *json = NULL;
        bool value = st->encrypted || st->enc.talos_value;
        assert_int_equal(vs_meta_config_format(value ? &st->enc : NULL, VS_META_CONFIG_TALOS_1_14, &json), 0);
        if (json->len != wlen || memcmp(json->data, want, wlen) != 0)
                fail_msg("%s: volseal writes\n%s\nTalos writes (%s)\n%s", fixture, (char *) json->data, want_file, want);
        vs_secret_free(json);
        vs_config_free(&cfg);
        free(yaml);
        free(want);
        tag9_rows++;
}

static void test_yaml_to_tag9(void **state) {
        each_row("table.jsonl", check_yaml_row);
        assert_true(tag9_rows >= 8);
}

static void check_keys(const char *value, const struct vs_encryption_config *enc, struct json_object *keys) {
        assert_int_equal(enc->n_keys, json_object_array_length(keys));
        for (size_t i = 0; i < enc->n_keys; i++) {
                struct json_object *k = json_object_array_get_idx(keys, i), *pcrs;
                const struct vs_key_config *got = &enc->keys[i];
                uint32_t mask = 0;
                json_object_object_get_ex(k, "pcrs", &pcrs);
                for (size_t p = 0; p < json_object_array_length(pcrs); p++)
                        mask |= 1u << json_object_get_int(json_object_array_get_idx(pcrs, p));
                if ((int) got->slot != json_object_get_int(json_object_object_get(k, "slot")) ||
                    strcmp(vs_key_kind_name(got->kind), str(k, "kind")) != 0 || (got->kind == VS_KEY_TPM && got->tpm_pcrs != mask))
                        fail_msg("%s: key %zu is slot %u %s pcrs %#x, Talos: %s", value, i, got->slot,
                                 vs_key_kind_name(got->kind), got->tpm_pcrs, json_object_to_json_string(k));
        }
}

static size_t meta_rows;

static void check_meta_row(struct json_object *row) {
        const char *value = str(row, "value");
        size_t len;
        char *json = slurp(value, &len);
        int want = json_object_get_int(json_object_object_get(row, "result"));
        struct vs_encryption_config enc;
        logbuf[0] = 0;
        int r = vs_meta_config_parse(json, len, value, &enc);
        if (r != want)
                fail_msg("%s: read as %d, Talos: %d; log: %s", value, r, want, logbuf);
        struct json_object *errors, *keys;
        if (json_object_object_get_ex(row, "errors", &errors))
                for (size_t i = 0; i < json_object_array_length(errors); i++)
                        if (!strstr(logbuf, json_object_get_string(json_object_array_get_idx(errors, i))))
                                fail_msg("%s: expected '%s' in: %s", value, json_object_get_string(json_object_array_get_idx(errors, i)), logbuf);
        if (r == 1 && json_object_object_get_ex(row, "keys", &keys))
                check_keys(value, &enc, keys);
        if (r == 1 && json_object_get_boolean(json_object_object_get(row, "roundtrip"))) {
                struct vs_secret *back = NULL;
                enum vs_meta_config_shape shape = strstr(value, "1.12") ? VS_META_CONFIG_TALOS_1_11 : VS_META_CONFIG_TALOS_1_14;
                assert_int_equal(vs_meta_config_format(&enc, shape, &back), 0);
                if (back->len != len || memcmp(back->data, json, len) != 0)
                        fail_msg("%s: json.Marshal of the decoded value differs:\n%s", value, (char *) back->data);
                vs_secret_free(back);
        }
        if (r == 1)
                vs_encryption_config_done(&enc);
        free(json);
        meta_rows++;
}

static void test_tag9_values(void **state) {
        each_row("meta.jsonl", check_meta_row);
        assert_true(meta_rows >= 10);
}

int main(void) {
        vs_log_set_sink(capture, NULL);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_yaml_to_tag9),
                cmocka_unit_test(test_tag9_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
