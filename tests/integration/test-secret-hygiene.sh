#!/usr/bin/env bash
# Secret hygiene of enrol (the unlock that formats or adds a slot) and unlock, for the static, nodeID, tpm and
# kms kinds, with TSS2_LOG=all+trace in the environment (tpm2-tss logs session keys and buffers at trace
# level; volseal must silence it). Each run is recorded by tests/lib/hygiene.sh: stdout, stderr, argv and
# environment of every exec (strace -e trace=execve -v), /proc/PID/{cmdline,environ} sampled every 20 ms,
# the TPM traffic through tests/lib/tpm-relay.py, the measurement log, and the LUKS images themselves. The
# secrets are learnt independently of volseal (the test's own passphrases; the tpm secret unsealed from the
# token by tpm-helper; the kms secret decrypted with the test KMS's key) and proven right with cryptsetup,
# then searched in every artifact as raw bytes, base64 and hex (tests/lib/secret-scan.py).
# Core dumps: a running volseal (held in a slow KMS call) has RLIMIT_CORE 0 although the shell allowed
# cores, and gcore from a same-uid tracer without CAP_SYS_PTRACE is refused (PR_SET_DUMPABLE 0).
# Negative self-tests first: a deliberately leaking program is caught in stdout, stderr, argv, environment
# and /proc; a TPM unseal without parameter encryption is caught in the relay capture; a dumpable process
# with a secret in memory is dumped by the same gcore and the secret found in its core.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/kms/kms.sh"
. "$TOP/tests/lib/hygiene.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
flush_all
mkdir -p "$T/in" "$T/secrets"

# ---------------------------------------------------------------- negative self-tests of the harness
head -c 32 /dev/urandom > "$T/secrets/planted"
planted=$(base64 -w0 "$T/secrets/planted")
cat > "$T/in/leak.sh" <<'SH'
echo "stdout: $1"; echo "stderr: $1" >&2; sleep 1
SH
LEAK=$planted WATCH_CMD="bash $T/in/leak.sh" watched neg-leak 0 "$planted"
for f in out err strace proc; do
  scan_must_find "leak in $f" "$T/art/neg-leak.$f" -- "$T/secrets/planted"
done
ok "negative self-test: a leaking program is caught in stdout, stderr, argv/environment (strace) and /proc"

hygiene_relay_start "$T/neg-capture.bin"
head -c 32 /dev/urandom > "$T/secrets/tpm-plain"
tpm2_createprimary -Q -C o -c "$T/neg-p.ctx"
tpm2_create -Q -C "$T/neg-p.ctx" -i "$T/secrets/tpm-plain" -u "$T/neg.pub" -r "$T/neg.priv"
tpm2_flushcontext -t
tpm2_load -Q -C "$T/neg-p.ctx" -u "$T/neg.pub" -r "$T/neg.priv" -c "$T/neg.ctx"
tpm2_unseal -c "$T/neg.ctx" -o "$T/neg.out"   # no session: the response carries the data in clear
flush_all
cmp -s "$T/neg.out" "$T/secrets/tpm-plain" || fail "tpm2_unseal round trip"
scan_must_find "TPM traffic" "$T/neg-capture.bin" -- "$T/secrets/tpm-plain"
ok "negative self-test: an unseal without parameter encryption is caught in the relay capture"

bash -c 'ulimit -c unlimited; exec "$@"' _ "${NOPTRACE[@]}" -c \
  "exec /usr/bin/python3 -c 'import sys, time; s = open(sys.argv[1], \"rb\").read() * 3; time.sleep(60)' '$T/secrets/planted'" &
holder=$!
target=
for _ in $(seq 1 200); do target=$(find_comm "$holder" python3); [ -n "$target" ] && break; sleep 0.05; done
[ -n "$target" ] || fail "negative self-test: the dumpable process did not start"
add_cleanup "kill $target 2>/dev/null || true"
sleep 0.5
lim=$(awk '/^Max core file size/ {print $5}' /proc/"$target"/limits)
[ "$lim" != 0 ] || fail "negative self-test: the dumpable process has RLIMIT_CORE 0 already"
"${NOPTRACE[@]}" -c "gcore -o '$T/neg-core' $target" > "$T/neg-gcore.log" 2>&1 || fail "negative self-test: gcore refused a dumpable process: $(cat "$T/neg-gcore.log")"
kill "$target"; wait "$holder" 2>/dev/null || true
scan_must_find "core dump" "$T"/neg-core* -- "$T/secrets/planted"
rm -f "$T"/neg-core*
ok "negative self-test: a dumpable process (core limit $lim) is dumped by gcore without CAP_SYS_PTRACE and its secret found"

# The artifacts every real run is checked in (besides $T/art/RUN.*).
common_paths() { echo "$T/capture.bin" "$VOLSEAL_MEASURE_LOG" "$@"; }
check_run() { # RUN WHAT SECRET-FILE... (images given in IMAGES)
  local run=$1 what=$2; shift 2
  scan "$what: $run" "$T/art/$run.out" "$T/art/$run.err" "$T/art/$run.strace" "$T/art/$run.proc" \
    $(common_paths) "${IMAGES[@]}" -- "$@"
}

# ---------------------------------------------------------------- static and nodeID
static_pass="hygiene-static-$(head -c 12 /dev/urandom | base64 -w0 | tr '+/' '-_')"
printf '%s' "$static_pass" > "$T/secrets/static"
printf '%sEPHEMERAL' "$UUID" > "$T/secrets/nodeid"
EPH=$(img eph)
IMAGES=("$EPH")
VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/in/static.yaml" "EPHEMERAL 0:static:$static_pass 1:nodeID"
hygiene_relay_start "$T/capture.bin"
unlock_args() { echo unlock -c "$1" "${VOLUMES[@]}" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}"; }
watched static-enrol 0 $(unlock_args "$T/in/static.yaml")
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "static enrol: $OUT"
opens "$EPH" 0 "$static_pass" && opens "$EPH" 1 "$(cat "$T/secrets/nodeid")" || fail "the known secrets do not open EPHEMERAL"
watched static-unlock 0 $(unlock_args "$T/in/static.yaml")
[ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "static unlock: $OUT"
for r in static-enrol static-unlock; do check_run $r "static+nodeID" "$T/secrets/static" "$T/secrets/nodeid"; done
ok "static and nodeID: enrol and unlock leak neither passphrase (out, err, argv/env, /proc, TPM traffic, images)"

# ---------------------------------------------------------------- tpm
make_efivars 1
make_ukis
tpm_volume "$T/in/tpm.yaml"
IMAGES=("$STATE")
reboot "$T/uki1.efi"
direct_tcti=$VOLSEAL_TCTI
hygiene_relay_start "$T/capture.bin"
watched tpm-enrol 0 $(unlock_args "$T/in/tpm.yaml") --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
[ "$(vol STATE .state)" = formatted ] && [ "$(slot_status STATE 0)" = added ] || fail "tpm enrol: $OUT"
# the secret, independently: the token's blobs unsealed by tpm-helper (its own session, not through the relay)
mkdir -p "$T/in/tok"
cryptsetup luksDump --dump-json-metadata "$STATE" | python3 -c '
import base64, json, sys
ud = json.load(sys.stdin)["tokens"]["0"]["UserData"]; d = sys.argv[1]
open(d + "/priv", "wb").write(base64.b64decode(ud["sealed_blob_private"]))
open(d + "/pub", "wb").write(base64.b64decode(ud["sealed_blob_public"]))
open(d + "/srkname", "wb").write(base64.b64decode(ud["key_name"]))
open(d + "/policy", "w").write(base64.b64decode(ud["policy_hash"]).hex())
open(d + "/pcrs", "w").write(str(sum(1 << p for p in ud["pcrs"])))' "$T/in/tok"
VOLSEAL_TCTI=$direct_tcti "$TPM_HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/extra/tpm2-pcr-signature.json" --dir "$T/in/tok" >/dev/null \
  || fail "tpm-helper cannot unseal the token volseal wrote"
cp "$T/in/tok/unsealed" "$T/secrets/tpm"
base64 -w0 "$T/secrets/tpm" > "$T/secrets/tpm-pass"
printf '%sSTATE' "$UUID" > "$T/secrets/nodeid-state"
opens "$STATE" 0 "$(cat "$T/secrets/tpm-pass")" || fail "the unsealed secret does not open STATE slot 0"
reboot "$T/uki1.efi"
hygiene_relay_start "$T/capture.bin"
watched tpm-unlock 0 $(unlock_args "$T/in/tpm.yaml") --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "tpm unlock: $OUT"
grep -q 0x0000015e "$T/relay-commands.txt" || fail "no TPM2_Unseal went through the relay"
for r in tpm-enrol tpm-unlock; do check_run $r "tpm" "$T/secrets/tpm" "$T/secrets/tpm-pass" "$T/secrets/nodeid-state"; done
# volseal's own negative: --debug-tpm lets tpm2-tss log at TSS2_LOG's level, which prints the decrypted
# parameters: the harness must see the secret there
watched tpm-debug 0 $(unlock_args "$T/in/tpm.yaml") --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem" --debug-tpm
scan_must_find "tpm2-tss trace log" "$T/art/tpm-debug.err" -- "$T/secrets/tpm"
DEBUG_HITS=$(grep -c FOUND <<< "$SCAN_HITS")
ok "tpm: enrol and unlock leak neither the 32 bytes nor the passphrase, not even in the TPM traffic ($(stat -c %s "$T/capture.bin") bytes captured, $(grep -c . "$T/relay-commands.txt") commands); with --debug-tpm the tss trace log shows it ($DEBUG_HITS forms found)"

# ---------------------------------------------------------------- kms
echo ok > "$T/in/kms-mode"
kms_start --key-file "$T/in/kms.key" --log "$T/in/kms.log" --mode-file "$T/in/kms-mode" --delay 3
KEPH=$(img kms)
IMAGES=("$KEPH")
VOLUMES=(--volume "EPHEMERAL=$KEPH")
volumes_config "$T/in/kms.yaml" "EPHEMERAL 0:kms:grpc://127.0.0.1:$KMS_PORT"
watched kms-enrol 0 $(unlock_args "$T/in/kms.yaml")
[ "$(vol EPHEMERAL .state)" = formatted ] || fail "kms enrol: $OUT"
cryptsetup luksDump --dump-json-metadata "$KEPH" | /usr/bin/python3 -c '
import base64, json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
sealed = base64.b64decode(json.load(sys.stdin)["tokens"]["0"]["UserData"]["sealedData"])
plain = AESGCM(open(sys.argv[1], "rb").read()).decrypt(sealed[:12], sealed[12:], sys.argv[2].encode())
open(sys.argv[3], "wb").write(plain)' "$T/in/kms.key" "$UUID" "$T/secrets/kms"
base64 -w0 "$T/secrets/kms" > "$T/secrets/kms-pass"
opens "$KEPH" 0 "$(cat "$T/secrets/kms-pass")" || fail "the decrypted KMS secret does not open the volume"
watched kms-unlock 0 $(unlock_args "$T/in/kms.yaml")
[ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "kms unlock: $OUT"
for r in kms-enrol kms-unlock; do check_run $r "kms" "$T/secrets/kms" "$T/secrets/kms-pass"; done
ok "kms: enrol and unlock leak neither the 32 bytes nor the passphrase"

# ---------------------------------------------------------------- core dumps of a running unlock
echo slow > "$T/in/kms-mode"
bash -c 'ulimit -c unlimited; exec "$@"' _ "${NOPTRACE[@]}" -c "exec '$VOLSEAL' $(unlock_args "$T/in/kms.yaml")" \
  > "$T/art/core.out" 2> "$T/art/core.err" &
slowpid=$!
vpid=
for _ in $(seq 1 200); do
  vpid=$(find_comm "$slowpid" volseal)
  [ -n "$vpid" ] && grep -q '^Max core file size *0 *0' /proc/"$vpid"/limits 2>/dev/null && break
  sleep 0.05
done
[ -n "$vpid" ] || fail "volseal did not start"
why=$(nodump_check "$vpid" "$T/core") || fail "core dump of a running unlock: $why"
wait "$slowpid" || fail "slow kms unlock failed: $(cat "$T/art/core.err")"
scan "core check run" "$T/art/core.out" "$T/art/core.err" -- "$T/secrets/kms" "$T/secrets/kms-pass"
ok "a running unlock has RLIMIT_CORE 0 (the shell allowed cores) and refuses gcore without CAP_SYS_PTRACE"
done_testing
