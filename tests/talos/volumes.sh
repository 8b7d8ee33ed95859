#!/usr/bin/env bash
# volumes.sh: the volume kinds of a Talos config as `volseal unlock` and `volseal status` meet them
# (docs/talos.md "Raw and swap volumes, `volumeType: disk`"), on LUKS2 image files with --check,
# cryptsetup as the second opinion:
# - RawVolumeConfig r-NAME and SwapVolumeConfig s-NAME with encryption are formatted and opened like user
#   volumes (Talos: internal/app/machined/pkg/controllers/block/internal/volumes/volumeconfig/user_volumes.go
#   locates them by the PARTLABEL r-NAME / s-NAME and encrypts them with the same handler as u-NAME);
# - a UserVolumeConfig with volumeType: disk (a whole disk Talos picks by its CEL diskSelector: WithDiskLocator,
#   no label) is reported per volume, "whole-disk volume: pass --volume u-NAME=DEVICE", exit 4, and opens
#   once --volume names it; rescue (--disk) says the same and finds r-/s- partitions by PARTLABEL;
# - a volumeType: directory volume is reported unencrypted (Talos refuses encryption for it: the corpus row
#   configs/user-volume-directory-encrypted.yaml);
# - the v1alpha1 machine.systemDiskEncryption (gap 4) formats and opens STATE and EPHEMERAL, and META tag 9
#   then holds json.Marshal of the v1alpha1 EncryptionConfig, as Talos's setupStateEncryption
#   (internal/app/machined/pkg/controllers/block/volume_config.go) writes it.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"

config "$T/kinds.yaml" <<'Y'
apiVersion: v1alpha1
kind: RawVolumeConfig
name: raw1
provisioning:
  diskSelector:
    match: system_disk
  maxSize: 10MiB
encryption:
  provider: luks2
  keys:
    - slot: 0
      nodeID: {}
    - slot: 1
      static:
        passphrase: raw-recovery
---
apiVersion: v1alpha1
kind: SwapVolumeConfig
name: swap1
provisioning:
  diskSelector:
    match: system_disk
  maxSize: 10MiB
encryption:
  provider: luks2
  keys:
    - slot: 0
      nodeID: {}
---
apiVersion: v1alpha1
kind: UserVolumeConfig
name: whole
volumeType: disk
provisioning:
  diskSelector:
    match: disk.transport == "nvme"
encryption:
  provider: luks2
  keys:
    - slot: 0
      static:
        passphrase: whole-recovery
---
apiVersion: v1alpha1
kind: UserVolumeConfig
name: scratch
volumeType: directory
Y
RAW=$(img raw); SWAP=$(img swap); WHOLE=$(img whole)
VOLUMES=(--volume "r-raw1=$RAW" --volume "s-swap1=$SWAP")

# --- first boot: raw and swap formatted; the whole-disk volume named per volume; the directory unencrypted
unlock 4 "$T/kinds.yaml"
[ "$(vol r-raw1 .state)" = formatted ] && [ "$(vol s-swap1 .state)" = formatted ] || fail "raw/swap: $OUT"
[ "$(slots "$RAW")" = "0 1" ] && [ "$(slots "$SWAP")" = 0 ] || fail "keyslots raw $(slots "$RAW"), swap $(slots "$SWAP")"
[ "$(vol u-whole .state)" = not-found ] || fail "u-whole: $OUT"
contains "$(vol u-whole '.errors[0]')" "volume u-whole: whole-disk volume: pass --volume u-whole=DEVICE"
not_contains "$(vol u-whole '.errors[0]')" "no partition labelled"
[ "$(vol u-scratch .state)" = unencrypted ] || fail "u-scratch: $OUT"
[ "$(printf '%s\n' "$OUT" | jq -r .volume | tr '\n' ' ')" = "u-whole u-scratch r-raw1 s-swap1 " ] || fail "order: $OUT"
ok "raw r-raw1 and swap s-swap1 formatted with their keys; u-whole (volumeType: disk) reported 'pass --volume', exit 4; u-scratch unencrypted"

run_volseal 4 status -c "$T/kinds.yaml" "${VOLUMES[@]}" --product-uuid-file "$T/product_uuid"
contains "$OUT" "r-raw1: luks2"
contains "$OUT" "s-swap1: luks2"
contains "$OUT" "whole-disk volume: pass --volume u-whole=DEVICE"
ok "status says the same for each volume"

# --- the whole disk named: every volume opens, exit 0
VOLUMES+=(--volume "u-whole=$WHOLE")
unlock 0 "$T/kinds.yaml"
[ "$(vol u-whole .state)" = formatted ] || fail "u-whole with --volume: $OUT"
[ "$(vol r-raw1 .state)/$(vol r-raw1 .opened_by_slot)" = opened/0 ] || fail "r-raw1 second boot: $OUT"
[ "$(vol s-swap1 .state)/$(vol s-swap1 .opened_by_slot)" = opened/0 ] || fail "s-swap1 second boot: $OUT"
unlock 0 "$T/kinds.yaml"
[ "$(vol u-whole .state)/$(vol u-whole .opened_by_slot)" = opened/0 ] || fail "u-whole third boot: $OUT"
ok "with --volume u-whole=DEVICE the whole-disk volume formats, then opens; raw and swap open by nodeID"

# cryptsetup opens them with the same keys (Talos's passphrases: nodeID = UUID + volume ID)
printf '%sr-raw1' "$UUID" | cryptsetup open --test-passphrase --key-slot 0 "$RAW" --key-file - ||
  fail "cryptsetup: r-raw1's nodeID passphrase is not UUID + 'r-raw1'"
printf '%ss-swap1' "$UUID" | cryptsetup open --test-passphrase --key-slot 0 "$SWAP" --key-file - ||
  fail "cryptsetup: s-swap1's nodeID passphrase is not UUID + 's-swap1'"
ok "cryptsetup opens r-raw1 and s-swap1 with Talos's nodeID passphrases (UUID + volume ID)"

# --- rescue: a GPT image whose partitions are labelled r-raw1 and s-swap1; u-whole still needs --volume
truncate -s 60M "$T/disk.img"
sfdisk -q "$T/disk.img" <<'S'
label: gpt
start=2048, size=40960, name=r-raw1
size=40960, name=s-swap1
S
start() { sfdisk -J "$T/disk.img" | jq -r --arg n "$1" '.partitiontable.partitions[] | select(.name == $n) | .start'; }
dd if="$RAW" of="$T/disk.img" bs=512 seek="$(start r-raw1)" conv=notrunc,sparse status=none
dd if="$SWAP" of="$T/disk.img" bs=512 seek="$(start s-swap1)" conv=notrunc,sparse status=none
sum=$(image_sum "$T/disk.img")
run_volseal 4 unlock -c "$T/kinds.yaml" --disk "$T/disk.img" --check --json --product-uuid-file "$T/product_uuid"
[ "$(vol r-raw1 .state)/$(vol r-raw1 .partition)" = opened/1 ] || fail "rescue r-raw1: $OUT"
[ "$(vol s-swap1 .state)/$(vol s-swap1 .partition)" = opened/2 ] || fail "rescue s-swap1: $OUT"
contains "$(vol u-whole '.errors[0]')" "whole-disk volume: pass --volume u-whole=DEVICE"
[ "$(image_sum "$T/disk.img")" = "$sum" ] || fail "rescue wrote to the image"
ok "rescue (--disk) finds r-raw1 and s-swap1 by PARTLABEL and opens them; u-whole is named per volume; image unchanged"

# --- machine.systemDiskEncryption of the v1alpha1 document, no VolumeConfig
config "$T/machine.yaml" <<'Y'
version: v1alpha1
machine:
  type: controlplane
  systemDiskEncryption:
    state:
      provider: luks2
      keys:
        - nodeID: {}
          slot: 0
    ephemeral:
      keys:
        - static:
            passphrase: eph-pass
          slot: 0
cluster: {}
Y
STATE=$(img state); EPH=$(img eph); truncate -s 1M "$T/meta.part"
VOLUMES=(--volume "STATE=$STATE" --volume "EPHEMERAL=$EPH")
unlock 0 "$T/machine.yaml" --meta "$T/meta.part"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol EPHEMERAL .state)" = formatted ] || fail "v1alpha1: $OUT"
printf '%sSTATE' "$UUID" | cryptsetup open --test-passphrase --key-slot 0 "$STATE" --key-file - || fail "STATE nodeID"
printf 'eph-pass' | cryptsetup open --test-passphrase --key-slot 0 "$EPH" --key-file - || fail "EPHEMERAL static"
want='{"EncryptionProvider":"luks2","EncryptionKeys":[{"KeyStatic":null,"KeyNodeID":{},"KeyKMS":null,"KeySlot":0,"KeyTPM":null}],"EncryptionCipher":"","EncryptionKeySize":0,"EncryptionBlockSize":0,"EncryptionPerfOptions":null}'
[ "$("$VOLSEAL" meta get 9 --meta "$T/meta.part")" = "$want" ] || fail "tag 9: $("$VOLSEAL" meta get 9 --meta "$T/meta.part")"
unlock 0 "$T/machine.yaml" --meta "$T/meta.part"
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "v1alpha1 second boot: $OUT"
ok "machine.systemDiskEncryption formats and opens STATE and EPHEMERAL; tag 9 = Talos's json.Marshal of the v1alpha1 EncryptionConfig"
done_testing
