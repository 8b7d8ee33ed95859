/* tpm-run.h: what the tpm and updatable tpm kinds share in one run (keys/tpm.c, keys/tpm-updatable.c): one
 * TPM context, the booted UKI's signed PCR policy and its key, the enrolment gate.
 * Promise: included only by src/keys/tpm*.c; one TPM context per run, opened on first use (a failure is
 * kept and not retried); the signed policy read once; every failure is one sentence in run->reason. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "keys.h"
#include "policy.h"
#include "tpm/tpm.h"

struct tpm_state {
        struct vs_tpm *tpm;
        int tpm_err;                 /* <0: opening failed once; not retried in this run */
        bool caps_checked;           /* vs_tpm_check_caps passed (checked before the first seal only) */
        bool sig_loaded;
        int sig_err;
        char sig_reason[400];
        struct pcrsig sig;
        EVP_PKEY *key;
        bool force_reseal;
};

/* The run's state (run->kind_state[VS_KEY_TPM]), allocated on first use; NULL when out of memory. */
struct tpm_state *tpm_run_state(struct vs_key_run *run);
/* Closes the TPM and frees the state (the tpm kind's run_done). */
void tpm_run_free(struct vs_key_run *run);
/* The signed PCR policy and its key (--pcr-signature/--pcr-public-key, else where systemd-stub and systemd
 * put them), loaded once per run. -ENOENT when there is none (not a signed boot). */
int tpm_run_load_policy(struct vs_key_run *run, struct tpm_state *st);
/* The run's TPM, opened once; `sealing` also checks the capabilities a seal needs (once). */
int tpm_run_open(struct vs_key_run *run, struct tpm_state *st, bool sealing);
/* The signed policy and the TPM, as a seal (`sealing`) or an unseal needs them. -ENOKEY never comes back
 * (to sync it would mean "re-seal"): a missing policy is -ENOENT, a TPM that went away -ENODEV. */
int tpm_run_ready(struct vs_key_run *run, struct tpm_state *st, bool sealing);
/* Whether a .pcrsig entry of the run's key signs PCR 11 as this run read it, and whether PCR 11 is blank
 * (all zero or all FF: no UKI measured). */
int tpm_run_pcr11_signed(struct tpm_state *st, bool *ret_signed, bool *ret_blank);
/* docs/tpm.md "Enrolment": 1 when a tpm slot can be sealed now (signed policy, measured and signed PCR 11,
 * and with `need_secureboot` (the reason, for messages) SecureBoot on and not in SetupMode); 0 pending
 * (reason in run->reason); -errno. */
int tpm_run_enrol_gate(struct vs_key_run *run, struct tpm_state *st, const char *need_secureboot);
/* The LUKS2 passphrase of an unsealed tpm secret (base64, as Talos derives it); -EBADMSG with the reason
 * when the TPM gave back other than VS_TPM_SECRET_SIZE bytes. */
int tpm_run_passphrase(struct vs_key_run *run, unsigned slot, const struct vs_secret *secret,
                       struct vs_secret **ret_pass);

