# luks.sh: sourced by the lifecycle tests after common.sh. Image files, the real cryptsetup binary as the
# second opinion, and the Talos header check run on every header volseal writes.
# Tests never use the benchmarked argon2id (~1 GiB, 2 s): FAST pins it to 32 KiB / 4 iterations.
FAST=(--pbkdf-memory 32 --pbkdf-iterations 4)
HEADER_CHECK="$TOP/tests/lib/talos-header-check"
echo 4c4c4544-0042-3510-8052-b4c04f4e3232 >"$T/product_uuid"
UUID=$(cat "$T/product_uuid")

img() { rm -f "$T/$1.img"; truncate -s 20M "$T/$1.img"; echo "$T/$1.img"; }

# unlock EXPECTED-EXIT CONFIG [ARGS...]: `volseal unlock --check --json` on the images in $VOLUMES, then the
# Talos header check on every LUKS image among them.
unlock() {
  local want=$1 cfg=$2; shift 2
  run_volseal "$want" unlock -c "$cfg" "${VOLUMES[@]}" --check --json --product-uuid-file "$T/product_uuid" "${FAST[@]}" "$@"
  check_headers
}
check_headers() {
  local v dev
  for v in "${VOLUMES[@]}"; do
    [[ $v == --volume ]] && continue
    dev=${v#*=}
    if cryptsetup isLuks --type luks2 "$dev" 2>/dev/null; then
      "$HEADER_CHECK" "$dev" >/dev/null || fail "Talos would reject the header of $dev: $("$HEADER_CHECK" "$dev")"
    fi
  done
}

# vol ID FIELD: a field of volume ID's JSON line in $OUT (jq expression on the object).
vol() { printf '%s\n' "$OUT" | jq -c -r --arg id "$1" "select(.volume == \$id) | $2"; }
# slot_status ID SLOT
slot_status() { vol "$1" ".slots[] | select(.slot == $2) | .status"; }

# opens DEVICE SLOT PASSPHRASE: the real cryptsetup opens keyslot SLOT (only that slot) with it.
opens() { printf '%s' "$3" | cryptsetup open --test-passphrase --key-slot "$2" "$1" --key-file - 2>/dev/null; }
opens_salted() { # DEVICE SLOT PASSPHRASE SALTFILE: passphrase followed by the 32 raw salt bytes
  { printf '%s' "$3"; /usr/bin/python3 -c 'import sys,yaml; sys.stdout.buffer.write(bytes(yaml.safe_load(open(sys.argv[1]))["diskSalt"]))' "$4"; } |
    cryptsetup open --test-passphrase --key-slot "$2" "$1" --key-file - 2>/dev/null
}
# slots DEVICE: the active keyslot numbers, space-separated, from the real luksDump.
slots() { cryptsetup luksDump --dump-json-metadata "$1" | jq -r '.keyslots | keys | map(tonumber) | sort | map(tostring) | join(" ")'; }
tokens() { cryptsetup luksDump --dump-json-metadata "$1" | jq -r '.tokens | keys | map(tonumber) | sort | map(tostring) | join(" ")'; }
kdfs() { cryptsetup luksDump --dump-json-metadata "$1" | jq -r '[.keyslots[].kdf.type] | unique | join(" ")'; }
digest_iterations() { cryptsetup luksDump --dump-json-metadata "$1" | jq -r '.digests["0"].iterations'; }
# header_facts DEVICE: "keyslots=0 1 tokens=0 digest=..." from one luksDump of the real cryptsetup (the
# digest is the volume key's: unchanged means the data key, and so the data, is the same).
header_facts() {
  cryptsetup luksDump --dump-json-metadata "$1" | jq -r '"keyslots=" + (.keyslots | keys | map(tonumber) | sort |
    map(tostring) | join(" ")) + " tokens=" + (.tokens | keys | map(tonumber) | sort | map(tostring) | join(" ")) +
    " digest=" + .digests["0"].digest'
}
# header_subsystem DEVICE: the LUKS2 header's subsystem field (volseal's sync fingerprint, or
# volseal-formatting until the first key is complete), from the real cryptsetup
header_subsystem() { cryptsetup luksDump "$1" | sed -n 's/^Subsystem:[[:space:]]*//p'; }
header_sum() { head -c 16M "$1" | sha256sum | cut -d' ' -f1; }
image_sum() { sha256sum <"$1" | cut -d' ' -f1; }

# config FILE: writes a config from stdin.
config() { cat >"$1"; }
