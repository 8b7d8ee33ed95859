/* volume-report.h: what unlock and status say about one volume: its state, each slot's status with a
 * reason, the errors and what a sync would still do.
 * Promise: a report says what happened and how bad it is (enum vs_volume_problem), never which exit code
 * that makes: the CLI decides that (src/cli/cmd-volume-report.c). Every string in it is owned by it and
 * freed by vs_volume_report_done(). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "config.h"

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

/* How far a volume is from what the config asks, least serious first; a report keeps the worst it met. */
enum vs_volume_problem {
        VS_PROBLEM_NONE,             /* open (or formatted, waiting, unencrypted) and in sync */
        VS_PROBLEM_SYNC,             /* open, but a slot, a token or the sync fingerprint was not brought in sync */
        VS_PROBLEM_ENVIRONMENT,      /* no such device, no device-mapper, no loop device, no randomness */
        VS_PROBLEM_NOT_OPENED,       /* no configured key opens it, its header is refused, or it holds something else */
};

enum vs_slot_status {
        VS_SLOT_UNSET,               /* nothing said yet (named "unknown") */
        /* unlock */
        VS_SLOT_OPENED,              /* its key opened the volume */
        VS_SLOT_OK,                  /* its key opens its keyslot */
        VS_SLOT_NOT_TRIED,           /* a lower slot opened the volume and config and header are as at the last
                                      * sync: its key was not tried in this run (never reads as healthy) */
        VS_SLOT_ADDED,
        VS_SLOT_REPLACED,
        VS_SLOT_REMOVED,             /* a keyslot the config no longer names */
        VS_SLOT_PENDING,             /* cannot be enrolled yet (e.g. a tpm slot before the signed policy exists) */
        VS_SLOT_FAILED,
        VS_SLOT_REJECTED,            /* its key does not open its keyslot */
        VS_SLOT_MISSING,             /* configured, but the keyslot is empty */
        VS_SLOT_NOT_CHECKED,         /* --no-sync, --disk */
        /* status */
        VS_SLOT_OPENS,
        VS_SLOT_DOES_NOT_OPEN,
        VS_SLOT_UNCONFIGURED,        /* a keyslot the config does not name */
        VS_SLOT_UNKNOWN,             /* its key could not be tried */
        VS_SLOT_TO_ENROL,            /* an empty volume: formatted with or added by the next unlock */
};
/* "opened", "does-not-open", "to-enrol", ... ("unknown" for VS_SLOT_UNSET) */
const char *vs_slot_status_name(enum vs_slot_status s);

struct vs_slot_report {
        unsigned slot;
        char kind[16];        /* the configured kind, or the token type / "unconfigured" */
        enum vs_slot_status status;
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
        enum vs_volume_problem problem; /* the worst of the errors above */
};

void vs_volume_report_done(struct vs_volume_report *rep);
