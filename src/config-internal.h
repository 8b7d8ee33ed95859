/* config-internal.h: what the modules of the config reader share; not installed.
 * Promise: config-yaml.c reads libyaml nodes with the decoding rules of go.yaml.in/yaml/v4, the library
 * Talos decodes its config with (docs/talos.md "YAML decoding"), and reports every problem once as
 * "FILE:LINE:COL: document KIND NAME: field F: problem"; config-encryption.c reads an encryption section
 * (the block EncryptionSpec or the v1alpha1 EncryptionConfig) into struct vs_encryption_config plus the Go
 * value Talos holds for it; config-volume.c reads the volume documents and their other Talos fields;
 * config-load.c loads streams and resolves across documents; config.c owns the model they fill. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "config.h"

struct cy {
        const char *file;
        yaml_document_t *doc;
        const char *kind;       /* the document's kind, for messages */
        char *docname;          /* its name, for messages (NULL until known) */
        unsigned flags;         /* VS_CONFIG_* */
        int errors;
};

yaml_node_t *cy_node(struct cy *p, int index);
/* The scalar's text, NULL for a mapping or a sequence. */
const char *cy_scalar(const yaml_node_t *n);
/* Absent, or a plain scalar YAML resolves to null ("", "~", null, Null, NULL). */
bool cy_is_null(const yaml_node_t *n);
/* Reports an error at the node (or the document when NULL) and counts it. */
__attribute__((format(printf, 4, 5)))
void cy_report(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...);
__attribute__((format(printf, 4, 0)))
void cy_vreport(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, va_list ap);
__attribute__((format(printf, 4, 5)))
void cy_warn(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...);
/* `--talos`: reports at the node that Talos refuses what volseal accepts here; a note otherwise. */
__attribute__((format(printf, 4, 5)))
void cy_extension(struct cy *p, const yaml_node_t *n, const char *field, const char *fmt, ...);

/* Joins "a" and "b" as "a.b" (just "b" when a is empty). */
void cy_join(char *buf, size_t size, const char *a, const char *b);

/* A mapping whose keys are all in `allowed` (NULL-terminated; NULL = any key), none given twice. Returns 1
 * for a mapping, 0 for null (Go leaves the field zero or nil), -EINVAL (reported) otherwise. */
int cy_mapping(struct cy *p, yaml_node_t *n, const char *field, const char *const *allowed);
/* The value of `key` in a mapping checked by cy_mapping, NULL when absent. */
yaml_node_t *cy_get(struct cy *p, yaml_node_t *map, const char *key);
/* The key node of `key` (for positions), NULL when absent. */
yaml_node_t *cy_get_key(struct cy *p, yaml_node_t *map, const char *key);

/* Scalars as yaml v4 decodes them into Go types. Each returns 1 with the value, 0 when the node is null
 * (the Go field stays zero; *ret untouched), -EINVAL (reported) for a value Go refuses. */
int cy_bool(struct cy *p, yaml_node_t *n, const char *field, bool *ret);          /* bool, *bool */
int cy_int(struct cy *p, yaml_node_t *n, const char *field, int64_t *ret);        /* int */
int cy_uint(struct cy *p, yaml_node_t *n, const char *field, uint64_t *ret);      /* uint, uint64 */
int cy_string(struct cy *p, yaml_node_t *n, const char *field, const char **ret); /* string: any scalar's text */
/* A sequence: 1, 0 for null, -EINVAL. Items via cy_items(). */
int cy_sequence(struct cy *p, yaml_node_t *n, const char *field);
size_t cy_items(yaml_node_t *seq);
yaml_node_t *cy_item(struct cy *p, yaml_node_t *seq, size_t i);

/* Talos's TextUnmarshalers and time.Duration (pure, for tests too). */
int vs_talos_parse_bytes(const char *s, uint64_t *ret, bool *negative);        /* ByteSize: [-]humanize */
int vs_talos_parse_size(const char *s, uint64_t *ret, bool *relative, bool *negative); /* Size: ByteSize or N% */
int vs_talos_parse_duration(const char *s, int64_t *ret_ns);                   /* time.ParseDuration */
/* go-yaml's integer resolution of a plain scalar (underscores, 0x/0o/0b/0 prefixes, floats truncated). */
int vs_yaml_resolve_int(const char *s, int64_t *ret, bool *is_uint64, uint64_t *ret_u);

/* config-encryption.c */
enum enc_shape { ENC_BLOCK, ENC_V1ALPHA1 };
/* Reads an encryption section. Returns 1 when it encrypts (enc filled, talos_value set), 0 when Talos
 * leaves the volume unencrypted (null, {}, provider none without keys; enc->talos_value may be set),
 * -EINVAL (reported) or -ENOMEM. `volume_id` selects STATE's own rules; `field` is the prefix. */
int cy_encryption(struct cy *p, yaml_node_t *n, const char *field, enum enc_shape shape, const char *volume_id,
                  struct vs_encryption_config *enc);
/* The Go values Talos holds, every member in Go's order with its zero value (null for pointers, nil
 * slices): EncryptionSpec / v1alpha1 EncryptionConfig, and one EncryptionKey. NULL on ENOMEM. */
struct json_object *vs_talos_spec_model(enum enc_shape shape);
struct json_object *vs_talos_key_model(enum enc_shape shape);
/* qsort comparator of struct vs_key_config by slot. */
int vs_key_config_compare_slot(const void *a, const void *b);

/* config-volume.c */
/* Reads a VolumeConfig/UserVolumeConfig/RawVolumeConfig/SwapVolumeConfig document into *vol. Returns 1
 * when a volume was read, -EINVAL/-ENOMEM. */
int cy_volume_document(struct cy *p, yaml_node_t *root, struct vs_volume_config *vol);
/* Reads machine.systemDiskEncryption of a v1alpha1 document: state and ephemeral into vols[0], vols[1]
 * (id NULL when not configured). Returns 0, -EINVAL/-ENOMEM. */
int cy_v1alpha1_document(struct cy *p, yaml_node_t *root, struct vs_volume_config vols[2]);
