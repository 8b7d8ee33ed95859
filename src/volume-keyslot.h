/* volume-keyslot.h: one configured key against its keyslot (volume-keyslot.c): the key a slot should open
 * with, its token checked first, and keyslot writes with their tokens.
 * Promise: included only by src/volume*.c; no write here leaves the volume without a configured key that
 * opens it, given that the caller never passes the slot that opened it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "config.h"
#include "keys/keys.h"
#include "luks.h"

const char *kind_name(const struct vs_key_config *k);
/* Bit i = slot i is named by the config. */
uint32_t configured_mask(const struct vs_volume_config *v);
/* The "type" of a LUKS2 token object, NULL if none. */
const char *token_type_of(struct json_object *tok);
/* The key of configured slot k->slot: its token read and checked against the configured kind (a tpm or kms
 * slot needs its own token; without one the slot is stale: -ENOKEY), then vs_key_get(). The reason of a
 * failure is in run->reason. */
int key_for_slot(struct vs_key_run *run, struct vs_luks *l, const struct vs_key_volume *kv,
                 const struct vs_key_config *k, struct vs_secret **ret);
/* A token at the slot of a kind that keeps none (static, nodeID): left from an earlier config. With `type`
 * (16 bytes), the token's type ("?" if it has none). */
bool has_stale_token(struct vs_luks *l, const struct vs_key_config *k, char type[16]);
/* The argon2id settings for a new keyslot of `k`: `base`, with the minimal cost for kinds whose key has full
 * entropy. */
struct vs_pbkdf pbkdf_for(const struct vs_pbkdf *base, const struct vs_key_config *k);
/* Keyslot `slot` with passphrase `pass`, then a copy of `token` (if any) at token id = slot. */
int add_slot_with_token(struct vs_luks *l, unsigned slot, const struct vs_secret *vk, const struct vs_secret *pass,
                        const struct vs_pbkdf *pbkdf, struct json_object *token);
/* Keyslot `slot`, then its token. */
int kill_slot_and_token(struct vs_luks *l, unsigned slot);
/* Replaces keyslot `slot` with `pass` so that at every step some configured key still opens the volume
 * (docs/operations.md "Keyslot sync"): new key at a spare slot outside `reserved` (+ token), old slot and token gone, new
 * key at `slot` (+ token), spare gone. */
int replace_slot(struct vs_luks *l, unsigned slot, uint32_t reserved, const struct vs_secret *vk,
                 const struct vs_secret *pass, const struct vs_pbkdf *pbkdf, struct json_object *token);
