/* blk.h: the only module that calls libblkid: find a volume's partition by PARTLABEL, probe what a device
 * holds, erase every signature on it.
 * Promise: probing never writes; vs_blk_wipe() erases only the magic bytes libblkid knows (filesystems,
 * LUKS headers (both copies), partition tables, swap), so the next probe reports the device empty. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum vs_blk_content {
        VS_BLK_EMPTY,    /* no signature at all: volseal may format it */
        VS_BLK_LUKS2,    /* a LUKS2 header */
        VS_BLK_FOREIGN,  /* anything else: LUKS1, a filesystem, a partition table, swap, ambiguous */
};

/* The device node of the partition whose GPT PARTLABEL is `label`. -ENODEV when there is none. Looks at
 * udev's /dev/disk/by-partlabel link, then at the partition names the kernel exports; no device is probed.
 * Two partitions with the label: the first by kernel name, with a warning. */
int vs_blk_find_by_partlabel(const char *label, char **ret_devnode);
/* The sysfs half of it, for tests: scans SYS_CLASS_BLOCK/<name>/uevent for DEVTYPE=partition and
 * PARTNAME=`label`; *ret_devnode = DEV_DIR/<DEVNAME>. -ENODEV: none; -ENOENT: no SYS_CLASS_BLOCK. */
int vs_blk_partname_lookup(const char *sys_class_block, const char *dev_dir, const char *label, char **ret_devnode);
/* What `device` (block device or image file) holds. *ret_what (may be NULL) gets a short description for
 * messages: "ext4", "crypto_LUKS version 1", "gpt partition table". */
int vs_blk_probe(const char *device, enum vs_blk_content *ret, char **ret_what);
/* Erases every signature libblkid finds; returns the number erased or -errno. */
int vs_blk_wipe(const char *device);

/* Rescue (`--disk`, docs/rescue.md): a partition of a whole disk or disk image, found by its GPT PARTLABEL in the
 * disk's own partition table (no partition device nodes needed). */
struct vs_blk_partition {
        unsigned number;
        uint64_t offset;  /* bytes from the start of the disk */
        uint64_t size;    /* bytes */
};
/* -ENODEV: no partition labelled `label`; -ENOTUNIQ: several; -EINVAL: no partition table (logged). */
int vs_blk_find_partition(const char *disk, const char *label, struct vs_blk_partition *ret);
/* vs_blk_probe() on the byte range [offset, offset + size) of `device` (size 0 = to the end). */
int vs_blk_probe_at(const char *device, uint64_t offset, uint64_t size, enum vs_blk_content *ret, char **ret_what);
/* A loop device over [offset, offset + size) of `path`, autoclear (it goes away when its last user, e.g.
 * the dm-crypt mapping, closes it). *ret_fd keeps it alive until the caller closes it. */
int vs_blk_loop_attach(const char *path, uint64_t offset, uint64_t size, char **ret_devnode, int *ret_fd);
