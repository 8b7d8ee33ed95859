#!/usr/bin/env bash
# tokens.sh: the LUKS2 tokens of tests/talos/tokens/, byte for byte as Talos writes them (luks.Token's
# json.Marshal: UserData first, then type, then "keyslots": []; TPMToken's fields in Go's order, pcrs
# omitted when empty, encryption_version from Talos 1.12), imported with the real cryptsetup onto images
# whose keyslot holds the key Talos derives (base64 of the 32 unsealed bytes); volseal must open them.
#   talos-tpm2-1.12          Talos 1.12+: pcrs [7], pubkey_pcrs [11], encryption_version "1"
#   talos-tpm2-1.12-no-pcrs  options.pcrs []: PolicyAuthorize only, "pcrs" omitted
#   talos-tpm2-1.12-pcr11    options.pcrs [7, 11]: PCR 11's value at seal time bound too, after PolicyAuthorize
#   talos-tpm2-1.11          before 1.12: pcrs [11] meaning PolicyAuthorize + PolicyPCR(7)
#   talos-tpm2-unversioned-7 no encryption_version, pcrs [7]: Talos's Unseal binds no literal PCR for it (only
#                            pcrs [11] means PCR 7 there; internal/pkg/secureboot/tpm2/unseal.go)
#   sideroKMS                UserData.sealedData from a real Seal (tests/kms/server.py)
# Then volseal's own enrolment of options.pcrs [7, 11] (gap 3): the token Talos writes for it, opened on
# the next boot of the same UKI, refused after a UKI update (PCR 11's literal value moved), re-sealed by the
# gate since the new UKI's signed policy covers PCR 11, and never for a modified UKI.
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
for shape in "talos-tpm2-1.12 7" "talos-tpm2-1.12-no-pcrs none" "talos-tpm2-1.11 7" "talos-tpm2-1.12-pcr11 7,11" \
  "talos-tpm2-unversioned-7 none"; do
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

# volseal enrols options.pcrs [7, 11] as Talos 1.12 seals it (internal/pkg/secureboot/tpm2/seal.go, policy.go).
cat > "$T/pcr11.yaml" <<'YAML'
apiVersion: v1alpha1
kind: VolumeConfig
name: STATE
encryption:
  provider: luks2
  keys:
    - slot: 0
      tpm:
        options:
          pcrs: [7, 11]
    - slot: 1
      nodeID: {}
YAML
STATE=$(img pcr11)
VOLUMES=(--volume "STATE=$STATE")
tunlock 0 "$T/pcr11.yaml"
[ "$(slots "$STATE")" = "0 1" ] || fail "pcr11: keyslots $(slots "$STATE")"
[ "$(token_field "$STATE" 0 pcrs)" = "[7,11]" ] && [ "$(token_field "$STATE" 0 pubkey_pcrs)" = "[11]" ] &&
  [ "$(token_field "$STATE" 0 encryption_version)" = 1 ] || fail "pcr11: token $(token_field "$STATE" 0 '')"
want=$(jq -c '.UserData | keys_unsorted' "$T/talos-tpm2-1.12-pcr11/token.json")
got=$(cryptsetup token export --token-id 0 "$STATE" | jq -c '.UserData | keys_unsorted | map(select(startswith("volseal_") | not))')
[ "$got" = "$want" ] || fail "pcr11: UserData members $got, Talos writes $want"
reboot "$T/uki1.efi"
tunlock 0 "$T/pcr11.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "pcr11: next boot of the same UKI: $OUT"
ok "options.pcrs [7, 11]: volseal writes Talos's token (pcrs [7,11]) and opens it on the next boot of the same UKI"
reboot "$T/uki-mod.efi"
tunlock 3 "$T/pcr11.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "pcr11, modified UKI: $OUT"
[ "$(slot_status STATE 0)" != replaced ] || fail "pcr11: re-sealed under a modified UKI: $OUT"
reboot "$T/uki2.efi"
tunlock 0 "$T/pcr11.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "pcr11, UKI update: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "PCR 7,11 changed since enrolment"
[ "$(slot_status STATE 0)" = replaced ] || fail "pcr11: not re-sealed after a UKI update: $OUT"
reboot "$T/uki2.efi"
tunlock 0 "$T/pcr11.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "pcr11: after the re-seal: $OUT"
ok "options.pcrs [7, 11]: a modified UKI is refused and not re-sealed; a signed UKI update is refused, re-sealed, then opens"

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
