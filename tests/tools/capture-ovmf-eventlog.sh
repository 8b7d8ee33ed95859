#!/usr/bin/env bash
# capture-ovmf-eventlog.sh OUTDIR: records what real firmware measures, as fixtures for
# tests/integration/test-pcr-ovmf.sh. Debian's OVMF with the snakeoil keys (PK = KEK = db = the snakeoil
# certificate, SecureBoot on) boots Debian's kernel, re-signed with the snakeoil key, with a busybox
# initramfs that prints the TCG event log, PCR 0-7 (sha256, read by the kernel from the TPM) and the
# SecureBoot, PK, KEK, db and dbx variables (efivarfs). swtpm is the TPM. Three boots:
#   boot1   as shipped
#   boot2   appends OUTDIR/dbx-update.auth to dbx from the guest (EFI_VARIABLE_APPEND_WRITE, signed by the
#           snakeoil KEK; one hash already in dbx, one new)
#   boot3   the firmware now measures the updated dbx
# Needs: qemu-system-x86 ovmf swtpm busybox-static cpio sbsigntool efitools openssl (tools/deps.txt [vm])
# and downloads linux-image-6.1.0-*-amd64 with apt-get download. About 1-3 minutes under TCG.
set -euo pipefail
out=${1:?usage: capture-ovmf-eventlog.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/volseal-ovmf.XXXXXX")
swtpm_pid=
cleanup() { [ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
apt-get download "$kpkg" >/dev/null 2>&1
dpkg-deb -x "$kpkg"_*.deb k
kver=${kpkg#linux-image-}
openssl pkey -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out snakeoil.key
cp "k/boot/vmlinuz-$kver" vmlinuz
sbattach --remove vmlinuz >/dev/null
sbsign --key snakeoil.key --cert /usr/share/ovmf/PkKek-1-snakeoil.pem --output vmlinuz.signed vmlinuz >/dev/null
cp /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd vars.fd

mkinitrd() { # [dbx-update.auth]
  rm -rf ird && mkdir -p ird/bin ird/proc ird/sys ird/dev ird/tmp
  cp /bin/busybox ird/bin/
  cp "k/lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" ird/
  # efivarfs marks dbx immutable; busybox has no chattr, so e2fsprogs' chattr comes with its libraries
  local lib
  mkdir -p ird/usr/bin ird/lib64 ird/lib/x86_64-linux-gnu
  cp /usr/bin/chattr ird/usr/bin/
  for lib in $(ldd /usr/bin/chattr | grep -o '/lib[^ ]*'); do cp -L "$lib" "ird$lib"; done
  [ $# -gt 0 ] && cp "$1" ird/dbx-update.auth
  cat > ird/init <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t securityfs securityfs /sys/kernel/security
insmod /efivarfs.ko; mount -t efivarfs efivarfs /sys/firmware/efi/efivars
V=/sys/firmware/efi/efivars
if [ -f /dbx-update.auth ]; then
  # attributes NV|BS|RT|TIME_BASED_AUTHENTICATED_WRITE|APPEND_WRITE, then the authenticated data
  /usr/bin/chattr -i $V/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f || echo "chattr failed"
  { printf '\x67\x00\x00\x00'; cat /dbx-update.auth; } > /tmp/w
  # one write() of attributes + data, as efivarfs requires
  if dd if=/tmp/w of=$V/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f bs=65536 2>/tmp/err; then echo "DBX-APPEND ok"
  else echo "DBX-APPEND failed: $(cat /tmp/err)"; fi
fi
echo "EVLOG-BEGIN"; base64 /sys/kernel/security/tpm0/binary_bios_measurements; echo "EVLOG-END"
for p in 0 1 2 3 4 5 6 7; do echo "PCR $p $(cat /sys/class/tpm/tpm0/pcr-sha256/$p)"; done
for n in SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c PK-8be4df61-93ca-11d2-aa0d-00e098032b8c \
         KEK-8be4df61-93ca-11d2-aa0d-00e098032b8c db-d719b2cb-3d3a-4596-a3bc-dad00e67656f \
         dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f; do
  [ -f $V/$n ] && { echo "VAR-BEGIN $n"; cat $V/$n | base64; echo "VAR-END"; }
done
echo "CAPTURE-END"
poweroff -f
EOF
  chmod +x ird/init
  (cd ird && find . | cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)
}

boot() { # NAME
  mkdir -p tpm
  swtpm socket --tpm2 --tpmstate dir="$work/tpm" --ctrl type=unixio,path="$work/tpm/sock" \
    --flags startup-clear --pid file="$work/tpm/pid" --daemon
  for _ in $(seq 50); do [ -S tpm/sock ] && break; sleep 0.1; done
  swtpm_pid=$(cat tpm/pid)
  timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 1024 -smp 1 -nodefaults -display none \
    -no-reboot -serial file:"$work/$1.serial" -monitor none -machine q35,smm=on \
    -global driver=cfi.pflash01,property=secure,value=on \
    -drive if=pflash,format=raw,unit=0,file=/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd,readonly=on \
    -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
    -chardev socket,id=chrtpm,path="$work/tpm/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-crb,tpmdev=tpm0 -kernel vmlinuz.signed -initrd initrd.gz -append "console=ttyS0 quiet panic=-1"
  kill "$swtpm_pid" 2>/dev/null || true; swtpm_pid=
  tr -d '\r' < "$1.serial" > "$1.txt"
  grep -q CAPTURE-END "$1.txt" || { tail -20 "$1.txt" >&2; echo "capture: $1 did not finish" >&2; exit 1; }
  mkdir -p "$out/$1/efivars"
  sed -n '/^EVLOG-BEGIN/,/^EVLOG-END/p' "$1.txt" | sed '1d;$d' | base64 -d > "$out/$1/eventlog.bin"
  grep '^PCR ' "$1.txt" | awk '{print $2, tolower($3)}' > "$out/$1/pcrs-sha256.txt"
  awk '/^VAR-BEGIN/ {n=$2; next} /^VAR-END/ {n=""; next} n {print > ("vars." n ".b64")}' "$1.txt"
  local f n
  for f in vars.*.b64; do n=${f#vars.}; n=${n%.b64}; base64 -d "$f" > "$out/$1/efivars/$n"; done
  rm -f vars.*.b64
  grep -h '^DBX-APPEND' "$1.txt" >&2 || true
}

mkinitrd
boot boot1
# The update: the hash already in dbx (a duplicate the firmware drops) and a new one, signed by the KEK.
python3 - "$out/boot1/efivars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f" "$work/update.esl" <<'EOF'
import hashlib, struct, sys, uuid
cur = open(sys.argv[1], "rb").read()[4:]
lsize, hsize, ssize = struct.unpack_from("<III", cur, 16)
first = cur[28 + hsize:28 + hsize + ssize]            # owner + hash of the first entry in dbx
owner = uuid.UUID("11111111-2222-3333-4444-555555555555").bytes_le
new = owner + hashlib.sha256(b"volseal dbx test").digest()
sha256 = uuid.UUID("c1c41626-504c-4092-aca9-41f936934328").bytes_le
assert cur[:16] == sha256 and ssize == 48
sigs = first + new
open(sys.argv[2], "wb").write(sha256 + struct.pack("<III", 28 + len(sigs), 0, 48) + sigs)
EOF
sign-efi-sig-list -a -g 11111111-2222-3333-4444-555555555555 -k snakeoil.key \
  -c /usr/share/ovmf/PkKek-1-snakeoil.pem dbx update.esl "$out/dbx-update.auth" >/dev/null
mkinitrd "$out/dbx-update.auth"
boot boot2
[ "${CAPTURE_STOP_AFTER:-}" = boot2 ] && exit 0
mkinitrd
boot boot3
echo "captured into $out"
