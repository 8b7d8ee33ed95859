/* pcr.c: PCR read and extend (the extend also writes volseal's measurement log), and the PolicyPCR
 * helpers the seal and attestation code share. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "log.h"
#include "util.h"

void tpm_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *ret) {
        *ret = (TPML_PCR_SELECTION) {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = bank,
                        .sizeofSelect = 3,
                        .pcrSelect = { (uint8_t) mask, (uint8_t) (mask >> 8), (uint8_t) (mask >> 16) },
                },
        };
}

static uint32_t selection_mask(const TPMS_PCR_SELECTION *s) {
        uint32_t m = 0;
        for (uint32_t i = 0; i < s->sizeofSelect && i < 3; i++)
                m |= (uint32_t) s->pcrSelect[i] << (8 * i);
        return m;
}

int vs_tpm_pcr_read(struct vs_tpm *t, uint16_t bank, uint32_t mask, struct vs_tpm_pcrs *ret) {
        tpm_clear_error(t);
        const char *name = vs_tpm_alg_name(bank);
        if (mask == 0 || (mask >> VS_TPM_PCR_COUNT))
                return tpm_error(t, -EINVAL, "invalid PCR selection 0x%x (PCRs 0-23)", mask);
        struct vs_tpm_pcrs p = { .bank = bank };
        uint32_t todo = mask;
        for (int round = 0; todo && round < VS_TPM_PCR_COUNT; round++) {
                TPML_PCR_SELECTION sel, *out_sel = NULL;
                TPML_DIGEST *values = NULL;
                tpm_pcr_selection(bank, todo, &sel);
                TSS2_RC rc = TPM_CALL(t, Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                                                       NULL, &out_sel, &values));
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_fail(t, rc, "TPM2_PCR_Read", "cannot read %s PCRs", name ? name : "the");
                uint32_t got = out_sel->count == 1 ? selection_mask(&out_sel->pcrSelections[0]) & todo : 0;
                uint32_t k = 0;
                for (uint32_t i = 0; i < VS_TPM_PCR_COUNT && k < values->count; i++) {
                        if (!(got & (1u << i)))
                                continue;
                        const TPM2B_DIGEST *d = &values->digests[k++];
                        if (d->size == 0 || d->size > sizeof(p.value[0])) {
                                free(out_sel);
                                free(values);
                                return tpm_error(t, -EIO, "the TPM returned a %u-byte value for PCR %u", d->size, i);
                        }
                        p.size = d->size;
                        memcpy(p.value[i], d->buffer, d->size);
                        p.mask |= 1u << i;
                }
                free(out_sel);
                free(values);
                if (!got)
                        break;
                todo &= ~got;
        }
        if (p.mask != mask) {
                /* an unallocated bank or PCR is simply left out of the answer: say which */
                uint32_t allocated = 0;
                if (tpm_load_banks(t) < 0)
                        return -EIO;
                for (uint32_t i = 0; i < t->banks.count; i++)
                        if (t->banks.pcrSelections[i].hash == bank)
                                allocated = selection_mask(&t->banks.pcrSelections[i]);
                if ((allocated & mask) != mask)
                        return tpm_error(t, -EOPNOTSUPP, "the TPM has no %s bank with PCRs 0x%06x allocated",
                                         name ? name : "such", mask);
        }
        if (p.mask != mask)
                return tpm_error(t, -EIO, "the TPM did not return all requested PCRs (0x%06x of 0x%06x)", p.mask, mask);
        *ret = p;
        return 0;
}

int vs_tpm_pcr_read_kept(struct vs_tpm *t, uint32_t mask, struct vs_tpm_pcrs *ret, bool *ret_was_kept) {
        bool kept = (t->pcrs_cached_mask & mask) == mask;
        if (ret_was_kept)
                *ret_was_kept = kept;
        if (kept) {
                *ret = t->pcrs_cache;
                return 0;
        }
        int r = vs_tpm_pcr_read(t, TPM2_ALG_SHA256, mask, ret);
        if (r < 0)
                return r;
        t->pcrs_cache = *ret;
        t->pcrs_cached_mask = mask;
        return 0;
}

int tpm_pcr_digest(const struct vs_tpm_pcrs *p, uint32_t mask, uint8_t ret[32]) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (uint32_t i = 0; ok && i < VS_TPM_PCR_COUNT; i++)
                if (mask & (1u << i))
                        ok = EVP_DigestUpdate(md, p->value[i], p->size);
        ok = ok && EVP_DigestFinal_ex(md, ret, NULL);
        EVP_MD_CTX_free(md);
        return ok ? 0 : log_error_errno(-EIO, "SHA-256 failed in OpenSSL");
}

int vs_tpm_extend_word(struct vs_tpm *t, uint32_t pcr, const char *word, const char *log_path,
                       TPML_DIGEST_VALUES *ret_digests) {
        tpm_clear_error(t);
        if (pcr >= VS_TPM_PCR_COUNT)
                return tpm_error(t, -EINVAL, "invalid PCR %u (0-23)", pcr);
        int r = tpm_load_banks(t);
        if (r < 0)
                return r;
        TPML_DIGEST_VALUES d = {};
        for (uint32_t i = 0; i < t->banks.count; i++) {
                const TPMS_PCR_SELECTION *s = &t->banks.pcrSelections[i];
                if (!(selection_mask(s) & (1u << pcr)))
                        continue; /* bank not allocated for this PCR */
                const EVP_MD *md = vs_tpm_alg_md(s->hash);
                if (!md)
                        return tpm_error(t, -EOPNOTSUPP, "cannot extend PCR %u: the TPM has a bank with hash "
                                         "algorithm 0x%04x that volseal cannot compute", pcr, s->hash);
                if (d.count >= ELEMENTSOF(d.digests))
                        break;
                TPMT_HA *ha = &d.digests[d.count++];
                ha->hashAlg = s->hash;
                unsigned len = 0;
                if (!EVP_Digest(word, strlen(word), (uint8_t *) &ha->digest, &len, md, NULL))
                        return tpm_error(t, -EIO, "cannot hash the phase word with %s",
                                         vs_tpm_alg_name(s->hash));
        }
        if (d.count == 0)
                return tpm_error(t, -EOPNOTSUPP, "PCR %u is not allocated in any bank of the TPM", pcr);

        /* The record is written after the TPM accepted the extend; a log problem never prevents the extend. */
        t->pcrs_cached_mask = 0; /* the next unseal reads the PCRs again */
        TSS2_RC rc = TPM_CALL(t, Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                            ESYS_TR_NONE, &d));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PCR_Extend", "cannot extend PCR %u with '%s'", pcr, word);
        if (log_path) {
                r = vs_measure_log_append(log_path, pcr, &d, word);
                if (r < 0)
                        log_warning_errno(r, "PCR %u was extended with '%s', but the measurement log %s was not written: %m",
                                          pcr, word, log_path);
        }
        if (ret_digests)
                *ret_digests = d;
        return 0;
}

void tpm_format_pcr_list(uint32_t mask, char *buf, size_t size) {
        size_t off = 0;
        buf[0] = 0;
        for (uint32_t i = 0; i < VS_TPM_PCR_COUNT && off < size; i++)
                if (mask & (1u << i))
                        off += (size_t) snprintf(buf + off, size - off, "%s%u", off ? "," : "", i);
}

/* 1 if the PCRs moved since they were read (TPM_RC_VALUE), 0 if PolicyPCR was accepted. */
int tpm_policy_pcr(struct vs_tpm *t, ESYS_TR session, const struct vs_tpm_pcrs *p, uint32_t mask) {
        TPM2B_DIGEST digest = { .size = TPM2_SHA256_DIGEST_SIZE };
        int r = tpm_pcr_digest(p, mask, digest.buffer);
        if (r < 0)
                return tpm_error(t, r, "cannot hash the PCR values");
        TPML_PCR_SELECTION sel;
        tpm_pcr_selection(TPM2_ALG_SHA256, mask, &sel);
        TSS2_RC rc = TPM_CALL(t, Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &sel));
        if (rc == TSS2_RC_SUCCESS)
                return 0;
        if (tpm_rc_base(rc) == TPM2_RC_VALUE)
                return 1;
        char list[96];
        tpm_format_pcr_list(mask, list, sizeof(list));
        return tpm_fail(t, rc, "TPM2_PolicyPCR", "the TPM refused PolicyPCR over PCR %s", list);
}

