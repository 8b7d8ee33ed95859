#!/usr/bin/env bash
# tokens.sh: the LUKS2 tokens of tests/talos/tokens/, byte for byte as Talos writes them (luks.Token's
# json.Marshal: UserData first, then type, then "keyslots": []; TPMToken's fields in Go's order, pcrs
# omitted when empty, encryption_version from Talos 1.12), imported with the real cryptsetup onto images
# whose keyslot holds the key Talos derives (base64 of the 32 unsealed bytes); volseal must open them.
#   talos-tpm2-1.12          Talos 1.12+: pcrs [7], pubkey_pcrs [11], encryption_version "1"
#   talos-tpm2-1.12-no-pcrs  options.pcrs []: PolicyAuthorize only, "pcrs" omitted
#   talos-tpm2-1.11          before 1.12: pcrs [11] meaning PolicyAuthorize + PolicyPCR(7)
#   sideroKMS                UserData.sealedData from a real Seal (tests/kms/server.py)
# Runs under lib/with-swtpm (the sealed objects come from the swtpm, through tests' tpm-helper).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/tpm.sh"
. "$TOP/tests/kms/kms.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
: "${KMS_CLIENT_TEST:?run from meson (KMS_CLIENT_TEST)}"
DIR="$TOP/tests/talos/tokens"
flush_all
make_efivars 1
make_ukis
reboot "$T/uki1.efi"

b64f() { base64 -w0 "$1"; }
# talos_image NAME TOKEN-FILE PASSPHRASE-FILE: Talos's layout: slot 0 the token's key, slot 1 nodeID.
talos_image() {
  local dev
  dev=$(img "$1")
  printf '%sSTATE' "$UUID" | cryptsetup luksFormat --type luks2 --batch-mode --key-slot 1 --pbkdf argon2id \
    --pbkdf-memory 32 --pbkdf-force-iterations 4 --pbkdf-parallel 1 "$dev" --key-file - >/dev/null
  printf '%sSTATE' "$UUID" > "$T/nodeid"
  cryptsetup luksAddKey --batch-mode --key-slot 0 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-force-iterations 4 \
    --pbkdf-parallel 1 --key-file "$T/nodeid" "$dev" "$3"
  cryptsetup token import --token-id 0 "$dev" < "$2"
  echo "$dev"
}
# fill TEMPLATE OUT SEALDIR: the template with the sealed object's fields (base64 as Go encodes []byte).
fill() {
  sed -e "s|@SLOT@|0|" -e "s|@PRIV@|$(b64f "$3/priv")|" -e "s|@PUB@|$(b64f "$3/pub")|" \
      -e "s|@POLICY@|$(xxd -r -p "$3/policy" | base64 -w0)|" -e "s|@NAME@|$(b64f "$3/srkname")|" "$1" > "$2"
  ! grep -q @ "$2" || fail "unfilled placeholder in $2"
}

volumes_config "$T/tpm.yaml" "STATE 0:tpm 1:nodeID"
for shape in "talos-tpm2-1.12 7" "talos-tpm2-1.12-no-pcrs none" "talos-tpm2-1.11 7"; do
  set -- $shape
  mkdir -p "$T/$1"
  "$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs "$2" --dir "$T/$1" >/dev/null
  fill "$DIR/$1.json" "$T/$1/token.json" "$T/$1"
  b64f "$T/$1/secret" > "$T/$1/pass"
  [ "$(stat -c %s "$T/$1/pass")" = 44 ] || fail "$1: the passphrase is not base64 of 32 bytes"
  STATE=$(talos_image "$1" "$T/$1/token.json" "$T/$1/pass")
  VOLUMES=(--volume "STATE=$STATE")
  tunlock 0 "$T/tpm.yaml" --no-sync
  [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "$1: not opened by the token's slot: $OUT"
  ok "$1: Talos's token bytes unseal on swtpm and open keyslot 0"
done

# sideroKMS: sealed by the KMS for this node's UUID, the passphrase is base64 of the 32 bytes.
kms_start --key-file "$T/kms.key"
head -c 32 /dev/urandom > "$T/kms-secret"
"$KMS_CLIENT_TEST" --node-uuid "$UUID" "127.0.0.1:$KMS_PORT" seal "$T/kms-secret" "$T/kms-sealed" >/dev/null
sed "s|@SEALED@|$(b64f "$T/kms-sealed")|" "$DIR/sidero-kms.json" > "$T/kms-token.json"
b64f "$T/kms-secret" > "$T/kms-pass"
STATE=$(talos_image kms "$T/kms-token.json" "$T/kms-pass")
VOLUMES=(--volume "STATE=$STATE")
volumes_config "$T/kms.yaml" "STATE 0:kms:127.0.0.1:$KMS_PORT 1:nodeID"
unlock 0 "$T/kms.yaml" --no-sync
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "sideroKMS: not opened by the token's slot: $OUT"
ok "sideroKMS: Talos's token bytes unseal through the KMS and open keyslot 0"

# volseal's own kms token keeps Talos's member order (UserData, type) and fills "keyslots" (docs/talos.md).
STATE=$(img enrol)
VOLUMES=(--volume "STATE=$STATE")
unlock 0 "$T/kms.yaml"
order=$(cryptsetup token export --token-id 0 "$STATE" | jq -c 'keys_unsorted')
[ "$order" = '["UserData","type","keyslots"]' ] || fail "volseal's sideroKMS token members: $order"
[ "$(cryptsetup token export --token-id 0 "$STATE" | jq -c '.UserData | keys_unsorted')" = '["sealedData"]' ] ||
  fail "volseal's sideroKMS UserData is not Talos's"
ok "volseal writes the sideroKMS token with Talos's members and order"
done_testing
