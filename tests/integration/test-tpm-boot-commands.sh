#!/usr/bin/env bash
# What a boot costs in TPM commands, counted by the relay (tests/lib/tpm-relay.py) in front of swtpm, on LUKS2
# images with real reboots (docs/tpm.md "Commands per unseal", docs/performance.md):
# - the first enrolment persists the SRK at 0x81000001; 4 tpm volumes then open in one run with at most 32
#   commands, one StartAuthSession, no CreatePrimary and no GetCapability;
# - 0x81000001 holding another key, or an EvictControl the TPM refuses: the SRK stays transient (said once),
#   nothing is evicted, and the volumes still open;
# - fallback boots (SecureBoot off: PCR 7 differs; a UKI whose PCR 11 has no signature): each tpm slot is
#   decided in software from one PCR_Read, before any SRK work, with one error line per slot and exit 3;
# - a nodeID key in a lower slot than the tpm key: warned by config validate and once by unlock, and the tpm
#   slot is reported "not tried", never as healthy.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/relay.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
flush_all
make_efivars 1
make_ukis

# volseal talks through the relay (restarted after every reboot: the swtpm's port changes), tpm2-tools and the
# boot simulator directly
boot_relay() { rm -f "$T/inject"; relay_start "$T/capture.bin" "$T/commands.txt" "$T/inject"; }
cmds() { "$TOP/tests/lib/tpm-names" < "$T/commands.txt"; }
count() { grep -o "\b$1\b" <<<"$2" | wc -l; }
# four_volumes: fresh images and $T/c4.yaml, each volume tpm at slot 0 and nodeID at slot 1
four_volumes() {
  local a b c d
  a=$(img a); b=$(img b); c=$(img c); d=$(img d)
  VOLUMES=(--volume "STATE=$a" --volume "EPHEMERAL=$b" --volume "IMAGECACHE=$c" --volume "ETCD=$d")
  volumes_config "$T/c4.yaml" "STATE 0:tpm 1:nodeID" "EPHEMERAL 0:tpm 1:nodeID" "IMAGECACHE 0:tpm 1:nodeID" \
    "ETCD 0:tpm 1:nodeID"
  # ETCD is a partition of its own only with provisioning; without it Talos keeps it as a directory on EPHEMERAL
  # (docs/talos.md)
  sed -i '/^name: ETCD$/a provisioning:\n  maxSize: 1GiB' "$T/c4.yaml"
}
# text_unlock EXIT: the same unlock without --json (warnings reach stderr), $OUT and $ERR
text_unlock() {
  run_volseal "$1" unlock -c "$T/c4.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
    --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
}
opened_by() { # SLOT: every volume of $OUT (JSON) opened by SLOT
  [ "$(printf '%s\n' "$OUT" | jq -r .opened_by_slot | sort -u)" = "$1" ] || fail "not all opened by slot $1: $OUT"
}

# --- the first enrolment persists the SRK at the free 0x81000001
four_volumes
reboot "$T/uki1.efi"; boot_relay
text_unlock 0
enrol=$(cmds)
echo "# enrolment of 4 volumes ($(wc -w <<<"$enrol")): $enrol"
contains "$enrol" "CreatePrimary ReadPublic GetCapability EvictControl FlushContext"
[ "$(count EvictControl "$enrol")" = 1 ] || fail "the SRK was persisted more than once: $enrol"
contains "$(tpm2_getcap handles-persistent)" "0x81000001"
not_contains "$ERR" "transient"
[ "$(tpm2_readpublic -c 0x81000001 -f pem -o "$T/srk.pem" | grep -c 'ecc')" -ge 1 ] || fail "0x81000001 is not an ECC key"
ok "the first enrolment persists the SRK at 0x81000001 (one EvictControl for 4 volumes)"

# --- one run opens 4 tpm volumes: <= 32 commands, one salted session, no CreatePrimary, no GetCapability
reboot "$T/uki1.efi"; boot_relay
tunlock 0 "$T/c4.yaml"
opened_by 0
four=$(cmds)
echo "# unlock of 4 volumes ($(wc -w <<<"$four")): $four"
[ "$(wc -w <<<"$four")" -le 32 ] || fail "more than 32 commands for 4 volumes: $four"
[ "$(count StartAuthSession "$four")" = 1 ] || fail "not exactly one StartAuthSession: $four"
[ "$(count CreatePrimary "$four")" = 0 ] && [ "$(count GetCapability "$four")" = 0 ] || fail "SRK work: $four"
[ "$(count PCR_Read "$four")" = 1 ] && [ "$(count VerifySignature "$four")" = 1 ] || fail "PCRs or signature twice: $four"
[ "$(count Unseal "$four")" = 4 ] || fail "not 4 Unseal: $four"
[ -z "$(tpm2_getcap handles-transient)" ] && [ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "left loaded"
ok "4 tpm volumes open in one run with $(wc -w <<<"$four") TPM commands: one StartAuthSession, no CreatePrimary or GetCapability"
volumes_config "$T/c1.yaml" "STATE 0:tpm 1:nodeID"
VOLUMES=("${VOLUMES[@]:0:2}")
reboot "$T/uki1.efi"; boot_relay
tunlock 0 "$T/c1.yaml"
one=$(cmds)
echo "# unlock of 1 volume ($(wc -w <<<"$one")): $one"
[ "$one" = "PCR_Read ReadPublic Load StartAuthSession LoadExternal PolicyPCR VerifySignature PolicyAuthorize PolicyPCR Unseal FlushContext FlushContext FlushContext" ] ||
  fail "one volume: $one"
ok "1 tpm volume opens with $(wc -w <<<"$one") TPM commands"

# --- 0x81000001 holds another key: never evicted, the SRK stays transient, said once for 4 enrolments
tpm_clear_state
tpm2_createprimary -Q -C o -G rsa2048 -c "$T/other.ctx"
tpm2_evictcontrol -Q -C o -c "$T/other.ctx" 0x81000001
tpm2_readpublic -c 0x81000001 -n "$T/other.name" >/dev/null
flush_all
four_volumes
reboot "$T/uki1.efi"; boot_relay
text_unlock 0
[ "$(grep -c 'the SRK stays transient' <<<"$ERR")" = 1 ] || fail "not said exactly once: $ERR"
contains "$ERR" "persistent handle 0x81000001 holds another key and volseal never evicts"
[ "$(count EvictControl "$(cmds)")" = 0 ] || fail "EvictControl sent: $(cmds)"
tpm2_readpublic -c 0x81000001 -n "$T/other.name2" >/dev/null
cmp -s "$T/other.name" "$T/other.name2" || fail "the key at 0x81000001 was replaced"
reboot "$T/uki1.efi"; boot_relay
tunlock 0 "$T/c4.yaml"
opened_by 0
[ "$(count CreatePrimary "$(cmds)")" = 1 ] || fail "transient SRK not created once: $(cmds)"
ok "0x81000001 holding another key: kept, the SRK stays transient (said once), the volumes open ($(wc -w <<< "$(cmds)") commands)"

# --- the TPM refuses the EvictControl (as with an owner password): transient, said once, volumes open
tpm2_evictcontrol -Q -C o -c 0x81000001
four_volumes
reboot "$T/uki1.efi"; boot_relay
echo "refuse:0x120:0x9a2" > "$T/inject"
text_unlock 0
[ ! -e "$T/inject" ] || fail "the relay did not refuse the EvictControl: $(cmds)"
[ "$(grep -c 'the SRK stays transient' <<<"$ERR")" = 1 ] || fail "not said exactly once: $ERR"
contains "$ERR" "cannot persist the SRK at 0x81000001: TPM2_EvictControl failed"
[ -z "$(tpm2_getcap handles-persistent)" ] || fail "something persisted: $(tpm2_getcap handles-persistent)"
reboot "$T/uki1.efi"; boot_relay
tunlock 0 "$T/c4.yaml"
opened_by 0
ok "a refused EvictControl: the SRK stays transient (said once), the volumes open"

# --- fallback boots: one PCR_Read per tpm slot and nothing else, one error line per slot, exit 3
# fallback CAUSE: text unlock of the 4 volumes (exit 3), nodeID opens each; checks the commands and stderr
fallback() {
  text_unlock 3
  local c; c=$(cmds)
  echo "# fallback boot, $1, 4 volumes ($(wc -w <<<"$c")): $c"
  [ -n "$c" ] && [ "$(tr ' ' '\n' <<<"$c" | sort -u)" = PCR_Read ] && [ "$(count PCR_Read "$c")" -le 4 ] ||
    fail "$1: more than one PCR_Read per slot: $c"
  [ "$(grep -c 'error: ' <<<"$ERR")" = 4 ] || fail "$1: not one error line per slot: $ERR"
  local id
  for id in STATE EPHEMERAL IMAGECACHE ETCD; do
    [ "$(grep -c "error: volume $id slot 0 (tpm): " <<<"$ERR")" = 1 ] || fail "$1: $id: $ERR"
  done
  contains "$ERR" "$2"
  [ -z "$(tpm2_getcap handles-transient)" ] && [ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "left loaded"
}
reboot "$T/uki1.efi"; boot_relay
tunlock 0 "$T/c4.yaml"   # the SRK is transient here (the refused EvictControl): no SRK work below either
printf '\x00' > "$T/sb0"; setvar SecureBoot "$T/sb0"
reboot "$T/uki1.efi"; boot_relay
fallback "SecureBoot off" "PCR 7 changed since enrolment"
tunlock 3 "$T/c4.yaml"
opened_by 1
[ "$(printf '%s\n' "$OUT" | jq -r '.slots[] | select(.slot == 0) | .status' | sort -u)" = failed ] || fail "slot 0: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "not re-sealed automatically: SecureBoot is not enabled"
ok "SecureBoot off: each tpm slot refused after one PCR_Read (no CreatePrimary, Load, StartAuthSession or Unseal), one error line each, exit 3"
setvar SecureBoot "$T/sb"
reboot "$T/uki-mod.efi"; boot_relay
fallback "unsigned PCR 11" "no signed policy matches PCR 11"
ok "a UKI whose PCR 11 has no signature: each tpm slot refused after one PCR_Read, one error line each, exit 3"

# --- slot order: nodeID before tpm is warned about, and the tpm slot is "not tried", never healthy
reboot "$T/uki1.efi"; boot_relay
a=$(img order)
VOLUMES=(--volume "STATE=$a")
volumes_config "$T/c4.yaml" "STATE 0:nodeID 1:tpm"
run_volseal 0 config validate -c "$T/c4.yaml"
contains "$ERR" "volume STATE: slot 0 (nodeID) always opens the volume and is tried before slot 1 (tpm)"
contains "$OUT" "valid: 1 volume"
text_unlock 0
[ "$(grep -c 'always opens the volume' <<<"$ERR")" = 1 ] || fail "unlock did not warn once: $ERR"
: > "$T/commands.txt"
tunlock 0 "$T/c4.yaml"
# --json keeps stdout for the JSON; the warning still reaches stderr (an initramfs prints both)
[ "$(grep -c 'always opens the volume' <<<"$ERR")" = 1 ] || fail "unlock --json did not warn once on stderr: $ERR"
[ "$(slot_status STATE 1)" = not-tried ] || fail "the tpm slot reads as $(slot_status STATE 1): $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 1) | .detail')" "slot 0 opened the volume"
[ -z "$(cmds)" ] || fail "a boot that never tried the tpm slot sent TPM commands: $(cmds)"
ok "nodeID before tpm: config validate and unlock warn (once, also with --json), the tpm slot is reported not tried"
flush_all
done_testing
