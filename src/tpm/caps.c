/* caps.c: what the TPM can do (PCR banks, AES-128-CFB) and what `volseal tpm info` shows, the SRK
 * included. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

int tpm_load_banks(struct vs_tpm *t) {
        if (t->banks_known)
                return 0;
        TPMI_YES_NO more = 0;
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS,
                                                    0, 1, &more, &cap));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_GetCapability", "cannot read the PCR banks of the TPM at '%s'", t->tcti_conf);
        t->banks = cap->data.assignedPCR;
        t->banks_known = true;
        free(cap);
        return 0;
}

static bool bank_has_24(const TPML_PCR_SELECTION *banks, uint16_t alg) {
        for (uint32_t i = 0; i < banks->count; i++) {
                const TPMS_PCR_SELECTION *s = &banks->pcrSelections[i];
                if (s->hash != alg)
                        continue;
                if (s->sizeofSelect < 3)
                        return false;
                return s->pcrSelect[0] == 0xff && s->pcrSelect[1] == 0xff && s->pcrSelect[2] == 0xff;
        }
        return false;
}

static int test_aes128cfb(struct vs_tpm *t, bool *ret) {
        TPMT_PUBLIC_PARMS parms = {
                .type = TPM2_ALG_SYMCIPHER,
                .parameters.symDetail.sym = {
                        .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB,
                },
        };
        TSS2_RC rc = TPM_CALL(t, Esys_TestParms(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms));
        if (rc == TSS2_RC_SUCCESS) {
                *ret = true;
                return 0;
        }
        if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (rc & TPM2_RC_FMT1)) {
                *ret = false; /* TPM_RC_SYMMETRIC, TPM_RC_KEY_SIZE, TPM_RC_MODE...: not supported */
                return 0;
        }
        return tpm_fail(t, rc, "TPM2_TestParms", "cannot check AES-128-CFB support");
}

int vs_tpm_check_caps(struct vs_tpm *t) {
        tpm_clear_error(t);
        int r = tpm_load_banks(t);
        if (r < 0)
                return r;
        if (!bank_has_24(&t->banks, TPM2_ALG_SHA256))
                return tpm_error(t, -EOPNOTSUPP, "the TPM at '%s' has no SHA-256 PCR bank with 24 PCRs allocated "
                                 "(volseal binds to SHA-256 PCRs 7 and 11)", t->tcti_conf);
        bool aes = false;
        r = test_aes128cfb(t, &aes);
        if (r < 0)
                return r;
        if (!aes)
                return tpm_error(t, -EOPNOTSUPP, "the TPM at '%s' does not support AES-128-CFB, which volseal's "
                                 "sessions need for parameter encryption", t->tcti_conf);
        return 0;
}

static int get_properties(struct vs_tpm *t, TPM2_PT first, uint32_t count, TPML_TAGGED_TPM_PROPERTY *ret) {
        TPMI_YES_NO more = 0;
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                    TPM2_CAP_TPM_PROPERTIES, first, count, &more, &cap));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_GetCapability", "cannot read the TPM's properties");
        *ret = cap->data.tpmProperties;
        free(cap);
        return 0;
}

static uint32_t prop(const TPML_TAGGED_TPM_PROPERTY *l, TPM2_PT p) {
        for (uint32_t i = 0; i < l->count; i++)
                if (l->tpmProperty[i].property == p)
                        return l->tpmProperty[i].value;
        return 0;
}

static void be32_chars(uint32_t v, char *out) {
        out[0] = (char) (v >> 24);
        out[1] = (char) (v >> 16);
        out[2] = (char) (v >> 8);
        out[3] = (char) v;
}

int vs_tpm_get_info(struct vs_tpm *t, struct vs_tpm_info *ret) {
        tpm_clear_error(t);
        TPML_TAGGED_TPM_PROPERTY fixed, var;
        int r = get_properties(t, TPM2_PT_FIXED, TPM2_MAX_TPM_PROPERTIES, &fixed);
        if (r < 0)
                return r;
        r = get_properties(t, TPM2_PT_VAR, TPM2_MAX_TPM_PROPERTIES, &var);
        if (r < 0)
                return r;
        r = tpm_load_banks(t);
        if (r < 0)
                return r;
        struct vs_tpm_info info = {};
        be32_chars(prop(&fixed, TPM2_PT_MANUFACTURER), info.manufacturer);
        for (int i = 0; i < 4; i++)
                be32_chars(prop(&fixed, TPM2_PT_VENDOR_STRING_1 + (TPM2_PT) i), info.vendor + 4 * i);
        /* vendor strings are NUL padded; keep the printable prefix, drop trailing blanks */
        for (size_t i = 0; i < 16; i++)
                if (info.vendor[i] == 0 || (unsigned char) info.vendor[i] < 0x20 || (unsigned char) info.vendor[i] > 0x7e)
                        info.vendor[i] = 0;
        info.vendor[strnlen(info.vendor, 16)] = 0;
        for (size_t n = strlen(info.vendor); n > 0 && info.vendor[n - 1] == ' '; n--)
                info.vendor[n - 1] = 0;
        for (size_t n = 4; n > 0 && (info.manufacturer[n - 1] == ' ' || info.manufacturer[n - 1] == 0); n--)
                info.manufacturer[n - 1] = 0;
        info.firmware[0] = prop(&fixed, TPM2_PT_FIRMWARE_VERSION_1);
        info.firmware[1] = prop(&fixed, TPM2_PT_FIRMWARE_VERSION_2);
        info.spec_level = prop(&fixed, TPM2_PT_LEVEL);
        info.spec_revision = prop(&fixed, TPM2_PT_REVISION);
        info.spec_year = prop(&fixed, TPM2_PT_YEAR);
        info.pcr_count = prop(&fixed, TPM2_PT_PCR_COUNT);
        info.banks = t->banks;
        info.sha256_24 = bank_has_24(&t->banks, TPM2_ALG_SHA256);
        info.lockout_counter = prop(&var, TPM2_PT_LOCKOUT_COUNTER);
        info.max_auth_fail = prop(&var, TPM2_PT_MAX_AUTH_FAIL);
        info.lockout_interval = prop(&var, TPM2_PT_LOCKOUT_INTERVAL);
        info.lockout_recovery = prop(&var, TPM2_PT_LOCKOUT_RECOVERY);
        info.in_lockout = (prop(&var, TPM2_PT_PERMANENT) & TPMA_PERMANENT_INLOCKOUT) != 0;
        r = test_aes128cfb(t, &info.aes128cfb);
        if (r < 0)
                return r;
        r = vs_tpm_srk(t, NULL, &info.srk_name, &info.srk_handle);
        if (r == -EACCES || r == -EKEYREJECTED || r == -EIO) {
                snprintf(info.srk_error, sizeof(info.srk_error), "%s", t->last_error);
                tpm_clear_error(t);
        } else if (r < 0)
                return r;
        *ret = info;
        return 0;
}
