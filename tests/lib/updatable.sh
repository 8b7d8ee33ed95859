# updatable.sh: a node whose STATE and EPHEMERAL have an updatable tpm slot (0) and a recovery key (1),
# installed on swtpm (docs/tpm-updatable.md "Operator workflow"). Sourced after common.sh, esl.sh, luks.sh,
# boot.sh.
#   updatable_install   EFI variables with real db/dbx signature lists ($T/update.esl: one more dbx hash;
#                       $T/dbx2.esl: dbx with it applied), UKIs signed by K1, the images and $T/c.yaml, the
#                       two installation unlocks (the recovery key in $RK), and a boot that opens both by tpm;
#                       A is PCR 7 of that boot. Between the two unlocks it calls `updatable_between`
#                       when defined (the power-loss test saves the node there).
#   pcr7                 PCR 7 now (hex)
#   states               the authorized PCR 7 states, oldest first, as `volseal status` reads the index
#   opened_by SLOT       both volumes were opened by SLOT in $OUT
updatable_install() {
  make_efivars 1
  openssl x509 -inform DER -in "$T/db.der" -out "$T/db.pem"
  # the simulator logs the db authority with its owner GUID (swtpm/boot): the db entry must be that one
  cert-to-efi-sig-list -g 77fa9abd-0359-4d32-bd60-28f4e78f784b "$T/db.pem" "$T/db.esl" >/dev/null
  hash_esl "$T/dbx.esl" "$(printf one | sha256sum | cut -c1-64)"
  hash_esl "$T/update.esl" "$(printf two | sha256sum | cut -c1-64)"
  cat "$T/dbx.esl" "$T/update.esl" > "$T/dbx2.esl"
  setvar db "$T/db.esl"; setvar dbx "$T/dbx.esl"
  make_ukis
  state_eph_images
  volumes_config "$T/c.yaml" "STATE 0:tpm:updatable=true 1:recovery" "EPHEMERAL 0:tpm:updatable=true 1:recovery"
  mkdir -p "$T/state" "$T/keys"
  RK=$T/keys/recovery.txt
  reboot "$T/uki1.efi"
  A=$(pcr7)
  tunlock 0 "$T/c.yaml" --recovery-key-out "$RK"
  [ "$(vol STATE .state)" = formatted ] && [ "$(vol EPHEMERAL .state)" = waiting-for-state ] || fail "install 1: $OUT"
  if declare -F updatable_between >/dev/null; then updatable_between; fi
  tunlock 0 "$T/c.yaml" --state-dir "$T/state" --recovery-key-file "$RK"
  [ "$(slot_status STATE 0)" = added ] && [ "$(vol EPHEMERAL .state)" = formatted ] || fail "install 2: $OUT"
  reboot "$T/uki1.efi"
  tunlock 0 "$T/c.yaml"
  opened_by 0 || fail "a boot after the installation: $OUT"
}
pcr7() { tpm2_pcrread sha256:7 -o "$T/p7" >/dev/null; xxd -p "$T/p7" | tr -d '\n'; }
states() {
  run_volseal 0 status -c "$T/c.yaml" "${VOLUMES[@]}" --json --product-uuid-file "$T/product_uuid" \
    --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
  vol STATE '.authorized.states | map(."7") | join(" ")'
}
opened_by() { [ "$(vol STATE .opened_by_slot)" = "$1" ] && [ "$(vol EPHEMERAL .opened_by_slot)" = "$1" ]; }
