#!/usr/bin/env bash
# Malformed PE files given to `volseal uki`: refused with exit 1 and the offending field named, never a
# crash (truncated headers, sections past EOF, overflowing sizes, not a PE at all).
. "$(dirname "$0")/../lib/common.sh"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
cd "$T"
printf 'HALLO\n' > k; printf 'foobar\n' > i; printf 'x' > c; printf 'ID=x\n' > o
$VOLSEAL uki build --stub "$STUB" --linux k --initrd i --cmdline c --os-release o -o good.efi > /dev/null
size=$(stat -c %s good.efi)
pe=$(od -An -tu4 -j 60 -N4 good.efi | tr -d ' ')
poke() { # FILE OFFSET HEX-BYTES
  printf "$(printf '%s' "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
expect_refused() { # NAME FRAGMENT FILE
  set +e
  $VOLSEAL uki inspect "$3" > /dev/null 2> err.txt
  local rc=$?
  $VOLSEAL uki measure "$3" > /dev/null 2>> err.txt
  local rc2=$?
  set -e
  [ $rc = 1 ] && [ $rc2 = 1 ] || fail "$1: exit $rc/$rc2, expected 1 ($(cat err.txt))"
  contains "$(cat err.txt)" "$2"
  contains "$(cat err.txt)" "$3"
}
head -c 40 good.efi > t1.efi;                      expect_refused "truncated DOS header" "shorter than a DOS header" t1.efi
head -c $((pe + 100)) good.efi > t2.efi;           expect_refused "truncated optional header" "SizeOfOptionalHeader" t2.efi
# end of the last section's raw data (the stub's COFF symbol table follows it)
send=$($VOLSEAL uki inspect good.efi --json | python3 -c 'import json,sys; print(max(s["raw_offset"] + s["raw_size"] for s in json.load(sys.stdin)["sections"]))')
head -c $((send - 100)) good.efi > t3.efi;         expect_refused "truncated section data" "past the end of the file" t3.efi
cp good.efi t4.efi; poke t4.efi $((pe + 6)) ffff;   expect_refused "NumberOfSections" "NumberOfSections 65535" t4.efi
cp good.efi t5.efi; poke t5.efi 60 f0ffff7f;        expect_refused "e_lfanew" "e_lfanew 0x7ffffff0" t5.efi
table=$((pe + 24 + $(od -An -tu2 -j $((pe + 20)) -N2 good.efi | tr -d ' ')))
cp good.efi t6.efi; poke t6.efi $((table + 16)) 00feffff; expect_refused "SizeOfRawData overflow" "section 0 (.text)" t6.efi
cp good.efi t7.efi; poke t7.efi $((table + 8)) ffffffff;  expect_refused "VirtualSize overflow" "exceeds SizeOfImage" t7.efi
head -c 4096 /dev/urandom > t8.efi; printf 'MZ' | dd of=t8.efi conv=notrunc status=none
expect_refused "random bytes" "t8.efi" t8.efi
ok "8 malformed images refused with the field named, exit 1"

# A missing file is exit 4 (environment), a usage error exit 1.
set +e
$VOLSEAL uki measure nonexistent.efi 2>/dev/null; rc=$?
$VOLSEAL uki measure good.efi --bank md5 2>/dev/null; rc2=$?
set -e
[ $rc = 4 ] || fail "missing file: exit $rc"
[ $rc2 = 1 ] || fail "bad bank: exit $rc2"
ok "missing file exit 4, bad --bank exit 1"

usage() { # FRAGMENT ARGS...: exit 1 with FRAGMENT on stderr
  local frag=$1; shift
  set +e; $VOLSEAL "$@" > /dev/null 2> err.txt; local rc=$?; set -e
  [ $rc = 1 ] || fail "'$*': exit $rc, wanted 1"
  contains "$(cat err.txt)" "$frag"
}
usage "missing subcommand" uki
usage "unknown subcommand 'frob'" uki frob
usage "--key KEY.pem is required" uki sign good.efi
usage "are required" uki build --stub "$STUB" -o x.efi
usage "unknown phase profile 'gentoo'" uki measure good.efi --phases gentoo
usage "missing the UKI file" uki inspect
usage "missing subcommand" policy
usage "no steps given" policy digest
usage "expected one JSON file and --key" policy verify-signature
[ ! -e x.efi ] || fail "a refused build wrote its output"
ok "usage errors exit 1 and name the problem; nothing is written"
done_testing
