#!/usr/bin/env bash
# Power loss during the writes of updatable tpm slots (docs/tpm-updatable.md "Power loss"): a `volseal tpm
# prepare --dbx` (one NV_Write of the whole authorized set), the retirement of the superseded state by an
# unlock with --state-dir (one NV_Write), and the enrolment of STATE's updatable slot (the index defined and
# written, then the seal, keyslot and token). Each TPM write is cut right before and right after it
# (tests/lib/powerloss.sh tpm_powerloss); the enrolment is also cut at every write-class call on STATE's
# image (powerloss; EPHEMERAL's formatting is powerloss-format's). After every cut, with the TPM restarted (the machine lost power): the
# index holds the old set or the new one, the volumes still open (by tpm, or by the recovery key while
# enrolment was cut), and the next run finishes the job. Prepare and retirement write no file.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/esl.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/relay.sh"
. "$TOP/tests/lib/powerloss.sh"
. "$TOP/tests/lib/updatable.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
flush_all
snapshot() { cp "$STATE" "$T/$1.state.img"; cp "$EPH" "$T/$1.eph.img"; rm -rf "$T/$1.dir"; cp -a "$T/state" "$T/$1.dir"; tpm_save "$T/$1.tpm"; }
restore() {
  cp "$T/$1.state.img" "$STATE"; cp "$T/$1.eph.img" "$EPH"
  rm -rf "$T/state"; cp -a "$T/$1.dir" "$T/state"; tpm_restore "$T/$1.tpm"
}
# the node between the installation's two unlocks: STATE formatted, the updatable slots not enrolled yet
updatable_between() { snapshot installing; reboot "$T/uki1.efi"; }  # the snapshot restarted the swtpm
updatable_install
snapshot installed

# --- tpm prepare --dbx: the set is A, or A and B; this boot and, after the update, the next one open by tpm
PREPARE=("$VOLSEAL" tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --dbx "$T/update.esl"
  --eventlog "$T/eventlog.bin")
PL_FILES=("$STATE" "$EPH" "$T/state/volseal-tpm-authority")
pl_reset() { restore installed; reboot "$T/uki1.efi"; }
pl_reset
_pl_run "$T/pl-files.log" 0 "${PREPARE[@]}" || fail "prepare failed"
[ ! -s "$T/pl-files.log" ] || fail "prepare wrote to the images or the authority: $(tr '\n' ' ' < "$T/pl-files.log")"
run_volseal 0 "${PREPARE[@]:1}" --json
B=$(vol STATE '.authorized.states[1]."7"')
[ -n "$B" ] && [ "$B" != null ] && [ "$B" != "$A" ] || fail "no prepared state"
pl_check() {
  reboot "$T/uki1.efi"
  # cut before the NV_Write: the old set; after it: the new one (the TPM wrote it whole)
  case $1 in *before) want="$A" ;; *) want="$A $B" ;; esac
  [ "$(states)" = "$want" ] || fail "after the cut ($1) the index holds $(states), not $want"
  tunlock 0 "$T/c.yaml"
  opened_by 0 || fail "the current boot no longer opens by tpm: $OUT"
  run_volseal 0 "${PREPARE[@]:1}"
  [ "$(states)" = "$A $B" ] || fail "prepare run again: $(states)"
  setvar dbx "$T/dbx2.esl"
  reboot "$T/uki1.efi"
  setvar dbx "$T/dbx.esl"
  tunlock 0 "$T/c.yaml"
  opened_by 0 || fail "the prepared boot does not open by tpm: $OUT"
}
tpm_powerloss prepare -- "${PREPARE[@]}"

# --- retirement: booted in B, the unlock with --state-dir retires A
restore installed
reboot "$T/uki1.efi"
run_volseal 0 "${PREPARE[@]:1}"
setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
snapshot prepared
RETIRE=("$VOLSEAL" unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
  --state-dir "$T/state" --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem")
pl_reset() { restore prepared; reboot "$T/uki1.efi"; }
pl_reset
_pl_run "$T/pl-files.log" 0 "${RETIRE[@]}" || fail "the retiring unlock failed"
[ ! -s "$T/pl-files.log" ] || fail "the retirement wrote to the images or the authority: $(tr '\n' ' ' < "$T/pl-files.log")"
[ "$(states)" = "$B" ] || fail "the unlock with --state-dir did not retire A: $(states)"
pl_check() {
  reboot "$T/uki1.efi"
  case $1 in *before) want="$A $B" ;; *) want="$B" ;; esac
  [ "$(states)" = "$want" ] || fail "after the cut ($1) the index holds $(states), not $want"
  tunlock 0 "$T/c.yaml" --state-dir "$T/state"
  opened_by 0 || fail "the boot after the cut does not open by tpm: $OUT"
  [ "$(states)" = "$B" ] || fail "the next unlock did not retire A: $(states)"
  setvar dbx "$T/dbx.esl"
  reboot "$T/uki1.efi"
  setvar dbx "$T/dbx2.esl"
  tunlock 2 "$T/c.yaml"
  [ "$(vol STATE .state)" = not-opened ] || fail "dbx rolled back opens: $OUT"
}
tpm_powerloss retirement -- "${RETIRE[@]}"
setvar dbx "$T/dbx.esl"

# --- enrolment of the updatable slots (STATE mounted): cut at every TPM write and every file write
ENROL=("$VOLSEAL" unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
  --state-dir "$T/state" --recovery-key-file "$RK"
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem")
pl_reset() { restore installing; reboot "$T/uki1.efi"; }
pl_check() {
  reboot "$T/uki1.efi"
  opens "$STATE" 1 "$(cat "$RK")" || fail "the recovery key no longer opens STATE"
  tunlock 0 "$T/c.yaml" --state-dir "$T/state" --recovery-key-file "$RK"
  [ "$(vol STATE .opened_by_slot)" = 0 ] || [ "$(vol STATE .opened_by_slot)" = 1 ] || fail "STATE after the cut: $OUT"
  case $(vol EPHEMERAL .state) in formatted|opened) ;; *) fail "EPHEMERAL after the cut: $OUT" ;; esac
  reboot "$T/uki1.efi"
  tunlock 0 "$T/c.yaml"
  opened_by 0 || fail "the next boot does not open by tpm: $OUT"
  [ "$(states)" = "$A" ] || fail "authorized after the enrolment: $(states)"
}
tpm_powerloss enrolment -- "${ENROL[@]}"
PL_FILES=("$STATE")
PL_MIN=5
powerloss enrolment-files -- "${ENROL[@]}"
done_testing
