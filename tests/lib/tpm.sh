# tpm.sh: sourced by TPM integration tests after common.sh (under with-swtpm). Gives:
#   $HELPER                       tests/integration/tpm-helper (drives src/tpm until the tpm key kind has a CLI)
#   make_pcr_key                  $T/pcr.key (RSA 2048) and $T/pcr.pub (SubjectPublicKeyInfo PEM)
#   pcr_hex N [BANK]              current value of PCR N (hex)
#   next_pcr_hex CUR_HEX WORD     the value after extending WORD (sha256 bank)
#   pcrsig_entry PCR11_HEX        one signed-policy entry for PCR 11 = value, made with tpm2-tools + openssl
#                                 (independent of policy/): {"pcrs":[11],"pkfp":..,"pol":..,"sig":..}
#   pcrsig_json FILE ENTRY...     writes {"sha256":[ENTRY,...]} to FILE
: "${TPM_HELPER:?TPM_HELPER not set (run through meson)}"
HELPER=$TPM_HELPER

make_pcr_key() {
  openssl genrsa -out "$T/pcr.key" 2048 2>/dev/null
  openssl rsa -in "$T/pcr.key" -pubout -out "$T/pcr.pub" 2>/dev/null
}

pcr_hex() {
  tpm2_pcrread "${2:-sha256}:$1" -o "$T/.pcr.bin" >/dev/null
  xxd -p -c 256 "$T/.pcr.bin"
}

next_pcr_hex() {
  python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1]) + hashlib.sha256(sys.argv[2].encode()).digest()).hexdigest())' "$1" "$2"
}

pcrsig_entry() {
  local value=$1 d
  d=$(mktemp -d "$T/sig.XXXXXX")
  printf '%s' "$value" | xxd -r -p > "$d/value.bin"
  tpm2_startauthsession -S "$d/s.ctx" >/dev/null
  tpm2_policypcr -S "$d/s.ctx" -l sha256:11 -f "$d/value.bin" -L "$d/pol.bin" >/dev/null
  tpm2_flushcontext "$d/s.ctx" >/dev/null
  openssl dgst -sha256 -sign "$T/pcr.key" -out "$d/sig.bin" "$d/pol.bin"
  local pkfp pol sig
  pkfp=$(openssl rsa -pubin -in "$T/pcr.pub" -RSAPublicKey_out -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
  pol=$(xxd -p -c 256 "$d/pol.bin")
  sig=$(base64 -w0 "$d/sig.bin")
  printf '{"pcrs":[11],"pkfp":"%s","pol":"%s","sig":"%s"}' "$pkfp" "$pol" "$sig"
}

pcrsig_json() {
  local out=$1; shift
  local IFS=,
  printf '{"sha256":[%s]}\n' "$*" > "$out"
}
