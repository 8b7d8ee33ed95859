# relay.sh: sourced by TPM tests after common.sh (under with-swtpm): a capturing, counting relay
# (tests/lib/tpm-relay.py) in front of the swtpm.
#   relay_start CAPTURE COMMANDS [INJECT]   starts one in front of $SWTPM_PORT (stopping the previous one:
#                                           call it again after each swtpm restart, whose port changes) and
#                                           points VOLSEAL_TCTI at it; tpm2-tools keep talking to the swtpm
#                                           directly, so their commands stay out of COMMANDS
#                                           (options of tpm-relay.py, e.g. --mark LOG, may come anywhere)
#   relay_stop                              stops it; VOLSEAL_TCTI is the swtpm's again
#   RELAY_TCTI                              the relay's TCTI string
relay_pid=
relay_start() {
  [ -n "$relay_pid" ] && { kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; }
  rm -f "$T/relay.port"
  /usr/bin/python3 "$TOP/tests/lib/tpm-relay.py" "$SWTPM_PORT" "$@" > "$T/relay.port" &
  relay_pid=$!
  add_cleanup "kill $relay_pid 2>/dev/null || true"
  for _ in $(seq 1 250); do [ -s "$T/relay.port" ] && break; sleep 0.02; done
  [ -s "$T/relay.port" ] || fail "relay did not start"
  RELAY_TCTI="swtpm:host=127.0.0.1,port=$(cat "$T/relay.port")"
  export VOLSEAL_TCTI=$RELAY_TCTI
}
relay_stop() {
  [ -n "$relay_pid" ] && { kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; }
  relay_pid=
  export VOLSEAL_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
}
