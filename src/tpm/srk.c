/* srk.c: volseal's SRK (docs/tpm.md, "The SRK"; policy_srk_template(): ECC P-256, unique x = y = 32 zero bytes, the key Talos
 * uses), found at a persistent handle only when its Name matches, else created transient; and
 * `volseal tpm setup`, which persists it into a free handle and never evicts. */
#include "tpm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

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

/* IESYSC_KEY_RSRC of tpm2-tss's esys_types.h (not installed): the type tag of an object's serialized
 * resource. */
#define IESYS_KEY_RSRC 1u

/* The Name of a persistent object `tr` (from Esys_TR_FromTPMPublic), as Esys_TR_GetName would give it:
 * nameAlg || H(public area that ReadPublic returned). Esys_TR_GetName hashes through tpm2-tss 3.2's crypto
 * backend, which builds a new OpenSSL library context per hash (~3 M instructions); here the public area is
 * read back from Esys_TR_Serialize, whose IESYS_RESOURCE (tpm2-tools' .tr file format) is: UINT32 TPM
 * handle, TPM2B_NAME, UINT32 resource type, then for a key its TPM2B_PUBLIC; policy_public_name() hashes it.
 * The public area is hashed rather than the Name field taken as is, as Esys_TR_GetName does, so the key that
 * later salts the session is the one the Name check covered. Anything else (a nameAlg other than SHA-256,
 * an unexpected layout) falls back to Esys_TR_GetName. */
static TSS2_RC persistent_name(struct vs_tpm *t, ESYS_TR tr, TPM2_HANDLE handle, TPM2B_NAME *ret) {
        uint8_t *buf = NULL;
        size_t len = 0, off = 0;
        uint32_t h = 0, type = 0;
        TPM2B_NAME stored;
        TPM2B_PUBLIC pub = {}; /* tss2-mu refuses (TSS2_SYS_RC_BAD_VALUE) a destination whose size is not 0 */
        bool ok = Esys_TR_Serialize(t->esys, tr, &buf, &len) == TSS2_RC_SUCCESS &&
                Tss2_MU_UINT32_Unmarshal(buf, len, &off, &h) == TSS2_RC_SUCCESS && h == handle &&
                Tss2_MU_TPM2B_NAME_Unmarshal(buf, len, &off, &stored) == TSS2_RC_SUCCESS &&
                Tss2_MU_UINT32_Unmarshal(buf, len, &off, &type) == TSS2_RC_SUCCESS && type == IESYS_KEY_RSRC &&
                Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub) == TSS2_RC_SUCCESS && off == len &&
                pub.publicArea.nameAlg == TPM2_ALG_SHA256 && policy_public_name(&pub, ret) == 0;
        free(buf);
        if (ok)
                return TSS2_RC_SUCCESS;
        log_debug("persistent handle 0x%08x: Name through Esys_TR_GetName (serialized resource not a SHA-256 key)",
                  handle);
        TPM2B_NAME *got = NULL;
        TSS2_RC rc = Esys_TR_GetName(t->esys, tr, &got);
        if (rc == TSS2_RC_SUCCESS)
                *ret = *got;
        free(got);
        return rc;
}

/* Opens persistent `handle` (one ReadPublic) and computes its Name: 1 with *ret and *ret_name set, 0 when the
 * handle is empty, -errno when it cannot be read (logged at debug level: the caller goes on looking). */
static int open_persistent(struct vs_tpm *t, TPM2_HANDLE handle, ESYS_TR *ret, TPM2B_NAME *ret_name) {
        ESYS_TR tr = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr));
        if (tpm_rc_base(rc) == TPM2_RC_HANDLE)
                return 0;
        if (rc != TSS2_RC_SUCCESS) {
                log_debug("persistent handle 0x%08x unreadable: %s", handle, Tss2_RC_Decode(rc));
                return -EIO;
        }
        rc = persistent_name(t, tr, handle, ret_name);
        if (rc != TSS2_RC_SUCCESS) {
                log_debug("persistent handle 0x%08x: no Name: %s", handle, Tss2_RC_Decode(rc));
                Esys_TR_Close(t->esys, &tr);
                return -EIO;
        }
        *ret = tr;
        return 1;
}

/* Where the SRK of `name` is kept: VS_TPM_SRK_HANDLE_DEFAULT is read first (one ReadPublic, no
 * GetCapability), then the other owner persistent handles are listed and read. 1 with *ret and *ret_handle
 * set, 0 when none holds it; *ret_default says what the default handle holds. */
static int find_persistent(struct vs_tpm *t, const TPM2B_NAME *name, ESYS_TR *ret, uint32_t *ret_handle,
                           enum tpm_srk_default *ret_default) {
        TPM2B_NAME got;
        ESYS_TR tr = ESYS_TR_NONE;
        int r = open_persistent(t, VS_TPM_SRK_HANDLE_DEFAULT, &tr, &got);
        *ret_default = r == 0 ? TPM_SRK_DEFAULT_FREE : r > 0 && name_eq(&got, name) ? TPM_SRK_DEFAULT_SRK :
                       TPM_SRK_DEFAULT_OTHER;
        if (*ret_default == TPM_SRK_DEFAULT_SRK) {
                *ret = tr;
                *ret_handle = VS_TPM_SRK_HANDLE_DEFAULT;
                return 1;
        }
        if (r > 0)
                Esys_TR_Close(t->esys, &tr);
        TPM2_HANDLE handles[64];
        int n = tpm_persistent_handles(t, handles, ELEMENTSOF(handles));
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                if (handles[i] == VS_TPM_SRK_HANDLE_DEFAULT || handles[i] > 0x817fffff)
                        continue; /* read above / platform range: not the owner's */
                if (open_persistent(t, handles[i], &tr, &got) <= 0)
                        continue;
                if (name_eq(&got, name)) {
                        *ret = tr;
                        *ret_handle = handles[i];
                        return 1;
                }
                Esys_TR_Close(t->esys, &tr);
        }
        return 0;
}

/* The SRK's Name is computed by policy_public_name() from outPublic: Esys_CreatePrimary has already checked
 * that the Name the TPM returned is nameAlg || SHA-256(outPublic), so this is the Name ESYS holds, without
 * Esys_TR_GetName hashing it again through tpm2-tss's crypto backend (~3 M instructions). */
static int create_primary(struct vs_tpm *t, ESYS_TR *ret, TPM2B_NAME *ret_name) {
        TPM2B_PUBLIC tmpl;
        policy_srk_template(&tmpl);
        TPM2B_SENSITIVE_CREATE sens = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation_pcr = {};
        ESYS_TR tr = ESYS_TR_NONE;
        TPM2B_PUBLIC *out_pub = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                    ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &tr,
                                                    &out_pub, NULL, NULL, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_CreatePrimary", "cannot create the SRK under the owner hierarchy");
        int r = policy_public_name(out_pub, ret_name);
        free(out_pub);
        if (r < 0) {
                tpm_flush(t, &tr);
                return tpm_error(t, r, "cannot compute the SRK's Name");
        }
        *ret = tr;
        return 0;
}

static int srk_mismatch(struct vs_tpm *t) {
        return tpm_error(t, -ENOKEY, "the TPM's storage root key is not the one this slot was sealed under: "
                         "the TPM was cleared or replaced");
}

/* The SRK a sealed slot names: a persistent handle holding `expected`, else CreatePrimary, whose Name must
 * be `expected`. */
static int srk_expected(struct vs_tpm *t, const TPM2B_NAME *expected, ESYS_TR *ret, uint32_t *ret_handle) {
        int r = find_persistent(t, expected, ret, ret_handle, &t->srk_default);
        if (r != 0)
                return r < 0 ? r : 0;
        TPM2B_NAME name;
        r = create_primary(t, ret, &name);
        if (r < 0)
                return r;
        if (!name_eq(expected, &name)) {
                tpm_flush(t, ret);
                return srk_mismatch(t);
        }
        *ret_handle = 0;
        return 0;
}

/* The SRK of the template: CreatePrimary, then a persistent handle holding the same key is preferred (the
 * transient one is flushed). */
static int srk_created(struct vs_tpm *t, ESYS_TR *ret, uint32_t *ret_handle, TPM2B_NAME *ret_name) {
        int r = create_primary(t, ret, ret_name);
        if (r < 0)
                return r;
        ESYS_TR ptr = ESYS_TR_NONE;
        r = find_persistent(t, ret_name, &ptr, ret_handle, &t->srk_default);
        if (r < 0) {
                tpm_flush(t, ret);
                return r;
        }
        if (r > 0) {
                tpm_flush(t, ret);
                *ret = ptr;
        } else
                *ret_handle = 0;
        return 0;
}

int vs_tpm_srk(struct vs_tpm *t, const TPM2B_NAME *expected, TPM2B_NAME *ret_name, uint32_t *ret_handle) {
        tpm_clear_error(t);
        if (expected && expected->size == 0)
                expected = NULL;
        if (t->srk == ESYS_TR_NONE) {
                ESYS_TR tr = ESYS_TR_NONE;
                uint32_t handle = 0;
                TPM2B_NAME name = expected ? *expected : (TPM2B_NAME) {};
                int r = expected ? srk_expected(t, expected, &tr, &handle) : srk_created(t, &tr, &handle, &name);
                if (r < 0)
                        return r;
                t->srk = tr;
                t->srk_handle = handle;
                t->srk_name = name;
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

/* EvictControl of the loaded transient SRK into `target`; the context then holds the persistent one. */
static TSS2_RC evict_to(struct vs_tpm *t, uint32_t target) {
        ESYS_TR ptr = ESYS_TR_NONE;
        TSS2_RC rc = TPM_CALL(t, Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                   ESYS_TR_NONE, target, &ptr));
        if (rc != TSS2_RC_SUCCESS)
                return rc;
        tpm_flush(t, &t->srk);
        t->srk = ptr;
        t->srk_handle = target;
        return rc;
}

int tpm_srk_persist_default(struct vs_tpm *t) {
        if (t->srk == ESYS_TR_NONE || t->srk_handle || t->srk_persist_tried)
                return 0;
        t->srk_persist_tried = true;
        const char *after = "every unlock creates it again (volseal tpm setup --handle H persists it at a free handle H)";
        if (t->srk_default != TPM_SRK_DEFAULT_FREE) {
                log_warning("persistent handle 0x%08x holds another key and volseal never evicts: the SRK stays "
                            "transient; %s", VS_TPM_SRK_HANDLE_DEFAULT, after);
                return 0;
        }
        TSS2_RC rc = evict_to(t, VS_TPM_SRK_HANDLE_DEFAULT);
        if (rc != TSS2_RC_SUCCESS) {
                char why[400];
                vs_tpm_rc_describe(rc, why, sizeof(why));
                log_warning("cannot persist the SRK at 0x%08x: TPM2_EvictControl failed: %s; the SRK stays "
                            "transient; %s", VS_TPM_SRK_HANDLE_DEFAULT, why, after);
                return 0;
        }
        t->srk_default = TPM_SRK_DEFAULT_SRK;
        log_info("the SRK is now persistent at 0x%08x: unlocks read it instead of creating it",
                 VS_TPM_SRK_HANDLE_DEFAULT);
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
        TSS2_RC rc = evict_to(t, target);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_EvictControl", "cannot persist the SRK at 0x%08x", target);
        *ret_handle = target;
        *ret_created = true;
        return 0;
}
