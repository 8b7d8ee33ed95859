/* tpm-run.c: see tpm-run.h. */
#include "tpm-run.h"
#include "efi.h"
#include "encoding.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCR11 (1u << 11)

static const char *const sig_defaults[] = { "/.extra/tpm2-pcr-signature.json", "/run/systemd/tpm2-pcr-signature.json" };
static const char *const key_defaults[] = { "/.extra/tpm2-pcr-public-key.pem", "/run/systemd/tpm2-pcr-public-key.pem" };

struct tpm_state *tpm_run_state(struct vs_key_run *run) {
        if (!run->kind_state[VS_KEY_TPM])
                run->kind_state[VS_KEY_TPM] = calloc(1, sizeof(struct tpm_state));
        return run->kind_state[VS_KEY_TPM];
}

void tpm_run_free(struct vs_key_run *run) {
        struct tpm_state *st = run->kind_state[VS_KEY_TPM];
        if (!st)
                return;
        vs_tpm_close(st->tpm);
        pcrsig_done(&st->sig);
        EVP_PKEY_free(st->key);
        free(st);
        run->kind_state[VS_KEY_TPM] = NULL;
}

/* A signed PCR policy or its PEM key: a few KiB; anything near this is not one. */
#define POLICY_FILE_MAX (16u << 20)

/* Opens the first existing file of `given` or the defaults; -ENOENT with the path list in `which`. */
static int read_source(const char *given, const char *const defaults[2], char **ret, size_t *ret_len, const char **ret_path) {
        if (given) {
                *ret_path = given;
                return vs_read_file(given, 0, POLICY_FILE_MAX, ret, ret_len);
        }
        for (int i = 0; i < 2; i++) {
                int r = vs_read_file(defaults[i], 0, POLICY_FILE_MAX, ret, ret_len);
                *ret_path = defaults[i];
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

/* The signed PCR policy and its key, loaded once per run. */
int tpm_run_load_policy(struct vs_key_run *run, struct tpm_state *st) {
        if (st->sig_loaded) {
                if (st->sig_err < 0)
                        return vs_key_reason(run, st->sig_err, "%s", st->sig_reason);
                return 0;
        }
        st->sig_loaded = true;
        _cleanup_free_ char *js = NULL, *pem = NULL;
        size_t js_len = 0, pem_len = 0;
        const char *sp = NULL, *kp = NULL;
        int r = read_source(run->pcr_signature_path, sig_defaults, &js, &js_len, &sp);
        if (r == -ENOENT && !run->pcr_signature_path)
                snprintf(st->sig_reason, sizeof(st->sig_reason), "no signed PCR policy (%s or %s): the machine did not boot a signed UKI",
                         sig_defaults[0], sig_defaults[1]);
        else if (r == -ENOENT)
                snprintf(st->sig_reason, sizeof(st->sig_reason), "no signed PCR policy at %s: the machine did not boot a signed UKI", sp);
        else if (r < 0)
                snprintf(st->sig_reason, sizeof(st->sig_reason), "cannot read the signed PCR policy %s: %s", sp, strerror(-r));
        if (r >= 0) {
                r = read_source(run->pcr_public_key_path, key_defaults, &pem, &pem_len, &kp);
                if (r == -ENOENT && !run->pcr_public_key_path)
                        snprintf(st->sig_reason, sizeof(st->sig_reason), "no PCR public key (%s or %s): the machine did not boot a signed UKI",
                                 key_defaults[0], key_defaults[1]);
                else if (r == -ENOENT)
                        snprintf(st->sig_reason, sizeof(st->sig_reason), "no PCR public key at %s: the machine did not boot a signed UKI", kp);
                else if (r < 0)
                        snprintf(st->sig_reason, sizeof(st->sig_reason), "cannot read the PCR public key %s: %s", kp, strerror(-r));
        }
        if (r >= 0 && pcrsig_parse(js, js_len, "sha256", &st->sig) < 0) {
                r = -EBADMSG;
                snprintf(st->sig_reason, sizeof(st->sig_reason), "the signed PCR policy %s is malformed", sp);
        }
        if (r >= 0 && policy_load_public_pem(pem, pem_len, &st->key) < 0) {
                r = -EBADMSG;
                snprintf(st->sig_reason, sizeof(st->sig_reason), "the PCR public key %s is not an RSA public key in PEM", kp);
        }
        if (r < 0) {
                st->sig_err = r;
                return vs_key_reason(run, r, "%s", st->sig_reason);
        }
        return 0;
}

/* Opens the run's TPM once. The capabilities volseal needs (a SHA-256 bank with 24 PCRs, AES-128-CFB) are
 * checked before enrolling only (`sealing`): a slot that was sealed shows the TPM had them, and an unseal on
 * a TPM without them fails on its own command with the TPM's answer. That keeps GetCapability(PCRS) and
 * TestParms off the unlock path (2 of its TPM commands: docs/performance.md). */
int tpm_run_open(struct vs_key_run *run, struct tpm_state *st, bool sealing) {
        if (!st->tpm) {
                if (st->tpm_err < 0)
                        return vs_key_reason(run, st->tpm_err, "no TPM: %s", strerror(-st->tpm_err));
                /* volume.c reports each slot's failure once, naming the volume and slot (vs_key_reason) */
                unsigned flags = VS_TPM_CALLER_REPORTS | (run->debug_tpm ? VS_TPM_DEBUG_LOG : 0);
                int r = vs_tpm_open(run->tcti, flags, &st->tpm);
                if (r < 0) {
                        st->tpm_err = r;
                        const char *why = st->tpm ? vs_tpm_last_error(st->tpm) : "";
                        vs_tpm_close(st->tpm);
                        st->tpm = NULL;
                        return vs_key_reason(run, r, "cannot use the TPM: %s", why[0] ? why : strerror(-r));
                }
        }
        if (sealing && !st->caps_checked) {
                int r = vs_tpm_check_caps(st->tpm);
                if (r < 0)
                        return vs_key_reason(run, r, "cannot use the TPM: %s", vs_tpm_last_error(st->tpm));
                st->caps_checked = true;
        }
        return 0;
}

int tpm_run_ready(struct vs_key_run *run, struct tpm_state *st, bool sealing) {
        int r = tpm_run_load_policy(run, st);
        if (r < 0)
                return r == -ENOKEY ? -ENOENT : r;
        r = tpm_run_open(run, st, sealing);
        if (r < 0)
                return r == -ENOKEY ? -ENODEV : r;
        return 0;
}

/* PCR 11 as this run read it (the values an unseal was decided on, else one PCR_Read kept for the run) and
 * whether a .pcrsig entry for this key signs it. */
int tpm_run_pcr11_signed(struct tpm_state *st, bool *ret_signed, bool *ret_blank) {
        struct vs_tpm_pcrs p;
        int r = vs_tpm_pcr_read_kept(st->tpm, PCR11, &p, NULL);
        if (r < 0)
                return r;
        bool zero = true, ff = true;
        for (size_t i = 0; i < 32; i++) {
                zero = zero && p.value[11][i] == 0;
                ff = ff && p.value[11][i] == 0xff;
        }
        *ret_blank = zero || ff;
        uint8_t pol[POLICY_SHA256_SIZE], pkfp[POLICY_SHA256_SIZE];
        r = policy_pcr_signed_pol(TPM2_ALG_SHA256, PCR11, p.value[11], 32, pol);
        if (r >= 0)
                r = policy_pkfp(st->key, pkfp);
        if (r < 0)
                return r;
        *ret_signed = pcrsig_find(&st->sig, PCR11, pkfp, pol) != NULL;
        return 0;
}


int tpm_run_enrol_gate(struct vs_key_run *run, struct tpm_state *st, const char *need_secureboot) {
        int r = tpm_run_load_policy(run, st);
        if (r == -ENOENT)
                return vs_key_reason(run, 0, "%s: enrolment waits for a boot of a signed UKI", st->sig_reason), 0;
        if (r < 0)
                return r;
        r = tpm_run_open(run, st, true);
        if (r < 0)
                return r;
        bool sig = false, blank = false;
        r = tpm_run_pcr11_signed(st, &sig, &blank);
        if (r < 0)
                return vs_key_reason(run, r, "cannot read PCR 11: %s", vs_tpm_last_error(st->tpm));
        if (blank)
                return vs_key_reason(run, 0, "PCR 11 is all zero or all FF (no UKI was measured): enrolment waits for a boot of a signed UKI"), 0;
        if (!sig)
                return vs_key_reason(run, 0, "PCR 11 matches no entry of the signed PCR policy (a UKI other than the signed one, "
                                     "or PCR 11 has moved past the signed phase): enrolment waits"), 0;
        if (need_secureboot) {
                bool sb = false, setup = false;
                if (vs_efi_read_modes(&sb, &setup) < 0)
                        sb = false;
                if (!sb)
                        return vs_key_reason(run, 0, "SecureBoot is not enabled (%s): enrolment waits", need_secureboot), 0;
                if (setup)
                        return vs_key_reason(run, 0, "the firmware is in SetupMode (%s): enrolment waits", need_secureboot), 0;
        }
        return 1;
}

int tpm_run_passphrase(struct vs_key_run *run, unsigned slot, const struct vs_secret *secret,
                       struct vs_secret **ret_pass) {
        if (secret->len != VS_TPM_SECRET_SIZE)
                return vs_key_reason(run, EBADMSG, "keyslot %u: the TPM unsealed %zu bytes, not %d", slot, secret->len,
                                     VS_TPM_SECRET_SIZE);
        return vs_base64_encode_secret(secret, ret_pass);
}
