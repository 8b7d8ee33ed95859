#!/usr/bin/env bash
# dist/ (docs/boot-integration.md): the initramfs-tools scripts are POSIX sh (dash), answer `prereqs`, and
# `meson install` puts the hook, the local-top script, volseal-initrd and the two units (ExecStart pointing
# at the installed script) where initramfs-tools and systemd look. The scripts' behaviour in a real boot is
# the vm suite's (tests/vm).
. "$(dirname "$0")/../lib/common.sh"
D=$TOP/dist
for s in initramfs-tools/hooks/volseal initramfs-tools/scripts/local-top/volseal; do
  dash -n "$D/$s" || fail "$s is not valid POSIX sh"
  [ -x "$D/$s" ] || fail "$s is not executable"
  [ "$(dash "$D/$s" prereqs)" = "" ] || fail "$s prereqs printed something"
done
ok "hook and local-top script: dash -n, executable, prereqs"
out=$(dash "$D/initramfs-tools/scripts/local-top/volseal" bogus 2>&1) && fail "an unknown mode exited 0"
contains "$out" "usage:"
ok "an unknown mode is refused with usage"
BUILD=$(cd "$(dirname "$VOLSEAL")/.." && pwd)
meson install -C "$BUILD" --no-rebuild --destdir "$T/dest" > "$T/install.log" 2>&1 || fail "meson install: $(tail -5 "$T/install.log")"
hook=$(find "$T/dest" -path '*/share/initramfs-tools/hooks/volseal')
lt=$(find "$T/dest" -path '*/share/initramfs-tools/scripts/local-top/volseal')
initrd=$(find "$T/dest" -path '*/libexec/volseal/volseal-initrd')
unit=$(find "$T/dest" -name volseal-unlock.service)
cap=$(find "$T/dest" -name volseal-cap.service)
for f in "$hook" "$lt" "$initrd" "$unit" "$cap"; do [ -n "$f" ] && [ -f "$f" ] || fail "missing in the install: $(cd "$T/dest" && find . -type f)"; done
[ -x "$hook" ] && [ -x "$lt" ] && [ -x "$initrd" ] || fail "installed scripts are not executable"
cmp -s "$lt" "$initrd" || fail "volseal-initrd differs from the local-top script"
contains "$hook" "/usr/share/initramfs-tools/hooks/volseal"
prefix=$(meson introspect "$BUILD" --buildoptions | jq -r '.[] | select(.name == "prefix") | .value')
libexec=$(meson introspect "$BUILD" --buildoptions | jq -r '.[] | select(.name == "libexecdir") | .value')
grep -qx "ExecStart=$prefix/$libexec/volseal/volseal-initrd unlock" "$unit" || fail "unlock unit: $(grep ExecStart "$unit")"
grep -qx "ExecStart=$prefix/$libexec/volseal/volseal-initrd cap" "$cap" || fail "cap unit: $(grep ExecStart "$cap")"
grep -q '^Before=.*cryptsetup.target' "$unit" || fail "volseal-unlock.service is not ordered before cryptsetup.target"
grep -q '^After=.*cryptsetup.target' "$cap" || fail "volseal-cap.service is not ordered after cryptsetup.target"
ok "meson install: hook and local-top in /usr/share/initramfs-tools, volseal-initrd = local-top, units run it"
done_testing
