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
    _pl_check_point "point $i (before ${calls[i - 1]} #$i)" "$i"
  done
  local kinds
  kinds=$(printf '%s\n' "${calls[@]}" | sort | uniq -c | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
  _pl_report "$name: $k crash points, $survived survived ($kinds; $((SECONDS - started)) s)" "$k"
}

# _pl_check_point LABEL ARG: pl_check ARG in a subshell; counts the point in the caller's `survived`, or
# adds LABEL and the first failure to its `failed`.
_pl_check_point() {
  local rc
  # not an `if` condition: errexit stays on inside the subshell, so any failing command fails the point
  set +e
  (set -e; pl_check "$2") >"$T/pl-check.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" = 0 ]; then
    survived=$((survived + 1))
  else
    failed+=("$1: $(grep -m1 '^FAIL: ' "$T/pl-check.log" | cut -c7- || tail -n1 "$T/pl-check.log")")
  fi
}
# _pl_report LINE K: the result line (stdout, $PL_SUMMARY); fails unless the caller's `survived` is K.
_pl_report() {
  echo "# $1"
  echo "$1" >>"$PL_SUMMARY"
  if [ "$survived" != "$2" ]; then
    printf '# not survived: %s\n' "${failed[@]}"
    fail "$1; not survived: ${failed[*]}"
  fi
  ok "$1"
}

# --- Power loss around the TPM's own writes (needs relay.sh and boot.sh) ---
# A TPM command that changes the TPM's non-volatile memory (NV_DefineSpace, NV_Write, NV_UndefineSpace,
# EvictControl, ...) is one write: the TPM does it whole or not at all. The cut is right before it (not
# sent) and right after it (executed, the answer lost), through the relay (tests/lib/tpm-relay.py "cut");
# volseal is killed with SIGKILL once the relay holds the cut, while it waits for the answer.
#   tpm_save DIR / tpm_restore DIR   the swtpm's state (its NV) saved and put back (the swtpm restarts)
#   tpm_powerloss NAME [--want RC] -- COMMAND...
#       the uninterrupted run's TPM commands (through the relay) give the points: every occurrence of a
#       command in PL_TPM_WRITES, before and after; for each, pl_reset (files and, with tpm_restore, the
#       TPM), the cut run, then pl_check "CC:N before|after" (which reboots: the TPM lost power too).
PL_TPM_WRITES="0x0000011f 0x00000120 0x00000122 0x0000012a 0x00000134 0x00000135 0x00000136 0x00000137"
tpm_save() {
  "$TOP/swtpm/stop" "$SWTPM_STATE"
  rm -rf "$1"; cp -a "$SWTPM_STATE" "$1"
  eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
  export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
}
tpm_restore() {
  "$TOP/swtpm/stop" "$SWTPM_STATE"
  find "$SWTPM_STATE" -mindepth 1 -delete; cp -a "$1/." "$SWTPM_STATE/"
  eval "$("$TOP/swtpm/start" "$SWTPM_STATE" --env)"
  export VOLSEAL_TCTI TPM2TOOLS_TCTI=$VOLSEAL_TCTI SWTPM_PIDFILE SWTPM_PORT
}
# _tpm_cut_run POINT MODE COMMAND...: COMMAND through a relay that cuts at POINT (CC:N); killed at the cut.
# Returns 0 when the cut was hit, 1 when COMMAND ended without reaching it.
_tpm_cut_run() {
  local point=$1 mode=$2 pid i; shift 2
  rm -f "$T/pl-inject.hit"
  echo "cut:${point%%:*} ${point#*:} $mode" > "$T/pl-inject"
  relay_start "$T/pl-capture.bin" "$T/pl-commands.txt" "$T/pl-inject"
  "$@" >/dev/null 2>&1 &
  pid=$!
  for ((i = 0; i < 1500; i++)); do
    [ -e "$T/pl-inject.hit" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  if [ -e "$T/pl-inject.hit" ]; then
    { kill -9 "$pid"; wait "$pid"; } 2>/dev/null || true
    return 0
  fi
  { kill -9 "$pid"; wait "$pid"; } 2>/dev/null || true
  return 1
}
tpm_powerloss() {
  local name=$1 want=0 rc=0 started=$SECONDS; shift
  [ "${1:-}" = --want ] && { want=$2; shift 2; }
  [ "${1:-}" = -- ] && shift
  pl_reset
  relay_start "$T/pl-capture.bin" "$T/pl-commands.txt"
  "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "tpm_powerloss $name: the uninterrupted run exited $rc, wanted $want"
  local points=() cc p mode k=0 survived=0 failed=() label
  local -A seen=()
  while read -r cc; do
    case " $PL_TPM_WRITES " in
      *" $cc "*) seen[$cc]=$((${seen[$cc]:-0} + 1)); points+=("$cc:${seen[$cc]}") ;;
    esac
  done <"$T/pl-commands.txt"
  [ ${#points[@]} -gt 0 ] || fail "tpm_powerloss $name: the run wrote nothing to the TPM"
  for p in "${points[@]}"; do
    for mode in before after; do
      k=$((k + 1))
      label="$("$TOP/tests/lib/tpm-names" <<<"${p%%:*}") #${p#*:} $mode"
      pl_reset
      if ! _tpm_cut_run "$p" "$mode" "$@"; then
        failed+=("$label: the run did not reach the cut")
        continue
      fi
      _pl_check_point "$label" "$p $mode"
    done
  done
  _pl_report "$name: $k TPM crash points ($(printf '%s\n' "${points[@]%%:*}" | "$TOP/tests/lib/tpm-names" | tr '\n' ' ')before and after), $survived survived ($((SECONDS - started)) s)" "$k"
}
