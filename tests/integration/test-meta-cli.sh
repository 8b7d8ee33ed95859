#!/usr/bin/env bash
# test-meta-cli.sh: `volseal meta` on 1 MiB image files. Every refused write leaves the image byte-for-byte
# unchanged; what volseal writes is checked by an independent Python reader of the Talos ADV format.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/meta.sh"

sum() { sha256sum "$1" | cut -d' ' -f1; }
M=$T/meta.img
truncate -s 1M "$M"

# An independent reader: checks both copies (magics, SHA-256 with the field zeroed) and prints tag=len.
adv_check() {
  python3 - "$1" <<'PY'
import hashlib, struct, sys
img = open(sys.argv[1], 'rb').read()
L = 256 * 1024
out = []
for n in (0, 1):
    c = bytearray(img[n * L:(n + 1) * L])
    assert struct.unpack('>I', c[:4])[0] == 0x5a4b3c2d, 'copy %d head magic' % (n + 1)
    assert struct.unpack('>I', c[-4:])[0] == 0xa5b4c3d2, 'copy %d tail magic' % (n + 1)
    want = bytes(c[-36:-4]); c[-36:-4] = bytes(32)
    assert hashlib.sha256(c).digest() == want, 'copy %d checksum' % (n + 1)
    off, tags = 4, []
    while L - 36 - off >= 8:
        tag, size = struct.unpack('>II', c[off:off + 8])
        if tag == 0: break
        tags.append('%d=%d' % (tag, size)); off += 8 + size
    out.append(' '.join(tags))
assert out[0] == out[1], 'copies differ'
print(out[0])
PY
}

expect 0 "$VOLSEAL" meta list --meta "$M"
contains "$OUT" "TAG"
expect 0 "$VOLSEAL" meta list --meta "$M" --json
contains "$OUT" '"state":"blank"'
contains "$OUT" '"tags":[]'
ok "a never-written META is empty"

expect 0 "$VOLSEAL" meta set UUIDOverride 4c4c4544-0042-3510-8052-b4c04f4e4d31 --meta "$M"
[ "$(adv_check "$M")" = "15=36" ] || fail "independent reader: $(adv_check "$M")"
expect 0 "$VOLSEAL" meta get 15 --meta "$M"
[ "$OUT" = "4c4c4544-0042-3510-8052-b4c04f4e4d31" ] || fail "get 15: '$OUT'"
expect 0 "$VOLSEAL" meta list --meta "$M" --json
contains "$OUT" '"state":"copy1"'
contains "$OUT" '{"tag":15,"name":"UUIDOverride","size":36,"source":"talos"}'
ok "set/get by name and number; both copies valid for an independent reader"

cat >"$T/t9.json" <<'J'
{"EncryptionProvider":"luks2","EncryptionKeys":[{"KeySlot":0,"KeyStatic":{"KeyData":"hunter2"},"KeyNodeID":null,"KeyKMS":null,"KeyTPM":null,"KeyLockToSTATE":null}],"EncryptionCipher":"aes-xts-plain64","EncryptionKeySize":512,"EncryptionBlockSize":0,"EncryptionPerfOptions":null}
J
expect 0 "$VOLSEAL" meta set StateEncryptionConfig --file "$T/t9.json" --meta "$M"
contains "$ERR" "tag 9 holds a static passphrase"
expect 0 "$VOLSEAL" meta get 9 --meta "$M" -o "$T/back.json"
cmp "$T/t9.json" "$T/back.json" || fail "tag 9 did not round-trip byte for byte"
[ "$(adv_check "$M")" = "9=$(stat -c %s "$T/t9.json") 15=36" ] || fail "independent reader: $(adv_check "$M")"
ok "tag 9 from --file, read back exactly"

before=$(sum "$M")
printf '{"EncryptionKeys":[{"KeySlot":"zero","KeyNodeID":{}}]}' >"$T/bad.json"
expect 1 "$VOLSEAL" meta set 9 --file "$T/bad.json" --meta "$M"
contains "$ERR" "field EncryptionKeys[0].KeySlot: cannot decode string zero into an integer"
contains "$ERR" "not written"
[ "$(sum "$M")" = "$before" ] || fail "a refused tag 9 changed the image"
head -c 300000 /dev/zero | tr '\0' a >"$T/huge"
expect 1 "$VOLSEAL" meta set 12 --file "$T/huge" --meta "$M"
contains "$ERR" "larger than META can hold"
head -c 262050 /dev/zero | tr '\0' a >"$T/big" # fits an empty META, not this one (tags 9 and 15 are set)
expect 1 "$VOLSEAL" meta set 12 --file "$T/big" --meta "$M"
contains "$ERR" "tag 12: a value of 262050 bytes does not fit META"
[ "$(sum "$M")" = "$before" ] || fail "an oversized value changed the image"
expect 1 "$VOLSEAL" meta set 0 x --meta "$M"
contains "$ERR" "'0' is not a tag"
expect 1 "$VOLSEAL" meta set Bogus x --meta "$M"
expect 1 "$VOLSEAL" meta set 12 x --file "$T/big" --meta "$M"
[ "$(sum "$M")" = "$before" ] || fail "a usage error changed the image"
expect 0 "$VOLSEAL" meta delete 13 --meta "$M"
contains "$ERR" "is not set; nothing written"
[ "$(sum "$M")" = "$before" ] || fail "deleting an absent tag wrote"
expect 1 "$VOLSEAL" meta get 13 --meta "$M"
contains "$ERR" "tag 13 (UserReserved2) is not set"
ok "bad tag 9 JSON, oversized values, bad tags: refused with the image unchanged"

# Copy 1 torn: reads fall back to copy 2 and say so; the next write repairs copy 1.
printf 'garbage' | dd of="$M" bs=1 seek=100 conv=notrunc status=none
expect 0 "$VOLSEAL" meta get 15 --meta "$M"
contains "$ERR" "META copy 1 is invalid (SHA-256 checksum mismatch); using copy 2"
[ "$OUT" = "4c4c4544-0042-3510-8052-b4c04f4e4d31" ] || fail "copy 2 value: '$OUT'"
expect 0 "$VOLSEAL" meta set 12 hello --meta "$M"
adv_check "$M" >/dev/null || fail "copy 1 not repaired"
expect 0 "$VOLSEAL" meta list --meta "$M"
not_contains "$ERR" "invalid"
ok "copy 1 corrupt: copy 2 is used and the next write repairs copy 1"

# Both copies corrupt: reported, never rewritten without --force.
printf 'garbage' | dd of="$M" bs=1 seek=100 conv=notrunc status=none
printf 'garbage' | dd of="$M" bs=1 seek=$((256 * 1024 + 100)) conv=notrunc status=none
before=$(sum "$M")
expect 1 "$VOLSEAL" meta list --meta "$M"
contains "$ERR" "both META copies are invalid"
expect 1 "$VOLSEAL" meta set 12 x --meta "$M"
contains "$ERR" "refusing to write (use --force to replace it)"
expect 1 "$VOLSEAL" meta delete 12 --meta "$M"
[ "$(sum "$M")" = "$before" ] || fail "an invalid META was rewritten without --force"
expect 0 "$VOLSEAL" meta set 12 x --meta "$M" --force
[ "$(adv_check "$M")" = "12=1" ] || fail "after --force: $(adv_check "$M")"
ok "both copies invalid: reported, refused, replaced only with --force"

expect 0 "$VOLSEAL" meta delete UserReserved1 --meta "$M"
[ "$(adv_check "$M")" = "" ] || fail "after delete: $(adv_check "$M")"
ok "delete"

# A META written by an old Talos: only the syslinux ADV (last 1 KiB) holds tags.
L=$T/legacy.img
truncate -s 1M "$L"
legacy_adv "$L" 15=uuid 6=yes
expect 0 "$VOLSEAL" meta list --meta "$L" --json
contains "$OUT" '"legacy":true'
contains "$OUT" '{"tag":6,"name":"Upgrade","size":3,"source":"legacy"}'
contains "$OUT" '{"tag":15,"name":"UUIDOverride","size":4,"source":"legacy"}'
expect 0 "$VOLSEAL" meta get 15 --meta "$L"
[ "$OUT" = "uuid" ] || fail "legacy get: '$OUT'"
tail -c 1024 "$L" >"$T/legacy.before"
expect 0 "$VOLSEAL" meta set 9 null --meta "$L"
tail -c 1024 "$L" | cmp - "$T/legacy.before" || fail "a Talos ADV write changed the legacy block"
expect 0 "$VOLSEAL" meta delete 6 --meta "$L"
expect 0 "$VOLSEAL" meta list --meta "$L" --json
not_contains "$OUT" '"tag":6'
contains "$OUT" '"source":"legacy"'
ok "legacy syslinux ADV: read, kept on writes, deletes rebuild it"

expect 4 "$VOLSEAL" meta list --meta "$T/missing.img"
contains "$ERR" "cannot open META"
expect 1 "$VOLSEAL" meta list
contains "$ERR" "no META device given"
truncate -s 100K "$T/small.img"
expect 1 "$VOLSEAL" meta list --meta "$T/small.img"
contains "$ERR" "too small for META"
ok "environment and usage errors"

# A write that fails once writing began is no usage error: exit 4, and the message says what each copy holds.
# strace fails the Nth pwrite with EIO (LeakSanitizer cannot run under ptrace; the other tests check leaks).
failing_pwrite() { # N command...
  local n=$1; shift
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:error=EIO:when="$n" "$@"
}
expect 0 "$VOLSEAL" meta set 12 old --meta "$M"
expect 4 failing_pwrite 2 "$VOLSEAL" meta set 12 new --meta "$M"
contains "$ERR" "writing META copy 2 failed"
contains "$ERR" "copy 1 holds the new values"
expect 0 "$VOLSEAL" meta get 12 --meta "$M"
[ "$OUT" = "new" ] || fail "after a failed copy 2 write, copy 1 should hold the new value: '$OUT'"
expect 0 "$VOLSEAL" meta set 12 again --meta "$M"
adv_check "$M" >/dev/null || fail "the next write did not repair copy 2"
expect 4 failing_pwrite 1 "$VOLSEAL" meta set 12 lost --meta "$M"
contains "$ERR" "copy 2 still holds the old values"
expect 0 "$VOLSEAL" meta get 12 --meta "$M"
[ "$OUT" = "again" ] || fail "after a failed copy 1 write, copy 2 should hold the old value: '$OUT'"
ok "a write that fails half-way exits 4 and says which copy holds the new values"
done_testing
