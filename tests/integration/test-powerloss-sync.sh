#!/usr/bin/env bash
# Power loss during sync (docs/operations.md, "Keyslot sync"), at every write volseal and libcryptsetup make: one unlock adds a
# slot (3), replaces a changed one (1: spare slot, destroy, re-add, spare gone) and removes a slot the config
# no longer names (2). After a crash at any point the unchanged key still opens slot 0 (real cryptsetup),
# and the next unlock finishes the job with the same volume key.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/lib/powerloss.sh"
EPH=$(img eph)
VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/old.yaml" "EPHEMERAL 0:static:keep 1:static:before 2:static:extra"
volumes_config "$T/new.yaml" "EPHEMERAL 0:static:keep 1:static:after 3:static:added"
unlock 0 "$T/old.yaml"
[ "$(slots "$EPH")" = "0 1 2" ] || fail "setup: slots $(slots "$EPH")"
cp "$EPH" "$T/base.img"
digest=$(header_facts "$EPH"); digest=${digest#*digest=}

PL_FILES=("$EPH")
PL_MIN=20
pl_reset() { cp "$T/base.img" "$EPH"; }
pl_check() {
  opens "$EPH" 0 keep || fail "the unchanged key no longer opens slot 0"
  unlock 0 "$T/new.yaml"
  [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "the next unlock: $OUT"
  local facts; facts=$(header_facts "$EPH")
  [ "$facts" = "keyslots=0 1 3 tokens= digest=$digest" ] || fail "the next unlock did not finish: $facts; $OUT"
  opens "$EPH" 1 after && opens "$EPH" 3 added || fail "after the next unlock the new keys do not open slots 1 and 3"
}
powerloss sync -- "$VOLSEAL" unlock -c "$T/new.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
done_testing
