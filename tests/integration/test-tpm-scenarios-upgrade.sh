#!/usr/bin/env bash
# tpm scenarios 2, 3, 5 and 7 on swtpm with real reboots (swtpm/boot) and a LUKS2 image:
# 2. UKI upgrade signed by the same PCR key: opens by tpm, the token is not touched (no re-seal);
# 3. modified UKI (cmdline changed, old .pcrsig): tpm refused (no matching signature), nodeID opens, the tpm
#    slot is not re-sealed, the DA lockout counter does not move;
# 5. TPM cleared (fresh swtpm state): SRK mismatch reported, nodeID opens, sync re-seals, next boot by tpm;
# 7. with swtpm in DA lockout, unlock by tpm still succeeds.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
tpm_first_boot "$T/c.yaml"
[ "$(vol STATE .state)" = formatted ] || fail "first boot: $OUT"
[ "$(kdfs "$STATE")" = argon2id ] || fail "kdfs $(kdfs "$STATE")"
ok "a signed first boot formats with the tpm slot and adds nodeID"

# --- 2: the upgrade
sum=$(token_sum "$STATE")
reboot "$T/uki2.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "upgrade: $OUT"
[ "$(token_sum "$STATE")" = "$sum" ] || fail "upgrade: the token changed (re-sealed)"
ok "scenario 2: a UKI upgrade signed by the same PCR key opens by tpm, no re-seal"

# --- 3: the modified UKI, with the old .pcrsig
before=$(lockout_counter)
reboot "$T/uki-mod.efi"
tunlock 3 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "modified UKI: $OUT"
[ "$(slot_status STATE 0)" = failed ] || fail "modified UKI: slot 0 $(slot_status STATE 0)"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "no signed policy matches PCR 11"
[ "$(token_sum "$STATE")" = "$sum" ] || fail "modified UKI: the tpm slot was re-sealed"
tstatus 0 "$T/c.yaml"
[ "$(vol STATE '.slots[] | select(.slot == 0) | .status')" = unknown ] || fail "status after modified UKI: $OUT"
not_contains "$(vol STATE '.pending | join(";")')" "replace slot 0"
[ "$(lockout_counter)" = "$before" ] || fail "the refused unseal moved the lockout counter"
ok "scenario 3: a modified UKI is refused (no matching signature), nodeID opens, the slot is not re-sealed, lockout counter unchanged"

# --- 7: DA lockout does not stop the tpm slot
reboot "$T/uki1.efi"
tpm2_createprimary -Q -C o -c "$T/da.ctx" -p right
for _ in $(seq 1 10); do
  if tpm2_create -Q -C "$T/da.ctx" -P wrong -u "$T/x.pub" -r "$T/x.priv" 2>"$T/da.err"; then fail "wrong password accepted"; fi
  tpm2_flushcontext -t
  grep -q lockout "$T/da.err" && break
done
tpm2_flushcontext -t
contains "$("$VOLSEAL" tpm info --json)" '"in_lockout":true'
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "in DA lockout: $OUT"
ok "scenario 7: with swtpm in DA lockout, unlock by tpm succeeds (noDA objects)"

# --- 5: TPM cleared
tpm_clear_state
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "cleared TPM: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "cleared or replaced"
[ "$(slot_status STATE 0)" = replaced ] || fail "cleared TPM: slot 0 not re-sealed: $OUT"
[ "$(token_sum "$STATE")" != "$sum" ] || fail "cleared TPM: token unchanged"
[ "$(slots "$STATE")" = "0 1" ] || fail "keyslots $(slots "$STATE")"
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "after re-seal: $OUT"
ok "scenario 5: a cleared TPM is reported (SRK mismatch), nodeID opens, sync re-seals, the next boot opens by tpm"
flush_all
done_testing
