/* volume.h: the lifecycle of one configured volume: locate, probe, format-if-empty, open by slot order,
 * activate (or check only), sync keyslots to the config (docs/operations.md: "A boot", "Keyslot sync"); and the read-only status
 * of it.
 * Promise: nothing is written to a volume that is not empty or LUKS2; no keyslot write ever leaves the
 * volume without a configured key that opens it, whatever moment power is lost; a sync failure never
 * undoes an open; every outcome, per volume and per slot, lands in struct vs_volume_report. */
#pragma once
#include <stdbool.h>
#include <json-c/json.h>

#include "config.h"
#include "keys/keys.h"
#include "luks.h"

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

enum vs_volume_state {
        VS_VOLUME_OPENED,            /* opened by a key (activated, or verified with --check) */
        VS_VOLUME_FORMATTED,         /* was empty: formatted, keys enrolled, opened */
        VS_VOLUME_ALREADY_OPEN,      /* the mapping luks2-ID exists already */
        VS_VOLUME_WAITING_FOR_STATE, /* lockToSTATE key and no --state-dir yet: not a failure */
        VS_VOLUME_NOT_OPENED,        /* LUKS2, but no configured key opens it */
        VS_VOLUME_FOREIGN,         /* holds something else: refused, untouched */
        VS_VOLUME_NOT_FOUND,         /* no partition with that PARTLABEL and no --volume */
        VS_VOLUME_UNENCRYPTED,       /* the config has no encryption block: nothing to do */
        VS_VOLUME_ERROR,             /* I/O or environment error (device-mapper missing, ...) */
        /* status only */
        VS_VOLUME_EMPTY,             /* would be formatted */
        VS_VOLUME_LUKS2,             /* LUKS2, not open */
};
const char *vs_volume_state_name(enum vs_volume_state s);

struct vs_slot_report {
        unsigned slot;
        char kind[16];        /* the configured kind, or the token type / "unconfigured" */
        const char *status;   /* opened ok unchanged added replaced removed pending failed rejected missing
                               * (status: opens does-not-open unconfigured unknown) */
        char *detail;         /* a reason or NULL */
};

struct vs_volume_report {
        char *volume;
        char *device;
        enum vs_volume_state state;
        int opened_by_slot;   /* -1 = none */
        char *mapper;         /* "luks2-ID" when activated (not with --check) */
        unsigned partition;   /* rescue (--disk): the partition number on `device`, 0 = device is the volume */
        uint64_t offset;      /* rescue: the partition's byte range on `device` */
        uint64_t size;
        char *what;           /* what a foreign volume holds ("ext4") */
        struct vs_slot_report slots[VS_MAX_SLOTS];
        size_t n_slots;
        char **errors;        /* one sentence each */
        size_t n_errors;
        char **pending;       /* status: what the next unlock's sync would do */
        size_t n_pending;
        int exit_code;        /* EXIT_* of cli.h for this volume */
};

/* The volumes to process, in order (STATE first, then EPHEMERAL, other system volumes, user volumes),
 * with STATE from META when the config has none (state_from_meta). Entries point into cfg/opts. */
int vs_volume_list(const struct vs_config *cfg, const struct vs_volume_options *o,
                   const struct vs_volume_config ***ret, size_t *ret_n);
/* Unlocks one volume; returns the report's exit code (0, 2, 3, 4). */
int vs_volume_unlock(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep);
/* Read-only inspection; tests every configured key against its slot. Returns 0, 2 or 4. */
int vs_volume_status(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep);
/* `volseal wipe`: destroys every keyslot of a LUKS volume, then erases every signature. */
int vs_volume_wipe(const char *id, const char *device);

void vs_volume_report_done(struct vs_volume_report *rep);
struct json_object *vs_volume_report_to_json(const struct vs_volume_report *rep);
/* Human-readable lines for one report on stdout. */
void vs_volume_report_print(const struct vs_volume_report *rep);
/* The exit code of several volumes: 1 > 2 > 4 > 3 > 0. */
int vs_exit_merge(int a, int b);
/* Where a volume lives: --volume override, else PARTLABEL. -ENODEV when not found. */
int vs_volume_device(const char *id, const struct vs_volume_options *o, char **ret);
