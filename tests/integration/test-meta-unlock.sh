#!/usr/bin/env bash
# test-meta-unlock.sh: META in the boot flow. First boot with the machine config writes STATE's config to
# META tag 9; a second boot whose config has no STATE document opens STATE from tag 9; the machine config
# wins and META follows it; tag 15 replaces the machine UUID of nodeID keys; status warns that a static
# passphrase of STATE is readable in META; a tag 9 that does not parse stops STATE before any write.
# Real libcryptsetup on image files (--check), checked with the real cryptsetup and an independent reader.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"

META=$T/meta.img
truncate -s 1M "$META"
state_eph_images
volumes_config "$T/first.yaml" "STATE 0:static:state-secret 1:nodeID" "EPHEMERAL 0:nodeID"
volumes_config "$T/no-state.yaml" "EPHEMERAL 0:nodeID"
t9() { "$VOLSEAL" meta get 9 --meta "$META"; }

# --- first boot: the machine config has STATE; tag 9 is written after STATE opened
unlock 0 "$T/first.yaml" --meta "$META"
[ "$(vol STATE .state)" = formatted ] || fail "STATE not formatted: $OUT"
opens "$STATE" 0 state-secret || fail "cryptsetup: static slot 0"
json=$(t9) || fail "tag 9 not written"
[ "$(jq -r '.EncryptionKeys[0].KeySlot, .EncryptionKeys[0].KeyStatic.KeyData, (.EncryptionKeys[1].KeyNodeID|tostring), .EncryptionProvider' <<<"$json" | tr '\n' ' ')" = \
  "0 state-secret {} luks2 " ] || fail "tag 9 content: $json"
[ "$(jq -r '.EncryptionKeys[0].KeyNodeID, .EncryptionKeys[1].KeyStatic' <<<"$json" | tr '\n' ' ')" = "null null " ] || fail "tag 9 kinds: $json"
ok "first boot with the machine config writes STATE's config to META tag 9 (Go field names)"

sum=$(image_sum "$META")
unlock 0 "$T/first.yaml" --meta "$META"
[ "$(image_sum "$META")" = "$sum" ] || fail "an unchanged config rewrote META"
ok "tag 9 is written only when it differs"

# --- second boot: no STATE document; STATE opens with the config from tag 9
unlock 0 "$T/no-state.yaml" --meta "$META"
[ "$(printf '%s\n' "$OUT" | jq -r .volume | tr '\n' ' ')" = "STATE EPHEMERAL " ] || fail "volumes: $OUT"
[ "$(vol STATE .state)" = opened ] && [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "STATE from tag 9: $OUT"
[ "$(image_sum "$META")" = "$sum" ] || fail "a boot from tag 9 rewrote META"
ok "a boot whose config has no STATE document opens STATE from META tag 9"

# --- status warns that STATE's static passphrase is readable in META
run_volseal 0 status -c "$T/no-state.yaml" "${VOLUMES[@]}" --meta "$META" --product-uuid-file "$T/product_uuid"
contains "$ERR" "STATE's static passphrase (slot 0) is stored in plain text in META tag 9"
run_volseal 0 status -c "$T/no-state.yaml" "${VOLUMES[@]}" --meta "$META" --product-uuid-file "$T/product_uuid" --json
contains "$(vol STATE '.warnings[0]')" "static passphrase (slot 0) is stored in plain text in META tag 9"
ok "status warns that a static STATE passphrase is visible in META"

# --- the machine config wins: a changed STATE config is used and META follows it
volumes_config "$T/changed.yaml" "STATE 1:nodeID" "EPHEMERAL 0:nodeID"
unlock 0 "$T/changed.yaml" --meta "$META"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "machine config not used: $OUT"
[ "$(slots "$STATE")" = 1 ] || fail "slot 0 not removed by the machine config: $(slots "$STATE")"
[ "$(t9 | jq -c '[.EncryptionKeys[].KeySlot]')" = "[1]" ] || fail "META not updated: $(t9)"
run_volseal 0 status -c "$T/no-state.yaml" "${VOLUMES[@]}" --meta "$META" --product-uuid-file "$T/product_uuid"
not_contains "$ERR" "static passphrase"
ok "the machine config wins over tag 9 and META is updated"

# --- tag 15 replaces the machine UUID of nodeID keys
OVERRIDE=9f3c8a2e-1b4d-4e6f-8a7c-2d5e1f0b3c4a
"$VOLSEAL" meta set UUIDOverride "$OVERRIDE" --meta "$META" || fail "set tag 15"
# STATE (from tag 9: nodeID only) is keyed with the SMBIOS UUID: the override makes it refuse to open.
unlock 2 "$T/no-state.yaml" --meta "$META"
[ "$(vol STATE .state)" = not-opened ] || fail "tag 15 not used for STATE's nodeID key: $OUT"
"$VOLSEAL" meta delete 9 --meta "$META" || fail "delete tag 9"
EPH2=$(img eph2)
VOLUMES=(--volume "EPHEMERAL=$EPH2")
unlock 0 "$T/no-state.yaml" --meta "$META"
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "EPHEMERAL: $OUT"
opens "$EPH2" 0 "${OVERRIDE}EPHEMERAL" || fail "cryptsetup: EPHEMERAL not keyed with the tag 15 UUID"
! opens "$EPH2" 0 "${UUID}EPHEMERAL" || fail "EPHEMERAL keyed with the SMBIOS UUID despite tag 15"
ok "META tag 15 overrides the SMBIOS UUID for nodeID keys"

# --- a tag 9 that does not parse: STATE is a config error, nothing written to any volume
"$VOLSEAL" meta set 9 '{"EncryptionKeys":[{"KeySlot":"one","KeyNodeID":{}}]}' --meta "$META" --force || fail "force-set tag 9"
FRESH=$(img fresh)
sum=$(image_sum "$FRESH")
run_volseal 1 unlock -c "$T/no-state.yaml" --volume "STATE=$FRESH" --volume "EPHEMERAL=$EPH" --meta "$META" --check \
  --product-uuid-file "$T/product_uuid" "${FAST[@]}"
contains "$ERR" "META tag 9 (StateEncryptionConfig): field EncryptionKeys[0].KeySlot: cannot decode string one into an integer"
[ "$(image_sum "$FRESH")" = "$sum" ] || fail "an unparsable tag 9 let unlock write a volume"
ok "tag 9 that does not parse is a config error naming the field; nothing is written"

run_volseal 4 unlock -c "$T/no-state.yaml" "${VOLUMES[@]}" --meta "$T/missing.img" --check
contains "$ERR" "cannot open META"
ok "a missing --meta device is an environment error"
done_testing
