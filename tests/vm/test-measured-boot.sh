#!/usr/bin/env bash
# VM suite (`meson test -C build --suite vm`; `./run test` runs it unless VOLSEAL_SKIP_VM=1): the real
# measured boot. OVMF with SecureBoot (q35, SMM) + swtpm + Debian 12's systemd-stub 252 UKI built by
# `volseal uki build` from Debian's kernel + a busybox initramfs running the users' initramfs-tools script
# (dist/initramfs-tools/scripts/local-top/volseal) with real dm-crypt. Boots, in order, on one swtpm state:
#   enrol     empty OVMF vars: systemd-boot enrols our PK/KEK/db (loader/keys/auto) and resets
#   first     SecureBoot on, UKI without .pcrsig: volseal formats STATE, EPHEMERAL (lockToSTATE) and u-adi
#             (Adiantum) with nodeID, tpm slots pending; markers written into the dm-crypt volumes
#   enrolled  the PCR-signed UKI: opens by nodeID, sync enrols the tpm slots (pending -> enrolled)
#   reboot    opens by tpm, markers read back, PCR 11 capped, a second unseal is refused
#   updated   new UKI (other cmdline), re-signed with the same PCR key: opens by tpm
#   tampered  cmdline changed, the old .pcrsig kept: tpm refused, nodeID fallback opens
#   nosb      fresh vars (SecureBoot off): tpm refused (PCR 7), fallback opens, NOT re-sealed
#             then rescue: the boot's mappings closed, `volseal unlock --disk /dev/vdX` (nodeID) activates STATE
#             and u-adi through autoclear loop devices at their partition offsets, markers read back
#   unsigned  SecureBoot on, UKI without Authenticode signature: systemd-boot refuses it, Linux never starts
# then, on a second data disk whose STATE and EPHEMERAL have only an updatable tpm slot and a recovery key
# (docs/tpm-updatable.md), SecureBoot on, the PCR-signed UKI:
#   upd-install     STATE formatted with the recovery key (--recovery-key-out, kept by the host through the
#                   control disk), STATE mounted, the second call enrols the updatable slot, EPHEMERAL formatted
#   upd-tpm         opens by tpm; after the cap `volseal tpm prepare --dbx` authorizes the predicted PCR 7, then
#                   a real KEK-signed dbx append is written through efivarfs (APPEND_WRITE)
#   upd-dbx         PCR 7 moved to the prepared value: opens by tpm; a second dbx append, not prepared
#   upd-unprepared  PCR 7 moved again: the updatable slot is refused, the recovery key opens; then dbx is
#                   deleted (KEK-signed): rolled back to its state before the prepared update
#   upd-rollback    PCR 7 = the retired pre-update value: the updatable slot is refused, recovery opens
# Every boot: guest PCR 11 at /init = `volseal uki measure --phase :` on the host, after the cap =
# `--phase enter-initrd:start-the-world`; the guest replays binary_bios_measurements + volseal's
# measurement log with `volseal pcr eventlog` against its TPM. The guest prints VMTEST PASS/FAIL lines on
# the serial console; this driver adds its own, prints a table of boots and exits 1 on any FAIL.
# Environment: VOLSEAL_VM_CACHE (kernel .deb, default BUILD/vm-cache), VOLSEAL_VM_LOGS (serial logs and
# work files, default BUILD/vm-logs), VOLSEAL_VM_TIMEOUT (seconds per boot, default 420),
# VOLSEAL_VM_SCENARIOS (all, default; updatable: only enrol and the upd-* boots, for work on them).
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/volumes.sh"
. "$TOP/tests/lib/esl.sh"
. "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$VOLSEAL")/.." && pwd)
CACHE=${VOLSEAL_VM_CACHE:-$BUILD/vm-cache}
W=${VOLSEAL_VM_LOGS:-$BUILD/vm-logs}
BOOT_TIMEOUT=${VOLSEAL_VM_TIMEOUT:-420}
SCENARIOS=${VOLSEAL_VM_SCENARIOS:-all}
case $SCENARIOS in all|updatable) ;; *) fail "VOLSEAL_VM_SCENARIOS=$SCENARIOS: all or updatable" ;; esac
vm_require qemu-system-x86_64 swtpm swtpm_setup busybox mkfs.vfat mcopy mmd sfdisk cpio sbsign \
  cert-to-efi-sig-list sign-efi-sig-list objcopy objdump modprobe depmod cryptsetup jq chattr
rm -rf "$W"; mkdir -p "$W" "$CACHE"
cd "$W"
t_start=$SECONDS
RESULTS=() # "boot|seconds|pass|fail|note"
NFAIL=0
hpass() { echo "VMTEST PASS host: $*"; HP=$((HP + 1)); }
hfail() { echo "VMTEST FAIL host: $*"; HF=$((HF + 1)); }

# --- Debian's kernel (cached .deb; nothing installed) and its modules
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || fail "cannot resolve linux-image-amd64 (apt-cache depends)"
KV=${kpkg#linux-image-}
deb=$(ls "$CACHE"/"${kpkg}"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  (cd "$CACHE" && apt-get download "$kpkg" >/dev/null 2>&1) || fail "apt-get download $kpkg failed"
  deb=$(ls "$CACHE"/"${kpkg}"_*.deb | head -n 1)
fi
if [ ! -f "$CACHE/kpkg-$KV/boot/vmlinuz-$KV" ]; then
  rm -rf "$CACHE/kpkg-$KV"; mkdir -p "$CACHE/kpkg-$KV"
  dpkg-deb -x "$deb" "$CACHE/kpkg-$KV"
  depmod -b "$CACHE/kpkg-$KV" "$KV"
fi
K=$CACHE/kpkg-$KV

# --- keys: SecureBoot PK/KEK/db (efitools .auth for systemd-boot's enrolment), the PCR policy key
vm_keys keys
# dbx updates for the upd-* boots: one SHA-256 hash each (no real binary's), KEK-signed for APPEND_WRITE;
# .var = what efivarfs takes in one write: the attributes NV|BS|RT|time-based auth|APPEND (0x67), the .auth
for n in 1 2; do
  hash_esl dbx-update$n.esl "$(printf 'volseal vm dbx update %s' $n | sha256sum | cut -c1-64)"
  sign-efi-sig-list -a -k keys/KEK.key -c keys/KEK.crt dbx dbx-update$n.esl dbx-update$n.auth >/dev/null
  { printf '\x67\x00\x00\x00'; cat dbx-update$n.auth; } > dbx-update$n.var
done
# the rollback: an empty KEK-signed write (0x27, no APPEND) deletes dbx, as it was before the first update;
# its timestamp must be later than the appends' (whole seconds)
sleep 1.1
: > dbx-empty.esl
sign-efi-sig-list -k keys/KEK.key -c keys/KEK.crt dbx dbx-empty.esl dbx-delete.auth >/dev/null
{ printf '\x27\x00\x00\x00'; cat dbx-delete.auth; } > dbx-delete.var

# --- initramfs: busybox, volseal + libraries, modules, the users' local-top script, the test's /init
R=$W/root
mkdir -p $R/bin $R/sbin $R/proc $R/sys $R/dev $R/run $R/tmp $R/etc/volseal $R/lib/modules $R/scripts/local-top $R/test
cp "$(command -v busybox)" $R/bin/busybox
for t in $(busybox --list); do [ "$t" = busybox ] || ln -sf busybox "$R/bin/$t"; done
copy_bin() { # FILE DEST: the binary and every library ldd lists (paths as on the host)
  cp "$1" "$R$2"
  local lib
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    [ -e "$R$lib" ] && continue
    mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
  done
}
copy_bin "$VOLSEAL" /sbin/volseal
copy_bin "$(command -v jq)" /bin/jq
copy_bin "$(command -v dmsetup)" /sbin/dmsetup # the rescue check closes the boot's mappings
copy_bin "$(command -v chattr)" /bin/chattr # upd-dbx appends to an existing dbx (immutable in efivarfs)
for lib in libtss2-tctildr.so.0 libtss2-tcti-device.so.0; do # dlopen()ed: ldd does not list them
  copy_bin "/lib/x86_64-linux-gnu/$lib" "/lib/x86_64-linux-gnu/$lib"
done
: > $R/lib/modules/load.order
for m in virtio_pci virtio_blk dm-crypt xts ecb efivarfs adiantum chacha_generic nhpoly1305 poly1305_generic \
         algif_skcipher ext4 loop; do
  modprobe -d "$K" -S "$KV" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  cp "$ko" "$R/lib/modules/"; basename "$ko" >> "$R/lib/modules/load.order"
done
cp "$TOP/dist/initramfs-tools/scripts/local-top/volseal" $R/scripts/local-top/volseal
cp "$TOP/tests/vm/guest-init" $R/init
chmod +x $R/init $R/scripts/local-top/volseal
volumes_config $R/etc/volseal/volumes.yaml "STATE 0:tpm 1:nodeID" "EPHEMERAL 0:nodeID:lockToSTATE" \
  "u-adi cipher=xchacha12,aes-adiantum-plain64 0:tpm 1:nodeID"
# the post-cap unseal attempt: the two volumes with a tpm slot
volumes_config $R/test/after-cap.yaml "STATE 0:tpm 1:nodeID" "u-adi cipher=xchacha12,aes-adiantum-plain64 0:tpm 1:nodeID"
# the rescue check (nosb): `volseal unlock --disk` with the keys a rescue system has (nodeID, no tpm)
volumes_config $R/test/rescue.yaml "STATE 1:nodeID" "u-adi cipher=xchacha12,aes-adiantum-plain64 1:nodeID"
# the upd-* boots: only an updatable tpm slot and a recovery key; the dbx updates they apply
volumes_config $R/test/updatable.yaml "STATE 0:tpm:updatable=true 1:recovery" "EPHEMERAL 0:tpm:updatable=true 1:recovery"
cp dbx-update1.esl $R/test/dbx-update.esl
cp dbx-update1.var $R/test/dbx-update.var
cp dbx-update2.var $R/test/dbx-update2.var
cp dbx-delete.var $R/test/dbx-delete.var
# test-only settings: cheap argon2id for nodeID slots under TCG (never on real machines), STATE ext2 made by
# busybox and kept mounted so the test can write into it
cat > $R/etc/volseal/initramfs.conf <<'C'
VOLSEAL_ARGS="--pbkdf-memory 32 --pbkdf-iterations 4"
VOLSEAL_STATE_MKFS="mke2fs -q"
VOLSEAL_STATE_FSTYPE=ext4
VOLSEAL_KEEP_STATE=yes
C
(cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initrd.img
printf 'ID=volseal-vm\nVERSION_ID=1\n' > os-release
CMDLINE='console=ttyS0 panic=-1 quiet'
printf '%s' "$CMDLINE" > cmdline
printf '%s volseal.variant=updated' "$CMDLINE" > cmdline-updated
printf '%s volseal.variant=tampered' "$CMDLINE" > cmdline-tampered

# --- UKIs: volseal uki build (PCR-signed), sbsign last
build_uki() { # OUT CMDLINE [--pcr-sign-key KEY]
  local out=$1 cl=$2; shift 2
  "$VOLSEAL" uki build --stub "$VM_STUB" --linux "$K/boot/vmlinuz-$KV" --initrd initrd.img --cmdline "$cl" \
    --os-release os-release --pcr-key keys/pcr.pub "$@" -o "$out" > /dev/null
}
build_uki uki-first.raw cmdline                                    # no .pcrsig: the tpm slot waits
build_uki uki.raw cmdline --pcr-sign-key keys/pcr.key
build_uki uki-updated.raw cmdline-updated --pcr-sign-key keys/pcr.key
# the tampered UKI carries the old .pcrsig, written over a fresh one of the same length
build_uki uki-tampered.raw cmdline-tampered --pcr-sign-key keys/pcr.key
vm_tamper_pcrsig uki.raw uki-tampered.raw
objcopy -O binary --only-section=.pcrsig uki.raw old.pcrsig
for u in uki-first uki uki-updated uki-tampered; do vm_sign keys $u.raw $u.efi; done
cp uki.raw uki-unsigned.efi
# host-side predictions of PCR 11
predict() { "$VOLSEAL" uki measure "$1" --phase "$2" | awk '{print $1}' | sed 's/^11:sha256=//'; }
HP=0 HF=0
[ "$(predict uki.efi :)" = "$(predict uki-first.efi :)" ] && hpass "uki-first and uki measure the same PCR 11 (.pcrsig is not measured)" \
  || hfail "uki-first.efi and uki.efi predict different PCR 11"
[ "$(predict uki-tampered.efi :)" != "$(predict uki.efi :)" ] && hpass "the tampered cmdline changes PCR 11" || hfail "tampered PCR 11 unchanged"
objcopy -O binary --only-section=.pcrsig uki-tampered.efi tampered.pcrsig
cmp -s old.pcrsig tampered.pcrsig && hpass "the tampered UKI carries the old .pcrsig" || hfail "the tampered UKI's .pcrsig is not the old one"
info_sizes="initrd $(du -k initrd.img | cut -f1) KiB, UKI $(du -k uki.efi | cut -f1) KiB"
BOOT_SECS=$((SECONDS - t_start)) BOOT_PASS=0 BOOT_FAIL=0 BOOT_NOTE="no boot: kernel, keys, initramfs, UKIs"

# --- ESP: signed systemd-boot, keys for its enrolment; the UKI under test as a Type #2 entry
vm_esp esp.img keys
use_uki() { vm_esp_put esp.img "$1" /EFI/Linux/volseal.efi; }

# --- data disk: GPT with STATE, EPHEMERAL, u-adi (found by PARTLABEL in the guest); control disk
truncate -s 112M data.img
sfdisk -q data.img <<'P'
label: gpt
start=2048, size=32M, name="STATE"
size=36M, name="EPHEMERAL"
size=36M, name="u-adi"
P
# the upd-* boots' data disk: STATE and EPHEMERAL
truncate -s 80M data-upd.img
sfdisk -q data-upd.img <<'P'
label: gpt
start=2048, size=32M, name="STATE"
size=36M, name="EPHEMERAL"
P
DATA=data.img
part_start() { sfdisk --json "$DATA" | jq -r ".partitiontable.partitions[] | select(.name == \"$1\") | .start"; }
header() { # VOLUME OUT: the first 16 MiB (LUKS2 header) of the volume's partition
  dd if="$DATA" of="$2" bs=512 skip="$(part_start "$1")" count=32768 status=none
}
cp "$VM_OVMF_VARS" vars.fd
cp "$VM_OVMF_VARS" vars-nosb.fd
vm_tpm_init tpm
VM_UUID=$(cat /proc/sys/kernel/random/uuid) # the machine's SMBIOS UUID (nodeID), the same for every boot
RUNID=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
vm_accel "$CACHE" "$K/boot/vmlinuz-$KV"
echo "# run $RUNID, machine uuid $VM_UUID, kernel $KV, $info_sizes, accelerator $VM_ACCEL"

# boot NAME UKI VARS [--stop-on REGEX]: one QEMU boot; parses the serial console's VMTEST lines
boot() {
  local name=$1 uki=$2 vars=$3 stop=${5:-} p f
  use_uki "$uki"
  { printf 'VSCTL1 %s %s\n' "$name" "$RUNID"; head -c 4096 /dev/zero; } > ctl.img
  truncate -s 1M ctl.img
  [ -s recovery.txt ] && dd if=recovery.txt of=ctl.img bs=4096 seek=1 conv=notrunc status=none
  vm_boot "$name" "$vars" tpm "$BOOT_TIMEOUT" "$stop" \
    -drive if=none,id=esp,file=esp.img,format=raw -device virtio-blk-pci,drive=esp,bootindex=1 \
    -drive if=none,id=data,file="$DATA",format=raw -device virtio-blk-pci,drive=data \
    -drive if=none,id=ctl,file=ctl.img,format=raw -device virtio-blk-pci,drive=ctl
  grep -a '^VMTEST ' "$name.txt" | sed "s/^/[$name] /" || true
  p=$(grep -ac '^VMTEST PASS' "$name.txt" || true)
  f=$(grep -ac '^VMTEST FAIL' "$name.txt" || true)
  BOOT_PASS=$p BOOT_FAIL=$f
}
record() { # NAME: add the guest's and the host's checks of this boot to the table
  local p=$((BOOT_PASS + HP)) f=$((BOOT_FAIL + HF))
  RESULTS+=("$1|$BOOT_SECS|$p|$f|$BOOT_NOTE")
  NFAIL=$((NFAIL + f))
  if [ "$f" -gt 0 ]; then echo "# boot $1 FAILED: serial log $W/$1.log (last lines below)"; tail -n 30 "$W/$1.txt" 2>/dev/null || true; fi
  HP=0 HF=0
}
ginfo() { grep -a "^VMTEST INFO $2 " "$1.txt" | tail -n 1 | cut -d' ' -f4 | tr A-F a-f; }
linux_boot() { # NAME UKI VARS: a boot that must reach the end of the guest's checks
  boot "$1" "$2" "$3"
  grep -aq '^VMTEST END' "$1.txt" && hpass "$1: the guest ran to the end" || hfail "$1: no VMTEST END (${BOOT_NOTE:-the guest stopped})"
  local want got
  want=$(predict "$2" :) got=$(ginfo "$1" pcr11-at-init)
  [ "$got" = "$want" ] && hpass "$1: guest PCR 11 at /init = volseal uki measure --phase : ($got)" \
    || hfail "$1: guest PCR 11 at /init '$got', volseal uki measure predicted $want"
  want=$(predict "$2" enter-initrd:start-the-world) got=$(ginfo "$1" pcr11-final)
  [ "$got" = "$want" ] && hpass "$1: final PCR 11 = uki measure --phase enter-initrd:start-the-world" \
    || hfail "$1: final PCR 11 '$got', predicted $want (enter-initrd, cap start-the-world)"
}
token_blob() { header "$1" hdr.img; cryptsetup luksDump --dump-json-metadata hdr.img | jq -r '.tokens["0"].UserData.sealed_blob_private'; }

record build
measured() { [ "$SCENARIOS" = all ]; }
# 1. SecureBoot enrolment
boot enrol uki-first.efi vars.fd
grep -aq 'Enrolling secure boot keys' enrol.txt && hpass "enrol: systemd-boot enrolled PK/KEK/db" || hfail "enrol: no enrolment message"
[ -z "$BOOT_NOTE" ] && hpass "enrol: the firmware reset after enrolment" || hfail "enrol: $BOOT_NOTE"
record enrol
# 2. first boot: format, tpm pending
if measured; then
linux_boot first uki-first.efi vars.fd
for v in STATE EPHEMERAL u-adi; do
  m="volseal-vm-$RUNID-$v"
  grep -aq "$m" data.img && hfail "first: the marker of $v is in the data disk in clear" || hpass "first: $v's marker is not on the disk in clear"
done
header u-adi hdr.img
c=$(cryptsetup luksDump --dump-json-metadata hdr.img | jq -r '.segments["0"].encryption')
[ "$c" = xchacha12,aes-adiantum-plain64 ] && hpass "first: u-adi is Adiantum ($c)" || hfail "first: u-adi cipher $c"
record first
# 3. the PCR-signed UKI: the tpm slots are enrolled by sync
linux_boot enrolled uki.efi vars.fd
record enrolled
# 3b. reboot: opened by tpm, cap, second unseal refused
linux_boot reboot uki.efi vars.fd
record reboot
# 4. a new UKI signed with the same PCR key
linux_boot updated uki-updated.efi vars.fd
record updated
# 5. tampered cmdline, stale .pcrsig
linux_boot tampered uki-tampered.efi vars.fd
record tampered
# 6. SecureBoot off (fresh vars, no enrolment): refused, fallback, not re-sealed
before_state=$(token_blob STATE) before_adi=$(token_blob u-adi)
printf 'timeout 0\nsecure-boot-enroll off\n' > loader.conf
vm_esp_put esp.img loader.conf /loader/loader.conf
linux_boot nosb uki.efi vars-nosb.fd
[ "$(token_blob STATE)" = "$before_state" ] && [ "$(token_blob u-adi)" = "$before_adi" ] \
  && hpass "nosb: the tpm tokens are unchanged on disk (not re-sealed)" || hfail "nosb: a tpm token changed"
n=$(grep -ac '^VMTEST PASS rescue-' nosb.txt || true)
[ "$n" = 8 ] && hpass "nosb: the guest's rescue check (unlock --disk through loop devices) passed all 8 checks" \
  || hfail "nosb: $n of 8 rescue checks passed in the guest"
record nosb
# 7. unsigned UKI under SecureBoot
boot unsigned uki-unsigned.efi vars.fd --stop-on 'Access Denied|VMTEST|Linux version'
grep -aq 'Access Denied' unsigned.txt && hpass "unsigned: systemd-boot refused the image (Access Denied)" || hfail "unsigned: no 'Access Denied'"
grep -aqE 'VMTEST|Linux version' unsigned.txt && hfail "unsigned: Linux started" || hpass "unsigned: Linux did not start"
record unsigned
fi

# 8. updatable tpm + recovery on their own data disk (same vars, swtpm state and UKI)
DATA=data-upd.img
linux_boot upd-install uki.efi vars.fd
dd if=ctl.img bs=4096 skip=1 count=1 status=none | tr -d '\000' > recovery.txt
grep -Eqx '([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}' recovery.txt \
  && hpass "upd-install: the recovery key reached the host (modhex, 8 groups)" || hfail "upd-install: no recovery key on the control disk"
for v in STATE EPHEMERAL; do
  header $v hdr.img
  ks=$(cryptsetup luksDump --dump-json-metadata hdr.img | jq -r '.keyslots | keys | join(",")')
  tk=$(cryptsetup luksDump --dump-json-metadata hdr.img | jq -r '[.tokens[].type] | join(",")')
  [ "$ks" = 0,1 ] && hpass "upd-install: $v has keyslots 0 (updatable tpm) and 1 (recovery) only, tokens $tk" \
    || hfail "upd-install: $v keyslots '$ks', tokens '$tk'"
  cryptsetup open --test-passphrase --key-slot 1 hdr.img < recovery.txt 2>/dev/null \
    && hpass "upd-install: the recovery key opens $v's slot 1 (cryptsetup)" || hfail "upd-install: the recovery key does not open $v"
done
record upd-install
linux_boot upd-tpm uki.efi vars.fd
pcr7_before=$(ginfo upd-tpm pcr7) pcr7_prepared=$(ginfo upd-tpm pcr7-prepared)
[ -n "$pcr7_prepared" ] && [ "$pcr7_prepared" != "$pcr7_before" ] \
  && hpass "upd-tpm: prepare authorized PCR 7 $pcr7_prepared (booted $pcr7_before)" || hfail "upd-tpm: prepared PCR 7 '$pcr7_prepared', booted $pcr7_before"
record upd-tpm
linux_boot upd-dbx uki.efi vars.fd
pcr7_dbx=$(ginfo upd-dbx pcr7)
[ "$pcr7_dbx" != "$pcr7_before" ] && hpass "upd-dbx: the dbx append moved PCR 7 ($pcr7_before -> $pcr7_dbx)" || hfail "upd-dbx: PCR 7 unchanged ($pcr7_dbx)"
[ "$pcr7_dbx" = "$pcr7_prepared" ] && hpass "upd-dbx: PCR 7 = the value tpm prepare predicted" || hfail "upd-dbx: PCR 7 $pcr7_dbx, prepared $pcr7_prepared"
got=$(ginfo upd-dbx states-after-retire)
[ "$got" = "$pcr7_dbx" ] && hpass "upd-dbx: the unlock with --state-dir retired the pre-update PCR 7 (authorized: $got)" \
  || hfail "upd-dbx: authorized PCR 7 states '$got' after the retirement, want only $pcr7_dbx"
header STATE hdr.img
tokens_before=$(cryptsetup luksDump --dump-json-metadata hdr.img | jq -cS '[.keyslots, .tokens]')
record upd-dbx
linux_boot upd-unprepared uki.efi vars.fd
pcr7_unprep=$(ginfo upd-unprepared pcr7)
[ "$pcr7_unprep" != "$pcr7_dbx" ] && hpass "upd-unprepared: the unprepared append moved PCR 7 ($pcr7_dbx -> $pcr7_unprep)" \
  || hfail "upd-unprepared: PCR 7 unchanged ($pcr7_unprep)"
header STATE hdr.img
[ "$(cryptsetup luksDump --dump-json-metadata hdr.img | jq -cS '[.keyslots, .tokens]')" = "$tokens_before" ] \
  && hpass "upd-unprepared: STATE's keyslots and tokens are unchanged (the refused slot is left as it is)" \
  || hfail "upd-unprepared: STATE's keyslots or tokens changed"
record upd-unprepared
linux_boot upd-rollback uki.efi vars.fd
got=$(ginfo upd-rollback pcr7)
[ "$got" = "$pcr7_before" ] && hpass "upd-rollback: dbx rolled back, PCR 7 = the retired pre-update value ($got)" \
  || hfail "upd-rollback: PCR 7 $got, the pre-update value was $pcr7_before"
record upd-rollback

echo
printf '%-14s %8s %6s %6s  %s\n' boot seconds pass fail note
echo "-------------- -------- ------ ------  ----"
for r in "${RESULTS[@]}"; do
  IFS='|' read -r n s p f note <<< "$r"
  printf '%-14s %8s %6s %6s  %s\n' "$n" "$s" "$p" "$f" "$note"
done
echo "total: $((SECONDS - t_start)) s (accelerator $VM_ACCEL), logs in $W"
[ "$NFAIL" = 0 ] || fail "$NFAIL check(s) failed"
ok "measured boot: ${#RESULTS[@]} boots, every check passed"
done_testing
