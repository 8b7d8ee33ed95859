/* policy.h: public header of libvolseal-policy: TPM2 policy digests computed in software, TPMT_PUBLIC and
 * Name of RSA keys and of the SRK template, and systemd-style signed PCR policy JSON (.pcrsig).
 * Promise: pure functions over bytes; no TPM and no disk I/O; marshalling through tss2-mu; crypto through
 * openssl; JSON through json-c. Functions return 0 or a negative errno.
 *
 * The signatures below are the contract other modules (src/tpm, src/keys/tpm.c, uki/) code against:
 * add to them freely, change them only together with their callers. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#define POLICY_SHA256_SIZE 32

/* ---- policy digests (SHA-256 sessions) ----
 * Each function extends `digest` in place, as the TPM extends a session's policyDigest:
 * start from 32 zero bytes (policy_digest_init) or from any given digest. */
void policy_digest_init(uint8_t digest[POLICY_SHA256_SIZE]);

/* TPM2_PolicyPCR: `bank` is a TPM2_ALG_ID (TPM2_ALG_SHA256, ...), `pcr_mask` bit i = PCR i, `values` holds
 * the PCR values of that bank in ascending PCR order, each `value_size` bytes; the PCR digest is the
 * SHA-256 of their concatenation. */
int policy_pcr(uint8_t digest[POLICY_SHA256_SIZE], uint16_t bank, uint32_t pcr_mask,
               const uint8_t *values, size_t value_size);
/* The same with a multi-bank selection and a precomputed pcrDigest (the form TPM2_PolicyPCR takes). */
int policy_pcr_selection(uint8_t digest[POLICY_SHA256_SIZE], const TPML_PCR_SELECTION *sel,
                         const uint8_t pcr_digest[POLICY_SHA256_SIZE]);
/* TPM2_PolicyAuthorize(keyName, policyRef): digest = H(0 || CC || keyName), then H(that || policyRef). */
int policy_authorize(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *key_name,
                     const uint8_t *policy_ref, size_t policy_ref_len);
void policy_auth_value(uint8_t digest[POLICY_SHA256_SIZE]);
/* TPM2_PolicyOR over 2..8 branch digests. */
int policy_or(uint8_t digest[POLICY_SHA256_SIZE], const uint8_t (*branches)[POLICY_SHA256_SIZE], size_t n);

/* TPM2_PolicyAuthorizeNV(nvIndex): digest = H(0 || CC || Name of the NV index) (the old digest is dropped,
 * no policyRef). The Name is the index's Name as the TPM holds it, TPMA_NV_WRITTEN included. */
int policy_authorize_nv(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *nv_name);
/* TPM2_PolicySigned(authObject, policyRef): digest = H(H(old || CC || Name) || policyRef). */
int policy_signed(uint8_t digest[POLICY_SHA256_SIZE], const TPM2B_NAME *key_name, const uint8_t *policy_ref,
                  size_t policy_ref_len);
/* TPM2_PolicyCommandCode(code): digest = H(old || CC || code). */
void policy_command_code(uint8_t digest[POLICY_SHA256_SIZE], uint32_t command_code);

/* ---- keys ---- */
/* TPMT_PUBLIC of an RSA public key as docs/policy.md has it (RSA, SHA-256, 0x00060040, symmetric/scheme NULL,
 * keyBits = modulus bits, unique = modulus); `exponent` 65537 or 0 (the TPM's "default" spelling). */
int policy_rsa_public(EVP_PKEY *pkey, uint32_t exponent, TPM2B_PUBLIC *ret);
/* Name = nameAlg (0x000b) || SHA-256(marshalled TPMT_PUBLIC). */
int policy_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret);
/* The SRK template of docs/tpm.md (ECC P-256, 0x00030472, AES-128-CFB, unique x = y = 32 zero bytes). */
void policy_srk_template(TPM2B_PUBLIC *ret);
/* pkfp: SHA-256 of the PKCS#1 DER encoding of the RSA public key. */
int policy_pkfp(EVP_PKEY *pkey, uint8_t ret[POLICY_SHA256_SIZE]);
/* Reads a PEM public key (SubjectPublicKeyInfo or PKCS#1) from memory. -EBADMSG when it is not one; not
 * logged: the caller knows which file it was. */
int policy_load_public_pem(const char *pem, size_t len, EVP_PKEY **ret);

/* ---- NV-index authorization (nv.c; docs/tpm-updatable.md) ---- */
/* Name of an NV index: nameAlg (0x000b) || SHA-256(marshalled TPMS_NV_PUBLIC). */
int policy_nv_name(const TPMS_NV_PUBLIC *pub, TPM2B_NAME *ret);
/* TPMT_PUBLIC of an ECC NIST P-256 public key for LoadExternal: SHA-256, userWithAuth | sign, symmetric,
 * scheme and kdf NULL, unique = the point (x, y, 32 bytes each). -EOPNOTSUPP for another curve. */
int policy_ecc_public(EVP_PKEY *pkey, TPM2B_PUBLIC *ret);
/* cpHash = SHA-256(commandCode || Name of each handle || marshalled parameters). */
int policy_cphash(uint32_t command_code, const TPM2B_NAME *names, size_t n_names, const uint8_t *params,
                  size_t params_len, uint8_t ret[POLICY_SHA256_SIZE]);
/* cpHash of TPM2_NV_Write(authHandle = nvIndex = the index named nv_name, data, offset). */
int policy_nv_write_cphash(const TPM2B_NAME *nv_name, const uint8_t *data, size_t len, uint16_t offset,
                           uint8_t ret[POLICY_SHA256_SIZE]);
/* The digest a PolicySigned authorization signs: aHash = SHA-256(nonceTPM || expiration (BE32) || cpHashA ||
 * policyRef). */
int policy_signed_ahash(const uint8_t *nonce_tpm, size_t nonce_len, int32_t expiration, const uint8_t *cphash,
                        size_t cphash_len, const uint8_t *policy_ref, size_t policy_ref_len,
                        uint8_t ret[POLICY_SHA256_SIZE]);
/* ECDSA (SHA-256) signature of a 32-byte digest with a P-256 private key, as TPMT_SIGNATURE. */
int policy_sign_ecdsa(EVP_PKEY *key, const uint8_t digest[POLICY_SHA256_SIZE], TPMT_SIGNATURE *ret);

/* ---- signed PCR policy JSON (systemd .pcrsig) ---- */
struct pcrsig_entry {
        uint32_t pcrs;                      /* bit mask */
        uint8_t pkfp[POLICY_SHA256_SIZE];
        uint8_t pol[POLICY_SHA256_SIZE];
        uint8_t *sig;
        size_t sig_len;
};
struct pcrsig {
        char *bank;                         /* "sha256" */
        struct pcrsig_entry *entries;
        size_t n_entries;
};
/* Parses the whole JSON object; only `bank`'s array is kept (a document without that bank gives 0
 * entries, not an error). Malformed input -> -EBADMSG, logged with the offending field. */
int pcrsig_parse(const char *json, size_t len, const char *bank, struct pcrsig *ret);
void pcrsig_done(struct pcrsig *s);
/* The entry with exactly these pcrs, pkfp and pol, or NULL. A NULL pkfp or pol matches any. */
const struct pcrsig_entry *pcrsig_find(const struct pcrsig *s, uint32_t pcrs,
                                       const uint8_t pkfp[POLICY_SHA256_SIZE], const uint8_t pol[POLICY_SHA256_SIZE]);
/* RSASSA-PKCS1-v1.5 SHA-256 over pol: 0 if valid, -EBADMSG if not. */
int pcrsig_verify(const struct pcrsig_entry *e, EVP_PKEY *pkey);

/* ---- banks, the signed pol, hex, private keys ---- */
/* Bank name ("sha1", "sha256", "sha384", "sha512") <-> TPM2_ALG_ID and digest size. */
int policy_bank_from_name(const char *name, uint16_t *ret_alg, size_t *ret_size);
const char *policy_bank_name(uint16_t alg); /* NULL if unknown */
/* The `pol` of a .pcrsig entry: PolicyPCR from zero over `pcrs` with these values of `bank`. */
int policy_pcr_signed_pol(uint16_t bank, uint32_t pcrs, const uint8_t *values, size_t value_size,
                          uint8_t ret[POLICY_SHA256_SIZE]);
/* Lower-case hex of n bytes into out (2n+1 bytes); parsing exactly 2n hex digits (-EINVAL otherwise). */
void policy_hex(const uint8_t *p, size_t n, char *out);
int policy_unhex(const char *s, uint8_t *out, size_t n);
/* Reads an unencrypted PEM RSA private key (PKCS#8 or PKCS#1) from memory. -EBADMSG when it is not a PEM
 * private key, -EINVAL when it is not RSA; not logged (the caller names the file). */
int policy_load_private_pem(const char *pem, size_t len, EVP_PKEY **ret);
/* A new entry: pkfp of `key`, RSASSA-PKCS1-v1.5 SHA-256 signature over `pol`. Free ret->sig. */
int pcrsig_sign(EVP_PKEY *key, uint32_t pcrs, const uint8_t pol[POLICY_SHA256_SIZE], struct pcrsig_entry *ret);
/* Adds a copy of `e` to `s` (an entry with the same pcrs, pkfp and pol is replaced). */
int pcrsig_add(struct pcrsig *s, const struct pcrsig_entry *e);
/* Serializes s as compact JSON {"<bank>":[...]}. With `existing` (a whole .pcrsig JSON document), every
 * bank and entry of it is kept and s's entries are appended to its `bank` array (replacing same
 * pcrs/pkfp/pol). Free *ret. */
int pcrsig_format(const struct pcrsig *s, const char *existing, size_t existing_len, char **ret);
