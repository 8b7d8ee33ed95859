/* meta-config.h: META tag 9 (StateEncryptionConfig) <-> struct vs_encryption_config.
 * Promise: reads both JSON shapes Talos has written (the block EncryptionSpec and the legacy v1alpha1
 * EncryptionConfig; Go field names, unknown fields ignored as Go does), writes the shape of design §5
 * (Go field names, every field present, `null` for kinds not used), and `null` when STATE is not encrypted.
 * What is read is validated by vs_encryption_validate() like YAML; a JSON error names the field
 * ("EncryptionKeys[1].KeySlot"). Static passphrases go through struct vs_secret; json-c's own copies are
 * wiped before they are freed. Pure: no disks (the *_meta helpers at the end do the META I/O via meta.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "secret.h"

struct vs_meta;

/* Parses tag 9's value. Returns 1 with *enc filled (caller frees with vs_encryption_config_done) when STATE
 * is encrypted, 0 when the value is JSON null (STATE not encrypted), -EINVAL (logged, naming `where` and the
 * field) when it does not parse or does not validate. */
int vs_meta_config_parse(const void *json, size_t len, const char *where, struct vs_encryption_config *enc);
/* Serializes `enc` (NULL = not encrypted -> "null") as tag 9 JSON into a secret buffer (it may hold static
 * passphrases). Returns 0 or -errno. */
int vs_meta_config_format(const struct vs_encryption_config *enc, struct vs_secret **ret);

/* Reads tag 9 from a loaded META: 1 = encrypted config in *enc, 0 = `null` (not encrypted), -ENOENT when the
 * tag is not set (not logged), -EINVAL when it does not parse (logged). */
int vs_meta_state_config_get(const struct vs_meta *m, const char *name, struct vs_encryption_config *enc);
/* Sets tag 9 in memory to `enc` (NULL = not encrypted). Returns 1 when the stored bytes changed (the caller
 * then writes with vs_meta_store), 0 when they were already equal, or -errno. */
int vs_meta_state_config_set(struct vs_meta *m, const char *name, const struct vs_encryption_config *enc);
/* True when any key of `enc` is static: its passphrase is then readable by anyone who can read META. */
bool vs_meta_config_has_static(const struct vs_encryption_config *enc);

/* ---- what `volseal unlock` / `volseal status` call (design §2 step 1, issue 4) ---- */

/* Unlock step 1: when `cfg` has no STATE volume and META tag 9 holds an encryption config, adds STATE
 * (id/name "STATE", encrypted, source "<name> tag 9") as cfg->volumes[0]. Returns 1 when STATE came from
 * META, 0 when cfg already has STATE (the machine config wins) or tag 9 is absent or null, -EINVAL when tag 9
 * does not parse or validate (logged: unlock should report STATE as a config error, never guess). */
int vs_meta_config_fill_state(struct vs_config *cfg, const struct vs_meta *m, const char *name);
/* After STATE was opened (or formatted), by the machine config's STATE: makes tag 9 match `state`
 * (unencrypted -> null) and writes META only when the bytes differ. `state` NULL -> nothing to do.
 * Returns 1 written, 0 unchanged, -errno (logged). A META whose copies are both invalid is not rewritten. */
int vs_meta_config_persist_state(const char *meta_path, const struct vs_volume_config *state);
/* For status: the lowest slot of a static key of STATE in tag 9 (>= 0), or -1 when tag 9 has none. */
int vs_meta_state_static_slot(const struct vs_meta *m, const char *name);
