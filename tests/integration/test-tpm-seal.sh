#!/usr/bin/env bash
# src/tpm seal/unseal on swtpm: round trip with a .pcrsig made by tpm2-tools + openssl; the software policy
# digest equals the TPM's trial digest; the sealed object is noDA; one context unseals several times;
# refused (before any policy command, with the reason) after PCR 7 changes, after PCR 11 moves past the
# signed phases (cap), with a foreign PCR key, and after the TPM is cleared (SRK Name); a later signed
# phase still unseals; DA lockout does not stop an unseal and a refused unseal does not count as a failure.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tpm.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"

make_pcr_key
"$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
p11=$(pcr_hex 11)
[ "$p11" = "$(next_pcr_hex "$(printf '0%.0s' {1..64})" enter-initrd)" ] || fail "PCR 11 after enter-initrd is $p11"
later=$(next_pcr_hex "$p11" leave-initrd)
pcrsig_json "$T/sig.json" "$(pcrsig_entry "$p11")" "$(pcrsig_entry "$later")"

# --- seal; software policy == TPM trial policy, for [7], [], [7,14] and [7,11] (Talos 1.12 binds a listed
#     PCR 11 literally after PolicyAuthorize: internal/pkg/secureboot/tpm2/policy.go)
mkdir -p "$T/s7"
out=$("$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs 7 --dir "$T/s7")
contains "$out" "sealed policy"
[ "$(wc -c < "$T/s7/secret")" = 32 ] || fail "secret is not 32 bytes"
trial=$("$HELPER" trial --pcr-key "$T/pcr.pub" --pcrs 7)
[ "$trial" = "$(cat "$T/s7/policy")" ] || fail "software policy $(cat "$T/s7/policy") != TPM trial $trial"
ok "software policy digest (PolicyAuthorize + PolicyPCR 7) equals the TPM's trial digest"
for pcrs in none 7,14 7,11; do
  mkdir -p "$T/p-$pcrs"
  "$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs "$pcrs" --dir "$T/p-$pcrs" >/dev/null
  [ "$("$HELPER" trial --pcr-key "$T/pcr.pub" --pcrs "$pcrs")" = "$(cat "$T/p-$pcrs/policy")" ] ||
    fail "software policy != TPM trial for pcrs $pcrs"
done
# exponent 0 spelling gives another Name, hence another digest (the unseal side tries both)
[ "$("$HELPER" trial --pcr-key "$T/pcr.pub" --pcrs 7 --exponent 0)" != "$trial" ] || fail "exponent 0 gave the same digest"
ok "software == TPM for pcrs [], [7,14] and [7,11]; exponent 0 differs"

# --- object attributes: fixedTPM|fixedParent|noDA, no userWithAuth, keyedHash, SHA-256
attrs=$(tpm2_print -t TPM2B_PUBLIC "$T/s7/pub")
contains "$attrs" "fixedtpm|fixedparent|noda"
not_contains "$attrs" "userwithauth"
not_contains "$attrs" "sensitivedataorigin"
contains "$attrs" "keyedhash"
ok "sealed object is keyedHash, fixedTPM|fixedParent|noDA, policy only"

# --- round trip, several unseals in one context (SRK and PCR key reused)
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" --count 3)
[ "$out" = "unsealed 3" ] || fail "unseal: $out"
cmp -s "$T/s7/secret" "$T/s7/unsealed" || fail "unsealed secret differs from the sealed one"
ok "seal then unseal returns the same 32 bytes, 3 times in one context"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/p-none" >/dev/null || fail "unseal pcrs []"
cmp -s "$T/p-none/secret" "$T/p-none/unsealed" || fail "pcrs [] secret differs"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/p-7,14" >/dev/null || fail "unseal pcrs [7,14]"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/p-7,11" >/dev/null || fail "unseal pcrs [7,11]"
cmp -s "$T/p-7,11/secret" "$T/p-7,11/unsealed" || fail "pcrs [7,11] secret differs"
ok "pcrs [], [7,14] and [7,11] round trip"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left in the TPM: $(tpm2_getcap handles-transient)"
[ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions left in the TPM"
ok "nothing left loaded in the TPM"

# --- a foreign PCR key (signature from another key): refused, named
mkdir -p "$T/other" && cp "$T/pcr.key" "$T/pcr.pub" "$T/other/"
openssl genrsa -out "$T/pcr.key" 2048 2>/dev/null
openssl rsa -in "$T/pcr.key" -pubout -out "$T/pcr.pub" 2>/dev/null
pcrsig_json "$T/foreign.json" "$(pcrsig_entry "$p11")"
set +e
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/foreign.json" --dir "$T/s7" 2>"$T/err")
rc=$?
set -e
[ $rc = 1 ] || fail "foreign key: rc $rc"
contains "$out" "EKEYREJECTED"
contains "$(cat "$T/err")" "sealed to another PCR public key"
# the .pcrsig of the enrolled key with the foreign public key: no entry for this key
set +e
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" 2>"$T/err")
set -e
contains "$(cat "$T/err")" "no entry made with this PCR public key"
mv "$T/other/pcr.key" "$T/other/pcr.pub" "$T/"
ok "a foreign PCR key is refused with its reason"

# --- the next signed phase still unseals; a cap word past the signed phases is refused
"$VOLSEAL" pcr extend-phase leave-initrd --log "$T/measure.log"
[ "$(pcr_hex 11)" = "$later" ] || fail "PCR 11 after leave-initrd"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" >/dev/null || fail "unseal at leave-initrd"
cmp -s "$T/s7/secret" "$T/s7/unsealed" || fail "secret differs at leave-initrd"
ok "UKI phase leave-initrd (second .pcrsig entry) unseals"
# PCR 11 listed literally: sealed at enter-initrd, the signed leave-initrd phase no longer satisfies it (Talos's
# unseal.go: PolicyPCR over the token's pcrs after PolicyAuthorize), refused before any policy command.
set +e
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/p-7,11" >/dev/null 2>"$T/err"
rc=$?
set -e
[ $rc = 1 ] || fail "pcrs [7,11] at leave-initrd: rc $rc"
contains "$(cat "$T/err")" "PCR 7,11 changed since enrolment"
ok "pcrs [7,11]: a later signed phase is refused (PCR 11's literal value moved)"

# --- DA: put the TPM into lockout with a DA-protected key and wrong passwords; unseal still works
tpm2_createprimary -Q -C o -c "$T/da.ctx" -p right   # default attributes: DA-protected (no noDA)
for _ in $(seq 1 10); do
  if tpm2_create -Q -C "$T/da.ctx" -P wrong -u "$T/x.pub" -r "$T/x.priv" 2>"$T/da.err"; then fail "wrong password accepted"; fi
  tpm2_flushcontext -t
  if grep -q 'lockout' "$T/da.err"; then break; fi
done
tpm2_flushcontext -t
contains "$(cat "$T/da.err")" "lockout"
lock=$("$VOLSEAL" tpm info --json)
contains "$lock" '"in_lockout":true'
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" >/dev/null || fail "unseal refused in DA lockout"
ok "unseal works while the TPM is in DA lockout (noDA objects)"
tpm2_dictionarylockout -c -p '' >/dev/null
counter() { "$VOLSEAL" tpm info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["lockout"]["counter"])'; }
before=$(counter)

# --- cap: PCR 11 past the signed phases -> refused before any policy command, named
"$VOLSEAL" pcr extend-phase start-the-world --log "$T/measure.log"
set +e
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" 2>"$T/err")
rc=$?
set -e
[ $rc = 1 ] || fail "unseal after the cap: rc $rc"
contains "$out" "EKEYREJECTED"
contains "$(cat "$T/err")" "no signed policy matches PCR 11 (PCR 11 has moved past the signed phase"
ok "after the cap, unseal is refused: $(head -1 "$T/err")"
[ "$(counter)" = "$before" ] || fail "the refused unseal moved the DA lockout counter ($before -> $(counter))"

# --- PCR 7 changed since enrolment: refused with the reason (PCR 11 back to a signed value by reboot)
"$VOLSEAL_TOP/swtpm/stop" "$SWTPM_PIDFILE"
eval "$("$VOLSEAL_TOP/swtpm/start" "$SWTPM_STATE" --env)"
export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI
"$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" >/dev/null || fail "unseal after reboot"
ok "after a reboot (swtpm restart on the same state) the slot unseals again"
before=$(counter) # (a restart without TPM2_Shutdown counts as one DA failure: measure after it)
tpm2_pcrextend 7:sha256=$(printf dbx-update | sha256sum | cut -d' ' -f1)
set +e
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" 2>"$T/err")
rc=$?
set -e
[ $rc = 1 ] || fail "unseal after PCR 7 change: rc $rc"
contains "$(cat "$T/err")" "PCR 7 changed since enrolment"
ok "PCR 7 change refused: $(head -1 "$T/err")"
[ "$(counter)" = "$before" ] || fail "refused unseals moved the DA lockout counter ($before -> $(counter))"
ok "refused unseals do not move the DA lockout counter"

# --- TPM cleared: the SRK Name differs -> "cleared or replaced" (PCR 7 back to its value first: a slot the
# PCRs cannot satisfy is refused before the SRK is looked at)
"$VOLSEAL_TOP/swtpm/stop" "$SWTPM_PIDFILE"
eval "$("$VOLSEAL_TOP/swtpm/start" "$SWTPM_STATE" --env)"
export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI
"$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
tpm2_clear -c p
set +e
out=$("$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s7" 2>"$T/err")
set -e
contains "$out" "ENOKEY"
contains "$(cat "$T/err")" "the TPM was cleared or replaced"
ok "TPM cleared: $(head -1 "$T/err")"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left after the failures"
[ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions left after the failures"
ok "nothing left loaded after refused unseals"
done_testing
