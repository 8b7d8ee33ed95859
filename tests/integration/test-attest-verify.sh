#!/usr/bin/env bash
# test-attest-verify.sh (under lib/with-swtpm): a synthetic boot is extended into swtpm, tpm2-tools create
# an EK and an ECC P-256 AK and quote sha256:0,7,11 with a nonce; the quote is converted to quote.json
# (docs/pcr.md) and `volseal attest verify` must accept it, and refuse a wrong nonce, a modified event log,
# a modified PCR value, a modified quote, another AK, a wrong expectation. swtpm holds only 3 objects: each
# tpm2-tools step flushes what it leaves loaded.
. "$(dirname "$0")/../lib/common.sh"
: "${VS_MKEVENTLOG:?}"
export TPM2TOOLS_TCTI=$VOLSEAL_TCTI
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
IMGDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f

printf '\x01' > "$T/one"
"$VS_MKEVENTLOG" "$T/boot.log" > "$T/extends" <<EOF
banks sha1,sha256
0 EV_S_CRTM_VERSION string 1.00
7 EV_EFI_VARIABLE_DRIVER_CONFIG var SecureBoot $GLOBAL $T/one
7 EV_EFI_VARIABLE_DRIVER_CONFIG var PK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var KEK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var db $IMGDB -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var dbx $IMGDB -
0 EV_SEPARATOR separator
7 EV_SEPARATOR separator
EOF
tpm2_pcrextend $(cat "$T/extends")
d1=$(printf enter-initrd | sha1sum | cut -c1-40); d256=$(printf enter-initrd | sha256sum | cut -c1-64)
tpm2_pcrextend "11:sha1=$d1,sha256=$d256"
printf '\x1e{"pcr":11,"digests":[{"hashAlg":"sha1","digest":"%s"},{"hashAlg":"sha256","digest":"%s"}],"content_type":"systemd","content":{"string":"enter-initrd"}}\n' \
  "$d1" "$d256" > "$T/measure.log"

tpm2_createek -c "$T/ek.ctx" -G ecc -u "$T/ek.pub" >/dev/null
tpm2_flushcontext -t
tpm2_createak -C "$T/ek.ctx" -c "$T/ak.ctx" -G ecc -g sha256 -s ecdsa -u "$T/ak.pem" -f pem -n "$T/ak.name" >/dev/null
tpm2_flushcontext -t; tpm2_flushcontext -s
NONCE=$(openssl rand -hex 16)
tpm2_quote -c "$T/ak.ctx" -l sha256:0,7,11 -q "$NONCE" -m "$T/q.msg" -s "$T/q.sig" -g sha256 >/dev/null
tpm2_flushcontext -t
tpm2_pcrread sha256:0,7,11 > "$T/pcrs.txt"

# mkquote OUT [EVENTLOG]: quote.json from the tpm2-tools outputs (the format `attest quote` will write).
mkquote() {
  python3 - "$1" "$T" "${2:-$T/boot.log}" <<'EOF'
import base64, json, re, sys
out, t, log = sys.argv[1:4]
pcrs = {}
for line in open(f"{t}/pcrs.txt"):
    m = re.match(r"^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]+)", line)
    if m:
        pcrs[m.group(1)] = m.group(2).lower()
q = {
    "version": 1,
    "ak": open(f"{t}/ak.pem").read(),
    "quoted": open(f"{t}/q.msg", "rb").read().hex(),
    "signature": open(f"{t}/q.sig", "rb").read().hex(),
    "pcrs": {"sha256": pcrs},
    "eventlog": base64.b64encode(open(log, "rb").read()).decode(),
    "measure_log": base64.b64encode(open(f"{t}/measure.log", "rb").read()).decode(),
}
json.dump(q, open(out, "w"), indent=1)
EOF
}
mkquote "$T/quote.json"

P7=$(awk '$1 == 7 { sub(/^0x/, "", $3); print tolower($3) }' "$T/pcrs.txt")
expect 0 "$VOLSEAL" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/ak.pem" --expect-pcr "7=$P7"
contains "$OUT" "verified"
contains "$OUT" "sha256:11 "
expect 0 "$VOLSEAL" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/ak.pem" --json
contains "$OUT" '"verified":true'
ok "attest verify accepts a swtpm quote (ECDSA P-256) with its event logs and PCR expectation"

expect 2 "$VOLSEAL" attest verify "$T/quote.json" --nonce "${NONCE%??}00" --ak "$T/ak.pem"
contains "$ERR" "nonce does not match"
ok "a wrong nonce is refused"

# Event log modified: the db event now claims a 1-entry db (data changed, digests recomputed).
printf 'x' > "$T/x"
"$VS_MKEVENTLOG" "$T/evil.log" > /dev/null <<EOF
banks sha1,sha256
0 EV_S_CRTM_VERSION string 1.00
7 EV_EFI_VARIABLE_DRIVER_CONFIG var SecureBoot $GLOBAL $T/one
7 EV_EFI_VARIABLE_DRIVER_CONFIG var PK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var KEK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var db $IMGDB $T/x
7 EV_EFI_VARIABLE_DRIVER_CONFIG var dbx $IMGDB -
0 EV_SEPARATOR separator
7 EV_SEPARATOR separator
EOF
mkquote "$T/evil.json" "$T/evil.log"
expect 2 "$VOLSEAL" attest verify "$T/evil.json" --nonce "$NONCE" --ak "$T/ak.pem"
contains "$ERR" "quoted PCR digest does not match the replayed event log"
ok "a modified event log is refused"

python3 - "$T/quote.json" "$T/badpcr.json" <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
v = q["pcrs"]["sha256"]["7"]
q["pcrs"]["sha256"]["7"] = ("0" if v[0] != "0" else "1") + v[1:]
json.dump(q, open(sys.argv[2], "w"))
EOF
expect 2 "$VOLSEAL" attest verify "$T/badpcr.json" --nonce "$NONCE" --ak "$T/ak.pem"
contains "$ERR" "PCR sha256:7 differs"
expect 2 "$VOLSEAL" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/ak.pem" --expect-pcr "7=$(printf '%064d' 0)"
contains "$ERR" "not the expected value"
ok "a modified PCR value and a wrong --expect-pcr are refused"

python3 - "$T/quote.json" "$T/badquote.json" <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
b = bytearray.fromhex(q["quoted"]); b[-1] ^= 1          # flip a bit of the quoted PCR digest
q["quoted"] = b.hex()
json.dump(q, open(sys.argv[2], "w"))
EOF
expect 2 "$VOLSEAL" attest verify "$T/badquote.json" --nonce "$NONCE" --ak "$T/ak.pem"
contains "$ERR" "signature does not verify"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.key" 2>/dev/null
openssl ec -in "$T/other.key" -pubout -out "$T/other.pem" 2>/dev/null
expect 2 "$VOLSEAL" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/other.pem"
contains "$ERR" "signature does not verify"
ok "a modified quote and a key other than the enrolled AK are refused"

expect 1 "$VOLSEAL" attest verify "$T/quote.json" --nonce "$NONCE"
contains "$ERR" "enrolled attestation key"
echo '{"version":1}' > "$T/empty.json"
expect 1 "$VOLSEAL" attest verify "$T/empty.json" --nonce "$NONCE" --ak "$T/ak.pem"
contains "$ERR" '"quoted" is missing'
expect 1 "$VOLSEAL" attest quote --nonce "$NONCE"
contains "$ERR" "needs -o QUOTE.json"
ok "verify without --ak and a malformed quote.json are usage errors; quote without -o too"
done_testing
