/* predict.c: EFI signature lists, .auth payloads, EDK2's append semantics, and PCR 7 prediction. */
#include "pcr.h"
#include "src/log.h"
#include "src/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

/* EFI_CERT_TYPE_PKCS7_GUID 4aafd29d-68df-49ee-8aa9-347d375665a7 */
static const uint8_t guid_pkcs7[16] = {
        0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7 };

int pcr_esl_validate(const uint8_t *buf, size_t size, size_t *n_entries, const char *what) {
        size_t off = 0, n = 0, list = 0;
        while (off < size) {
                size_t left = size - off;
                if (left < 28)
                        return log_error_errno(-EBADMSG, "%s: signature list %zu at offset %zu: header truncated", what, list, off);
                uint32_t lsize = get32(buf + off + 16), hsize = get32(buf + off + 20), ssize = get32(buf + off + 24);
                if (lsize < 28 || lsize > left)
                        return log_error_errno(-EBADMSG, "%s: signature list %zu at offset %zu: SignatureListSize %u out of bounds (%zu bytes left)",
                                               what, list, off, lsize, left);
                if (ssize <= 16)
                        return log_error_errno(-EBADMSG, "%s: signature list %zu at offset %zu: SignatureSize %u too small", what, list, off, ssize);
                if (hsize > lsize - 28 || (lsize - 28 - hsize) % ssize)
                        return log_error_errno(-EBADMSG, "%s: signature list %zu at offset %zu: sizes inconsistent (list %u, header %u, signature %u)",
                                               what, list, off, lsize, hsize, ssize);
                n += (lsize - 28 - hsize) / ssize;
                off += lsize;
                list++;
        }
        if (n_entries)
                *n_entries = n;
        return 0;
}

int pcr_esl_foreach(const uint8_t *buf, size_t size, int (*fn)(const struct pcr_esl_entry *e, void *ud), void *ud) {
        size_t off = 0;
        while (off + 28 <= size) {
                uint32_t lsize = get32(buf + off + 16), hsize = get32(buf + off + 20), ssize = get32(buf + off + 24);
                if (lsize < 28 || lsize > size - off || ssize <= 16 || hsize > lsize - 28 || (lsize - 28 - hsize) % ssize)
                        return -EBADMSG;
                for (size_t p = off + 28 + hsize; p < off + lsize; p += ssize) {
                        struct pcr_esl_entry e;
                        memcpy(e.type, buf + off, 16);
                        memcpy(e.owner, buf + p, 16);
                        e.data = buf + p + 16;
                        e.size = ssize - 16;
                        int r = fn(&e, ud);
                        if (r)
                                return r;
                }
                off += lsize;
        }
        return 0;
}

int pcr_esl_from_file_data(const uint8_t *buf, size_t size, const char *what, uint8_t **ret, size_t *ret_size,
                           bool *was_auth) {
        const uint8_t *payload = buf;
        size_t psize = size;
        bool is_auth = false;
        /* EFI_VARIABLE_AUTHENTICATION_2: EFI_TIME (16) + WIN_CERTIFICATE_UEFI_GUID {u32 dwLength, u16 revision
         * 0x0200, u16 type 0x0EF1, GUID CertType, CertData}; the ESL follows after dwLength bytes. */
        if (size >= 16 + 24 && get16(buf + 20) == 0x0200 && get16(buf + 22) == 0x0EF1 &&
            memcmp(buf + 24, guid_pkcs7, 16) == 0) {
                uint32_t len = get32(buf + 16);
                if (len < 24 || len > size - 16)
                        return log_error_errno(-EBADMSG, "%s: authenticated variable: WIN_CERTIFICATE length %u out of bounds", what, len);
                payload = buf + 16 + len;
                psize = size - 16 - len;
                is_auth = true;
        }
        int r = pcr_esl_validate(payload, psize, NULL, what);
        if (r < 0)
                return r;
        uint8_t *c = malloc(psize ? psize : 1);
        if (!c)
                return -ENOMEM;
        if (psize)
                memcpy(c, payload, psize);
        *ret = c;
        *ret_size = psize;
        if (was_auth)
                *was_auth = is_auth;
        return 0;
}

static bool esl_contains(const uint8_t *cur, size_t cur_size, const uint8_t type[16], uint32_t ssize, const uint8_t *sig) {
        size_t off = 0;
        while (off + 28 <= cur_size) {
                uint32_t lsize = get32(cur + off + 16), hsize = get32(cur + off + 20), s = get32(cur + off + 24);
                if (lsize < 28 || lsize > cur_size - off || s == 0 || hsize > lsize - 28)
                        return false;
                if (memcmp(cur + off, type, 16) == 0 && s == ssize)
                        for (size_t p = off + 28 + hsize; p + s <= off + lsize; p += s)
                                if (memcmp(cur + p, sig, s) == 0)
                                        return true;
                off += lsize;
        }
        return false;
}

int pcr_esl_append(const uint8_t *cur, size_t cur_size, const uint8_t *add, size_t add_size,
                   uint8_t **ret, size_t *ret_size) {
        int r = pcr_esl_validate(cur, cur_size, NULL, "current variable");
        if (r < 0)
                return r;
        r = pcr_esl_validate(add, add_size, NULL, "appended data");
        if (r < 0)
                return r;
        uint8_t *out = malloc(cur_size + add_size + 1);
        if (!out)
                return -ENOMEM;
        if (cur_size)
                memcpy(out, cur, cur_size);
        size_t n = cur_size, off = 0;
        while (off < add_size) {
                uint32_t lsize = get32(add + off + 16), hsize = get32(add + off + 20), ssize = get32(add + off + 24);
                size_t start = n;
                memcpy(out + n, add + off, 28 + hsize);
                n += 28 + hsize;
                size_t kept = 0;
                for (size_t p = off + 28 + hsize; p < off + lsize; p += ssize)
                        if (!esl_contains(cur, cur_size, add + off, ssize, add + p)) {
                                memcpy(out + n, add + p, ssize);
                                n += ssize;
                                kept++;
                        }
                if (kept == 0)
                        n = start; /* every signature was already there: the list is dropped */
                else {
                        uint32_t l = (uint32_t) (n - start);
                        out[start + 16] = (uint8_t) l;
                        out[start + 17] = (uint8_t) (l >> 8);
                        out[start + 18] = (uint8_t) (l >> 16);
                        out[start + 19] = (uint8_t) (l >> 24);
                }
                off += lsize;
        }
        *ret = out;
        *ret_size = n;
        return 0;
}

static const char *const sb_names[_PCR_SB_MAX] = { "SecureBoot", "PK", "KEK", "db", "dbx" };

const char *pcr_sb_var_name(enum pcr_sb_var v) {
        return v < _PCR_SB_MAX ? sb_names[v] : NULL;
}

const uint8_t *pcr_sb_var_guid(enum pcr_sb_var v) {
        return v == PCR_SB_DB || v == PCR_SB_DBX ? pcr_guid_image_security_db : pcr_guid_efi_global;
}

void pcr_sb_vars_free(struct pcr_sb_vars *vars) {
        for (size_t i = 0; i < _PCR_SB_MAX; i++)
                free(vars->v[i].data);
        memset(vars, 0, sizeof(*vars));
}

struct find_sig {
        const uint8_t *type; /* NULL: any type */
        const uint8_t *owner; /* NULL: any owner */
        const uint8_t *data;
        size_t size;
};

static int find_sig_cb(const struct pcr_esl_entry *e, void *ud) {
        const struct find_sig *f = ud;
        if (f->type && memcmp(e->type, f->type, 16))
                return 0;
        if (f->owner && memcmp(e->owner, f->owner, 16))
                return 0;
        return e->size == f->size && memcmp(e->data, f->data, f->size) == 0;
}

/* The new value of variable k, NULL (size 0) when the update does not set it. */
static const uint8_t *new_var(const struct pcr_sb_vars *vars, enum pcr_sb_var k, size_t *ret_size) {
        *ret_size = vars->v[k].present ? vars->v[k].size : 0;
        return vars->v[k].present ? vars->v[k].data : NULL;
}

/* Why PCR 7 cannot be predicted: *reason, returns 1 (or -ENOMEM). */
__attribute__((format(printf, 2, 3)))
static int unpredictable(char **reason, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(reason, fmt, ap);
        va_end(ap);
        if (n < 0) {
                *reason = NULL;
                return -ENOMEM;
        }
        return 1;
}

/* A PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG event of SecureBoot, PK, KEK, db or dbx: its digests become those of
 * the new variable. Returns 1 when it was one of them, 0 when not, -errno. */
static int rehash_variable(struct pcr_event *ev, const struct pcr_efi_variable *v, const struct pcr_sb_vars *vars) {
        int found = 0;
        for (int k = 0; k < _PCR_SB_MAX; k++) {
                if (strcmp(v->name, sb_names[k]) || memcmp(v->guid, pcr_sb_var_guid((enum pcr_sb_var) k), 16))
                        continue;
                _cleanup_free_ uint8_t *vd = NULL;
                size_t vd_size;
                int r = pcr_efi_variable_data(v->guid, sb_names[k], vars->v[k].present ? vars->v[k].data : NULL,
                                              vars->v[k].present ? vars->v[k].size : 0, &vd, &vd_size);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < ev->n_digests; j++) {
                        r = pcr_hash(ev->digests[j].alg, vd, vd_size, ev->digests[j].d);
                        if (r < 0 && r != -EOPNOTSUPP)
                                return r;
                }
                found = 1;
        }
        return found;
}

/* A db authority event: the EFI_SIGNATURE_DATA (owner + cert) that verified an image must still be in the new
 * db and not revoked by the new dbx, else the event (and PCR 7) would change. 1 with *reason, 0, -errno. */
static int check_authority(const struct pcr_event *ev, const struct pcr_efi_variable *v, const struct pcr_sb_vars *vars,
                           char **reason) {
        size_t db_size, dbx_size;
        const uint8_t *db = new_var(vars, PCR_SB_DB, &db_size), *dbx = new_var(vars, PCR_SB_DBX, &dbx_size);
        if (v->data_size < 17)
                return unpredictable(reason, "the db authority event at offset %zu is malformed", ev->offset);
        struct find_sig f = { .owner = v->data, .data = v->data + 16, .size = v->data_size - 16 };
        if (pcr_esl_foreach(db, db_size, find_sig_cb, &f) != 1)
                return unpredictable(reason, "the db entry that verified a logged boot image (%zu bytes, logged at offset %zu) "
                                     "is not in the new db: the authority event would change", v->data_size - 16, ev->offset);
        struct find_sig fx = { .type = pcr_guid_cert_x509, .data = v->data + 16, .size = v->data_size - 16 };
        if (dbx && pcr_esl_foreach(dbx, dbx_size, find_sig_cb, &fx) == 1)
                return unpredictable(reason, "the db certificate that verified a logged boot image is revoked by the new dbx");
        return 0;
}

/* A boot application whose SHA-256 the new dbx revokes would not boot: 1 with *reason, 0. */
static int check_boot_application(const struct pcr_event *ev, const struct pcr_sb_vars *vars, char **reason) {
        size_t dbx_size;
        const uint8_t *dbx = new_var(vars, PCR_SB_DBX, &dbx_size);
        for (size_t j = 0; dbx && j < ev->n_digests; j++) {
                if (ev->digests[j].alg != PCR_ALG_SHA256)
                        continue;
                struct find_sig fh = { .type = pcr_guid_cert_sha256, .data = ev->digests[j].d, .size = 32 };
                if (pcr_esl_foreach(dbx, dbx_size, find_sig_cb, &fh) == 1) {
                        _cleanup_free_ char *h = pcr_hex(ev->digests[j].d, 32);
                        return unpredictable(reason, "the boot application logged at offset %zu (sha256 %s) is revoked by the "
                                             "new dbx: it would not boot", ev->offset, h ?: "?");
                }
        }
        return 0;
}

int pcr_predict_pcr7(const struct pcr_eventlog *log, const struct pcr_sb_vars *vars, struct pcr_values *out,
                     char **reason) {
        _cleanup_free_ struct pcr_event *events = NULL;
        *reason = NULL;
        if (log->n_events) {
                events = malloc(log->n_events * sizeof(*events));
                if (!events)
                        return -ENOMEM;
                memcpy(events, log->events, log->n_events * sizeof(*events));
        }
        size_t n_var_events = 0;
        for (size_t i = 0; i < log->n_events; i++) {
                struct pcr_event *ev = &events[i];
                struct pcr_efi_variable v;
                int r = 0;
                if (ev->source != PCR_SOURCE_FIRMWARE)
                        continue;
                if (ev->pcr == 7 && ev->type == PCR_EV_EFI_VARIABLE_DRIVER_CONFIG &&
                    pcr_decode_efi_variable(ev->data, ev->data_size, &v) == 0) {
                        r = rehash_variable(ev, &v, vars);
                        n_var_events += r > 0;
                        r = r < 0 ? r : 0;
                } else if (ev->pcr == 7 && ev->type == PCR_EV_EFI_VARIABLE_AUTHORITY &&
                           pcr_decode_efi_variable(ev->data, ev->data_size, &v) == 0 && streq(v.name, "db") &&
                           memcmp(v.guid, pcr_guid_image_security_db, 16) == 0)
                        r = check_authority(ev, &v, vars, reason);
                else if (ev->type == PCR_EV_EFI_BOOT_SERVICES_APPLICATION)
                        r = check_boot_application(ev, vars, reason);
                if (r != 0)
                        return r;
        }
        if (n_var_events == 0)
                return log_error_errno(-EBADMSG, "the event log has no PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG events for SecureBoot, PK, KEK, db or dbx: nothing to predict from");

        struct pcr_eventlog copy = *log;
        copy.events = events;
        return pcr_eventlog_replay(&copy, out);
}
