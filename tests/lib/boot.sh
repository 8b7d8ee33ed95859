# boot.sh: sourced by the tpm scenario tests after common.sh and luks.sh (under with-swtpm). Real reboots on
# swtpm: an EFI variable directory, signed UKIs, and boot/reboot through swtpm/boot.
#   make_efivars [sb]           $T/efivars (SecureBoot=sb (default 1), SetupMode=0, PK, KEK, db, dbx)
#   setvar NAME FILE            replaces variable NAME (guid chosen by name) with FILE's bytes
#   make_ukis                   $T/pcr.key/.pub; $T/uki1.efi (signed), $T/uki2.efi (another kernel,
#                               same key), $T/uki-mod.efi (uki1 with another cmdline, uki1's .pcrsig)
#   use_uki UKI                 $T/extra/tpm2-pcr-signature.json and ...public-key.pem from the UKI
#   reboot [UKI]                swtpm stopped and started on the same state (PCRs reset), boot measured
#   tpm_clear_state             the swtpm's state deleted (a cleared/replaced TPM), started again
#   tunlock EXIT CFG [ARGS]     unlock with --pcr-signature/--pcr-public-key from $T/extra
#   tpm_first_boot CFG [OPTS]   SecureBoot keys, signed UKIs, a boot of $T/uki1.efi, $STATE (tpm_volume) and
#                               the first unlock: the signed boot formats STATE with tpm at 0, nodeID at 1
. "$TOP/tests/lib/volumes.sh"
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c
IMGDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
export VOLSEAL_MEASURE_LOG=$T/measure.log
setvar() {
  local g=$GLOBAL
  case $1 in db|dbx) g=$IMGDB ;; esac
  { printf '\x27\x00\x00\x00'; cat "$2"; } > "$T/efivars/$1-$g"
}
make_efivars() {
  mkdir -p "$T/efivars"
  printf "\\x0${1:-1}" > "$T/sb"; printf '\x00' > "$T/zero"
  setvar SecureBoot "$T/sb"; setvar SetupMode "$T/zero"
  for v in PK KEK db dbx; do head -c 100 /dev/urandom > "$T/$v.esl"; setvar $v "$T/$v.esl"; done
  export EFIVARFS_PATH=$T/efivars/
  [ -f "$T/db.der" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/db.key" -subj /CN=volseal-test-db \
    -days 30 -outform DER -out "$T/db.der" 2>/dev/null
}
make_ukis() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/pcr.key" 2>/dev/null
  openssl pkey -in "$T/pcr.key" -pubout -out "$T/pcr.pub"
  printf 'ID=volseal-test\nVERSION_ID=1\n' > "$T/os-release"
  head -c 3000 /dev/urandom > "$T/vmlinuz1"; head -c 3000 /dev/urandom > "$T/vmlinuz2"
  head -c 2000 /dev/urandom > "$T/initrd"
  printf 'console=ttyS0' > "$T/cmdline"; printf 'console=ttyS0 init=/bin/sh' > "$T/cmdline-mod"
  local n
  for n in 1 2; do
    "$VOLSEAL" uki build --stub "$STUB" --linux "$T/vmlinuz$n" --initrd "$T/initrd" --cmdline "$T/cmdline" \
      --os-release "$T/os-release" --pcr-key "$T/pcr.pub" --pcr-sign-key "$T/pcr.key" -o "$T/uki$n.efi" >/dev/null
  done
  # the attacker's UKI: cmdline changed, the old signed policy and key kept
  "$VOLSEAL" uki build --stub "$STUB" --linux "$T/vmlinuz1" --initrd "$T/initrd" --cmdline "$T/cmdline-mod" \
    --os-release "$T/os-release" --pcr-key "$T/pcr.pub" -o "$T/uki-mod.efi" >/dev/null
  objcopy -O binary --only-section=.pcrsig "$T/uki1.efi" "$T/uki1.pcrsig"
}
use_uki() {
  mkdir -p "$T/extra"
  local sig=$1
  [ "$1" = "$T/uki-mod.efi" ] && sig=$T/uki1.efi
  objcopy -O binary --only-section=.pcrsig "$sig" "$T/extra/tpm2-pcr-signature.json.raw"
  tr -d '\0' < "$T/extra/tpm2-pcr-signature.json.raw" > "$T/extra/tpm2-pcr-signature.json"
  cp "$T/pcr.pub" "$T/extra/tpm2-pcr-public-key.pem"
}
no_uki_policy() { rm -rf "$T/extra"; mkdir -p "$T/extra"; }
swtpm_restart() {
  "$TOP/swtpm/stop" "$SWTPM_STATE"
  eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
  export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
}
# reboot UKI [swtpm/boot args]: PCRs reset, firmware + stub + enter-initrd measured, UKI's policy in $T/extra.
reboot() {
  local uki=$1; shift
  swtpm_restart
  measure_boot "$uki" "$@"
}
measure_boot() {
  local uki=$1; shift
  rm -f "$VOLSEAL_MEASURE_LOG"
  "$TOP/swtpm/boot" --efivars "$T/efivars" --uki "$uki" --authority "$T/db.der" --log "$T/eventlog.bin" "$@" >/dev/null
  use_uki "$uki"
}
# power_cycle UKI [NV_DIR]: reboot without a new swtpm process (its port stays; ~0.1 s where a restart
# waits ~2 s for the old one to exit): the TPM is stopped and initialised again through its control port
# (PCRs reset, sessions and transient objects gone), with the NV state saved in NV_DIR (its *.permall,
# e.g. a tests/lib/tpm-relay.py --snapshot) put in place first when given; then TPM2_Startup(CLEAR) and the
# boot measured as reboot does.
power_cycle() {
  local uki=$1 nv=${2:-} ctrl=127.0.0.1:$((SWTPM_PORT + 1))
  swtpm_ioctl --tcp "$ctrl" --stop
  [ -z "$nv" ] || cp "$nv"/*.permall "$SWTPM_STATE/"
  swtpm_ioctl --tcp "$ctrl" -i
  TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT" tpm2_startup -c
  measure_boot "$uki"
}
tpm_clear_state() {
  "$TOP/swtpm/stop" "$SWTPM_STATE"
  find "$SWTPM_STATE" -mindepth 1 -delete
  eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
  export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
}
tunlock() {
  local want=$1 cfg=$2; shift 2
  unlock "$want" "$cfg" --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem" "$@"
}
tstatus() {
  local want=$1 cfg=$2; shift 2
  run_volseal "$want" status -c "$cfg" "${VOLUMES[@]}" --json --product-uuid-file "$T/product_uuid" \
    --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem" "$@"
}
# token_field DEVICE SLOT FIELD: UserData.FIELD of the talos-tpm2 token at id SLOT (via the real cryptsetup)
token_field() { cryptsetup luksDump --dump-json-metadata "$1" | jq -c -r ".tokens[\"$2\"].UserData.$3"; }
# tpm_volume CFG-FILE [tpm options YAML, e.g. "a: x, b: y"]: $STATE (one image) and a config with tpm at slot 0, nodeID at slot 1;
# the first boot of the signed UKI formats it with the tpm slot and adds nodeID.
tpm_volume() {
  local opts=${2:-}
  STATE=$(img state)
  VOLUMES=(--volume "STATE=$STATE")
  opts=${opts//: /=}
  volumes_config "$1" "STATE 0:tpm${opts:+:${opts//, /,}} 1:nodeID"
}
lockout_counter() { "$VOLSEAL" tpm info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["lockout"]["counter"])'; }
token_sum() { cryptsetup luksDump --dump-json-metadata "$1" | jq -c '.tokens["0"]' | sha256sum | cut -c1-64; }
flush_all() { tpm2_flushcontext -t; tpm2_flushcontext -s; tpm2_flushcontext -l; }
# tpm_first_boot CFG-FILE [tpm options]: the common start of the tpm tests, on a fresh swtpm (under
# with-swtpm): SecureBoot on, the UKIs, a measured boot of the signed $T/uki1.efi, and `volseal unlock`
# formatting $STATE (tpm_volume CFG-FILE) with the tpm slot opening it and nodeID added.
tpm_first_boot() {
  [ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
  flush_all
  make_efivars 1
  make_ukis
  tpm_volume "$@"
  reboot "$T/uki1.efi"
  tunlock 0 "$1"
  [ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(slots "$STATE")" = "0 1" ] || fail "first boot: $OUT"
}
