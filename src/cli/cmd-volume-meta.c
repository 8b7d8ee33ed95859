/* cmd-volume-meta.c: META in `volseal unlock` and `volseal status` (docs/meta.md): tag 15 as
 * the nodeID UUID, tag 9 as STATE's config when the machine config has no STATE document, tag 9 updated
 * after STATE opened by the machine config, and the warning that a static STATE passphrase sits in META. */
#include "blk.h"
#include "cli.h"
#include "cmd-volume.h"
#include "log.h"
#include "meta-config.h"
#include "meta.h"
#include "util.h"

#include <errno.h>

static void set_warning(struct volume_meta *vm, int slot) {
        snprintf(vm->warning, sizeof(vm->warning),
                 "STATE's static passphrase (slot %d) is stored in plain text in META tag 9 (%s): anyone who can read the disk can read it",
                 slot, vm->path);
}

static int volume_meta_use(struct volume_meta *vm, const struct vs_config *cfg, struct vs_key_run *run,
                           struct vs_volume_options *opts);

int volume_meta_begin(struct volume_meta *vm, const char *meta_arg, const struct vs_config *cfg, struct vs_key_run *run,
                      struct vs_volume_options *opts) {
        *vm = (struct volume_meta) {};
        int r;
        if (!meta_arg && opts->disk) {
                /* Rescue: META is a partition of the disk image too; read it once, never write it. */
                vm->read_only = true;
                struct vs_blk_partition p;
                r = vs_blk_find_partition(opts->disk, "META", &p);
                if (r == -ENODEV) {
                        log_info("%s has no partition labelled META: no UUID override, STATE's config only from the machine config",
                                 opts->disk);
                        return EXIT_OK;
                }
                if (r < 0)
                        return EXIT_ENV;
                if (asprintf(&vm->path, "%s partition %u (META)", opts->disk, p.number) < 0)
                        return EXIT_ENV;
                r = vs_meta_load_range(&vm->meta, opts->disk, p.offset, p.size, vm->path);
                if (r < 0)
                        return r == -EINVAL ? EXIT_USAGE : EXIT_ENV; /* too small to be META, or unreadable */
                return volume_meta_use(vm, cfg, run, opts);
        }
        if (meta_arg) {
                if (!(vm->path = strdup(meta_arg)))
                        return EXIT_USAGE;
        } else {
                r = vs_blk_find_by_partlabel("META", &vm->path);
                if (r == -ENODEV || r == -ENOENT) {
                        log_debug("no partition labelled META: no UUID override, STATE's config only from the machine config");
                        return EXIT_OK;
                }
                if (r < 0) {
                        log_error("cannot look for the META partition: %s", strerror(-r));
                        return EXIT_ENV;
                }
        }
        r = vs_meta_load(&vm->meta, vm->path);
        if (r < 0)
                return cli_exit_from_errno(r);
        return volume_meta_use(vm, cfg, run, opts);
}

static int volume_meta_use(struct volume_meta *vm, const struct vs_config *cfg, struct vs_key_run *run,
                           struct vs_volume_options *opts) {
        int r;
        vm->loaded = true;
        r = vs_meta_uuid_override(&vm->meta, &vm->uuid);
        if (r < 0)
                return EXIT_USAGE;
        if (r > 0) {
                run->uuid_override = vm->uuid;
                log_info("%s: META tag 15 overrides the machine UUID for nodeID keys", vm->path);
        }
        if (!vs_config_find(cfg, "STATE")) {
                r = vs_meta_state_config_get(&vm->meta, vm->path, &vm->state);
                if (r == -EINVAL)
                        return EXIT_USAGE; /* named the field; STATE is never guessed */
                if (r > 0) {
                        vm->have_state = true;
                        opts->state_from_meta = &vm->state;
                        log_info("%s: STATE's encryption config comes from META tag 9 (the machine config has no STATE VolumeConfig)", vm->path);
                }
        }
        int slot = vs_meta_state_static_slot(&vm->meta, vm->path);
        if (slot >= 0) {
                set_warning(vm, slot);
                log_warning("%s", vm->warning);
        }
        return EXIT_OK;
}

int volume_meta_repair(struct volume_meta *vm) {
        if (!vm->loaded || vm->read_only || !(vm->meta.state == VS_META_COPY2 || vm->meta.copy2_stale))
                return EXIT_OK;
        log_info("%s: the two META copies differ (a write was interrupted); rewriting both", vm->path);
        return vs_meta_store(&vm->meta, vm->path, false) < 0 ? EXIT_SYNC : EXIT_OK;
}

int volume_meta_after(struct volume_meta *vm, const struct vs_config *cfg, const struct vs_volume_config *v,
                      const struct vs_volume_report *rep, bool unlock) {
        if (!unlock || !vm->loaded || vm->read_only || !streq(v->id, "STATE"))
                return EXIT_OK;
        const struct vs_volume_config *mc = vs_config_find(cfg, "STATE");
        if (!mc)
                return EXIT_OK; /* STATE came from META (or is not configured): nothing new to save */
        if (rep->state != VS_VOLUME_OPENED && rep->state != VS_VOLUME_FORMATTED && rep->state != VS_VOLUME_ALREADY_OPEN &&
            rep->state != VS_VOLUME_UNENCRYPTED)
                return EXIT_OK; /* only a config that opened STATE is saved */
        int r = vs_meta_config_persist_state(vm->path, mc);
        if (r < 0)
                return EXIT_SYNC; /* STATE is open, but META does not hold its config: logged */
        if (mc->encrypted) {
                for (size_t i = 0; i < mc->enc.n_keys; i++)
                        if (mc->enc.keys[i].kind == VS_KEY_STATIC) {
                                if (r > 0 || !vm->warning[0]) {
                                        set_warning(vm, (int) mc->enc.keys[i].slot);
                                        if (r > 0)
                                                log_warning("%s", vm->warning);
                                }
                                return EXIT_OK;
                        }
        }
        vm->warning[0] = 0; /* tag 9 now holds no static key */
        return EXIT_OK;
}

void volume_meta_annotate(const struct volume_meta *vm, const struct vs_volume_config *v, struct json_object *o) {
        if (!vm->warning[0] || !streq(v->id, "STATE"))
                return;
        struct json_object *w = json_object_new_array();
        json_object_array_add(w, json_object_new_string(vm->warning));
        json_object_object_add(o, "warnings", w);
}

void volume_meta_done(struct volume_meta *vm) {
        if (vm->have_state)
                vs_encryption_config_done(&vm->state);
        if (vm->loaded)
                vs_meta_done(&vm->meta);
        free(vm->uuid);
        free(vm->path);
        *vm = (struct volume_meta) {};
}
