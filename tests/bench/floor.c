/* floor: the least work Debian 12's libcryptsetup 2.6 + tpm2-tss 3.2 + OpenSSL 3.0 need for a TPM-sealed
 * LUKS2 key, so the bench can say how far below a peer any tool built on these libraries could go.
 * docs/performance.md ("The floor") explains why this matters for the targets there.
 *
 *   floor enrol IMAGE PASSFILE TCTI BLOB   open a keyslot with the passphrase (crypt_volume_key_get), seal
 *                                          32 getrandom() bytes under the SRK with PolicyPCR(sha256:7) over a
 *                                          salted, parameter-encrypted session, add them as a keyslot with
 *                                          libcryptsetup's cheapest KDF (argon2id 32 KiB, t=4: cheaper than
 *                                          PBKDF2-1000), add a token; write the sealed blobs + slot to BLOB
 *   floor unlock IMAGE TCTI BLOB           Load, salted policy session, PolicyPCR(7), Unseal (encrypted
 *                                          response), check that keyslot (no dm)
 *
 * Both are below what volseal, systemd or clevis must do: no config, no header validation, no signed PCR
 * 11 policy (LoadExternal, VerifySignature, PolicyAuthorize), no GetRandom, no SRK Name check, the cheapest KDF.
 * The SRK is the persistent 0x81000001 when there is one, else a transient CreatePrimary (volseal's
 * template). Exit 0 on success, 1 on failure, 2 on usage. Bench code: secrets are not wiped. */
#include <libcryptsetup.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#define SRK_HANDLE 0x81000001
#define PCR 7

static int fail(const char *what, long rc) {
	fprintf(stderr, "floor: %s failed (0x%lx)\n", what, rc);
	return 1;
}

static int srk_transient;

static int tpm_open(const char *conf, TSS2_TCTI_CONTEXT **tcti, ESYS_CONTEXT **esys, ESYS_TR *srk) {
	if (Tss2_TctiLdr_Initialize(conf, tcti) || Esys_Initialize(esys, *tcti, NULL))
		return fail("TCTI/ESYS init", 0);
	if (Esys_TR_FromTPMPublic(*esys, SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, srk) == 0)
		return 0;
	srk_transient = 1;
	TPM2B_PUBLIC in = {.publicArea = {
		.type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
				    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
				    TPMA_OBJECT_NODA,
		.parameters.eccDetail = {.symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
					 .scheme.scheme = TPM2_ALG_NULL, .curveID = TPM2_ECC_NIST_P256, .kdf.scheme = TPM2_ALG_NULL},
		.unique.ecc = {.x.size = 32, .y.size = 32}}};
	TPM2B_SENSITIVE_CREATE s = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION none = {0};
	TSS2_RC rc = Esys_CreatePrimary(*esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &s, &in,
					&outside, &none, srk, NULL, NULL, NULL, NULL);
	return rc ? fail("CreatePrimary", rc) : 0;
}

static TPML_PCR_SELECTION pcr_selection(void) {
	TPML_PCR_SELECTION sel = {.count = 1, .pcrSelections = {{.hash = TPM2_ALG_SHA256, .sizeofSelect = 3}}};
	sel.pcrSelections[0].pcrSelect[PCR / 8] = 1 << (PCR % 8);
	return sel;
}

static int salted_session(ESYS_CONTEXT *esys, ESYS_TR srk, TPM2_SE type, TPMA_SESSION attrs, ESYS_TR *session) {
	TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
	TSS2_RC rc = Esys_StartAuthSession(esys, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, type,
					   &sym, TPM2_ALG_SHA256, session);
	if (rc)
		return fail("StartAuthSession", rc);
	rc = Esys_TRSess_SetAttributes(esys, *session, attrs, 0xff);
	return rc ? fail("TRSess_SetAttributes", rc) : 0;
}

static int enrol(const char *image, const char *passfile, const char *conf, const char *blobfile) {
	char pass[256];
	FILE *f = fopen(passfile, "r");
	size_t pass_len = f ? fread(pass, 1, sizeof(pass), f) : 0;
	if (f)
		fclose(f);
	struct crypt_device *cd;
	char vk[64];
	size_t vk_size = sizeof(vk);
	if (crypt_init(&cd, image) || crypt_load(cd, CRYPT_LUKS2, NULL))
		return fail("crypt_init/crypt_load", 0);
	if (crypt_volume_key_get(cd, CRYPT_ANY_SLOT, vk, &vk_size, pass, pass_len) < 0)
		return fail("crypt_volume_key_get", 0);

	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR srk, session;
	if (tpm_open(conf, &tcti, &esys, &srk))
		return 1;
	/* PolicyPCR's digest in software: H(0^32 || CC_PolicyPCR || selection || H(PCR 7)) */
	TPML_PCR_SELECTION sel = pcr_selection(), *sel_out;
	TPML_DIGEST *values;
	UINT32 counter;
	TSS2_RC rc = Esys_PCR_Read(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter, &sel_out, &values);
	if (rc || values->count != 1)
		return fail("PCR_Read", rc);
	uint8_t buf[256], pcr_digest[32];
	size_t off = 32;
	memset(buf, 0, 32);
	Tss2_MU_UINT32_Marshal(TPM2_CC_PolicyPCR, buf, sizeof(buf), &off);
	Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, buf, sizeof(buf), &off);
	EVP_Digest(values->digests[0].buffer, values->digests[0].size, pcr_digest, NULL, EVP_sha256(), NULL);
	memcpy(buf + off, pcr_digest, 32);
	off += 32;
	TPM2B_PUBLIC in = {.publicArea = {.type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
					  .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
					  .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
					  .authPolicy.size = 32}};
	EVP_Digest(buf, off, in.publicArea.authPolicy.buffer, NULL, EVP_sha256(), NULL);

	TPM2B_SENSITIVE_CREATE sens = {.sensitive.data.size = 32};
	if (getrandom(sens.sensitive.data.buffer, 32, 0) != 32)
		return fail("getrandom", 0);
	if (salted_session(esys, srk, TPM2_SE_HMAC, TPMA_SESSION_DECRYPT | TPMA_SESSION_CONTINUESESSION, &session))
		return 1;
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION none = {0};
	TPM2B_PRIVATE *priv;
	TPM2B_PUBLIC *pub;
	rc = Esys_Create(esys, srk, session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &in, &outside, &none, &priv, &pub, NULL,
			 NULL, NULL);
	if (rc)
		return fail("Create", rc);
	Esys_FlushContext(esys, session);

	struct crypt_pbkdf_type pbkdf = {.type = CRYPT_KDF_ARGON2ID, .hash = "sha256", .iterations = 4,
					 .max_memory_kb = 32, .parallel_threads = 1, .flags = CRYPT_PBKDF_NO_BENCHMARK};
	crypt_set_pbkdf_type(cd, &pbkdf);
	int slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, vk, vk_size, (const char *) sens.sensitive.data.buffer, 32);
	if (slot < 0)
		return fail("crypt_keyslot_add_by_volume_key", slot);
	char json[64];
	snprintf(json, sizeof(json), "{\"type\":\"floor\",\"keyslots\":[\"%d\"]}", slot);
	if (crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json) < 0)
		return fail("crypt_token_json_set", 0);

	uint8_t blob[2048];
	off = 0;
	blob[off++] = (uint8_t) slot;
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(priv, blob, sizeof(blob), &off) ||
	    Tss2_MU_TPM2B_PUBLIC_Marshal(pub, blob, sizeof(blob), &off))
		return fail("marshal", 0);
	f = fopen(blobfile, "w");
	if (!f || fwrite(blob, 1, off, f) != off || fclose(f))
		return fail("writing the blob", 0);
	if (srk_transient)
		Esys_FlushContext(esys, srk);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
	crypt_free(cd);
	printf("slot %d\n", slot);
	return 0;
}

static int unlock(const char *image, const char *conf, const char *blobfile) {
	uint8_t blob[2048];
	FILE *f = fopen(blobfile, "r");
	size_t n = f ? fread(blob, 1, sizeof(blob), f) : 0, off = 1;
	if (f)
		fclose(f);
	TPM2B_PRIVATE priv = {0};
	TPM2B_PUBLIC pub = {0};
	if (n < 2 || Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, n, &off, &priv) || Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, n, &off, &pub))
		return fail("reading the blob", 0);
	int slot = blob[0];

	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR srk, obj, session;
	if (tpm_open(conf, &tcti, &esys, &srk))
		return 1;
	TSS2_RC rc = Esys_Load(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
	if (rc)
		return fail("Load", rc);
	if (salted_session(esys, srk, TPM2_SE_POLICY, TPMA_SESSION_ENCRYPT, &session))
		return 1;
	TPML_PCR_SELECTION sel = pcr_selection();
	TPM2B_DIGEST empty = {0};
	if ((rc = Esys_PolicyPCR(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel)))
		return fail("PolicyPCR", rc);
	TPM2B_SENSITIVE_DATA *secret;
	if ((rc = Esys_Unseal(esys, obj, session, ESYS_TR_NONE, ESYS_TR_NONE, &secret)))
		return fail("Unseal", rc);
	Esys_FlushContext(esys, obj);
	if (srk_transient)
		Esys_FlushContext(esys, srk);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);

	struct crypt_device *cd;
	if (crypt_init(&cd, image) || crypt_load(cd, CRYPT_LUKS2, NULL))
		return fail("crypt_init/crypt_load", 0);
	int r = crypt_activate_by_passphrase(cd, NULL, slot, (const char *) secret->buffer, secret->size, 0);
	crypt_free(cd);
	Esys_Free(secret);
	if (r < 0)
		return fail("the keyslot check", r);
	printf("slot %d\n", r);
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 6 && strcmp(argv[1], "enrol") == 0)
		return enrol(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && strcmp(argv[1], "unlock") == 0)
		return unlock(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: floor enrol IMAGE PASSFILE TCTI BLOB | floor unlock IMAGE TCTI BLOB\n");
	return 2;
}
