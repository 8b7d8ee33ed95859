#!/usr/bin/env bash
# VM suite (`meson test -C build debian-boot`): a real Debian 12 boot with / on a volseal volume, opened by
# the initrds Debian users build: (a) initramfs-tools' mkinitramfs with volseal's hook and local-top
# script, (b) dracut with systemd in the initrd and volseal's dracut module (volseal-unlock.service,
# volseal-cap.service). Both are packed with Debian's kernel into a UKI by `volseal uki build` (signed PCR
# 11 policy), sbsign'ed, and booted straight from the ESP by OVMF with SecureBoot on (own PK/KEK/db) and a
# swtpm, until Debian's systemd reaches multi-user.target.
#   root     mmdebstrap (minbase + systemd + linux-image-amd64 + initramfs-tools + dracut-core + volseal's
#            libraries) from the machine's Debian apt sources, cached in BUILD/vm-cache keyed on its inputs;
#            volseal installed into it by `meson install` (--prefix=/usr, its own build dir)
#   disk     GPT, one partition u-root: LUKS2 made the way an installer does (cryptsetup reencrypt
#            --encrypt of the ext4 root) with the nodeID key in slot 1; config: tpm slot 0 + nodeID slot 1
#   boots    enrol (systemd-boot enrols the keys), then per initrd on its own copy of the disk:
#            first     opens by nodeID, sync enrols the tpm slot (added)
#            second    opens by tpm
#            tampered  cmdline changed, the old .pcrsig kept: tpm refused, nodeID opens (fallback)
#            each: root is /dev/mapper/luks2-u-root, systemd is running, and `volseal unlock --check` in
#            the booted system is refused by the TPM (PCR 11 capped by the shipped script/unit)
# Prints `debian-boot: <initrd> <boot>: KEY=VALUE` per boot and exits 1 on any failed check.
# Environment: VOLSEAL_VM_CACHE (default BUILD/vm-cache), VOLSEAL_VM_DEBIAN_LOGS (work files and serial
# logs, default BUILD/vm-debian), VOLSEAL_VM_TIMEOUT (seconds per boot, default 900), VOLSEAL_VM_ACCEL.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$VOLSEAL")/.." && pwd)
CACHE=${VOLSEAL_VM_CACHE:-$BUILD/vm-cache}
W=${VOLSEAL_VM_DEBIAN_LOGS:-$BUILD/vm-debian}
BOOT_TIMEOUT=${VOLSEAL_VM_TIMEOUT:-900} # a boot takes 2-7 minutes under TCG on a busy 2-core machine
SUITE=bookworm
VM_UUID=5b2a0c4e-9d71-4f38-a6e2-3c8d17f04b59 # the machine's SMBIOS UUID: the nodeID key is "<uuid>u-root"
vm_require mmdebstrap qemu-system-x86_64 swtpm swtpm_setup busybox mkfs.vfat mcopy mmd sfdisk cpio sbsign cert-to-efi-sig-list \
  sign-efi-sig-list objcopy mke2fs cryptsetup jq meson unshare chroot depmod
rm -rf "$W"; mkdir -p "$W" "$CACHE"
cd "$W"
t_start=$SECONDS t_phase=$SECONDS
PHASES=()
phase() { PHASES+=("$1: $((SECONDS - t_phase)) s"); echo "# $1: $((SECONDS - t_phase)) s"; t_phase=$SECONDS; }

# --- volseal for the guest: `meson install` of a --prefix=/usr build (the build under test is /usr/local)
GB=$BUILD/vm-guest-build
if [ ! -f "$GB/build.ninja" ]; then
  meson setup "$GB" "$TOP" --prefix=/usr -Dtests=false -Dwerror=true > guest-build.log 2>&1 ||
    { tail -n 20 guest-build.log; fail "meson setup of the guest build failed"; }
fi
meson compile -C "$GB" >> guest-build.log 2>&1 || { tail -n 30 guest-build.log; fail "guest build failed"; }
meson install -C "$GB" --destdir "$W/destdir" --no-rebuild --quiet > /dev/null
# Debian packages of every library volseal and its token plugins link (+ the dlopen()ed TPM transport)
lib_packages() {
  local l
  for l in $(ldd destdir/usr/bin/volseal destdir/usr/lib/*/cryptsetup/*.so | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | sort -u); do
    dpkg -S "$l" 2>/dev/null || dpkg -S "$(readlink -f "$l")"
  done | cut -d: -f1 | sort -u
}
PKGS=$(printf '%s\n' systemd systemd-sysv udev linux-image-amd64 initramfs-tools dracut-core dmsetup zstd \
  libtss2-tcti-device0 $(lib_packages) | sort -u | tr '\n' ' ')
phase "guest build"

# --- the Debian root (cached): the machine's Debian apt sources, the package list and their versions
SOURCES=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -qE '^[^#]*/debian' "$f" && SOURCES+=("$f")
done
[ ${#SOURCES[@]} -gt 0 ] || fail "no Debian apt source in /etc/apt/sources.list*"
KEEP_MODULES="arch crypto lib block fs/ext4 fs/jbd2 fs/mbcache.ko fs/efivarfs fs/autofs drivers/md drivers/block
  drivers/virtio drivers/char drivers/firmware"
make_base() { # DIR: minbase + PKGS, no initrd yet (INITRD=No), without docs; kernel modules a VM needs
  local dir=$1 kv m
  INITRD=No mmdebstrap --variant=minbase --mode=root --include="${PKGS// /,}" \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$dir" "${SOURCES[@]}" > mmdebstrap.log 2>&1 || { tail -n 30 mmdebstrap.log; fail "mmdebstrap failed"; }
  kv=$(ls "$dir/usr/lib/modules")
  mv "$dir/usr/lib/modules/$kv/kernel" "$dir/kernel.all"
  for m in $KEEP_MODULES; do
    mkdir -p "$(dirname "$dir/usr/lib/modules/$kv/kernel/$m")"
    mv "$dir/kernel.all/$m" "$dir/usr/lib/modules/$kv/kernel/$m"
  done
  rm -rf "$dir/kernel.all"
  depmod -b "$dir" "$kv"
}
base_inputs() {
  printf '%s\n' "$SUITE" "$PKGS" "$KEEP_MODULES"; declare -f make_base; cat "${SOURCES[@]}"
  apt-cache policy $PKGS 2>/dev/null | grep -E '^[^ ]|Candidate:'
}
BASE_KEY=$(base_inputs | sha256sum | cut -c1-16)
BASE=$CACHE/debian-$SUITE-$BASE_KEY
if [ -f "$BASE.done" ]; then
  echo "# Debian root: cached $BASE"
else
  rm -rf "$CACHE"/debian-"$SUITE"-*
  make_base "$BASE"
  touch "$BASE.done"
fi
KV=$(ls "$BASE/usr/lib/modules")
phase "Debian root (mmdebstrap)"

# --- the guest's tree: the root + volseal + its config + the test's report unit
R=$W/root
cp -a "$BASE" "$R"
tar -C destdir -c . | tar -C "$R" -x --keep-directory-symlink
install -d -m 0700 "$R/etc/volseal"
cat > "$R/etc/volseal/root.yaml" <<'Y'
apiVersion: v1alpha1
kind: UserVolumeConfig
name: root
encryption:
  provider: luks2
  keys:
    - tpm: {}
      slot: 0
    - nodeID: {}
      slot: 1
Y
echo '/dev/mapper/luks2-u-root / ext4 defaults 0 1' > "$R/etc/fstab"
echo volseal-vm > "$R/etc/hostname"
echo 6f1d2e3c4b5a69788796a5b4c3d2e1f0 > "$R/etc/machine-id"
# initramfs-tools: the modules and root file system type of this VM (MODULES=dep and FSTYPE=auto look at
# the machine mkinitramfs runs on, here a chroot)
printf 'MODULES=list\nFSTYPE=ext4\n' > "$R/etc/initramfs-tools/conf.d/vmtest"
printf '%s\n' virtio_pci virtio_blk ext4 >> "$R/etc/initramfs-tools/modules"
# dracut: a systemd initrd with the modules this VM needs
cat > "$R/etc/dracut.conf.d/50-vmtest.conf" <<'C'
hostonly="no"
dracutmodules+=" systemd systemd-initrd dracut-systemd base rootfs-block fs-lib udev-rules dm volseal "
add_drivers+=" virtio_pci virtio_blk ext4 "
compress="zstd"
C
install -m 0755 "$TOP/tests/vm/guest-report" "$R/usr/local/sbin/vmtest-report"
cat > "$R/etc/systemd/system/vmtest-report.service" <<'U'
[Unit]
Description=volseal VM test: report the boot on the serial console, then power off
After=multi-user.target
[Service]
Type=simple
ExecStart=/usr/local/sbin/vmtest-report
[Install]
WantedBy=multi-user.target
U
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf ../vmtest-report.service "$R/etc/systemd/system/multi-user.target.wants/vmtest-report.service"
# a fast guest: no logins, no periodic jobs; no userspace PCR phases after the initrd (Debian's systemd
# measures "sysinit" and "ready" into PCR 11: left out, the booted system's PCR 11 is predictable)
for u in getty.target getty-static.service e2scrub_reap.service systemd-pcrphase.service \
         systemd-pcrphase-sysinit.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
         e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
phase "guest tree"

# --- initrds and the encrypted root (cached: keyed on the root, volseal's installed files and this test)
in_root() { # CMD...: in the guest tree, with /proc /sys /dev /run /tmp in a private mount namespace
  unshare --mount --propagation private -- sh -c 'R=$1; shift
    mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys" && mount --rbind /dev "$R/dev" &&
    mount -t tmpfs tmpfs "$R/run" && mount -t tmpfs tmpfs "$R/tmp" && exec chroot "$R" "$@"' sh "$R" "$@"
}
build_images() { # DIR: the two initrds of the guest tree and its root file system as an installer's LUKS2
  local dir=$1 mb
  in_root mkinitramfs -o /boot/initrd.img-initramfs-tools "$KV" > mkinitramfs.log 2>&1 ||
    { tail -n 30 mkinitramfs.log; fail "mkinitramfs failed"; }
  in_root dracut --force --kver "$KV" /boot/initrd.img-dracut > dracut.log 2>&1 ||
    { tail -n 30 dracut.log; fail "dracut failed"; }
  mv "$R/boot/initrd.img-initramfs-tools" "$R/boot/initrd.img-dracut" "$dir/"
  phase "initrds (mkinitramfs, dracut)"
  # the installer's part: an ext4 root encrypted in place as LUKS2, the nodeID key in slot 1
  mb=$(( $(du -sm "$R" | cut -f1) * 13 / 10 + 128 ))
  truncate -s $((mb + 32))M "$dir/root.luks"
  mke2fs -q -t ext4 -b 4096 -L root -d "$R" "$dir/root.luks" "${mb}M"
  printf '%su-root' "$VM_UUID" > nodeid.key
  cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M --sector-size 4096 --pbkdf argon2id \
    --pbkdf-memory 32 --pbkdf-force-iterations 4 --key-slot 1 --key-file nodeid.key -q "$dir/root.luks" ||
    fail "cryptsetup reencrypt --encrypt of the root image failed"
  rm -f nodeid.key
}
# the key: every byte, name and mode of the guest tree (mtimes aside) and how the images are made
IMG_KEY=$( { tar -C "$R" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | sha256sum;
  declare -f build_images in_root; echo "$VM_UUID"; } | sha256sum | cut -c1-16)
IMG=$CACHE/debian-images-$IMG_KEY
if [ -f "$IMG/done" ]; then
  echo "# initrds and root image: cached $IMG"
else
  rm -rf "$CACHE"/debian-images-*; mkdir -p "$IMG.tmp"
  build_images "$IMG.tmp"
  mv "$IMG.tmp" "$IMG"; touch "$IMG/done"
fi
phase "root image"
for v in initramfs-tools dracut; do
  echo "# initrd $v: $(du -k "$IMG/initrd.img-$v" | cut -f1) KiB"
done

# --- keys, UKIs (the same cmdline for both initrds; tampered: another cmdline, the old .pcrsig)
vm_keys keys
# loglevel=4: few kernel lines on the serial console (slow under TCG), systemd's status lines kept (they tell
# where a boot stands); cryptomgr.notests: no crypto self-tests at every boot
CMDLINE="root=/dev/mapper/luks2-u-root ro console=ttyS0 panic=-1 loglevel=4 systemd.show_status=1 cryptomgr.notests"
printf '%s' "$CMDLINE" > cmdline
printf '%s volseal.variant=tampered' "$CMDLINE" > cmdline-tampered
build_uki() { # OUT INITRD CMDLINE-FILE
  "$VOLSEAL" uki build --stub "$VM_STUB" --linux "$R/boot/vmlinuz-$KV" --initrd "$2" --cmdline "$3" \
    --os-release "$R/etc/os-release" --pcr-key keys/pcr.pub --pcr-sign-key keys/pcr.key -o "$1" > /dev/null
}
for v in initramfs-tools dracut; do
  build_uki "$v.raw" "$IMG/initrd.img-$v" cmdline
  build_uki "$v-tampered.raw" "$IMG/initrd.img-$v" cmdline-tampered
  vm_tamper_pcrsig "$v.raw" "$v-tampered.raw"
  vm_sign keys "$v.raw" "$v.efi"
  vm_sign keys "$v-tampered.raw" "$v-tampered.efi"
done
# the disk: GPT, partition u-root holding the LUKS2 root
sectors=$(( $(stat -c %s "$IMG/root.luks") / 512 ))
truncate -s $(( (sectors + 4096) * 512 )) disk.img
printf 'label: gpt\nstart=2048, size=%s, name="u-root"\n' "$sectors" | sfdisk -q disk.img
dd if="$IMG/root.luks" of=disk.img bs=1M seek=1 conv=notrunc,sparse status=none
vm_esp esp.img keys
cp "$VM_OVMF_VARS" vars.fd
vm_accel "$CACHE" "$R/boot/vmlinuz-$KV"
phase "keys, UKIs, disks"

# --- boots
HP=0 HF=0
RESULTS=()
hpass() { echo "VMTEST PASS $*"; HP=$((HP + 1)); }
hfail() { echo "VMTEST FAIL $*"; HF=$((HF + 1)); }
STOP='Kernel panic|Give root password|Press Enter for maintenance|\(initramfs\) |Entering emergency mode|You are in emergency mode'
# LOG KEY: a reported value (a line may start with systemd's status escape sequences)
rep() { grep -a -o "VMREPORT $2=.*" "$1.txt" | head -n 1 | cut -d= -f2- || true; }
declare -A PCR11_PATH=([initramfs-tools]=enter-initrd:start-the-world
                       [dracut]=enter-initrd:start-the-world:leave-initrd)
boot_linux() { # INITRD BOOT UKI
  local v=$1 b=$2 name="$1-$2" j by s0 d0 cap want got
  vm_esp_put esp.img "$3" /EFI/BOOT/BOOTX64.EFI
  vm_boot "$name" vars.fd tpm "$BOOT_TIMEOUT" "$STOP" \
    -drive if=none,id=esp,file=esp.img,format=raw -device virtio-blk-pci,drive=esp,bootindex=1 \
    -drive if=none,id=root,file="disk-$v.img",format=raw,cache=unsafe -device virtio-blk-pci,drive=root
  grep -aq 'VMREPORT END' "$name.txt" && hpass "$name: the booted system reported (${BOOT_SECS}s)" ||
    { hfail "$name: no report from the booted system (${BOOT_NOTE:-powered off early}); serial log $W/$name.log";
      tail -n 40 "$name.txt"; }
  j=$(rep "$name" volseal)
  echo "debian-boot: $v $b: root=$(rep "$name" root)"
  echo "debian-boot: $v $b: system=$(rep "$name" system)"
  echo "debian-boot: $v $b: volseal=$j"
  by=$(jq -r '.opened_by_slot' <<< "${j:-null}" 2>/dev/null || echo "?")
  s0=$(jq -r '.slots[] | select(.slot == 0) | .status' <<< "${j:-null}" 2>/dev/null || echo "?")
  d0=$(rep "$name" cap-json | jq -r '.slots[] | select(.slot == 0) | "\(.status): \(.detail)"' 2>/dev/null || echo "?")
  case $d0 in opened:*) cap=unsealed ;; *"no signed policy matches PCR 11"*) cap=refused ;; *) cap=unknown ;; esac
  echo "debian-boot: $v $b: cap=$cap ($d0)"
  # PCR 11 on the booted system = the UKI's, enter-initrd, the cap word (and systemd's leave-initrd)
  want=$("$VOLSEAL" uki measure "$3" --phase "${PCR11_PATH[$v]}" | awk '{print $1}' | sed 's/^11:sha256=//')
  got=$(rep "$name" pcr11 | tr A-F a-f)
  [ "$got" = "$want" ] && hpass "$name: PCR 11 on the booted system = uki measure --phase ${PCR11_PATH[$v]}" ||
    hfail "$name: PCR 11 on the booted system '$got', predicted $want (--phase ${PCR11_PATH[$v]})"
  [ "$(rep "$name" root)" = /dev/mapper/luks2-u-root ] && hpass "$name: / is luks2-u-root" || hfail "$name: / is '$(rep "$name" root)'"
  [ "$(rep "$name" system)" = running ] && hpass "$name: systemd is running" ||
    hfail "$name: systemd is '$(rep "$name" system)' (failed units: $(rep "$name" failed))"
  [ "$cap" = refused ] && hpass "$name: after the cap the tpm key is refused" || hfail "$name: cap=$cap ($d0)"
  case $b in
    first) [ "$by:$s0" = 1:added ] && hpass "$name: opened by nodeID, tpm slot enrolled" ||
             hfail "$name: opened_by_slot $by, tpm slot $s0 (want 1, added)" ;;
    second) [ "$by" = 0 ] && hpass "$name: opened by tpm" || hfail "$name: opened_by_slot $by (want 0, tpm)" ;;
    tampered)
      case $by in 0) echo "debian-boot: $v $b: tampered: opened by tpm" ;;
        1) echo "debian-boot: $v $b: tampered: opened by fallback" ;;
        *) echo "debian-boot: $v $b: tampered: opened by none" ;; esac
      [ "$by" = 1 ] && hpass "$name: tpm refused ($s0), opened by the fallback nodeID key" ||
        hfail "$name: opened_by_slot $by (want 1: the fallback)" ;;
  esac
  echo "# $name: $(rep "$name" startup); blame: $(rep "$name" blame)"
  RESULTS+=("$name|$BOOT_SECS|$HP|$HF|$BOOT_NOTE")
  NFAIL=$((${NFAIL:-0} + HF)); HP=0 HF=0
}
vm_tpm_init tpm
vm_boot enrol vars.fd tpm "$BOOT_TIMEOUT" "" \
  -drive if=none,id=esp,file=esp.img,format=raw -device virtio-blk-pci,drive=esp,bootindex=1
grep -aq 'Enrolling secure boot keys' enrol.txt && hpass "enrol: systemd-boot enrolled PK/KEK/db" || hfail "enrol: no enrolment message"
RESULTS+=("enrol|$BOOT_SECS|$HP|$HF|$BOOT_NOTE"); NFAIL=$HF; HP=0 HF=0
for v in initramfs-tools dracut; do
  cp --sparse=always disk.img "disk-$v.img"
  boot_linux "$v" first "$v.efi"
  boot_linux "$v" second "$v.efi"
  boot_linux "$v" tampered "$v-tampered.efi"
done
phase "boots"

echo
printf '%-26s %8s %6s %6s  %s\n' boot seconds pass fail note
for r in "${RESULTS[@]}"; do
  IFS='|' read -r n s p f note <<< "$r"
  printf '%-26s %8s %6s %6s  %s\n' "$n" "$s" "$p" "$f" "$note"
done
echo "phases: ${PHASES[*]}"
echo "total: $((SECONDS - t_start)) s (accelerator $VM_ACCEL), logs in $W"
[ "$NFAIL" = 0 ] || fail "$NFAIL check(s) failed"
ok "debian-boot: ${#RESULTS[@]} boots, every check passed"
done_testing
