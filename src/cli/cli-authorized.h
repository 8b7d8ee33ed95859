/* cli-authorized.h: how the CLI shows the authorized set of updatable tpm slots (docs/tpm-updatable.md):
 * `tpm prepare`, `status` and `unlock` print it the same way, as text and as JSON.
 * Promise: shows public data only (PCR-policy key Names and PCR values); never a secret. */
#pragma once
#include <stdint.h>
#include <json-c/json.h>

#include "authnv.h"

/* {"nv_index": "0x01805600", "serial": N, "pcrs": [7], "keys": ["000b..."], "states": [{"7": "hex"}]},
 * states oldest first. */
struct json_object *cli_authorized_to_json(uint32_t handle, const struct authnv_set *set);
/* The same as indented text lines on stdout, `booted` (optional) marking the state the machine is in. */
void cli_authorized_print(uint32_t handle, const struct authnv_set *set, const uint8_t *booted, size_t booted_len);
