#!/usr/bin/env bash
# Rescue (docs/rescue.md): `volseal unlock --disk IMAGE` on a whole Talos-layout disk image (GPT: META, STATE,
# EPHEMERAL, u-data) where there are no partition device nodes: partitions found by PARTLABEL in the image's
# own table, each LUKS2 header read at its partition offset and validated (the detached copy of docs/security.md),
# keys checked with --check; only some keys available (static passphrase only; nodeID with the node's
# UUID; STATE's config from META tag 9). The disk image is never written (sha256 before/after).
# Activation (a loop device over the partition) needs device-mapper: here it must stop at "device-mapper is
# not available" and leave no loop device behind.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"

# --- a Talos node's volumes, formatted by volseal one file each, as the node's first boot would
volumes_config "$T/node.yaml" "STATE provider=luks2 0:nodeID 1:static:state-recovery" "EPHEMERAL 0:nodeID" \
  "u-data 0:nodeID 2:static:data-recovery"
for v in state eph user; do truncate -s 20M "$T/$v.part"; done
truncate -s 1M "$T/meta.part"
run_volseal 0 unlock -c "$T/node.yaml" --volume "STATE=$T/state.part" --volume "EPHEMERAL=$T/eph.part" \
  --volume "u-data=$T/user.part" --meta "$T/meta.part" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol EPHEMERAL .state)" = formatted ] && [ "$(vol u-data .state)" = formatted ] ||
  fail "node setup: $OUT"
"$VOLSEAL" meta get 9 --meta "$T/meta.part" | grep -q KeyNodeID || fail "META tag 9 does not hold STATE's config"

# --- the disk image: GPT with Talos's partition labels; each partition's bytes copied in at its offset
truncate -s 90M "$T/disk.img"
sfdisk -q "$T/disk.img" <<'S'
label: gpt
start=2048, size=2048, name=META
size=40960, name=STATE
size=40960, name=EPHEMERAL
size=40960, name=u-data
size=20480, name=u-empty
S
start() { sfdisk -J "$T/disk.img" | jq -r --arg n "$1" '.partitiontable.partitions[] | select(.name == $n) | .start'; }
for p in META:meta STATE:state EPHEMERAL:eph u-data:user; do
  dd if="$T/${p#*:}.part" of="$T/disk.img" bs=512 seek="$(start "${p%%:*}")" conv=notrunc,sparse status=none
done
[ "$(start STATE)" = 4096 ] || fail "unexpected layout: $(sfdisk -d "$T/disk.img")"
sum=$(image_sum "$T/disk.img")
ok "a GPT disk image with META, STATE, EPHEMERAL, u-data (LUKS2 each) and an empty u-empty partition"

# rescue EXIT CONFIG [ARGS...]: unlock --disk --check --json on the image; the image stays unchanged.
rescue() {
  local want=$1 cfg=$2; shift 2
  run_volseal "$want" unlock -c "$cfg" --disk "$T/disk.img" --check --json "$@"
  [ "$(image_sum "$T/disk.img")" = "$sum" ] || fail "unlock --disk wrote to the disk image"
}

# --- every key: nodeID with the node's UUID (from `talosctl get systeminfo`, here the file)
rescue 0 "$T/node.yaml" --product-uuid-file "$T/product_uuid"
[ "$(vol STATE .state)/$(vol STATE .opened_by_slot)" = opened/0 ] || fail "STATE: $OUT"
[ "$(vol STATE .partition)/$(vol STATE .offset)" = "2/$((4096 * 512))" ] || fail "STATE partition/offset: $OUT"
[ "$(vol EPHEMERAL .state)/$(vol EPHEMERAL .partition)" = opened/3 ] || fail "EPHEMERAL: $OUT"
[ "$(vol u-data .state)/$(vol u-data .opened_by_slot)" = opened/0 ] || fail "u-data: $OUT"
[ "$(slot_status STATE 1)" = not-checked ] || fail "STATE slot 1 was synced/checked in rescue: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 1) | .detail')" "--disk is read-only"
[ "$(vol STATE .device)" = "$T/disk.img" ] || fail "device: $OUT"
ok "every volume of the image opens by nodeID at its partition offset (--check); slot 1 not touched"

# --- only a static passphrase (no UUID at all): STATE and u-data by their recovery passphrases
volumes_config "$T/static.yaml" "STATE 1:static:state-recovery" "u-data 2:static:data-recovery"
rescue 0 "$T/static.yaml" --product-uuid-file /nonexistent
[ "$(vol STATE .opened_by_slot)" = 1 ] && [ "$(vol u-data .opened_by_slot)" = 2 ] || fail "static only: $OUT"
ok "only the static passphrases: STATE by slot 1, u-data by slot 2"

# --- STATE's config from the image's META (tag 9): the rescue config names only the user volume
volumes_config "$T/user-only.yaml" "u-data 0:nodeID"
rescue 0 "$T/user-only.yaml" --product-uuid-file "$T/product_uuid"
[ "$(vol STATE .state)/$(vol STATE .opened_by_slot)" = opened/0 ] || fail "STATE from META tag 9: $OUT"
[ "$(vol u-data .state)" = opened ] || fail "u-data: $OUT"
run_volseal 0 unlock -c "$T/user-only.yaml" --disk "$T/disk.img" --check --product-uuid-file "$T/product_uuid"
contains "$ERR" "is stored in plain text in META tag 9 ($T/disk.img partition 1 (META))"
contains "$OUT" "STATE: opened by slot 0 ($T/disk.img partition 2 at offset 2097152)"
[ "$(image_sum "$T/disk.img")" = "$sum" ] || fail "unlock --disk wrote to the disk image"
ok "STATE's keys from the META partition inside the image (tag 9), read-only"

# --- the wrong machine: nothing opens, nothing written
echo 11111111-2222-3333-4444-555555555555 >"$T/other_uuid"
volumes_config "$T/nodeid.yaml" "STATE 0:nodeID" "u-data 0:nodeID"
rescue 2 "$T/nodeid.yaml" --product-uuid-file "$T/other_uuid"
[ "$(vol STATE .state)" = not-opened ] && [ "$(vol u-data .state)" = not-opened ] || fail "wrong UUID: $OUT"
contains "$(vol STATE '.errors | join(";")')" "the nodeID key does not open keyslot 0"
ok "another machine's UUID opens nothing (exit 2), image unchanged"

# --- status --disk: read-only inspection of the image
run_volseal 0 status -c "$T/node.yaml" --disk "$T/disk.img" --json --product-uuid-file "$T/product_uuid"
[ "$(slot_status STATE 0)/$(slot_status STATE 1)" = opens/opens ] || fail "status --disk: $OUT"
[ "$(image_sum "$T/disk.img")" = "$sum" ] || fail "status --disk wrote to the image"
ok "status --disk tests every configured key of every partition (STATE: nodeID and static open)"

# --- an empty partition is never formatted; a missing label is named
volumes_config "$T/empty.yaml" "u-empty 0:static:x" "u-missing 0:static:x"
rescue 2 "$T/empty.yaml"
contains "$(vol u-empty '.errors | join(";")')" "holds no LUKS2 header; --disk never formats"
[ "$(vol u-empty .state)" = not-opened ] || fail "u-empty: $OUT"
contains "$(vol u-missing '.errors | join(";")')" "no partition labelled u-missing on $T/disk.img"
ok "an empty partition is not formatted (exit 2), a missing one is named (exit 4)"

# --- a tampered header inside the image (cipher_null on STATE) is refused at the partition offset
cp --sparse=always "$T/disk.img" "$T/clean.img"
dd if="$T/disk.img" of="$T/state.hdr" bs=512 skip=4096 count=40960 status=none
"$TOP/tests/lib/luks2-tamper" "$T/state.hdr" cipher-null
dd if="$T/state.hdr" of="$T/disk.img" bs=512 seek=4096 conv=notrunc status=none
sum=$(image_sum "$T/disk.img")
rescue 2 "$T/node.yaml" --product-uuid-file "$T/product_uuid"
contains "$(vol STATE '.errors | join(";")')" "refused the LUKS2 header on $T/disk.img: segment 0 uses cipher_null"
[ "$(vol EPHEMERAL .state)" = opened ] || fail "EPHEMERAL should still open: $OUT"
cp --sparse=always "$T/clean.img" "$T/disk.img"
sum=$(image_sum "$T/disk.img")
ok "a cipher_null STATE header inside the image is refused (partition offset), the other volumes open"

# --- activation: a loop device over the partition; without device-mapper it stops there and cleans up
set +e
"$VOLSEAL" unlock -c "$T/static.yaml" --disk "$T/disk.img" --product-uuid-file /nonexistent >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 4 ] || fail "activation without device-mapper: exit $rc: $(cat "$T/out" "$T/err")"
contains "$(cat "$T/out")" "device-mapper is not available"
[ -z "$(losetup -j "$T/disk.img")" ] || fail "a loop device was left behind: $(losetup -j "$T/disk.img")"
[ "$(image_sum "$T/disk.img")" = "$sum" ] || fail "activation attempt wrote to the image"
ok "activation goes through a loop device (autoclear): no device-mapper here -> exit 4, no loop device left"

# --- usage
run_volseal 1 unlock -c "$T/node.yaml" --disk "$T/disk.img" --cap-phase x
contains "$ERR" "--cap-phase is for booting, not for --disk"
run_volseal 1 tpm reseal --force -c "$T/node.yaml" --disk "$T/disk.img"
contains "$ERR" "--disk is read-only rescue"
ok "--disk refuses --cap-phase, and tpm reseal refuses --disk"
done_testing
