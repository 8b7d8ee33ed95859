#!/usr/bin/env bash
# The kms key kind through the volume lifecycle, against the real grpcio KMS peer (tests/kms/server.py):
# format with kms + nodeID; the token and passphrase cross-checked with cryptsetup and the server's key;
# a reboot opens by kms; KMS down -> nodeID opens and the kms slot is left intact; a wrong secret -> a clear
# error and fallback; a slow KMS against --kms-timeout; TLS with the test CA; a server certificate for the
# wrong name refused. Without --full-sync the fingerprint matches in these boots: a kms slot that failed
# in the open loop must still be reported "failed" (exit 3 for STATE), never "not-tried".
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/kms/kms.sh"

state_eph_images
echo ok > "$T/mode"
kms_start --key-file "$T/kms.key" --log "$T/kms.log" --mode-file "$T/mode"
port=$KMS_PORT
kms_config() { # FILE ENDPOINT
  volumes_config "$1" "STATE provider=luks2 0:kms:$2 1:nodeID" "EPHEMERAL 0:kms:$2"
}
kms_config "$T/c.yaml" "grpc://127.0.0.1:$port"

# passphrase_of DEVICE SLOT: decrypts the token's sealedData with the server's key file and the node UUID
# (what the KMS does), prints base64 of the 32 bytes: the passphrase Talos would use.
passphrase_of() {
  cryptsetup luksDump --dump-json-metadata "$1" | /usr/bin/python3 -c '
import base64, json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
tok = json.load(sys.stdin)["tokens"][sys.argv[1]]
sealed = base64.b64decode(tok["UserData"]["sealedData"])
plain = AESGCM(open(sys.argv[2], "rb").read()).decrypt(sealed[:12], sealed[12:], sys.argv[3].encode())
assert len(plain) == 32
print(base64.b64encode(plain).decode(), end="")' "$2" "$T/kms.key" "$UUID"
}

# --- first boot: format with kms (slot 0) + nodeID (slot 1)
unlock 0 "$T/c.yaml"
[ "$(vol STATE .state)" = formatted ] && [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "STATE: $OUT"
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "EPHEMERAL: $OUT"
[ "$(slots "$STATE")" = "0 1" ] && [ "$(tokens "$STATE")" = 0 ] || fail "STATE slots/tokens: $(slots "$STATE") / $(tokens "$STATE")"
tok=$(cryptsetup luksDump --dump-json-metadata "$STATE" | jq -c '.tokens["0"]')
[ "$(jq -r .type <<<"$tok")" = sideroKMS ] && [ "$(jq -c .keyslots <<<"$tok")" = '["0"]' ] || fail "token 0: $tok"
[ "$(jq -r .UserData.sealedData <<<"$tok" | base64 -d | wc -c)" = 60 ] || fail "sealedData is not the 60-byte sealed blob: $tok"
pass=$(passphrase_of "$STATE" 0)
[ ${#pass} = 44 ] || fail "passphrase is not 44 base64 characters"
opens "$STATE" 0 "$pass" || fail "cryptsetup: base64 of the KMS secret does not open STATE slot 0"
opens "$STATE" 1 "${UUID}STATE" || fail "cryptsetup: nodeID slot 1"
opens "$EPH" 0 "$(passphrase_of "$EPH" 0)" || fail "cryptsetup: EPHEMERAL slot 0"
[ "$(kdfs "$STATE")" = argon2id ] || fail "non-argon2id keyslot"
grep -q "\"method\": \"Seal\", \"node_uuid\": \"$UUID\"" "$T/kms.log" || fail "Seal did not carry the node UUID"
ok "format: kms slot 0 (sideroKMS token, base64 passphrase, checked with cryptsetup and the KMS key) + nodeID"

# --- reboot opens by kms, one connection for both volumes is not asserted in plaintext (libcurl 7.88)
unlock 0 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "reboot: $OUT"
grep -q '"method": "Unseal"' "$T/kms.log" || fail "reboot did not ask the KMS"
ok "reboot opens STATE and EPHEMERAL by kms"

# --- KMS down: nodeID opens STATE, the kms slot and token are left as they are
sum=$(header_sum "$STATE")
kms_stop "$KMS_PID"
unlock 2 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "KMS down: STATE not opened by nodeID: $OUT"
[ "$(slot_status STATE 0)" = failed ] || fail "KMS down: slot 0 reported as '$(slot_status STATE 0)', not failed: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "KMS grpc://127.0.0.1:$port is down"
contains "$(vol STATE .errors)" "volume STATE slot 0: KMS grpc://127.0.0.1:$port is down"
[ "$(vol EPHEMERAL .state)" = not-opened ] || fail "EPHEMERAL has only kms: $OUT"
contains "$(vol EPHEMERAL .errors)" "is down"
[ "$(header_sum "$STATE")" = "$sum" ] || fail "KMS down changed the STATE header"
sed '/^---$/,$d' "$T/c.yaml" > "$T/state-only.yaml"
run_volseal 3 unlock -c "$T/state-only.yaml" --volume "STATE=$STATE" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}"
[ "$(slot_status STATE 0)" = failed ] || fail "KMS down, STATE alone (exit 3: opened, a slot failed): $OUT"
ok "KMS down: nodeID opens STATE, the kms slot is intact, the reason names the endpoint"

# --- wrong secret: clear error, fallback, slot intact
kms_start --port "$port" --key-file "$T/kms.key" --log "$T/kms.log" --mode-file "$T/mode"
echo wrong-secret > "$T/mode"
unlock 2 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "wrong secret: no fallback to nodeID: $OUT"
[ "$(slot_status STATE 0)" = failed ] || fail "wrong secret: slot 0 reported as '$(slot_status STATE 0)': $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "the KMS returned a secret that does not open keyslot 0"
contains "$(vol EPHEMERAL .errors)" "the KMS returned a secret that does not open keyslot 0"
[ "$(header_sum "$STATE")" = "$sum" ] || fail "a wrong KMS secret changed the STATE header"
ok "a wrong KMS secret: clear error, nodeID opens, kms slot intact"

# --- slow KMS (the server sleeps 5 s): --kms-timeout 0.5 gives up on each call after 500 ms -> "slow", fallback
echo slow > "$T/mode"
start=$(date +%s%N)
unlock 2 "$T/c.yaml" --kms-timeout 0.5
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$(vol STATE .opened_by_slot)" = 1 ] && [ "$(slot_status STATE 0)" = failed ] || fail "slow KMS: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "KMS grpc://127.0.0.1:$port is too slow: Unseal got no answer within 500 ms"
contains "$(vol EPHEMERAL .errors)" "is too slow"
[ "$elapsed_ms" -lt 4500 ] || fail "--kms-timeout 0.5 did not cut the 5 s calls short (${elapsed_ms} ms)"
[ "$(header_sum "$STATE")" = "$sum" ] || fail "a slow KMS changed the STATE header"
run_volseal 1 unlock -c "$T/c.yaml" --kms-timeout 0 --check
contains "$ERR" "--kms-timeout: '0' is not a number of seconds from 0.001 to 600"
run_volseal 1 status -c "$T/c.yaml" --kms-timeout 1.2345
contains "$ERR" "is not a number of seconds"
ok "a slow KMS: --kms-timeout 0.5 gives a 'too slow' error within 500 ms per call, nodeID opens STATE"
echo ok > "$T/mode"

# --- TLS with the test CA; a wrong-name certificate refused
kms_make_pki "$T/pki"
kms_start --key-file "$T/kms.key" --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key"
kms_config "$T/tls.yaml" "https://127.0.0.1:$KMS_PORT"
unlock 0 "$T/tls.yaml" --kms-ca "$T/pki/ca.pem"
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "TLS: $OUT"
ok "TLS with the test CA (--kms-ca) opens by kms"

kms_start --key-file "$T/kms.key" --tls-cert "$T/pki/wrong.pem" --tls-key "$T/pki/wrong.key"
kms_config "$T/wrong.yaml" "https://127.0.0.1:$KMS_PORT"
unlock 2 "$T/wrong.yaml" --kms-ca "$T/pki/ca.pem"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "wrong-name: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "certificate"
ok "a KMS certificate for the wrong name is refused; nodeID opens"

kms_no_secret <(printf '%s' "$pass") "$T/out" "$T/err"
done_testing
