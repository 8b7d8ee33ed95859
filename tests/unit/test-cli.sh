#!/usr/bin/env bash
# test-cli.sh: usage errors, --help on every level, --version, exit codes, config validate/show.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/volumes.sh"

expect 1 "$VOLSEAL"
contains "$ERR" "Commands:"
expect 0 "$VOLSEAL" --help
contains "$OUT" "Exit codes:"
expect 0 "$VOLSEAL" --version
contains "$OUT" "volseal "
expect 1 "$VOLSEAL" frobnicate
contains "$ERR" "unknown command 'frobnicate'"
expect 1 "$VOLSEAL" --bogus
contains "$ERR" "unknown option --bogus"

for cmd in unlock status config wipe meta uki pcr policy tpm attest token; do
  expect 0 "$VOLSEAL" "$cmd" --help
  contains "$OUT" "Usage: volseal $cmd"
done
ok "--help on every command"
# a subcommand with options of its own answers --help with its own text, not its group's
expect 0 "$VOLSEAL" tpm prepare --help
contains "$OUT" "Usage: volseal tpm prepare"
contains "$OUT" "--dbx FILE"
ok "tpm prepare --help is prepare's own"

expect 1 "$VOLSEAL" config
contains "$ERR" "missing subcommand"
expect 1 "$VOLSEAL" config frob -c x
contains "$ERR" "unknown subcommand 'frob'"
expect 1 "$VOLSEAL" config validate
contains "$ERR" "no config file given"
expect 1 "$VOLSEAL" config validate -c "$T/missing.yaml"
contains "$ERR" "cannot open config"
expect 1 "$VOLSEAL" config validate --nope -c x
contains "$ERR" "Try 'volseal config --help'"

volumes_config "$T/good.yaml" "STATE 0:nodeID" "EPHEMERAL 0:static:supersecret:lockToSTATE"
expect 0 "$VOLSEAL" config validate -c "$T/good.yaml"
contains "$OUT" "valid: 2 volumes (STATE, EPHEMERAL)"
expect 0 "$VOLSEAL" config show -c "$T/good.yaml" --json
contains "$OUT" '"lockToState":true'
contains "$OUT" '<redacted>'
not_contains "$OUT" supersecret
expect 0 "$VOLSEAL" config validate -c - < "$T/good.yaml"
ok "config validate/show"

printf 'apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - slot: 99\n      nodeID: {}\n' >"$T/bad.yaml"
expect 1 "$VOLSEAL" config validate -c "$T/bad.yaml"
contains "$ERR" "$T/bad.yaml:7:13: document VolumeConfig STATE: field encryption.keys[0].slot"
ok "config errors name file:line:col"

# The CLI itself is memcheck clean on a good and a bad config (under ASan, ASan is the checker).
[ "${VOLSEAL_SANITIZED:-0}" = 1 ] || for f in good bad; do
  set +e; valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$VOLSEAL" config show -c "$T/$f.yaml" >/dev/null 2>"$T/vg"; rc=$?; set -e
  [ $rc != 99 ] || fail "valgrind reports errors for config show of $f.yaml: $(cat "$T/vg")"
done
ok "config show is valgrind clean"

done_testing
