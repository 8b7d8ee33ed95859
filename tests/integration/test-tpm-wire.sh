#!/usr/bin/env bash
# What crosses the TPM bus and what tpm2-tss prints: a capturing relay (tests/lib/tpm-relay.py) sits between
# volseal and swtpm (data port N and control port N+1). The 32 secret bytes and their base64 (the LUKS
# passphrase) never appear in the capture, during seal (Create's inSensitive) or unseal (Unseal's response);
# nor in the output with TSS2_LOG=all+trace. Also counts the TPM commands of an unseal (the SRK read at
# 0x81000001, where the seal persisted it; a further unseal in the same context reuses the policy session, the
# PCR values and the VerifySignature ticket: 6 commands), makes the TPM refuse a kept ticket (the relay
# corrupts it: verified again, still unseals), and makes PCR 11 move between volseal's PCR_Read and its
# PolicyPCR (the relay injects an extend): volseal re-reads, restarts the session's policy and retries, also
# when the values it had kept from an earlier unseal are the stale ones.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tpm.sh"
. "$(dirname "$0")/../lib/relay.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"

make_pcr_key
"$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
pcrsig_json "$T/sig.json" "$(pcrsig_entry "$(pcr_hex 11)")"

relay_start "$T/capture.bin" "$T/commands.txt" "$T/inject"

# control: the relay really sees payloads (a TPM2_GetRandom answer in clear is in the capture)
tpm2_getrandom -T "$VOLSEAL_TCTI" 32 -o "$T/random.bin"
python3 - "$T/capture.bin" "$T/random.bin" <<'PY' || fail "the relay does not capture TPM responses"
import sys
assert open(sys.argv[2], "rb").read() in open(sys.argv[1], "rb").read()
PY
ok "the relay captures both directions (a clear GetRandom response is found)"

mkdir -p "$T/s"
"$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs 7 --dir "$T/s" >/dev/null
seal_cmds=$(wc -l < "$T/commands.txt")
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" --count 2 >/dev/null
cmp -s "$T/s/secret" "$T/s/unsealed" || fail "round trip through the relay"
check_capture() {
  python3 - "$T/capture.bin" "$T/s/secret" "$T/pcr.pub" <<'PY'
import base64, subprocess, sys
cap = open(sys.argv[1], "rb").read()
secret = open(sys.argv[2], "rb").read()
assert len(secret) == 32
for needle, what in ((secret, "raw secret"), (base64.b64encode(secret), "base64 secret"),
                     (secret.hex().encode(), "hex secret"), (secret[:16], "half of the secret"),
                     (secret[16:], "other half of the secret")):
    if needle in cap:
        sys.exit(f"{what} found in the TPM traffic")
# the PCR key's modulus (LoadExternal) is in the capture: the capture covers volseal's own traffic
der = subprocess.run(["openssl", "rsa", "-pubin", "-in", sys.argv[3], "-noout", "-modulus"],
                     capture_output=True, text=True, check=True).stdout.strip().split("=")[1]
assert bytes.fromhex(der) in cap, "modulus not captured"
PY
}
check_capture || fail "secret on the wire"
ok "the secret and its base64 never cross the TPM bus (seal + 2 unseals, $(stat -c %s "$T/capture.bin") bytes captured)"

# --- commands per unseal (recorded from the capture; docs/tpm.md quotes them)
names() { "$VOLSEAL_TOP/tests/lib/tpm-names"; }
count() { grep -o "\b$1\b" <<<"$2" | wc -l; }
# the seal above persisted the SRK at 0x81000001 (the handle was free)
contains "$(tpm2_getcap handles-persistent)" "0x81000001"
: > "$T/commands.txt"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" >/dev/null
pfirst=$(names < "$T/commands.txt")
: > "$T/commands.txt"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" --count 3 >/dev/null
three=$(names < "$T/commands.txt")
n1=$(wc -w <<<"$pfirst"); n3=$(wc -w <<<"$three")
echo "# persistent SRK, one unseal ($n1): $pfirst"
echo "# persistent SRK, 3 unseals ($n3): $three"
[ "$pfirst" = "PCR_Read ReadPublic Load StartAuthSession LoadExternal PolicyPCR VerifySignature PolicyAuthorize PolicyPCR Unseal FlushContext FlushContext FlushContext" ] ||
  fail "one unseal with the SRK at 0x81000001: $pfirst"
[ "$(count StartAuthSession "$three")" = 1 ] && [ "$(count PCR_Read "$three")" = 1 ] &&
  [ "$(count VerifySignature "$three")" = 1 ] && [ "$(count PolicyAuthorize "$three")" = 3 ] &&
  [ "$(count Unseal "$three")" = 3 ] && [ "$(count PolicyRestart "$three")" = 0 ] ||
  fail "3 unseals: not one session, one PCR_Read and one VerifySignature: $three"
[ $(( (n3 - n1) / 2 )) -le 6 ] || fail "more than 6 commands per further unseal"
ok "one unseal = $n1 commands with the SRK at 0x81000001 (no GetCapability), $(( (n3 - n1) / 2 )) per further unseal in one policy session"
# 0x81000001 emptied: searched (GetCapability), then CreatePrimary; the transient SRK is flushed at close
tpm2_evictcontrol -Q -C o -c 0x81000001
: > "$T/commands.txt"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" >/dev/null
first=$(names < "$T/commands.txt")
echo "# transient SRK, one unseal ($(wc -w <<<"$first")): $first"
contains "$first" "PCR_Read ReadPublic GetCapability CreatePrimary Load StartAuthSession"
"$VOLSEAL" tpm setup >/dev/null
ok "without a persistent SRK: 0x81000001 read, the handles searched, then CreatePrimary"

# --- the kept ticket refused by the TPM (the relay corrupts it in the 2nd PolicyAuthorize): the signature is
# verified again and PolicyAuthorize sent again in the same session, and the slot still unseals
echo ticket 2 > "$T/inject"
: > "$T/commands.txt"
"$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" --count 2 > "$T/ticket.txt" 2>&1 ||
  fail "unseal with the kept ticket refused: $(cat "$T/ticket.txt")"
[ ! -e "$T/inject" ] || fail "the relay did not corrupt the ticket"
cmp -s "$T/s/secret" "$T/s/unsealed" || fail "secret differs after the refused ticket"
two=$(names < "$T/commands.txt")
echo "# the kept ticket refused in the 2nd unseal: $two"
contains "$two" "PolicyPCR PolicyAuthorize VerifySignature PolicyAuthorize PolicyPCR Unseal"
[ "$(count VerifySignature "$two")" = 2 ] && [ "$(count StartAuthSession "$two")" = 1 ] || fail "refused ticket: $two"
ok "a kept ticket the TPM refuses: VerifySignature again, PolicyAuthorize again, the slot unseals"
check_capture || fail "secret on the wire (later unseals)"

# --- --debug: PolicyGetDigest before Unseal, and the digest logged equals the slot's policy_hash
: > "$T/commands.txt"
"$HELPER" unseal --debug --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" > "$T/debug.txt" 2>&1 ||
  fail "unseal --debug: $(cat "$T/debug.txt")"
contains "$(names < "$T/commands.txt")" "PolicyPCR PolicyGetDigest Unseal"
contains "$(cat "$T/debug.txt")" "policy session digest before Unseal: $(cat "$T/s/policy")"
ok "--debug adds PolicyGetDigest, and the TPM's session digest equals the software policy_hash"

# --- tpm2-tss logging is off unless --debug-tpm, even with TSS2_LOG=all+trace
TSS2_LOG=all+trace "$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/sig.json" --dir "$T/s" > "$T/out.txt" 2>&1 ||
  fail "unseal with TSS2_LOG=all+trace: $(cat "$T/out.txt")"
mkdir -p "$T/s2"
TSS2_LOG=all+trace "$HELPER" seal --pcr-key "$T/pcr.pub" --pcrs 7 --dir "$T/s2" >> "$T/out.txt" 2>&1 ||
  fail "seal with TSS2_LOG=all+trace: $(cat "$T/out.txt")"
TSS2_LOG=all+trace "$VOLSEAL" pcr read --pcr 7 >> "$T/out.txt" 2>&1
python3 - "$T/out.txt" "$T/s/secret" "$T/s2/secret" <<'PY' || fail "secret or tss2 trace in the output: $(head -c 2000 "$T/out.txt")"
import base64, sys
out = open(sys.argv[1], "rb").read()
assert b":esys:" not in out and b":tcti:" not in out and b"trace" not in out.lower(), "tpm2-tss logged"
for path in sys.argv[2:]:
    s = open(path, "rb").read()
    for needle in (s, base64.b64encode(s), s.hex().encode(), s.hex().upper().encode(),
                   " ".join("%02x" % b for b in s[:8]).encode()):
        assert needle not in out, "secret in output"
PY
ok "with TSS2_LOG=all+trace, tpm2-tss prints nothing and the secret is not in the output"
# control: --debug-tpm leaves TSS2_LOG alone, and then the trace is there (and volseal warns)
TSS2_LOG=all+trace "$HELPER" srk --debug-tpm > "$T/dbg.txt" 2>&1
contains "$(cat "$T/dbg.txt")" ":esys:"
contains "$(cat "$T/dbg.txt")" "--debug-tpm: tpm2-tss logging follows TSS2_LOG"
ok "--debug-tpm: trace appears, with a warning"
# --- PCR 11 moves during the unseal (systemd-pcrphase running concurrently): TPM_RC_VALUE, re-read, retry.
# race AT COUNT: the relay extends PCR 11 before the AT-th PolicyPCR of `unseal --count COUNT`; prints the
# commands sent, after checking that PCR 11 moved and the secret still came out.
race() {
  local now later
  now=$(pcr_hex 11)
  later=$(next_pcr_hex "$now" leave-initrd)
  pcrsig_json "$T/race.json" "$(pcrsig_entry "$now")" "$(pcrsig_entry "$later")"
  printf '%s %s\n' "$(printf leave-initrd | sha256sum | cut -d' ' -f1)" "$1" > "$T/inject"
  : > "$T/commands.txt"
  "$HELPER" unseal --pcr-key "$T/pcr.pub" --pcrsig "$T/race.json" --dir "$T/s" --count "$2" > "$T/race.txt" 2>&1 ||
    fail "unseal with PCR 11 moving: $(cat "$T/race.txt")"
  [ ! -e "$T/inject" ] || fail "the relay did not inject the extend"
  [ "$(pcr_hex 11)" = "$later" ] || fail "PCR 11 did not move"
  cmp -s "$T/s/secret" "$T/s/unsealed" || fail "secret differs after the retry"
  names < "$T/commands.txt"
}
r=$(race 1 1)
[ "$(count PCR_Read "$r")" = 2 ] && [ "$(count StartAuthSession "$r")" = 1 ] && [ "$(count PolicyRestart "$r")" = 1 ] ||
  fail "PCR 11 not re-read / the session not restarted: $r"
echo "# PCR 11 moved during unseal: $r"
ok "PCR 11 moving between PCR_Read and PolicyPCR: re-read and retried with the next signed phase"
# a second unseal starts from the values kept from the first: the extend comes before the 3rd PolicyPCR (the
# first unseal sends PolicyPCR 11 and PolicyPCR 7), so the kept values are stale
r=$(race 3 2)
[ "$(count PCR_Read "$r")" = 2 ] && [ "$(count StartAuthSession "$r")" = 1 ] && [ "$(count PolicyRestart "$r")" = 1 ] &&
  [ "$(count VerifySignature "$r")" = 2 ] ||
  fail "kept PCR values not dropped, re-read and re-verified: $r"
echo "# PCR 11 moved before the 2nd unseal: $r"
ok "PCR 11 moving before a later unseal: the kept values are dropped, re-read and retried"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left"
[ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions left"
done_testing
