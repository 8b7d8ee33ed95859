#!/usr/bin/env bash
# Power loss during the two-step rotation of a key (docs/operations.md; test-lifecycle-rotation.sh without crashes):
# step 1 adds the new key next to the old one, step 2 removes the old one. After a crash at any write of
# either step a configured key opens the volume (real cryptsetup) and the next unlock of that step finishes.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/lib/powerloss.sh"
EPH=$(img eph)
VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/old.yaml" "EPHEMERAL 0:static:oldkey"
volumes_config "$T/step1.yaml" "EPHEMERAL 0:static:oldkey 1:static:newkey"
volumes_config "$T/step2.yaml" "EPHEMERAL 1:static:newkey"
unlock 0 "$T/old.yaml"
digest=$(header_facts "$EPH"); digest=${digest#*digest=}
PL_FILES=("$EPH")
PL_MIN=10
pl_reset() { cp "$T/base.img" "$EPH"; }
step() { # CONFIG: the next unlock with it finishes with exactly the slots it names, same volume key
  unlock 0 "$1"
  local facts; facts=$(header_facts "$EPH")
  [ "$facts" = "keyslots=$2 tokens= digest=$digest" ] || fail "the next unlock did not finish: $facts; $OUT"
  opens "$EPH" 1 newkey || fail "after the next unlock the new key does not open slot 1"
}

cp "$EPH" "$T/base.img"
pl_check() {
  opens "$EPH" 0 oldkey || fail "the old key no longer opens slot 0"
  step "$T/step1.yaml" "0 1"
  opens "$EPH" 0 oldkey || fail "after the next unlock the old key does not open slot 0"
}
powerloss rotation-step1 -- "$VOLSEAL" unlock -c "$T/step1.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"

unlock 0 "$T/step1.yaml"
cp "$EPH" "$T/base.img"
pl_check() {
  opens "$EPH" 1 newkey || fail "the new key no longer opens slot 1"
  step "$T/step2.yaml" "1"
}
powerloss rotation-step2 -- "$VOLSEAL" unlock -c "$T/step2.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
done_testing
