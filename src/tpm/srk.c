/* srk.c: the SRK of design §3 (policy_srk_template(): ECC P-256, unique x = y = 32 zero bytes, the key Talos
 * uses), found at a persistent handle only when its Name matches, else created transient; and
 * `volseal tpm setup`, which persists it into a free handle and never evicts. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "util.h"

/* tss2's TPM2_PERSISTENT_FIRST shifts a signed int into its sign bit (UBSan): spell them out. */
#define PERSISTENT_FIRST 0x81000000u
#define PERSISTENT_LAST 0x81ffffffu

static bool name_eq(const TPM2B_NAME *a, const TPM2B_NAME *b) {
        return a->size == b->size && memcmp(a->name, b->name, a->size) == 0;
}

int tpm_persistent_handles(struct vs_tpm *t, TPM2_HANDLE *ret, size_t max) {
        size_t n = 0;
        TPM2_HANDLE next = PERSISTENT_FIRST;
        for (;;) {
                TPMI_YES_NO more = 0;
                TPMS_CAPABILITY_DATA *cap = NULL;
                TSS2_RC rc = TPM_CALL(t, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                            TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap));
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_fail(t, rc, "TPM2_GetCapability", "cannot list the TPM's persistent handles");
                const TPML_HANDLE *h = &cap->data.handles;
                uint32_t count = h->count;
                for (uint32_t i = 0; i < count && n < max; i++)
                        if (h->handle[i] >= PERSISTENT_FIRST && h->handle[i] <= PERSISTENT_LAST)
                                ret[n++] = h->handle[i];
                TPM2_HANDLE last = count ? h->handle[count - 1] : 0;
                free(cap);
                if (!more || count == 0 || n >= max || last >= PERSISTENT_LAST)
                        break;
                next = last + 1;
        }
        return (int) n;
}

/* Looks for a persistent handle whose Name is `name`; on success *ret holds an ESYS_TR for it. */
static int find_persistent(struct vs_tpm *t, const TPM2B_NAME *name, ESYS_TR *ret, uint32_t *ret_handle) {
        TPM2_HANDLE handles[64];
        int n = tpm_persistent_handles(t, handles, ELEMENTSOF(handles));
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                if (handles[i] > 0x817fffff)
                        continue; /* platform range: not the owner's */
                ESYS_TR tr = ESYS_TR_NONE;
                TSS2_RC rc = TPM_CALL(t, Esys_TR_FromTPMPublic(t->esys, handles[i], ESYS_TR_NONE, ESYS_TR_NONE,
                                                               ESYS_TR_NONE, &tr));
                if (rc != TSS2_RC_SUCCESS) {
                        log_debug("persistent handle 0x%08x unreadable: %s", handles[i], Tss2_RC_Decode(rc));
                        continue;
                }
                TPM2B_NAME *got = NULL;
                rc = Esys_TR_GetName(t->esys, tr, &got);
                bool eq = rc == TSS2_RC_SUCCESS && name_eq(got, name);
                free(got);
                if (eq) {
                        *ret = tr;
                        *ret_handle = handles[i];
                        return 1;
                }
                Esys_TR_Close(t->esys, &tr);
        }
        return 0;
}

static int create_primary(struct vs_tpm *t, ESYS_TR *ret, TPM2B_NAME *ret_name) {
        TPM2B_PUBLIC tmpl;
        policy_srk_template(&tmpl);
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        ESYS_TR tr = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                    ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &tr,
                                                    NULL, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_CreatePrimary", "cannot create the SRK under the owner hierarchy");
        TPM2B_NAME *name = NULL;
        rc = Esys_TR_GetName(t->esys, tr, &name);
        if (rc != TSS2_RC_SUCCESS) {
                tpm_flush(t, &tr);
                return tpm_fail(t, rc, "Esys_TR_GetName", "cannot read the SRK's Name");
        }
        *ret_name = *name;
        free(name);
        *ret = tr;
        return 0;
}

static int srk_mismatch(struct vs_tpm *t) {
        return tpm_error(t, -ENOKEY, "the TPM's storage root key is not the one this slot was sealed under: "
                         "the TPM was cleared or replaced");
}

int vs_tpm_srk(struct vs_tpm *t, const TPM2B_NAME *expected, TPM2B_NAME *ret_name, uint32_t *ret_handle) {
        tpm_clear_error(t);
        if (expected && expected->size == 0)
                expected = NULL;
        if (t->srk == ESYS_TR_NONE) {
                ESYS_TR tr = ESYS_TR_NONE;
                uint32_t handle = 0;
                int r = 0;
                if (expected) {
                        r = find_persistent(t, expected, &tr, &handle);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                t->srk_name = *expected;
                }
                if (r == 0) {
                        TPM2B_NAME name;
                        r = create_primary(t, &tr, &name);
                        if (r < 0)
                                return r;
                        if (expected && !name_eq(expected, &name)) {
                                tpm_flush(t, &tr);
                                return srk_mismatch(t);
                        }
                        t->srk_name = name;
                        if (!expected) {
                                ESYS_TR ptr = ESYS_TR_NONE;
                                r = find_persistent(t, &name, &ptr, &handle);
                                if (r < 0) {
                                        tpm_flush(t, &tr);
                                        return r;
                                }
                                if (r > 0) {
                                        tpm_flush(t, &tr);
                                        tr = ptr;
                                }
                        }
                }
                t->srk = tr;
                t->srk_handle = handle;
                if (handle)
                        log_debug("using the SRK at persistent handle 0x%08x", handle);
                else
                        log_debug("using a transient SRK");
        } else if (expected && !name_eq(expected, &t->srk_name))
                return srk_mismatch(t);
        if (ret_name)
                *ret_name = t->srk_name;
        if (ret_handle)
                *ret_handle = t->srk_handle;
        return 0;
}

int vs_tpm_srk_setup(struct vs_tpm *t, uint32_t handle, uint32_t *ret_handle, bool *ret_created) {
        if (handle && (handle < PERSISTENT_FIRST || handle > 0x817fffff))
                return tpm_error(t, -EINVAL, "0x%08x is not an owner persistent handle (0x81000000-0x817fffff)", handle);
        uint32_t have = 0;
        int r = vs_tpm_srk(t, NULL, NULL, &have);
        if (r < 0)
                return r;
        if (have) {
                if (handle && handle != have)
                        log_notice("the SRK is already persistent at 0x%08x; not adding it at 0x%08x", have, handle);
                *ret_handle = have;
                *ret_created = false;
                return 0;
        }
        TPM2_HANDLE used[64];
        int n = tpm_persistent_handles(t, used, ELEMENTSOF(used));
        if (n < 0)
                return n;
        uint32_t target = handle ? handle : VS_TPM_SRK_HANDLE_DEFAULT;
        for (;;) {
                bool busy = false;
                for (int i = 0; i < n; i++)
                        busy = busy || used[i] == target;
                if (!busy)
                        break;
                if (handle)
                        return tpm_error(t, -EEXIST, "persistent handle 0x%08x already holds another key; volseal "
                                         "never evicts a persistent object (choose a free handle)", handle);
                if (++target > 0x8100ffff)
                        return tpm_error(t, -ENOSPC, "no free persistent handle between 0x%08x and 0x8100ffff",
                                         VS_TPM_SRK_HANDLE_DEFAULT);
        }
        ESYS_TR ptr = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                   ESYS_TR_NONE, target, &ptr));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_EvictControl", "cannot persist the SRK at 0x%08x", target);
        tpm_flush(t, &t->srk);
        t->srk = ptr;
        t->srk_handle = target;
        *ret_handle = target;
        *ret_created = true;
        return 0;
}
