#!/usr/bin/env bash
# dist/update/volseal-update, the hook that prepares updatable tpm slots before a dbx/db/KEK update is
# applied (docs/tpm-updatable.md "Updates by fwupd and dbxtool"), on swtpm with a node installed with
# updatable + recovery slots only; the appliers are stand-ins that append to the EFI variable as the
# firmware does:
#  with /etc/volseal/update.conf (here $VOLSEAL_UPDATE_CONF): the update is prepared, then applied, and the
#    next boot opens by tpm; an update whose PCR 7 cannot be predicted is not applied (exit 1), nor is
#    any update without STATE (exit 4);
#  --dbxtool-dir: dbxtool.service's directory, each update prepared and applied in turn, the next boot opens
#    by tpm; an unpredictable one stops there, the updates after it are not applied;
#  without the settings file the applier runs as it would without volseal.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/esl.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/updatable.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
HOOK=$TOP/dist/update/volseal-update
flush_all
updatable_install

# the stand-in appliers: `apply-dbx FILE` and `dbxtool --apply FILE` append FILE's hashes to dbx
cat > "$T/apply-dbx" <<EOS
#!/bin/sh
[ "\$1" = --apply ] && shift
echo "\$1" >> "$T/applied"
{ tail -c +5 "$T/efivars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f"; cat "\$1"; } > "$T/dbx.new"
{ printf '\047\000\000\000'; cat "$T/dbx.new"; } > "$T/efivars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f"
EOS
chmod +x "$T/apply-dbx"
export DBXTOOL=$T/apply-dbx VOLSEAL_UPDATE_CONF=$T/update.conf
cat > "$T/update.conf" <<EOS
VOLSEAL_CONFIG="$T/c.yaml"
VOLSEAL_STATE_DIR="$T/state"
VOLSEAL_PREPARE_ARGS="${VOLUMES[*]} --eventlog $T/eventlog.bin"
EOS
hook() { # EXPECTED-EXIT ARGS...
  local want=$1; shift
  set +e; "$HOOK" "$@" >"$T/out" 2>"$T/err"; local rc=$?; set -e
  OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  [ "$rc" = "$want" ] || fail "volseal-update $* exited $rc, wanted $want: $OUT $ERR"
}

# --- one update through the wrapper
hook 0 --dbx "$T/update.esl" -- "$T/apply-dbx" "$T/update.esl"
[ "$(cat "$T/applied")" = "$T/update.esl" ] || fail "the update was not applied"
set -- $(states)
[ $# = 2 ] && [ "$1" = "$A" ] || fail "not prepared: $*"
reboot "$T/uki1.efi"
B=$(pcr7)
tunlock 0 "$T/c.yaml" --state-dir "$T/state"
opened_by 0 || fail "the boot after the hook's update: $OUT"
[ "$(states)" = "$B" ] || fail "the booted state is not the prepared one: $(states) / $B"
ok "the wrapper prepares, then applies; the next boot opens by tpm"

# --- refused: nothing applied
cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 "$T/db.pem" "$T/revoke.esl" >/dev/null
rm -f "$T/applied"
hook 1 --dbx "$T/revoke.esl" -- "$T/apply-dbx" "$T/revoke.esl"
contains "$ERR" "the update is not applied"
[ ! -e "$T/applied" ] || fail "an unpredictable update was applied"
sed 's|^VOLSEAL_STATE_DIR=.*|VOLSEAL_STATE_DIR="'"$T"'/not-mounted"|' "$T/update.conf" > "$T/update-nostate.conf"
mkdir -p "$T/not-mounted"
hash_esl "$T/update3.esl" "$(printf three | sha256sum | cut -c1-64)"
VOLSEAL_UPDATE_CONF=$T/update-nostate.conf hook 4 --dbx "$T/update3.esl" -- "$T/apply-dbx" "$T/update3.esl"
[ ! -e "$T/applied" ] || fail "an update was applied without STATE"
[ "$(states)" = "$B" ] || fail "a refused update changed the index: $(states)"
ok "an unpredictable update (exit 1) and one without STATE (exit 4) are not applied; the index is unchanged"

# --- dbxtool.service's directory: each update prepared, then applied, in name order
mkdir -p "$T/dbxtool"
cp "$T/update3.esl" "$T/dbxtool/DBXUpdate-1.bin"
hash_esl "$T/dbxtool/DBXUpdate-2.bin" "$(printf four | sha256sum | cut -c1-64)"
hook 0 --dbxtool-dir "$T/dbxtool"
[ "$(wc -l < "$T/applied")" = 2 ] || fail "dbxtool applied $(cat "$T/applied")"
[ "$(states | wc -w)" = 3 ] || fail "--dbxtool-dir prepared: $(states)"
reboot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"
opened_by 0 || fail "the boot after two dbxtool updates: $OUT"
mkdir -p "$T/dbxtool2"
hash_esl "$T/dbxtool2/DBXUpdate-1.bin" "$(printf five | sha256sum | cut -c1-64)"
cp "$T/revoke.esl" "$T/dbxtool2/DBXUpdate-2.bin"
hash_esl "$T/dbxtool2/DBXUpdate-3.bin" "$(printf six | sha256sum | cut -c1-64)"
rm -f "$T/applied"
hook 1 --dbxtool-dir "$T/dbxtool2"
contains "$ERR" "DBXUpdate-2.bin: not applied"
[ "$(cat "$T/applied")" = "$T/dbxtool2/DBXUpdate-1.bin" ] || fail "applied around a refusal: $(cat "$T/applied")"
ok "--dbxtool-dir prepares and applies each update in turn (the next boot opens by tpm) and stops at the first it cannot predict"

# --- without the settings: the applier runs as without volseal
rm -f "$T/applied"
VOLSEAL_UPDATE_CONF=$T/none hook 0 --dbx "$T/update3.esl" -- "$T/apply-dbx" "$T/update3.esl"
[ -s "$T/applied" ] || fail "without settings the applier did not run"
hook 1 --bogus
ok "without update.conf the applier runs unprepared; a usage error exits 1"
done_testing
