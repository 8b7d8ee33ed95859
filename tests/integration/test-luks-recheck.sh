#!/usr/bin/env bash
# The write-time re-check (docs/security.md, "LUKS2 header validation"): before any keyslot write, vs_luks_load_for_write() compares the
# device's JSON area in use and keyslot areas with the validated copy in volseal's memfd. A header changed
# between validation and write stops the write ("the LUKS2 header changed after it was validated"); an
# unchanged one, or one whose other (damaged) copy libcryptsetup repaired on load, does not.
# Driven through tests/integration/luks-recheck (validate, run a command, re-check).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/luks.sh"
: "${LUKS_RECHECK:?}"

fresh() { # a LUKS2 image with keyslots 0 and 1 (PBKDF2: fast)
  local f
  f=$(img recheck)
  printf 'pass-zero' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot 0 "$f" - >/dev/null
  printf 'pass-one' >"$T/p1"
  printf 'pass-zero' | cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot 1 "$f" "$T/p1" --key-file - >/dev/null
  echo "$f"
}
hdr_size() { python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); f.seek(8); print(struct.unpack(">Q", f.read(8))[0])' "$1"; }
area_offset() { cryptsetup luksDump --dump-json-metadata "$1" | jq -r ".keyslots[\"$2\"].area.offset"; }
poke() { printf '\x5a' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; } # IMG OFFSET
recheck() { # WANT IMG [CMD...]
  local want=$1 got
  shift
  got=$("$LUKS_RECHECK" "$@" 2>"$T/recheck.err") || true
  [ "$got" = "$want" ] || fail "recheck $*: '$got', wanted '$want': $(cat "$T/recheck.err")"
}

IMG=$(fresh)
HS=$(hdr_size "$IMG")
recheck same "$IMG"
ok "an unchanged header passes the write-time check"

recheck changed "$IMG" cryptsetup luksKillSlot -q "$IMG" 1
contains "$(cat "$T/recheck.err")" "the LUKS2 header changed after it was validated"
ok "a keyslot removed after validation (JSON area changed) stops the write"

IMG=$(fresh)
recheck changed "$IMG" dd if=/dev/urandom of="$IMG" bs=1 count=16 seek=$(($(area_offset "$IMG" 0) + 4096)) conv=notrunc status=none
ok "keyslot area bytes changed after validation stop the write"

IMG=$(fresh)
recheck changed "$IMG" python3 "$TOP/tests/lib/luks2-tamper" "$IMG" cipher-null
ok "a header made cipher_null after validation stops the write"

IMG=$(fresh)
last=$(cryptsetup luksDump --dump-json-metadata "$IMG" | jq -r '[.keyslots[].area | (.offset|tonumber) + (.size|tonumber)] | max')
recheck same "$IMG" dd if=/dev/urandom of="$IMG" bs=1 count=16 seek="$last" conv=notrunc status=none
ok "bytes outside the JSON area in use and the keyslot areas are not compared"

# a damaged copy: libcryptsetup repairs it inside the memfd on load (and on the device on the write load);
# the compared regions are the copy in use, so this is not a change
IMG=$(fresh)
poke "$IMG" $((2 * HS - 1))
recheck same "$IMG"
IMG=$(fresh)
poke "$IMG" $((HS - 1))
recheck same "$IMG"
ok "a damaged secondary or primary copy, repaired by libcryptsetup on load, passes the check"

IMG=$(fresh)
poke "$IMG" $((HS - 1))
recheck changed "$IMG" cryptsetup luksKillSlot -q "$IMG" 1
IMG=$(fresh)
poke "$IMG" $((2 * HS - 1))
recheck changed "$IMG" dd if=/dev/urandom of="$IMG" bs=1 count=16 seek=$(($(area_offset "$IMG" 1) + 100)) conv=notrunc status=none
ok "with a damaged copy, a change after validation still stops the write"
done_testing
