#!/usr/bin/env bash
# Power loss during a re-seal (docs/tpm.md: the re-seal gate; docs/operations.md: a replace; docs/pcr.md:
# PCR 7): after a dbx update the tpm
# slot 0 no longer unseals, nodeID (slot 1) opens STATE, and sync re-seals slot 0 by a replace with its
# token steps: new keyslot and talos-tpm2 token at a spare slot, old keyslot and token 0 gone, new keyslot
# and token 0, spare keyslot and token gone, the sync fingerprint. After a crash at any of those writes
# nodeID still opens STATE (real cryptsetup), the next unlock finishes the re-seal, and the unlock after it
# opens STATE by the tpm slot. The swtpm keeps running between crash points; what a killed volseal left
# loaded in it is flushed.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/powerloss.sh"
tpm_first_boot "$T/c.yaml"
head -c 100 /dev/urandom > "$T/dbx2.esl"; setvar dbx "$T/dbx2.esl"
reboot "$T/uki1.efi"
cp "$STATE" "$T/base.img"
digest=$(header_facts "$STATE"); digest=${digest#*digest=}
sum0=$(token_sum "$STATE")

PL_FILES=("$STATE")
PL_MIN=20
pl_reset() { cp "$T/base.img" "$STATE"; }
pl_check() {
  flush_all >/dev/null 2>&1
  opens "$STATE" 1 "${UUID}STATE" || fail "nodeID no longer opens slot 1"
  # nodeID opens it, or (a crash after the new keyslot 0 and its token were written) the new tpm slot
  tunlock 0 "$T/c.yaml"
  case $(vol STATE .opened_by_slot) in 0|1) ;; *) fail "the next unlock: $OUT" ;; esac
  local facts; facts=$(header_facts "$STATE")
  [ "$facts" = "keyslots=0 1 tokens=0 digest=$digest" ] || fail "the next unlock did not finish the re-seal: $facts; $OUT"
  [ "$(token_sum "$STATE")" != "$sum0" ] || fail "token 0 is the old one"
  run_volseal 0 unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
    --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
  [ "$(vol STATE .opened_by_slot)" = 0 ] || fail "the unlock after it does not open by the tpm slot: $OUT"
}
powerloss reseal -- "$VOLSEAL" unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}" \
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
flush_all
done_testing
