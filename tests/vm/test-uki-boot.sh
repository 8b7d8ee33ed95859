#!/usr/bin/env bash
# VM suite (QEMU + OVMF, not part of `./run test`'s default suites): a UKI assembled by `volseal uki build`
# from Debian's systemd-stub 252 and Debian's kernel boots under OVMF with a swtpm, and the PCR 11 the
# guest reads equals `volseal uki measure --phase :` (the stub measured exactly what volseal predicted;
# no phase is extended because no systemd runs in this initrd). Downloads linux-image-*-amd64 once into
# $VOLSEAL_VM_CACHE (default build/vm-cache).
. "$(dirname "$0")/../lib/common.sh"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
CACHE=${VOLSEAL_VM_CACHE:-$TOP/build/vm-cache}
for p in qemu-system-x86_64 swtpm busybox mkfs.vfat mcopy cpio; do
  command -v "$p" >/dev/null || fail "$p missing (tools/deps.txt [vm] group)"
done
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || fail "OVMF missing (package ovmf)"
mkdir -p "$CACHE"
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || fail "cannot resolve linux-image-amd64"
vmlinuz=$CACHE/${kpkg#linux-image-}.vmlinuz
if [ ! -s "$vmlinuz" ]; then
  (cd "$T" && apt-get download "$kpkg" >/dev/null 2>&1) || fail "apt-get download $kpkg failed"
  dpkg-deb --fsys-tarfile "$T"/"$kpkg"_*.deb | tar -x -C "$T" --wildcards './boot/vmlinuz-*'
  mv "$T"/boot/vmlinuz-* "$vmlinuz"
fi
cd "$T"
mkdir -p root/bin root/proc root/sys
cp "$(command -v busybox)" root/bin/
for t in sh mount cat sleep poweroff; do ln -s busybox "root/bin/$t"; done
cat > root/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
i=0
while [ ! -e /sys/class/tpm/tpm0/pcr-sha256/11 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
echo "E2E-PCR11: $(cat /sys/class/tpm/tpm0/pcr-sha256/11)"
poweroff -f
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip) > initrd.img
printf 'console=ttyS0 panic=-1 quiet' > cmdline
printf 'ID=volseal-e2e\n' > os-release
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pcr.key 2>/dev/null
$VOLSEAL uki build --stub "$STUB" --linux "$vmlinuz" --initrd initrd.img --cmdline cmdline --os-release os-release \
  --pcr-sign-key pcr.key -o uki.efi > /dev/null
want=$($VOLSEAL uki measure uki.efi --phase : | awk '{print $1}')
want=${want#11:sha256=}

truncate -s 64M esp.img
mkfs.vfat -F 32 esp.img > /dev/null
mmd -i esp.img ::/EFI ::/EFI/BOOT
mcopy -i esp.img uki.efi ::/EFI/BOOT/BOOTX64.EFI
cp /usr/share/OVMF/OVMF_VARS_4M.fd vars.fd
mkdir tpm
swtpm socket --tpm2 --tpmstate dir=tpm --ctrl type=unixio,path=tpm/sock --flags startup-clear --terminate &
swtpm_pid=$!
add_cleanup "kill $swtpm_pid 2>/dev/null"
for _ in $(seq 50); do [ -S tpm/sock ] && break; sleep 0.1; done
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 512 -smp 1 -nodefaults -display none \
  -no-reboot -serial file:boot.log -monitor none -machine q35 \
  -drive if=pflash,format=raw,unit=0,file=/usr/share/OVMF/OVMF_CODE_4M.fd,readonly=on \
  -drive if=pflash,format=raw,unit=1,file=vars.fd \
  -chardev socket,id=chrtpm,path=tpm/sock -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0 \
  -drive if=none,id=esp,file=esp.img,format=raw -device virtio-blk-pci,drive=esp,bootindex=1 \
  || fail "qemu failed (boot.log: $(tail -c 2000 boot.log))"
got=$(grep -a 'E2E-PCR11:' boot.log | awk '{print tolower($2)}' | tr -d '\r')
[ -n "$got" ] || fail "the guest did not report PCR 11 (boot.log: $(tail -c 2000 boot.log))"
[ "$got" = "$want" ] || fail "guest PCR 11 $got, volseal predicted $want"
ok "the volseal-built UKI boots under OVMF and PCR 11 = volseal's prediction ($got)"
done_testing
