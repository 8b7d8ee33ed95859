#!/usr/bin/env bash
# test-progress.sh: long steps show a progress line on a terminal and nowhere else. `script` (util-linux)
# gives the command a pty: the progress line ("volseal: ... adding keyslot N (argon2id) | 0.0 s", then
# erased with \r ESC[K) is in the typescript; with --json on the same pty, or with stderr in a pipe or
# file, not one byte of it appears.
. "$(dirname "$0")/../lib/common.sh"
cd "$T"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
[ -f "$STUB" ] || fail "$STUB missing (package systemd-boot-efi)"
command -v script >/dev/null || fail "script (util-linux) missing"
echo 4c4c4544-0042-3510-8052-b4c04f4e3232 > uuid
printf 'apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n  keys:\n    - nodeID: {}\n      slot: 0\n    - static:\n        passphrase: pw\n      slot: 1\n' > c.yaml
FAST="--check --pbkdf-memory 32 --pbkdf-iterations 4 --product-uuid-file uuid"
on_tty() { # OUT command...: runs the command on a pty, the whole terminal output in OUT
  local out=$1; shift
  script -qec "$*" /dev/null > "$out" < /dev/null
}

# unlock formats STATE: two argon2id keyslots.
truncate -s 20M a.img b.img c.img
on_tty tty.out "$VOLSEAL unlock -c c.yaml --volume STATE=a.img $FAST" || fail "unlock on a pty failed: $(cat tty.out)"
contains "$(cat tty.out)" "STATE: formatted by slot 0"
grep -q 'volseal: a.img: adding keyslot 0 (argon2id) . [0-9.]* s' tty.out || fail "no progress line for keyslot 0: $(cat -v tty.out)"
grep -q 'volseal: a.img: adding keyslot 1 (argon2id)' tty.out || fail "no progress line for keyslot 1"
grep -q $'\r\e\[K' tty.out || fail "the progress line is not erased"
ok "unlock on a terminal: a progress line per argon2id keyslot, erased after"

$VOLSEAL unlock -c c.yaml --volume STATE=b.img $FAST > pipe.out 2> pipe.err
contains "$(cat pipe.out)" "STATE: formatted by slot 0"
grep -q 'argon2id' pipe.err pipe.out && fail "progress went into a pipe/file: $(cat pipe.err)"
grep -q $'\r' pipe.err pipe.out && fail "carriage returns in piped output"
ok "unlock into a pipe/file: no progress"

on_tty json.out "$VOLSEAL unlock -c c.yaml --volume STATE=c.img $FAST --json" || fail "unlock --json on a pty failed"
contains "$(cat json.out)" '"volume":"STATE"'
grep -q 'adding keyslot' json.out && fail "progress with --json on a terminal: $(cat -v json.out)"
ok "unlock --json on a terminal: no progress"

# Opening an existing volume (status tests each slot): progress for each argon2id test on a tty.
on_tty status.out "$VOLSEAL status -c c.yaml --volume STATE=a.img --product-uuid-file uuid" || fail "status failed: $(cat status.out)"
grep -q 'volseal: a.img: \(testing\|opening\) keyslot [01] (argon2id)' status.out || fail "no progress in status: $(cat -v status.out)"
ok "status on a terminal: progress while argon2id slots are tested"

# uki measure of a 40 MB UKI: the hashing line on a tty, nothing with --json or into a pipe.
head -c 40000000 /dev/zero > vmlinuz; printf x > initrd; printf 'quiet' > cmdline; printf 'ID=t\n' > osrel
$VOLSEAL uki build --stub "$STUB" --linux vmlinuz --initrd initrd --cmdline cmdline --os-release osrel -o uki.efi >/dev/null
on_tty m.out "$VOLSEAL uki measure uki.efi --phase :" || fail "uki measure on a pty failed"
grep -q 'volseal: hashing 38\.[0-9] MiB of UKI sections for PCR 11 (sha256)' m.out || fail "no hashing progress: $(cat -v m.out)"
want=$($VOLSEAL uki measure uki.efi --phase : 2>m.err)
[ -s m.err ] && fail "uki measure wrote to a piped stderr: $(cat m.err)"
grep -q "$want" m.out || fail "the tty run printed another result"
on_tty mj.out "$VOLSEAL uki measure uki.efi --phase : --json" || fail "uki measure --json on a pty failed"
grep -q hashing mj.out && fail "progress with --json on a terminal"
ok "uki measure: a hashing progress line on a terminal only, not with --json or into a pipe"
done_testing
