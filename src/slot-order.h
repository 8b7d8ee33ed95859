/* slot-order.h: advice about a valid config whose slot order leaves a tpm or kms key unused (docs/operations.md
 * "Slot order"). unlock tries keys in ascending slot order and stops at the first that opens: a nodeID or
 * static key always opens, so a tpm or kms key in a higher slot never opens the volume, and a broken TPM or
 * KMS binding goes unnoticed. Talos accepts such a config, so this is a warning, never an error.
 * Promise: vs_slot_order_advice() is pure (no I/O, no logging); vs_slot_order_warn() only logs it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* One sentence naming the volume, the first nodeID/static slot and every tpm/kms slot above it, in `buf`;
 * true when there is something to say, false (buf = "") when not. */
bool vs_slot_order_advice(const struct vs_volume_config *v, char *buf, size_t size);
/* Logs vs_slot_order_advice() as a warning when there is one. */
void vs_slot_order_warn(const struct vs_volume_config *v);
