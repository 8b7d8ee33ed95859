#!/usr/bin/env bash
# Power loss while the first unlock formats an empty volume (docs/operations.md, "A boot") and adds the rest of its
# keys: crypt_format's header and keyslot-area writes, keyslot 0, the clearing of the volseal-formatting
# mark, keyslot 1, the sync fingerprint. After a crash at any point the volume either holds no complete key
# (no keyslot, or a header still marked: nothing can be stored on it yet; the next unlock formats it again)
# or a configured key opens it (real cryptsetup); the next unlock always ends with both keys in place.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/lib/powerloss.sh"
EPH=$(img eph)
VOLUMES=(--volume "EPHEMERAL=$EPH")
volumes_config "$T/c.yaml" "EPHEMERAL 0:static:first-key 1:nodeID"
cp "$EPH" "$T/base.img"

PL_FILES=("$EPH")
PL_MIN=20
pl_reset() { cp "$T/base.img" "$EPH"; }
pl_check() {
  local facts="" digest=""
  # a header still marked volseal-formatting never held data: formatting it again may change the key
  if cryptsetup isLuks --type luks2 "$EPH" 2>/dev/null && [ "$(header_subsystem "$EPH")" != volseal-formatting ]; then
    facts=$(header_facts "$EPH")
    digest=${facts#*digest=}
  fi
  case $facts in
    ""|"keyslots= "*) ;;  # no LUKS2 header, or one without a keyslot: an unfinished format
    *) opens "$EPH" 0 first-key || opens "$EPH" 1 "${UUID}EPHEMERAL" || fail "no configured key opens the volume: $facts" ;;
  esac
  unlock 0 "$T/c.yaml"
  case $(vol EPHEMERAL .state) in formatted|opened) ;; *) fail "the next unlock: $OUT" ;; esac
  local after; after=$(header_facts "$EPH")
  [ "${after% digest=*}" = "keyslots=0 1 tokens=" ] || fail "the next unlock did not finish: $after; $OUT"
  [ -z "$digest" ] || [ "$facts" = "${facts#keyslots=0}" ] || [ "${after#*digest=}" = "$digest" ] ||
    fail "the volume key changed although slot 0 held it"
  opens "$EPH" 0 first-key && opens "$EPH" 1 "${UUID}EPHEMERAL" || fail "after the next unlock the keys do not open slots 0 and 1"
}
powerloss format -- "$VOLSEAL" unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"

# The fix for crash points inside crypt_format treats only an unfinished first format as empty: a real
# header whose both copies are broken (primary checksum, secondary magic) but whose JSON names keyslots
# is refused and left alone.
unlock 0 "$T/c.yaml"
printf '\xff' | dd of="$EPH" bs=1 seek=448 conv=notrunc status=none
dd if=/dev/zero of="$EPH" bs=1 seek=16384 count=6 conv=notrunc status=none
sum=$(image_sum "$EPH")
run_volseal 2 unlock -c "$T/c.yaml" "${VOLUMES[@]}" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
contains "$OUT" "neither LUKS2 header copy is intact"
[ "$(image_sum "$EPH")" = "$sum" ] || fail "a broken real header was written to"
ok "a LUKS2 header with keyslots whose copies are both broken is refused, not formatted again"
done_testing
