#!/usr/bin/env bash
# Crash consistency: power lost as disks lose it, for every write volseal (and libcryptsetup, libblkid)
# makes (docs/security.md "Power loss"; the machinery is tests/lib/crash.sh). Each scenario records one
# operation, builds every crash state of it (unflushed writes dropped, reordered, torn) and checks each:
# the volume opens with a key the config had before or after the operation (or is still empty when the
# crash came before its first keyslot), and the next `volseal unlock` (check-only activation) finishes the
# job. Runs under tests/lib/with-swtpm (the tpm scenarios); a KMS peer serves the kms one.
#
# Adding a scenario: set up the objects, then
#   CR_OBJECTS=(NAME=IMAGE-OR-DIR...); CR_VOLS=(ID...); CR_BEFORE=old.yaml; CR_AFTER=new.yaml; CR_ARGS=(...)
#   cr_check() { cr_check_volumes; more checks...; }
#   crash_scenario NAME -- COMMAND...
# A STATE file (the salt, tpm material) is covered by watching the STATE mount directory (CR_OBJECTS entry
# STATEDIR=$T/state-mnt, CR_ARGS=(--state-dir $T/state-mnt)): its files are then modelled at file level.
set -euo pipefail
# Scratch on tmpfs when there is room: the checks format and sync thousands of images (O_DIRECT and fsync
# as on a disk, at memory speed). A small /dev/shm (containers) falls back to $TMPDIR.
if [ -z "${CRASH_TMPDIR:-}" ] && [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 2097152 ]; then
  CRASH_TMPDIR=/dev/shm
fi
export TMPDIR=${CRASH_TMPDIR:-${TMPDIR:-/tmp}}
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/meta.sh"
. "$TOP/tests/kms/kms.sh"
. "$TOP/tests/lib/relay.sh"
. "$TOP/tests/lib/esl.sh"
. "$TOP/tests/lib/updatable.sh"
. "$TOP/tests/lib/crash.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
# cr_unlock CONFIG: CR_CMD is the recorded command, `volseal unlock` of $VOLUMES with CR_ARGS
cr_unlock() { CR_CMD=("$VOLSEAL" unlock -c "$1" "${VOLUMES[@]}" "${CR_ARGS[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"); }
cr_check() { cr_check_volumes; }
crash_selftest

# ---- format: an empty volume, each key kind first (nodeID or a static key as the second) ----
format_scenario() { # NAME KEY...: EPHEMERAL formatted with KEY... (volumes_config words)
  local name=$1; shift
  EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
  volumes_config "$T/$name.yaml" "EPHEMERAL $*"
  CR_OBJECTS=("EPHEMERAL=$EPH"); CR_VOLS=(EPHEMERAL); CR_BEFORE=""; CR_AFTER=$T/$name.yaml; CR_MAY_BE_EMPTY=EPHEMERAL
  cr_unlock "$CR_AFTER"
  crash_scenario "$name" -- "${CR_CMD[@]}"
}
CR_ARGS=()
format_scenario format-static 0:static:first-key 1:nodeID
format_scenario format-nodeid 0:nodeID 1:static:second-key
kms_start --key-file "$T/kms.key"
format_scenario format-kms "0:kms:grpc://127.0.0.1:$KMS_PORT" 1:nodeID

# ---- key sync: one unlock adds slot 3, replaces slot 1 (spare slot, destroy, re-add, spare gone), removes 2 ----
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/sync-old.yaml" "EPHEMERAL 0:static:keep 1:static:before 2:static:extra"
volumes_config "$T/sync-new.yaml" "EPHEMERAL 0:static:keep 1:static:after 3:static:added"
unlock 0 "$T/sync-old.yaml"
CR_OBJECTS=("EPHEMERAL=$EPH"); CR_VOLS=(EPHEMERAL); CR_BEFORE=$T/sync-old.yaml; CR_AFTER=$T/sync-new.yaml; CR_MAY_BE_EMPTY=""
cr_unlock "$CR_AFTER"
crash_scenario sync -- "${CR_CMD[@]}"

# ---- two-step rotation: step 1 adds the new key next to the old, step 2 removes the old ----
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/rot-old.yaml" "EPHEMERAL 0:static:oldkey"
volumes_config "$T/rot-step1.yaml" "EPHEMERAL 0:static:oldkey 1:static:newkey"
volumes_config "$T/rot-step2.yaml" "EPHEMERAL 1:static:newkey"
unlock 0 "$T/rot-old.yaml"
CR_OBJECTS=("EPHEMERAL=$EPH"); CR_BEFORE=$T/rot-old.yaml; CR_AFTER=$T/rot-step1.yaml
cr_unlock "$CR_AFTER"
crash_scenario rotation-step1 -- "${CR_CMD[@]}"
unlock 0 "$T/rot-step1.yaml"
CR_BEFORE=$T/rot-step1.yaml; CR_AFTER=$T/rot-step2.yaml
cr_unlock "$CR_AFTER"
crash_scenario rotation-step2 -- "${CR_CMD[@]}"

# ---- lockToSTATE: the salt file is created on the STATE mount (tmp file, fsync, link, folder fsync), then
# EPHEMERAL is formatted with passphrase + salt. Watched at file level: a salted keyslot whose salt file
# could be lost is a lost volume.
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
mkdir -p "$T/state-mnt"
volumes_config "$T/salt.yaml" "EPHEMERAL 0:static:salted:lockToSTATE 1:nodeID"
CR_OBJECTS=("EPHEMERAL=$EPH" "STATEDIR=$T/state-mnt"); CR_VOLS=(EPHEMERAL); CR_BEFORE=""; CR_AFTER=$T/salt.yaml
CR_MAY_BE_EMPTY=EPHEMERAL; CR_ARGS=(--state-dir "$T/state-mnt")
cr_check() {
  cr_check_volumes
  local salt=$T/state-mnt/encryption-salt.yaml
  opens_salted "$EPH" 0 salted "$salt" || fail "cryptsetup: passphrase + the salt file do not open slot 0"
}
cr_unlock "$CR_AFTER"
crash_scenario salt -- "${CR_CMD[@]}"
# The same when the folder fsync fails (EIO): the salt's name may never reach the disk, so no keyslot may
# be made with it: slot 0 stays pending, nodeID formats; a later unlock (a working disk) adds slot 0.
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
rm -rf "$T/state-mnt"; mkdir "$T/state-mnt"
CR_OBJECTS=("EPHEMERAL=$EPH" "STATEDIR=$T/state-mnt"); CR_FAIL_FSYNC=dir:STATEDIR
cr_reference() {
  cr_reference_volumes
  [[ ${REF[EPHEMERAL]} == "keyslots=1 "* ]] || fail "with the folder fsync failing, slot 0 was made: ${REF[EPHEMERAL]}"
  REF[EPHEMERAL]="keyslots=0 1 tokens= digest=${REF[EPHEMERAL]#*digest=}"
}
cr_unlock "$CR_AFTER"
crash_scenario salt-fsync-eio -- "${CR_CMD[@]}"
CR_FAIL_FSYNC=""
cr_reference() { cr_reference_volumes; }
CR_ARGS=()
cr_check() { cr_check_volumes; }

# ---- META tag 9: an unlock that adds a STATE keyslot and rewrites tag 9 (STATE's config) ----
M=$T/meta.img
truncate -s 1M "$M"
legacy_adv "$M" 6=yes
meta_get() { "$VOLSEAL" meta get "$1" --meta "$M" 2>/dev/null; }
# meta_valid: one META copy (at least) is valid, by an independent reader (tests/lib/adv-state)
meta_valid() { _cr_ask adv "$M"; [[ $REPLY == *copy1=ok* || $REPLY == *copy2=ok* ]] || fail "no valid META copy: $REPLY"; }
meta_complete() { _cr_ask adv "$M"; [ "$REPLY" = "copy1=ok copy2=ok same=yes legacy=ok" ] || fail "META after the next run: $REPLY"; }
# meta_holds TAG OLD NEW: in the crash state META has a valid copy and TAG holds the old or the new value
meta_holds() {
  meta_valid
  local v; v=$(meta_get "$1") || fail "tag $1 is gone"
  [ "$v" = "$2" ] || [ "$v" = "$3" ] || fail "tag $1 is neither the old nor the new value: $v"
}
STATE=$(img state); VOLUMES=(--volume "STATE=$STATE")
volumes_config "$T/t9-old.yaml" "STATE 0:static:state-secret 1:nodeID"
volumes_config "$T/t9-new.yaml" "STATE 0:static:state-secret 1:nodeID 2:static:added"
CR_ARGS=(--meta "$M")
unlock 0 "$T/t9-old.yaml" "${CR_ARGS[@]}"
a9=$(meta_get 9)
CR_OBJECTS=("STATE=$STATE" "META=$M"); CR_VOLS=(STATE); CR_BEFORE=$T/t9-old.yaml; CR_AFTER=$T/t9-new.yaml; CR_MAY_BE_EMPTY=""
cr_reference() { cr_reference_volumes; b9=$(meta_get 9); [ "$a9" != "$b9" ] || fail "tag 9 did not change"; }
cr_check() {
  meta_holds 9 "$a9" "$b9"
  cr_check_volumes
  meta_complete
  [ "$(meta_get 9)" = "$b9" ] || fail "tag 9 after the next unlock: $(meta_get 9)"
}
cr_unlock "$CR_AFTER"
crash_scenario meta-tag9 -- "${CR_CMD[@]}"

# ---- META tag 15 (UUIDOverride): `volseal meta set 15` and the unlock that re-keys the nodeID slot ----
truncate -s 0 "$M"; truncate -s 1M "$M"
legacy_adv "$M" 6=yes
uuid_a=0a0a0a0a-1111-2222-3333-444444444444 uuid_b=0b0b0b0b-5555-6666-7777-888888888888
run_volseal 0 meta set 15 "$uuid_a" --meta "$M"
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/t15.yaml" "EPHEMERAL 0:nodeID 1:static:keep"
unlock 0 "$T/t15.yaml" "${CR_ARGS[@]}"
opens "$EPH" 0 "${uuid_a}EPHEMERAL" || fail "setup: nodeID does not use tag 15"
CR_OBJECTS=("EPHEMERAL=$EPH" "META=$M"); CR_VOLS=(EPHEMERAL); CR_BEFORE=""; CR_AFTER=$T/t15.yaml
cr_reference() { cr_reference_volumes; opens "$EPH" 0 "${uuid_b}EPHEMERAL" || fail "the run did not re-key slot 0"; }
cr_check() {
  meta_holds 15 "$uuid_a" "$uuid_b"
  local u; u=$(meta_get 15)
  cr_check_volumes
  meta_complete
  opens "$EPH" 0 "${u}EPHEMERAL" || fail "after the next unlock nodeID of tag 15 ($u) does not open slot 0"
}
cr_unlock "$CR_AFTER"
{ printf '%q ' "$VOLSEAL" meta set 15 "$uuid_b" --meta "$M"; printf '&& exec '; printf '%q ' "${CR_CMD[@]}"; echo; } >"$T/t15-op.sh"
crash_scenario meta-tag15 -- bash "$T/t15-op.sh"
cr_reference() { cr_reference_volumes; }
CR_ARGS=()
cr_check() { cr_check_volumes; }

# ---- wipe: every keyslot destroyed, then every signature erased; the next wipe and unlock finish it ----
EPH=$(img eph); VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/wipe.yaml" "EPHEMERAL 0:static:wiped 1:nodeID"
unlock 0 "$T/wipe.yaml"
CR_OBJECTS=("EPHEMERAL=$EPH"); CR_VOLS=(); CR_BEFORE=""; CR_AFTER=$T/wipe.yaml
# Wiping destroys the keys on purpose: a crash state may hold the old keys, some of them, or none; what
# must hold is that the next wipe finishes the job and the unlock after it formats.
cr_check() {
  run_volseal 0 wipe EPHEMERAL --volume "EPHEMERAL=$EPH" --yes
  [ -z "$(blkid -p "$EPH" 2>/dev/null)" ] || fail "the next wipe left a signature: $(blkid -p "$EPH")"
  cr_converge "$T/wipe.yaml"
  [ "$CR_RC" = 0 ] && [ "$CR_STATES" = EPHEMERAL=formatted ] || fail "the unlock after the next wipe: $CR_STATES; $OUT"
}
crash_scenario wipe -- "$VOLSEAL" wipe EPHEMERAL --volume "EPHEMERAL=$EPH" --yes
cr_check() { cr_check_volumes; }

# ---- tpm: a signed UKI booted on the swtpm; format with the tpm key first, then the re-seal after PCR 7
# changed (dbx update): nodeID opens, sync replaces tpm slot 0 with its token steps ----
make_efivars 1
make_ukis
reboot "$T/uki1.efi"
CR_ARGS=(--pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem")
format_scenario format-tpm 0:tpm 1:nodeID
STATE=$(img state); VOLUMES=(--volume "STATE=$STATE")
volumes_config "$T/reseal.yaml" "STATE 0:tpm 1:nodeID"
unlock 0 "$T/reseal.yaml" "${CR_ARGS[@]}"
head -c 100 /dev/urandom >"$T/dbx2.esl"; setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
CR_OBJECTS=("STATE=$STATE"); CR_VOLS=(STATE); CR_BEFORE=""; CR_AFTER=$T/reseal.yaml; CR_MAY_BE_EMPTY=""
cr_check() {
  cr_check_volumes
  cr_converge "$T/reseal.yaml"
  [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "the unlock after it does not open by the tpm slot: $OUT"
}
cr_unlock "$CR_AFTER"
crash_scenario reseal -- "${CR_CMD[@]}"
CR_ARGS=()
cr_check() { cr_check_volumes; }

# ---- updatable tpm slots (docs/tpm-updatable.md): their enrolment, `tpm prepare` and the cleanup. These
# write the TPM's NV (the index is defined and written): each crash state is paired with the TPM state at
# the crash (CR_TPM_BOOT; crash.sh), and a sample of the pairs is checked (each check reboots and unseals).
# node_save NAME / node_load NAME: images, the STATE folder and the TPM's NV
node_save() {
  rm -rf "$T/node-$1"; mkdir -p "$T/node-$1/tpm"
  cp "$STATE" "$T/node-$1/state.img"; cp "$EPH" "$T/node-$1/eph.img"; cp -a "$T/state" "$T/node-$1/dir"
  cp "$SWTPM_STATE"/*.permall "$T/node-$1/tpm/"
}
node_load() {
  cp "$T/node-$1/state.img" "$STATE"; cp "$T/node-$1/eph.img" "$EPH"
  find "$T/state" -mindepth 1 -delete; cp -a "$T/node-$1/dir/." "$T/state/"
  power_cycle "$T/uki1.efi" "$T/node-$1/tpm"
}
# updatable_consistent WANT: the authority file on STATE names the one volseal index in the TPM (none left
# behind), and the index authorizes exactly the PCR 7 states WANT
updatable_consistent() {
  local mine at
  mine=$(tpm2_getcap handles-nv-index | sed -n 's/^- 0x\(18056..\)$/0x0\1/p' | tr '\n' ' ')
  at=$(sed -n 's/^nv_index: //p' "$T/state/volseal-tpm-authority")
  [ "$mine" = "$at " ] || fail "volseal's NV indexes in the TPM: '$mine', the authority names $at"
  [ "$(states)" = "$1" ] || fail "the index authorizes $(states), not $1"
}
# updatable_after_crash BEFORE AFTER: the index holds the set BEFORE (the crash came before the NV write) or
# AFTER, and the next unlock (CR_ARGS) opens both volumes by tpm
updatable_after_crash() {
  local want=$1; [ "$CR_TPM_AT" = 0 ] || want=$2
  updatable_consistent "$want"
  cr_check_volumes
  opened_by 0 || fail "the boot does not open both volumes by tpm: $OUT"
}
TARGS=(--pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem")
updatable_between() { node_save installing; }
updatable_install
node_save installed
CR_TPM_SAMPLE=${CR_TPM_SAMPLE_UPDATABLE:-16}
CR_TPM_BOOT=$T/uki1.efi
CR_OBJECTS=("STATE=$STATE" "EPHEMERAL=$EPH" "STATEDIR=$T/state"); CR_VOLS=(STATE EPHEMERAL)
CR_BEFORE=$T/c.yaml; CR_AFTER=$T/c.yaml

# The second installation unlock (STATE mounted): the authority file created on STATE, the index defined and
# written, STATE's updatable slot enrolled (opened by its recovery key), EPHEMERAL formatted (tpm first).
node_load installing
CR_MAY_BE_EMPTY=EPHEMERAL
CR_ARGS=(--state-dir "$T/state" --recovery-key-file "$RK" "${TARGS[@]}")
cr_check() {
  cr_check_volumes
  updatable_consistent "$A"
  power_cycle "$T/uki1.efi"
  CR_ARGS=("${TARGS[@]}")
  cr_converge "$T/c.yaml"
  [ "$CR_RC" = 0 ] && opened_by 0 || fail "the boot after it does not open both volumes by tpm: $OUT"
}
cr_unlock "$CR_AFTER"
crash_scenario updatable-enrol -- "${CR_CMD[@]}"

# The same when every fsync of the STATE folder fails (EIO, nothing flushed), run twice: the authority's name
# may never reach the disk, so no index may be defined and no slot sealed with it, in this run or a later
# one (the file stays in the page cache): the updatable slots stay pending (EPHEMERAL opens by its recovery
# key) until an unlock on a working disk enrols them.
node_load installing
CR_FAIL_FSYNC=dir:STATEDIR
printf '%q ' "${CR_CMD[@]}" >"$T/enrol-twice.sh"; printf '; ' >>"$T/enrol-twice.sh"; printf '%q ' "${CR_CMD[@]}" >>"$T/enrol-twice.sh"
cr_reference() {
  cr_reference_volumes
  REF[STATE]="keyslots=0 1 tokens=0 digest=${REF[STATE]#*digest=}"
  REF[EPHEMERAL]="keyslots=0 1 tokens=0 digest=${REF[EPHEMERAL]#*digest=}"
}
crash_scenario updatable-enrol-fsync-eio --want 3 -- bash "$T/enrol-twice.sh"
CR_FAIL_FSYNC=""
cr_reference() { cr_reference_volumes; }

# `tpm prepare --dbx` on the booted system (state A): one NV write adds B, no file is written. The current
# boot keeps opening by tpm; the index holds A, or A and B; a second prepare converges; the boot after the
# update (B) opens by tpm.
node_load installed
CR_MAY_BE_EMPTY=""; CR_ARGS=("${TARGS[@]}")
PREPARE=("$VOLSEAL" tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --dbx "$T/update.esl" --eventlog "$T/eventlog.bin")
cr_reference() {
  cr_reference_volumes
  B=$(states); B=${B#"$A "}
  [ -n "$B" ] && [ "$B" != "$A" ] || fail "prepare authorized no new state: $(states)"
}
cr_check() {
  updatable_after_crash "$A" "$A $B"
  run_volseal 0 "${PREPARE[@]:1}"
  updatable_consistent "$A $B"
  trap 'setvar dbx "$T/dbx.esl"' EXIT
  setvar dbx "$T/dbx2.esl"
  power_cycle "$T/uki1.efi"
  cr_converge "$T/c.yaml"
  [ "$CR_RC" = 0 ] && opened_by 0 || fail "the prepared boot does not open by tpm: $OUT"
}
crash_scenario tpm-prepare -- "${PREPARE[@]}"

# The cleanup: booted in B, the unlock with --state-dir retires A (one NV write, no file). After it the
# boot opens by tpm, A is gone, and dbx rolled back does not open by tpm.
node_load installed
run_volseal 0 "${PREPARE[@]:1}"
setvar dbx "$T/dbx2.esl"
power_cycle "$T/uki1.efi"
node_save prepared
CR_ARGS=(--state-dir "$T/state" "${TARGS[@]}")
cr_reference() { cr_reference_volumes; [ "$(states)" = "$B" ] || fail "the unlock retired nothing: $(states)"; }
cr_check() {
  updatable_after_crash "$A $B" "$B"
  updatable_consistent "$B"
  trap 'setvar dbx "$T/dbx2.esl"' EXIT
  setvar dbx "$T/dbx.esl"
  power_cycle "$T/uki1.efi"
  CR_ARGS=("${TARGS[@]}")
  cr_converge "$T/c.yaml"
  [ "$(vol STATE .state)" = not-opened ] || fail "dbx rolled back (A) still opens: $OUT"
}
cr_unlock "$CR_AFTER"
crash_scenario tpm-cleanup -- "${CR_CMD[@]}"

# The cleanup by the next prepare: booted in B with A and B authorized, `tpm prepare --pcr 7=C` retires A
# and adds C in one NV write.
node_load prepared
C=$(printf c | sha256sum | cut -c1-64)
PREPARE=("$VOLSEAL" tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "7=$C")
CR_ARGS=("${TARGS[@]}")
cr_reference() { cr_reference_volumes; [ "$(states)" = "$B $C" ] || fail "prepare: $(states)"; }
cr_check() {
  updatable_after_crash "$A $B" "$B $C"
  run_volseal 0 "${PREPARE[@]:1}"
  updatable_consistent "$B $C"
}
crash_scenario tpm-prepare-retire -- "${PREPARE[@]}"
setvar dbx "$T/dbx.esl"
CR_TPM_BOOT=""; CR_TPM_SAMPLE=""; CR_ARGS=()
cr_reference() { cr_reference_volumes; }
cr_check() { cr_check_volumes; }

crash_summary
done_testing
