/* volume.h: the lifecycle of one configured volume: locate, probe, format-if-empty, open by slot order,
 * activate (or check only), sync keyslots to the config (docs/operations.md: "A boot", "Keyslot sync"); and the read-only status
 * of it.
 * Promise: nothing is written to a volume that is not empty or LUKS2; no keyslot write ever leaves the
 * volume without a configured key that opens it, whatever moment power is lost; a sync failure never
 * undoes an open; every outcome, per volume and per slot, lands in struct vs_volume_report
 * (volume-report.h). */
#pragma once
#include <stdbool.h>

#include "config.h"
#include "keys/keys.h"
#include "luks.h"
#include "volume-report.h"

struct vs_volume_override {
        const char *id;       /* STATE, EPHEMERAL, u-NAME */
        const char *device;   /* block device or image file */
};

struct vs_volume_options {
        struct vs_key_run *run;
        const struct vs_volume_override *overrides;
        size_t n_overrides;
        bool check;           /* verify keys and the volume-key digest without activating dm-crypt */
        bool no_sync;
        bool full_sync;       /* ignore the sync fingerprint: verify every configured slot */
        struct vs_pbkdf pbkdf; /* argon2id overrides for static/nodeID slots (tests); zero = benchmarked */
        /* STATE's encryption config read from META tag 9 (docs/meta.md, tag 9), used when the machine config has no
         * encrypted STATE. NULL = none. */
        const struct vs_encryption_config *state_from_meta;
        /* Rescue (docs/rescue.md): volumes are the partitions of this whole disk or disk image, found by PARTLABEL in
         * its partition table (--volume still wins). Read-only: never formats, never syncs. NULL = off. */
        const char *disk;
};

/* The volumes to process, in order (STATE first, then EPHEMERAL, other system volumes, user volumes),
 * with STATE from META when the config has none (state_from_meta). Entries point into cfg/opts. */
int vs_volume_list(const struct vs_config *cfg, const struct vs_volume_options *o,
                   const struct vs_volume_config ***ret, size_t *ret_n);
/* Unlocks one volume. What happened, to the volume and to each slot, is in `rep` (always initialized, to be
 * released with vs_volume_report_done); returns 0, or -ENOMEM when even that could not be said. */
int vs_volume_unlock(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep);
/* Read-only inspection; tests every configured key against its slot. Returns as vs_volume_unlock. */
int vs_volume_status(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep);
/* `volseal wipe`: destroys every keyslot of a LUKS volume, then erases every signature. */
int vs_volume_wipe(const char *id, const char *device);

/* Where a volume lives: --volume override, else PARTLABEL. -ENODEV when not found. */
int vs_volume_device(const char *id, const struct vs_volume_options *o, char **ret);
