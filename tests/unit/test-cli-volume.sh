#!/usr/bin/env bash
# test-cli-volume.sh: usage errors of unlock, status and wipe; each refused before anything is touched.
. "$(dirname "$0")/../lib/common.sh"

exec </dev/null # stdin is never a terminal here: wipe must not ask, no command may wait for input
printf 'apiVersion: v1alpha1\nkind: VolumeConfig\nname: EPHEMERAL\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n' >"$T/c.yaml"
truncate -s 20M "$T/e.img"
sum=$(sha256sum <"$T/e.img")

expect 1 "$VOLSEAL" unlock
contains "$ERR" "no config file given (-c FILE)"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume nodevice
contains "$ERR" "--volume wants ID=DEVICE, got 'nodevice'"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume "STATE=$T/e.img" --check
contains "$ERR" "--volume STATE: the config has no volume STATE"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --pbkdf-iterations 4
contains "$ERR" "--pbkdf-iterations needs --pbkdf-memory"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --pbkdf-memory lots
contains "$ERR" "'lots' is not a positive number"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --frob
contains "$ERR" "unknown option --frob"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --state-dir
contains "$ERR" "needs a value"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume "EPHEMERAL=$T/e.img" --meta /dev/null
contains "$ERR" "too small for META"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume "EPHEMERAL=$T/e.img" --cap-phase 'two words'
contains "$ERR" "--cap-phase"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume "EPHEMERAL=$T/e.img" --check --cap-phase enter-initrd
contains "$ERR" "--cap-phase and --check exclude each other"
expect 1 "$VOLSEAL" unlock -c "$T/c.yaml" --volume "EPHEMERAL=$T/e.img" --force
contains "$ERR" "--force is an option of 'volseal tpm reseal'"
expect 1 "$VOLSEAL" tpm reseal -c "$T/c.yaml" --volume "EPHEMERAL=$T/e.img"
contains "$ERR" "confirm with --force"
expect 1 "$VOLSEAL" status -c "$T/c.yaml" --check
contains "$ERR" "option --check is for 'volseal unlock' only"
expect 1 "$VOLSEAL" unlock -c "$T/missing.yaml" --volume "EPHEMERAL=$T/e.img"
[ "$(sha256sum <"$T/e.img")" = "$sum" ] || fail "a usage error touched the image"
ok "unlock/status/tpm reseal usage errors exit 1 (a bad --meta, a --cap-phase word, --cap-phase with --check too), nothing touched"

expect 1 "$VOLSEAL" wipe
contains "$ERR" "missing volume ID"
expect 1 "$VOLSEAL" wipe EPHEMERAL
contains "$ERR" "--volume EPHEMERAL=DEVICE or --label EPHEMERAL"
expect 1 "$VOLSEAL" wipe EPHEMERAL --volume "STATE=$T/e.img"
contains "$ERR" "--volume names STATE, but the volume to wipe is EPHEMERAL"
expect 1 "$VOLSEAL" wipe EPHEMERAL --volume "EPHEMERAL=$T/e.img" --label EPHEMERAL
expect 4 "$VOLSEAL" wipe u-none$$ --label u-none$$
contains "$ERR" "no partition labelled"
ok "wipe usage errors"
done_testing
