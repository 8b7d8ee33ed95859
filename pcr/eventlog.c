/* eventlog.c: TCG event log parsing (crypto-agile and legacy SHA-1), volseal's JSON-seq measurement log,
 * replay to per-bank PCR values, decoding of the event kinds policy cares about. */
#include "pcr.h"
#include "src/log.h"
#include "src/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#define MAX_EVENT_DATA (16u * 1024u * 1024u)

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}
static uint64_t get64(const uint8_t *p) {
        return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}

static int push_event(struct pcr_eventlog *log, struct pcr_event *ev) {
        struct pcr_event *n = realloc(log->events, (log->n_events + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        log->events = n;
        log->events[log->n_events++] = *ev;
        return 0;
}

void pcr_eventlog_free(struct pcr_eventlog *log) {
        for (size_t i = 0; i < log->n_events; i++) {
                free(log->events[i].data);
                free(log->events[i].text);
        }
        free(log->events);
        memset(log, 0, sizeof(*log));
}

static const char spec_id03[16] = "Spec ID Event03";
static const char startup_locality_sig[16] = "StartupLocality";

static int parse_spec_id(struct pcr_eventlog *log, const uint8_t *d, size_t n, const char *what) {
        /* signature[16] platformClass u32, minor/major/errata/uintnSize u8, numberOfAlgorithms u32 */
        if (n < 16 + 4 + 4 + 4)
                return log_error_errno(-EBADMSG, "%s: Spec ID Event03 header is %zu bytes, too short", what, n);
        uint32_t count = get32(d + 24);
        if (count == 0 || count > PCR_BANKS_MAX)
                return log_error_errno(-EBADMSG, "%s: Spec ID Event03 declares %u algorithms (1..%d allowed)",
                                       what, count, PCR_BANKS_MAX);
        size_t need = 28 + (size_t) count * 4 + 1;
        if (n < need)
                return log_error_errno(-EBADMSG, "%s: Spec ID Event03 algorithm list overruns the header (%zu < %zu bytes)",
                                       what, n, need);
        for (uint32_t i = 0; i < count; i++) {
                uint16_t alg = get16(d + 28 + 4 * i), size = get16(d + 30 + 4 * i);
                if (size == 0 || size > PCR_DIGEST_MAX)
                        return log_error_errno(-EBADMSG, "%s: Spec ID Event03 algorithm 0x%04x has digest size %u",
                                               what, alg, size);
                uint16_t known = pcr_alg_size(alg);
                if (known && known != size)
                        return log_error_errno(-EBADMSG, "%s: Spec ID Event03 gives %s a digest size of %u, not %u",
                                               what, pcr_alg_name(alg), size, known);
                for (size_t j = 0; j < i; j++)
                        if (log->algs[j].alg == alg)
                                return log_error_errno(-EBADMSG, "%s: Spec ID Event03 lists algorithm 0x%04x twice", what, alg);
                log->algs[i] = (struct pcr_alg) { alg, size };
        }
        log->n_algs = count;
        uint8_t vendor = d[28 + 4 * count];
        if (n < need + vendor)
                return log_error_errno(-EBADMSG, "%s: Spec ID Event03 vendor info (%u bytes) overruns the header", what, vendor);
        return 0;
}

static bool all_same(const uint8_t *p, size_t n, uint8_t v) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

/* Appends ev with a copy of its `dsize` bytes of event data. */
static int keep_event(struct pcr_eventlog *log, struct pcr_event *ev, const uint8_t *data, uint32_t dsize) {
        ev->data = malloc(dsize ? dsize : 1);
        if (!ev->data)
                return -ENOMEM;
        memcpy(ev->data, data, dsize);
        ev->data_size = dsize;
        int r = push_event(log, ev);
        if (r < 0)
                free(ev->data);
        return r;
}

/* The first record is always in the legacy format; a Spec ID Event03 in it makes the log crypto-agile.
 * Returns the bytes it took (0 when it is an ordinary SHA-1 record, parsed with the others). */
static int parse_spec_id_record(struct pcr_eventlog *log, const uint8_t *buf, size_t size, const char *what, size_t *ret_off) {
        *ret_off = 0;
        if (size < 32)
                return 0;
        uint32_t type = get32(buf + 4), dsize = get32(buf + 28);
        if (type != PCR_EV_NO_ACTION || dsize < 16 || dsize > size - 32 || memcmp(buf + 32, spec_id03, 16) != 0)
                return 0;
        int r = parse_spec_id(log, buf + 32, dsize, what);
        if (r < 0)
                return r;
        log->format = PCR_LOG_CRYPTO_AGILE;
        struct pcr_event ev = { .pcr = get32(buf), .type = type, .offset = 0 };
        r = keep_event(log, &ev, buf + 32, dsize);
        if (r < 0)
                return r;
        *ret_off = 32 + (size_t) dsize;
        return 0;
}

/* The digests of the record at p (`left` bytes to the end of the log), from offset 8; *pos is where they end. */
static int parse_digests(const struct pcr_eventlog *log, const uint8_t *p, size_t left, size_t idx, size_t off,
                         const char *what, struct pcr_event *ev, size_t *pos) {
        if (log->format == PCR_LOG_SHA1) {
                if (left < 32)
                        return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: SHA-1 record header truncated",
                                               what, idx, off);
                ev->n_digests = 1;
                ev->digests[0].alg = PCR_ALG_SHA1;
                ev->digests[0].size = 20;
                memcpy(ev->digests[0].d, p + 8, 20);
                *pos = 28;
                return 0;
        }
        uint32_t count = get32(p + 8);
        if (count > PCR_BANKS_MAX)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: digest count %u exceeds %d",
                                       what, idx, off, count, PCR_BANKS_MAX);
        *pos = 12;
        ev->n_digests = count;
        for (uint32_t i = 0; i < count; i++) {
                if (left - *pos < 2)
                        return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: digest %u truncated",
                                               what, idx, off, i);
                uint16_t alg = get16(p + *pos), dsize = 0;
                for (size_t j = 0; j < log->n_algs; j++)
                        if (log->algs[j].alg == alg)
                                dsize = log->algs[j].size;
                if (dsize == 0)
                        return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: digest algorithm 0x%04x is not declared in the header",
                                               what, idx, off, alg);
                *pos += 2;
                if (left - *pos < dsize)
                        return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: %s digest truncated",
                                               what, idx, off, pcr_alg_name(alg) ?: "unknown");
                for (uint32_t j = 0; j < i; j++)
                        if (ev->digests[j].alg == alg)
                                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: two %s digests",
                                                       what, idx, off, pcr_alg_name(alg) ?: "unknown");
                ev->digests[i].alg = alg;
                ev->digests[i].size = dsize;
                memcpy(ev->digests[i].d, p + *pos, dsize);
                *pos += dsize;
        }
        return 0;
}

/* Record `idx` at offset `off` (`left` bytes to the end): kept in log; *ret_len is its length. */
static int parse_record(struct pcr_eventlog *log, const uint8_t *p, size_t left, size_t idx, size_t off, const char *what,
                        size_t *ret_len) {
        struct pcr_event ev = { .offset = off };
        size_t pos = 0;
        if (left < 12)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: header truncated (%zu bytes left)",
                                       what, idx, off, left);
        ev.pcr = get32(p);
        ev.type = get32(p + 4);
        int r = parse_digests(log, p, left, idx, off, what, &ev, &pos);
        if (r < 0)
                return r;
        /* A record without one of the declared banks' digests cannot be replayed in that bank. */
        if (ev.n_digests != log->n_algs)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: %zu digests, but the header declares %zu banks",
                                       what, idx, off, ev.n_digests, log->n_algs);
        if (left - pos < 4)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: event size field truncated",
                                       what, idx, off);
        uint32_t dsize = get32(p + pos);
        pos += 4;
        if (dsize > left - pos || dsize > MAX_EVENT_DATA)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: event data of %u bytes overruns the log (%zu bytes left)",
                                       what, idx, off, dsize, left - pos);
        if (ev.pcr >= PCR_NUM && ev.type != PCR_EV_NO_ACTION)
                return log_error_errno(-EBADMSG, "%s: record %zu at offset %zu: PCR index %u out of range",
                                       what, idx, off, ev.pcr);
        if (ev.type == PCR_EV_NO_ACTION && dsize == 17 && memcmp(p + pos, startup_locality_sig, 16) == 0) {
                log->has_startup_locality = true;
                log->startup_locality = p[pos + 16];
        }
        if (ev.type == PCR_EV_EFI_HCRTM_EVENT)
                log->hcrtm = true;
        r = keep_event(log, &ev, p + pos, dsize);
        if (r < 0)
                return r;
        *ret_len = pos + dsize;
        return 0;
}

int pcr_eventlog_parse(struct pcr_eventlog *log, const uint8_t *buf, size_t size, const char *what) {
        log->format = PCR_LOG_SHA1;
        log->n_algs = 1;
        log->algs[0] = (struct pcr_alg) { PCR_ALG_SHA1, 20 };
        if (size == 0)
                return log_error_errno(-EBADMSG, "%s: the event log is empty", what);
        size_t off;
        int r = parse_spec_id_record(log, buf, size, what, &off);
        if (r < 0)
                return r;
        for (size_t idx = off ? 1 : 0; off < size; idx++) {
                size_t left = size - off, len;
                if (all_same(buf + off, left, 0) || all_same(buf + off, left, 0xff))
                        break; /* padding after the last record (ACPI log areas) */
                r = parse_record(log, buf + off, left, idx, off, what, &len);
                if (r < 0)
                        return r;
                off += len;
        }
        return 0;
}

/* One record of volseal's measurement log: {"pcr":P,"digests":[{"hashAlg","digest"}...],"content":{"string"}}.
 * Digests of banks volseal cannot hash are skipped (not replayable). */
static int measure_digests(struct json_object *jd, size_t rec, const char *what, struct pcr_event *ev) {
        for (size_t i = 0; i < json_object_array_length(jd); i++) {
                struct json_object *e = json_object_array_get_idx(jd, i), *ja, *jh;
                uint16_t alg;
                if (!json_object_object_get_ex(e, "hashAlg", &ja) || !json_object_object_get_ex(e, "digest", &jh) ||
                    !json_object_is_type(ja, json_type_string) || !json_object_is_type(jh, json_type_string))
                        return log_error_errno(-EBADMSG, "%s: record %zu: digest %zu lacks \"hashAlg\" or \"digest\"", what, rec, i);
                if (pcr_alg_from_name(json_object_get_string(ja), &alg) < 0)
                        continue;
                if (ev->n_digests == PCR_BANKS_MAX)
                        return log_error_errno(-EBADMSG, "%s: record %zu: too many digests", what, rec);
                struct pcr_digest *d = &ev->digests[ev->n_digests];
                size_t n = 0;
                if (pcr_unhex(json_object_get_string(jh), d->d, sizeof(d->d), &n) < 0 || n != pcr_alg_size(alg))
                        return log_error_errno(-EBADMSG, "%s: record %zu: %s digest is not %u bytes of hex", what, rec,
                                               json_object_get_string(ja), pcr_alg_size(alg));
                d->alg = alg;
                d->size = (uint16_t) n;
                ev->n_digests++;
        }
        return 0;
}

static int measure_event(struct json_object *o, size_t rec, const char *what, struct pcr_event *ev) {
        struct json_object *jp, *jd, *jc, *js;
        if (!json_object_object_get_ex(o, "pcr", &jp) || !json_object_is_type(jp, json_type_int) ||
            json_object_get_int64(jp) < 0 || json_object_get_int64(jp) >= PCR_NUM)
                return log_error_errno(-EBADMSG, "%s: record %zu: \"pcr\" missing or not 0..23", what, rec);
        ev->pcr = (uint32_t) json_object_get_int64(jp);
        if (!json_object_object_get_ex(o, "digests", &jd) || !json_object_is_type(jd, json_type_array))
                return log_error_errno(-EBADMSG, "%s: record %zu: \"digests\" missing or not an array", what, rec);
        int r = measure_digests(jd, rec, what, ev);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "content", &jc) || !json_object_object_get_ex(jc, "string", &js) ||
            !json_object_is_type(js, json_type_string))
                return 0;
        ev->text = strdup(json_object_get_string(js));
        ev->data = (uint8_t *) (ev->text ? strdup(ev->text) : NULL);
        if (!ev->text || !ev->data)
                return -ENOMEM;
        ev->data_size = strlen(ev->text);
        return 0;
}

/* The JSON object of a record (`len` bytes at p), or NULL. */
static struct json_object *parse_json_object(const char *p, size_t len) {
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return NULL;
        struct json_object *o = json_tokener_parse_ex(tok, p, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int pcr_eventlog_add_measure_log(struct pcr_eventlog *log, const char *buf, size_t size, const char *what) {
        size_t off = 0, rec = 0;
        while (off < size) {
                if (buf[off] == '\n' || buf[off] == ' ') {
                        off++;
                        continue;
                }
                if (buf[off] != 0x1e)
                        return log_error_errno(-EBADMSG, "%s: byte %zu: expected a record separator (0x1E)", what, off);
                const char *nl = memchr(buf + off, '\n', size - off);
                if (!nl)
                        break; /* truncated last record: a writer was interrupted */
                size_t start = off + 1;
                rec++;
                struct json_object *o = parse_json_object(buf + start, (size_t) (nl - buf) - start);
                if (!o)
                        return log_error_errno(-EBADMSG, "%s: record %zu: not a JSON object", what, rec);
                struct pcr_event ev = { .type = PCR_EV_VOLSEAL_MEASURE, .source = PCR_SOURCE_VOLSEAL, .offset = rec };
                int r = measure_event(o, rec, what, &ev);
                json_object_put(o);
                if (r == 0)
                        r = push_event(log, &ev);
                if (r < 0) {
                        free(ev.text);
                        free(ev.data);
                        return r;
                }
                off = (size_t) (nl - buf) + 1;
        }
        return 0;
}

const struct pcr_bank *pcr_values_bank(const struct pcr_values *v, uint16_t alg) {
        for (size_t i = 0; i < v->n_banks; i++)
                if (v->banks[i].alg == alg)
                        return &v->banks[i];
        return NULL;
}

static int extend(struct pcr_bank *b, uint32_t pcr, const uint8_t *digest) {
        uint8_t buf[2 * PCR_DIGEST_MAX];
        memcpy(buf, b->v[pcr], b->size);
        memcpy(buf + b->size, digest, b->size);
        b->n_extends[pcr]++;
        return pcr_hash(b->alg, buf, 2u * b->size, b->v[pcr]);
}

int pcr_eventlog_replay(const struct pcr_eventlog *log, struct pcr_values *out) {
        memset(out, 0, sizeof(*out));
        if (log->format != PCR_LOG_NONE) {
                for (size_t i = 0; i < log->n_algs; i++)
                        if (pcr_alg_size(log->algs[i].alg))
                                out->banks[out->n_banks++] = (struct pcr_bank) { .alg = log->algs[i].alg, .size = log->algs[i].size };
        } else {
                for (size_t i = 0; i < log->n_events; i++)
                        for (size_t j = 0; j < log->events[i].n_digests; j++) {
                                const struct pcr_digest *d = &log->events[i].digests[j];
                                if (!pcr_values_bank(out, d->alg) && out->n_banks < PCR_BANKS_MAX)
                                        out->banks[out->n_banks++] = (struct pcr_bank) { .alg = d->alg, .size = d->size };
                        }
        }
        uint8_t locality = log->hcrtm ? 4 : log->has_startup_locality ? log->startup_locality : 0;
        for (size_t b = 0; b < out->n_banks; b++)
                out->banks[b].v[0][out->banks[b].size - 1] = locality;

        for (size_t i = 0; i < log->n_events; i++) {
                const struct pcr_event *ev = &log->events[i];
                if (ev->type == PCR_EV_NO_ACTION)
                        continue;
                for (size_t j = 0; j < ev->n_digests; j++) {
                        struct pcr_bank *b = (struct pcr_bank *) pcr_values_bank(out, ev->digests[j].alg);
                        if (!b || b->size != ev->digests[j].size)
                                continue;
                        int r = extend(b, ev->pcr, ev->digests[j].d);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- decoding ---- */

static void utf16_to_ascii(const uint8_t *p, size_t chars, char *out, size_t outsize) {
        size_t n = 0;
        for (size_t i = 0; i < chars && n + 1 < outsize; i++) {
                uint16_t c = get16(p + 2 * i);
                if (c == 0)
                        break;
                out[n++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        out[n] = 0;
}

int pcr_decode_efi_variable(const uint8_t *buf, size_t size, struct pcr_efi_variable *out) {
        if (size < 32)
                return -EBADMSG;
        uint64_t nchars = get64(buf + 16), dlen = get64(buf + 24);
        if (nchars > (size - 32) / 2 || dlen > size - 32 - nchars * 2)
                return -EBADMSG;
        memcpy(out->guid, buf, 16);
        utf16_to_ascii(buf + 32, (size_t) nchars, out->name, sizeof(out->name));
        out->data = buf + 32 + nchars * 2;
        out->data_size = (size_t) dlen;
        return 0;
}

int pcr_efi_variable_data(const uint8_t guid[16], const char *name, const void *data, size_t size,
                          uint8_t **ret, size_t *ret_size) {
        size_t nchars = strlen(name), total = 32 + 2 * nchars + size;
        uint8_t *b = malloc(total ? total : 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, guid, 16);
        for (size_t i = 0; i < 8; i++) {
                b[16 + i] = (uint8_t) ((uint64_t) nchars >> (8 * i));
                b[24 + i] = (uint8_t) ((uint64_t) size >> (8 * i));
        }
        for (size_t i = 0; i < nchars; i++) {
                b[32 + 2 * i] = (uint8_t) name[i];
                b[33 + 2 * i] = 0;
        }
        if (size)
                memcpy(b + 32 + 2 * nchars, data, size);
        *ret = b;
        *ret_size = total;
        return 0;
}

static void printable(const uint8_t *d, size_t n, char *out, size_t outsize) {
        size_t k = 0;
        /* UTF-16LE text (every odd byte zero) is shown as ASCII too. */
        bool utf16 = n >= 4 && n % 2 == 0 && d[1] == 0 && d[3] == 0 && d[0] != 0;
        for (size_t i = 0; i < n && k + 1 < outsize; i += utf16 ? 2 : 1) {
                uint8_t c = d[i];
                if (c == 0)
                        break;
                out[k++] = c >= 0x20 && c < 0x7f ? (char) c : '.';
        }
        out[k] = 0;
}

struct bsa_info {
        uint64_t location, length, link_addr;
        char path[256];
};

static int decode_bsa(const uint8_t *d, size_t n, struct bsa_info *info) {
        if (n < 32)
                return -EBADMSG;
        info->location = get64(d);
        info->length = get64(d + 8);
        info->link_addr = get64(d + 16);
        uint64_t plen = get64(d + 24);
        if (plen > n - 32)
                return -EBADMSG;
        info->path[0] = 0;
        const uint8_t *p = d + 32;
        size_t left = (size_t) plen, k = 0;
        while (left >= 4) {
                uint8_t type = p[0], sub = p[1];
                uint16_t nlen = get16(p + 2);
                if (nlen < 4 || nlen > left)
                        return -EBADMSG;
                if (type == 0x7f && sub == 0xff)
                        break;
                if (type == 4 && sub == 4) { /* media file path: UTF-16 */
                        char part[128];
                        utf16_to_ascii(p + 4, (size_t) (nlen - 4) / 2, part, sizeof(part));
                        int w = snprintf(info->path + k, sizeof(info->path) - k, "%s", part);
                        if (w > 0)
                                k = k + (size_t) w < sizeof(info->path) ? k + (size_t) w : sizeof(info->path) - 1;
                }
                p += nlen;
                left -= nlen;
        }
        return 0;
}

static struct json_object *hex_string(const uint8_t *p, size_t n) {
        char *h = pcr_hex(p, n);
        struct json_object *o = json_object_new_string(h ?: "");
        free(h);
        return o;
}

static struct json_object *digests_to_json(const struct pcr_event *ev) {
        struct json_object *dg = json_object_new_array();
        for (size_t i = 0; i < ev->n_digests; i++) {
                struct json_object *d = json_object_new_object();
                const char *an = pcr_alg_name(ev->digests[i].alg);
                if (an)
                        json_object_object_add(d, "hashAlg", json_object_new_string(an));
                else
                        json_object_object_add(d, "hashAlg", json_object_new_int(ev->digests[i].alg));
                json_object_object_add(d, "digest", hex_string(ev->digests[i].d, ev->digests[i].size));
                json_object_array_add(dg, d);
        }
        return dg;
}

static struct json_object *decode_efi_variable_json(const struct pcr_event *ev) {
        struct pcr_efi_variable v;
        if (pcr_decode_efi_variable(ev->data, ev->data_size, &v) < 0)
                return NULL;
        char g[37];
        pcr_guid_format(v.guid, g);
        struct json_object *dec = json_object_new_object();
        json_object_object_add(dec, "guid", json_object_new_string(g));
        json_object_object_add(dec, "name", json_object_new_string(v.name));
        json_object_object_add(dec, "data", hex_string(v.data, v.data_size));
        return dec;
}

static struct json_object *decode_image_json(const struct pcr_event *ev) {
        struct bsa_info bi;
        if (decode_bsa(ev->data, ev->data_size, &bi) < 0)
                return NULL;
        struct json_object *dec = json_object_new_object();
        json_object_object_add(dec, "image_location", json_object_new_int64((int64_t) bi.location));
        json_object_object_add(dec, "image_length", json_object_new_int64((int64_t) bi.length));
        json_object_object_add(dec, "path", json_object_new_string(bi.path));
        return dec;
}

/* The event data of the kinds policy cares about, decoded; NULL for the others (or data that does not
 * decode): the caller shows the bytes. */
static struct json_object *decode_event_json(const struct pcr_event *ev) {
        struct json_object *dec = NULL;
        char buf[512];
        switch (ev->type) {
        case PCR_EV_EFI_VARIABLE_DRIVER_CONFIG:
        case PCR_EV_EFI_VARIABLE_BOOT:
        case PCR_EV_EFI_VARIABLE_BOOT2:
        case PCR_EV_EFI_VARIABLE_AUTHORITY:
                return decode_efi_variable_json(ev);
        case PCR_EV_EFI_BOOT_SERVICES_APPLICATION:
        case PCR_EV_EFI_BOOT_SERVICES_DRIVER:
        case PCR_EV_EFI_RUNTIME_SERVICES_DRIVER:
                return decode_image_json(ev);
        case PCR_EV_SEPARATOR:
                if (ev->data_size != 4)
                        return NULL;
                dec = json_object_new_object();
                json_object_object_add(dec, "value", json_object_new_int64(get32(ev->data)));
                json_object_object_add(dec, "error", json_object_new_boolean(get32(ev->data) != 0));
                return dec;
        case PCR_EV_IPL:
        case PCR_EV_EFI_ACTION:
        case PCR_EV_ACTION:
        case PCR_EV_S_CRTM_VERSION:
                printable(ev->data, ev->data_size, buf, sizeof(buf));
                dec = json_object_new_object();
                json_object_object_add(dec, "string", json_object_new_string(buf));
                return dec;
        case PCR_EV_EVENT_TAG:
                if (ev->data_size < 8 || get32(ev->data + 4) > ev->data_size - 8)
                        return NULL;
                dec = json_object_new_object();
                json_object_object_add(dec, "tagged_event_id", json_object_new_int64(get32(ev->data)));
                json_object_object_add(dec, "data", hex_string(ev->data + 8, get32(ev->data + 4)));
                return dec;
        case PCR_EV_NO_ACTION:
                if (ev->data_size < 16 || !memchr(ev->data, 0, 16))
                        return NULL;
                dec = json_object_new_object();
                json_object_object_add(dec, "signature", json_object_new_string((const char *) ev->data));
                if (ev->data_size == 17 && memcmp(ev->data, startup_locality_sig, 16) == 0)
                        json_object_object_add(dec, "startup_locality", json_object_new_int(ev->data[16]));
                return dec;
        }
        return NULL;
}

struct json_object *pcr_event_to_json(const struct pcr_event *ev) {
        struct json_object *o = json_object_new_object();
        const char *tn = pcr_event_type_name(ev->type);
        json_object_object_add(o, "source", json_object_new_string(ev->source == PCR_SOURCE_VOLSEAL ? "volseal" : "firmware"));
        json_object_object_add(o, "pcr", json_object_new_int64(ev->pcr));
        if (tn)
                json_object_object_add(o, "type", json_object_new_string(tn));
        else {
                char buf[16];
                snprintf(buf, sizeof(buf), "0x%08x", ev->type);
                json_object_object_add(o, "type", json_object_new_string(buf));
        }
        json_object_object_add(o, "digests", digests_to_json(ev));
        if (ev->source == PCR_SOURCE_VOLSEAL) {
                if (ev->text)
                        json_object_object_add(o, "string", json_object_new_string(ev->text));
                return o;
        }
        struct json_object *dec = decode_event_json(ev);
        if (dec)
                json_object_object_add(o, "decoded", dec);
        else if (ev->data_size <= 4096)
                json_object_object_add(o, "data", hex_string(ev->data, ev->data_size));
        return o;
}

char *pcr_event_describe(const struct pcr_event *ev) {
        char buf[600];
        buf[0] = 0;
        if (ev->source == PCR_SOURCE_VOLSEAL) {
                snprintf(buf, sizeof(buf), "\"%s\"", ev->text ?: "");
                return strdup(buf);
        }
        switch (ev->type) {
        case PCR_EV_EFI_VARIABLE_DRIVER_CONFIG:
        case PCR_EV_EFI_VARIABLE_BOOT:
        case PCR_EV_EFI_VARIABLE_BOOT2:
        case PCR_EV_EFI_VARIABLE_AUTHORITY: {
                struct pcr_efi_variable v;
                char g[37];
                if (pcr_decode_efi_variable(ev->data, ev->data_size, &v) < 0)
                        snprintf(buf, sizeof(buf), "malformed UEFI_VARIABLE_DATA (%zu bytes)", ev->data_size);
                else {
                        pcr_guid_format(v.guid, g);
                        snprintf(buf, sizeof(buf), "%s-%s: %zu byte%s", v.name, g, v.data_size, v.data_size == 1 ? "" : "s");
                }
                break;
        }
        case PCR_EV_SEPARATOR:
                snprintf(buf, sizeof(buf), ev->data_size == 4 ? (get32(ev->data) ? "error separator" : "separator")
                                                              : "separator of %zu bytes", ev->data_size);
                break;
        case PCR_EV_IPL:
        case PCR_EV_EFI_ACTION:
        case PCR_EV_ACTION:
        case PCR_EV_S_CRTM_VERSION: {
                char s[512];
                printable(ev->data, ev->data_size, s, sizeof(s));
                snprintf(buf, sizeof(buf), "\"%s\"", s);
                break;
        }
        case PCR_EV_EFI_BOOT_SERVICES_APPLICATION:
        case PCR_EV_EFI_BOOT_SERVICES_DRIVER:
        case PCR_EV_EFI_RUNTIME_SERVICES_DRIVER: {
                struct bsa_info bi;
                if (decode_bsa(ev->data, ev->data_size, &bi) < 0)
                        snprintf(buf, sizeof(buf), "malformed UEFI_IMAGE_LOAD_EVENT (%zu bytes)", ev->data_size);
                else
                        snprintf(buf, sizeof(buf), "image %s (%llu bytes)", bi.path[0] ? bi.path : "(no file path)",
                                 (unsigned long long) bi.length);
                break;
        }
        case PCR_EV_EVENT_TAG:
                if (ev->data_size >= 8 && get32(ev->data + 4) <= ev->data_size - 8)
                        snprintf(buf, sizeof(buf), "tag 0x%08x, %u bytes", get32(ev->data), get32(ev->data + 4));
                else
                        snprintf(buf, sizeof(buf), "malformed tagged event (%zu bytes)", ev->data_size);
                break;
        case PCR_EV_NO_ACTION:
                if (ev->data_size >= 16 && memchr(ev->data, 0, 16))
                        snprintf(buf, sizeof(buf), "%s", (const char *) ev->data);
                break;
        default:
                snprintf(buf, sizeof(buf), "%zu bytes", ev->data_size);
        }
        return strdup(buf);
}
