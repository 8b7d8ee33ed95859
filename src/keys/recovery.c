/* recovery.c: the `recovery` kind (`recovery: {}`, a volseal extension; docs/tpm-updatable.md "The recovery
 * key"): a key in systemd's recovery-key format (recovery-key.h) that the operator holds, typed as the
 * keyslot's passphrase. No token: nothing about it is stored on the node.
 * Promise: a recovery slot is enrolled with the key the operator gave (--recovery-key-file), else with a key
 * made for it, and one is made only when --recovery-key-out names where it goes: once per run (every
 * recovery slot the run enrols gets it), written there as a new file (O_EXCL, never through a symlink, mode
 * 0600, fsync'd with its folder) before any keyslot uses it; an existing file is never overwritten; the key
 * is never printed, logged or put in a report; without the key (--recovery-key-file) get_key is
 * -ENOMEDIUM: the slot is not checked, which is no failure. */
#include "keys.h"
#include "log.h"
#include "recovery-key.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE 1024

struct recovery_state {
        struct vs_secret *made;      /* made in this run and written to run->recovery_key_out */
        struct vs_secret *given;     /* read from run->recovery_key_file */
        int given_err;
        char given_reason[512];      /* why it could not be read */
};

static struct recovery_state *rstate(struct vs_key_run *run) {
        if (!run->kind_state[VS_KEY_RECOVERY])
                run->kind_state[VS_KEY_RECOVERY] = calloc(1, sizeof(struct recovery_state));
        return run->kind_state[VS_KEY_RECOVERY];
}

static int sync_parent(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* The key and a newline into a new file at `path`, durably; on failure the file is gone again. */
static int write_new(const char *path, const struct vs_secret *key) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = 0;
        if (fchmod(fd, 0600) < 0 || write(fd, key->data, key->len) != (ssize_t) key->len || write(fd, "\n", 1) != 1 ||
            fsync(fd) < 0)
                r = errno ? -errno : -EIO;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0)
                r = sync_parent(path);
        if (r < 0)
                (void) unlink(path);
        return r;
}

/* The key as the operator gave it, read and normalised once per run. */
static int read_given(struct vs_key_run *run, struct recovery_state *s) {
        _cleanup_close_ int fd = open(run->recovery_key_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return vs_key_reason(run, errno, "cannot read the recovery key file %s: %s", run->recovery_key_file,
                                     strerror(errno));
        _cleanup_secret_ struct vs_secret *text = NULL;
        int r = vs_secret_new(MAX_FILE, &text);
        if (r < 0)
                return r;
        ssize_t n;
        while ((n = read(fd, text->data + text->len, MAX_FILE - text->len)) > 0)
                text->len += (size_t) n;
        if (n < 0)
                return vs_key_reason(run, errno, "cannot read the recovery key file %s: %s", run->recovery_key_file,
                                     strerror(errno));
        r = vs_recovery_key_normalize((const char *) text->data, text->len, &s->given);
        if (r < 0)
                return vs_key_reason(run, r, "%s does not hold a recovery key (64 modhex characters, in groups of 8 "
                                     "joined by '-')", run->recovery_key_file);
        return 0;
}

static int recovery_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                        unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        struct recovery_state *s = rstate(run);
        if (!s)
                return -ENOMEM;
        if (!run->recovery_key_file)
                return vs_key_reason(run, ENOMEDIUM, "the recovery key is held by the operator: not tried "
                                     "(--recovery-key-file PATH tries it)");
        if (!s->given && s->given_err == 0) {
                s->given_err = read_given(run, s);
                snprintf(s->given_reason, sizeof(s->given_reason), "%s", run->reason);
        }
        if (s->given_err < 0)
                return vs_key_reason(run, s->given_err, "%s", s->given_reason);
        return vs_secret_from(s->given->data, s->given->len, ret_pass);
}

static int recovery_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        struct recovery_state *s = rstate(run);
        if (!s)
                return -ENOMEM;
        if (s->made || run->recovery_key_file)
                return 1;
        if (!run->recovery_key_out)
                return vs_key_reason(run, 0, "a recovery key is made only when --recovery-key-out PATH says where to "
                                     "write it: the slot waits"), 0;
        struct stat st;
        if (lstat(run->recovery_key_out, &st) == 0)
                return vs_key_reason(run, 0, "%s exists: volseal never overwrites a recovery key file (give a new "
                                     "--recovery-key-out path)", run->recovery_key_out), 0;
        return 1;
}

static int recovery_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                        unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        struct recovery_state *s = rstate(run);
        if (!s)
                return -ENOMEM;
        if (!s->made && run->recovery_key_file) {
                *ret_token = NULL;
                return recovery_get(run, vol, key, slot, NULL, ret_pass); /* the operator's key */
        }
        if (!s->made) {
                if (!run->recovery_key_out)
                        return vs_key_reason(run, EAGAIN, "no --recovery-key-out: the recovery key is not made");
                _cleanup_secret_ struct vs_secret *k = NULL;
                int r = vs_recovery_key_generate(NULL, 0, &k);
                if (r < 0)
                        return vs_key_reason(run, r, "cannot make a recovery key");
                r = write_new(run->recovery_key_out, k);
                if (r < 0)
                        return vs_key_reason(run, r, "cannot write the recovery key to %s: %s%s", run->recovery_key_out,
                                             strerror(-r), r == -EEXIST ? " (volseal never overwrites it)" : "");
                log_info("wrote a new recovery key to %s (mode 0600): keep it off this machine", run->recovery_key_out);
                s->made = TAKE_PTR(k);
        }
        *ret_token = NULL;
        return vs_secret_from(s->made->data, s->made->len, ret_pass);
}

static void recovery_run_done(struct vs_key_run *run) {
        struct recovery_state *s = run->kind_state[VS_KEY_RECOVERY];
        if (!s)
                return;
        vs_secret_free(s->made);
        vs_secret_free(s->given);
        free(s);
        run->kind_state[VS_KEY_RECOVERY] = NULL;
}

const struct vs_key_ops vs_key_ops_recovery = {
        .kind = VS_KEY_RECOVERY,
        .name = "recovery",
        .minimal_pbkdf = false,
        .human_held = true,
        .can_enroll = recovery_can_enroll,
        .new_key = recovery_new,
        .get_key = recovery_get,
        .run_done = recovery_run_done,
};
