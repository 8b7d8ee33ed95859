#!/usr/bin/env bash
# The swtpm fixture itself: a restart on the same state is a reboot (PCRs reset, persistent keys kept),
# stop stops exactly that instance.
. "$(dirname "$0")/../lib/common.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
contains "$VOLSEAL_TCTI" "swtpm:host=127.0.0.1,port="
pcr11() { tpm2_pcrread sha256:11 | awk '/11 *:/ {print $NF}'; }
zero=0x0000000000000000000000000000000000000000000000000000000000000000
[ "$(pcr11)" = "$zero" ] || fail "PCR 11 not zero on a fresh TPM"
tpm2_pcrextend 11:sha256=$(printf enter-initrd | sha256sum | cut -d' ' -f1)
[ "$(pcr11)" != "$zero" ] || fail "extend did not change PCR 11"
tpm2_createprimary -C o -c "$T/primary.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$T/primary.ctx" 0x81000010 >/dev/null
tpm2_flushcontext -t
ok "extended PCR 11 and persisted a key"

"$VOLSEAL_TOP/swtpm/stop" "$SWTPM_PIDFILE"
[ ! -e "$SWTPM_PIDFILE" ] || fail "pid file left behind"
eval "$("$VOLSEAL_TOP/swtpm/start" "$SWTPM_STATE" --env)"
export TPM2TOOLS_TCTI=$VOLSEAL_TCTI
[ "$(pcr11)" = "$zero" ] || fail "PCR 11 survived a reboot"
tpm2_getcap handles-persistent | grep -qi 0x81000010 || fail "persistent key lost across reboot"
ok "restart on the same state is a reboot"
done_testing
