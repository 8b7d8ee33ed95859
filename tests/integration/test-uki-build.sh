#!/usr/bin/env bash
# uki build/measure/sign against the real tools: a UKI assembled by `volseal uki build` from Debian's
# systemd-stub is accepted by objdump and sbverify (and sbsign), `systemd-measure calculate` predicts the
# same PCR 11 in every bank and phase, the embedded .pcrsig is byte-identical to what `systemd-measure sign`
# makes on swtpm, and the signatures verify with `openssl dgst -sha256 -verify`.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
MEASURE=/usr/lib/systemd/systemd-measure
[ -f "$STUB" ] || fail "$STUB missing (package systemd-boot-efi)"
[ -x "$MEASURE" ] || fail "$MEASURE missing (package systemd)"
cd "$T"
head -c 300000 /dev/urandom > vmlinuz
head -c 100001 /dev/urandom > initrd
printf 'console=ttyS0 quiet' > cmdline
printf 'ID=volseal-test\nVERSION_ID=1\n' > os-release
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pcr.key 2>/dev/null
openssl pkey -in pcr.key -pubout -out pcr.pub

$VOLSEAL uki build --stub "$STUB" --linux vmlinuz --initrd initrd --cmdline cmdline --os-release os-release \
  --pcr-key pcr.pub --pcr-sign-key pcr.key -o uki.efi > build.out
contains "$(cat build.out)" "signed: 11:sha256="
objdump -h uki.efi > objdump.txt
for s in .text .sdmagic .osrel .cmdline .pcrpkey .initrd .linux .pcrsig; do
  grep -q " $s " objdump.txt || fail "objdump -h does not list $s"
done
sbverify --list uki.efi >/dev/null 2>&1 || fail "sbverify --list rejects the UKI"
ok "objdump -h lists the 8 sections, sbverify --list accepts the image"

# Section contents are exact (VirtualSize = payload length).
for pair in .linux:vmlinuz .initrd:initrd .cmdline:cmdline .osrel:os-release .pcrpkey:pcr.pub; do
  objcopy -O binary --only-section="${pair%%:*}" uki.efi sec.bin
  head -c "$(stat -c %s "${pair#*:}")" sec.bin | cmp -s - "${pair#*:}" || fail "${pair%%:*} differs from ${pair#*:}"
done
$VOLSEAL uki inspect uki.efi --json > inspect.json
python3 - <<'PY' || fail "inspect JSON"
import json, os
j = json.load(open("inspect.json"))
assert j["stub_major"] == 252 and j["stub_version"].startswith("252."), j["stub_version"]
s = {x["name"]: x for x in j["sections"]}
assert s[".linux"]["virtual_size"] == os.path.getsize("vmlinuz")
assert s[".linux"]["measured"] and s[".pcrpkey"]["measured"] and not s[".pcrsig"]["measured"]
assert s[".linux"]["raw_size"] % 512 == 0 and s[".linux"]["virtual_address"] % 4096 == 0
assert not j["authenticode_signed"]
PY
ok "sections hold the exact payloads; inspect reports stub 252 and what is measured"

sm_args=(--linux=vmlinuz --initrd=initrd --cmdline=cmdline --osrel=os-release --pcrpkey=pcr.pub)
for bank in sha1 sha256 sha384 sha512; do
  for phase in "" enter-initrd enter-initrd:leave-initrd enter-initrd:leave-initrd:sysinit:ready foo; do
    want=$("$MEASURE" calculate "${sm_args[@]}" --bank="$bank" --phase="$phase" 2>/dev/null)
    got=$($VOLSEAL uki measure uki.efi --bank "$bank" --phase "${phase:-:}" | cut -d' ' -f1)
    [ "$got" = "$want" ] || fail "PCR 11 $bank phase '$phase': volseal $got, systemd-measure $want"
  done
done
ok "uki measure equals systemd-measure calculate: 4 banks x 5 phase paths"

# The embedded .pcrsig equals systemd-measure sign's (252 needs a TPM for that: swtpm).
objcopy -O binary --only-section=.pcrsig uki.efi pcrsig.json
"$MEASURE" sign "${sm_args[@]}" --bank=sha256 --phase=enter-initrd --private-key=pcr.key --public-key=pcr.pub \
  --tpm2-device="$VOLSEAL_TCTI" --json=short > sm.json
cmp -s <(tr -d '\n' < sm.json) pcrsig.json || fail ".pcrsig differs from systemd-measure sign: $(cat pcrsig.json) vs $(cat sm.json)"
ok ".pcrsig is byte-identical to systemd-measure sign (sha256, enter-initrd)"

# uki sign: default one path; more when asked; signatures verify with openssl.
$VOLSEAL uki sign uki.efi --key pcr.key -o one.json > sign.out
[ "$(grep -c '^signed:' sign.out)" = 1 ] || fail "default sign should sign exactly one path"
contains "$(cat sign.out)" " enter-initrd"
$VOLSEAL uki sign uki.efi --key pcr.key --phases talos -o talos.json > sign.out
contains "$(cat sign.out)" " enter-initrd:leave-initrd:enter-machined"
$VOLSEAL uki sign uki.efi --key pcr.key --phase enter-initrd --phase : --bank sha1 --bank sha256 -o many.json > sign.out
[ "$(grep -c '^signed:' sign.out)" = 4 ] || fail "2 banks x 2 paths should be 4 signatures"
python3 - <<'PY' || fail "splitting many.json"
import json, base64
j = json.load(open("many.json"))
assert len(j["sha1"]) == 2 and len(j["sha256"]) == 2
for i, e in enumerate(j["sha1"] + j["sha256"]):
    open(f"pol{i}.bin", "wb").write(bytes.fromhex(e["pol"]))
    open(f"sig{i}.bin", "wb").write(base64.b64decode(e["sig"]))
PY
for i in 0 1 2 3; do
  openssl dgst -sha256 -verify pcr.pub -signature "sig$i.bin" "pol$i.bin" >/dev/null || fail "openssl rejects signature $i"
done
printf 'x' >> pol0.bin
! openssl dgst -sha256 -verify pcr.pub -signature sig0.bin pol0.bin >/dev/null 2>&1 || fail "openssl accepted a changed pol"
$VOLSEAL policy verify-signature many.json --key pcr.pub --bank sha1 --bank sha256 >/dev/null || fail "verify-signature"
ok "uki sign: one path by default, talos profile, 2 banks x 2 paths; openssl verifies every signature"

# --append merges: other entries stay, the same entry is not duplicated.
cp one.json merged.json
$VOLSEAL uki sign uki.efi --key pcr.key --phase : --append merged.json > /dev/null
$VOLSEAL uki sign uki.efi --key pcr.key --phase : --append merged.json > /dev/null
python3 -c 'import json; j=json.load(open("merged.json")); assert len(j["sha256"]) == 2, j' || fail "--append"
ok "--append adds entries once"

# sbsign last: the Authenticode signature does not change PCR 11; sign warns on a signed image.
openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=db/" -keyout db.key -out db.crt 2>/dev/null
sbsign --key db.key --cert db.crt --output signed.efi uki.efi 2>/dev/null
sbverify --cert db.crt signed.efi >/dev/null 2>&1 || fail "sbverify rejects the sbsigned UKI"
[ "$($VOLSEAL uki measure signed.efi)" = "$($VOLSEAL uki measure uki.efi)" ] || fail "sbsign changed the prediction"
$VOLSEAL uki sign signed.efi --key pcr.key -o s.json 2> warn.txt > /dev/null
contains "$(cat warn.txt)" "carries an Authenticode signature"
set +e
$VOLSEAL uki build --stub signed.efi --linux vmlinuz --initrd initrd --cmdline cmdline --os-release os-release -o x.efi 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || fail "building on a signed stub: exit $rc"
contains "$(cat err.txt)" "certificate table"
ok "sbsign + sbverify accept the UKI, PCR 11 is unchanged, signed stubs are refused"

# All optional sections: 8 new section headers do not fit Debian's stub (room for 7): headers grow.
printf 'BM-not-really-a-bitmap' > splash.bmp
printf '\xd0\x0d\xfe\xed-dtb' > board.dtb
$VOLSEAL uki build --stub "$STUB" --linux vmlinuz --initrd initrd --cmdline cmdline --os-release os-release \
  --splash splash.bmp --dtb board.dtb --pcr-sign-key pcr.key -o big.efi > /dev/null
grep -q ' .pcrsig ' <<< "$(objdump -h big.efi)" || fail "objdump -h on the grown image"
sbverify --list big.efi >/dev/null 2>&1 || fail "sbverify --list rejects the grown image"
python3 - <<'PY' || fail "SizeOfHeaders did not grow"
import struct
d = open("big.efi", "rb").read()
pe = struct.unpack_from("<I", d, 0x3c)[0]
assert struct.unpack_from("<H", d, pe + 6)[0] == 16
assert struct.unpack_from("<I", d, pe + 24 + 60)[0] > 0x400
assert struct.unpack_from("<I", d, pe + 24 + 64)[0] == 0      # CheckSum
PY
want=$("$MEASURE" calculate "${sm_args[@]}" --splash=splash.bmp --dtb=board.dtb --bank=sha256 --phase=enter-initrd 2>/dev/null)
got=$($VOLSEAL uki measure big.efi --phase enter-initrd | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "grown image: volseal $got, systemd-measure $want"
ok "16 sections: SizeOfHeaders grows, tools accept it, PCR 11 still equals systemd-measure"
done_testing
