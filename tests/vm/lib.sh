# tests/vm/lib.sh: what the VM tests share (sourced after tests/lib/common.sh). Promise: one way to make
# SecureBoot keys and their efitools .auth files, an ESP whose signed systemd-boot enrols them, a tampered
# UKI, the accelerator choice, and one QEMU boot (OVMF SecureBoot, q35 + SMM, swtpm on a kept state
# directory) whose serial console lands in NAME.log / NAME.txt (docs/testing.md).
VM_STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
VM_SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
VM_OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
VM_OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
VM_EFI_GUID=8be4df61-93ca-11d2-aa0d-00e098032b8c # EFI global variables (SecureBoot, PK, KEK, db)

vm_require() { # PROGRAM...: every program on PATH, else the test fails naming the package group
  local p
  for p in "$@"; do command -v "$p" >/dev/null || fail "$p missing (tools/deps.txt [vm] and [test] groups)"; done
  for p in "$VM_STUB" "$VM_SDBOOT" "$VM_OVMF_CODE" "$VM_OVMF_VARS"; do
    [ -f "$p" ] || fail "$p missing (tools/deps.txt)"
  done
}

vm_keys() { # DIR: SecureBoot PK/KEK/db (.key .crt .auth, db signed by KEK, KEK and PK by PK) + the PCR key
  local d=$1 n
  mkdir -p "$d"
  for n in PK KEK db; do
    openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=volseal vm test $n/" \
      -keyout "$d/$n.key" -out "$d/$n.crt" 2>/dev/null
    cert-to-efi-sig-list -g "$(cat /proc/sys/kernel/random/uuid)" "$d/$n.crt" "$d/$n.esl"
  done
  sign-efi-sig-list -g $VM_EFI_GUID -k "$d/PK.key" -c "$d/PK.crt" PK "$d/PK.esl" "$d/PK.auth" >/dev/null
  sign-efi-sig-list -g $VM_EFI_GUID -k "$d/PK.key" -c "$d/PK.crt" KEK "$d/KEK.esl" "$d/KEK.auth" >/dev/null
  sign-efi-sig-list -g $VM_EFI_GUID -k "$d/KEK.key" -c "$d/KEK.crt" db "$d/db.esl" "$d/db.auth" >/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/pcr.key" 2>/dev/null
  openssl pkey -in "$d/pcr.key" -pubout -out "$d/pcr.pub"
}

vm_sign() { # KEYDIR IN OUT: Authenticode signature with the db key
  sbsign --key "$1/db.key" --cert "$1/db.crt" --output "$3" "$2" 2>/dev/null
}

# vm_esp IMG KEYDIR: a 128 MiB GPT disk with one FAT32 ESP at 1 MiB (no loop device, no mount: mtools at
# IMG@@1M) holding the db-signed systemd-boot as \EFI\BOOT\BOOTX64.EFI, which enrols KEYDIR's PK/KEK/db
# from \loader\keys\auto when the firmware is in setup mode and then resets.
vm_esp() {
  local img=$1 keys=$2 e
  truncate -s 128M "$img"
  printf 'label: gpt\nstart=2048, size=256000, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' | sfdisk -q "$img"
  mkfs.vfat -F 32 --offset 2048 "$img" 128000 > /dev/null 2>&1
  e="$img@@1M"
  mmd -i "$e" ::/EFI ::/EFI/BOOT ::/EFI/Linux ::/loader ::/loader/keys ::/loader/keys/auto
  vm_sign "$keys" "$VM_SDBOOT" "$img.sd-boot.efi"
  mcopy -i "$e" "$img.sd-boot.efi" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$e" "$keys/PK.auth" "$keys/KEK.auth" "$keys/db.auth" ::/loader/keys/auto/
  printf 'timeout 0\nsecure-boot-enroll force\n' > "$img.loader.conf"
  mcopy -i "$e" "$img.loader.conf" ::/loader/loader.conf
  rm -f "$img.sd-boot.efi" "$img.loader.conf"
}
vm_esp_put() { mcopy -o -i "$1@@1M" "$2" "::$3"; } # IMG FILE PATH: (over)write one file on the ESP

# vm_tamper_pcrsig SIGNED.raw TAMPERED.raw: writes SIGNED's .pcrsig over TAMPERED's (a UKI built with
# another cmdline and a fresh .pcrsig of the same key): measured sections changed, the old signature kept.
# Same length (same key, same JSON shape), so the PE layout stays volseal's own. Before sbsign.
vm_tamper_pcrsig() {
  local signed=$1 tampered=$2 old=$2.old-pcrsig
  pcrsig_field() { "$VOLSEAL" uki inspect "$1" --json | jq -r ".sections[] | select(.name == \".pcrsig\") | .$2"; }
  objcopy -O binary --only-section=.pcrsig "$signed" "$old"
  [ "$(pcrsig_field "$signed" virtual_size)" = "$(pcrsig_field "$tampered" virtual_size)" ] ||
    fail "$tampered: the fresh .pcrsig differs in length from $signed's"
  dd if="$old" of="$tampered" bs=1 seek="$(pcrsig_field "$tampered" raw_offset)" \
    count="$(pcrsig_field "$signed" virtual_size)" conv=notrunc status=none
  rm -f "$old"
}

# vm_accel CACHE KERNEL: sets VM_ACCEL (kvm|tcg) and VM_ACCEL_ARGS. KVM only when a probe boot of KERNEL
# with a busybox /init under `-accel kvm -cpu host` prints its line within 30 s (a /dev/kvm that QEMU opens
# but cannot run a stock kernel on, as on hosts whose KVM is paravirtual only, falls back to TCG). The
# verdict is cached in CACHE per QEMU and host kernel. VOLSEAL_VM_ACCEL=kvm|tcg skips the probe.
vm_accel() {
  local cache=$1 kernel=$2 key f d
  VM_ACCEL=${VOLSEAL_VM_ACCEL:-}
  if [ -z "$VM_ACCEL" ]; then
    VM_ACCEL=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
      key=$(printf '%s\n' "$(qemu-system-x86_64 --version | head -n 1)" "$(uname -r)" | sha256sum | cut -c1-16)
      f=$cache/accel-$key
      if [ -s "$f" ]; then
        VM_ACCEL=$(cat "$f")
      else
        d=$(mktemp -d "$cache/accel-probe.XXXXXX")
        mkdir -p "$d/r/bin"
        cp "$(command -v busybox)" "$d/r/bin/busybox"
        printf '#!/bin/busybox sh\n/bin/busybox echo VMPROBE-OK\n/bin/busybox poweroff -f\n' > "$d/r/init"
        chmod +x "$d/r/init"
        (cd "$d/r" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$d/initrd"
        # timeout reaps a QEMU that aborts (bash would report the signal) or hangs
        timeout 30 qemu-system-x86_64 -accel kvm -cpu host -m 512 -nodefaults -display none -no-reboot \
          -monitor none -serial "file:$d/log" -kernel "$kernel" -initrd "$d/initrd" \
          -append "console=ttyS0 panic=-1" > "$d/qemu.out" 2>&1 || true
        grep -aq VMPROBE-OK "$d/log" 2>/dev/null && VM_ACCEL=kvm
        echo "$VM_ACCEL" > "$f"
        rm -rf "$d"
      fi
    fi
  fi
  case $VM_ACCEL in
    kvm) VM_ACCEL_ARGS=(-accel kvm -cpu host) ;;
    tcg) VM_ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
    *) fail "VOLSEAL_VM_ACCEL=$VM_ACCEL: kvm or tcg" ;;
  esac
}

# vm_tpm_init TPMDIR: a fresh swtpm state with only the SHA-256 PCR bank active. The firmware and
# systemd-stub hash every measured image once per active bank in emulated code: with swtpm's default four
# banks that is most of a UEFI boot's time under TCG.
vm_tpm_init() {
  rm -rf "$1"; mkdir -p "$1"
  swtpm_setup --tpm2 --tpmstate "$1" --pcr-banks sha256 --overwrite > "$1.setup.log" 2>&1 ||
    { cat "$1.setup.log"; fail "swtpm_setup failed"; }
}

# vm_boot NAME VARS TPMDIR TIMEOUT STOP [QEMU ARGS...]: one boot with OVMF (VARS: its variable store),
# SecureBoot-capable firmware, a swtpm 2.0 on TPMDIR's state (kept across boots: a reboot), the machine
# UUID $VM_UUID and the disks/devices in QEMU ARGS. Ends when the guest powers off or resets, when the
# serial log matches the extended regex STOP (if not empty), or after TIMEOUT seconds. Sets BOOT_SECS and
# BOOT_NOTE (empty, "stopped at /STOP/" or "timeout after Ns"); the serial log is NAME.log, without
# carriage returns NAME.txt.
vm_boot() {
  local name=$1 vars=$2 tpm=$3 timeout=$4 stop=$5 t0=$SECONDS pid spid
  shift 5
  BOOT_NOTE=""
  mkdir -p "$tpm"
  rm -f "$tpm/sock"
  swtpm socket --tpm2 --tpmstate dir="$tpm" --ctrl type=unixio,path="$tpm/sock" --log file="$tpm.log",level=1 \
    --terminate > /dev/null 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -S "$tpm/sock" ] && break; sleep 0.1; done
  : > "$name.log"
  qemu-system-x86_64 "${VM_ACCEL_ARGS[@]}" -m 1024 -smp 1 -nodefaults -display none -no-reboot \
    -uuid "$VM_UUID" -serial "file:$name.log" -monitor none \
    -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
    -drive if=pflash,format=raw,unit=0,file="$VM_OVMF_CODE",readonly=on \
    -drive if=pflash,format=raw,unit=1,file="$vars" \
    -chardev socket,id=chrtpm,path="$tpm/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0 \
    "$@" > "$name.qemu.out" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then BOOT_NOTE="timeout after ${timeout}s"; kill $pid || true; break; fi
    if [ -n "$stop" ] && grep -aqE "$stop" "$name.log"; then BOOT_NOTE="stopped at /$stop/"; kill $pid || true; break; fi
    sleep 1
  done
  wait $pid 2>/dev/null || true
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
  BOOT_SECS=$((SECONDS - t0))
  tr -d '\r' < "$name.log" > "$name.txt"
}
