/* tpm.c: the TPM context (TCTI via tctildr, Startup on demand), error sentences with tss2-rc, capability
 * checks, `tpm info` data, PCR read and extend. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <tss2/tss2_rc.h>

#include "log.h"
#include "util.h"

/* ---- errors ---- */

TSS2_RC tpm_rc_base(TSS2_RC rc) {
        if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
                return rc;
        if (rc & TPM2_RC_FMT1)
                return rc & (0x3f | TPM2_RC_FMT1);
        return rc & 0xfff;
}

static int errno_from_rc(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
        if (layer == TSS2_TCTI_RC_LAYER)
                return -ENODEV;
        if (layer != TSS2_TPM_RC_LAYER)
                return -EIO;
        switch (tpm_rc_base(rc)) {
        case TPM2_RC_LOCKOUT:
        case TPM2_RC_BAD_AUTH:
        case TPM2_RC_AUTH_FAIL:
        case TPM2_RC_AUTH_MISSING:
                return -EACCES;
        case TPM2_RC_POLICY_FAIL:
        case TPM2_RC_PCR_CHANGED:
        case TPM2_RC_VALUE:
        case TPM2_RC_POLICY:
        case TPM2_RC_TICKET:
                return -EKEYREJECTED;
        case TPM2_RC_SIGNATURE:
        case TPM2_RC_INTEGRITY:
        case TPM2_RC_SIZE:
                return -EBADMSG;
        default:
                return -EIO;
        }
}

static void keep_error(struct vs_tpm *t, const char *msg) {
        if (t)
                snprintf(t->last_error, sizeof(t->last_error), "%s", msg);
}

void tpm_clear_error(struct vs_tpm *t) {
        if (t)
                t->last_error[0] = 0;
}

int vs_tpm_rc_describe(TSS2_RC rc, char *buf, size_t size) {
        const char *hint = "";
        switch (tpm_rc_base(rc)) {
        case TPM2_RC_LOCKOUT:
                hint = " (the TPM is in dictionary-attack lockout: it refuses DA-protected authorizations until "
                       "its recovery time passes or tpm2_dictionarylockout --clear-lockout; volseal's own objects "
                       "are noDA and not affected)";
                break;
        case TPM2_RC_BAD_AUTH:
        case TPM2_RC_AUTH_FAIL:
                hint = " (the hierarchy or object has a password volseal does not know)";
                break;
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
                hint = " (the TPM is full: objects or sessions left loaded by another program)";
                break;
        case TPM2_RC_INITIALIZE:
                hint = " (TPM2_Startup was not accepted)";
                break;
        }
        if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
                hint = " (the TPM stopped answering)";
        snprintf(buf, size, "%s (0x%x)%s", Tss2_RC_Decode(rc), rc, hint);
        return errno_from_rc(rc);
}

int tpm_fail(struct vs_tpm *t, TSS2_RC rc, const char *command, const char *fmt, ...) {
        char what[256], why[400], msg[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        int r = vs_tpm_rc_describe(rc, why, sizeof(why));
        snprintf(msg, sizeof(msg), "%s: %s failed: %s", what, command, why);
        keep_error(t, msg);
        log_error("%s", msg);
        return r;
}

int tpm_error(struct vs_tpm *t, int err, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        keep_error(t, msg);
        log_error("%s", msg);
        return err < 0 ? err : -err;
}

const char *vs_tpm_last_error(const struct vs_tpm *t) {
        return t ? t->last_error : "";
}

const char *vs_tpm_tcti(const struct vs_tpm *t) {
        return t ? t->tcti_conf : NULL;
}

void tpm_flush(struct vs_tpm *t, ESYS_TR *h) {
        if (*h == ESYS_TR_NONE)
                return;
        TSS2_RC rc = Esys_FlushContext(t->esys, *h);
        if (rc != TSS2_RC_SUCCESS)
                log_debug("cannot flush a TPM handle: %s (0x%x)", Tss2_RC_Decode(rc), rc);
        *h = ESYS_TR_NONE;
}

int tpm_startup(struct vs_tpm *t) {
        if (t->started)
                return -EALREADY;
        t->started = true;
        log_debug("the TPM answered TPM_RC_INITIALIZE: sending TPM2_Startup(CLEAR)");
        TSS2_RC rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
        if (rc != TSS2_RC_SUCCESS && tpm_rc_base(rc) != TPM2_RC_INITIALIZE)
                return tpm_fail(t, rc, "TPM2_Startup", "cannot start the TPM");
        return 0;
}

/* ---- context ---- */

static int try_tcti(const char *conf, TSS2_TCTI_CONTEXT **ret, TSS2_RC *ret_rc) {
        *ret_rc = Tss2_TctiLdr_Initialize(conf, ret);
        return *ret_rc == TSS2_RC_SUCCESS ? 0 : -ENODEV;
}

int vs_tpm_open(const char *tcti, unsigned flags, struct vs_tpm **ret) {
        /* tpm2-tss reads TSS2_LOG at its first log call; set it before any tss2 call. */
        if (flags & VS_TPM_DEBUG_LOG)
                log_warning("--debug-tpm: tpm2-tss logging follows TSS2_LOG and may print session keys and "
                            "unsealed secrets; never use it on a production machine");
        else if (setenv("TSS2_LOG", "all+none", 1) < 0)
                return log_error_errno(-errno, "cannot silence tpm2-tss logging: %s", strerror(errno));

        _cleanup_free_ struct vs_tpm *t = calloc(1, sizeof(*t));
        if (!t)
                return log_error_errno(-ENOMEM, "out of memory");
        t->srk = t->pcr_key = ESYS_TR_NONE;

        const char *conf = tcti && *tcti ? tcti : getenv("VOLSEAL_TCTI");
        TSS2_RC rc = 0;
        int r;
        if (conf && *conf) {
                r = try_tcti(conf, &t->tcti, &rc);
                if (r < 0)
                        return tpm_error(NULL, -ENODEV, "no TPM: cannot open TCTI '%s': %s (0x%x)", conf,
                                         Tss2_RC_Decode(rc), rc);
        } else {
                static const char *const defaults[] = { "device:/dev/tpmrm0", "device:/dev/tpm0" };
                r = -ENODEV;
                for (size_t i = 0; i < ELEMENTSOF(defaults) && r < 0; i++) {
                        conf = defaults[i];
                        if (access(conf + strlen("device:"), F_OK) < 0)
                                continue;
                        r = try_tcti(conf, &t->tcti, &rc);
                }
                if (r < 0)
                        return tpm_error(NULL, -ENODEV,
                                         "no TPM: neither /dev/tpmrm0 nor /dev/tpm0 can be opened%s "
                                         "(use --tcti or VOLSEAL_TCTI to name another TPM)",
                                         rc ? ": the device exists but its TCTI failed" : "");
        }
        t->tcti_conf = strdup(conf);
        if (!t->tcti_conf) {
                Tss2_TctiLdr_Finalize(&t->tcti);
                return log_error_errno(-ENOMEM, "out of memory");
        }
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                tpm_fail(NULL, rc, "Esys_Initialize", "cannot use the TPM at '%s'", t->tcti_conf);
                Tss2_TctiLdr_Finalize(&t->tcti);
                free(t->tcti_conf);
                return -ENODEV;
        }

        log_debug("TPM opened through '%s'", t->tcti_conf);
        *ret = TAKE_PTR(t);
        return 0;
}

void vs_tpm_close(struct vs_tpm *t) {
        if (!t)
                return;
        if (t->esys) {
                tpm_flush(t, &t->pcr_key);
                if (t->srk != ESYS_TR_NONE) {
                        if (t->srk_handle == 0)
                                tpm_flush(t, &t->srk);
                        else
                                Esys_TR_Close(t->esys, &t->srk);
                }
                Esys_Finalize(&t->esys);
        }
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        free(t->tcti_conf);
        free(t);
}

/* ---- capabilities ---- */

/* GetCapability(TPM2_CAP_PCRS) once per context, when something needs the banks (not on the unseal path). */
static int load_banks(struct vs_tpm *t) {
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

const TPML_PCR_SELECTION *vs_tpm_banks(struct vs_tpm *t) {
        return load_banks(t) < 0 ? NULL : &t->banks;
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
        int r = load_banks(t);
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
        r = load_banks(t);
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

/* ---- algorithms ---- */

static const struct {
        uint16_t alg;
        const char *name;
        const char *evp;
} algs[] = {
        { TPM2_ALG_SHA1, "sha1", "SHA1" },
        { TPM2_ALG_SHA256, "sha256", "SHA256" },
        { TPM2_ALG_SHA384, "sha384", "SHA384" },
        { TPM2_ALG_SHA512, "sha512", "SHA512" },
        { TPM2_ALG_SM3_256, "sm3_256", "SM3" },
        { TPM2_ALG_SHA3_256, "sha3_256", "SHA3-256" },
        { TPM2_ALG_SHA3_384, "sha3_384", "SHA3-384" },
        { TPM2_ALG_SHA3_512, "sha3_512", "SHA3-512" },
};

const char *vs_tpm_alg_name(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (algs[i].alg == alg)
                        return algs[i].name;
        return NULL;
}

uint16_t vs_tpm_alg_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (strcasecmp(algs[i].name, name) == 0)
                        return algs[i].alg;
        return 0;
}

static const char *alg_evp(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (algs[i].alg == alg)
                        return algs[i].evp;
        return NULL;
}

/* ---- PCRs ---- */

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
                if (load_banks(t) < 0)
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
        int r = load_banks(t);
        if (r < 0)
                return r;
        TPML_DIGEST_VALUES d = {};
        for (uint32_t i = 0; i < t->banks.count; i++) {
                const TPMS_PCR_SELECTION *s = &t->banks.pcrSelections[i];
                if (!(selection_mask(s) & (1u << pcr)))
                        continue; /* bank not allocated for this PCR */
                const char *evp = alg_evp(s->hash);
                const EVP_MD *md = evp ? EVP_get_digestbyname(evp) : NULL;
                if (!md)
                        return tpm_error(t, -EOPNOTSUPP, "cannot extend PCR %u: the TPM has a bank with hash "
                                         "algorithm 0x%04x that volseal cannot compute", pcr, s->hash);
                if (d.count >= ELEMENTSOF(d.digests))
                        break;
                TPMT_HA *ha = &d.digests[d.count++];
                ha->hashAlg = s->hash;
                unsigned len = 0;
                if (!EVP_Digest(word, strlen(word), (uint8_t *) &ha->digest, &len, md, NULL))
                        return tpm_error(t, -EIO, "cannot hash the phase word with %s", evp);
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
