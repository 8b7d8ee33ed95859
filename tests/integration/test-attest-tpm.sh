#!/usr/bin/env bash
# test-attest-tpm.sh (under lib/with-swtpm with VS_SWTPM_EK=1: swtpm_setup made an RSA-2048 EK at 0x81010001
# and its certificate): the whole attestation flow with volseal on both sides.
#   ek -> ak -> enroll make-credential -> enroll activate -> enroll verify-response (AK.pem written);
#   quote -> verify accepts; verify refuses a wrong nonce, a modified event log, a modified PCR value;
#   a challenge for another swtpm's EK, or for another AK, fails activation (exit 2) and enrols nothing;
#   a non-restricted key is refused by make-credential; another key at --ak-handle is never evicted;
#   the software MakeCredential is cross-checked both ways against tpm2-tools (tpm2_makecredential
#   --tcti none -> volseal activate; volseal challenge -> tpm2_activatecredential), and with an ECC P-256
#   EK made by tpm2_createek. swtpm holds 3 objects and 3 sessions: after each volseal command nothing
#   transient may be left loaded.
. "$(dirname "$0")/../lib/common.sh"
: "${VS_MKEVENTLOG:?}"
export TPM2TOOLS_TCTI=$VOLSEAL_TCTI
contains "$(tpm2_getcap handles-persistent)" 0x81010001 || fail "no EK at 0x81010001: run with VS_SWTPM_EK=1"

nothing_loaded() {
  [ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left loaded: $(tpm2_getcap handles-transient)"
  [ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions left loaded"
  [ -z "$(tpm2_getcap handles-saved-session)" ] || fail "sessions left saved"
}
V=$VOLSEAL

# ---- enrolment ----
expect 0 "$V" attest ek -o "$T/ek.pem"
contains "$(openssl pkey -pubin -in "$T/ek.pem" -noout -text)" "Public-Key: (2048 bit)"
tpm2_readpublic -c 0x81010001 -f pem -o "$T/ek-tools.pem" >/dev/null
cmp -s "$T/ek.pem" "$T/ek-tools.pem" || fail "attest ek differs from tpm2_readpublic of 0x81010001"
nothing_loaded
ok "attest ek prints the EK at 0x81010001 (equal to tpm2_readpublic)"

expect 0 "$V" attest ak -o "$T/ak.pub" --pem "$T/ak.pem"
contains "$OUT" "created at persistent handle 0x81010002"
expect 0 "$V" attest ak -o "$T/ak2.pub"
contains "$OUT" "reused"
cmp -s "$T/ak.pub" "$T/ak2.pub" || fail "the reused AK differs"
tpm2_readpublic -c 0x81010002 > "$T/akinfo"
contains "$(cat "$T/akinfo")" "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"
contains "$(cat "$T/akinfo")" "ecdsa"
nothing_loaded
ok "attest ak creates a restricted ECC P-256 ECDSA signing key at 0x81010002 and reuses it"

expect 0 "$V" attest enroll make-credential --ek "$T/ek.pem" --ak "$T/ak.pub" --state "$T/state.json" -o "$T/ch.json"
[ "$(stat -c %a "$T/state.json")" = 600 ] || fail "state file is not mode 0600"
expect 0 "$V" attest enroll activate "$T/ch.json" -o "$T/resp"
nothing_loaded
expect 0 "$V" attest enroll verify-response "$T/resp" --state "$T/state.json" -o "$T/enrolled.pem"
cmp -s "$T/enrolled.pem" "$T/ak.pem" || fail "enrolled AK differs from the node's AK"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); r=open(sys.argv[2]).read().strip(); sys.exit(s["credential"]!=r)' \
  "$T/state.json" "$T/resp" || fail "response is not the secret"
ok "make-credential -> activate -> verify-response enrols the AK"

printf '00%.0s' $(seq 32) > "$T/badresp"
expect 2 "$V" attest enroll verify-response "$T/badresp" --state "$T/state.json" -o "$T/bad.pem"
contains "$ERR" "does not match the enrolment secret"
[ ! -e "$T/bad.pem" ] || fail "AK.pem written for a wrong response"
ok "a wrong response is refused and writes no AK.pem"

# ---- cross-checks with tpm2-tools ----
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ak_name"])' "$T/ch.json")
[ "$NAME" = "$(tpm2_readpublic -c 0x81010002 | awk '/^name:/ {print $2}')" ] || fail "AK Name differs from the TPM's"
BADNAME=${NAME%?}$([ "${NAME: -1}" = 0 ] && echo 1 || echo 0)
expect 0 "$V" attest enroll make-credential --ek "$T/ek.pem" --ak "$T/ak.pub" --ak-name "$NAME" --state "$T/st-n.json" -o "$T/ch-n.json"
expect 2 "$V" attest enroll make-credential --ek "$T/ek.pem" --ak "$T/ak.pub" --ak-name "$BADNAME" --state "$T/st-n.json" -o "$T/ch-n.json"
contains "$ERR" "Name is not"
openssl rand 32 > "$T/sec.bin"
tpm2_makecredential --tcti none -u "$T/ek.pem" -G rsa -s "$T/sec.bin" -n "$NAME" -o "$T/tools.cred" >/dev/null
# tpm2-tools' file: magic BADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET
python3 - "$T/tools.cred" "$T/tools-ch.json" "$NAME" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == bytes.fromhex("badcc0de00000001"), b[:8].hex()
n = struct.unpack(">H", b[8:10])[0]; blob = b[8:10 + n]; sec = b[10 + n:]
assert len(sec) == 2 + struct.unpack(">H", sec[:2])[0]
json.dump({"version": 1, "ak_name": sys.argv[3], "credential_blob": blob.hex(), "encrypted_secret": sec.hex()},
          open(sys.argv[2], "w"))
PY
expect 0 "$V" attest enroll activate "$T/tools-ch.json" -o "$T/tools-resp"
[ "$(cat "$T/tools-resp")" = "$(xxd -p -c 64 "$T/sec.bin")" ] || fail "volseal activate did not recover tpm2_makecredential's secret"
nothing_loaded
python3 - "$T/ch.json" "$T/vs.cred" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(bytes.fromhex("badcc0de00000001" + c["credential_blob"] + c["encrypted_secret"]))
PY
tpm2_startauthsession --policy-session -S "$T/s.ctx"
tpm2_policysecret -S "$T/s.ctx" -c e >/dev/null
tpm2_activatecredential -c 0x81010002 -C 0x81010001 -i "$T/vs.cred" -o "$T/vs.out" -P "session:$T/s.ctx" >/dev/null
tpm2_flushcontext "$T/s.ctx"
[ "$(xxd -p -c 64 "$T/vs.out")" = "$(cat "$T/resp")" ] || fail "tpm2_activatecredential recovered another secret"
nothing_loaded
ok "software MakeCredential cross-checked with tpm2_makecredential --tcti none and tpm2_activatecredential (RSA EK)"

# ECC P-256 EK (TCG template L-2, transient, made by tpm2-tools) and a tpm2-tools AK under it. tpm2-tools
# saves contexts; a saved context stays loadable after its object is flushed.
tpm2_createek -c "$T/eke.ctx" -G ecc -u "$T/eke.tss" >/dev/null
tpm2_flushcontext -t
tpm2_readpublic -c "$T/eke.ctx" -f pem -o "$T/eke.pem" >/dev/null
tpm2_flushcontext -t
contains "$(openssl pkey -pubin -in "$T/eke.pem" -noout -text)" "NIST CURVE: P-256"
tpm2_createak -C "$T/eke.ctx" -c "$T/ake.ctx" -G ecc -g sha256 -s ecdsa -u "$T/ake.pub" >/dev/null
tpm2_flushcontext -t; tpm2_flushcontext -s
expect 0 "$V" attest enroll make-credential --ek "$T/eke.pem" --ak "$T/ake.pub" --state "$T/state-e.json" -o "$T/ch-e.json"
python3 - "$T/ch-e.json" "$T/e.cred" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(bytes.fromhex("badcc0de00000001" + c["credential_blob"] + c["encrypted_secret"]))
PY
tpm2_startauthsession --policy-session -S "$T/s.ctx"
tpm2_policysecret -S "$T/s.ctx" -c e >/dev/null
tpm2_activatecredential -c "$T/ake.ctx" -C "$T/eke.ctx" -i "$T/e.cred" -o "$T/e.out" -P "session:$T/s.ctx" >/dev/null
tpm2_flushcontext "$T/s.ctx"; tpm2_flushcontext -t
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["credential"] != open(sys.argv[2],"rb").read().hex())' \
  "$T/state-e.json" "$T/e.out" || fail "tpm2_activatecredential (ECC EK) recovered another secret"
nothing_loaded
ok "software MakeCredential with an ECC P-256 EK (ECDH + KDFe) is accepted by tpm2_activatecredential"

# ---- refusals ----
# A challenge for another TPM's EK: a second swtpm, manufactured the same way.
mkdir "$T/other"
swtpm_setup --tpm2 --create-ek-cert --tpmstate "$T/other" --overwrite >/dev/null 2>&1
eval "$("$VOLSEAL_TOP/swtpm/start" "$T/other" --env | sed 's/^VOLSEAL_TCTI=/OTHER_TCTI=/; s/^SWTPM_PIDFILE=/OTHER_PIDFILE=/; s/^SWTPM_PORT=/OTHER_PORT=/')"
add_cleanup "\"$VOLSEAL_TOP/swtpm/stop\" \"$T/other\""
expect 0 "$V" attest ek --tcti "$OTHER_TCTI" -o "$T/other-ek.pem"
"$VOLSEAL_TOP/swtpm/stop" "$T/other"
cmp -s "$T/ek.pem" "$T/other-ek.pem" && fail "the two swtpms have the same EK"
expect 0 "$V" attest enroll make-credential --ek "$T/other-ek.pem" --ak "$T/ak.pub" --state "$T/state-o.json" -o "$T/ch-o.json"
expect 2 "$V" attest enroll activate "$T/ch-o.json" -o "$T/resp-o"
contains "$ERR" "ActivateCredential"
[ ! -e "$T/resp-o" ] || fail "a response was written for another TPM's challenge"
nothing_loaded
ok "a challenge made against another swtpm's EK fails activation (exit 2)"

# A challenge for another AK Name: a second volseal AK at 0x81010003, activated with the first.
expect 0 "$V" attest ak --ak-handle 0x81010003 -o "$T/ak3.pub"
expect 0 "$V" attest enroll make-credential --ek "$T/ek.pem" --ak "$T/ak3.pub" --state "$T/state-3.json" -o "$T/ch-3.json"
expect 2 "$V" attest enroll activate "$T/ch-3.json" --ak-handle 0x81010002 -o "$T/resp-3"
expect 0 "$V" attest enroll activate "$T/ch-3.json" --ak-handle 0x81010003 -o "$T/resp-3"
nothing_loaded
ok "a challenge for another AK's Name fails activation; with that AK it succeeds"

# A non-restricted key is not an AK: clear `restricted` (bit 16) in the public area.
python3 - "$T/ak.pub" "$T/unrestricted.pub" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
# TPM2B_PUBLIC: size(2) type(2) nameAlg(2) objectAttributes(4)
a = int.from_bytes(b[6:10], "big") & ~(1 << 16)
b[6:10] = a.to_bytes(4, "big")
open(sys.argv[2], "wb").write(b)
PY
expect 2 "$V" attest enroll make-credential --ek "$T/ek.pem" --ak "$T/unrestricted.pub" --state "$T/state-u.json" -o "$T/ch-u.json"
contains "$ERR" "restricted signing key"
ok "make-credential refuses a key that is not a restricted fixedTPM signing key"

# Another key at the handle is never evicted.
expect 1 "$V" attest ak --ak-handle 0x81010001 -o "$T/x.pub"
contains "$ERR" "never evicts"
expect 1 "$V" attest quote --nonce 01 --ak-handle 0x81010001 -o "$T/x.json" --measure-log /dev/null
tpm2_readpublic -c 0x81010001 -f pem -o "$T/ek-after.pem" >/dev/null
cmp -s "$T/ek-after.pem" "$T/ek-tools.pem" || fail "the EK changed"
nothing_loaded
ok "another key at --ak-handle is refused and kept"

# ---- quote and verify ----
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
IMGDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
printf '\x01' > "$T/one"
boot() { # boot LOG DBFILE: a synthetic sha256 boot log (swtpm_setup allocated only sha256)
  "$VS_MKEVENTLOG" "$1" <<EOT
banks sha256
0 EV_S_CRTM_VERSION string 1.00
7 EV_EFI_VARIABLE_DRIVER_CONFIG var SecureBoot $GLOBAL $T/one
7 EV_EFI_VARIABLE_DRIVER_CONFIG var PK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var KEK $GLOBAL -
7 EV_EFI_VARIABLE_DRIVER_CONFIG var db $IMGDB $2
7 EV_EFI_VARIABLE_DRIVER_CONFIG var dbx $IMGDB -
0 EV_SEPARATOR separator
7 EV_SEPARATOR separator
EOT
}
boot "$T/boot.log" - > "$T/extends"
tpm2_pcrextend $(cat "$T/extends")
export VOLSEAL_MEASURE_LOG=$T/measure.log
"$V" pcr extend-phase enter-initrd >/dev/null
NONCE=$(openssl rand -hex 20)
expect 0 "$V" attest quote --nonce "$NONCE" --eventlog "$T/boot.log" -o "$T/quote.json"
contains "$OUT" "0x81010002"
nothing_loaded
expect 0 "$V" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/enrolled.pem" \
  --expect-pcr "7=$(tpm2_pcrread sha256:7 | awk '/7 *:/ {print tolower(substr($NF,3))}')"
contains "$OUT" "sha256:0 "
contains "$OUT" "sha256:11 "
python3 -c 'import json,sys; q=json.load(open(sys.argv[1])); sys.exit(not (q["eventlog"] and q["measure_log"] and set(q["pcrs"]["sha256"])=={"0","7","11"}))' \
  "$T/quote.json" || fail "quote.json lacks the logs or the PCR values"
ok "attest quote (0,7,11 with both logs) -> attest verify with the enrolled AK accepts"

expect 2 "$V" attest verify "$T/quote.json" --nonce "${NONCE%??}ff" --ak "$T/enrolled.pem"
contains "$ERR" "nonce does not match"
ok "verify refuses a wrong nonce"

printf 'x' > "$T/x"
boot "$T/evil.log" "$T/x" > /dev/null
python3 - "$T/quote.json" "$T/evil.log" "$T/evil.json" <<'PY'
import base64, json, sys
q = json.load(open(sys.argv[1]))
q["eventlog"] = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
json.dump(q, open(sys.argv[3], "w"))
PY
expect 2 "$V" attest verify "$T/evil.json" --nonce "$NONCE" --ak "$T/enrolled.pem"
contains "$ERR" "does not match the replayed event log"
ok "verify refuses a modified event log"

python3 - "$T/quote.json" "$T/badpcr.json" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))
v = q["pcrs"]["sha256"]["7"]
q["pcrs"]["sha256"]["7"] = ("0" if v[0] != "0" else "1") + v[1:]
json.dump(q, open(sys.argv[2], "w"))
PY
expect 2 "$V" attest verify "$T/badpcr.json" --nonce "$NONCE" --ak "$T/enrolled.pem"
contains "$ERR" "PCR sha256:7 differs"
ok "verify refuses a modified PCR value"

expect 2 "$V" attest verify "$T/quote.json" --nonce "$NONCE" --ak "$T/eke.pem"
expect 2 "$V" attest verify "$T/quote.json" --nonce "$NONCE" --ak <(openssl pkey -pubout -in <(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null))
contains "$ERR" "signature does not verify"
ok "verify refuses a quote checked against a key other than the enrolled AK"

# A quote with no log at all is refused before the TPM is used; a named missing log is a usage error.
expect 1 "$V" attest quote --nonce "$NONCE" --no-eventlog --no-measure-log -o "$T/q2.json"
contains "$ERR" "no event log"
expect 1 "$V" attest quote --nonce "$NONCE" --eventlog "$T/missing" -o "$T/q2.json"
expect 1 "$V" attest quote --nonce zz -o "$T/q2.json"
nothing_loaded
ok "quote refuses no logs, a missing named log and a bad nonce"
done_testing
