#!/usr/bin/env bash
# volseal tpm info/setup and pcr read/extend-phase on swtpm, cross-checked with tpm2-tools; the SRK is
# byte-exact the Talos template (unique x = y = 32 zero bytes); Startup only after TPM_RC_INITIALIZE; no TPM
# is exit 4 with a sentence.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tpm.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"

# --- tpm info
out=$("$VOLSEAL" tpm info)
contains "$out" "manufacturer:  IBM"
contains "$out" "sha256(24)"
contains "$out" "aes-128-cfb:   yes"
contains "$out" "usable:        yes"
contains "$out" "srk:           not persistent"
json=$("$VOLSEAL" tpm info --json)
python3 - "$json" <<'PY' || fail "tpm info --json: $json"
import json, sys
j = json.loads(sys.argv[1])
assert j["pcr_count"] == 24 and j["usable"] and j["aes128cfb"] and j["sha256_24_pcrs"]
assert {"bank": "sha256", "pcrs": 24} in j["banks"]
assert j["srk"]["handle"] is None and j["srk"]["name"].startswith("000b") and len(j["srk"]["name"]) == 68
assert j["lockout"]["in_lockout"] is False
PY
ok "tpm info (text and JSON)"

# --- the SRK equals tpm2-tools' CreatePrimary of the Talos template (ECC P-256, AES-128-CFB, 0x00030472,
# unique x = y = 32 zero bytes); tpm2-tools reads -u as a raw TPMU_PUBLIC_ID (LE sizes, 128-byte buffers)
python3 -c "import sys; sys.stdout.buffer.write(b'\x20\x00' + bytes(128) + b'\x20\x00' + bytes(128))" > "$T/unique.bin"
tpm2_createprimary -Q -C o -G ecc256:null:aes128cfb -g sha256 \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -u "$T/unique.bin" -c "$T/srk.ctx"
talos_name=$(tpm2_readpublic -c "$T/srk.ctx" | awk '/^name:/ {print $2}')
tpm2_flushcontext -t
tpm2_createprimary -Q -C o -G ecc256:null:aes128cfb -g sha256 \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -c "$T/srk0.ctx"
systemd_name=$(tpm2_readpublic -c "$T/srk0.ctx" | awk '/^name:/ {print $2}')
tpm2_flushcontext -t
ours=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["srk"]["name"])' "$json")
[ "$ours" = "$talos_name" ] || fail "SRK Name $ours != tpm2-tools Talos template $talos_name"
[ "$ours" != "$systemd_name" ] || fail "SRK equals the empty-unique template"
ok "SRK Name equals the Talos template's (and not the empty-unique one)"

# --- tpm setup: persists at 0x81000001, then finds it; never evicts an occupied handle
tpm2_createprimary -Q -C o -c "$T/other.ctx"
tpm2_evictcontrol -Q -C o -c "$T/other.ctx" 0x81000002
tpm2_flushcontext -t
set +e
out=$("$VOLSEAL" tpm setup --handle 0x81000002 2>&1)
rc=$?
set -e
[ $rc = 1 ] || fail "setup into an occupied handle: rc $rc"
contains "$out" "0x81000002 already holds another key; volseal never evicts"
out=$("$VOLSEAL" tpm setup)
contains "$out" "SRK persisted at 0x81000001"
out=$("$VOLSEAL" tpm setup --json)
contains "$out" '"created":false'
contains "$out" '"handle":"0x81000001"'
tpm2_readpublic -c 0x81000002 >/dev/null || fail "the other key at 0x81000002 was evicted"
contains "$("$VOLSEAL" tpm info)" "srk:           persistent at 0x81000001, Name $talos_name"
[ "$("$HELPER" srk | tail -1)" = 0x81000001 ] || fail "the persistent SRK is not used"
ok "tpm setup persists into a free handle, is idempotent, never evicts"
# persistent Names (0x81000001: ECC SRK, 0x81000002: an RSA key) are hashed from the serialized ESYS
# resource, not through Esys_TR_GetName (src/tpm/srk.c persistent_name)
"$HELPER" srk --debug > "$T/srk-debug.txt" 2>&1
contains "$(cat "$T/srk-debug.txt")" "using the SRK at persistent handle 0x81000001"
not_contains "$(cat "$T/srk-debug.txt")" "Name through Esys_TR_GetName"
ok "persistent handles' Names come from the serialized resource"
# a persistent key of the same template with another unique is not taken for the SRK
tpm2_evictcontrol -Q -C o -c 0x81000001
tpm2_createprimary -Q -C o -G ecc256:null:aes128cfb -g sha256 \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -c "$T/srk0.ctx"
tpm2_evictcontrol -Q -C o -c "$T/srk0.ctx" 0x81000001
tpm2_flushcontext -t
out=$("$VOLSEAL" tpm setup)
contains "$out" "SRK persisted at 0x81000003"
ok "a look-alike key at 0x81000001 is not used; setup takes the next free handle"

# --- pcr read == tpm2_pcrread
"$VOLSEAL" pcr read > "$T/read.txt"
for i in 0 7 11 23; do
  want=$(pcr_hex $i)
  grep -q "^ *$i: $want\$" "$T/read.txt" || fail "pcr read PCR $i != tpm2_pcrread $want"
done
out=$("$VOLSEAL" pcr read --bank sha1 --pcr 7,11 --json)
python3 - "$out" "$(pcr_hex 7 sha1)" <<'PY' || fail "pcr read --json: $out"
import json, sys
j = json.loads(sys.argv[1])
assert j["bank"] == "sha1" and sorted(j["pcrs"]) == ["11", "7"] and j["pcrs"]["7"] == sys.argv[2]
PY
ok "pcr read (text, JSON, --bank, --pcr) equals tpm2_pcrread"

# --- extend-phase: every allocated bank with its own hash, logged as RFC 7464 JSON-seq
export VOLSEAL_MEASURE_LOG=$T/run/volseal/tpm2-measure.log
declare -A before
for b in sha1 sha256 sha384 sha512; do before[$b]=$(pcr_hex 11 $b); done
"$VOLSEAL" pcr extend-phase enter-initrd
"$VOLSEAL" pcr extend-phase leave-initrd --log "$T/other.log"
for b in sha1 sha256 sha384 sha512; do
  want=$(python3 -c 'import hashlib,sys
h=lambda d: hashlib.new(sys.argv[1], d).digest()
v=bytes.fromhex(sys.argv[2])
for w in ("enter-initrd","leave-initrd"): v=h(v+h(w.encode()))
print(v.hex())' $b "${before[$b]}")
  [ "$(pcr_hex 11 $b)" = "$want" ] || fail "PCR 11 of bank $b is not the $b chain of the words"
done
ok "extend-phase extends each bank with that bank's hash of the word"
python3 - "$VOLSEAL_MEASURE_LOG" "$T/other.log" <<'PY' || fail "measurement log format"
import hashlib, json, sys
for path, word in ((sys.argv[1], "enter-initrd"), (sys.argv[2], "leave-initrd")):
    data = open(path, "rb").read()
    assert data.startswith(b"\x1e") and data.endswith(b"\n") and data.count(b"\x1e") == 1, data
    rec = json.loads(data[1:])
    assert list(rec) == ["pcr", "digests", "content_type", "content"], rec
    assert rec["pcr"] == 11 and rec["content_type"] == "systemd" and rec["content"] == {"string": word}
    algs = [d["hashAlg"] for d in rec["digests"]]
    assert algs == ["sha1", "sha256", "sha384", "sha512"], algs
    for d in rec["digests"]:
        assert d["digest"] == hashlib.new(d["hashAlg"], word.encode()).hexdigest()
PY
"$VOLSEAL" pcr extend-phase ready
[ "$(tr -cd '\036' < "$VOLSEAL_MEASURE_LOG" | wc -c)" = 2 ] || fail "second record not appended"
ok "each extend is appended to the measurement log as a JSON-seq record (VOLSEAL_MEASURE_LOG, --log)"
set +e
out=$("$VOLSEAL" pcr extend-phase 2>&1); rc1=$?
out2=$("$VOLSEAL" pcr extend-phase "two words" 2>&1); rc2=$?
set -e
[ $rc1 = 1 ] && [ $rc2 = 1 ] || fail "bad words: rc $rc1 $rc2"
contains "$out" "missing the phase WORD"
contains "$out2" "printable ASCII"
ok "bad phase words are usage errors"

# --- no TPM: exit 4 with a sentence
set +e
out=$("$VOLSEAL" tpm info --tcti swtpm:host=127.0.0.1,port=1 2>&1); rc=$?
set -e
[ $rc = 4 ] || fail "no TPM: rc $rc"
contains "$out" "no TPM: cannot open TCTI 'swtpm:host=127.0.0.1,port=1'"
set +e
out=$(env -u VOLSEAL_TCTI "$VOLSEAL" pcr read 2>&1); rc=$?
set -e
[ $rc = 4 ] || fail "no default TPM: rc $rc"
contains "$out" "neither /dev/tpmrm0 nor /dev/tpm0"
ok "no TPM is exit 4: $out"

# --- Startup(CLEAR) is sent only when the TPM answers TPM_RC_INITIALIZE
mkdir -p "$T/cold"
port=$(SWTPM_NO_STARTUP=1 "$VOLSEAL_TOP/swtpm/start" "$T/cold" --env | sed -n "s/^SWTPM_PORT=//p")
add_cleanup "\"$VOLSEAL_TOP/swtpm/stop\" \"$T/cold\""
set +e
cold=$(tpm2_getcap -T "swtpm:host=127.0.0.1,port=$port" properties-fixed 2>&1)
set -e
contains "$cold" "0x100"   # TPM_RC_INITIALIZE: the TPM really is not started
out=$("$VOLSEAL" pcr read --pcr 0 --tcti "swtpm:host=127.0.0.1,port=$port")
contains "$out" " 0: 0000000000000000000000000000000000000000000000000000000000000000"
"$VOLSEAL" pcr read --pcr 0 --tcti "swtpm:host=127.0.0.1,port=$port" >/dev/null
ok "an unstarted TPM is started with Startup(CLEAR) after TPM_RC_INITIALIZE"

# --- TPM errors are one sentence with the RC decoded: an owner password volseal does not know
tpm2_evictcontrol -Q -C o -c 0x81000003
tpm2_changeauth -c o ownerpw
set +e
out=$("$VOLSEAL" tpm setup 2>&1); rc=$?
set -e
[ $rc = 1 ] || fail "setup with an owner password: rc $rc"
contains "$out" "cannot create the SRK under the owner hierarchy: TPM2_CreatePrimary failed: tpm:"
contains "$out" "(0x9"
contains "$out" "the hierarchy or object has a password volseal does not know"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "more than one line: $out"
info=$("$VOLSEAL" tpm info)
contains "$info" "srk:           cannot be created: cannot create the SRK"
tpm2_changeauth -c o -p ownerpw
ok "TPM error sentence: $out"
done_testing
