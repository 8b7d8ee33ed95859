# volumes.sh: sourced by the lifecycle tests after common.sh (state_eph_images also needs luks.sh's img).
# The STATE + EPHEMERAL image pair most boots start from, and machine configs written from one line per
# VolumeConfig document, so each test spells only the keys it is about.

# state_eph_images: fresh empty STATE and EPHEMERAL images; sets STATE, EPH and VOLUMES (for unlock).
state_eph_images() {
  STATE=$(img state); EPH=$(img eph)
  VOLUMES=(--volume "STATE=$STATE" --volume "EPHEMERAL=$EPH")
}

# volumes_config FILE "NAME [provider=P] KEY..." ...: writes one VolumeConfig document per argument to FILE
# (joined by ---); the provider is luks2 unless provider=P is given (provider= writes none). KEY is SLOT:nodeID, SLOT:static:PASSPHRASE[:lockToSTATE], SLOT:kms:ENDPOINT or
# SLOT:tpm[:OPTION=VALUE,...] (tpm: {OPTION: VALUE, ...}); words are split on blanks, so no value may hold one.
volumes_config() {
  local file=$1 doc sep="" word slot kind arg; shift
  for doc in "$@"; do
    set -- $doc
    printf '%sapiVersion: v1alpha1\nkind: VolumeConfig\nname: %s\nencryption:\n' "$sep" "$1"
    shift
    if [[ ${1:-} == provider=* ]]; then
      [ -n "${1#provider=}" ] && printf '  provider: %s\n' "${1#provider=}"
      shift
    else
      printf '  provider: luks2\n'
    fi
    printf '  keys:\n'
    for word in "$@"; do
      slot=${word%%:*}; word=${word#*:}; kind=${word%%:*}; arg=${word#*:}
      case $kind in
        nodeID) printf '    - nodeID: {}\n' ;;
        static) printf '    - static:\n        passphrase: %s\n' "${arg%:lockToSTATE}" ;;
        kms) printf '    - kms:\n        endpoint: %s\n' "$arg" ;;
        tpm) [[ $arg == tpm ]] && arg=""; arg=${arg//=/: }; printf '    - tpm: {%s}\n' "${arg//,/, }" ;;
        *) fail "volumes_config: unknown key kind '$kind'" >&2 ;;
      esac
      printf '      slot: %s\n' "$slot"
      if [[ $kind == static && $arg == *:lockToSTATE ]]; then printf '      lockToSTATE: true\n'; fi
    done
    sep=$'---\n'
  done >"$file"
}
