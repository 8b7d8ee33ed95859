# common.sh: sourced by every shell test. Gives: $VOLSEAL (the binary under test), $T (a scratch directory
# removed at exit), fail/ok/contains/not_contains/done_testing, expect/run_volseal, and TAP-like lines on
# stdout.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${VOLSEAL:=$TOP/build/src/volseal}"
export VOLSEAL
T=$(mktemp -d "${TMPDIR:-/tmp}/volseal-test.XXXXXX")
_cleanups=()
on_exit() { # runs registered cleanups (last first), then removes $T
  local rc=$?
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[i]}" || true; done
  rm -rf "$T"
  exit $rc
}
trap on_exit EXIT
add_cleanup() { _cleanups+=("$1"); }
_checks=0
fail() { echo "not ok - $*" >&2; echo "FAIL: $*"; exit 1; }
ok() { _checks=$((_checks + 1)); echo "ok $_checks - $*"; }
contains() { [[ "$1" == *"$2"* ]] || fail "expected to find '$2' in: $1"; }
not_contains() { [[ "$1" != *"$2"* ]] || fail "did not expect '$2' in output"; }
done_testing() { echo "1..$_checks"; }

# expect EXIT COMMAND...: runs COMMAND with its stdout and stderr kept in $OUT and $ERR; fails, showing both,
# on any other exit code. stdin is the caller's (a test whose commands must not read it redirects it).
expect() {
  local want=$1; shift
  set +e; "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, wanted $want; stdout: $OUT; stderr: $ERR"
}
# run_volseal EXIT ARGS...: expect EXIT "$VOLSEAL" ARGS...
run_volseal() { local want=$1; shift; expect "$want" "$VOLSEAL" "$@"; }
