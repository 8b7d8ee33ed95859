#!/usr/bin/env bash
# Power loss during META updates (docs/meta.md): `volseal meta set`, `volseal meta delete` of a
# tag held only by the legacy syslinux ADV (the legacy block is rebuilt), and the tag 9 write of an unlock
# that also syncs STATE's keyslots. After a crash at any write META still has a valid copy (checked by an
# independent reader) holding the old or the new value, `volseal meta` reads it without --force, and the
# next run finishes the job: both copies valid and identical, the legacy block valid.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/lib/powerloss.sh"
. "$TOP/tests/lib/meta.sh"
M=$T/meta.img
truncate -s 1M "$M"

get() { "$VOLSEAL" meta get "$1" --meta "$M" 2>/dev/null; }
# good_copy: at least one valid copy, and volseal reads META without --force
good_copy() {
  local s; s=$(adv_state "$M")
  [[ $s == *copy1=ok* || $s == *copy2=ok* ]] || fail "no valid META copy left: $s"
  run_volseal 0 meta list --meta "$M"
}
complete() { # after the next run: both copies valid and identical, the legacy block valid
  [ "$(adv_state "$M")" = "copy1=ok copy2=ok same=yes legacy=ok" ] || fail "META after the next run: $(adv_state "$M")"
}

# A META as an old Talos left it (legacy tags 6 and 14) plus Talos ADV tags 12 and 13.
legacy_adv "$M" 6=yes 14=legacy
run_volseal 0 meta set 12 old --meta "$M"
run_volseal 0 meta set 13 keep --meta "$M"
complete
cp "$M" "$T/base.meta"
PL_FILES=("$M")
PL_MIN=4
pl_reset() { cp "$T/base.meta" "$M"; }

# --- meta set
pl_check() {
  good_copy
  local v; v=$(get 12) || fail "tag 12 is gone"
  [ "$v" = old ] || [ "$v" = new ] || fail "tag 12 is '$v', neither old nor new"
  [ "$(get 13)" = keep ] && [ "$(get 14)" = legacy ] || fail "another tag changed"
  run_volseal 0 meta set 12 new --meta "$M"
  complete
  [ "$(get 12)" = new ] && [ "$(get 13)" = keep ] && [ "$(get 6)" = yes ] || fail "after the next set: $(get 12) $(get 13)"
}
powerloss meta-set -- "$VOLSEAL" meta set 12 new --meta "$M"

# --- meta delete of a legacy tag (copy 1, copy 2, then the rebuilt legacy block)
pl_check() {
  good_copy
  local v; v=$(get 6) || v=deleted
  [ "$v" = yes ] || [ "$v" = deleted ] || fail "tag 6 is '$v'"
  [ "$(get 12)" = old ] && [ "$(get 13)" = keep ] && [ "$(get 14)" = legacy ] || fail "another tag changed"
  run_volseal 0 meta delete 6 --meta "$M"
  complete
  ! get 6 >/dev/null || fail "tag 6 still set after the next delete"
  [ "$(get 14)" = legacy ] && [ "$(get 12)" = old ] || fail "after the next delete: $(get 14) $(get 12)"
}
powerloss meta-delete -- "$VOLSEAL" meta delete 6 --meta "$M"

# --- unlock: STATE gains a key (keyslot writes) and META tag 9 follows the config (META writes)
STATE=$(img state)
VOLUMES=(--volume "STATE=$STATE")
volumes_config "$T/a.yaml" "STATE 0:static:state-secret 1:nodeID"
volumes_config "$T/b.yaml" "STATE 0:static:state-secret 1:nodeID 2:static:added"
unlock 0 "$T/a.yaml" --meta "$M"
a9=$(get 9) || fail "setup: tag 9 not written"
cp "$STATE" "$T/base.state"; cp "$M" "$T/base.meta"
unlock 0 "$T/b.yaml" --meta "$M"
b9=$(get 9)
[ "$a9" != "$b9" ] || fail "setup: the two configs give the same tag 9"
PL_FILES=("$STATE" "$M")
PL_MIN=10
pl_reset() { cp "$T/base.state" "$STATE"; cp "$T/base.meta" "$M"; }
pl_check() {
  opens "$STATE" 0 state-secret || fail "the unchanged key no longer opens STATE slot 0"
  good_copy
  local v; v=$(get 9) || fail "tag 9 is gone"
  [ "$v" = "$a9" ] || [ "$v" = "$b9" ] || fail "tag 9 is neither the old nor the new config: $v"
  unlock 0 "$T/b.yaml" --meta "$M"
  complete
  [ "$(get 9)" = "$b9" ] || fail "tag 9 after the next unlock: $(get 9)"
  [ "$(slots "$STATE")" = "0 1 2" ] && opens "$STATE" 2 added || fail "STATE after the next unlock: $(slots "$STATE")"
}
powerloss meta-unlock -- "$VOLSEAL" unlock -c "$T/b.yaml" "${VOLUMES[@]}" --meta "$M" --check --product-uuid-file "$T/product_uuid" "${FAST[@]}"
done_testing
