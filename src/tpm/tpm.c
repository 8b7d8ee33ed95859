/* tpm.c: the TPM context (TCTI via tctildr, Startup on demand) and the error sentences with tss2-rc that
 * every file of src/tpm/ logs through. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Keeps the sentence for vs_tpm_last_error() and logs it, at error level unless the caller reports it. */
static void keep_error(struct vs_tpm *t, const char *msg) {
        if (t)
                snprintf(t->last_error, sizeof(t->last_error), "%s", msg);
        vs_log(t && t->caller_reports ? VS_LOG_DEBUG : VS_LOG_ERR, "%s", msg);
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
        return r;
}

int tpm_error(struct vs_tpm *t, int err, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        keep_error(t, msg);
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
        t->srk = t->pcr_key = t->policy_session = ESYS_TR_NONE;
        t->caller_reports = flags & VS_TPM_CALLER_REPORTS;

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
                tpm_flush(t, &t->policy_session);
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
