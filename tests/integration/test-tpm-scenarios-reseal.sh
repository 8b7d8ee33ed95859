#!/usr/bin/env bash
# tpm scenario 4 (the re-seal gate) on swtpm with real reboots; the simulator's EFI variable directory
# (EFIVARFS_PATH) drives PCR 7 and what volseal reads:
# 4a dbx changed (SecureBoot on, PK/KEK/db unchanged): refused, nodeID opens, re-sealed, next boot by tpm,
#    DA lockout counter unchanged;
# 4b SecureBoot off: refused, nodeID opens, NOT re-sealed; `volseal tpm reseal --force` re-seals;
# 4c PK (then db) replaced: NOT re-sealed;
# checkSecurebootStatusOnEnroll with SecureBoot off: enrolment refused (pending), nodeID formats.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
tpm_first_boot "$T/c.yaml"
detail0() { vol STATE '.slots[] | select(.slot == 0) | .detail'; }

# --- 4a: a dbx update
sum=$(token_sum "$STATE")
before=$(lockout_counter)
head -c 100 /dev/urandom > "$T/dbx2.esl"; setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "4a: $OUT"
contains "$(detail0)" "PCR 7 changed since enrolment"
[ "$(slot_status STATE 0)" = replaced ] || fail "4a: not re-sealed: $OUT"
[ "$(token_sum "$STATE")" != "$sum" ] || fail "4a: token unchanged"
[ "$(lockout_counter)" = "$before" ] || fail "4a: the refused unseal moved the lockout counter"
[ "$(kdfs "$STATE")" = argon2id ] && [ "$(slots "$STATE")" = "0 1" ] || fail "4a: keyslots $(slots "$STATE")"
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "4a next boot: $OUT"
ok "scenario 4a: after a dbx update the tpm slot is refused, nodeID opens, sync re-seals, the next boot opens by tpm"

# --- 4b: SecureBoot off
sum=$(token_sum "$STATE")
printf '\x00' > "$T/sb0"; setvar SecureBoot "$T/sb0"
reboot "$T/uki1.efi"
tunlock 3 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "4b: $OUT"
contains "$(detail0)" "not re-sealed automatically: SecureBoot is not enabled"
[ "$(token_sum "$STATE")" = "$sum" ] || fail "4b: re-sealed with SecureBoot off"
tstatus 0 "$T/c.yaml"
not_contains "$(vol STATE '.pending | join(";")')" "replace slot 0"
ok "scenario 4b: SecureBoot off: refused, nodeID opens, not re-sealed (unlock and status)"
run_volseal 1 tpm reseal -c "$T/c.yaml" "${VOLUMES[@]}"
contains "$ERR" "--force"
run_volseal 0 tpm reseal --force -c "$T/c.yaml" "${VOLUMES[@]}" --json --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
[ "$(slot_status STATE 0)" = replaced ] || fail "reseal --force: $OUT"
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "after reseal --force: $OUT"
ok "volseal tpm reseal needs --force; with it the operator re-seals to the current state"

# --- 4c: PK replaced, then db replaced (SecureBoot on again)
setvar SecureBoot "$T/sb"
reboot "$T/uki1.efi"
tunlock 3 "$T/c.yaml"   # SecureBoot back on: PCR 7 differs from the SB-off seal; the token has no hashes
contains "$(detail0)" "not re-sealed automatically"
run_volseal 0 tpm reseal --force -c "$T/c.yaml" "${VOLUMES[@]}" --json --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
for v in PK db; do
  sum=$(token_sum "$STATE")
  cp "$T/efivars/$v-"* "$T/$v.saved"
  head -c 100 /dev/urandom > "$T/$v-new.esl"; setvar $v "$T/$v-new.esl"
  reboot "$T/uki1.efi"
  tunlock 3 "$T/c.yaml"
  [ "$(vol STATE .opened_by_slot)" = 1 ] || fail "4c $v: $OUT"
  contains "$(detail0)" "not re-sealed automatically: $v changed since enrolment"
  [ "$(token_sum "$STATE")" = "$sum" ] || fail "4c: re-sealed after $v was replaced"
  cp "$T/$v.saved" "$T/efivars/$v-"*
done
ok "scenario 4c: PK or db replaced: refused, nodeID opens, not re-sealed"

# --- checkSecurebootStatusOnEnroll with SecureBoot off: enrolment refused
setvar SecureBoot "$T/sb0"
tpm_volume "$T/c2.yaml" "checkSecurebootStatusOnEnroll: true"
reboot "$T/uki1.efi"
tunlock 0 "$T/c2.yaml"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol STATE .opened_by_slot)" = 1 ] || fail "checkSB: $OUT"
[ "$(slot_status STATE 0)" = pending ] || fail "checkSB: $OUT"
contains "$(detail0)" "SecureBoot is not enabled"
[ "$(slots "$STATE")" = "1" ] || fail "checkSB: keyslots $(slots "$STATE")"
setvar SecureBoot "$T/sb"
reboot "$T/uki1.efi"
tunlock 0 "$T/c2.yaml"
[ "$(slot_status STATE 0)" = added ] || fail "checkSB with SecureBoot on: $OUT"
ok "checkSecurebootStatusOnEnroll: SecureBoot off keeps the tpm slot pending; on, sync enrols it"
flush_all
done_testing
