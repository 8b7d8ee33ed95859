#!/usr/bin/env bash
# First boot formats and enrols every slot; a reboot opens by slot order; a wrong static passphrase falls
# through to nodeID; the sync fingerprint skips re-verification; status and --json; nodeID's entropy rule.
# Real libcryptsetup on image files (--check: no device-mapper here), checked with the real cryptsetup.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"

STATE=$(img state); EPH=$(img eph); USER=$(img user)
VOLUMES=(--volume "STATE=$STATE" --volume "EPHEMERAL=$EPH" --volume "u-data=$USER")
volumes_config "$T/c1.yaml" "STATE provider=luks2 0:nodeID 1:static:state-recovery" "EPHEMERAL 0:static:eph-one 2:nodeID" \
  "u-data cipher=aes-xts-plain64 keySize=256 blockSize=512 3:nodeID"

# --- first boot
unlock 0 "$T/c1.yaml"
[ "$(printf '%s\n' "$OUT" | jq -r .volume | tr '\n' ' ')" = "STATE EPHEMERAL u-data " ] || fail "volumes not in STATE, EPHEMERAL, user order: $OUT"
[ "$(vol STATE .state)" = formatted ] || fail "STATE not formatted: $OUT"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "STATE not formatted with slot 0"
[ "$(slot_status STATE 1)" = added ] || fail "STATE slot 1 not added"
[ "$(vol EPHEMERAL .state)" = formatted ] && [ "$(slot_status EPHEMERAL 2)" = added ] || fail "EPHEMERAL: $OUT"
[ "$(vol u-data .state)" = formatted ] || fail "u-data: $OUT"
[ "$(slots "$STATE")" = "0 1" ] && [ "$(slots "$EPH")" = "0 2" ] && [ "$(slots "$USER")" = "3" ] || fail "luksDump slots: $(slots "$STATE") / $(slots "$EPH") / $(slots "$USER")"
opens "$STATE" 0 "${UUID}STATE" || fail "cryptsetup: nodeID passphrase <uuid>STATE does not open STATE slot 0"
opens "$STATE" 1 state-recovery || fail "cryptsetup: static passphrase does not open STATE slot 1"
opens "$EPH" 0 eph-one && opens "$EPH" 2 "${UUID}EPHEMERAL" || fail "cryptsetup: EPHEMERAL slots"
opens "$USER" 3 "${UUID}u-data" || fail "cryptsetup: user volume slot 3"
! opens "$STATE" 1 "${UUID}STATE" || fail "slot 1 opened with slot 0's key"
[ "$(kdfs "$STATE")" = argon2id ] || fail "non-argon2id keyslot: $(kdfs "$STATE")"
[ "$(digest_iterations "$STATE")" = 1000 ] || fail "volume-key digest not PBKDF2-1000"
dump=$(cryptsetup luksDump --dump-json-metadata "$USER")
[ "$(jq -r '.segments["0"].sector_size' <<<"$dump")" = 512 ] && [ "$(jq -r '.segments["0"].encryption' <<<"$dump")" = aes-xts-plain64 ] &&
  [ "$(jq -r '.keyslots["3"].key_size' <<<"$dump")" = 32 ] || fail "user volume cipher/key size/sector size not as configured: $dump"
[ "$(jq -r '.keyslots["0"].kdf | "\(.time) \(.memory) \(.cpus)"' <<<"$(cryptsetup luksDump --dump-json-metadata "$STATE")")" = "4 32 1" ] || fail "test pbkdf override not applied"
ok "first boot formats STATE, EPHEMERAL, u-data and enrols every slot (checked with cryptsetup, Talos header check)"

# --- reboot: opens by slot order, fingerprint skips re-verification
sum=$(header_sum "$STATE")
unlock 0 "$T/c1.yaml"
[ "$(vol STATE .state)" = opened ] && [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "reboot: $OUT"
[ "$(slot_status STATE 1)" = not-tried ] || fail "reboot re-verified an unchanged slot: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 1) | .detail')" "slot 0 opened the volume"
[ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] && [ "$(vol u-data .opened_by_slot)" = 3 ] || fail "reboot: $OUT"
[ "$(header_sum "$STATE")" = "$sum" ] || fail "an in-sync reboot wrote the header"
ok "reboot opens each volume with its first slot and writes nothing"

unlock 0 "$T/c1.yaml" --full-sync
[ "$(slot_status STATE 1)" = ok ] || fail "--full-sync did not verify slot 1: $OUT"
ok "--full-sync verifies every slot"

unlock 0 "$T/c1.yaml" --no-sync
[ "$(slot_status STATE 1)" = not-checked ] || fail "--no-sync: $OUT"
ok "--no-sync opens only"

# --- the fingerprint notices a header changed behind volseal's back
cryptsetup luksKillSlot -q "$STATE" 1 </dev/null 2>/dev/null
[ "$(slots "$STATE")" = 0 ] || fail "setup: luksKillSlot"
unlock 0 "$T/c1.yaml"
[ "$(slot_status STATE 1)" = added ] || fail "a slot killed outside volseal was not re-added: $OUT"
opens "$STATE" 1 state-recovery || fail "re-added slot 1 does not open"
ok "a keyslot removed outside volseal is re-added (fingerprint covers the header)"

# --- wrong static passphrase in slot 0 falls through to nodeID in slot 2
sed 's/eph-one/eph-two/' "$T/c1.yaml" >"$T/c2.yaml"
unlock 0 "$T/c2.yaml"
[ "$(vol EPHEMERAL .opened_by_slot)" = 2 ] || fail "did not fall through to slot 2: $OUT"
[ "$(slot_status EPHEMERAL 0)" = replaced ] || fail "changed slot 0 not replaced: $OUT"
opens "$EPH" 0 eph-two && ! opens "$EPH" 0 eph-one || fail "slot 0 does not hold the new passphrase"
[ "$(slots "$EPH")" = "0 2" ] || fail "spare slot left behind: $(slots "$EPH")"
ok "a wrong static key falls through to nodeID; the changed slot is replaced power-safely"

# --- status, human and JSON
run_volseal 0 status -c "$T/c2.yaml" "${VOLUMES[@]}" --product-uuid-file "$T/product_uuid"
contains "$OUT" "STATE: luks2"
contains "$OUT" "slot 1  static       opens"
run_volseal 0 status -c "$T/c1.yaml" "${VOLUMES[@]}" --product-uuid-file "$T/product_uuid" --json
[ "$(slot_status EPHEMERAL 0)" = does-not-open ] || fail "status: $OUT"
contains "$(vol EPHEMERAL .pending[])" "replace slot 0 (static)"
[ "$(vol EPHEMERAL .opened_by_slot)" = 2 ] || fail "status opened_by_slot: $OUT"
for key in volume device state opened_by_slot slots errors; do
  [ "$(printf '%s\n' "$OUT" | head -1 | jq "has(\"$key\")")" = true ] || fail "--json lacks $key"
done
ok "status shows which configured key opens each slot and the pending actions; --json has the fields of docs/operations.md"

# --- status of a volume no configured key opens: the error, and no pending sync it could not do
echo 3f1e2d4c-5b6a-4978-8695-a4b3c2d1e0f9 >"$T/other_uuid"
run_volseal 2 status -c "$T/c1.yaml" "${VOLUMES[@]}" --product-uuid-file "$T/other_uuid" --json
contains "$(vol EPHEMERAL '.errors[]')" "no configured key opens volume EPHEMERAL"
[ "$(vol EPHEMERAL '.pending | length')" = 0 ] || fail "status lists a sync for a volume nothing opens: $OUT"
ok "status of a volume no key opens reports that, not a replace"

# --- nodeID entropy rule (Talos's): a placeholder UUID never becomes a key
NEW=$(img new)
VOLUMES=(--volume "STATE=$NEW")
volumes_config "$T/n.yaml" "STATE 0:nodeID"
echo 00000000-0000-0000-0000-000000000000 >"$T/product_uuid"
sum=$(image_sum "$NEW")
unlock 2 "$T/n.yaml"
contains "$(vol STATE '.errors[]')" "machine UUID 00000000-0000-0000-0000-000000000000 entropy check failed"
[ "$(image_sum "$NEW")" = "$sum" ] || fail "entropy failure wrote to the volume"
: >"$T/product_uuid"
unlock 2 "$T/n.yaml"
contains "$(vol STATE '.errors[]')" "machine UUID is not populated"
echo 12121212-1212-1212-1212-121212121212 >"$T/product_uuid" # 16 ones and 16 twos: allowed (<= 18)
unlock 0 "$T/n.yaml"
ok "nodeID entropy rule: zero UUID and empty UUID refused, nothing written"
done_testing
