/* nv.c: volseal's NV index of updatable slots (updatable.h): find a free handle, define, write (PolicySigned
 * by the authority's key over this exact write), read and check, undefine. The index's public area is always
 * compared with the one authnv_nv_public() gives for the authority's key before anything is done with it. */
#include "tpm-internal.h"
#include "updatable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "log.h"
#include "policy.h"
#include "util.h"

/* IESYSC_NV_RSRC of tpm2-tss's esys_types.h (not installed): the type tag of an NV index's serialized
 * resource (srk.c reads the key resource the same way). */
#define IESYS_NV_RSRC 2u
/* The NV index handle range (TPM 2.0 Part 2, TPM_HT_NV_INDEX). */
#define NV_INDEX_FIRST 0x01000000u
#define NV_INDEX_LAST 0x01ffffffu

_Static_assert(VS_TPM_NV_NOT_OPEN == ESYS_TR_NONE, "VS_TPM_NV_NOT_OPEN is ESYS_TR_NONE");

/* The NV public area ESYS read with Esys_TR_FromTPMPublic (TPM2_NV_ReadPublic, whose Name ESYS checked against
 * the area), from the serialized resource: UINT32 handle, TPM2B_NAME, UINT32 type, TPM2B_NV_PUBLIC. Saves the
 * second TPM2_NV_ReadPublic that Esys_NV_ReadPublic would send. */
static int nv_public_of(struct vs_tpm *t, ESYS_TR tr, uint32_t handle, TPM2B_NV_PUBLIC *ret) {
        uint8_t *buf = NULL;
        size_t len = 0, off = 0;
        uint32_t h = 0, type = 0;
        TPM2B_NAME name;
        *ret = (TPM2B_NV_PUBLIC) {}; /* tss2-mu refuses a destination whose size is not 0 */
        bool ok = Esys_TR_Serialize(t->esys, tr, &buf, &len) == TSS2_RC_SUCCESS &&
                Tss2_MU_UINT32_Unmarshal(buf, len, &off, &h) == TSS2_RC_SUCCESS && h == handle &&
                Tss2_MU_TPM2B_NAME_Unmarshal(buf, len, &off, &name) == TSS2_RC_SUCCESS &&
                Tss2_MU_UINT32_Unmarshal(buf, len, &off, &type) == TSS2_RC_SUCCESS && type == IESYS_NV_RSRC &&
                Tss2_MU_TPM2B_NV_PUBLIC_Unmarshal(buf, len, &off, ret) == TSS2_RC_SUCCESS && off == len;
        free(buf);
        if (ok)
                return 0;
        TPM2B_NV_PUBLIC *pub = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_NV_ReadPublic", "cannot read the public area of NV index 0x%08x", handle);
        *ret = *pub;
        free(pub);
        return 0;
}

/* An ESYS_TR and the public area of the index at `handle`; -ENOENT (not logged) when there is none. */
static int nv_open(struct vs_tpm *t, uint32_t handle, ESYS_TR *ret, TPM2B_NV_PUBLIC *ret_pub) {
        ESYS_TR tr = ESYS_TR_NONE;
        if (handle < NV_INDEX_FIRST || handle > NV_INDEX_LAST)
                return tpm_error(t, -EINVAL, "0x%08x is not an NV index handle", handle);
        TSS2_RC rc = TPM_CALL(t, Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr));
        if (tpm_rc_base(rc) == TPM2_RC_HANDLE)
                return -ENOENT;
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_NV_ReadPublic", "cannot look at NV index 0x%08x", handle);
        int r = nv_public_of(t, tr, handle, ret_pub);
        if (r < 0) {
                Esys_TR_Close(t->esys, &tr);
                return r;
        }
        *ret = tr;
        return 0;
}

static void nv_close(struct vs_tpm *t, ESYS_TR *tr) {
        if (*tr != ESYS_TR_NONE)
                Esys_TR_Close(t->esys, tr);
        *tr = ESYS_TR_NONE;
}

/* The unwritten public area this write key gives the index at `handle`. */
static int ours(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, TPM2B_NV_PUBLIC *ret, TPM2B_PUBLIC *ret_key) {
        TPM2B_PUBLIC kpub;
        TPM2B_NAME kname;
        uint8_t w[POLICY_SHA256_SIZE];
        int r = policy_ecc_public(write_key, &kpub);
        if (r >= 0)
                r = policy_public_name(&kpub, &kname);
        if (r >= 0)
                r = authnv_write_policy(&kname, w);
        if (r < 0)
                return tpm_error(t, r, "the authority's write key is not an ECC P-256 key");
        authnv_nv_public(handle, w, false, ret);
        if (ret_key)
                *ret_key = kpub;
        return 0;
}

/* Whether `got` is `want` apart from TPMA_NV_WRITTEN (which the TPM sets at the first write). */
static bool same_index(const TPM2B_NV_PUBLIC *got, const TPM2B_NV_PUBLIC *want) {
        const TPMS_NV_PUBLIC *g = &got->nvPublic, *w = &want->nvPublic;
        return g->nvIndex == w->nvIndex && g->nameAlg == w->nameAlg && g->dataSize == w->dataSize &&
               (g->attributes & ~TPMA_NV_WRITTEN) == w->attributes && g->authPolicy.size == w->authPolicy.size &&
               memcmp(g->authPolicy.buffer, w->authPolicy.buffer, w->authPolicy.size) == 0;
}

static int not_ours(struct vs_tpm *t, uint32_t handle) {
        return tpm_error(t, -EEXIST, "NV index 0x%08x is not volseal's index for this authority (other attributes, "
                         "size or write policy); volseal never changes or removes an index that is not its own",
                         handle);
}

/* Opens the index at `handle` if it is volseal's for this write key: 0 (*ret open, *ret_pub its public area,
 * *ret_key the key's TPMT_PUBLIC), -ENOENT (none; not logged), -EEXIST (another index; left alone). */
static int open_ours(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, ESYS_TR *ret, TPM2B_NV_PUBLIC *ret_pub,
                     TPM2B_PUBLIC *ret_key) {
        TPM2B_NV_PUBLIC want;
        int r = ours(t, handle, write_key, &want, ret_key);
        if (r < 0)
                return r;
        r = nv_open(t, handle, ret, ret_pub);
        if (r < 0)
                return r;
        if (!same_index(ret_pub, &want)) {
                nv_close(t, ret);
                return not_ours(t, handle);
        }
        return 0;
}

int vs_tpm_nv_free_handle(struct vs_tpm *t, uint32_t *ret) {
        tpm_clear_error(t);
        TPMI_YES_NO more = 0;
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc = TPM_CALL(t, Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                                    VS_TPM_NV_FIRST, VS_TPM_NV_LAST - VS_TPM_NV_FIRST + 1, &more, &cap));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_GetCapability", "cannot list the TPM's NV indexes");
        uint32_t h = VS_TPM_NV_FIRST;
        for (uint32_t i = 0; i < cap->data.handles.count && h <= VS_TPM_NV_LAST; i++)
                if (cap->data.handles.handle[i] == h)
                        h++;
        free(cap);
        if (h > VS_TPM_NV_LAST)
                return tpm_error(t, -ENOSPC, "every NV index handle 0x%08x-0x%08x is taken", VS_TPM_NV_FIRST,
                                 VS_TPM_NV_LAST);
        *ret = h;
        return 0;
}

int vs_tpm_nv_define(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, bool *ret_written) {
        tpm_clear_error(t);
        TPM2B_NV_PUBLIC want, got;
        ESYS_TR tr = ESYS_TR_NONE;
        int r = open_ours(t, handle, write_key, &tr, &got, NULL);
        if (r == 0) {
                nv_close(t, &tr);
                if (ret_written)
                        *ret_written = got.nvPublic.attributes & TPMA_NV_WRITTEN;
                log_debug("NV index 0x%08x is volseal's already", handle);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = ours(t, handle, write_key, &want, NULL);
        if (r < 0)
                return r;
        TPM2B_AUTH empty = {};
        TSS2_RC rc = TPM_CALL(t, Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                     ESYS_TR_NONE, &empty, &want, &tr));
        if (tpm_rc_base(rc) == TPM2_RC_NV_DEFINED)
                return not_ours(t, handle);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_NV_DefineSpace", "cannot define NV index 0x%08x with the owner's empty "
                                "password", handle);
        nv_close(t, &tr);
        if (ret_written)
                *ret_written = false;
        log_info("defined volseal's NV index 0x%08x", handle);
        return 0;
}

/* An unsalted policy session: the write carries nothing secret, and its PolicySigned covers this session's
 * nonceTPM and the write's cpHash, so it needs no SRK (no CreatePrimary on the prepare path). */
static int start_write_session(struct vs_tpm *t, ESYS_TR *ret) {
        TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
        TSS2_RC rc = TPM_CALL(t, Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                       ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, ret));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_StartAuthSession", "cannot start a policy session to write the NV index");
        return 0;
}

/* PolicySigned(write key) over this session's nonceTPM and the cpHash of the coming NV_Write of `data` to the
 * index named `name`, then PolicyCommandCode(NV_Write): the session can authorize exactly that write. */
static int authorize_write(struct vs_tpm *t, ESYS_TR session, EVP_PKEY *write_key, const TPM2B_PUBLIC *kpub,
                           const TPM2B_NAME *name, const TPM2B_MAX_NV_BUFFER *data) {
        TPM2B_NONCE *nonce = NULL;
        TPM2B_DIGEST cphash = { .size = POLICY_SHA256_SIZE };
        TPM2B_NONCE ref = { .size = (uint16_t) strlen(AUTHNV_WRITE_REF) };
        uint8_t ahash[POLICY_SHA256_SIZE];
        TPMT_SIGNATURE sig;
        ESYS_TR key = ESYS_TR_NONE;
        memcpy(ref.buffer, AUTHNV_WRITE_REF, ref.size);
        TSS2_RC rc = Esys_TRSess_GetNonceTPM(t->esys, session, &nonce);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "Esys_TRSess_GetNonceTPM", "cannot read the write session's nonce");
        int r = policy_nv_write_cphash(name, data->buffer, data->size, 0, cphash.buffer);
        if (r >= 0)
                r = policy_signed_ahash(nonce->buffer, nonce->size, 0, cphash.buffer, cphash.size, ref.buffer, ref.size,
                                        ahash);
        if (r >= 0)
                r = policy_sign_ecdsa(write_key, ahash, &sig);
        if (r < 0) {
                free(nonce);
                return tpm_error(t, r, "cannot sign the authorization of the NV write");
        }
        rc = TPM_CALL(t, Esys_LoadExternal(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, kpub,
                                           ESYS_TR_RH_OWNER, &key));
        if (rc != TSS2_RC_SUCCESS)
                r = tpm_fail(t, rc, "TPM2_LoadExternal", "cannot load the authority's public key");
        if (r >= 0) {
                rc = TPM_CALL(t, Esys_PolicySigned(t->esys, key, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                   nonce, &cphash, &ref, 0, &sig, NULL, NULL));
                if (rc != TSS2_RC_SUCCESS)
                        r = tpm_fail(t, rc, "TPM2_PolicySigned", "the TPM refused the authority's signature");
        }
        free(nonce);
        tpm_flush(t, &key);
        if (r < 0)
                return r;
        rc = TPM_CALL(t, Esys_PolicyCommandCode(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                TPM2_CC_NV_Write));
        if (rc != TSS2_RC_SUCCESS)
                return tpm_fail(t, rc, "TPM2_PolicyCommandCode", "cannot restrict the write session to NV_Write");
        return 0;
}

int vs_tpm_nv_write(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key, struct authnv_set *set) {
        tpm_clear_error(t);
        TPM2B_NV_PUBLIC got;
        TPM2B_PUBLIC kpub;
        TPM2B_NAME name;
        ESYS_TR tr = ESYS_TR_NONE, session = ESYS_TR_NONE;
        struct authnv_set next = *set;
        TPM2B_MAX_NV_BUFFER data = { .size = AUTHNV_DATA_SIZE };
        next.serial++;
        int r = authnv_marshal(&next, data.buffer);
        if (r < 0)
                return tpm_error(t, r, "the authorized set is not complete (a key and, with literal PCRs, a state)");
        r = open_ours(t, handle, write_key, &tr, &got, &kpub);
        if (r == -ENOENT)
                return tpm_error(t, -ENOENT, "there is no NV index at 0x%08x (removed, or the TPM was cleared)", handle);
        if (r < 0)
                return r;
        r = policy_nv_name(&got.nvPublic, &name);
        if (r >= 0)
                r = start_write_session(t, &session);
        if (r >= 0)
                r = authorize_write(t, session, write_key, &kpub, &name, &data);
        if (r < 0)
                goto out;
        TSS2_RC rc = TPM_CALL(t, Esys_NV_Write(t->esys, tr, tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_NV_Write", "cannot write the authorized set into NV index 0x%08x", handle);
                goto out;
        }
        *set = next;
        log_debug("wrote the authorized set #%u into NV index 0x%08x", next.serial, handle);
out:
        tpm_flush(t, &session);
        nv_close(t, &tr);
        return r;
}

int vs_tpm_nv_read(struct vs_tpm *t, uint32_t handle, const TPM2B_NAME *expected, struct vs_tpm_authnv *ret) {
        tpm_clear_error(t);
        TPM2B_NV_PUBLIC got;
        TPM2B_NAME name;
        ESYS_TR tr = ESYS_TR_NONE;
        TPM2B_MAX_NV_BUFFER *data = NULL;
        int r = nv_open(t, handle, &tr, &got);
        if (r == -ENOENT)
                return tpm_error(t, -ENOENT, "there is no NV index at 0x%08x: it was removed, or the TPM was cleared",
                                 handle);
        if (r < 0)
                return r;
        r = policy_nv_name(&got.nvPublic, &name);
        if (r < 0)
                r = tpm_error(t, r, "cannot compute the Name of NV index 0x%08x", handle);
        else if (!(got.nvPublic.attributes & TPMA_NV_WRITTEN))
                r = tpm_error(t, -ENODATA, "NV index 0x%08x was never written (defined anew since the slot was sealed?)",
                              handle);
        else if (name.size != expected->size || memcmp(name.name, expected->name, name.size) != 0)
                r = tpm_error(t, -ENOKEY, "NV index 0x%08x is not the index this slot is bound to (it was removed and "
                              "defined anew, or the TPM was cleared)", handle);
        if (r < 0)
                goto fail;
        TSS2_RC rc = TPM_CALL(t, Esys_NV_Read(t->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                              got.nvPublic.dataSize, 0, &data));
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_fail(t, rc, "TPM2_NV_Read", "cannot read NV index 0x%08x", handle);
                goto fail;
        }
        *ret = (struct vs_tpm_authnv) { .handle = handle, .name = name, .tr = tr };
        r = authnv_parse(data->buffer, data->size, &ret->set);
        free(data);
        if (r < 0) {
                r = tpm_error(t, -EBADMSG, "NV index 0x%08x does not hold volseal's authorized set", handle);
                goto fail;
        }
        return 0;
fail:
        nv_close(t, &tr);
        return r;
}

void vs_tpm_nv_done(struct vs_tpm *t, struct vs_tpm_authnv *nv) {
        if (!nv)
                return;
        ESYS_TR tr = nv->tr;
        if (t && t->esys)
                nv_close(t, &tr);
        *nv = (struct vs_tpm_authnv) { .tr = ESYS_TR_NONE };
}

/* Undefines the index open as tr (owner authorization, the owner's empty password). */
static int undefine_open(struct vs_tpm *t, uint32_t handle, ESYS_TR tr) {
        TSS2_RC rc = TPM_CALL(t, Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                       ESYS_TR_NONE));
        if (rc != TSS2_RC_SUCCESS) {
                nv_close(t, &tr);
                return tpm_fail(t, rc, "TPM2_NV_UndefineSpace", "cannot remove NV index 0x%08x", handle);
        }
        /* ESYS forgets the object itself once the index is undefined */
        log_info("removed volseal's NV index 0x%08x", handle);
        return 0;
}

int vs_tpm_nv_undefine(struct vs_tpm *t, uint32_t handle, EVP_PKEY *write_key) {
        tpm_clear_error(t);
        TPM2B_NV_PUBLIC got;
        ESYS_TR tr = ESYS_TR_NONE;
        int r = open_ours(t, handle, write_key, &tr, &got, NULL);
        if (r < 0)
                return r;
        return undefine_open(t, handle, tr);
}

int vs_tpm_nv_undefine_named(struct vs_tpm *t, uint32_t handle, const TPM2B_NAME *name) {
        tpm_clear_error(t);
        TPM2B_NV_PUBLIC got;
        TPM2B_NAME have;
        ESYS_TR tr = ESYS_TR_NONE;
        int r = nv_open(t, handle, &tr, &got);
        if (r < 0)
                return r;
        if (policy_nv_name(&got.nvPublic, &have) < 0 || have.size != name->size ||
            memcmp(have.name, name->name, name->size) != 0) {
                nv_close(t, &tr);
                return tpm_error(t, -EEXIST, "NV index 0x%08x is not the index the volume's updatable slot is bound "
                                 "to; volseal never removes an index that is not its own", handle);
        }
        return undefine_open(t, handle, tr);
}
