#!/usr/bin/env bash
# tpm scenarios 8 and 9 on swtpm:
# 9. tokens made here from Talos's documented layout unseal: the pre-1.12 shape (keyslots, sealed blobs,
#    pcrs [11] meaning PolicyAuthorize + PolicyPCR(7), alg, policy_hash, key_name; top-level keyslots [])
#    and the 1.12 shape (pcrs [7], pubkey_pcrs [11], encryption_version "1"); the sealed object comes from
#    src/tpm through tests' tpm-helper, the keyslot and token are written by the real cryptsetup;
# 8. while volseal unlocks through a capturing relay (data and control ports), the 32 secret bytes and
#    their base64 never cross the wire, nor appear in volseal's output with TSS2_LOG=all+trace.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/tpm.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
flush_all
make_efivars 1
make_ukis
reboot "$T/uki1.efi"

mkdir -p "$T/s"
"$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs 7 --dir "$T/s" >/dev/null
b64f() { base64 -w0 "$1"; }
policy_b64=$(xxd -r -p "$T/s/policy" | base64 -w0)
pre112=$(jq -n -c --arg priv "$(b64f "$T/s/priv")" --arg pub "$(b64f "$T/s/pub")" --arg pol "$policy_b64" \
  --arg name "$(b64f "$T/s/srkname")" \
  '{type:"talos-tpm2", keyslots:[], UserData:{keyslots:[0], sealed_blob_private:$priv, sealed_blob_public:$pub,
    pcrs:[11], alg:"sha256", policy_hash:$pol, key_name:$name}}')
v112=$(printf '%s' "$pre112" | jq -c '.UserData.pcrs = [7] | .UserData.pubkey_pcrs = [11] | .UserData.encryption_version = "1"')
pass=$(b64f "$T/s/secret")
[ ${#pass} = 44 ] || fail "passphrase length ${#pass}"

volumes_config "$T/c.yaml" "STATE 0:tpm 1:nodeID"
talos_image() { # NAME TOKEN-JSON: a LUKS2 image as Talos leaves it: nodeID at slot 1, tpm at slot 0 + token 0
  local dev
  dev=$(img "$1")
  printf '%sSTATE' "$UUID" | cryptsetup luksFormat --type luks2 --batch-mode --key-slot 1 --pbkdf argon2id \
    --pbkdf-memory 32 --pbkdf-force-iterations 4 --pbkdf-parallel 1 "$dev" --key-file - >/dev/null
  printf '%s' "$pass" > "$T/pass"
  printf '%sSTATE' "$UUID" > "$T/nodeid"
  cryptsetup luksAddKey --batch-mode --key-slot 0 --pbkdf argon2id --pbkdf-memory 32 --pbkdf-force-iterations 4 \
    --pbkdf-parallel 1 --key-file "$T/nodeid" "$dev" "$T/pass"
  printf '%s' "$2" | cryptsetup token import --token-id 0 "$dev"
  echo "$dev"
}
for shape in pre112 v112; do
  STATE=$(talos_image "$shape" "${!shape}")
  VOLUMES=(--volume "STATE=$STATE")
  tunlock 0 "$T/c.yaml" --no-sync
  [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "$shape token: $OUT"
done
ok "scenario 9: tokens in Talos's pre-1.12 (pcrs [11]) and 1.12 (encryption_version 1) shapes unseal and open slot 0"

# Talos tokens carry no PK/KEK/db hashes: after a dbx change they are reported, never re-sealed automatically.
sum=$(token_sum "$STATE")
head -c 100 /dev/urandom > "$T/dbx2.esl"; setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
tunlock 3 "$T/c.yaml"
[ "$(vol STATE .opened_by_slot)" = 1 ] || fail "talos token after dbx: $OUT"
contains "$(vol STATE '.slots[] | select(.slot == 0) | .detail')" "records no PK/KEK/db hashes"
[ "$(token_sum "$STATE")" = "$sum" ] || fail "a Talos token was re-sealed automatically"
ok "a Talos-written token (no PK/KEK/db hashes) is not re-sealed automatically after a dbx change"

# --- 8: the relay and TSS2_LOG=all+trace
cp "$T/dbx.esl" "$T/dbx-orig.esl"; setvar dbx "$T/dbx.esl"
reboot "$T/uki1.efi"
python3 "$TOP/tests/lib/tpm-relay.py" "$SWTPM_PORT" "$T/capture.bin" "$T/commands.txt" > "$T/relay.port" &
relay_pid=$!
add_cleanup "kill $relay_pid"
for _ in $(seq 1 250); do [ -s "$T/relay.port" ] && break; sleep 0.02; done
[ -s "$T/relay.port" ] || fail "relay did not start"
STATE=$(talos_image wire "$v112")
VOLUMES=(--volume "STATE=$STATE")
VOLSEAL_TCTI="swtpm:host=127.0.0.1,port=$(cat "$T/relay.port")" TSS2_LOG=all+trace tunlock 0 "$T/c.yaml" --no-sync
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "through the relay: $OUT"
printf '%s\n%s\n' "$OUT" "$ERR" > "$T/output.txt"
python3 - "$T/capture.bin" "$T/s/secret" "$T/pcr.pub" "$T/output.txt" <<'PY' || fail "the secret leaked"
import base64, subprocess, sys
cap = open(sys.argv[1], "rb").read()
out = open(sys.argv[4], "rb").read()
secret = open(sys.argv[2], "rb").read()
assert len(secret) == 32
for hay, where in ((cap, "TPM traffic"), (out, "volseal output")):
    for needle, what in ((secret, "raw secret"), (base64.b64encode(secret), "base64 secret"),
                         (secret.hex().encode(), "hex secret"), (secret[:16], "half of the secret")):
        if needle in hay:
            sys.exit(f"{what} found in the {where}")
mod = subprocess.run(["openssl", "rsa", "-pubin", "-in", sys.argv[3], "-noout", "-modulus"],
                     capture_output=True, text=True, check=True).stdout.strip().split("=")[1]
assert bytes.fromhex(mod) in cap, "the capture does not hold volseal's LoadExternal"
PY
grep -qx '0x0000015e' "$T/commands.txt" || fail "no Unseal seen by the relay"
ok "scenario 8: unlock by tpm through the relay: neither the secret nor its base64 is on the wire or in the output (TSS2_LOG=all+trace)"
flush_all
done_testing
