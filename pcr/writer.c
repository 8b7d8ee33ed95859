/* writer.c: writes TCG event logs (crypto-agile with any banks, or legacy SHA-1), for tests and the boot
 * simulator. The output is what firmware writes: parse(write(x)) == x. */
#include "pcr.h"
#include "src/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int put(struct pcr_log_writer *w, const void *d, size_t n) {
        if (w->size + n > w->allocated) {
                size_t a = (w->allocated ? w->allocated * 2 : 4096);
                while (a < w->size + n)
                        a *= 2;
                uint8_t *b = realloc(w->buf, a);
                if (!b)
                        return -ENOMEM;
                w->buf = b;
                w->allocated = a;
        }
        if (n)
                memcpy(w->buf + w->size, d, n);
        w->size += n;
        return 0;
}

static int put32(struct pcr_log_writer *w, uint32_t v) {
        uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
        return put(w, b, 4);
}

static int put16(struct pcr_log_writer *w, uint16_t v) {
        uint8_t b[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
        return put(w, b, 2);
}

int pcr_writer_init(struct pcr_log_writer *w, bool legacy, const uint16_t *algs, size_t n_algs) {
        memset(w, 0, sizeof(*w));
        w->legacy = legacy;
        if (legacy) {
                w->n_algs = 1;
                w->algs[0] = (struct pcr_alg) { PCR_ALG_SHA1, 20 };
                return 0;
        }
        if (n_algs == 0 || n_algs > PCR_BANKS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_algs; i++) {
                uint16_t s = pcr_alg_size(algs[i]);
                if (!s)
                        return -EOPNOTSUPP;
                w->algs[i] = (struct pcr_alg) { algs[i], s };
        }
        w->n_algs = n_algs;
        /* Header: legacy-format EV_NO_ACTION record in PCR 0 with a zero SHA-1 digest and Spec ID Event03. */
        uint8_t zero[20] = {};
        uint32_t hdr_size = (uint32_t) (16 + 4 + 4 + 4 + 4 * n_algs + 1);
        int r = 0;
        r = r ?: put32(w, 0);
        r = r ?: put32(w, PCR_EV_NO_ACTION);
        r = r ?: put(w, zero, 20);
        r = r ?: put32(w, hdr_size);
        r = r ?: put(w, "Spec ID Event03", 16);
        r = r ?: put32(w, 0);                                   /* platformClass: client */
        r = r ?: put(w, (uint8_t[]) { 0, 2, 0, 2 }, 4);         /* minor 0, major 2, errata 0, uintnSize 2 (64-bit) */
        r = r ?: put32(w, (uint32_t) n_algs);
        for (size_t i = 0; i < n_algs && r == 0; i++) {
                r = put16(w, w->algs[i].alg);
                r = r ?: put16(w, w->algs[i].size);
        }
        r = r ?: put(w, (uint8_t[]) { 0 }, 1);                   /* vendorInfoSize */
        return r;
}

int pcr_writer_add_digests(struct pcr_log_writer *w, uint32_t pcr, uint32_t type, const void *data, size_t size,
                           const struct pcr_digest *digests, size_t n_digests) {
        int r = 0;
        if (size > UINT32_MAX)
                return -EINVAL;
        r = r ?: put32(w, pcr);
        r = r ?: put32(w, type);
        if (w->legacy) {
                uint8_t zero[20] = {};
                r = r ?: put(w, n_digests ? digests[0].d : zero, 20);
        } else {
                r = r ?: put32(w, (uint32_t) n_digests);
                for (size_t i = 0; i < n_digests && r == 0; i++) {
                        r = put16(w, digests[i].alg);
                        r = r ?: put(w, digests[i].d, digests[i].size);
                }
        }
        r = r ?: put32(w, (uint32_t) size);
        r = r ?: put(w, data, size);
        return r;
}

int pcr_writer_add(struct pcr_log_writer *w, uint32_t pcr, uint32_t type, const void *data, size_t size,
                   const void *digest_input, size_t digest_input_size, struct pcr_digest out[PCR_BANKS_MAX]) {
        struct pcr_digest d[PCR_BANKS_MAX] = {};
        if (!digest_input) {
                digest_input = data;
                digest_input_size = size;
        }
        for (size_t i = 0; i < w->n_algs; i++) {
                d[i].alg = w->algs[i].alg;
                d[i].size = w->algs[i].size;
                if (type != PCR_EV_NO_ACTION) {
                        int r = pcr_hash(d[i].alg, digest_input, digest_input_size, d[i].d);
                        if (r < 0)
                                return r;
                }
        }
        if (out)
                memcpy(out, d, sizeof(d));
        return pcr_writer_add_digests(w, pcr, type, data, size, d, w->n_algs);
}

int pcr_writer_startup_locality(struct pcr_log_writer *w, uint8_t locality) {
        uint8_t d[17] = "StartupLocality";
        d[16] = locality;
        return pcr_writer_add(w, 0, PCR_EV_NO_ACTION, d, sizeof(d), NULL, 0, NULL);
}

void pcr_writer_free(struct pcr_log_writer *w) {
        free(w->buf);
        memset(w, 0, sizeof(*w));
}
