#!/usr/bin/env bash
# The token plugins (docs/cryptsetup-token.md) on swtpm and the KMS test peer:
# - in-process (token-plugin-test: dlopen + dlvsym of CRYPTSETUP_TOKEN_1.0, crypt_token_register, external
#   plugins disabled): a volume enrolled by volseal opens through talos-tpm2 (check-only activation); the
#   handed-out buffer opens the keyslot and buffer_free unmaps it; no TPM -> -EAGAIN with the reason; validate
#   refuses malformed tokens (directly and through crypt_token_json_set); dump prints the fields; only the ABI
#   symbols are exported; sideroKMS opens a kms volume against the KMS peer and refuses without an endpoint;
# - once with the real cryptsetup: both .so installed into libcryptsetup's token directory (refused if one is
#   already there), `cryptsetup open --test-passphrase --token-only` and `cryptsetup luksDump`, the .so
#   removed after (also on failure), and without them the token-only open fails;
# - last: after a dbx change (PCR 7), the plugin refuses with "PCR 7 changed since enrolment".
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/tpm.sh"
. "$TOP/tests/kms/kms.sh"
tpm_first_boot "$T/c.yaml"
export VOLSEAL_PCR_SIGNATURE=$T/extra/tpm2-pcr-signature.json VOLSEAL_PCR_PUBLIC_KEY=$T/extra/tpm2-pcr-public-key.pem
PRE=()
tt() { set +e; "${PRE[@]}" "$TOKEN_TEST" "$@" >"$T/tout" 2>"$T/terr"; TRC=$?; set -e; TOUT=$(cat "$T/tout"); TERR=$(cat "$T/terr"); }

tt "$TOKEN_TPM2_SO" talos-tpm2 symbols
[ "$TRC" = 0 ] || fail "symbols: $TOUT $TERR"
for so in "$TOKEN_TPM2_SO" "$TOKEN_KMS_SO"; do
  exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
  [ "$exported" = "CRYPTSETUP_TOKEN_1.0 cryptsetup_token_buffer_free@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_dump@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_open@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_validate@@CRYPTSETUP_TOKEN_1.0 cryptsetup_token_version@@CRYPTSETUP_TOKEN_1.0 " ] ||
    fail "$so exports: $exported"
done
ok "both plugins export exactly the CRYPTSETUP_TOKEN_1.0 symbols (nm -D), libvolseal's internals stay hidden"

tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
[ "$TRC" = 0 ] && [ "$TOUT" = "opened keyslot 0" ] || fail "in-process open: $TOUT $TERR"
tt "$TOKEN_TPM2_SO" talos-tpm2 passphrase "$STATE" 0
[ "$TRC" = 0 ] || fail "handler open: $TOUT $TERR"
contains "$TOUT" "passphrase of 44 bytes opens keyslot 0; buffer unmapped after buffer_free"
[ "$(tpm2_getcap handles-transient)" = "" ] || fail "objects left loaded: $(tpm2_getcap handles-transient)"
ok "talos-tpm2 in-process: check-only activation by token opens keyslot 0; the 44-byte buffer is unmapped by buffer_free; nothing left loaded"

if [ "${VOLSEAL_SANITIZED:-0}" = 0 ]; then # under ASan the sanitizer is the memory checker
  PRE=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
      --show-leak-kinds=definite,indirect)
  tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
  [ "$TRC" = 0 ] && [ "$TOUT" = "opened keyslot 0" ] || fail "open under valgrind ($TRC): $TOUT $TERR"
  tt "$TOKEN_TPM2_SO" talos-tpm2 dump "$STATE"
  [ "$TRC" = 0 ] || fail "dump under valgrind ($TRC): $TERR"
  PRE=()
  ok "valgrind: open and dump through the plugin without memory errors or leaks"
fi

VOLSEAL_TCTI="swtpm:host=127.0.0.1,port=9" tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
[ "$TOUT" = "open failed: -11 $(python3 -c 'import os; print(os.strerror(11))')" ] || fail "no TPM: $TOUT $TERR"
contains "$TERR" "volseal: talos-tpm2 token 0:"
ok "talos-tpm2 without a TPM: -EAGAIN (hardware missing) and the reason on libcryptsetup's error log"

tt "$TOKEN_TPM2_SO" talos-tpm2 dump "$STATE"
[ "$TRC" = 0 ] || fail "dump: $TERR"
pol_hex=$(token_field "$STATE" 0 policy_hash | base64 -d | xxd -p -c 64)
name_hex=$(token_field "$STATE" 0 key_name | base64 -d | xxd -p -c 128)
for want in "0: talos-tpm2" "tpm2-pcrs:          7" "tpm2-signed-pcrs:   11" "tpm2-pcr-bank:      sha256" \
    "tpm2-policy-hash:   $pol_hex" "tpm2-srk-name:      $name_hex" "Talos 1.12 (encryption_version 1)" \
    "talos-keyslots:     0" "PK, KEK and db hashes recorded"; do
  contains "$TOUT" "$want"
done
ok "crypt_dump through the plugin prints the token's fields (PCRs, bank, policy hash, SRK name, layout, re-seal hashes)"

good=$(cryptsetup luksDump --dump-json-metadata "$STATE" | jq -c '.tokens["0"]')
tt "$TOKEN_TPM2_SO" talos-tpm2 validate "$good"
[ "$TRC" = 0 ] || fail "a good token refused: $TERR"
check_bad() { # JQ-EDIT EXPECTED-REASON
  local j
  j=$(jq -c "$1" <<<"$good")
  tt "$TOKEN_TPM2_SO" talos-tpm2 validate "$j"
  [ "$TRC" = 1 ] && [ "$TOUT" = invalid ] || fail "validate accepted ($1): $TOUT"
  contains "$TERR" "volseal: malformed talos-tpm2 token: "
  contains "$TERR" "$2"
}
check_bad 'del(.UserData.sealed_blob_private)' "lacks UserData.sealed_blob_private"
check_bad '.UserData.sealed_blob_public = "AAAA"' "sealed_blob_public is not a TPM2B_PUBLIC"
check_bad '.UserData.policy_hash = "AAAA"' "policy_hash is not 32 bytes"
check_bad '.UserData.key_name = 5' "UserData.key_name is not a string"
check_bad '.UserData.pcrs = ["7"]' "UserData.pcrs[0] is not a number from 0 to 23"
check_bad '.UserData.pcrs = [24]' "UserData.pcrs[0] is not a number from 0 to 23"
tt "$TOKEN_TPM2_SO" talos-tpm2 validate "$(jq -c '.UserData.pcrs = [7,11]' <<<"$good")"
[ "$TRC" = 0 ] || fail "pcrs [7,11] (Talos 1.12 binds PCR 11 literally too) refused: $TERR"
check_bad '.UserData.alg = "sha1"' "UserData.alg is \"sha1\", not \"sha256\""
check_bad '.UserData = "x"' "the token has no UserData object"
check_bad '.keyslots = [0]' "keyslots[0] is not a keyslot number in a string"
check_bad '.type = "systemd-tpm2"' "type is not \"talos-tpm2\""
tt "$TOKEN_TPM2_SO" talos-tpm2 validate '{"type":'
[ "$TRC" = 1 ] || fail "broken JSON accepted"
contains "$TERR" "not valid JSON"
cp "$STATE" "$T/copy.img"
tt "$TOKEN_TPM2_SO" talos-tpm2 import "$T/copy.img" "$(jq -c 'del(.UserData.policy_hash)' <<<"$good")"
[ "$TOUT" = "refused: -22" ] || fail "crypt_token_json_set took a malformed token: $TOUT"
contains "$TERR" "lacks UserData.policy_hash"
tt "$TOKEN_TPM2_SO" talos-tpm2 import "$T/copy.img" "$good"
[ "$TOUT" = "imported as token 1" ] || fail "crypt_token_json_set refused a good token: $TOUT $TERR"
ok "validate refuses malformed talos-tpm2 tokens with the reason (fields missing, wrong types, bad blobs, wrong sizes, bad JSON), also through crypt_token_json_set; a good one passes"

# --- sideroKMS against the KMS test peer
kms_start --key-file "$T/kms.key" --log "$T/kms.log"
KMS_VOL=$(img kms)
volumes_config "$T/k.yaml" "EPHEMERAL 0:kms:grpc://127.0.0.1:$KMS_PORT 1:nodeID"
run_volseal 0 unlock -c "$T/k.yaml" --volume "EPHEMERAL=$KMS_VOL" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}"
[ "$(slots "$KMS_VOL")" = "0 1" ] || fail "kms volume: $OUT"
tt "$TOKEN_KMS_SO" sideroKMS open "$KMS_VOL"
[ "$TOUT" = "open failed: -2 $(python3 -c 'import os; print(os.strerror(2))')" ] || fail "kms without endpoint: $TOUT $TERR"
contains "$TERR" "no KMS endpoint: set VOLSEAL_KMS_ENDPOINT"
export VOLSEAL_KMS_ENDPOINT=grpc://127.0.0.1:$KMS_PORT VOLSEAL_PRODUCT_UUID_FILE=$T/product_uuid
tt "$TOKEN_KMS_SO" sideroKMS open "$KMS_VOL"
[ "$TRC" = 0 ] && [ "$TOUT" = "opened keyslot 0" ] || fail "sideroKMS in-process open: $TOUT $TERR"
tt "$TOKEN_KMS_SO" sideroKMS passphrase "$KMS_VOL" 0
contains "$TOUT" "passphrase of 44 bytes opens keyslot 0; buffer unmapped after buffer_free"
echo 4c4c4544-0042-3510-8052-b4c04f4e3233 > "$T/other_uuid"
VOLSEAL_PRODUCT_UUID_FILE=$T/other_uuid tt "$TOKEN_KMS_SO" sideroKMS open "$KMS_VOL"
[ "$TRC" = 1 ] || fail "another node UUID opened the kms volume: $TOUT"
contains "$TERR" "volseal: sideroKMS token 0:"
tt "$TOKEN_KMS_SO" sideroKMS dump "$KMS_VOL"
contains "$TOUT" "kms-sealed-data:    60 bytes"
kgood=$(cryptsetup luksDump --dump-json-metadata "$KMS_VOL" | jq -c '.tokens["0"]')
for edit in 'del(.UserData.sealedData)' '.UserData.sealedData = 5' '.UserData.sealedData = "@@@@"'; do
  tt "$TOKEN_KMS_SO" sideroKMS validate "$(jq -c "$edit" <<<"$kgood")"
  [ "$TRC" = 1 ] || fail "sideroKMS validate accepted ($edit)"
  contains "$TERR" "malformed sideroKMS token: UserData.sealedData"
done
ok "sideroKMS in-process: opens keyslot 0 through the KMS with VOLSEAL_KMS_ENDPOINT and the node UUID; refuses without an endpoint or with another UUID; dump and validate"

# --- once with the real cryptsetup, the plugins installed in libcryptsetup's token directory
dir=$("$TOKEN_TEST" path)
[ -d "$dir" ] || fail "libcryptsetup's token directory $dir does not exist"
exec 9>/run/lock/volseal-token-plugin.lock
flock -w 300 9 || fail "another test holds the token directory"
cs_env=()
if [ "${VOLSEAL_SANITIZED:-0}" = 1 ]; then # the plugins are ASan-instrumented: cryptsetup needs the runtime first
  cs_env=(env "LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0)
fi
installed=()
for pair in "talos-tpm2=$TOKEN_TPM2_SO" "sideroKMS=$TOKEN_KMS_SO"; do
  dest="$dir/libcryptsetup-token-${pair%%=*}.so"
  [ ! -e "$dest" ] || fail "$dest is already installed: not overwriting it"
  add_cleanup "rm -f '$dest'"
  installed+=("$dest")
  install -m 0644 "${pair#*=}" "$dest"
done
set +e
"${cs_env[@]}" cryptsetup -v open --test-passphrase --token-only "$STATE" >"$T/cs.out" 2>&1; rc=$?
"${cs_env[@]}" cryptsetup -v open --test-passphrase --token-only --token-type sideroKMS "$KMS_VOL" >"$T/cs-kms.out" 2>&1; rc_kms=$?
"${cs_env[@]}" cryptsetup luksDump "$STATE" >"$T/dump.out" 2>&1; rc_dump=$?
"${cs_env[@]}" cryptsetup luksDump "$KMS_VOL" >"$T/dump-kms.out" 2>&1; rc_dump_kms=$?
set -e
rm -f "${installed[@]}"
for f in "${installed[@]}"; do [ ! -e "$f" ] || fail "$f was not removed"; done
flock -u 9
[ "$rc" = 0 ] || fail "cryptsetup open --token-only (talos-tpm2) exited $rc: $(cat "$T/cs.out")"
contains "$(cat "$T/cs.out")" "Key slot 0 unlocked"
[ "$rc_kms" = 0 ] || fail "cryptsetup open --token-only (sideroKMS) exited $rc_kms: $(cat "$T/cs-kms.out")"
contains "$(cat "$T/cs-kms.out")" "Key slot 0 unlocked"
[ "$rc_dump" = 0 ] && [ "$rc_dump_kms" = 0 ] || fail "luksDump failed"
contains "$(cat "$T/dump.out")" "tpm2-policy-hash:   $pol_hex"
contains "$(cat "$T/dump.out")" "tpm2-pcrs:          7"
contains "$(cat "$T/dump-kms.out")" "kms-sealed-data:    60 bytes"
set +e; cryptsetup open --test-passphrase --token-only "$STATE" >"$T/cs2.out" 2>&1; rc=$?; set -e
[ "$rc" != 0 ] || fail "cryptsetup opened by token without the plugin installed"
not_contains "$(cryptsetup luksDump "$STATE")" "tpm2-policy-hash"
ok "real cryptsetup with the plugins in $dir: open --test-passphrase --token-only unlocks keyslot 0 (talos-tpm2 on swtpm, sideroKMS on the KMS peer), luksDump shows the fields; removed after, and then the token-only open fails"

# --- PCR 7 changes: the plugin says why
head -c 100 /dev/urandom > "$T/dbx2.esl"; setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
[ "$TOUT" = "open failed: -2 $(python3 -c 'import os; print(os.strerror(2))')" ] || fail "after a PCR 7 change: $TOUT $TERR"
contains "$TERR" "PCR 7 changed since enrolment"
not_contains "$TERR" "re-seal"
[ "$(tpm2_getcap handles-transient)" = "" ] || fail "objects left loaded after a refusal"
ok "after a dbx change the plugin refuses with 'PCR 7 changed since enrolment' (no re-seal talk: there is no sync here)"
flush_all
done_testing
