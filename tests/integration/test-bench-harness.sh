#!/usr/bin/env bash
# The parts ./run bench rests on, without timing anything: the C harness drives systemd's token plugin
# (tests/bench/sd-token-unlock) and opens a systemd-cryptenroll enrolment on swtpm, refuses a wrong image,
# and leaves no session behind with --flush; the counting relay (tests/lib/tpm-relay.py) records exactly the
# commands a client sends, and with --trace each command's bytes; tests/lib/tpm-names names them; the real-TPM
# model (tests/bench/tpm-model.py) classifies every traced command and refuses a code it has no figure for.
# tests/bench/floor (the least the libraries need) enrols, opens its keyslot through PolicyPCR(7) + Unseal,
# leaves nothing loaded, and is refused once PCR 7 moves.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
: "${SD_TOKEN_UNLOCK:?SD_TOKEN_UNLOCK not set (run through meson)}"
: "${BENCH_FLOOR:?BENCH_FLOOR not set (run through meson)}"
# Under ASan the harness hosts systemd's plugin and tpm2-tss (not volseal code): their allocations are not ours
[ "${VOLSEAL_SANITIZED:-0}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
NAMES=$TOP/tests/lib/tpm-names
MODEL=(python3 "$TOP/tests/bench/tpm-model.py")
LATENCY=$TOP/tests/bench/real-tpm-latency.tsv

[ "$(printf '0x0000017e\n0x0000015e\n0x00000999\n' | "$NAMES")" = "PCR_Read Unseal 0x00000999" ] || fail "tpm-names"
[ "$(printf '0x0000016f\n0x00000171\n0x0000018c\n' | "$NAMES")" = "PolicyLocality PolicyOR PolicyPassword" ] || fail "tpm-names: TPM_CC values"
ok "tpm-names names TPM command codes"

truncate -s 20M "$T/s.img"
printf 'smoke-passphrase' > "$T/pass"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$T/s.img" "$T/pass"
[ "$("$SD_TOKEN_UNLOCK" --check-only "$T/s.img")" = ok ] || fail "harness --check-only"
PASSWORD=$(cat "$T/pass") systemd-cryptenroll --tpm2-device="$VOLSEAL_TCTI" --tpm2-pcrs=7 "$T/s.img" >/dev/null 2>"$T/enrol.err" ||
  fail "systemd-cryptenroll: $(cat "$T/enrol.err")"
tpm2_flushcontext -t; tpm2_flushcontext -s; tpm2_flushcontext -l

python3 "$TOP/tests/lib/tpm-relay.py" --trace "$T/trace.txt" "$SWTPM_PORT" "$T/capture.bin" "$T/commands.txt" > "$T/relay.port" &
relay_pid=$!
add_cleanup "kill $relay_pid"
for _ in $(seq 1 250); do [ -s "$T/relay.port" ] && break; sleep 0.02; done
[ -s "$T/relay.port" ] || fail "relay did not start"
RELAY="swtpm:host=127.0.0.1,port=$(cat "$T/relay.port")"

# the relay counts what a client sends: one tpm2_getrandom is one GetRandom (after its own startup probe)
: > "$T/commands.txt"; : > "$T/trace.txt"
tpm2_getrandom -T "$RELAY" 8 > /dev/null
sleep 0.2
contains "$("$NAMES" < "$T/commands.txt")" "GetRandom"
[ "$(grep -c -i '^0x0000017b$' "$T/commands.txt")" = 1 ] || fail "relay: $(cat "$T/commands.txt")"
ok "the relay records each command once ($("$NAMES" < "$T/commands.txt"))"

# the trace holds the same commands as the count, whole: the code and then the bytes that carry it
[ "$(cut -d' ' -f1 "$T/trace.txt")" = "$(cat "$T/commands.txt")" ] || fail "trace and count differ: $(cat "$T/trace.txt")"
while read -r code data; do [ "${data:12:8}" = "${code#0x}" ] || fail "trace line '$code $data'"; done < "$T/trace.txt"
ok "--trace records each command's bytes in the same order"

# the harness opens the enrolment through the plugin (unseal + keyslot check), through the relay
: > "$T/commands.txt"; : > "$T/trace.txt"
slot=$("$SD_TOKEN_UNLOCK" --flush "$T/s.img" "$RELAY" /dev/null 2>"$T/unlock.err") || fail "harness: $(cat "$T/unlock.err")"
sleep 0.2
[ "$slot" = 1 ] || fail "harness opened keyslot '$slot', wanted 1 (the systemd-tpm2 keyslot)"
cmds=$("$NAMES" < "$T/commands.txt")
contains "$cmds" "Unseal"
contains "$cmds" "PolicyPCR"
ok "the harness opens a systemd-cryptenroll enrolment through systemd's plugin ($(wc -l < "$T/commands.txt") TPM commands: $cmds)"
# the model reads what decides the plugin's costs from its bytes: an ECC SRK created, sessions salted to it
"${MODEL[@]}" classify "$T/trace.txt" > "$T/classes" || fail "the model cannot classify systemd's trace"
[ "$(wc -l < "$T/classes")" = "$(wc -l < "$T/trace.txt")" ] || fail "not every command classified: $(cat "$T/classes")"
grep -qx "CreatePrimary create:ecc-p256" "$T/classes" || fail "systemd's SRK: $(cat "$T/classes")"
grep -qx "StartAuthSession salt:ecc-p256" "$T/classes" || fail "systemd's salted session: $(cat "$T/classes")"
"${MODEL[@]}" ms "$LATENCY" "$T/trace.txt" > "$T/ms" || fail "the model cannot price systemd's trace"
awk -F'\t' '$2 + 0 <= 0 { exit 1 }' "$T/ms" && [ "$(wc -l < "$T/ms")" -ge 5 ] || fail "modelled ms: $(cat "$T/ms")"
ok "the model classifies and prices systemd's trace ($(grep -c -v ' small$' "$T/classes") priced commands; $(tr '\t\n' '= ' < "$T/ms")ms)"
# a command code the model has no figure for is refused, not counted as zero
{ cat "$T/trace.txt"; echo "0x00000999 8001000000140000099900000000000000000000"; } > "$T/unknown.trace"
if "${MODEL[@]}" ms "$LATENCY" "$T/unknown.trace" > /dev/null 2>"$T/model.err"; then fail "the model priced an unknown command"; fi
contains "$(cat "$T/model.err")" "unknown command code 0x00000999"
{ cat "$T/trace.txt"; echo "0x0000015d 80010000000e0000015d80000001"; } > "$T/sign.trace"
if "${MODEL[@]}" ms "$LATENCY" "$T/sign.trace" > /dev/null 2>"$T/model.err"; then fail "the model priced a Sign"; fi
contains "$(cat "$T/model.err")" "Sign (0x0000015d): no latency figure"
: > "$T/empty.trace"
if "${MODEL[@]}" ms "$LATENCY" "$T/empty.trace" > /dev/null 2>&1; then fail "the model priced an empty trace"; fi
ok "the model refuses an unknown command code, an asymmetric command it has no figure for, and an empty trace"
[ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "--flush left a session loaded"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "--flush left an object loaded"
ok "--flush leaves no session or object in the TPM (what /dev/tpmrm0 does at close)"

# a control: an image without a systemd-tpm2 token does not open
truncate -s 20M "$T/o.img"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$T/o.img" "$T/pass"
if "$SD_TOKEN_UNLOCK" --flush "$T/o.img" "$VOLSEAL_TCTI" /dev/null >/dev/null 2>&1; then fail "an image without a token opened"; fi
ok "an image without a systemd-tpm2 token is refused"

# the floor: enrol adds a keyslot + token, unlock opens exactly that keyslot through the policy
truncate -s 20M "$T/f.img"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$T/f.img" "$T/pass"
[ "$("$BENCH_FLOOR" enrol "$T/f.img" "$T/pass" "$VOLSEAL_TCTI" "$T/f.blob")" = "slot 1" ] || fail "floor enrol"
cryptsetup luksDump --dump-json-metadata "$T/f.img" | jq -e '.tokens["0"].type == "floor" and .keyslots["1"].kdf.type == "argon2id" and .keyslots["1"].kdf.memory == 32' >/dev/null ||
  fail "floor enrol: no floor token / argon2id 32 KiB keyslot 1"
: > "$T/commands.txt"; : > "$T/trace.txt"
[ "$("$BENCH_FLOOR" unlock "$T/f.img" "$RELAY" "$T/f.blob")" = "slot 1" ] || fail "floor unlock"
sleep 0.2
# classified into a file first: `classify | grep -q` fails under pipefail when grep's early exit breaks the pipe
"${MODEL[@]}" classify "$T/trace.txt" > "$T/floor-classes" || fail "the model cannot classify the floor's trace"
grep -qx "StartAuthSession salt:ecc-p256" "$T/floor-classes" || fail "the floor's salted session: $(cat "$T/floor-classes")"
cmds=$("$NAMES" < "$T/commands.txt")
contains "$cmds" "StartAuthSession"
contains "$cmds" "PolicyPCR"
contains "$cmds" "Unseal"
[ -z "$(tpm2_getcap handles-loaded-session)" ] && [ -z "$(tpm2_getcap handles-transient)" ] || fail "the floor left something loaded"
ok "the floor enrols and opens its keyslot ($(wc -l < "$T/commands.txt") TPM commands: $cmds), leaving nothing loaded"
tpm2_pcrextend 7:sha256=0000000000000000000000000000000000000000000000000000000000000001
if "$BENCH_FLOOR" unlock "$T/f.img" "$VOLSEAL_TCTI" "$T/f.blob" >/dev/null 2>"$T/floor.err"; then fail "the floor opened after PCR 7 moved"; fi
contains "$(cat "$T/floor.err")" "Unseal failed"
tpm2_flushcontext -t; tpm2_flushcontext -s
ok "the floor is refused once PCR 7 moves (its policy is real)"
done_testing
