/* credential.h: the verifier's half of AK enrolment, pure (openssl + tss2-mu, no TPM): TPM2_MakeCredential
 * computed in software against an EK public key (TPM 2.0 Part 1 §24 "Credential Protection", Part 3 §12.6),
 * the checks an enrolling verifier makes on an AK's public area, and TPMT_PUBLIC <-> openssl key conversion.
 * Promise: the EK is assumed to use the TCG default low-range templates (EK Credential Profile L-1 RSA-2048
 * and L-2 ECC P-256): nameAlg SHA-256 and AES-128-CFB, which is what swtpm_setup and tpm2_createek make. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

/* The openssl public key of a TPM public area (RSA or ECC NIST P-256/P-384). -EOPNOTSUPP for other types. */
int pcr_tpm_public_to_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **ret);
/* PEM (SubjectPublicKeyInfo) text of a key, malloc()ed. */
int pcr_pkey_to_pem(EVP_PKEY *pkey, char **ret);
/* Name = nameAlg || H_nameAlg(marshalled TPMT_PUBLIC). */
int pcr_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret);
/* Checks that `pub` is an attestation key volseal accepts: ECC NIST P-256 with ECDSA-SHA256 (or RSA-2048 with
 * RSASSA-SHA256), nameAlg SHA-256, fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign, not decrypt.
 * Returns 0 or -EPERM with the missing property logged. */
int pcr_ak_check_public(const TPM2B_PUBLIC *pub);

/* KDFa (Part 1 §11.4.10.2, SP800-108 counter mode with HMAC): `bits` bits from key, label (its NUL is
 * included), contextU, contextV. */
int pcr_kdfa(const EVP_MD *md, const uint8_t *key, size_t key_size, const char *label, const uint8_t *u,
             size_t u_size, const uint8_t *v, size_t v_size, uint32_t bits, uint8_t *out);
/* KDFe (Part 1 §11.4.10.3, SP800-56A concatenation KDF) over the shared x coordinate Z. */
int pcr_kdfe(const EVP_MD *md, const uint8_t *z, size_t z_size, const char *label, const uint8_t *u, size_t u_size,
             const uint8_t *v, size_t v_size, uint32_t bits, uint8_t *out);

/* TPM2_MakeCredential in software: protects `cred` (1..32 bytes) for the object named `ak_name` so that only
 * the TPM holding the private part of `ek` can recover it with TPM2_ActivateCredential, and only while the
 * object with that Name is loaded in the same TPM.
 *   RSA EK: seed = 32 random bytes (or `seed` for tests), secret = RSA-OAEP(SHA-256, label "IDENTITY\0")(seed).
 *   ECC EK: ephemeral ECDH; seed = KDFe(SHA-256, Z, "IDENTITY", ephemeral x, EK x, 256);
 *           secret = marshalled TPMS_ECC_POINT of the ephemeral key (`seed` must be NULL).
 *   symKey = KDFa(seed, "STORAGE", ak_name, -, 128), AES-128-CFB with a zero IV over marshalled TPM2B_DIGEST(cred);
 *   HMAC key = KDFa(seed, "INTEGRITY", -, -, 256); blob = TPM2B(HMAC-SHA256(encIdentity || ak_name)) || encIdentity. */
int pcr_make_credential(EVP_PKEY *ek, const TPM2B_NAME *ak_name, const uint8_t *cred, size_t cred_size,
                        const uint8_t *seed, TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret);
/* The inverse with the EK's private key (tests only: this is what the TPM does in ActivateCredential).
 * -EPERM when the integrity HMAC does not match (wrong EK or wrong Name). */
int pcr_activate_credential_soft(EVP_PKEY *ek_priv, const TPM2B_NAME *ak_name, const TPM2B_ID_OBJECT *blob,
                                 const TPM2B_ENCRYPTED_SECRET *secret, uint8_t *ret_cred, size_t *ret_size);
