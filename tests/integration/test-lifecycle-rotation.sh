#!/usr/bin/env bash
# The seed's two-step rotation (add the new key, reboot, remove the old one, reboot) with luksDump checked
# after each step; a one-step rotation (no unchanged key) refused with the header bytes unchanged; stale
# tokens repaired; a changed slot replaced when no spare slot is free.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"

EPH=$(img eph)
VOLUMES=(--volume "EPHEMERAL=$EPH")
eph_config() { # FILE "SLOT:PASSPHRASE"...
  local f=$1; shift
  printf 'apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n' >"$f"
  for k in "$@"; do printf '    - static:\n        passphrase: %s\n      slot: %s\n' "${k#*:}" "${k%%:*}" >>"$f"; done
}

eph_config "$T/old.yaml" 0:oldkey
unlock 0 "$T/old.yaml"
[ "$(slots "$EPH")" = 0 ] && opens "$EPH" 0 oldkey || fail "first boot: slots $(slots "$EPH")"
ok "boot with the old key: slot 0"

# Step 1: add the new key next to the old one.
eph_config "$T/step1.yaml" 0:oldkey 1:newkey
unlock 0 "$T/step1.yaml"
[ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] && [ "$(slot_status EPHEMERAL 1)" = added ] || fail "step 1: $OUT"
[ "$(slots "$EPH")" = "0 1" ] && opens "$EPH" 0 oldkey && opens "$EPH" 1 newkey || fail "step 1 luksDump: $(slots "$EPH")"
ok "rotation step 1: new key added in slot 1, old key still opens slot 0"

# Step 2: remove the old key.
eph_config "$T/step2.yaml" 1:newkey
unlock 0 "$T/step2.yaml"
[ "$(vol EPHEMERAL .opened_by_slot)" = 1 ] && [ "$(slot_status EPHEMERAL 0)" = removed ] || fail "step 2: $OUT"
[ "$(slots "$EPH")" = 1 ] && opens "$EPH" 1 newkey && ! opens "$EPH" 0 oldkey || fail "step 2 luksDump: $(slots "$EPH")"
unlock 0 "$T/step2.yaml"
[ "$(vol EPHEMERAL .state)" = opened ] || fail "reboot after rotation: $OUT"
ok "rotation step 2: old slot 0 destroyed, the new key opens slot 1"

# One-step rotation: no configured key is unchanged -> refused, nothing written.
sum=$(header_sum "$EPH")
eph_config "$T/onestep.yaml" 1:otherkey
unlock 2 "$T/onestep.yaml"
[ "$(vol EPHEMERAL .state)" = not-opened ] || fail "one-step: $OUT"
contains "$(vol EPHEMERAL '.errors[]')" "keep at least one unchanged key and rotate in two steps"
contains "$(vol EPHEMERAL '.errors[]')" "slot 1 (static): the static key does not open keyslot 1"
eph_config "$T/moved.yaml" 2:newkey
unlock 2 "$T/moved.yaml"
contains "$(vol EPHEMERAL '.errors[]')" "keyslot 2 is empty"
[ "$(header_sum "$EPH")" = "$sum" ] || fail "a refused rotation changed the header"
ok "one-step rotation (changed or moved key) refused before any write"

# Stale tokens: one without its keyslot, one on a slot whose kind has no token.
printf '{"type":"sideroKMS","keyslots":[],"UserData":{}}' | cryptsetup token import --token-id 5 "$EPH"
printf '{"type":"talos-tpm2","keyslots":[],"UserData":{}}' | cryptsetup token import --token-id 1 "$EPH"
[ "$(tokens "$EPH")" = "1 5" ] || fail "setup: tokens $(tokens "$EPH")"
run_volseal 0 status -c "$T/step2.yaml" "${VOLUMES[@]}" --json
contains "$(vol EPHEMERAL '.pending[]')" "remove stale token 5 (sideroKMS)"
contains "$(vol EPHEMERAL '.pending[]')" "remove stale token 1 (talos-tpm2)"
unlock 0 "$T/step2.yaml"
[ -z "$(tokens "$EPH")" ] || fail "stale tokens left: $(tokens "$EPH")"
opens "$EPH" 1 newkey || fail "repair broke slot 1"
ok "stale tokens (no keyslot; on a static slot) are repaired, not fatal"

# A keyslot the config does not name (added by hand) is removed.
printf handkey >"$T/hk"; printf newkey >"$T/nk"
cryptsetup luksAddKey -q --key-slot 7 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-force-iterations 4 --key-file "$T/nk" "$EPH" "$T/hk"
[ "$(slots "$EPH")" = "1 7" ] || fail "setup: slot 7 not added: $(slots "$EPH")"
unlock 0 "$T/step2.yaml"
[ "$(slot_status EPHEMERAL 7)" = removed ] && [ "$(slots "$EPH")" = 1 ] || fail "unconfigured slot 7 not removed: $OUT"
ok "a keyslot not in the config is removed"

# No spare slot: all 32 slots configured, slot 5 changes -> destroyed and re-added (slot 0 unchanged).
FULL=$(img full)
VOLUMES=(--volume "EPHEMERAL=$FULL")
keys=(); for s in $(seq 0 31); do keys+=("$s:key$s"); done
eph_config "$T/full.yaml" "${keys[@]}"
unlock 0 "$T/full.yaml"
[ "$(slots "$FULL" | wc -w)" = 32 ] || fail "32 slots not enrolled: $(slots "$FULL")"
keys[5]=5:changed5
eph_config "$T/full2.yaml" "${keys[@]}"
unlock 0 "$T/full2.yaml"
[ "$(slot_status EPHEMERAL 5)" = replaced ] && opens "$FULL" 5 changed5 && ! opens "$FULL" 5 key5 || fail "no-spare replace: $OUT"
[ "$(slots "$FULL" | wc -w)" = 32 ] && opens "$FULL" 0 key0 || fail "no-spare replace lost a slot"
ok "with every slot taken, a changed slot is replaced in place (the opening key is untouched)"

done_testing
