/* nodeid.c: the `nodeID` kind: the passphrase is the machine UUID followed by the volume ID
 * ("<uuid>STATE"), as Talos derives it, so Talos disks open with volseal. The UUID comes from META tag 15
 * when set (run->uuid_override), else from SMBIOS (/sys/class/dmi/id/product_uuid). */
#include "keys.h"
#include "util.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>

#define PRODUCT_UUID "/sys/class/dmi/id/product_uuid"

static int read_uuid(struct vs_key_run *run, char *buf, size_t size) {
        if (run->uuid_override) {
                snprintf(buf, size, "%s", run->uuid_override);
                return 0;
        }
        const char *path = run->product_uuid_file ? run->product_uuid_file : PRODUCT_UUID;
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return vs_key_reason(run, errno, "cannot read the machine UUID from %s: %s", path, strerror(errno));
        if (!fgets(buf, (int) size, f))
                buf[0] = 0;
        size_t n = strlen(buf);
        while (n > 0 && isspace((unsigned char) buf[n - 1]))
                buf[--n] = 0;
        if (n == 0)
                return 0; /* "not populated", below */
        /* SMBIOS's UUID as the kernel prints it: 8-4-4-4-12 hex digits. Anything else in the file is garbage,
         * never a key. */
        bool canonical = n == 36;
        for (size_t i = 0; canonical && i < n; i++)
                canonical = (i == 8 || i == 13 || i == 18 || i == 23) ? buf[i] == '-' : isxdigit((unsigned char) buf[i]) != 0;
        if (!canonical) {
                bool printable = true;
                for (size_t i = 0; i < n; i++)
                        printable &= buf[i] >= 0x20 && buf[i] < 0x7f;
                return vs_key_reason(run, EINVAL, "the machine UUID in %s is not a UUID (8-4-4-4-12 hex digits): %s%s%s", path,
                                     printable ? "'" : "", printable ? buf : "it holds binary data", printable ? "'" : "");
        }
        return 0;
}

/* Talos's rule: refuse a UUID in which one character occurs more than len/2 times (18 for a canonical
 * UUID), so a "00000000-0000-..." placeholder never becomes a key. */
static int check_entropy(struct vs_key_run *run, const char *uuid) {
        size_t n = strlen(uuid);
        if (n == 0)
                return vs_key_reason(run, EINVAL, "machine UUID is not populated");
        unsigned counts[256] = {};
        unsigned max = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned c = ++counts[(unsigned char) uuid[i]];
                if (c > max)
                        max = c;
        }
        if (max > n / 2)
                return vs_key_reason(run, EINVAL, "machine UUID %s entropy check failed", uuid);
        return 0;
}

int vs_key_node_uuid(struct vs_key_run *run, char *buf, size_t size) {
        int r = read_uuid(run, buf, size);
        if (r < 0)
                return r;
        return check_entropy(run, buf);
}

static int nodeid_key(struct vs_key_run *run, const struct vs_key_volume *vol, struct vs_secret **ret) {
        char uuid[128];
        int r = read_uuid(run, uuid, sizeof(uuid));
        if (r < 0)
                return r;
        r = check_entropy(run, uuid);
        if (r < 0)
                return r;
        _cleanup_secret_ struct vs_secret *s = NULL;
        r = vs_secret_from(uuid, strlen(uuid), &s);
        if (r < 0)
                return r;
        r = vs_secret_append(s, vol->id, strlen(vol->id));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

static int nodeid_can_enroll(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key) {
        _cleanup_secret_ struct vs_secret *s = NULL;
        int r = nodeid_key(run, vol, &s);
        /* A missing or weak UUID is not "pending": it will not fix itself. Report it as an error. */
        return r < 0 ? r : 1;
}

static int nodeid_new(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct vs_secret **ret_pass, struct json_object **ret_token) {
        *ret_token = NULL;
        return nodeid_key(run, vol, ret_pass);
}

static int nodeid_get(struct vs_key_run *run, const struct vs_key_volume *vol, const struct vs_key_config *key,
                      unsigned slot, struct json_object *token, struct vs_secret **ret_pass) {
        return nodeid_key(run, vol, ret_pass);
}

const struct vs_key_ops vs_key_ops_nodeid = {
        .kind = VS_KEY_NODEID,
        .name = "nodeID",
        .token_type = NULL,
        .minimal_pbkdf = false,
        .can_enroll = nodeid_can_enroll,
        .new_key = nodeid_new,
        .get_key = nodeid_get,
};
