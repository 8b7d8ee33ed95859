/* volume-sync.h: the keyslot sync after an open (volume-sync.c).
 * Promise: included only by src/volume.c; the order of writes keeps the volume openable whenever power is
 * lost, and every outcome lands in the report. */
#pragma once
#include <stdbool.h>

#include "config.h"
#include "keys/keys.h"
#include "luks.h"
#include "volume-report.h"

/* One sync of one opened volume. */
struct volume_sync {
        struct vs_luks *l;                      /* the opened volume's header */
        const struct vs_volume_config *v;
        const struct vs_key_volume *kv;
        const struct vs_secret *vk;             /* its volume key */
        unsigned opened;                        /* the slot whose key opened it: never touched */
        struct vs_key_run *run;
        struct vs_pbkdf pbkdf;                  /* for new keyslots (vs_volume_options.pbkdf) */
        bool full_sync;                         /* verify every slot, whatever the fingerprint says */
        const int *open_errors;                 /* per slot: the -errno key_for_slot gave in the open loop (its
                                                 * reason is the slot's detail in rep), 0 = not tried there */
        struct vs_volume_report *rep;           /* every outcome goes here */
};
/* Brings the keyslots of an opened volume in line with its config (docs/operations.md "Keyslot sync"). */
void volume_sync(const struct volume_sync *s);
