/* measure-log.c: volseal's own measurement log (docs/pcr.md, "Event logs"): one RFC 7464 JSON-seq record per PCR extend
 * volseal makes, in the shape of systemd's /run/log/systemd/tpm2-measure.log, so `pcr eventlog` can replay
 * the firmware log and this one together. No TPM here. */
#include "measure-log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "alg.h"
#include "encoding.h"
#include "log.h"
#include "util.h"

const char *vs_measure_log_path(void) {
        const char *p = getenv("VOLSEAL_MEASURE_LOG");
        return p && *p ? p : VS_MEASURE_LOG_DEFAULT;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        char *dir = dirname(copy);
        for (char *p = dir + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = 0;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int vs_measure_log_append(const char *path, uint32_t pcr, const TPML_DIGEST_VALUES *digests, const char *word) {
        struct json_object *rec = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(rec, "pcr", json_object_new_int((int32_t) pcr));
        for (uint32_t i = 0; i < digests->count; i++) {
                const TPMT_HA *ha = &digests->digests[i];
                const char *name = vs_tpm_alg_name(ha->hashAlg);
                size_t n = vs_tpm_alg_digest_size(ha->hashAlg);
                _cleanup_free_ char *h = vs_hex_encode(&ha->digest, n);
                if (!name || !n || !h) {
                        json_object_put(rec);
                        json_object_put(arr);
                        return -EINVAL; /* a digest of a hash algorithm without a name */
                }
                struct json_object *d = json_object_new_object();
                json_object_object_add(d, "hashAlg", json_object_new_string(name));
                json_object_object_add(d, "digest", json_object_new_string(h));
                json_object_array_add(arr, d);
        }
        json_object_object_add(rec, "digests", arr);
        json_object_object_add(rec, "content_type", json_object_new_string("systemd"));
        struct json_object *content = json_object_new_object();
        json_object_object_add(content, "string", json_object_new_string(word));
        json_object_object_add(rec, "content", content);
        const char *js = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(js) + 2;
        _cleanup_free_ char *buf = malloc(len + 1);
        if (!buf) {
                json_object_put(rec);
                return -ENOMEM;
        }
        snprintf(buf, len + 1, "\x1e%s\n", js);
        json_object_put(rec);

        int r = mkdir_parents(path);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return -errno;
        ssize_t w = write(fd, buf, len);
        if (w < 0)
                return -errno;
        if ((size_t) w != len)
                return -EIO;
        return 0;
}
