#!/usr/bin/env bash
# The bad-input table (docs/security.md, "Bad input"): every row is one crafted input to `volseal unlock --check`, with the exit
# code and the message fragment it must give, and the image compared byte for byte (cmp) before and after:
# nothing is written. The TPM rows use a real tpm slot enrolled on swtpm after a measured boot of a signed
# UKI; the header rows (the 2025 LUKS2 header attacks) are made by tests/lib/luks2-tamper with valid
# checksums, so libcryptsetup alone would accept them. docs/security.md "Bad input" lists the table.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
TAMPER=$TOP/tests/lib/luks2-tamper

# --- a volume with a tpm slot (0) and a nodeID slot (1), enrolled after a measured boot of a signed UKI
tpm_first_boot "$T/enrol.yaml"
[ "$(tokens "$STATE")" = 0 ] || fail "setup: tpm slot not enrolled: $OUT"
tunlock 0 "$T/enrol.yaml" --no-sync
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "setup: the tpm slot does not open the volume: $OUT"
cp "$STATE" "$T/good.img"
volumes_config "$T/tpm.yaml" "STATE 0:tpm"
volumes_config "$T/nodeid.yaml" "STATE 1:nodeID"
ok "setup: tpm slot 0 + nodeID slot 1 enrolled on swtpm; the tpm slot opens the volume"

# row NAME IMAGE EXIT FRAGMENT CONFIG [ARGS...]: unlock --check on IMAGE (as STATE) gives EXIT and FRAGMENT
# (stdout+stderr), and IMAGE is byte-identical afterwards.
row() {
  local name=$1 image=$2 want=$3 frag=$4 cfg=$5; shift 5
  cp --sparse=always "$image" "$T/before.img"
  set +e
  "$VOLSEAL" unlock -c "$cfg" --volume "STATE=$image" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
    --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem" "$@" \
    >"$T/out" 2>"$T/err"
  local rc=$?
  set -e
  local all
  all=$(cat "$T/out" "$T/err")
  [ "$rc" = "$want" ] || fail "$name: exit $rc, wanted $want: $all"
  contains "$all" "$frag"
  cmp -s "$T/before.img" "$image" || fail "$name: the image changed: $(cmp "$T/before.img" "$image" | head -1)"
  ok "$name -> exit $want, '$frag', image unchanged"
  echo "# $(grep -m1 'error: volume' "$T/out" || head -1 "$T/out")"
}
fresh() { cp --sparse=always "$T/good.img" "$T/$1.img"; echo "$T/$1.img"; }

# --- images that are not (whole) LUKS2 volumes
head -c 20480 "$T/good.img" >"$T/truncated.img"
row "truncated LUKS2 image (20 KiB)" "$T/truncated.img" 2 "refused the LUKS2 header on $T/truncated.img: it is truncated" "$T/tpm.yaml"
img=$(fresh garbage)
dd if=/dev/urandom of="$img" bs=1 seek=8 count=65528 conv=notrunc status=none # LUKS2 magic + version kept
row "LUKS2 magic followed by garbage" "$img" 2 "neither LUKS2 header copy is intact" "$T/tpm.yaml"
head -c 20M /dev/urandom >"$T/random.img"
cp "$T/random.img" "$T/random.before"
run_volseal 0 status -c "$T/tpm.yaml" --volume "STATE=$T/random.img" --json
[ "$(vol STATE .state)" = empty ] || fail "random bytes: $OUT"
cmp -s "$T/random.img" "$T/random.before" || fail "status wrote to the random image"
ok "random bytes without any signature: status reports 'empty' (unlock would format it, as Talos does), nothing written"
truncate -s 20M "$T/luks1.img"
printf 'luks1-pass' | cryptsetup luksFormat --type luks1 --pbkdf-force-iterations 1000 -q "$T/luks1.img" --key-file -
row "LUKS1 volume" "$T/luks1.img" 2 "holds crypto_LUKS version 1; volseal formats only empty volumes" "$T/tpm.yaml"

# --- tokens
img=$(fresh unknown-token)
printf '{"type":"acme-escrow","keyslots":["0"],"blob":"AA=="}' >"$T/tok.json"
cryptsetup token import --token-id 0 --token-replace --json-file "$T/tok.json" "$img"
cp --sparse=always "$img" "$T/unknown-token.ref"
row "unknown token type (acme-escrow) at the tpm slot's id" "$img" 2 "keyslot 0: its token is of another kind" "$T/tpm.yaml"
img=$(fresh wrong-types)
cryptsetup luksDump --dump-json-metadata "$T/good.img" | jq -c '.tokens["0"] | .UserData.sealed_blob_private = 42 | .UserData.pcrs = "7"' >"$T/tok.json"
cryptsetup token import --token-id 0 --token-replace --json-file "$T/tok.json" "$img"
row "talos-tpm2 token with wrong field types" "$img" 2 "the talos-tpm2 token has a non-string UserData.sealed_blob_private (wrong field type)" "$T/tpm.yaml"

# --- the signed policy and PCR 11
img=$(fresh pcr11)
swtpm_restart # PCRs reset, nothing measured: PCR 11 is all zero
row "empty PCR 11 (no UKI measured)" "$img" 2 "PCR 11" "$T/tpm.yaml"
reboot "$T/uki1.efi"
row "control: the same volume opens by tpm after a measured boot (--no-sync)" "$img" 0 "opened by slot 0" "$T/tpm.yaml" --no-sync
jq -c '.sha256[0].pkfp = "'"$(printf '0%.0s' {1..64})"'"' "$T/extra/tpm2-pcr-signature.json" >"$T/wrong-pkfp.json"
row ".pcrsig with a wrong pkfp" "$img" 2 "signed PCR policy" "$T/tpm.yaml" --pcr-signature "$T/wrong-pkfp.json"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["sha256"][0]; print(json.dumps({"sha256":[e]*40000}))' \
  "$T/extra/tpm2-pcr-signature.json" >"$T/huge.json"
[ "$(stat -c %s "$T/huge.json")" -gt 10000000 ] || fail "the huge signature JSON is only $(stat -c %s "$T/huge.json") bytes"
row "signature JSON of 10 MB" "$img" 2 "signed PCR policy" "$T/tpm.yaml" --pcr-signature "$T/huge.json"

# --- the machine UUID
head -c 36 /dev/urandom | base64 | head -c 36 >"$T/garbage-uuid"
img=$(fresh uuid)
# Talos has no format rule for the UUID: garbage text is the UUID, and its passphrase opens nothing.
row "UUID file with garbage" "$img" 2 "STATE: not-opened" "$T/nodeid.yaml" --product-uuid-file "$T/garbage-uuid"
printf '\xff\xfe\x00garbage\n' >"$T/binary-uuid"
row "UUID file with a NUL byte" "$img" 2 "the machine UUID in $T/binary-uuid holds a NUL byte" "$T/nodeid.yaml" --product-uuid-file "$T/binary-uuid"
printf '\xff\xfe\xfd\xfc\xfb\n' >"$T/runes-uuid"
row "UUID file whose runes fail Talos's entropy rule" "$img" 2 "entropy check failed" "$T/nodeid.yaml" --product-uuid-file "$T/runes-uuid"

# --- the 2025 LUKS2 header attacks (valid checksums; libcryptsetup alone would load these)
img=$(fresh differs)
"$TAMPER" "$img" secondary-differs
row "second header copy differing (same seqid)" "$img" 2 "refused the LUKS2 header on $img: the two header copies differ" "$T/tpm.yaml"
img=$(fresh newer)
"$TAMPER" "$img" secondary-newer-null
row "secondary copy newer than the primary, with cipher_null" "$img" 2 "the secondary header copy is newer than the primary" "$T/tpm.yaml"
img=$(fresh segments)
"$TAMPER" "$img" two-segments
row "two segments" "$img" 2 "it has 2 segments (volseal accepts exactly one crypt segment)" "$T/tpm.yaml"
img=$(fresh null)
"$TAMPER" "$img" cipher-null
row "cipher_null segment" "$img" 2 "segment 0 uses cipher_null (cipher_null-ecb): no encryption at all" "$T/tpm.yaml"
row "cipher_null segment, nodeID key" "$img" 2 "no key was tried, nothing was written" "$T/nodeid.yaml"
run_volseal 2 status -c "$T/tpm.yaml" --volume "STATE=$img" --json --pcr-signature "$T/extra/tpm2-pcr-signature.json" \
  --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
contains "$(vol STATE '.errors | join(";")')" "uses cipher_null"
ok "status refuses the cipher_null header too"
# the libcryptsetup-alone control: the real cryptsetup loads the cipher_null header (so the check is volseal's)
grep -q 'cipher: cipher_null-ecb' <<< "$(cryptsetup luksDump "$img")" || fail "cryptsetup did not load the cipher_null header"
ok "control: cryptsetup itself loads the cipher_null header"
done_testing
