#!/usr/bin/env bash
# Volumes volseal must not format (a filesystem, LUKS1, swap, a partition table: image bytes unchanged),
# `volseal wipe` (keyslots destroyed, then signatures erased, then the next unlock formats), lockToSTATE
# without and with the salt, no device-mapper without --check, a LUKS2 header left without keyslots, and
# Adiantum where the kernel crypto API is reachable.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"

EPH=$(img eph)
VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/eph.yaml" "EPHEMERAL 0:static:ephkey"

refused() { # WHAT: unlock must refuse $EPH, naming WHAT, and leave every byte alone
  local sum; sum=$(image_sum "$EPH")
  unlock 2 "$T/eph.yaml"
  [ "$(vol EPHEMERAL .state)" = foreign ] || fail "not refused: $OUT"
  contains "$(vol EPHEMERAL '.errors[]')" "volume EPHEMERAL on $EPH holds $1; volseal formats only empty volumes: wipe it first (volseal wipe EPHEMERAL)"
  [ "$(image_sum "$EPH")" = "$sum" ] || fail "a refused volume ($1) was written to"
}
mkfs.ext4 -q -F "$EPH"; refused ext4
EPH=$(img eph); mkswap "$EPH" >/dev/null 2>&1; refused swap
EPH=$(img eph); printf 'label: gpt\n,\n' | sfdisk -q "$EPH" >/dev/null; refused "gpt partition table"
EPH=$(img eph); printf x | cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 "$EPH" --key-file - ; refused "crypto_LUKS version 1"
ok "ext4, swap, a GPT, LUKS1: refused with the wipe hint, image bytes unchanged"

# wipe: keyslots first, then signatures; the next unlock formats.
run_volseal 0 wipe EPHEMERAL --volume "EPHEMERAL=$EPH" --yes
[ -z "$(blkid -p "$EPH" 2>/dev/null)" ] || fail "signatures left after wipe: $(blkid -p "$EPH")"
unlock 0 "$T/eph.yaml"
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "wiped volume not formatted: $OUT"
cp "$EPH" "$T/before-wipe.img"
run_volseal 0 wipe EPHEMERAL --volume "EPHEMERAL=$EPH" </dev/null
contains "$OUT" "wiped"
[ -z "$(blkid -p "$EPH" 2>/dev/null)" ] || fail "LUKS2 signatures left after wipe"
# The key material is gone, not just the magic: put the old header magic back, no keyslot remains.
dd if="$T/before-wipe.img" of="$EPH" bs=4096 count=1 conv=notrunc status=none
dd if="$T/before-wipe.img" of="$EPH" bs=4096 skip=4 seek=4 count=1 conv=notrunc status=none
! opens "$EPH" 0 ephkey || fail "the old passphrase still opens after wipe"
mkfs.ext4 -q -F "$EPH"
run_volseal 0 wipe EPHEMERAL --volume "EPHEMERAL=$EPH"
[ -z "$(blkid -p "$EPH" 2>/dev/null)" ] || fail "ext4 left after wipe"
run_volseal 1 wipe EPHEMERAL
contains "$ERR" "--volume EPHEMERAL=DEVICE or --label EPHEMERAL"
run_volseal 1 wipe EPHEMERAL --volume "STATE=$EPH"
ok "wipe destroys keyslots then signatures; the next unlock formats (seed's migration to encryption)"

# A LUKS2 header without keyslots (power lost right after format) counts as empty.
EPH=$(img eph)
printf x | cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-force-iterations 4 "$EPH" --key-file -
cryptsetup luksKillSlot -q "$EPH" 0 </dev/null 2>/dev/null
unlock 0 "$T/eph.yaml"
[ "$(vol EPHEMERAL .state)" = formatted ] && opens "$EPH" 0 ephkey || fail "keyslot-less LUKS2 not re-formatted: $OUT"
ok "a LUKS2 header without any keyslot is formatted again"

# lockToSTATE: waiting without --state-dir, salt created once with --state-dir, a new STATE locks it out.
state_eph_images
volumes_config "$T/locked.yaml" "STATE 0:nodeID" "EPHEMERAL 0:static:supersecret:lockToSTATE"
sum=$(image_sum "$EPH")
unlock 0 "$T/locked.yaml"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol EPHEMERAL .state)" = waiting-for-state ] || fail "first call: $OUT"
[ "$(image_sum "$EPH")" = "$sum" ] || fail "a waiting volume was written"
mkdir "$T/state-mnt"
unlock 0 "$T/locked.yaml" --state-dir "$T/state-mnt"
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "second call: $OUT"
salt="$T/state-mnt/encryption-salt.yaml"
[ "$(stat -c %a "$salt")" = 600 ] || fail "salt mode $(stat -c %a "$salt")"
[ "$(/usr/bin/python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1]))["diskSalt"]; print(len(d), all(0<=b<=255 for b in d))' "$salt")" = "32 True" ] || fail "salt file: $(cat "$salt")"
opens_salted "$EPH" 0 supersecret "$salt" || fail "cryptsetup: passphrase+salt does not open slot 0"
! opens "$EPH" 0 supersecret || fail "the unsalted passphrase opens a locked volume"
saltsum=$(sha256sum <"$salt")
unlock 0 "$T/locked.yaml" --state-dir "$T/state-mnt"
[ "$(vol EPHEMERAL .state)" = opened ] && [ "$(sha256sum <"$salt")" = "$saltsum" ] || fail "reboot: $OUT"
run_volseal 0 status -c "$T/locked.yaml" "${VOLUMES[@]}" --product-uuid-file "$T/product_uuid" --json
[ "$(slot_status EPHEMERAL 0)" = unknown ] || fail "status without --state-dir: $OUT"
contains "$(vol EPHEMERAL '.slots[0].detail')" "--state-dir"
mkdir "$T/new-state"
sum=$(header_sum "$EPH")
unlock 2 "$T/locked.yaml" --state-dir "$T/new-state"
[ "$(vol EPHEMERAL .state)" = not-opened ] && [ "$(header_sum "$EPH")" = "$sum" ] || fail "new STATE salt opened the locked volume: $OUT"
ok "lockToSTATE: waiting-for-state, salt created once (0600, 32 bytes), passphrase+salt, a new STATE locks it out"

# Without --check on a host without device-mapper: exit 4, and the reason.
if ! grep -q device-mapper /proc/misc; then
  run_volseal 4 unlock -c "$T/locked.yaml" "${VOLUMES[@]}" --state-dir "$T/state-mnt" --product-uuid-file "$T/product_uuid" "${FAST[@]}"
  contains "$OUT" "device-mapper is not available"
  ok "no device-mapper: exit 4 with the reason"
else
  echo "# device-mapper present: the already-active-mapping case is covered by the VM suite"
fi

# Not found: no --volume and no partition with that PARTLABEL.
run_volseal 4 unlock -c "$T/eph.yaml" --check "${FAST[@]}" --json
contains "$OUT" "no partition labelled EPHEMERAL (give --volume EPHEMERAL=DEVICE)"
ok "a volume without a partition: exit 4"

# Adiantum needs the kernel crypto API (AF_ALG) for its keyslots.
if /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)' 2>/dev/null; then
  EPH=$(img adiantum); VOLUMES=(--volume "EPHEMERAL=$EPH")
  sed 's/^encryption:/encryption:\n  cipher: xchacha12,aes-adiantum-plain64/' "$T/eph.yaml" >"$T/adiantum.yaml"
  unlock 0 "$T/adiantum.yaml"
  [ "$(cryptsetup luksDump --dump-json-metadata "$EPH" | jq -r '.segments["0"].encryption')" = "xchacha12,aes-adiantum-plain64" ] || fail "adiantum"
  ok "Adiantum volume formatted and checked"
else
  echo "# skip Adiantum: socket(AF_ALG) fails on this host (no kernel crypto API); the VM suite covers it"
fi
done_testing
