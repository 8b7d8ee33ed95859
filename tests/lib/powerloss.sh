# powerloss.sh: power loss at every write (docs/security.md, "Power loss"). Sourced after common.sh (and luks.sh) by the
# test-powerloss-*.sh scenarios. One scenario:
#
#   PL_FILES=(IMAGE...)          the files whose writes count (STATE/EPHEMERAL images, the META image)
#   pl_reset() { ...; }          restores the state before the operation (copy the saved images back;
#                                the swtpm keeps running, a killed volseal's TPM handles are flushed)
#   pl_check() { ...; }          after a crash at point $1: the volume still opens with a configured key,
#                                META has a good copy, the next run finishes the job. Runs in a subshell:
#                                fail/exit there marks that crash point as not survived.
#   powerloss NAME [--want RC] -- COMMAND...
#
# How: COMMAND runs once with every write-class call on PL_FILES recorded (write, pwrite, writev, fsync,
# fdatasync, fallocate, ftruncate, ...; libcryptsetup's own header, keyslot and token writes included, as
# they go through the same calls). That gives K crash points. Then for every i in 1..K (all of them, no
# sampling) the files are reset and COMMAND runs again and is killed with SIGKILL on entry to the i-th call:
# calls 1..i-1 are on the files, call i is not, which is what a power cut between two writes leaves (the
# page cache keeps what was written, as kill -9 does; torn and reordered unsynced writes are NOT modelled).
# Then pl_check runs. The result line: "NAME: K crash points, S survived"; the test fails unless S = K,
# listing each crash point that did not survive with its reason.
# The counting and killing is tests/integration/failpoint.c (LD_PRELOAD, $VS_FAILPOINT_LIB): strace's fault
# injection does the same but stops at each of volseal's ~9000 syscalls and costs ~1 s a run. strace is
# still the second opinion: the uninterrupted run is also recorded with `strace -P FILE` and the two
# sequences of calls must be identical, and each crashed run must have stopped exactly at its point, so a
# call the failpoint layer does not see, or a point that was not hit, fails the test.
PL_CALLS=write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,fallocate,ftruncate,msync,copy_file_range
PL_FILES=()
PL_MIN=1
PL_SUMMARY=${PL_SUMMARY:-$T/powerloss-summary}

# _pl_strace TRACE COMMAND...: COMMAND under strace, the write-class calls on PL_FILES in TRACE.
# LeakSanitizer cannot run under ptrace (ASan builds): leaks are checked elsewhere.
_pl_strace() {
  local trace=$1; shift
  local paths=() f
  for f in "${PL_FILES[@]}"; do paths+=(-P "$(realpath "$f")"); done
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -o "$trace" "${paths[@]}" -e trace="$PL_CALLS" "$@" >/dev/null 2>&1
}
# _pl_strace_calls TRACE: the call names in a strace TRACE, one a line.
_pl_strace_calls() { sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*$/\1/p' "$1"; }

# _pl_run LOG KILL COMMAND...: COMMAND with the failpoint layer; KILL = 0 records only.
_pl_run() {
  local log=$1 kill=$2; shift 2
  local files f preload=$VS_FAILPOINT_LIB asan
  for f in "${PL_FILES[@]}"; do files+=${files:+:}$(realpath "$f"); done
  # In a sanitizer build the ASan runtime must come first in the preload list.
  asan=$(ldd "$VOLSEAL" | awk '/libasan/ { print $3 }')
  [ -n "$asan" ] && preload="$asan $preload"
  : >"$log"
  # the inner bash reports "Killed" to its own (discarded) stderr
  bash -c '"$@" >/dev/null 2>&1; exit $?' pl env LD_PRELOAD="$preload" VS_FAILPOINT_FILES="$files" \
    VS_FAILPOINT_LOG="$log" VS_FAILPOINT_KILL="$kill" "$@" 2>/dev/null
}

powerloss() {
  local name=$1 want=0; shift
  [ "${1:-}" = --want ] && { want=$2; shift 2; }
  [ "${1:-}" = -- ] && shift
  [ ${#PL_FILES[@]} -gt 0 ] || fail "powerloss $name: PL_FILES is empty"
  : "${VS_FAILPOINT_LIB:?VS_FAILPOINT_LIB not set (run through meson)}"
  local started=$SECONDS rc=0
  pl_reset
  _pl_run "$T/pl-record.log" 0 "$@" || rc=$?
  [ "$rc" = "$want" ] || fail "powerloss $name: the uninterrupted run exited $rc, wanted $want"
  local calls=()
  mapfile -t calls <"$T/pl-record.log"
  local k=${#calls[@]}
  [ "$k" -ge "$PL_MIN" ] || fail "powerloss $name: only $k write-class calls on ${PL_FILES[*]} (at least $PL_MIN expected)"
  pl_reset
  rc=0
  _pl_strace "$T/pl-record.trace" "$@" || rc=$?
  [ "$rc" = "$want" ] || fail "powerloss $name: the run under strace exited $rc, wanted $want"
  _pl_strace_calls "$T/pl-record.trace" | cmp -s - "$T/pl-record.log" ||
    fail "powerloss $name: strace saw other write-class calls than the failpoint layer: $(_pl_strace_calls "$T/pl-record.trace" | diff - "$T/pl-record.log" | head -5 | tr '\n' ' ')"
  local i survived=0 failed=() got=()
  for ((i = 1; i <= k; i++)); do
    pl_reset
    rc=0
    _pl_run "$T/pl-crash.log" "$i" "$@" || rc=$?
    if [ "$rc" != 137 ]; then
      failed+=("point $i (${calls[i - 1]}): volseal exited $rc, not killed")
      continue
    fi
    mapfile -t got <"$T/pl-crash.log"
    if [ ${#got[@]} != "$i" ] || [ "${got[i - 1]}" != "${calls[i - 1]} ?" ]; then
      failed+=("point $i (${calls[i - 1]}): the crashed run did not stop there (${#got[@]} calls, the last '${got[${#got[@]} - 1]:-none}'): not deterministic")
      continue
    fi
    # not an `if` condition: errexit stays on inside the subshell, so any failing command fails the point
    set +e
    (set -e; pl_check "$i") >"$T/pl-check.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" = 0 ]; then
      survived=$((survived + 1))
    else
      failed+=("point $i (before ${calls[i - 1]} #$i): $(grep -m1 '^FAIL: ' "$T/pl-check.log" | cut -c7- || tail -n1 "$T/pl-check.log")")
    fi
  done
  local kinds
  kinds=$(printf '%s\n' "${calls[@]}" | sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
  local line="$name: $k crash points, $survived survived ($kinds; $((SECONDS - started)) s)"
  echo "# $line"
  echo "$line" >>"$PL_SUMMARY"
  if [ "$survived" != "$k" ]; then
    printf '# not survived: %s\n' "${failed[@]}"
    fail "$line; not survived: ${failed[*]}"
  fi
  ok "$line"
}
