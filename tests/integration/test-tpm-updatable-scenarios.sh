#!/usr/bin/env bash
# Updatable tpm slots and recovery keys through `volseal unlock`, `status`, `tpm prepare` and `wipe`, on
# swtpm with real reboots (swtpm/boot) and LUKS2 images checked by the real cryptsetup; the volumes have no
# key but an updatable tpm slot (slot 0) and a recovery key (slot 1) (docs/tpm-updatable.md):
#  install: the first unlock formats STATE with a recovery key written once to --recovery-key-out (mode 0600)
#    and waits for STATE for EPHEMERAL; the second (STATE mounted: --state-dir, the recovery key given)
#    enrols STATE's updatable slot (authority + NV index created) and formats EPHEMERAL; the recovery key
#    opens with `cryptsetup open` typed and with --recovery-key-file, and is in no output, log or file but
#    the one written; it is never overwritten, never made without --recovery-key-out;
#  a boot opens both volumes by tpm (commands counted); a dbx update prepared with `tpm prepare --dbx`
#    (predicted PCR 7, commands counted, unseals nothing) opens by tpm after it is applied; the unlock with
#    --state-dir retires the old state, and rolling dbx back is refused; an unprepared dbx change is
#    refused; an "unknown" prediction refuses and changes nothing;
#  a new UKI signing key added with --add-pcr-public-key opens, the old one still does; removed with
#    --remove-pcr-public-key, the old one is refused; the last key cannot be removed;
#  bad input (a corrupt authority file, a corrupt token, a foreign index at the handle) is refused before
#    anything is written; a lost index is restored and the slot sealed anew by a run with --state-dir;
#  wipe of the last bound volume removes the index and the authority.
. "$(dirname "$0")/../lib/common.sh"
. "$TOP/tests/lib/esl.sh"
. "$TOP/tests/lib/luks.sh"
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/relay.sh"
[ -n "${VOLSEAL_TCTI:-}" ] || fail "run under tests/lib/with-swtpm"
NV=0x01805600
OWNER=11111111-2222-3333-4444-555555555555
flush_all

# --- EFI variables with real signature lists (the predictor reads them), UKIs signed by K1 and by K2
make_efivars 1
openssl x509 -inform DER -in "$T/db.der" -out "$T/db.pem"
# the simulator logs the db authority with its owner GUID (swtpm/boot): the db entry must be that one
cert-to-efi-sig-list -g 77fa9abd-0359-4d32-bd60-28f4e78f784b "$T/db.pem" "$T/db.esl" >/dev/null
hash_esl "$T/dbx.esl" "$(printf one | sha256sum | cut -c1-64)"
hash_esl "$T/update.esl" "$(printf two | sha256sum | cut -c1-64)"
hash_esl "$T/other.esl" "$(printf three | sha256sum | cut -c1-64)"
cat "$T/dbx.esl" "$T/update.esl" > "$T/dbx2.esl"
cat "$T/dbx2.esl" "$T/other.esl" > "$T/dbx3.esl"
setvar db "$T/db.esl"; setvar dbx "$T/dbx.esl"
make_ukis
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/pcr2.key" 2>/dev/null
openssl pkey -in "$T/pcr2.key" -pubout -out "$T/pcr2.pub"
"$VOLSEAL" uki build --stub "$STUB" --linux "$T/vmlinuz1" --initrd "$T/initrd" --cmdline "$T/cmdline" \
  --os-release "$T/os-release" --pcr-key "$T/pcr2.pub" --pcr-sign-key "$T/pcr2.key" -o "$T/uki-k2.efi" >/dev/null
# boot UKI [KEY.pub]: a reboot into UKI, whose .pcrsig is made with KEY (default K1)
boot() { reboot "$1"; cp "${2:-$T/pcr.pub}" "$T/extra/tpm2-pcr-public-key.pem"; }

state_eph_images
volumes_config "$T/c.yaml" "STATE 0:tpm:updatable=true 1:recovery" "EPHEMERAL 0:tpm:updatable=true 1:recovery"
mkdir -p "$T/keys" "$T/state"
RK=$T/keys/recovery.txt
pcr7() { tpm2_pcrread sha256:7 -o "$T/p7" >/dev/null; xxd -p "$T/p7" | tr -d '\n'; }
states() { vol "$1" '.authorized.states | map(."7") | join(" ")'; }
nv_serial() { run_volseal 0 status -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --json \
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"
  vol STATE .authorized.serial; }
detail() { vol "$1" ".slots[] | select(.slot == $2) | .detail"; }
all_output=$T/all-output.txt
keep() { printf '%s\n%s\n' "$OUT" "$ERR" >> "$all_output"; }

# --- install: STATE formatted with the recovery key; EPHEMERAL waits for STATE
boot "$T/uki1.efi"
A=$(pcr7)
tunlock 0 "$T/c.yaml" --recovery-key-out "$RK"; keep
[ "$(vol STATE .state)" = formatted ] && [ "$(vol STATE .opened_by_slot)" = 1 ] || fail "install 1: $OUT"
[ "$(slot_status STATE 0)" = pending ] || fail "STATE slot 0 not pending: $OUT"
contains "$(detail STATE 0)" "waits for a run with --state-dir"
[ "$(vol EPHEMERAL .state)" = waiting-for-state ] || fail "EPHEMERAL did not wait: $OUT"
[ "$(stat -c %a "$RK")" = 600 ] || fail "recovery key file mode $(stat -c %a "$RK")"
grep -Eqx '([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}' "$RK" || fail "recovery key format: $(wc -c < "$RK") bytes"
KEY=$(cat "$RK")
[ "$(slots "$STATE")" = 1 ] && [ "$(kdfs "$STATE")" = argon2id ] || fail "STATE keyslots $(slots "$STATE")"
printf '%s\n' "$KEY" | cryptsetup open --test-passphrase --key-slot 1 "$STATE" || fail "cryptsetup does not open the typed recovery key"
run_volseal 0 config validate -c "$T/c.yaml"
run_volseal 1 config validate --talos -c "$T/c.yaml"
contains "$ERR" "c.yaml:7:"; contains "$ERR" "field encryption.keys[0].tpm.updatable: volseal's updatable tpm slot"
contains "$ERR" "c.yaml:9:"; contains "$ERR" "field encryption.keys[1].recovery: volseal's recovery key"
ok "install, no STATE yet: STATE formatted with the recovery key (file 0600, modhex), the updatable slot waits, EPHEMERAL waits for STATE; config validate --talos names both extensions at their position"

tunlock 0 "$T/c.yaml" --state-dir "$T/state" --recovery-key-file "$RK"; keep
[ "$(vol STATE .opened_by_slot)" = 1 ] && [ "$(slot_status STATE 0)" = added ] || fail "install 2 STATE: $OUT"
[ "$(vol EPHEMERAL .state)" = formatted ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "install 2 EPHEMERAL: $OUT"
[ "$(slot_status EPHEMERAL 1)" = added ] || fail "EPHEMERAL recovery slot: $OUT"
[ "$(stat -c %a "$T/state/volseal-tpm-authority")" = 600 ] || fail "authority file mode"
contains "$(tpm2_nvreadpublic "$NV")" "policywrite|writeall|authread|no_da"
for dev in "$STATE" "$EPH"; do
  [ "$(cryptsetup luksDump --dump-json-metadata "$dev" | jq -r '.tokens["0"].type')" = volseal-tpm2-updatable ] || fail "token of $dev"
  [ "$(cryptsetup luksDump --dump-json-metadata "$dev" | jq -r '.tokens | length')" = 1 ] || fail "a token for the recovery slot on $dev"
done
[ "$(states STATE)" = "$A" ] && [ "$(vol STATE '.authorized.keys | length')" = 1 ] || fail "authorized set: $OUT"
printf '%s\n' "$KEY" | cryptsetup open --test-passphrase --key-slot 1 "$EPH" || fail "EPHEMERAL's recovery slot"
ok "STATE mounted: STATE's updatable slot enrolled (authority 0600, NV index $NV with the booted key and PCR 7), EPHEMERAL formatted with both keys"

# --- a boot: both volumes open by tpm; the commands of an updatable unlock
boot "$T/uki1.efi"
relay_start "$T/capture.bin" "$T/commands.txt"
tunlock 0 "$T/c.yaml"; keep
cmds=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
export VOLSEAL_TCTI=$TPM2TOOLS_TCTI
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "boot: $OUT"
case $(slot_status STATE 1) in not-tried|not-checked) ;; *) fail "recovery slot without its key: $OUT" ;; esac
count() { grep -o "\b$1\b" <<<"$cmds" | wc -l; }
echo "# unlock of 2 updatable volumes ($(wc -w <<<"$cmds")): $cmds"
[ "$(count NV_Read)" = 1 ] && [ "$(count NV_ReadPublic)" = 1 ] && [ "$(count StartAuthSession)" = 1 ] &&
  [ "$(count CreatePrimary)" = 0 ] && [ "$(count Unseal)" = 2 ] && [ "$(wc -w <<<"$cmds")" -le 23 ] ||
  fail "an unlock of 2 updatable volumes: $cmds"
ok "a boot opens both volumes by tpm: $(wc -w <<<"$cmds") TPM commands, the NV index read once, one session"

# --- a dbx update prepared on the running system, applied, booted
serial=$(nv_serial)
relay_start "$T/capture.bin" "$T/commands.txt"
run_volseal 0 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --dbx "$T/update.esl" \
  --eventlog "$T/eventlog.bin" --json; keep
cmds=$("$TOP/tests/lib/tpm-names" < "$T/commands.txt")
export VOLSEAL_TCTI=$TPM2TOOLS_TCTI
echo "# prepare ($(wc -w <<<"$cmds")): $cmds"
for c in Unseal Load CreatePrimary PolicyPCR PolicyAuthorizeNV; do not_contains " $cmds " " $c "; done
[ "$(count NV_Write)" = 1 ] || fail "prepare: $cmds"
B=$(vol STATE '.authorized.states[1]."7"')
[ "$(vol STATE '.authorized.states | length')" = 2 ] && [ "$(vol STATE '.authorized.states[0]."7"')" = "$A" ] &&
  [ "$(vol STATE .bound)" = true ] && [ "$(vol EPHEMERAL .bound)" = true ] || fail "prepare JSON: $OUT"
setvar dbx "$T/dbx2.esl"
boot "$T/uki1.efi"
[ "$(pcr7)" = "$B" ] || fail "the booted PCR 7 $(pcr7) is not the prepared $B"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "after the dbx update: $OUT"
[ "$(states STATE)" = "$A $B" ] || fail "the old state retired without --state-dir: $OUT"
tunlock 0 "$T/c.yaml" --state-dir "$T/state"; keep
nv_serial >/dev/null
[ "$(states STATE)" = "$B" ] || fail "the old state was not retired: $OUT"
ok "dbx update: prepare predicts PCR 7 ($(wc -w <<<"$cmds") commands, no unseal), the next boot opens by tpm, the unlock with --state-dir retires the old state"

setvar dbx "$T/dbx.esl"
boot "$T/uki1.efi"
tunlock 2 "$T/c.yaml"; keep
[ "$(vol STATE .state)" = not-opened ] || fail "rollback: $OUT"
contains "$(detail STATE 0)" "hold none of the 1 authorized states"
tunlock 3 "$T/c.yaml" --recovery-key-file "$RK"; keep
[ "$(vol STATE .opened_by_slot)" = 1 ] && [ "$(slot_status STATE 0)" = failed ] || fail "rollback, recovery: $OUT"
ok "dbx rolled back: the retired state is refused; the recovery key opens, the updatable slot is left as it is"

setvar dbx "$T/dbx3.esl"
boot "$T/uki1.efi"
tunlock 2 "$T/c.yaml"; keep
contains "$(detail EPHEMERAL 0)" "an update that was not prepared"
cert-to-efi-sig-list -g "$OWNER" "$T/db.pem" "$T/revoke-db.esl" >/dev/null # revokes what verified the UKI
serial=$(nv_serial)
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --dbx "$T/revoke-db.esl" \
  --eventlog "$T/eventlog.bin"; keep
contains "$ERR" "prediction is unknown"
[ "$(nv_serial)" = "$serial" ] || fail "an unknown prediction wrote the index"
ok "an unprepared dbx change is refused; an \"unknown\" prediction refuses and writes nothing"

# the operator checked the change was theirs and authorizes the state the machine is in with --pcr 7=HEX;
# the booted state was not authorized, so nothing retires (B stays until a boot in an authorized state)
C=$(pcr7)
run_volseal 0 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "7=$C" --json; keep
[ "$(states STATE)" = "$B $C" ] || fail "--pcr 7=HEX: $OUT"
boot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "after --pcr 7=HEX: $OUT"
[ "$(states STATE)" = "$B $C" ] || fail "a state retired without --state-dir: $OUT"
ok "--pcr 7=HEX authorizes the given state: the next boot in it opens by tpm"

# --- no STATE, no TPM: exit 4, nothing written
serial=$(nv_serial)
mkdir -p "$T/not-state"
run_volseal 4 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/not-state" --pcr "7=$C"; keep
contains "$ERR" "volseal-tpm-authority"
run_volseal 4 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "7=$C" \
  --tcti "swtpm:host=127.0.0.1,port=1"; keep
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "11=$C"; keep
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state"; keep
[ "$(nv_serial)" = "$serial" ] || fail "a refused prepare wrote the index"
ok "prepare exits 4 without an authority on --state-dir or without a TPM, 1 on usage errors; nothing is written"

# --- a new UKI signing key: added, both open; the old one removed, refused; the last one stays
# (this prepare, booted in C, also retires B: cleanup at the next prepare)
boot "$T/uki1.efi"
run_volseal 0 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --add-pcr-public-key "$T/pcr2.pub" --json; keep
[ "$(vol STATE '.authorized.keys | length')" = 2 ] || fail "add key: $OUT"
[ "$(states STATE)" = "$C" ] || fail "the next prepare did not retire the superseded state: $OUT"
boot "$T/uki-k2.efi" "$T/pcr2.pub"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "UKI signed by K2: $OUT"
boot "$T/uki1.efi"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "UKI signed by K1 after K2 was added: $OUT"
run_volseal 0 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --remove-pcr-public-key "$T/pcr.pub"; keep
boot "$T/uki1.efi"
tunlock 2 "$T/c.yaml"; keep
contains "$(detail STATE 0)" "not one of the 1 keys authorized"
boot "$T/uki-k2.efi" "$T/pcr2.pub"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] || fail "K2 after K1 was removed: $OUT"
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --remove-pcr-public-key "$T/pcr2.pub"; keep
contains "$ERR" "only authorized PCR-policy key"
ok "key rotation: K2 added opens and K1 still does; K1 removed is refused, K2 opens; the last key cannot be removed"

# --- bad input is refused before anything is written
serial=$(nv_serial)
cp "$T/state/volseal-tpm-authority" "$T/authority.good"
sed -i 's/^nv_index: .*/nv_index: 0x0180560/' "$T/state/volseal-tpm-authority"
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "7=$(pcr7)"; keep
contains "$ERR" "volseal-tpm-authority:"
cp "$T/authority.good" "$T/state/volseal-tpm-authority"
[ "$(nv_serial)" = "$serial" ] || fail "a corrupt authority file let prepare write"
sum=$(header_sum "$EPH")
cryptsetup token export --token-id 0 "$EPH" | jq -c '.nv_name = "000b00"' > "$T/bad-token.json"
cp "$EPH" "$T/eph.good"
cryptsetup token remove --token-id 0 "$EPH"
cryptsetup token import --token-id 0 --key-slot 0 "$EPH" < "$T/bad-token.json"
sum=$(header_sum "$EPH")
tunlock 2 "$T/c.yaml" --state-dir "$T/state"; keep
contains "$(detail EPHEMERAL 0)" "nv_name is not a SHA-256 Name"
[ "$(header_sum "$EPH")" = "$sum" ] || fail "a corrupt token changed the header"
cp "$T/eph.good" "$EPH"
ok "a corrupt authority file (prepare) and a corrupt token (unlock) are refused; nothing is written"

# an attacker replaces the index with one they can write: refused by unlock and prepare, nothing written
W=$(tpm2_nvreadpublic "$NV" | sed -n 's/^ *authorization policy: //p')
printf '%s' "$W" | xxd -r -p > "$T/w.pol"
tpm2_nvundefine -C o "$NV"
tpm2_nvdefine -C o -s 442 -a "policywrite|authwrite|writeall|authread|no_da" -L "$T/w.pol" "$NV" >/dev/null
head -c 442 /dev/urandom > "$T/garbage"; tpm2_nvwrite -C "$NV" -i "$T/garbage" "$NV"
boot "$T/uki-k2.efi" "$T/pcr2.pub"
tunlock 2 "$T/c.yaml"; keep
contains "$(detail STATE 0)" "not the index this slot is bound to"
run_volseal 1 tpm prepare -c "$T/c.yaml" "${VOLUMES[@]}" --state-dir "$T/state" --pcr "7=$(pcr7)"; keep
[ "$(tpm2_nvread "$NV" | sha256sum)" = "$(sha256sum < "$T/garbage")" ] || fail "the foreign index was written"
ok "a foreign index at volseal's handle: unlock and prepare refuse it, nothing is written to it"

# the index gone: the recovery key opens, the run with --state-dir defines it anew and seals the slots anew
tpm2_nvundefine -C o "$NV"
tunlock 0 "$T/c.yaml" --state-dir "$T/state" --recovery-key-file "$RK"; keep
# STATE's slot is sealed anew; the index the authority defines again has the same Name, so EPHEMERAL's
# (processed after STATE) unseals with it as it is
[ "$(vol STATE .opened_by_slot)" = 1 ] && [ "$(slot_status STATE 0)" = replaced ] &&
  [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "index lost: $OUT"
boot "$T/uki-k2.efi" "$T/pcr2.pub"
tunlock 0 "$T/c.yaml"; keep
[ "$(vol STATE .opened_by_slot)" = 0 ] && [ "$(vol EPHEMERAL .opened_by_slot)" = 0 ] || fail "after the index was restored: $OUT"
ok "a lost index: the recovery key opens, the authority defines the index anew with the booted key and state, STATE's slot is sealed anew; both open by tpm at the next boot"

# --- the recovery key: typed forms, never overwritten, never made silently, nowhere else
tr 'a-z' 'A-Z' < "$RK" | tr -d '-' > "$T/typed.txt"
tunlock 0 "$T/c.yaml" --recovery-key-file "$T/typed.txt" --full-sync; keep
[ "$(slot_status STATE 1)" = ok ] || fail "the recovery key typed in capitals without dashes: $OUT"
U=$(img user)
VOLUMES+=(--volume "u-data=$U")
{ cat "$T/c.yaml"; printf -- '---\napiVersion: v1alpha1\nkind: UserVolumeConfig\nname: data\nencryption:\n  provider: luks2\n  keys:\n    - slot: 0\n      tpm: {updatable: true}\n    - slot: 1\n      recovery: {}\n'; } > "$T/c2.yaml"
rksum=$(sha256sum < "$RK")
tunlock 0 "$T/c2.yaml" --state-dir "$T/state" --recovery-key-out "$RK"; keep
[ "$(vol u-data .state)" = formatted ] && [ "$(slot_status u-data 1)" = pending ] || fail "u-data: $OUT"
contains "$(detail u-data 1)" "never overwrites a recovery key file"
[ "$(sha256sum < "$RK")" = "$rksum" ] || fail "the recovery key file was overwritten"
tunlock 0 "$T/c2.yaml" --state-dir "$T/state"; keep
contains "$(detail u-data 1)" "made only when --recovery-key-out"
run_volseal 0 unlock -c "$T/c2.yaml" "${VOLUMES[@]}" --check --json --product-uuid-file "$T/product_uuid" --pbkdf-time 100 \
  --state-dir "$T/state" --recovery-key-out "$T/keys/data.txt" \
  --pcr-signature "$T/extra/tpm2-pcr-signature.json" --pcr-public-key "$T/extra/tpm2-pcr-public-key.pem"; keep
[ "$(slot_status u-data 1)" = added ] || fail "u-data recovery: $OUT"
[ "$(cryptsetup luksDump --dump-json-metadata "$U" | jq -r '.keyslots["1"].kdf.type')" = argon2id ] &&
  [ "$(cryptsetup luksDump --dump-json-metadata "$U" | jq -r '.keyslots["1"].kdf.memory')" -gt 32 ] ||
  fail "the recovery keyslot is not a benchmarked argon2id"
printf '%s\n' "$(cat "$T/keys/data.txt")" | cryptsetup open --test-passphrase --key-slot 1 "$U" || fail "u-data recovery key"
cp "$RK" "$T/rk.secret"; cp "$T/keys/data.txt" "$T/rk2.secret"
for f in "$T/rk.secret" "$T/rk2.secret"; do tr -d '\n' < "$f" > "$f.t"; mv "$f.t" "$f"; done
. "$TOP/tests/lib/hygiene.sh"
scan "recovery keys in output, state, images and the TPM traffic" "$all_output" "$T/state" "$STATE" "$EPH" "$U" \
  "$T/capture.bin" "$VOLSEAL_MEASURE_LOG" -- "$T/rk.secret" "$T/rk2.secret"
printf 'x %s y' "$(cat "$T/rk.secret")" > "$T/planted"
scan_must_find "planted recovery key" "$T/planted" -- "$T/rk.secret"
ok "the recovery key opens typed in capitals without dashes; a new volume never overwrites the file and never makes one without --recovery-key-out; its keyslot is a benchmarked argon2id; no key is in any output, file, image or the TPM traffic"

# --- --db and --kek: the prepared state is pcr/'s prediction with that file appended
openssl req -new -x509 -newkey rsa:2048 -nodes -subj /CN=db2/ -keyout /dev/null -out "$T/db2.crt" -days 30 2>/dev/null
cert-to-efi-sig-list -g "$OWNER" "$T/db2.crt" "$T/db2.esl" >/dev/null
# `pcr predict` replaces db and KEK: it is given the current list with db2 appended (KEK made a real
# signature list first; prepare predicts the next boot from the variables as they are now)
hash_esl "$T/kek.esl" "$(printf kek | sha256sum | cut -c1-64)"; setvar KEK "$T/kek.esl"
for v in db kek; do
  var=$(ls "$T/efivars" | grep -i "^$v-")
  { tail -c +5 "$T/efivars/$var"; cat "$T/db2.esl"; } > "$T/$v-appended.esl"
  run_volseal 0 pcr predict --pcr 7 --eventlog "$T/eventlog.bin" "--$v" "$T/$v-appended.esl" --json
  want=$(jq -r .predicted.sha256 <<<"$OUT")
  run_volseal 0 tpm prepare -c "$T/c2.yaml" "${VOLUMES[@]}" --state-dir "$T/state" "--$v" "$T/db2.esl" \
    --eventlog "$T/eventlog.bin" --json; keep
  [ "$(vol STATE '.authorized.states[-1]."7"')" = "$want" ] && [ "$want" != "$(pcr7)" ] || fail "--$v: $want, $OUT"
done
ok "--db and --kek prepare pcr/'s prediction of PCR 7 with the file appended"

# --- wipe: the index and the authority go with the last volume bound to them (or with STATE), only then
cp "$U" "$T/user.keep"
run_volseal 0 wipe u-data --volume "u-data=$U" --yes -c "$T/c2.yaml" --state-dir "$T/state"
contains "$OUT" "NV index $NV kept: a volume of the config could not be read"
cp "$T/user.keep" "$U"
run_volseal 0 wipe u-data --volume "u-data=$U" "${VOLUMES[@]}" --yes -c "$T/c2.yaml" --state-dir "$T/state"
contains "$OUT" "NV index $NV kept: another volume is bound to it"
run_volseal 0 wipe EPHEMERAL --volume "EPHEMERAL=$EPH" "${VOLUMES[@]}" --yes -c "$T/c2.yaml" --state-dir "$T/state"
contains "$OUT" "NV index $NV kept: another volume is bound to it"
contains "$(tpm2_getcap handles-nv-index)" "0x1805600"  # tpm2_getcap drops the leading zero
[ -e "$T/state/volseal-tpm-authority" ] || fail "the authority went while a volume is bound to its index"
run_volseal 0 wipe STATE --volume "STATE=$STATE" "${VOLUMES[@]}" --yes -c "$T/c2.yaml" --state-dir "$T/state"
contains "$OUT" "removed NV index $NV"
contains "$OUT" "removed the authority"
not_contains "$(tpm2_getcap handles-nv-index)" "0x1805600"  # tpm2_getcap drops the leading zero
[ ! -e "$T/state/volseal-tpm-authority" ] || fail "the authority is still there"
ok "wipe keeps the index and the authority while another volume is bound to them (or one cannot be read), and removes both with the last one"
done_testing
