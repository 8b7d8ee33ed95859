# crash.sh: crash consistency as disks lose power (docs/security.md "Power loss", docs/testing.md). Sourced
# after common.sh and luks.sh (and boot.sh, relay.sh for the TPM scenarios) by
# tests/crash/test-crash-consistency.sh. One scenario:
#
#   CR_OBJECTS=(NAME=PATH...)   what is watched: images (volumes, META) and directories (the STATE mount,
#                               whose files are modelled at file level: lockToSTATE salt, tpm material)
#   cr_check() { ...; }         one crash state, materialized on those paths: fail (in a subshell) marks it
#                               lost. $1 is the state's description. The helpers below do the usual checks.
#   crash_scenario NAME [--want RC] -- COMMAND...
#
# How: COMMAND runs once with tests/crash/recorder.c preloaded ($VS_RECORDER_LIB), which logs every write
# (offset, bytes) and flush on the objects in order; it runs a second time under strace, and the write,
# flush and directory calls strace sees on the objects must be the same sequence (a write that bypassed
# the recorder, through syscall() or stdio, fails the scenario). CR_FAIL_FSYNC=OBJ (e.g. dir:STATEDIR)
# makes every fsync of that object fail with EIO in both runs (nothing is flushed).
# tests/crash/crashgen.py turns the log into crash states (per flush epoch: prefixes, single omissions,
# seeded subsets, 512-byte tears), deduplicated by content, and materializes them one at a time; cr_check
# runs on each. The result line "crash NAME: N crash states, M lost" goes to stdout and to $CR_SUMMARY; a
# scenario with lost states does not stop the test file: crash_summary (at its end) prints
# "crash-consistency: N crash states, M lost" and fails when M > 0 or N < $CR_MIN_TOTAL. While working on
# one scenario, CRASH_ONLY="NAME..." runs only those (and the total is not enforced); CRASH_DRY=1 records
# and counts the crash states but checks none.
#
# The TPM (CR_TPM_BOOT=UKI: the scenario writes the TPM's NV): the recorded run goes through the test relay
# (tests/lib/tpm-relay.py --mark --snapshot), which puts each NV write into the recorder's log, in order
# among the disk writes, and saves the TPM's NV state after it. crashgen gives each crash state the TPM
# states it fits (after 0..M of the NV writes), and each pair is one crash state: the TPM gets that NV state
# and a power cycle (power_cycle UKI: PCRs reset, the boot measured), then cr_check runs with
# "tpm=J of M" in its description ($CR_TPM_AT is J). The run under strace must make the same NV writes.
# CR_TPM_SAMPLE=K checks every pair of a crash state that fits several TPM states and a seeded sample of K
# of the others (the TPM scenarios' checks reboot and unseal, ~1.5 s each), and one pair of every TPM state.
#
# Checks for cr_check (a volume's image must be among CR_OBJECTS and in $VOLUMES):
#   cr_check_volumes            the next `volseal unlock -c $CR_AFTER "${CR_ARGS[@]}"` exits 0 and every
#                               volume of CR_VOLS was opened by a configured key (it opens before it writes)
#                               or, listed in CR_MAY_BE_EMPTY, held no usable keyslot and was formatted;
#                               then the Talos header check passes, and each volume has the keyslots and
#                               tokens of the uninterrupted run (cr_reference) and its volume key (unless it
#                               was formatted again). On failure `volseal status` with $CR_AFTER and
#                               $CR_BEFORE (which writes nothing) tells which keys still open it.
#   cr_reference                runs after the uninterrupted run; by default cr_reference_volumes: REF[ID] =
#                               header_facts of each of CR_VOLS (a scenario may add its own facts)
CR_SUMMARY=${CR_SUMMARY:-$T/crash-summary}
CR_MIN_TOTAL=${CR_MIN_TOTAL:-500}
CR_SUBSETS=${CR_SUBSETS:-6}
CR_OBJECTS=()
CR_VOLS=()
CR_ARGS=()
CR_BEFORE=""
CR_AFTER=""
CR_MAY_BE_EMPTY=""
CR_TPM_BOOT=""
CR_TPM_SAMPLE=""
declare -A REF=()
: >"$CR_SUMMARY"
# The write and flush calls strace is asked about, the directory calls, and the ways of writing the model
# does not follow (shared writable mmap, copy_file_range, sendfile, splice, mkdir): only successes count.
CR_STRACE_CALLS=write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,fallocate,ftruncate,link,linkat,rename,renameat,renameat2,unlink,unlinkat,sync,syncfs,copy_file_range,sendfile,splice,mmap,ioctl,mkdir,mkdirat

_cr_path() { echo "${1#*=}"; }
_cr_name() { echo "${1%%=*}"; }
_cr_objects_env() { local o s=""; for o in "${CR_OBJECTS[@]}"; do s+="$(_cr_name "$o")=$(realpath "$(_cr_path "$o")");"; done; echo "$s"; }

# _cr_snapshot DIR: a copy of every object (a directory also as DIR/NAME.inodes: "INODE NAME" per file).
_cr_snapshot() {
  local o p n
  rm -rf "$1"; mkdir -p "$1"
  for o in "${CR_OBJECTS[@]}"; do
    n=$(_cr_name "$o"); p=$(_cr_path "$o")
    if [ -d "$p" ]; then
      cp -a "$p" "$1/$n"
      find "$p" -mindepth 1 -maxdepth 1 -type f -printf '%i %f\n' >"$1/$n.inodes"
    else
      cp --sparse=always "$p" "$1/$n"
    fi
  done
}
# _cr_restore DIR: the objects as _cr_snapshot saw them (file contents; directory inodes change).
_cr_restore() {
  local o p n
  for o in "${CR_OBJECTS[@]}"; do
    n=$(_cr_name "$o"); p=$(_cr_path "$o")
    if [ -d "$p" ]; then
      find "$p" -mindepth 1 -delete
      cp -a "$1/$n/." "$p/"
    else
      cp --sparse=always "$1/$n" "$p"
    fi
  done
}

# _cr_preload: the recorder, after the ASan runtime in a sanitizer build.
_cr_preload() {
  local asan
  asan=$(ldd "$VOLSEAL" | awk '/libasan/ { print $3 }')
  echo "${asan:+$asan }$VS_RECORDER_LIB"
}

# _cr_record LOG DATA [strace ARGS... --] COMMAND...: COMMAND with the recorder (and CR_FAIL_FSYNC, the
# object whose fsync fails, if any), under strace when asked; its exit code.
_cr_record() {
  local log=$1 data=$2 tracer=(); shift 2
  if [ "$1" = strace ]; then
    while [ "$1" != -- ]; do tracer+=("$1"); shift; done
    shift
  fi
  : >"$log"; : >"$data"
  # LeakSanitizer cannot run under ptrace (ASan builds): leaks are checked elsewhere.
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}${tracer:+detect_leaks=0} \
    bash -c '"$@" >"$0" 2>&1; exit $?' "$log.out" "${tracer[@]}" env LD_PRELOAD="$(_cr_preload)" \
    VS_REC_OBJECTS="$(_cr_objects_env)" VS_REC_LOG="$log" VS_REC_DATA="$data" VS_REC_FAIL_FSYNC="${CR_FAIL_FSYNC:-}" "$@" 2>/dev/null
}

CRASHGEN=(/usr/bin/python3 "$TOP/tests/crash/crashgen.py")
# _cr_ask [COMMAND]: sends COMMAND (if any) to the running crashgen, its answer line in $REPLY
_cr_ask() {
  [ $# = 0 ] || echo "$*" >&"$CR_OUT"
  read -r REPLY <&"$CR_IN"
}

crash_scenario() {
  local name=$1 want=0; shift
  [ "${1:-}" = --want ] && { want=$2; shift 2; }
  [ "${1:-}" = -- ] && shift
  if [ -n "${CRASH_ONLY:-}" ] && [[ " $CRASH_ONLY " != *" $name "* ]]; then echo "# crash $name: not in CRASH_ONLY"; return 0; fi
  [ ${#CR_OBJECTS[@]} -gt 0 ] || fail "crash $name: CR_OBJECTS is empty"
  : "${VS_RECORDER_LIB:?VS_RECORDER_LIB not set (run through meson)}"
  local started=$SECONDS rc=0 dir=$T/cr-$name
  mkdir -p "$dir"
  _cr_snapshot "$dir/base"
  if [ -n "$CR_TPM_BOOT" ]; then
    rm -rf "$dir/tpm"; mkdir -p "$dir/tpm/0"; cp "$SWTPM_STATE"/*.permall "$dir/tpm/0/"
    relay_start "$dir/relay.capture" "$dir/relay.commands" --mark "$dir/log" --snapshot "$dir/tpm" "$SWTPM_STATE"
  fi
  _cr_record "$dir/log" "$dir/data" "$@" || rc=$?
  [ "$rc" = "$want" ] || fail "crash $name: the recorded run exited $rc, wanted $want: $(tail -n 3 "$dir/log.out")"
  cr_reference
  _cr_restore "$dir/base"
  if [ -n "$CR_TPM_BOOT" ]; then
    power_cycle "$CR_TPM_BOOT" "$dir/tpm/0"
    relay_start "$dir/relay.capture" "$dir/relay.commands" --mark "$dir/log2"
  fi
  rc=0
  # again under strace (with the recorder, so an injected fsync failure happens there too)
  _cr_record "$dir/log2" "$dir/data2" strace -f -qq -y -o "$dir/trace" -e trace="$CR_STRACE_CALLS" -- "$@" || rc=$?
  [ "$rc" = "$want" ] || fail "crash $name: the run under strace exited $rc, wanted $want: $(tail -n 3 "$dir/log2.out")"
  if [ -n "$CR_TPM_BOOT" ]; then
    relay_stop
    [ "$(grep '^tpm ' "$dir/log")" = "$(grep '^tpm ' "$dir/log2")" ] ||
      fail "crash $name: the run under strace made other TPM NV writes: $(grep -c '^tpm ' "$dir/log") then $(grep -c '^tpm ' "$dir/log2")"
  fi
  local same
  same=$("${CRASHGEN[@]}" --log "$dir/log" --objects "$(_cr_objects_env)" --compare-strace "$dir/trace") ||
    fail "crash $name: strace saw other write, flush or directory calls than the recorder: $same"

  local n=0 lost=0 i what failed=() disk=0 j pick=""
  coproc CG { "${CRASHGEN[@]}" --log "$dir/log" --data "$dir/data" --base "$dir/base" --objects "$(_cr_objects_env)" \
    --seed "$name" --subsets "$CR_SUBSETS" 2>&1; }
  # plain descriptors (a coprocess's own are not passed to subshells): the checks ask crashgen too
  exec {CR_IN}<&"${CG[0]}" {CR_OUT}>&"${CG[1]}"
  _cr_ask || fail "crash $name: crashgen did not start"
  [[ $REPLY == states* ]] || fail "crash $name: crashgen: $REPLY"
  disk=$(set -- $REPLY; echo "$2")
  echo "# crash $name: $REPLY"
  while _cr_ask && [ "$REPLY" != . ]; do echo "$REPLY"; done
  [ -z "${CRASH_DRY:-}" ] || disk=0
  if [ -n "$CR_TPM_BOOT" ]; then
    local m p all_pairs
    m=$(($(ls "$dir/tpm" | wc -l) - 1))
    _cr_ask pairs
    all_pairs=$REPLY
    # no NV write at all: every state goes with the TPM as it was
    [ -n "$all_pairs" ] || [ "$disk" = 0 ] || all_pairs=$(seq -f '%g:0' 0 $((disk - 1)) | tr '\n' ' ')
    [ -n "${CRASH_DRY:-}" ] || pick=$(_cr_tpm_pick "$name" "$all_pairs")
    for p in $pick; do
      i=${p%%:*} j=${p#*:}
      _cr_ask "apply $i" || fail "crash $name: crashgen stopped at state $i"
      what=${REPLY#ok $i }
      power_cycle "$CR_TPM_BOOT" "$dir/tpm/$j"
      CR_TPM_AT=$j _cr_check_one "state $i TPM $j ($what)" "${what% tpm=*} tpm=$j of $m"
    done
  else
    for ((i = 0; i < disk; i++)); do
      _cr_ask "apply $i" || fail "crash $name: crashgen stopped at state $i"
      [[ $REPLY == "ok $i "* ]] || fail "crash $name: crashgen: $REPLY"
      what=${REPLY#ok $i }
      _cr_check_one "state $i ($what)" "$what"
    done
  fi
  echo quit >&"$CR_OUT"
  exec {CR_IN}<&- {CR_OUT}>&-
  wait "$CG_PID" 2>/dev/null || true
  local result="crash $name: $n crash states, $lost lost ($((SECONDS - started)) s)"
  [ -z "$CR_TPM_BOOT" ] || result="crash $name: $n crash states (of $(wc -w <<<"$all_pairs") pairs of $disk disk states and $((m + 1)) TPM states), $lost lost ($((SECONDS - started)) s)"
  echo "$name $n $lost $((SECONDS - started))" >>"$CR_SUMMARY"
  echo "# $result"
  if [ "$lost" != 0 ]; then
    printf '# lost: %s\n' "${failed[@]:0:20}"
    echo "not ok - $result"
  else
    ok "$result"
  fi
}

# _cr_check_one LABEL WHAT: cr_check WHAT in a subshell; counts the caller's n, lost and failed.
_cr_check_one() {
  local rc
  n=$((n + 1))
  set +e
  (set -e; cr_check "$2") >"$dir/check.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then
    lost=$((lost + 1))
    failed+=("$1: $(grep -m1 '^FAIL: ' "$dir/check.log" | cut -c7- || tail -n1 "$dir/check.log")")
  fi
}

# _cr_tpm_pick NAME PAIRS: the pairs "I:J" (crash state I, TPM state J) to check, of crashgen's PAIRS: all,
# or with CR_TPM_SAMPLE=K every pair of a crash state that fits more than one TPM state (where the crash
# came around an NV write), a sample of K of the others seeded by NAME, and the first pair of every TPM
# state none of those has; in crashgen's order.
_cr_tpm_pick() {
  /usr/bin/python3 -c '
import collections, random, sys
name, k, pairs = sys.argv[1], sys.argv[2], sys.argv[3].split()
pick = set(pairs)
if k and int(k) < len(pairs):
    per_state = collections.Counter(p.split(":")[0] for p in pairs)
    pick = {p for p in pairs if per_state[p.split(":")[0]] > 1}
    rest = [p for p in pairs if p not in pick]
    pick |= set(random.Random(name).sample(rest, min(int(k), len(rest))))
    for j in sorted({p.split(":")[1] for p in pairs} - {p.split(":")[1] for p in pick}):
        pick.add(next(p for p in pairs if p.split(":")[1] == j))
print(" ".join(p for p in pairs if p in pick))' "$1" "$CR_TPM_SAMPLE" "$2"
}

# crash_selftest: the strace cross-check must notice a write that bypasses the recorder (a raw
# syscall(SYS_write)) on a watched image, and accept the same write made through write().
crash_selftest() {
  local img=$T/selftest.img dir=$T/cr-selftest writer
  truncate -s 1M "$img"; mkdir -p "$dir"
  CR_OBJECTS=("SELF=$img")
  # In an ASan build the sanitizer runtime is preloaded into python3 too: its leaks are not volseal's.
  local -x ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
  for writer in os.write raw; do
    local code="import ctypes, os; fd = os.open('$img', os.O_RDWR); b = b'x' * 512"
    if [ "$writer" = raw ]; then code+="; ctypes.CDLL(None, use_errno=True).syscall(1, fd, b, 512)"; else code+="; os.write(fd, b)"; fi
    _cr_record "$dir/log" "$dir/data" /usr/bin/python3 -c "$code; os.fsync(fd)" || fail "selftest: the $writer writer failed"
    _cr_record "$dir/log2" "$dir/data2" strace -f -qq -y -o "$dir/trace" -e trace="$CR_STRACE_CALLS" -- /usr/bin/python3 -c "$code; os.fsync(fd)" ||
      fail "selftest: the $writer writer failed under strace"
    if "${CRASHGEN[@]}" --log "$dir/log" --objects "$(_cr_objects_env)" --compare-strace "$dir/trace" >"$dir/cmp"; then
      [ "$writer" = os.write ] || fail "selftest: a raw syscall write went unnoticed: $(cat "$dir/cmp")"
    else
      [ "$writer" = raw ] || fail "selftest: a write() was not recorded: $(cat "$dir/cmp")"
    fi
  done
  ok "crash selftest: a write() is recorded, a raw syscall(SYS_write) is caught by the strace cross-check"
}

# crash_summary: the total line; fails unless nothing was lost and there were enough states.
crash_summary() {
  local total lost
  total=$(awk '{ n += $2 } END { print n + 0 }' "$CR_SUMMARY")
  lost=$(awk '{ n += $3 } END { print n + 0 }' "$CR_SUMMARY")
  awk '{ printf "# | %s | %d | %d | %d s |\n", $1, $2, $3, $4 }' "$CR_SUMMARY"
  echo "crash-consistency: $total crash states, $lost lost"
  [ "$lost" = 0 ] || fail "crash-consistency: $lost of $total crash states lost"
  [ -n "${CRASH_ONLY:-}${CRASH_DRY:-}" ] || [ "$total" -ge "$CR_MIN_TOTAL" ] || fail "crash-consistency: only $total crash states (at least $CR_MIN_TOTAL expected)"
  ok "crash-consistency: $total crash states, $lost lost"
}

# ---- checks for cr_check ----

# _cr_status CONFIG: `volseal status --json` on the crash state (exit 0 or 2; it writes nothing) as
# "ID=opens|keyless|none ..." (keyless: empty, or a LUKS2 header without any keyslot); the JSON in $T/status.
_cr_status() {
  set +e; "$VOLSEAL" status -c "$1" "${VOLUMES[@]}" "${CR_ARGS[@]}" --json --product-uuid-file "$T/product_uuid" >"$T/status" 2>"$T/err"
  local rc=$?; set -e
  [ "$rc" = 0 ] || [ "$rc" = 2 ] || fail "volseal status -c $1 exited $rc: $(cat "$T/err")"
  _cr_ask verdicts "$T/status"
  echo "$REPLY"
}
# _cr_word WORDS ID: the value of ID=VALUE among WORDS
_cr_word() { local w; for w in $1; do [ "${w%%=*}" = "$2" ] && { echo "${w#*=}"; return; }; done; }

cr_reference_volumes() {
  local v
  for v in "${CR_VOLS[@]}"; do REF[$v]=$(header_facts "$(_cr_volume_image "$v")"); done
}
cr_reference() { cr_reference_volumes; }
_cr_volume_image() {
  local i
  for ((i = 0; i < ${#VOLUMES[@]}; i++)); do
    [ "${VOLUMES[i]}" = --volume ] && [[ ${VOLUMES[i + 1]} == "$1="* ]] && { echo "${VOLUMES[i + 1]#*=}"; return; }
  done
  fail "volume $1 is not in VOLUMES"
}

# cr_converge CONFIG [ARGS...]: the next `volseal unlock --check --json` with CR_ARGS; its exit code in
# $CR_RC, $OUT, and $CR_STATES ("ID=opened ...")
cr_converge() {
  local cfg=$1; shift
  set +e
  "$VOLSEAL" unlock -c "$cfg" "${VOLUMES[@]}" "${CR_ARGS[@]}" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}" "$@" >"$T/out" 2>"$T/unlock.err"
  CR_RC=$?
  set -e
  OUT=$(cat "$T/out")
  _cr_ask states "$T/out"
  CR_STATES=$REPLY
}

# The crash state opened with a key of CR_AFTER when the next unlock (which opens before it writes) says
# "opened"; "formatted" means it held no usable keyslot, allowed for CR_MAY_BE_EMPTY volumes only. When the
# next unlock fails (it then wrote nothing), `volseal status` with either config says why.
cr_check_volumes() {
  local v state facts
  cr_converge "$CR_AFTER"
  if [ "$CR_RC" != 0 ]; then
    local why="" cfg
    for cfg in "$CR_AFTER" $CR_BEFORE; do why+=" status -c ${cfg##*/}: $(_cr_status "$cfg");"; done
    fail "the next unlock exited $CR_RC: $CR_STATES: $(tail -n 3 "$T/unlock.err" | tr '\n' ' ');$why"
  fi
  for v in "${CR_VOLS[@]}"; do
    state=$(_cr_word "$CR_STATES" "$v")
    case $state in
      opened) ;;
      formatted) [[ " $CR_MAY_BE_EMPTY " == *" $v "* ]] || fail "the next unlock formatted $v again: the crash lost every key" ;;
      *) fail "the next unlock did not open $v: $OUT" ;;
    esac
    _cr_ask facts "$(_cr_volume_image "$v")"
    facts=${REPLY% talos=*}
    [ "${REPLY##* talos=}" = ok ] || fail "after the next unlock Talos would reject the header of $v: ${REPLY##* talos=}"
    [ "${facts% digest=*}" = "${REF[$v]% digest=*}" ] || fail "the next unlock did not finish $v: $facts, not ${REF[$v]}; $OUT"
    [ "$state" = formatted ] || [ "${facts#*digest=}" = "${REF[$v]#*digest=}" ] || fail "volume $v has another volume key"
  done
}
