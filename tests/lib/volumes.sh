# volumes.sh: sourced by the lifecycle tests after common.sh (state_eph_images also needs luks.sh's img).
# The STATE + EPHEMERAL image pair most boots start from, and machine configs written from one line per
# VolumeConfig document, so each test spells only the keys it is about.

# state_eph_images: fresh empty STATE and EPHEMERAL images; sets STATE, EPH and VOLUMES (for unlock).
state_eph_images() {
  STATE=$(img state); EPH=$(img eph)
  VOLUMES=(--volume "STATE=$STATE" --volume "EPHEMERAL=$EPH")
}

# volumes_config FILE "NAME [OPTION=VALUE...] KEY..." ...: writes one document per argument to FILE (joined
# by ---). NAME is a system volume's name (a VolumeConfig) or u-NAME, a user volume's ID (a
# UserVolumeConfig named NAME). OPTION=VALUE words come before the keys and become `OPTION: VALUE` under
# encryption, in the order given (provider=luks2, cipher=xchacha12,aes-adiantum-plain64, keySize=256,
# blockSize=512). The provider is luks2 unless a provider= word is given (an empty `provider=` writes
# none: Talos refuses keys without one). KEY is SLOT:nodeID, SLOT:static:PASSPHRASE, SLOT:kms:ENDPOINT or
# SLOT:tpm[:OPTION=VALUE,...] (tpm: {OPTION: VALUE, ...}) or SLOT:recovery, each with an optional
# :lockToSTATE at its end.
# Words are split on blanks, so no value may hold one.
volumes_config() {
  local file=$1 doc sep="" word slot kind arg lock; shift
  for doc in "$@"; do
    set -- $doc
    if [[ $1 == u-* ]]; then
      printf '%sapiVersion: v1alpha1\nkind: UserVolumeConfig\nname: %s\nencryption:\n' "$sep" "${1#u-}"
    else
      printf '%sapiVersion: v1alpha1\nkind: VolumeConfig\nname: %s\nencryption:\n' "$sep" "$1"
    fi
    shift
    local opts=() provider=""
    while [[ ${1:-} == *=* && $1 != *:* ]]; do
      opts+=("$1"); [[ $1 == provider=* ]] && provider=1; shift
    done
    [ -n "$provider" ] || printf '  provider: luks2\n'
    for word in ${opts[@]+"${opts[@]}"}; do
      if [ -n "${word#*=}" ]; then printf '  %s: %s\n' "${word%%=*}" "${word#*=}"; fi
    done
    printf '  keys:\n'
    for word in "$@"; do
      lock=""
      if [[ $word == *:lockToSTATE ]]; then lock=1; word=${word%:lockToSTATE}; fi
      slot=${word%%:*}; word=${word#*:}; kind=${word%%:*}; arg=""
      [[ $word == *:* ]] && arg=${word#*:}
      case $kind in
        nodeID) printf '    - nodeID: {}\n' ;;
        static) printf '    - static:\n        passphrase: %s\n' "$arg" ;;
        kms) printf '    - kms:\n        endpoint: %s\n' "$arg" ;;
        tpm) arg=${arg//=/: }; printf '    - tpm: {%s}\n' "${arg//,/, }" ;;
        recovery) printf '    - recovery: {}\n' ;;
        *) fail "volumes_config: unknown key kind '$kind'" >&2 ;;
      esac
      printf '      slot: %s\n' "$slot"
      if [[ -n $lock ]]; then printf '      lockToSTATE: true\n'; fi
    done
    sep=$'---\n'
  done >"$file"
}
