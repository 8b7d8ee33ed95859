#!/usr/bin/env bash
# policy/ against a real TPM: the digests `volseal policy digest` computes in software equal those of
# tpm2_policypcr / tpm2_policyauthorize / tpm2_policyauthvalue trial sessions on swtpm, for several PCR
# sets and banks, with PCRs holding non-zero values; and the Name of an RSA key equals tpm2_loadexternal's.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
cd "$T"

# Give some PCRs non-zero values in both banks.
for p in 0 7 11 14; do
  tpm2_pcrextend "$p:sha256=$(printf "v$p" | sha256sum | cut -d' ' -f1),sha1=$(printf "v$p" | sha1sum | cut -d' ' -f1)"
done
pcrval() { # BANK PCR -> hex value as read by the TPM
  tpm2_pcrread "$1:$2" -o val.bin >/dev/null
  xxd -p -c 128 val.bin
}
trial() { # tpm2 policy commands (as a function name list) -> digest hex
  tpm2_startauthsession -S s.ctx
  "$@" >/dev/null
  tpm2_flushcontext s.ctx
  xxd -p -c 64 out.bin
}
values_for() { # BANK LIST -> --pcr-value options
  local bank=$1 list=$2 p
  for p in ${list//,/ }; do printf -- '--pcr-value %s=%s ' "$p" "$(pcrval "$bank" "$p")"; done
}

for bank in sha256 sha1; do
  for set in 7 11 7,11 0,7,11,14 14; do
    want=$(trial tpm2_policypcr -S s.ctx -l "$bank:$set" -L out.bin)
    got=$($VOLSEAL policy digest --bank "$bank" --pcrs "$set" $(values_for "$bank" "$set"))
    [ "$got" = "$want" ] || fail "PolicyPCR $bank:$set: volseal $got, TPM $want"
  done
done
ok "PolicyPCR equals the TPM's trial digest for 5 PCR sets in sha256 and sha1"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null
openssl pkey -in key.pem -pubout -out pub.pem
tpm2_loadexternal -C o -G rsa -u pub.pem -a 'userwithauth|decrypt|sign' -n name.bin -c key.ctx >/dev/null
tpm2_flushcontext -t
tpm2_name=$(xxd -p -c 80 name.bin)
$VOLSEAL policy key-name pub.pem --json > kn.json
contains "$(cat kn.json)" "\"name\":\"$tpm2_name\""
ok "RSA key Name equals tpm2_loadexternal's ($tpm2_name)"

head -c 32 /dev/zero > zero.bin
want=$(trial tpm2_policyauthorize -S s.ctx -i zero.bin -n name.bin -L out.bin)
got=$($VOLSEAL policy digest --authorize-key pub.pem)
[ "$got" = "$want" ] || fail "PolicyAuthorize: volseal $got, TPM $want"
printf 'volseal' > ref.bin
want=$(trial tpm2_policyauthorize -S s.ctx -i zero.bin -n name.bin -q ref.bin -L out.bin)
got=$($VOLSEAL policy digest --policy-ref "$(xxd -p ref.bin)" --authorize-key pub.pem)
[ "$got" = "$want" ] || fail "PolicyAuthorize with policyRef: volseal $got, TPM $want"
ok "PolicyAuthorize equals the TPM's trial digest, with and without policyRef"

# The sealed-object policy of docs/policy.md: PolicyAuthorize(key), then PolicyPCR(sha256: 7) and (0,7,14).
both() { tpm2_policyauthorize -S s.ctx -i zero.bin -n name.bin >/dev/null; tpm2_policypcr -S s.ctx -l "sha256:$1" -L out.bin >/dev/null; }
for set in 7 0,7,14; do
  want=$(trial both "$set")
  got=$($VOLSEAL policy digest --authorize-key pub.pem --pcrs "$set" $(values_for sha256 "$set"))
  [ "$got" = "$want" ] || fail "PolicyAuthorize+PolicyPCR($set): volseal $got, TPM $want"
done
av() { tpm2_policyauthvalue -S s.ctx -L out.bin >/dev/null; }
want=$(trial av)
[ "$want" = 8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e ] || fail "PolicyAuthValue vector: TPM says $want"
[ "$($VOLSEAL policy digest --auth-value)" = "$want" ] || fail "PolicyAuthValue differs"
ok "PolicyAuthorize then PolicyPCR, and PolicyAuthValue, equal the TPM's"

# Usage errors are refused before anything is computed.
set +e
$VOLSEAL policy digest --pcrs 7 >/dev/null 2>err.txt; rc=$?
set -e
[ $rc = 1 ] || fail "missing --pcr-value: exit $rc"
contains "$(cat err.txt)" "no --pcr-value for PCR 7"
ok "a PCR without a value is a usage error"
done_testing
