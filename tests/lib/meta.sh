# meta.sh: META image helpers for the shell tests, sourced after common.sh; both read and write the bytes
# themselves (docs/meta.md), never through volseal.
#   legacy_adv IMAGE TAG=VALUE...   writes a syslinux ADV (both 512-byte copies, last 1 KiB of IMAGE) holding
#                                   those tags, as an old Talos left it
#   adv_state IMAGE                 "copy1=ok|bad copy2=ok|bad same=yes|no legacy=ok|bad|none" (tests/lib/adv-state)
legacy_adv() {
  python3 - "$@" <<'PY'
import struct, sys
c = bytearray(512)
struct.pack_into('<I', c, 0, 0x5a2d2fa5)
data = b''
for kv in sys.argv[2:]:
    tag, value = kv.split('=', 1)
    data += bytes([int(tag), len(value)]) + value.encode()
c[8:8 + len(data)] = data
struct.pack_into('<I', c, 508, 0xdd28bf64)
s = sum(struct.unpack_from('<I', c, i)[0] for i in range(8, 508, 4))
struct.pack_into('<I', c, 4, (0xa3041767 - s) & 0xffffffff)
with open(sys.argv[1], 'r+b') as f:
    f.seek(-1024, 2); f.write(bytes(c) * 2)
PY
}

adv_state() { python3 "$TOP/tests/lib/adv-state" "$1"; }
