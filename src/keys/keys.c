/* keys.c: the kind table and the wrappers of keys.h. New kinds add one line to `kinds`. */
#include "keys.h"
#include "cleanup.h"
#include "log.h"
#include "salt.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const struct vs_key_ops *const kinds[_VS_KEY_KIND_MAX] = {
        [VS_KEY_STATIC] = &vs_key_ops_static,
        [VS_KEY_NODEID] = &vs_key_ops_nodeid,
        [VS_KEY_TPM] = &vs_key_ops_tpm,
        [VS_KEY_KMS] = &vs_key_ops_kms,
        [VS_KEY_RECOVERY] = &vs_key_ops_recovery,
};

const struct vs_key_ops *vs_key_ops_get(enum vs_key_kind kind) {
        return kind < _VS_KEY_KIND_MAX ? kinds[kind] : NULL;
}

const struct vs_key_ops *vs_key_ops_for(const struct vs_key_config *key) {
        if (key->kind == VS_KEY_TPM && key->tpm_updatable)
                return &vs_key_ops_tpm_updatable;
        return vs_key_ops_get(key->kind);
}

int vs_key_reason(struct vs_key_run *run, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run->reason, sizeof(run->reason), fmt, ap);
        va_end(ap);
        log_debug("%s", run->reason);
        return err < 0 ? err : -err;
}

static const struct vs_key_ops *kind_or_reason(struct vs_key_run *run, const struct vs_key_config *key) {
        const struct vs_key_ops *k = vs_key_ops_for(key);
        if (!k)
                vs_key_reason(run, ENOSYS, "key kind %s is not built into this volseal yet", vs_key_kind_name(key->kind));
        return k;
}

int vs_key_run_salt(struct vs_key_run *run, const struct vs_secret **ret) {
        if (!run->salt) {
                if (!run->state_dir)
                        return vs_key_reason(run, EAGAIN, "lockToSTATE needs the salt on STATE: run again with --state-dir once STATE is mounted");
                int r = vs_salt_load(run->state_dir, run->create_salt, &run->salt);
                if (r == -ENOENT)
                        return vs_key_reason(run, ENOENT, "no lockToSTATE salt in %s (%s)", run->state_dir, VS_SALT_FILE);
                if (r < 0)
                        return vs_key_reason(run, r, "cannot read the lockToSTATE salt in %s: %s", run->state_dir, strerror(-r));
        }
        *ret = run->salt;
        return 0;
}

static int salted(struct vs_key_run *run, const struct vs_key_config *key, struct vs_secret *pass) {
        if (!key->lock_to_state)
                return 0;
        const struct vs_secret *salt;
        int r = vs_key_run_salt(run, &salt);
        if (r < 0)
                return r;
        return vs_secret_append(pass, salt->data, salt->len);
}

int vs_key_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        const struct vs_key_ops *k = kind_or_reason(run, key);
        if (!k)
                return 0;
        if (key->lock_to_state) {
                const struct vs_secret *salt;
                int r = vs_key_run_salt(run, &salt);
                if (r < 0)
                        return 0;
        }
        return k->can_enroll ? k->can_enroll(run, vol, key) : 1;
}

int vs_key_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
               unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        const struct vs_key_ops *k = kind_or_reason(run, key);
        if (!k)
                return -ENOSYS;
        _cleanup_secret_ struct vs_secret *pass = NULL;
        _cleanup_json_ struct json_object *token = NULL;
        run->reason[0] = 0;
        int r = k->new_key(run, vol, key, slot, &pass, &token);
        if (r < 0)
                return r;
        r = salted(run, key, pass);
        if (r < 0)
                return r;
        *ret_pass = TAKE_PTR(pass);
        *ret_token = TAKE_PTR(token);
        return 0;
}

int vs_key_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
               unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        const struct vs_key_ops *k = kind_or_reason(run, key);
        if (!k)
                return -ENOSYS;
        _cleanup_secret_ struct vs_secret *pass = NULL;
        run->reason[0] = 0;
        int r = k->get_key(run, vol, key, slot, token, &pass);
        if (r < 0)
                return r;
        r = salted(run, key, pass);
        if (r < 0)
                return r;
        *ret_pass = TAKE_PTR(pass);
        return 0;
}

void vs_key_run_done(struct vs_key_run *run) {
        /* first: it holds an NV index open in the tpm kind's TPM context */
        vs_key_ops_tpm_updatable.run_done(run);
        for (size_t i = 0; i < _VS_KEY_KIND_MAX; i++)
                if (kinds[i] && kinds[i]->run_done)
                        kinds[i]->run_done(run);
        vs_secret_free(run->salt);
        run->salt = NULL;
}
