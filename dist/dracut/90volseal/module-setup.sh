#!/bin/bash
# dracut module "volseal" (docs/boot-integration.md): a systemd initrd that opens the volumes of
# /etc/volseal/*.yaml with volseal-unlock.service and caps PCR 11 with volseal-cap.service. Puts in volseal,
# its libraries (also the dlopen()ed TPM transports ldd cannot see), the config, the two units (enabled),
# the script they run, systemd-pcrphase (measures "enter-initrd", the phase the signed PCR 11 policy names)
# and a drop-in that orders the unlock after the volumes' partitions.
# The paths of the script and the units are filled in by meson (dist/meson.build).

volseal_configs() {
    local f
    for f in /etc/volseal/*.yaml /etc/volseal/*.yml; do
        [[ -f $f ]] && echo "$f"
    done
}

check() {
    require_binaries volseal || return 1
    if [[ -z $(volseal_configs) ]]; then
        dinfo "volseal: no config in /etc/volseal (*.yaml): volseal is left out of the initramfs"
        return 1
    fi
    return 0
}

depends() {
    # systemd runs the units; dm brings dmsetup and the udev rules libdevmapper waits for (95-dm-notify)
    echo systemd dm
    return 0
}

installkernel() {
    local fstype=ext4
    # STATE's file system for lockToSTATE volumes, as the script mounts it
    [[ -r /etc/volseal/initramfs.conf ]] && fstype=$(. /etc/volseal/initramfs.conf; echo "${VOLSEAL_STATE_FSTYPE:-ext4}")
    hostonly='' instmods dm-mod dm-crypt xts ecb efivarfs adiantum chacha_generic nhpoly1305 poly1305_generic \
        algif_skcipher "$fstype"
    instmods '=drivers/char/tpm'
}

install() {
    local f args=() vol ids=() unitdir="$systemdsystemunitdir/volseal-unlock.service.d"
    inst_multiple volseal mount umount mkdir cat modprobe
    # loaded with dlopen(): ldd does not list them. The TPM transport by tss2-tctildr (device:/dev/tpmrm0);
    # libgcc_s by glibc when one of libcryptsetup's argon2 threads exits (else: abort)
    inst_libdir_file "libtss2-tctildr.so*" "libtss2-tcti-device.so*" "libgcc_s.so*"
    while read -r f; do args+=(-c "$f"); inst_simple "$f"; done < <(volseal_configs)
    [[ -f /etc/volseal/initramfs.conf ]] && inst_simple /etc/volseal/initramfs.conf
    if [[ -r /etc/volseal/initramfs.conf ]]; then
        f=$(. /etc/volseal/initramfs.conf; echo "${VOLSEAL_STATE_MKFS%% *}")
        [[ -n $f ]] && inst_multiple "$f"
    fi
    inst_script "@LIBEXECDIR@/volseal/volseal-initrd"
    inst_simple "@UNITDIR@/volseal-unlock.service" "$systemdsystemunitdir/volseal-unlock.service"
    inst_simple "@UNITDIR@/volseal-cap.service" "$systemdsystemunitdir/volseal-cap.service"
    $SYSTEMCTL -q --root "$initdir" enable volseal-unlock.service volseal-cap.service

    # "enter-initrd" into PCR 11. dracut's systemd-pcrphase module is included only on request and needs
    # tpm2-tools; the service needs nothing but its binary. Without it the script measures the phase.
    if [[ -x $systemdutildir/systemd-pcrphase ]]; then
        inst_multiple "$systemdutildir/systemd-pcrphase" "$systemdsystemunitdir/systemd-pcrphase-initrd.service"
        $SYSTEMCTL -q --root "$initdir" add-wants initrd.target systemd-pcrphase-initrd.service
    else
        mkdir -p "$initdir$unitdir"
        printf '[Service]\nEnvironment=VOLSEAL_PHASE=yes\n' > "$initdir$unitdir/phase.conf"
    fi

    # volseal finds each volume by PARTLABEL when it runs: start it once their partitions are there
    # (Wants=, not Requires=: a missing disk times out and volseal then reports the volume not-found)
    while read -r vol; do ids+=("$vol"); done < <(volseal config show "${args[@]}" 2>/dev/null |
        sed -n 's/^ *"volume":"\([^"]*\)",*$/\1/p')
    if [[ ${#ids[@]} -gt 0 ]]; then
        mkdir -p "$initdir$unitdir"
        {
            echo "[Unit]"
            for vol in "${ids[@]}"; do
                f=$(systemd-escape --path --suffix=device "/dev/disk/by-partlabel/$vol")
                echo "Wants=$f"
                echo "After=$f"
            done
        } > "$initdir$unitdir/volumes.conf"
    fi
}
