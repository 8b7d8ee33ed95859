#!/usr/bin/env bash
# Power safety of sync (design §4): volseal is killed before each of its writes in turn while it replaces a
# changed keyslot; after every crash the unchanged key still opens the volume and the next unlock finishes.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
eph_config() { # FILE "SLOT:PASSPHRASE"...
  local f=$1; shift
  printf 'apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  keys:\n' >"$f"
  for k in "$@"; do printf '    - static:\n        passphrase: %s\n      slot: %s\n' "${k#*:}" "${k%%:*}" >>"$f"; done
}
# Power loss at every moment of a replace: kill volseal before its Nth write (strace fault injection), for
# every N until a run completes. After each crash the unchanged key must still open its slot (real
# cryptsetup), and the next unlock must finish the job.
PL=$(img power)
VOLUMES=(--volume "EPHEMERAL=$PL")
eph_config "$T/p1.yaml" 0:keep 1:before
eph_config "$T/p2.yaml" 0:keep 1:after
unlock 0 "$T/p1.yaml"
cp "$PL" "$T/power-base.img"
n=1
while :; do
  cp "$T/power-base.img" "$PL"
  set +e
  # LeakSanitizer cannot run under ptrace: leaks are checked by the other lifecycle tests.
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 bash -c 'strace -f -o /dev/null -e trace=write,pwrite64 \
     -e inject=write,pwrite64:signal=KILL:when=$1 "${@:2}" >/dev/null 2>&1; exit $?' crash "$n" \
     "$VOLSEAL" unlock -c "$T/p2.yaml" "${VOLUMES[@]}" --check --pbkdf-memory 32 --pbkdf-iterations 4 2>/dev/null
  rc=$?
  set -e
  [ $rc = 0 ] && break
  [ $rc = 137 ] || fail "crash at write $n: volseal exited $rc, not killed"
  opens "$PL" 0 keep || fail "crash before write $n: the unchanged key no longer opens slot 0"
  run_volseal 0 unlock -c "$T/p2.yaml" "${VOLUMES[@]}" --check --pbkdf-memory 32 --pbkdf-iterations 4
  [ "$(slots "$PL")" = "0 1" ] || fail "after a crash before write $n, the next unlock did not finish: $(slots "$PL"); $OUT"
  n=$((n + 1))
  [ $n -lt 200 ] || fail "runaway crash loop"
done
[ $n -gt 10 ] || fail "only $n crash points: the injection did not hit the header writes"
check_headers
opens "$PL" 1 after || fail "the new key does not open slot 1"
ok "a crash before any of the $((n - 1)) writes of a replace leaves the unchanged key working; the next unlock repairs"
done_testing
