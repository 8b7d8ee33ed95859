/* blk.h: the only module that calls libblkid: find a volume's partition by PARTLABEL, probe what a device
 * holds, erase every signature on it.
 * Promise: probing never writes; vs_blk_wipe() erases only the magic bytes libblkid knows (filesystems,
 * LUKS headers (both copies), partition tables, swap), so the next probe reports the device empty. */
#pragma once

enum vs_blk_content {
        VS_BLK_EMPTY,    /* no signature at all: volseal may format it */
        VS_BLK_LUKS2,    /* a LUKS2 header */
        VS_BLK_FOREIGN,  /* anything else: LUKS1, a filesystem, a partition table, swap, ambiguous */
};

/* The device node of the partition whose GPT PARTLABEL is `label`. -ENODEV when there is none. */
int vs_blk_find_by_partlabel(const char *label, char **ret_devnode);
/* What `device` (block device or image file) holds. *ret_what (may be NULL) gets a short description for
 * messages: "ext4", "crypto_LUKS version 1", "gpt partition table". */
int vs_blk_probe(const char *device, enum vs_blk_content *ret, char **ret_what);
/* Erases every signature libblkid finds; returns the number erased or -errno. */
int vs_blk_wipe(const char *device);
