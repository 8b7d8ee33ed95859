/* volume.c: see volume.h. Unlock and status of one volume: locate, probe, read the header, format an empty
 * volume, open by slot order, activate, then sync (volume-sync.c). */
#include "volume.h"
#include "volume-keyslot.h"
#include "volume-report-internal.h"
#include "volume-sync.h"
#include "blk.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>

/* ---- locating ---- */

int vs_volume_list(const struct vs_config *cfg, const struct vs_volume_options *o,
                   const struct vs_volume_config ***ret, size_t *ret_n) {
        static struct vs_volume_config meta_state;
        const struct vs_volume_config **list = calloc(cfg->n_volumes + 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        size_t n = 0;
        const struct vs_volume_config *state = vs_config_find(cfg, "STATE");
        if (o->state_from_meta && (!state || !state->encrypted)) {
                /* The machine config always wins; META only fills in a STATE it does not encrypt. */
                meta_state = (struct vs_volume_config) {
                        .kind = VS_VOLUME_SYSTEM, .name = (char *) "STATE", .id = (char *) "STATE", .encrypted = true,
                        .enc = *o->state_from_meta, .source = (char *) "META tag 9",
                };
                list[n++] = &meta_state;
        }
        for (size_t i = 0; i < cfg->n_volumes; i++) {
                if (n > 0 && list[0] == &meta_state && streq(cfg->volumes[i].id, "STATE"))
                        continue;
                list[n++] = &cfg->volumes[i];
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int vs_volume_device(const char *id, const struct vs_volume_options *o, char **ret) {
        for (size_t i = 0; i < o->n_overrides; i++)
                if (streq(o->overrides[i].id, id)) {
                        *ret = strdup(o->overrides[i].device);
                        return *ret ? 0 : -ENOMEM;
                }
        return vs_blk_find_by_partlabel(id, ret);
}

/* Where volume `v` lives: rep->device and, in rescue mode (--disk), its partition's byte range. */
static int find_device(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        bool overridden = false;
        for (size_t i = 0; i < o->n_overrides; i++)
                overridden |= streq(o->overrides[i].id, v->id);
        if (v->type == VS_VOLUME_DISK && !overridden)
                return -ENODEV; /* a whole disk Talos picks by its CEL diskSelector: no PARTLABEL to look for */
        if (!o->disk || overridden)
                return vs_volume_device(v->id, o, &rep->device);
        struct vs_blk_partition p;
        int r = vs_blk_find_partition(o->disk, v->id, &p);
        if (r < 0)
                return r;
        if (!(rep->device = strdup(o->disk)))
                return -ENOMEM;
        rep->partition = p.number;
        rep->offset = p.offset;
        rep->size = p.size;
        return 0;
}

/* Reads the LUKS2 header once, validates it and loads the validated detached copy (luks.h). A refused
 * header is reported with its reason; nothing is written. */
static int load_header(const struct vs_volume_config *v, struct vs_volume_report *rep, const char *loop,
                       struct vs_luks **ret) {
        char reason[320];
        int r = loop ? vs_luks_load_validated(loop, 0, 0, loop, ret, reason, sizeof(reason))
                     : vs_luks_load_validated(rep->device, rep->offset, rep->size, rep->device, ret, reason, sizeof(reason));
        if (r == -EINVAL) {
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s: refused the LUKS2 header on %s: %s; no key was tried, nothing was written",
                          v->id, rep->device, reason);
                return r;
        }
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s: cannot read the LUKS2 header on %s: %s", v->id, rep->device, strerror(-r));
        }
        return r;
}

static bool needs_state(const struct vs_volume_config *v) {
        for (size_t i = 0; i < v->enc.n_keys; i++)
                if (v->enc.keys[i].lock_to_state)
                        return true;
        return false;
}

static bool has_key(const struct vs_volume_config *v, bool updatable, bool recovery) {
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                if ((updatable && k->kind == VS_KEY_TPM && k->tpm_updatable) || (recovery && k->kind == VS_KEY_RECOVERY))
                        return true;
        }
        return false;
}

/* Work on an open volume that only a run with --state-dir or the operator's recovery key can do (the second
 * unlock of a boot, STATE mounted; docs/tpm-updatable.md "Enrolment"): an updatable tpm slot to enrol, a
 * recovery slot to enrol (--recovery-key-out) or to check (--recovery-key-file). */
static bool may_have_work_when_open(const struct vs_volume_config *v, const struct vs_key_run *run) {
        return (run->state_dir && has_key(v, true, false)) ||
               ((run->recovery_key_out || run->recovery_key_file) && has_key(v, false, true));
}

static bool has_work_when_open(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_key_run *run) {
        if (run->recovery_key_file && has_key(v, false, true))
                return true;
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                bool can = (k->kind == VS_KEY_TPM && k->tpm_updatable && run->state_dir) ||
                           (k->kind == VS_KEY_RECOVERY && run->recovery_key_out);
                if (can && !vs_luks_slot_active(l, k->slot))
                        return true;
        }
        return false;
}

/* An empty volume with an updatable tpm key, other than STATE, is formatted once STATE is mounted, with all
 * its keys at once (the updatable slot needs the authority on STATE). STATE itself cannot wait for itself:
 * its updatable slot is enrolled by a later run with --state-dir (may_have_work_when_open). */
static bool format_waits_for_state(const struct vs_volume_config *v, const struct vs_volume_options *o) {
        return !o->run->state_dir && !streq(v->id, "STATE") && has_key(v, true, false);
}

/* Locates and probes. Returns 1 when the caller should continue with *ret_content, 0 when the report is
 * final. */
static int locate(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep,
                  enum vs_blk_content *ret_content) {
        int r = find_device(v, o, rep);
        if (r < 0) {
                rep->state = VS_VOLUME_NOT_FOUND;
                if (v->type == VS_VOLUME_DISK)
                        report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: whole-disk volume: pass --volume %s=DEVICE "
                                     "(volumeType: disk; Talos picks the disk by a CEL diskSelector, which volseal does "
                                     "not evaluate)", v->id, v->id);
                else if (o->disk)
                        report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: no partition labelled %s on %s", v->id, v->id, o->disk);
                else
                        report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: no partition labelled %s (give --volume %s=DEVICE)", v->id, v->id, v->id);
                return 0;
        }
        r = vs_blk_probe_at(rep->device, rep->offset, rep->size, ret_content, &rep->what);
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: cannot read %s: %s", v->id, rep->device, strerror(-r));
                return 0;
        }
        if (*ret_content == VS_BLK_FOREIGN) {
                rep->state = VS_VOLUME_FOREIGN;
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s on %s holds %s; volseal formats only empty volumes: wipe it first (volseal wipe %s)",
                          v->id, rep->device, rep->what, v->id);
                return 0;
        }
        free(rep->what); /* "nothing" / "crypto_LUKS version 2": only a foreign volume's content is reported */
        rep->what = NULL;
        if (*ret_content == VS_BLK_LUKS2 && vs_luks_format_interrupted(rep->device) > 0) {
                /* Power was lost inside crypt_format (the power-loss test found it): libcryptsetup cannot load
                 * the header and no keyslot was ever written, so it is empty, as never_activated() below. */
                log_notice("volume %s: %s holds only an unfinished LUKS2 header without keyslots (an interrupted format): formatting again",
                           v->id, rep->device);
                *ret_content = VS_BLK_EMPTY;
        }
        return 1;
}

/* A LUKS2 header without any keyslot, or one still marked VS_LUKS_FORMATTING, cannot hold reachable data
 * (power was lost between format and the first complete key): it counts as empty. */
static bool never_activated(struct vs_luks *l) {
        const char *sub = vs_luks_subsystem(l);
        if (sub && streq(sub, VS_LUKS_FORMATTING))
                return true;
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++)
                if (vs_luks_slot_active(l, s))
                        return false;
        return true;
}

static int activate(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_volume_options *o,
                    const struct vs_secret *vk, struct vs_volume_report *rep) {
        /* --check: the key came from keyslot opened_by_slot through crypt_volume_key_get, which verified it
         * against that keyslot's digest; for a keyslot bound to the data segment that is the segment's
         * digest, so a check-only activation would only run the same PBKDF2 digest again (~4% of an
         * unlock's CPU: docs/performance.md). An unbound keyslot is still checked the long way. */
        if (o->check && rep->opened_by_slot >= 0 && vs_luks_slot_bound(l, (unsigned) rep->opened_by_slot))
                return 0;
        _cleanup_free_ char *mapper = NULL;
        if (asprintf(&mapper, "luks2-%s", v->id) < 0)
                return -ENOMEM;
        struct vs_luks_activation a = { .perf_flags = v->enc.perf_flags, .allow_discards = v->enc.allow_discards };
        int r = vs_luks_activate(l, o->check ? NULL : mapper, vk, &a);
        if (r == -EEXIST) {
                rep->state = VS_VOLUME_ALREADY_OPEN;
                rep->mapper = TAKE_PTR(mapper);
                return 0;
        }
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, r == -EOPNOTSUPP ? VS_PROBLEM_ENVIRONMENT : VS_PROBLEM_NOT_OPENED, "volume %s: cannot activate %s: %s", v->id,
                          mapper, r == -EOPNOTSUPP ? "device-mapper is not available (use --check)" : strerror(-r));
                return r;
        }
        if (!o->check)
                rep->mapper = TAKE_PTR(mapper);
        return 0;
}

/* The other configured keys into their keyslots, once the volume is open (volume-sync.c). */
static void sync_after_open(struct vs_luks *l, const struct vs_volume_config *v, const struct vs_volume_options *o,
                            const struct vs_key_volume *kv, const struct vs_secret *vk, unsigned opened,
                            const int open_errors[VS_MAX_SLOTS], struct vs_volume_report *rep) {
        volume_sync(&(const struct volume_sync) {
                .l = l, .v = v, .kv = kv, .vk = vk, .opened = opened,
                .run = o->run, .pbkdf = o->pbkdf, .full_sync = o->full_sync, .open_errors = open_errors, .rep = rep,
        });
}

static int format_volume(const struct vs_volume_config *v, const struct vs_volume_options *o,
                         const struct vs_key_volume *kv, struct vs_volume_report *rep) {
        struct vs_key_run *run = o->run;
        const struct vs_key_config *first = NULL;
        _cleanup_secret_ struct vs_secret *pass = NULL;
        struct json_object *token = NULL;
        for (size_t i = 0; i < v->enc.n_keys && !first; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                int r = vs_key_can_enroll(run, kv, k);
                if (r == 0) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_PENDING, "%s", run->reason[0] ? run->reason : "cannot be enrolled yet");
                        continue;
                }
                if (r > 0)
                        r = vs_key_new(run, kv, k, k->slot, &pass, &token);
                if (r < 0) {
                        /* Not fatal yet: a later key may format the volume, and sync retries this one. */
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_FAILED, "%s", run->reason[0] ? run->reason : strerror(-r));
                        continue;
                }
                first = k;
        }
        if (!first) {
                rep->state = VS_VOLUME_NOT_OPENED;
                for (size_t i = 0; i < rep->n_slots; i++)
                        report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s slot %u (%s): %s", v->id, rep->slots[i].slot,
                                  rep->slots[i].kind, rep->slots[i].detail ?: vs_slot_status_name(rep->slots[i].status));
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s on %s is empty, but none of its keys can be made now; nothing was written",
                          v->id, rep->device);
                return 0;
        }
        size_t bits = v->enc.key_size ? v->enc.key_size : vs_cipher_is_adiantum(v->enc.cipher) ? 256 : 512;
        _cleanup_secret_ struct vs_secret *vk = NULL;
        int r = vs_secret_new(bits / 8, &vk);
        if (r >= 0 && RAND_bytes(vk->data, (int) (bits / 8)) != 1)
                r = -EIO;
        if (r < 0) {
                json_object_put(token);
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: cannot make a volume key", v->id);
                return 0;
        }
        vk->len = bits / 8;
        struct vs_luks_format_params fp = { .cipher = v->enc.cipher, .key_bits = (unsigned) bits, .sector_size = v->enc.block_size };
        _cleanup_luks_ struct vs_luks *l = NULL;
        r = vs_luks_format(rep->device, &fp, vk, &l);
        if (r >= 0) {
                struct vs_pbkdf pbkdf = pbkdf_for(&o->pbkdf, first);
                r = add_slot_with_token(l, first->slot, vk, pass, &pbkdf, token);
        }
        if (r >= 0) /* the first key is complete: from here on the volume may hold data */
                r = vs_luks_set_subsystem(l, "");
        json_object_put(token);
        if (r < 0) {
                rep->state = VS_VOLUME_NOT_OPENED;
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s: cannot format %s: %s", v->id, rep->device, strerror(-r));
                return 0;
        }
        log_info("volume %s: formatted %s with keyslot %u (%s)", v->id, rep->device, first->slot, kind_name(first));
        rep->state = VS_VOLUME_FORMATTED;
        rep->opened_by_slot = (int) first->slot;
        report_slot_set(rep, first->slot, kind_name(first), VS_SLOT_ADDED, "formatted with this key");
        if (activate(l, v, o, vk, rep) < 0)
                return 0;
        if (rep->state == VS_VOLUME_ALREADY_OPEN)
                rep->state = VS_VOLUME_FORMATTED;
        /* The rest of the keys: a fresh volume always gets every key that can be made now. */
        static const int none_tried[VS_MAX_SLOTS];
        sync_after_open(l, v, o, kv, vk, first->slot, none_tried, rep);
        return 0;
}

/* What unlock_needs_nothing() found. */
enum { GO_ON, DONE, OPEN_ALREADY };

/* Before any I/O: an unencrypted volume, one that waits for STATE's salt, one that is open already.
 * Returns DONE when the report is final, GO_ON, OPEN_ALREADY (open, but may have work: its header decides),
 * or -ENOMEM. */
static int unlock_needs_nothing(const struct vs_volume_config *v, const struct vs_volume_options *o,
                                struct vs_volume_report *rep) {
        if (!v->encrypted) {
                rep->state = VS_VOLUME_UNENCRYPTED;
                return DONE;
        }
        if (needs_state(v) && !o->run->state_dir) {
                rep->state = VS_VOLUME_WAITING_FOR_STATE;
                (void) find_device(v, o, rep);
                return DONE;
        }
        if (o->check)
                return GO_ON;
        _cleanup_free_ char *mapper = NULL;
        if (asprintf(&mapper, "luks2-%s", v->id) < 0)
                return -ENOMEM;
        if (!vs_luks_mapping_active(mapper))
                return GO_ON;
        if (may_have_work_when_open(v, o->run))
                return OPEN_ALREADY;
        (void) find_device(v, o, rep);
        rep->state = VS_VOLUME_ALREADY_OPEN;
        rep->mapper = TAKE_PTR(mapper);
        return DONE;
}

/* Rescue (--disk) is read-only: a volume without a LUKS2 header, or without a complete key, is not formatted. */
static void refuse_rescue_format(const struct vs_volume_config *v, struct vs_volume_report *rep, bool has_header) {
        rep->state = VS_VOLUME_NOT_OPENED;
        if (has_header)
                report_error(rep, VS_PROBLEM_NOT_OPENED,
                             "volume %s: the LUKS2 header on %s has no complete key (an interrupted format); --disk never formats",
                             v->id, rep->device);
        else if (rep->partition)
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s: partition %u of %s holds no LUKS2 header; --disk never formats",
                             v->id, rep->partition, rep->device);
        else
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s: %s holds no LUKS2 header; --disk never formats", v->id,
                             rep->device);
}

/* Rescue activation: a loop device over the partition (no partition device nodes in an image file);
 * autoclear, so it goes away with the mapping, or when *ret_fd closes if activation fails. *ret stays NULL
 * when none is needed. */
static int attach_rescue_loop(const struct vs_volume_config *v, const struct vs_volume_options *o,
                              struct vs_volume_report *rep, char **ret, int *ret_fd) {
        if (!o->disk || !rep->partition || o->check)
                return 0;
        int r = vs_blk_loop_attach(rep->device, rep->offset, rep->size, ret, ret_fd);
        if (r < 0) {
                rep->state = VS_VOLUME_ERROR;
                report_error(rep, VS_PROBLEM_ENVIRONMENT, "volume %s: cannot set up a loop device over partition %u of %s",
                             v->id, rep->partition, rep->device);
        }
        return r;
}

/* A volume open already (its mapping luks2-ID) that this run leaves as it is. */
static void report_still_open(const struct vs_volume_config *v, struct vs_volume_report *rep) {
        rep->state = VS_VOLUME_ALREADY_OPEN;
        if (asprintf(&rep->mapper, "luks2-%s", v->id) < 0)
                rep->mapper = NULL;
}

/* No key of this run opened the volume. A volume that was open already (`reopen`: opened again only for
 * work that needs its volume key, has_work_when_open) stays open and in use: the work waits for a run with
 * a key, which is a sync problem, not a volume that failed to open (the boot goes on). */
static void report_none_opened(const struct vs_volume_config *v, struct vs_volume_report *rep, bool config_changed,
                               bool reopen) {
        if (reopen) {
                report_still_open(v, rep);
                report_error(rep, VS_PROBLEM_SYNC, "volume %s is open, but no key of this run opens its keyslots: "
                             "its pending slots wait (give --recovery-key-file PATH, or run again once a tpm slot "
                             "opens it)", v->id);
                return;
        }
        rep->state = VS_VOLUME_NOT_OPENED;
        for (size_t i = 0; i < rep->n_slots; i++)
                report_error(rep, VS_PROBLEM_NOT_OPENED, "volume %s slot %u (%s): %s", v->id, rep->slots[i].slot,
                             rep->slots[i].kind, rep->slots[i].detail ?: vs_slot_status_name(rep->slots[i].status));
        report_error(rep, VS_PROBLEM_NOT_OPENED, "no configured key opens volume %s on %s%s", v->id, rep->device,
                     config_changed ? "; if every key changed at once, put one old key back: keep at least one unchanged key and rotate in two steps" : "");
}

/* Open: keys in ascending slot order, each against its own slot only; the first success wins. Returns the
 * key that opened it (the volume key in *ret_vk), or NULL with the report saying why none did. A key that
 * could not be made leaves its -errno in key_errors[slot], for sync to decide from. */
static const struct vs_key_config *open_by_slot_order(struct vs_luks *l, const struct vs_volume_config *v,
                                                      const struct vs_volume_options *o, const struct vs_key_volume *kv,
                                                      bool reopen, struct vs_volume_report *rep,
                                                      struct vs_secret **ret_vk, int key_errors[VS_MAX_SLOTS]) {
        struct vs_key_run *run = o->run;
        bool config_changed = false;
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                if (!vs_luks_slot_active(l, k->slot)) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_MISSING, "keyslot %u is empty", k->slot);
                        config_changed = true;
                        continue;
                }
                _cleanup_secret_ struct vs_secret *pass = NULL;
                int r = key_for_slot(run, l, kv, k, &pass);
                if (r < 0) {
                        /* -ENOMEDIUM: a key the operator holds and did not give is not tried, which is no failure */
                        report_slot_set(rep, k->slot, kind_name(k), r == -ENOMEDIUM ? VS_SLOT_NOT_CHECKED : VS_SLOT_FAILED,
                                        "%s", run->reason[0] ? run->reason : strerror(-r));
                        key_errors[k->slot] = r;
                        continue;
                }
                r = vs_luks_volume_key(l, k->slot, pass, ret_vk);
                if (r == -EPERM && k->kind == VS_KEY_KMS) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_REJECTED, "the KMS returned a secret that does not open keyslot %u", k->slot);
                        continue;
                }
                if (r == -EPERM) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_REJECTED, "the %s key does not open keyslot %u", kind_name(k), k->slot);
                        config_changed = true;
                        continue;
                }
                if (r < 0) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_FAILED, "cannot read keyslot %u: %s", k->slot, strerror(-r));
                        continue;
                }
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_OPENED, NULL);
                return k;
        }
        report_none_opened(v, rep, config_changed, reopen);
        return NULL;
}

/* --no-sync, --disk: the slots the open loop did not reach are not looked at. */
static void mark_not_checked(const struct vs_volume_config *v, const struct vs_volume_options *o,
                             const struct vs_key_config *opened, struct vs_volume_report *rep) {
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                if (k != opened && report_slot_is(rep, k->slot, VS_SLOT_UNSET))
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_NOT_CHECKED, "%s",
                                        o->disk ? "--disk is read-only" : "--no-sync");
        }
}

/* Everything but the volumes that need nothing: found, formatted or opened, then synced. A volume open
 * already (`open`) is opened again without activation when it has work (has_work_when_open). */
static void unlock_volume(const struct vs_volume_config *v, const struct vs_volume_options *o,
                          struct vs_volume_report *rep, bool open) {
        enum vs_blk_content content;
        if (!locate(v, o, rep, &content))
                return;
        struct vs_key_volume kv = { .id = v->id, .device = rep->device };
        if (content == VS_BLK_EMPTY && format_waits_for_state(v, o)) {
                rep->state = VS_VOLUME_WAITING_FOR_STATE;
                return;
        }
        if (content == VS_BLK_EMPTY) {
                if (o->disk)
                        refuse_rescue_format(v, rep, false);
                else
                        format_volume(v, o, &kv, rep);
                return;
        }
        _cleanup_free_ char *loop = NULL;
        _cleanup_close_ int loop_fd = -1;
        if (attach_rescue_loop(v, o, rep, &loop, &loop_fd) < 0)
                return;
        _cleanup_luks_ struct vs_luks *l = NULL;
        if (load_header(v, rep, loop, &l) < 0)
                return;
        if (never_activated(l) && o->disk) {
                refuse_rescue_format(v, rep, true);
                return;
        }
        if (open && !has_work_when_open(l, v, o->run)) {
                report_still_open(v, rep);
                return;
        }
        if (never_activated(l)) {
                log_notice("volume %s: the LUKS2 header on %s has no complete key (an interrupted format): formatting again", v->id, rep->device);
                vs_luks_free(TAKE_PTR(l));
                format_volume(v, o, &kv, rep);
                return;
        }
        _cleanup_secret_ struct vs_secret *vk = NULL;
        int key_errors[VS_MAX_SLOTS] = {};
        const struct vs_key_config *opened = open_by_slot_order(l, v, o, &kv, open, rep, &vk, key_errors);
        if (!opened)
                return;
        rep->opened_by_slot = (int) opened->slot;
        rep->state = VS_VOLUME_OPENED;
        if (activate(l, v, o, vk, rep) < 0)
                return;
        if (o->no_sync || o->disk)
                mark_not_checked(v, o, opened, rep);
        else
                sync_after_open(l, v, o, &kv, vk, opened->slot, key_errors, rep);
}

int vs_volume_unlock(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        report_init(rep, v);
        int r = unlock_needs_nothing(v, o, rep);
        if (r < 0 || r == DONE)
                return r < 0 ? r : 0;
        unlock_volume(v, o, rep, r == OPEN_ALREADY);
        report_log_failed_slots(rep);
        return 0;
}

/* ---- status ---- */

/* An empty volume: what the next unlock would format it with, and which keys must wait. */
static void status_empty(const struct vs_volume_config *v, const struct vs_volume_options *o,
                         const struct vs_key_volume *kv, struct vs_volume_report *rep) {
        rep->state = VS_VOLUME_EMPTY;
        if (o->disk) {
                report_pending(rep, "nothing: --disk never formats");
                return;
        }
        bool first = true;
        for (size_t i = 0; i < v->enc.n_keys; i++) {
                const struct vs_key_config *k = &v->enc.keys[i];
                int r = vs_key_can_enroll(o->run, kv, k);
                if (r > 0) {
                        report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_TO_ENROL, NULL);
                        report_pending(rep, "%s slot %u (%s)", first ? "format LUKS2 with" : "add", k->slot, kind_name(k));
                        first = false;
                } else {
                        report_slot_set(rep, k->slot, kind_name(k), r == 0 ? VS_SLOT_PENDING : VS_SLOT_FAILED, "%s", o->run->reason);
                        report_pending(rep, "enrol slot %u (%s) later: %s", k->slot, kind_name(k), o->run->reason);
                }
        }
}

/* One configured slot: does its key open it, and what would the next unlock do about it. */
static void status_slot(struct vs_luks *l, const struct vs_key_config *k, struct vs_key_run *run,
                        const struct vs_key_volume *kv, struct vs_volume_report *rep) {
        if (!vs_luks_slot_active(l, k->slot)) {
                int r = vs_key_can_enroll(run, kv, k);
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_MISSING, "keyslot %u is empty", k->slot);
                if (r > 0)
                        report_pending(rep, "add slot %u (%s)", k->slot, kind_name(k));
                else
                        report_pending(rep, "add slot %u (%s) when it can be made: %s", k->slot, kind_name(k), run->reason);
                return;
        }
        char type[16];
        if (has_stale_token(l, k, type))
                report_pending(rep, "remove stale token %u (%s)", k->slot, type);
        _cleanup_secret_ struct vs_secret *pass = NULL;
        int r = key_for_slot(run, l, kv, k, &pass);
        if (r == -ENOKEY) {
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_DOES_NOT_OPEN, "%s", run->reason);
                report_pending(rep, "replace slot %u (%s)", k->slot, kind_name(k));
                return;
        }
        if (r < 0) {
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_UNKNOWN, "%s", run->reason[0] ? run->reason : strerror(-r));
                return;
        }
        r = vs_luks_test_passphrase(l, k->slot, pass);
        if (r == 0) {
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_OPENS, NULL);
                if (rep->opened_by_slot < 0)
                        rep->opened_by_slot = (int) k->slot;
        } else if (r == -EPERM) {
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_DOES_NOT_OPEN, "the configured %s key does not open keyslot %u",
                                kind_name(k), k->slot);
                report_pending(rep, "replace slot %u (%s)", k->slot, kind_name(k));
        } else
                report_slot_set(rep, k->slot, kind_name(k), VS_SLOT_UNKNOWN, "cannot test keyslot %u: %s", k->slot, strerror(-r));
}

/* Keyslots the config does not name, and tokens without a keyslot: the next unlock removes them. */
static void status_unconfigured(struct vs_luks *l, uint32_t configured, struct vs_volume_report *rep) {
        for (unsigned s = 0; s < VS_MAX_SLOTS; s++) {
                struct json_object *tok = NULL;
                bool active = vs_luks_slot_active(l, s);
                bool has_tok = vs_luks_token_get(l, s, &tok) >= 0;
                if (active && !(configured & (1u << s))) {
                        char kdf[32] = "";
                        (void) vs_luks_slot_kdf(l, s, kdf, sizeof(kdf));
                        report_slot_set(rep, s, has_tok ? token_type_of(tok) ?: "?" : "unconfigured", VS_SLOT_UNCONFIGURED,
                                        "%s keyslot not in the config", kdf);
                        report_pending(rep, "remove slot %u", s);
                } else if (!active && has_tok)
                        report_pending(rep, "remove stale token %u (%s)", s, token_type_of(tok) ?: "?");
                json_object_put(tok);
        }
}

/* No key opens it (and none was merely untestable): a sync needs a working key, so listing "replace slot N"
 * would promise what the next unlock cannot do; the error is the only thing status reports. */
static void status_verdict(const struct vs_volume_config *v, struct vs_volume_report *rep) {
        for (size_t i = 0; i < rep->n_slots; i++)
                if (rep->slots[i].status == VS_SLOT_UNKNOWN)
                        return;
        if (rep->opened_by_slot >= 0)
                return;
        for (size_t i = 0; i < rep->n_pending; i++)
                free(rep->pending[i]);
        rep->n_pending = 0;
        report_error(rep, VS_PROBLEM_NOT_OPENED, "no configured key opens volume %s on %s", v->id, rep->device);
}

int vs_volume_status(const struct vs_volume_config *v, const struct vs_volume_options *o, struct vs_volume_report *rep) {
        report_init(rep, v);
        if (!v->encrypted) {
                rep->state = VS_VOLUME_UNENCRYPTED;
                (void) find_device(v, o, rep);
                return 0;
        }
        enum vs_blk_content content;
        if (!locate(v, o, rep, &content))
                return 0;
        struct vs_key_volume kv = { .id = v->id, .device = rep->device };
        if (content == VS_BLK_EMPTY) {
                status_empty(v, o, &kv, rep);
                return 0;
        }
        _cleanup_luks_ struct vs_luks *l = NULL;
        if (load_header(v, rep, NULL, &l) < 0)
                return 0;
        if (never_activated(l)) {
                rep->state = VS_VOLUME_EMPTY;
                report_pending(rep, o->disk ? "nothing: --disk never formats" : "format LUKS2 again (the header has no complete key: an interrupted format)");
                return 0;
        }
        rep->state = VS_VOLUME_LUKS2;
        _cleanup_free_ char *mapper = NULL;
        if (asprintf(&mapper, "luks2-%s", v->id) >= 0 && vs_luks_mapping_active(mapper)) {
                rep->state = VS_VOLUME_ALREADY_OPEN;
                rep->mapper = TAKE_PTR(mapper);
        }
        for (size_t i = 0; i < v->enc.n_keys; i++)
                status_slot(l, &v->enc.keys[i], o->run, &kv, rep);
        status_unconfigured(l, configured_mask(v), rep);
        status_verdict(v, rep);
        return 0;
}

/* ---- wipe ---- */

int vs_volume_wipe(const char *id, const char *device) {
        _cleanup_free_ char *mapper = NULL, *what = NULL;
        if (asprintf(&mapper, "luks2-%s", id) < 0)
                return -ENOMEM;
        if (vs_luks_mapping_active(mapper))
                return log_error_errno(EBUSY, "volume %s is open as %s: close it before wiping %s", id, mapper, device);
        enum vs_blk_content content;
        int r = vs_blk_probe(device, &content, &what);
        if (r < 0)
                return r;
        if (content == VS_BLK_EMPTY) {
                log_info("volume %s on %s holds no signature: nothing to wipe", id, device);
                return 0;
        }
        if (strncmp(what, "crypto_LUKS", 11) == 0) {
                r = vs_luks_destroy_all_slots(device);
                if (r < 0)
                        return r;
                log_info("volume %s: destroyed %d keyslot%s on %s", id, r, r == 1 ? "" : "s", device);
        }
        r = vs_blk_wipe(device);
        if (r < 0)
                return r;
        log_info("volume %s: erased %d signature%s on %s", id, r, r == 1 ? "" : "s", device);
        return 0;
}
