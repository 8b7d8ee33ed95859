/* volume-binding.h: which NV index a volume's updatable tpm slots are bound to, read from its LUKS2 header
 * (the volseal-tpm2-updatable tokens): for `tpm prepare` (which volumes the node's index serves) and `wipe`
 * (whether a wiped volume was the last one bound to it).
 * Promise: read-only; the header is validated first (luks.h) and every token parsed as unlock parses it; a
 * volume whose header or token is refused is reported with the reason, never guessed at. */
#pragma once
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

struct vs_volume_binding {
        unsigned n_slots;            /* updatable slots found (0: none) */
        unsigned slot;               /* the first one */
        uint32_t nv_index;           /* the index it is bound to */
        TPM2B_NAME nv_name;
        char reason[512];            /* why the header or a token was refused */
};

/* The updatable slots of the LUKS2 volume on `device` (offset/size: a partition of a disk image; 0 = the
 * whole device). 0 (n_slots may be 0), -EINVAL with ret->reason, or -errno. */
int vs_volume_binding_read(const char *device, uint64_t offset, uint64_t size, struct vs_volume_binding *ret);
