/* authorized-set.c: see authorized-set.h. The order of enrolment's writes is the power-safety argument:
 * the authority file first (durable, never replaced by another key), then the index defined, then its one
 * write; an interruption anywhere leaves a state the next enrolment continues from. */
#include "authorized-set.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>

int vs_authset_load(struct vs_tpm *t, const char *state_dir, struct vs_authset *ret) {
        *ret = (struct vs_authset) { .nv.tr = VS_TPM_NV_NOT_OPEN };
        int r = vs_authority_load(state_dir, &ret->authority);
        if (r < 0)
                return r;
        TPM2B_NAME key;
        r = vs_authority_key_name(&ret->authority, &key);
        if (r >= 0)
                r = authnv_nv_name(ret->authority.nv_index, &key, &ret->nv_name);
        if (r >= 0)
                r = vs_tpm_nv_read(t, ret->authority.nv_index, &ret->nv_name, &ret->nv);
        if (r < 0)
                ret->nv = (struct vs_tpm_authnv) { .tr = VS_TPM_NV_NOT_OPEN }; /* the authority stays loaded */
        return r;
}

/* The authority of state_dir, created with the first free handle when there is none. */
static int load_or_create_authority(struct vs_tpm *t, const char *state_dir, struct vs_authority *ret) {
        int r = vs_authority_load(state_dir, ret);
        if (r != -ENOENT)
                return r;
        uint32_t handle;
        r = vs_tpm_nv_free_handle(t, &handle);
        if (r < 0)
                return r;
        r = vs_authority_create(state_dir, handle, ret);
        if (r == -EEXIST) /* created meanwhile by another run: use that one */
                return vs_authority_load(state_dir, ret);
        if (r >= 0)
                log_info("created the authority of updatable tpm slots in %s/%s (NV index 0x%08x)", state_dir,
                         VS_AUTHORITY_FILE, handle);
        return r;
}

/* The authority's index, defined when absent. A foreign index at its handle is left alone: no index of the
 * authority's own exists then, so the authority moves to a free handle (and its file is replaced). */
static int define_index(struct vs_tpm *t, const char *state_dir, struct vs_authority *a, bool *ret_written) {
        int r = vs_tpm_nv_define(t, a->nv_index, a->write_key, ret_written);
        if (r != -EEXIST)
                return r;
        uint32_t handle;
        r = vs_tpm_nv_free_handle(t, &handle);
        if (r < 0)
                return r;
        log_notice("NV index 0x%08x holds another index: volseal's moves to 0x%08x", a->nv_index, handle);
        a->nv_index = handle;
        r = vs_authority_save(state_dir, a);
        if (r < 0)
                return r;
        return vs_tpm_nv_define(t, a->nv_index, a->write_key, ret_written);
}

int vs_authset_current_state(struct vs_tpm *t, uint32_t pcr_mask, uint8_t out[AUTHNV_STATE_BYTES], size_t *ret_len) {
        size_t n = 0;
        if (pcr_mask) {
                struct vs_tpm_pcrs p;
                int r = vs_tpm_pcr_read_kept(t, pcr_mask, &p, NULL);
                if (r < 0)
                        return r;
                for (uint32_t i = 0; i < VS_TPM_PCR_COUNT && n + 32 <= AUTHNV_STATE_BYTES; i++)
                        if (pcr_mask & (1u << i)) {
                                memcpy(out + n, p.value[i], 32);
                                n += 32;
                        }
        }
        *ret_len = n;
        return 0;
}

/* The first set of a new index: the booted PCR-policy key and the state the machine booted in. */
static int write_first_set(struct vs_tpm *t, const struct vs_authority *a, uint32_t pcr_mask, const TPM2B_NAME *key) {
        struct authnv_set set;
        uint8_t state[AUTHNV_STATE_BYTES];
        size_t len = 0;
        int r = authnv_init(&set, pcr_mask);
        if (r >= 0)
                r = authnv_add_key(&set, key);
        if (r >= 0)
                r = vs_authset_current_state(t, pcr_mask, state, &len);
        if (r >= 0 && pcr_mask)
                r = authnv_add_state(&set, state, len);
        if (r < 0)
                return r;
        r = vs_tpm_nv_write(t, a->nv_index, a->write_key, &set);
        if (r >= 0)
                log_info("NV index 0x%08x: authorized the booted PCR-policy key and state", a->nv_index);
        return r;
}

int vs_authset_enrol(struct vs_tpm *t, const char *state_dir, uint32_t pcr_mask, const TPM2B_NAME *key_name,
                     struct vs_authset *ret) {
        struct vs_authority a = {};
        bool written = false;
        int r = load_or_create_authority(t, state_dir, &a);
        if (r >= 0)
                r = define_index(t, state_dir, &a, &written);
        if (r >= 0 && !written)
                r = write_first_set(t, &a, pcr_mask, key_name);
        vs_authority_done(&a);
        if (r < 0)
                return r;
        r = vs_authset_load(t, state_dir, ret);
        if (r >= 0 && ret->nv.set.pcr_mask != pcr_mask) {
                log_error("NV index 0x%08x authorizes states of the literal PCRs 0x%06x, the config asks for 0x%06x: "
                          "the updatable slots of a node share one set of literal PCRs", ret->authority.nv_index,
                          ret->nv.set.pcr_mask, pcr_mask);
                vs_authset_done(t, ret);
                r = -EINVAL;
        }
        return r;
}

int vs_authset_write(struct vs_tpm *t, struct vs_authset *a, const struct authnv_set *next) {
        struct authnv_set set = *next;
        set.serial = a->nv.set.serial;
        int r = vs_tpm_nv_write(t, a->authority.nv_index, a->authority.write_key, &set);
        if (r >= 0)
                a->nv.set = set;
        return r;
}

int vs_authset_retire(struct vs_tpm *t, struct vs_authset *a) {
        if (!a->nv.set.pcr_mask)
                return 0;
        uint8_t state[AUTHNV_STATE_BYTES];
        size_t len = 0;
        int r = vs_authset_current_state(t, a->nv.set.pcr_mask, state, &len);
        if (r < 0)
                return r;
        struct authnv_set next = a->nv.set;
        int n = authnv_retire_before(&next, state, len);
        if (n <= 0)
                return 0; /* nothing older, or the booted state is not one of the set's: nothing to retire */
        r = vs_authset_write(t, a, &next);
        if (r < 0)
                return r;
        log_info("NV index 0x%08x: retired %d superseded state%s (older than the one booted)", a->authority.nv_index, n,
                 n == 1 ? "" : "s");
        return n;
}

/* The edits on `set` in memory; -errno (logged) leaves the caller's set as it was. */
static int apply_edit(const struct vs_authset_edit *e, const uint8_t *booted, size_t booted_len, uint32_t handle,
                      struct authnv_set *set, struct vs_authset_changes *c) {
        int r = set->pcr_mask ? authnv_retire_before(set, booted, booted_len) : 0;
        c->retired = r > 0 ? r : 0;
        r = e->state ? authnv_add_state(set, e->state, e->state_len) : 0;
        if (r == -ENOSPC)
                return log_error_errno(r, "NV index 0x%08x holds %zu states, the most that fit: boot into the state "
                                       "prepared last first (that boot retires the older ones)", handle, set->n_states);
        if (r < 0)
                return log_error_errno(r, "NV index 0x%08x: the new state does not fit its literal PCRs", handle);
        c->state_added = r > 0;
        for (size_t i = 0; i < e->n_add; i++) {
                r = authnv_add_key(set, &e->add[i]);
                if (r < 0)
                        return log_error_errno(r, "NV index 0x%08x holds %d PCR-policy keys, the most that fit: "
                                               "remove one first", handle, AUTHNV_MAX_KEYS);
                c->keys_added += r > 0;
        }
        for (size_t i = 0; i < e->n_remove; i++) {
                r = authnv_remove_key(set, &e->remove[i]);
                if (r == -EPERM)
                        return log_error_errno(r, "NV index 0x%08x: the key to remove is the only authorized "
                                               "PCR-policy key (add its successor first)", handle);
                if (r < 0)
                        return log_error_errno(r, "NV index 0x%08x: the key to remove is not authorized", handle);
                c->keys_removed++;
        }
        return 0;
}

int vs_authset_prepare(struct vs_tpm *t, struct vs_authset *a, const struct vs_authset_edit *e,
                       struct vs_authset_changes *ret) {
        uint8_t booted[AUTHNV_STATE_BYTES];
        size_t len = 0;
        struct authnv_set next = a->nv.set;
        *ret = (struct vs_authset_changes) {};
        int r = vs_authset_current_state(t, next.pcr_mask, booted, &len);
        if (r < 0)
                return r;
        if (e->state && e->state_len != authnv_state_size(&next))
                return log_error_errno(EINVAL, "NV index 0x%08x: a state is %zu bytes, not %zu", a->authority.nv_index,
                                       authnv_state_size(&next), e->state_len);
        r = apply_edit(e, booted, len, a->authority.nv_index, &next, ret);
        if (r < 0)
                return r;
        if (!ret->retired && !ret->state_added && !ret->keys_added && !ret->keys_removed)
                return 0;
        return vs_authset_write(t, a, &next);
}

void vs_authset_done(struct vs_tpm *t, struct vs_authset *a) {
        vs_tpm_nv_done(t, &a->nv);
        vs_authority_done(&a->authority);
}
