#!/usr/bin/env bash
# `volseal token adopt` on swtpm: a LUKS2 image as Talos leaves it (tpm keyslot 0 + talos-tpm2 token 0 with
# "keyslots": [], written by the real cryptsetup, as in test-tpm-scenarios-talos.sh) is not handed to the
# plugin by libcryptsetup; adopt (dry run first) writes "keyslots": ["0"] and nothing else, after which the
# plugin opens it (in-process, check-only) and volseal unlock still opens it by tpm; a second adopt changes
# nothing. Tokens whose keyslot cannot be determined, does not exist or disagrees with the token id are
# refused and then nothing at all is written; other token types are skipped; a sideroKMS token without
# UserData.keyslots takes its token id. --json, --help and the usage/environment exit codes.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/tpm.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
flush_all
make_efivars 1
make_ukis
reboot "$T/uki1.efi"
export VOLSEAL_PCR_SIGNATURE=$T/extra/tpm2-pcr-signature.json VOLSEAL_PCR_PUBLIC_KEY=$T/extra/tpm2-pcr-public-key.pem

mkdir -p "$T/s"
"$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs 7 --dir "$T/s" >/dev/null
b64f() { base64 -w0 "$1"; }
talos_token=$(jq -n -c --arg priv "$(b64f "$T/s/priv")" --arg pub "$(b64f "$T/s/pub")" \
  --arg pol "$(xxd -r -p "$T/s/policy" | base64 -w0)" --arg name "$(b64f "$T/s/srkname")" \
  '{type:"talos-tpm2", keyslots:[], UserData:{keyslots:[0], sealed_blob_private:$priv, sealed_blob_public:$pub,
    pcrs:[7], pubkey_pcrs:[11], alg:"sha256", encryption_version:"1", policy_hash:$pol, key_name:$name}}')
pass=$(b64f "$T/s/secret")
STATE=$(img state)
printf '%sSTATE' "$UUID" > "$T/nodeid"
cryptsetup luksFormat --type luks2 --batch-mode --key-slot 1 --pbkdf argon2id --pbkdf-memory 32 \
  --pbkdf-force-iterations 4 --pbkdf-parallel 1 "$STATE" --key-file "$T/nodeid" >/dev/null
printf '%s' "$pass" > "$T/pass"
cryptsetup luksAddKey --batch-mode --key-slot 0 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-force-iterations 4 \
  --pbkdf-parallel 1 --key-file "$T/nodeid" "$STATE" "$T/pass"
printf '%s' "$talos_token" | cryptsetup token import --token-id 0 "$STATE"
tokjson() { cryptsetup luksDump --dump-json-metadata "$STATE" | jq -c ".tokens[\"$1\"]"; }
tt() { set +e; "$TOKEN_TEST" "$@" >"$T/tout" 2>"$T/terr"; TRC=$?; set -e; TOUT=$(cat "$T/tout"); TERR=$(cat "$T/terr"); }

tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
[ "$TOUT" = "open failed: -2 $(python3 -c 'import os; print(os.strerror(2))')" ] || fail "a keyslots [] token opened: $TOUT"
not_contains "$TERR" "volseal:"
ok "a Talos-written token (keyslots []) is never handed to the plugin by libcryptsetup"

before=$(header_sum "$STATE")
run_volseal 0 token adopt "$STATE" --dry-run --json
[ "$(jq -r '.tokens[0].status' <<<"$OUT")" = would-adopt ] && [ "$(jq -r '.written' <<<"$OUT")" = 0 ] || fail "dry run: $OUT"
[ "$(header_sum "$STATE")" = "$before" ] || fail "--dry-run wrote the header"
ud_before=$(tokjson 0 | jq -c .UserData)
run_volseal 0 token adopt "$STATE"
[ "$OUT" = 'token 0 (talos-tpm2): adopted: keyslots [] -> ["0"]' ] || fail "adopt: $OUT"
[ "$(tokjson 0 | jq -c .keyslots)" = '["0"]' ] || fail "keyslots after adopt: $(tokjson 0)"
[ "$(tokjson 0 | jq -c .UserData)" = "$ud_before" ] || fail "adopt changed UserData"
[ "$(tokjson 0 | jq -c 'keys')" = '["UserData","keyslots","type"]' ] || fail "adopt added fields: $(tokjson 0)"
"$HEADER_CHECK" "$STATE" >/dev/null || fail "Talos would reject the adopted header: $("$HEADER_CHECK" "$STATE")"
ok "adopt (after a dry run that writes nothing) sets keyslots [\"0\"] and changes nothing else; the header passes the Talos check"

tt "$TOKEN_TPM2_SO" talos-tpm2 open "$STATE"
[ "$TRC" = 0 ] && [ "$TOUT" = "opened keyslot 0" ] || fail "plugin after adopt: $TOUT $TERR"
volumes_config "$T/c.yaml" "STATE 0:tpm 1:nodeID"
VOLUMES=(--volume "STATE=$STATE")
tunlock 0 "$T/c.yaml" --no-sync
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "volseal unlock after adopt: $OUT"
run_volseal 0 token adopt --volume "STATE=$STATE" --json
[ "$(jq -c '[.written, .tokens[0].status, .tokens[0].slot, .tokens[0].type]' <<<"$OUT")" = '[0,"unchanged",0,"talos-tpm2"]' ] ||
  fail "second adopt: $OUT"
ok "after adopt the talos-tpm2 plugin opens keyslot 0, volseal unlock still opens by tpm, a second adopt changes nothing"

# --- refusals: nothing is written when any token is refused
imp() { printf '%s' "$2" | cryptsetup token import --token-id "$1" "$STATE"; }
imp 1 '{"type":"sideroKMS","keyslots":[],"UserData":{"sealedData":"AAAA"}}'
imp 2 "$(jq -c '.UserData.keyslots = [2]' <<<"$talos_token")"
imp 3 "$(jq -c '.UserData.keyslots = [0]' <<<"$talos_token")"
imp 4 "$(jq -c '.UserData.keyslots = [0, 1]' <<<"$talos_token")"
imp 5 '{"type":"something-else","keyslots":[],"UserData":{}}'
before=$(header_sum "$STATE")
run_volseal 1 token adopt "$STATE" --json
st() { jq -r --argjson t "$1" '.tokens[] | select(.token == $t) | "\(.status): \(.detail)"' <<<"$OUT"; }
[ "$(st 1)" = 'not-written: keyslots [] -> ["1"]' ] || fail "sideroKMS at id 1: $(st 1)"
[ "$(st 2)" = "refused: keyslot 2 does not exist" ] || fail "token 2: $(st 2)"
[ "$(st 3)" = "refused: its keyslot cannot be determined: UserData.keyslots names keyslot 0, but the token id is 3" ] || fail "token 3: $(st 3)"
[ "$(st 4)" = "refused: its keyslot cannot be determined: UserData.keyslots is not one keyslot number" ] || fail "token 4: $(st 4)"
[ "$(st 5)" = "skipped: not a talos-tpm2 or sideroKMS token" ] || fail "token 5: $(st 5)"
[ "$(jq .written <<<"$OUT")" = 0 ] || fail "written: $OUT"
[ "$(header_sum "$STATE")" = "$before" ] || fail "a refused adopt wrote the header"
run_volseal 1 token adopt "$STATE"
contains "$ERR" "token 2 (talos-tpm2): refused: keyslot 2 does not exist"
contains "$ERR" "nothing was written"
ok "tokens whose keyslot does not exist, disagrees with the token id or cannot be determined are refused with the reason, and then nothing is written"

cryptsetup token remove --token-id 2 "$STATE"; cryptsetup token remove --token-id 3 "$STATE"; cryptsetup token remove --token-id 4 "$STATE"
run_volseal 0 token adopt "$STATE" --token 1
[ "$OUT" = 'token 1 (sideroKMS): adopted: keyslots [] -> ["1"]' ] || fail "adopt --token 1: $OUT"
[ "$(tokjson 1 | jq -c .keyslots)" = '["1"]' ] && [ "$(tokjson 5 | jq -c .keyslots)" = '[]' ] || fail "tokens after: $(tokjson 1) $(tokjson 5)"
ok "a sideroKMS token without UserData.keyslots is adopted at its token id; other types are left alone"

run_volseal 0 token --help
contains "$OUT" "Exit codes:"
run_volseal 0 token adopt --help
run_volseal 1 token adopt
contains "$ERR" "missing DEVICE"
run_volseal 1 token frob "$STATE"
run_volseal 1 token adopt "$STATE" --token 32
run_volseal 1 token adopt "$STATE" --token 9
contains "$ERR" "there is no token 9"
run_volseal 4 token adopt "$T/nonexistent.img"
head -c 1M /dev/zero > "$T/zero.img"
run_volseal 1 token adopt "$T/zero.img"
ok "--help (exit codes), usage errors exit 1, a missing device exits 4, a non-LUKS file exits 1"
flush_all
done_testing
