#!/usr/bin/env bash
# The updatable tpm slot on swtpm (docs/tpm-updatable.md), the whole chain through tpm-updatable-helper:
# the software digests and Names equal the TPM's (trial sessions, tpm2_nvreadpublic, tpm2_policyauthorizenv);
# a secret sealed once unseals in state a with key K1; an unprepared PCR 7 (b) is refused; preparing b on the
# running system (no unseal) keeps a and adds b; retiring the superseded a makes a rollback fail; adding K2
# makes a K2-signed PCR 11 policy unseal while K1 still does; removing K1 refuses K1; an attacker who removes
# and redefines the index (same public area, or one they can write) is refused, by volseal and by the TPM
# itself; wipe removes only volseal's index; a cleared TPM is refused. The secret is the same throughout and
# never crosses the bus in clear; the commands of an unseal and of a prepare are counted.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tpm.sh"
. "$(dirname "$0")/../lib/relay.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
: "${TPM_UPDATABLE_HELPER:?TPM_UPDATABLE_HELPER not set (run through meson)}"
U=$TPM_UPDATABLE_HELPER
ZERO=$(printf '%064d' 0)
A7=$(next_pcr_hex "$ZERO" a)
B7=$(next_pcr_hex "$ZERO" b)

swtpm_restart() {
  "$TOP/swtpm/stop" "$SWTPM_STATE"
  eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
  export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
}
# boot WORD: PCRs reset, PCR 7 = extend(0, sha256(WORD)), PCR 11 = the signed enter-initrd value.
boot() {
  swtpm_restart
  tpm2_pcrextend "7:sha256=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
  "$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
  [ "$(pcr_hex 7)" = "$(next_pcr_hex "$ZERO" "$1")" ] || fail "PCR 7 after boot $1"
}
# sign_with NAME: a .pcrsig for the current PCR 11 made with key $T/NAME.key into $T/NAME.sig.json.
sign_with() {
  cp "$T/pcr.key" "$T/pcr.key.keep"; cp "$T/pcr.pub" "$T/pcr.pub.keep"
  cp "$T/$1.key" "$T/pcr.key"; cp "$T/$1.pub" "$T/pcr.pub"
  pcrsig_json "$T/$1.sig.json" "$(pcrsig_entry "$(pcr_hex 11)")"
  mv "$T/pcr.key.keep" "$T/pcr.key"; mv "$T/pcr.pub.keep" "$T/pcr.pub"
}
# unseal_as KEY [helper args]: unseals $T/s with KEY's signed policy; prints the helper's stdout.
unseal_as() {
  local k=$1; shift
  "$U" unseal --dir "$T/s" --key "$T/$k.pub" --pcrsig "$T/$k.sig.json" "$@" 2>"$T/err"
}
expect_unseal() {
  local out
  out=$(unseal_as "$@") || fail "unseal with $1 refused: $(cat "$T/err")"
  [ "$out" = "unsealed 1" ] || fail "unseal: $out"
  cmp -s "$T/s/secret" "$T/s/unsealed" || fail "the unsealed secret differs from the sealed one"
  rm -f "$T/s/unsealed"
}
expect_refused() { # KEY ERRNO REASON [helper args]
  local k=$1 e=$2 why=$3 out; shift 3
  out=$(unseal_as "$k" "$@") && fail "unseal with $k was not refused"
  contains "$out" "error: $e"
  contains "$(cat "$T/err")" "$why"
  [ ! -e "$T/s/unsealed" ] || fail "a refused unseal wrote a secret"
}
nothing_loaded() {
  [ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left: $(tpm2_getcap handles-transient)"
  [ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions left in the TPM"
}

for k in k1 k2; do
  openssl genrsa -out "$T/$k.key" 2048 2>/dev/null
  openssl rsa -in "$T/$k.key" -pubout -out "$T/$k.pub" 2>/dev/null
done
cp "$T/k1.key" "$T/pcr.key"; cp "$T/k1.pub" "$T/pcr.pub"
mkdir -p "$T/state" "$T/s"

# --- 1. state a, key K1: enrolment (authority on STATE, index defined and written, secret sealed once)
boot a
sign_with k1
contains "$("$U" init --state-dir "$T/state")" "handle 0x01805600"
"$U" set --state-dir "$T/state" --pcrs 7 --key "$T/k1.pub" --state "$A7"
[ "$(stat -c %a "$T/state/volseal-tpm-authority")" = 600 ] || fail "the authority file is not mode 0600"
"$U" seal --state-dir "$T/state" --dir "$T/s" >/dev/null
contains "$(cat "$T/s/token.json")" '"type":"volseal-tpm2-updatable"'
not_contains "$(cat "$T/s/token.json")" "$(sed -n 's/^write_key: //p' "$T/state/volseal-tpm-authority")"
tpm2_nvread -C 0x01805600 -s 442 -o "$T/nv-a-k1.bin" 0x01805600 >/dev/null
expect_unseal k1
nothing_loaded
ok "sealed once; state a with K1 unseals; the token holds no authorization material"

# --- the software digests and Names are the TPM's
trial=$("$U" trial --state-dir "$T/state")
for what in write policy sealed; do
  line=$(grep "^$what " <<<"$trial")
  set -- $line
  [ "$2" = "$3" ] || fail "$what: software $2 != TPM trial $3"
done
W=$(grep '^write ' <<<"$trial" | cut -d' ' -f2)
name=$(grep '^name ' <<<"$trial" | cut -d' ' -f2)
pub=$(tpm2_nvreadpublic 0x01805600)
contains "$pub" "name: $name"
contains "$pub" "policywrite|writeall|authread|no_da|written"
contains "$pub" "size: 442"
contains "$(tr 'A-F' 'a-f' <<<"$pub")" "authorization policy: $W"
tpm2_startauthsession -S "$T/trial.ctx" >/dev/null
tpm2_policyauthorizenv -S "$T/trial.ctx" -C 0x01805600 -L "$T/authnv.pol" 0x01805600 >/dev/null
tpm2_flushcontext "$T/trial.ctx" >/dev/null
contains "$(cat "$T/s/token.json")" "\"policy_hash\":\"$(xxd -p -c 64 "$T/authnv.pol")\""
python3 -c 'import json,base64,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["sealed_blob_public"]))' "$T/s/token.json" > "$T/sealed.pub"
attrs=$(tpm2_print -t TPM2B_PUBLIC "$T/sealed.pub")
contains "$attrs" "fixedtpm|fixedparent|noda"
not_contains "$attrs" "userwithauth"
ok "write policy, authorized policy and sealed policy equal swtpm's trial digests; the index's Name and the PolicyAuthorizeNV digest equal tpm2-tools'; the sealed object is noDA and policy-only"

# --- 2. PCR 7 changed to b without preparing: refused
boot b
expect_refused k1 EKEYREJECTED "hold none of the 1 authorized states: an update that was not prepared"
ok "an unprepared PCR 7 (state b) is refused before any policy command"

# --- 3. prepare b on the running system in state a (no unseal), then both a and b unseal
boot a
"$U" add-state --state-dir "$T/state" --state "$B7"
contains "$("$U" show --state-dir "$T/state")" "keys 1 states 2"
expect_unseal k1
boot b
expect_unseal k1
ok "prepared b (without unsealing): a still unseals, and after the update b unseals, with the same secret"

# --- 4. the first boot in b retires the superseded a: a rollback to a no longer unseals
contains "$("$U" retire --state-dir "$T/state")" "retired 1"
show=$("$U" show --state-dir "$T/state")
contains "$show" "keys 1 states 1"
contains "$show" "$B7"
contains "$("$U" retire --state-dir "$T/state")" "retired 0"
boot a
expect_refused k1 EKEYREJECTED "hold none of the 1 authorized states"
boot b
expect_unseal k1
ok "state a retired after booting b: rolling PCR 7 back to a is refused, b unseals"

# --- 5. a new PCR-policy signing key K2: both unseal; K1 removed: K1 refused
sign_with k1
sign_with k2
expect_refused k2 EKEYREJECTED "the PCR public key is not one of the 1 keys authorized"
"$U" add-key --state-dir "$T/state" --key "$T/k2.pub"
expect_unseal k2
expect_unseal k1
"$U" remove-key --state-dir "$T/state" --key "$T/k1.pub"
expect_refused k1 EKEYREJECTED "the PCR public key is not one of the 1 keys authorized"
expect_unseal k2
out=$("$U" remove-key --state-dir "$T/state" --key "$T/k2.pub" 2>"$T/err") && fail "the last key was removed"
contains "$out" "error: EPERM"
contains "$(cat "$T/err")" "the only authorized PCR-policy key"
nothing_loaded
ok "K2 added: a K2-signed PCR 11 policy unseals and K1 still does; K1 removed: refused; the last key stays"

# --- 6. relay: the secret never crosses the bus in clear; commands of an unseal and of a prepare
direct=$VOLSEAL_TCTI
relay_start "$T/capture.bin" "$T/commands.txt"
: > "$T/commands.txt"
expect_unseal k2
first=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
: > "$T/commands.txt"
out=$(unseal_as k2 --count 3) || fail "3 unseals: $(cat "$T/err")"
three=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt" | wc -w)
"$VOLSEAL" tpm setup >/dev/null
: > "$T/commands.txt"
expect_unseal k2
persistent=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
[ "$persistent" = "NV_ReadPublic NV_Read PCR_Read ReadPublic Load StartAuthSession LoadExternal PolicyPCR VerifySignature PolicyAuthorize PolicyPCR PolicyAuthorizeNV Unseal FlushContext FlushContext FlushContext" ] ||
  fail "an updatable unseal with the SRK at 0x81000001: $persistent"
# a prepare: two keys and two states authorized (PolicyOR at both levels from now on)
: > "$T/commands.txt"
"$U" add-state --state-dir "$T/state" --state "$A7"
prepare=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
not_contains "$prepare" "Unseal"
not_contains "$prepare" "Load "
not_contains "$prepare" "CreatePrimary"
"$U" add-key --state-dir "$T/state" --key "$T/k1.pub"
: > "$T/commands.txt"
expect_unseal k2
both=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
contains "$both" "PolicyAuthorize PolicyOR PolicyPCR PolicyOR PolicyAuthorizeNV Unseal"
"$U" set --state-dir "$T/state" --pcrs 7 --key "$T/k2.pub" --state "$B7"
mkdir -p "$T/s2"
"$U" seal --state-dir "$T/state" --dir "$T/s2" >/dev/null
"$U" unseal --dir "$T/s2" --key "$T/k2.pub" --pcrsig "$T/k2.sig.json" >/dev/null
cmp -s "$T/s2/secret" "$T/s2/unsealed" || fail "second slot round trip through the relay"
python3 - "$T/capture.bin" "$T/s/secret" "$T/s2/secret" <<'PY' || fail "a secret is on the wire"
import base64, sys
cap = open(sys.argv[1], "rb").read()
assert len(cap) > 10000, "nothing captured"
for path in sys.argv[2:]:
    s = open(path, "rb").read()
    assert len(s) == 32
    for needle in (s, base64.b64encode(s), s.hex().encode(), s[:16], s[16:]):
        assert needle not in cap, "secret in the TPM traffic"
PY
echo "# updatable unseal, the first after the seal ($(wc -w <<<"$first")): $first"
echo "# updatable unseal, persistent SRK, 1 key 1 state ($(wc -w <<<"$persistent")): $persistent"
echo "# updatable unseal, persistent SRK, 2 keys 2 states ($(wc -w <<<"$both")): $both"
echo "# 3 unseals in one process (1 key 1 state): $three commands"
echo "# prepare: add a state ($(wc -w <<<"$prepare")): $prepare"
[ "$(wc -w <<<"$persistent")" -le 16 ] || fail "more than 16 commands for an updatable unseal with a persistent SRK"
kill "$relay_pid"
export VOLSEAL_TCTI=$direct
nothing_loaded
ok "secrets never on the wire (2 seals, 6 unseals); unseal $(wc -w <<<"$persistent") commands with a persistent SRK, prepare $(wc -w <<<"$prepare") commands without Load or Unseal"

# --- 7. an attacker removes the index (owner auth is empty) and defines one with the same public area
printf '%s' "$W" | xxd -r -p > "$T/w.pol"
tpm2_nvundefine -C o 0x01805600
tpm2_nvdefine -C o -s 442 -a "policywrite|writeall|authread|no_da" -L "$T/w.pol" -p attacker 0x01805600 >/dev/null
contains "$(tpm2_nvreadpublic 0x01805600)" "policywrite|writeall|authread|no_da"
tpm2_nvwrite -C 0x01805600 -P attacker -i "$T/nv-a-k1.bin" 0x01805600 2>/dev/null && fail "the attacker wrote with the index password"
tpm2_nvwrite -C o -i "$T/nv-a-k1.bin" 0x01805600 2>/dev/null && fail "the attacker wrote with owner authorization"
expect_refused k2 ENODATA "was never written"
ok "an index redefined with the same public area cannot be written without the authority's key: refused"

# ... or one they can write (AUTHWRITE with the empty password volseal reads with: another Name), holding the
# old set (K1, state a)
tpm2_nvundefine -C o 0x01805600
tpm2_nvdefine -C o -s 442 -a "policywrite|authwrite|writeall|authread|no_da" -L "$T/w.pol" 0x01805600 >/dev/null
tpm2_nvwrite -C 0x01805600 -i "$T/nv-a-k1.bin" 0x01805600
boot a
sign_with k1
expect_refused k1 ENOKEY "is not the index this slot is bound to"
attacker_name=$(tpm2_nvreadpublic 0x01805600 | sed -n 's/^ *name: //p')
expect_refused k1 EKEYREJECTED "TPM2_Unseal failed" --nv-name "$attacker_name"
ok "a writable look-alike holding an old set: refused by the Name check, and by the TPM itself without it"
# only the authority restores the index: defined anew and written with its key, the same slot unseals again
tpm2_nvundefine -C o 0x01805600
"$U" init --state-dir "$T/state" >/dev/null
expect_refused k1 ENODATA "was never written"
"$U" set --state-dir "$T/state" --pcrs 7 --key "$T/k1.pub" --state "$A7"
expect_unseal k1
ok "the authority's key alone restores the index: the slot unseals again with the same secret"

# --- 8. wipe removes volseal's index only
"$U" undefine --state-dir "$T/state"
expect_refused k1 ENOENT "there is no NV index at 0x01805600"
out=$("$U" undefine --state-dir "$T/state" 2>&1) && fail "undefine of a missing index succeeded"
contains "$out" "error: ENOENT"
tpm2_nvdefine -C o -s 442 -a "policywrite|authwrite|writeall|authread|no_da" -L "$T/w.pol" -p attacker 0x01805600 >/dev/null
out=$("$U" undefine --state-dir "$T/state" 2>"$T/err") && fail "a foreign index was removed"
contains "$out" "error: EEXIST"
contains "$(cat "$T/err")" "never changes or removes an index that is not its own"
tpm2_nvreadpublic 0x01805600 >/dev/null || fail "the foreign index is gone"
out=$("$U" init --state-dir "$T/state" 2>"$T/err") && fail "init defined over a foreign index"
contains "$out" "error: EEXIST"
tpm2_nvundefine -C o 0x01805600
ok "wipe removes volseal's index, never a foreign one at its handle, and init does not take it over"

# --- 9. the TPM cleared: refused
"$U" init --state-dir "$T/state" >/dev/null
"$U" set --state-dir "$T/state" --pcrs 7 --key "$T/k1.pub" --state "$A7"
expect_unseal k1
"$TOP/swtpm/stop" "$SWTPM_STATE"
find "$SWTPM_STATE" -mindepth 1 -delete
eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
tpm2_pcrextend "7:sha256=$(printf a | sha256sum | cut -d' ' -f1)"
"$VOLSEAL" pcr extend-phase enter-initrd --log "$T/measure.log"
expect_refused k1 ENOENT "the TPM was cleared"
nothing_loaded
ok "a cleared TPM (no index, another SRK) is refused"
done_testing
