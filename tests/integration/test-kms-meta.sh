#!/usr/bin/env bash
# STATE with a kms key, its config taken from META (docs/kms.md, docs/meta.md): the first boot formats STATE with kms (slot 0)
# + nodeID (slot 1) from the machine config and writes tag 9 (KeyKMS.KMSEndpoint checked); a second boot
# whose config has no STATE document opens STATE by the kms slot with tag 9's config; with the KMS down the
# same boot falls back to nodeID and reports the kms slot failed. Real grpcio KMS peer, real
# libcryptsetup on image files (--check), META written by volseal and read back with `volseal meta get`.
# Also: `volseal config validate` refuses an endpoint the KMS client would refuse, at FILE:LINE:COL.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/kms/kms.sh"

META=$T/meta.img
truncate -s 1M "$META"
state_eph_images
kms_start --key-file "$T/kms.key" --log "$T/kms.log"
EP="grpc://127.0.0.1:$KMS_PORT"
volumes_config "$T/first.yaml" "STATE provider=luks2 0:kms:$EP 1:nodeID" "EPHEMERAL 0:nodeID"
volumes_config "$T/no-state.yaml" "EPHEMERAL 0:nodeID"

# --- first boot: the machine config formats STATE with kms + nodeID and writes tag 9
unlock 0 "$T/first.yaml" --meta "$META"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "first boot: $OUT"
[ "$(tokens "$STATE")" = 0 ] || fail "STATE tokens: $(tokens "$STATE")"
json=$("$VOLSEAL" meta get 9 --meta "$META") || fail "tag 9 not written"
[ "$(jq -r '.EncryptionKeys[0].KeySlot, .EncryptionKeys[0].KeyKMS.KMSEndpoint, (.EncryptionKeys[1].KeyNodeID|tostring), .EncryptionKeys[1].KeySlot' <<<"$json" | tr '\n' ' ')" = \
  "0 $EP {} 1 " ] || fail "tag 9 content: $json"
[ "$(jq -r '.EncryptionKeys[0].KeyNodeID, .EncryptionKeys[0].KeyStatic, .EncryptionKeys[1].KeyKMS' <<<"$json" | tr '\n' ' ')" = "null null null " ] || fail "tag 9 kinds: $json"
ok "first boot formats STATE with kms + nodeID and writes tag 9 with KeyKMS.KMSEndpoint"

# --- second boot: no STATE document; STATE opens by the kms slot with tag 9's config
sum=$(image_sum "$META")
: > "$T/kms.log"
unlock 0 "$T/no-state.yaml" --meta "$META"
[ "$(printf '%s\n' "$OUT" | jq -r .volume | tr '\n' ' ')" = "STATE EPHEMERAL " ] || fail "volumes: $OUT"
[ "$(vol STATE .state)" = opened ] && [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "STATE from tag 9: $OUT"
[ "$(slot_status STATE 0)" = opened ] && [ "$(slot_status STATE 1)" = not-tried ] || fail "STATE slots: $OUT"
grep -q "\"method\": \"Unseal\", \"node_uuid\": \"$UUID\"" "$T/kms.log" || fail "the tag 9 boot did not Unseal at the KMS"
[ "$(image_sum "$META")" = "$sum" ] || fail "a boot from tag 9 rewrote META"
ok "a boot without a STATE document opens STATE by the kms slot with the config from META tag 9"

run_volseal 0 status -c "$T/no-state.yaml" "${VOLUMES[@]}" --meta "$META" --product-uuid-file "$T/product_uuid" --json
[ "$(slot_status STATE 0)" = opens ] || fail "status from tag 9: $OUT"
ok "status with the config from tag 9 finds the kms slot opens"

# --- KMS down: the tag 9 boot falls back to nodeID, the kms slot is failed (not "not-tried") and intact
hsum=$(header_sum "$STATE")
kms_stop "$KMS_PID"
unlock 3 "$T/no-state.yaml" --meta "$META"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "KMS down: STATE not opened by nodeID: $OUT"
[ "$(slot_status STATE 0)" = failed ] || fail "KMS down: slot 0: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "KMS $EP is down"
[ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "EPHEMERAL: $OUT"
[ "$(header_sum "$STATE")" = "$hsum" ] || fail "KMS down changed the STATE header"
[ "$(image_sum "$META")" = "$sum" ] || fail "KMS down rewrote META"
ok "KMS down: the tag 9 boot opens STATE by nodeID, the kms slot is reported failed and left intact"

# --- config validate refuses what the KMS client would refuse
for bad in "unix:///run/kms.sock|it names no host" "grpc://kms.example:99999|its port is not a number from 1 to 65535" \
           "https://kms.example:4a|Go's URL parser refuses it: invalid port after host" "grpc://kms.example:|its port is empty"; do
  ep=${bad%%|*}; why=${bad#*|}
  config "$T/bad.yaml" <<Y
apiVersion: v1alpha1
kind: VolumeConfig
name: EPHEMERAL
encryption:
  provider: luks2
  keys:
    - slot: 0
      kms:
        endpoint: "$ep"
Y
  run_volseal 1 config validate -c "$T/bad.yaml"
  contains "$ERR" "$T/bad.yaml:7:7: "
  contains "$ERR" "field encryption.keys[0].kms.endpoint: endpoint \"$ep\" cannot be used: $why"
done
ok "config validate refuses kms endpoints Talos could not dial at FILE:LINE:COL (the client's own parser)"
done_testing
