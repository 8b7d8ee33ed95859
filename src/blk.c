/* blk.c: see blk.h. */
#include "blk.h"
#include "log.h"
#include "util.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static void blkid_free_probep(blkid_probe *pr) {
        if (*pr)
                blkid_free_probe(*pr);
}
#define _cleanup_probe_ _cleanup_(blkid_free_probep)

/* udev's link name for `label` is the label itself only when it has none of the characters udev escapes. */
static bool partlabel_plain(const char *label) {
        if (!label[0] || streq(label, ".") || streq(label, ".."))
                return false;
        for (const char *c = label; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-", *c)))
                        return false;
        return true;
}

int vs_blk_partname_lookup(const char *sys_class_block, const char *dev_dir, const char *label, char **ret_devnode) {
        _cleanup_free_ char *found = NULL;
        struct dirent **names = NULL;
        int n = scandir(sys_class_block, &names, NULL, alphasort);
        if (n < 0)
                return -errno;
        int r = 0;
        for (int i = 0; i < n && r >= 0; i++) {
                char path[PATH_MAX], line[512], devname[256] = "";
                bool partition = false, named = false;
                if (names[i]->d_name[0] == '.' ||
                    snprintf(path, sizeof(path), "%s/%s/uevent", sys_class_block, names[i]->d_name) >= (int) sizeof(path))
                        continue;
                _cleanup_fclose_ FILE *f = fopen(path, "re");
                while (f && fgets(line, sizeof(line), f)) {
                        line[strcspn(line, "\n")] = 0;
                        if (streq(line, "DEVTYPE=partition"))
                                partition = true;
                        else if (strncmp(line, "PARTNAME=", 9) == 0 && streq(line + strlen("PARTNAME="), label))
                                named = true;
                        else if (strncmp(line, "DEVNAME=", 8) == 0 && strlen(line) - strlen("DEVNAME=") < sizeof(devname))
                                strcpy(devname, line + strlen("DEVNAME="));
                }
                if (!partition || !named || !devname[0] || strchr(devname, '/') || strstr(devname, ".."))
                        continue;
                if (found) {
                        log_warning("two partitions are labelled %s (%s and %s/%s): using %s", label, found, dev_dir, devname, found);
                        continue;
                }
                if (asprintf(&found, "%s/%s", dev_dir, devname) < 0) {
                        found = NULL;
                        r = -ENOMEM;
                }
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0)
                return r;
        if (!found)
                return -ENODEV;
        *ret_devnode = TAKE_PTR(found);
        return 0;
}

int vs_blk_find_by_partlabel(const char *label, char **ret_devnode) {
        /* Not blkid_evaluate_tag(): when udev has no link for the label (always so for an absent META) it
         * probes every block device (3 ms on an idle VM with a few loop devices, more with real disks) and
         * rewrites /run/blkid/blkid.tab, on every unlock. udev's link, then the GPT names the kernel has
         * already parsed (PARTNAME in each partition's uevent) answer the same question without device I/O. */
        if (partlabel_plain(label)) {
                char link[PATH_MAX];
                snprintf(link, sizeof(link), "/dev/disk/by-partlabel/%s", label);
                char *dev = realpath(link, NULL);
                if (dev) {
                        *ret_devnode = dev;
                        return 0;
                }
                int r = vs_blk_partname_lookup("/sys/class/block", "/dev", label, ret_devnode);
                if (r != -ENOENT)
                        return r; /* found, -ENODEV, or an error */
        }
        /* A label udev escapes or the kernel shortens to 7-bit, or no sysfs: libblkid's own search. */
        char *dev = blkid_evaluate_tag("PARTLABEL", label, NULL);
        if (!dev)
                return -ENODEV;
        *ret_devnode = dev;
        return 0;
}

static int open_probe_at(const char *device, int flags, uint64_t offset, uint64_t size, int *ret_fd, blkid_probe *ret) {
        int fd = open(device, flags | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s: %s", device, strerror(errno));
        blkid_probe pr = blkid_new_probe();
        if (!pr) {
                close(fd);
                return log_error_errno(ENOMEM, "cannot probe %s: out of memory", device);
        }
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0) {
                blkid_free_probe(pr);
                close(fd);
                return log_error_errno(EIO, "cannot probe %s: libblkid refused the device", device);
        }
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_VERSION | BLKID_SUBLKS_MAGIC);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
        *ret_fd = fd;
        *ret = pr;
        return 0;
}

static int open_probe(const char *device, int flags, int *ret_fd, blkid_probe *ret) {
        return open_probe_at(device, flags, 0, 0, ret_fd, ret);
}

int vs_blk_probe(const char *device, enum vs_blk_content *ret, char **ret_what) {
        return vs_blk_probe_at(device, 0, 0, ret, ret_what);
}

int vs_blk_probe_at(const char *device, uint64_t offset, uint64_t size, enum vs_blk_content *ret, char **ret_what) {
        _cleanup_close_ int fd = -1;
        _cleanup_probe_ blkid_probe pr = NULL;
        int r = open_probe_at(device, O_RDONLY, offset, size, &fd, &pr);
        if (r < 0)
                return r;
        r = blkid_do_safeprobe(pr);
        if (r == 1) {
                *ret = VS_BLK_EMPTY;
                if (ret_what)
                        *ret_what = strdup("nothing");
                return 0;
        }
        if (r == -2) {
                *ret = VS_BLK_FOREIGN;
                if (ret_what)
                        *ret_what = strdup("several conflicting signatures");
                return 0;
        }
        if (r < 0)
                return log_error_errno(EIO, "cannot probe %s: libblkid failed to read it", device);
        const char *type = NULL, *version = NULL, *pttype = NULL;
        (void) blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
        (void) blkid_probe_lookup_value(pr, "VERSION", &version, NULL);
        (void) blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
        char *what = NULL;
        if (type && streq(type, "crypto_LUKS") && version && streq(version, "2"))
                *ret = VS_BLK_LUKS2;
        else
                *ret = VS_BLK_FOREIGN;
        if (type && version && streq(type, "crypto_LUKS"))
                r = asprintf(&what, "crypto_LUKS version %s", version);
        else if (type)
                r = asprintf(&what, "%s", type);
        else if (pttype)
                r = asprintf(&what, "%s partition table", pttype);
        else
                r = asprintf(&what, "an unknown signature");
        if (r < 0)
                return -ENOMEM;
        if (ret_what)
                *ret_what = what;
        else
                free(what);
        return 0;
}

int vs_blk_wipe(const char *device) {
        _cleanup_close_ int fd = -1;
        _cleanup_probe_ blkid_probe pr = NULL;
        int r = open_probe(device, O_RDWR, &fd, &pr);
        if (r < 0)
                return r;
        int n = 0;
        /* blkid_do_probe() walks every signature; blkid_do_wipe() erases the current one and steps back so
         * the same area is probed again (a LUKS2 secondary header or a backup GPT shows up next). */
        for (int guard = 0; guard < 64; guard++) {
                r = blkid_do_probe(pr);
                if (r == 1)
                        break;
                if (r < 0)
                        return log_error_errno(EIO, "cannot probe %s while wiping", device);
                if (blkid_do_wipe(pr, 0) < 0)
                        return log_error_errno(errno ? errno : EIO, "cannot erase a signature on %s: %s", device,
                                               strerror(errno ? errno : EIO));
                n++;
        }
        if (fsync(fd) < 0)
                return log_error_errno(errno, "cannot sync %s: %s", device, strerror(errno));
        return n;
}

int vs_blk_find_partition(const char *disk, const char *label, struct vs_blk_partition *ret) {
        _cleanup_close_ int fd = open(disk, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "cannot open %s: %s", disk, strerror(errno));
        _cleanup_probe_ blkid_probe pr = blkid_new_probe();
        if (!pr || blkid_probe_set_device(pr, fd, 0, 0) < 0)
                return log_error_errno(EIO, "cannot probe %s: libblkid refused the device", disk);
        blkid_probe_enable_partitions(pr, 1);
        blkid_partlist ls = blkid_probe_get_partitions(pr);
        if (!ls)
                return log_error_errno(EINVAL, "%s has no partition table libblkid can read", disk);
        int n = blkid_partlist_numof_partitions(ls), found = 0;
        for (int i = 0; i < n; i++) {
                blkid_partition p = blkid_partlist_get_partition(ls, i);
                const char *name = p ? blkid_partition_get_name(p) : NULL;
                if (!name || !streq(name, label))
                        continue;
                blkid_loff_t start = blkid_partition_get_start(p), len = blkid_partition_get_size(p);
                int no = blkid_partition_get_partno(p);
                if (start < 0 || len <= 0 || no < 0)
                        continue;
                *ret = (struct vs_blk_partition) { .number = (unsigned) no, .offset = (uint64_t) start * 512u,
                                                   .size = (uint64_t) len * 512u };
                found++;
        }
        if (found > 1)
                return log_error_errno(ENOTUNIQ, "%s has %d partitions labelled %s", disk, found, label);
        return found ? 0 : -ENODEV;
}

int vs_blk_loop_attach(const char *path, uint64_t offset, uint64_t size, char **ret_devnode, int *ret_fd) {
        _cleanup_close_ int ffd = open(path, O_RDWR | O_CLOEXEC);
        if (ffd < 0)
                return log_error_errno(errno, "cannot open %s: %s", path, strerror(errno));
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return log_error_errno(errno, "cannot open /dev/loop-control: %s", strerror(errno));
        for (int attempt = 0; attempt < 8; attempt++) {
                int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (nr < 0)
                        return log_error_errno(errno, "no free loop device: %s", strerror(errno));
                char *dev = NULL;
                if (asprintf(&dev, "/dev/loop%d", nr) < 0)
                        return -ENOMEM;
                int lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0) {
                        int e = errno;
                        free(dev);
                        return log_error_errno(e, "cannot open a loop device: %s", strerror(e));
                }
                struct loop_config cfg = { .fd = (uint32_t) ffd };
                cfg.info.lo_offset = offset;
                cfg.info.lo_sizelimit = size;
                cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
                snprintf((char *) cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", path);
                if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
                        *ret_devnode = dev;
                        *ret_fd = lfd;
                        return 0;
                }
                int e = errno;
                close(lfd);
                free(dev);
                if (e != EBUSY)
                        return log_error_errno(e, "cannot set up a loop device over %s at offset %llu: %s", path,
                                               (unsigned long long) offset, strerror(e));
        }
        return log_error_errno(EBUSY, "cannot set up a loop device over %s: every free one was taken", path);
}
