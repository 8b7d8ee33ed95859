/* meta-config.h: META tag 9 (StateEncryptionConfig) <-> struct vs_encryption_config.
 * Promise: reads tag 9 as Talos's UnmarshalEncryptionMeta does (encoding/json into the block
 * EncryptionSpec; when that fails, into the v1alpha1 EncryptionConfig, whose empty provider is luks2 and
 * whose TPM keys bind PCR 7), and writes the bytes Talos's json.Marshal writes for the same config
 * (go-json.c over the Go value config.c kept), `null` when STATE is not encrypted. docs/meta.md "Tag 9".
 * What is read is then checked with vs_encryption_validate() like YAML; an error names the field
 * ("EncryptionKeys[1].KeySlot"). Static passphrases go through struct vs_secret; json-c's copies are
 * wiped before they are freed. Pure but for the *_meta helpers at the end (META I/O via meta.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "secret.h"

struct vs_meta;

/* Parses tag 9's value. Returns 1 with *enc filled (caller frees with vs_encryption_config_done; its
 * talos_value is the Go value Talos decoded) when STATE is encrypted, 0 when Talos reads it as not
 * encrypted (null, provider none), -EINVAL (logged, naming `where` and the field) when Talos cannot decode
 * it or volseal's rules refuse it. */
int vs_meta_config_parse(const void *json, size_t len, const char *where, struct vs_encryption_config *enc);

enum vs_meta_config_shape {
        VS_META_CONFIG_TALOS_1_14,         /* the block EncryptionSpec with EncryptionAllowDiscards (Talos >= 1.14) */
        VS_META_CONFIG_TALOS_1_11,         /* without EncryptionAllowDiscards (Talos 1.11-1.13); only when it is null */
};
/* Serializes `enc` (NULL = not encrypted -> "null") as tag 9 into a secret buffer (it may hold static
 * passphrases): enc->talos_value when set, else a block EncryptionSpec built from the fields. Returns 0,
 * -ENOENT when `shape` does not apply (a set EncryptionAllowDiscards, a v1alpha1 value), or -errno. */
int vs_meta_config_format(const struct vs_encryption_config *enc, enum vs_meta_config_shape shape, struct vs_secret **ret);

/* Reads tag 9 from the Talos ADV of a loaded META (the copy Talos's controllers read; the legacy block is
 * not consulted): 1 = encrypted config in *enc, 0 = not encrypted, -ENOENT when the tag is not set (not
 * logged), -EINVAL when it does not parse (logged). */
int vs_meta_state_config_get(const struct vs_meta *m, const char *name, struct vs_encryption_config *enc);
/* Sets tag 9 in memory to `enc` (NULL = not encrypted). Returns 1 when the stored bytes changed (the caller
 * then writes with vs_meta_store), 0 when they already equal what Talos 1.11-1.14 would write, or -errno. */
int vs_meta_state_config_set(struct vs_meta *m, const char *name, const struct vs_encryption_config *enc);
/* True when any key of `enc` is static: its passphrase is then readable by anyone who can read META. */
bool vs_meta_config_has_static(const struct vs_encryption_config *enc);

/* After STATE was opened (or formatted), by the machine config's STATE: makes tag 9 match `state` and
 * writes META only when the bytes differ. `state` NULL -> nothing to do. Returns 1 written, 0 unchanged,
 * -errno (logged). A META whose copies are both invalid is not rewritten. */
int vs_meta_config_persist_state(const char *meta_path, const struct vs_volume_config *state);
/* For status: the lowest slot of a static key of STATE in tag 9 (>= 0), or -1 when tag 9 has none. */
int vs_meta_state_static_slot(const struct vs_meta *m, const char *name);
