# hygiene.sh: the secret hygiene harness, sourced after common.sh (tests/integration/test-secret-hygiene.sh).
#   watched NAME EXIT ARGS...     runs `volseal ARGS` (or $WATCH_CMD ARGS when set) with TSS2_LOG=all+trace and
#                                 core dumps allowed by the shell (ulimit -c unlimited), under
#                                 `strace -f -e trace=execve -s 65536 -v` (argv and environment of every exec),
#                                 while tests/lib/proc-sampler.py copies /proc/P/{cmdline,environ,limits} of
#                                 it and every descendant every 10 ms (the program starts once it samples). Artifacts: $T/art/NAME.{out,err,strace,proc};
#                                 OUT/ERR as run_volseal sets them; fails on another exit code or when the
#                                 sampler never saw the process (the /proc check must have run)
#   scan WHAT PATH... -- SECRET-FILE...   secret-scan.py over PATHs; fails (listing the hits) if one is found
#   scan_must_find WHAT PATH... -- SECRET-FILE...   the negative self-test: fails unless it finds them
#   hygiene_relay_start CAPTURE   a tests/lib/tpm-relay.py in front of $SWTPM_PORT (tests/lib/relay.sh),
#                                 appending both directions to CAPTURE; VOLSEAL_TCTI and TPM2TOOLS_TCTI point
#                                 at it (call again after each swtpm restart)
#   nodump_check PID DIR          the running PID has RLIMIT_CORE 0 and a same-uid tracer without
#                                 CAP_SYS_PTRACE (gcore under capsh --drop=cap_sys_ptrace; the target must
#                                 run under the same drop) cannot dump it: non-zero exit and no core in DIR.
#                                 Returns 0 when both hold; prints why not otherwise
SCAN=(/usr/bin/python3 "$TOP/tests/lib/secret-scan.py")
NOPTRACE=(capsh --drop=cap_sys_ptrace --)
mkdir -p "$T/art"

# find_comm ROOT NAME: the first descendant of ROOT (or ROOT) whose comm is NAME; prints nothing (status 0)
# while there is none yet. Callers poll it under set -e: a non-zero status while ROOT is still execing its
# way to NAME would end the test silently.
find_comm() {
  local p
  for p in $(_descendants "$1"); do
    if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ]; then echo "$p"; return 0; fi
  done
  return 0
}

_descendants() {
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do _descendants "$c"; done
}

watched() {
  local name=$1 want=$2; shift 2
  local a=$T/art/$name cmd=("$VOLSEAL")
  [ -n "${WATCH_CMD:-}" ] && cmd=($WATCH_CMD)
  : > "$a.proc"
  rm -f "$a.ready"
  set +e
  ( ulimit -c unlimited; export TSS2_LOG=all+trace
    # LeakSanitizer cannot run under ptrace (strace); the other suites check leaks
    [ "${VOLSEAL_SANITIZED:-0}" = 1 ] && export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    for _ in $(seq 1 1000); do [ -e "$a.ready" ] && break; sleep 0.01; done
    exec strace -f -qq -e trace=execve -s 65536 -v -o "$a.strace" "${cmd[@]}" "$@" ) > "$a.out" 2> "$a.err" &
  local pid=$!
  /usr/bin/python3 "$TOP/tests/lib/proc-sampler.py" "$pid" "$a.proc" "$a.ready" > "$a.samples" &
  local spid=$!
  wait "$pid"; local rc=$?
  wait "$spid"
  set -e
  OUT=$(cat "$a.out"); ERR=$(cat "$a.err")
  [ "$rc" = "$want" ] || fail "$name: exited $rc, wanted $want; stdout: $OUT; stderr: $ERR"
  local comm=${cmd[0]##*/}
  grep -q "\b${comm:0:15}:" "$a.samples" || fail "$name: the /proc sampler never saw $comm running ($(cat "$a.samples"))"
  grep -q 'TSS2_LOG=all+trace' "$a.strace" || fail "$name: TSS2_LOG=all+trace was not in the environment"
}

_scan_args() { # WHAT PATH... -- SECRET-FILE... -> SCAN command line in _args
  _args=()
  local paths=() s=0
  for x in "$@"; do
    if [ "$x" = -- ]; then s=1; continue; fi
    if [ $s = 1 ]; then _args+=(--secret-file "$x"); else [ -e "$x" ] && paths+=("$x"); fi
  done
  _args+=("${paths[@]}")
}

scan() {
  local what=$1; shift
  _scan_args "$@"
  local hits rc=0
  hits=$("${SCAN[@]}" "${_args[@]}") || rc=$?
  [ $rc = 0 ] || fail "$what: secret found (scan exit $rc): $hits"
}

scan_must_find() {
  local what=$1; shift
  _scan_args "$@"
  local rc=0
  SCAN_HITS=$("${SCAN[@]}" "${_args[@]}") || rc=$?
  [ $rc = 1 ] || fail "negative self-test $what: the planted secret was not found (scan exit $rc)"
}

. "$TOP/tests/lib/relay.sh"
hygiene_relay_start() {
  relay_start "$1" "$T/relay-commands.txt"
  export TPM2TOOLS_TCTI=$RELAY_TCTI
}

nodump_check() {
  local pid=$1 dir=$2
  mkdir -p "$dir"
  local lim
  lim=$(awk '/^Max core file size/ {print $5 " " $6}' /proc/"$pid"/limits)
  [ "$lim" = "0 0" ] || { echo "RLIMIT_CORE of $pid is '$lim', not '0 0'"; return 1; }
  if "${NOPTRACE[@]}" -c "gcore -o '$dir/core' $pid" > "$dir/gcore.log" 2>&1; then
    echo "gcore dumped $pid: $(ls -l "$dir")"; return 1
  fi
  if compgen -G "$dir/core*" > /dev/null; then
    local f
    for f in "$dir"/core*; do [ -s "$f" ] && { echo "gcore left a core: $f"; return 1; }; done
  fi
  return 0
}
