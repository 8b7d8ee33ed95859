#!/usr/bin/env bash
# corpus.sh: the Talos conformance corpus (tests/talos/table.jsonl). Each row names a fixture in configs/,
# the Talos source or test it mirrors, Talos's verdict (talos_valid) and, for a valid config, what it means:
# every volume's ID, kind, type, encryption (provider, cipher, sizes, options) and keys (slot, kind, PCRs).
# volseal must agree: `volseal config show --json` prints the same meaning, or `volseal config validate`
# refuses with each listed error. Where volseal deliberately differs (docs/talos.md), volseal_valid says
# so; talos_flag_valid is the verdict of `--talos`, which refuses volseal's extensions.
. "$(dirname "$0")/../lib/common.sh"
DIR="$TOP/tests/talos"
command -v jq >/dev/null || fail "jq is required"

# What `config show --json` says, in the table's shape.
meaning='[.[] | {volume, kind, type, encrypted}
          + (if .encryptionFrom then {encryptionFrom} else {} end)
          + (if .encrypted then {provider: .encryption.provider, cipher: .encryption.cipher, keySize: .encryption.keySize,
                                 blockSize: .encryption.blockSize, options: .encryption.options,
                                 allowDiscards: .encryption.allowDiscards, keys: .encryption.keys} else {} end)]'

check_errors() { # ROW STDERR WHAT
  local frag
  while IFS= read -r frag; do
    [ -n "$frag" ] || continue
    [[ "$2" == *"$frag"* ]] || fail "$3: expected '$frag' in: $2"
  done < <(jq -r '.errors[]?' <<<"$1")
}

rows=0
while IFS= read -r row; do
  fixture=$(jq -r .fixture <<<"$row")
  file="$DIR/$fixture"
  [ -f "$file" ] || fail "$fixture: no such fixture"
  head -c 2 "$file" | grep -q '#' || fail "$fixture: names no Talos source in its header"
  talos=$(jq -r '.talos_valid' <<<"$row")
  want=$(jq -r 'if has("volseal_valid") then .volseal_valid else .talos_valid end' <<<"$row")
  want_flag=$(jq -r 'if has("talos_flag_valid") then .talos_flag_valid elif has("volseal_valid") then .volseal_valid
                     else .talos_valid end' <<<"$row")
  set +e
  out=$("$VOLSEAL" config show -c "$file" --json 2>"$T/err"); rc=$?
  set -e
  err=$(cat "$T/err")
  if [ "$want" = true ]; then
    [ $rc = 0 ] || fail "$fixture: volseal refuses a config it should accept (Talos: $talos): $err"
    got=$(jq -S -c "$meaning" <<<"$out")
    exp=$(jq -S -c '.volumes' <<<"$row")
    [ "$got" = "$exp" ] || fail "$fixture: meaning differs from Talos's
  volseal: $got
  table:   $exp"
  else
    [ $rc = 1 ] || fail "$fixture: volseal accepts (rc $rc) a config it should refuse: $out"
    [ -z "$out" ] || fail "$fixture: output on refusal: $out"
    check_errors "$row" "$err" "$fixture"
    [[ "$err" =~ $(basename "$file"):[0-9]+ ]] || fail "$fixture: the refusal names no FILE:LINE: $err"
  fi
  set +e
  "$VOLSEAL" config validate --talos -c "$file" >/dev/null 2>"$T/err"; rc=$?
  set -e
  if [ "$want_flag" = true ]; then
    [ $rc = 0 ] || fail "$fixture: --talos refuses it: $(cat "$T/err")"
  else
    [ $rc = 1 ] || fail "$fixture: --talos accepts it"
    [ "$want" = true ] && check_errors "$row" "$(cat "$T/err")" "$fixture --talos"
  fi
  rows=$((rows + 1))
done < "$DIR/table.jsonl"
[ $rows -ge 40 ] || fail "only $rows rows read"
ok "$rows corpus rows: volseal's verdict and meaning are Talos's (and --talos refuses the extensions)"

# Every Talos testdata config of the block volume kinds has its fixture.
for f in volumeconfig_empty volumeconfig_diskselector volumeconfig_maxsize volumeconfig_negativemaxsize volumeconfig_xfs \
         volumeconfig_state volumeconfig_tpm_encryption_no_options volumeconfig_tpm_encryption_with_pcr_settings \
         volumeconfig_tpm_encryption_with_pcrs_disabled uservolumeconfig_diskselector uservolumeconfig_encrypted \
         uservolumeconfig_prjquota uservolumeconfig_xfs rawvolumeconfig_diskselector rawvolumeconfig_encrypted \
         swapvolumeconfig_diskselector swapvolumeconfig_encrypted; do
  grep -q "\"configs/talos-$f.yaml\"" "$DIR/table.jsonl" || fail "no row for Talos's testdata/$f.yaml"
done
ok "all 17 Talos testdata configs of VolumeConfig, UserVolumeConfig, RawVolumeConfig, SwapVolumeConfig are in the table"

# A refused config touches nothing: validate never opens a device, and unlock stops before any volume.
img="$T/disk.img"
truncate -s 16M "$img"
sum=$(sha256sum "$img")
set +e
"$VOLSEAL" unlock -c "$DIR/configs/provider-missing.yaml" --volume "u-data=$img" --check >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "unlock with a refused config exited $rc: $(cat "$T/err")"
[ "$(sha256sum "$img")" = "$sum" ] || fail "a refused config changed the disk"
contains "$(cat "$T/err")" "provider-missing.yaml:"
ok "a refused config exits 1 naming FILE:LINE and leaves the disk untouched"
done_testing
