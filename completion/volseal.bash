# bash completion for volseal(8).
# Commands, subcommands, options and what each option takes are read from the CLI's own --help output
# (`volseal --help`, `volseal CMD [SUB] --help`), so this file never drifts from the command table.
# tests/integration/test-install.sh checks that every option of every --help is completed.

# The help text of "$@" (a command, maybe a subcommand), from the volseal being completed.
_volseal_help() {
        "$_volseal_bin" "$@" --help 2>/dev/null
}

# The words W such that the help text of "$@" has a line "volseal $* W ..." (W lowercase): subcommands.
_volseal_subcommands() {
        local prefix="volseal $*" line w
        _volseal_help "$@" | while IFS= read -r line; do
                [[ $line == *"$prefix "* ]] || continue
                line=${line#*"$prefix "}
                w=${line%% *}
                [[ $w =~ ^[a-z][a-z0-9-]*$ ]] && printf '%s\n' "$w"
        done | sort -u
}

# True when the usage of "$@" takes a positional argument next (UKI, FILE, [FILE], JSON, ...).
_volseal_positional() {
        local prefix="volseal $*" line
        while IFS= read -r line; do
                [[ $line == *"$prefix "* ]] || continue
                line=${line#*"$prefix "}
                [[ $line =~ ^\[?[A-Z] ]] && return 0
        done < <(_volseal_help "$@")
        return 1
}

# Every option named in the help text of "$@".
_volseal_options() {
        _volseal_help "$@" | grep -oE '(^|[][ ,(|/])--?[a-zA-Z0-9][a-zA-Z0-9-]*' | sed -E 's/^[][ ,(|/]//' | sort -u
}

# What option $1 takes, as the help text of the rest spells it ("FILE", "ID=DEVICE", "systemd|talos"),
# or nothing when it takes no argument.
_volseal_placeholder() {
        local opt=$1; shift
        _volseal_help "$@" | grep -oE -- "(^|[][ ,(|/])$opt[ =]([A-Z0-9[][^] ,]*|[a-z0-9]+\|[^] ,]*)" | head -n1 |
                sed -E "s/^.*$opt[ =]//"
}

_volseal() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
        local _volseal_bin=${COMP_WORDS[0]}
        local -a path=()
        local i w subs
        COMPREPLY=()
        # The command and its subcommands (words that the help of the words so far lists as such).
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                [[ $w == -* ]] && continue
                if [ ${#path[@]} -eq 0 ]; then
                        path=("$w")
                else
                        subs=$(_volseal_subcommands "${path[@]}")
                        grep -qxF -- "$w" <<<"$subs" && path+=("$w")
                fi
        done
        if [ ${#path[@]} -eq 0 ]; then
                local cmds
                cmds=$(_volseal_help | sed -n '/^Commands:/,/^$/{s/^  \([a-z][a-z0-9-]*\) .*/\1/p}')
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "$(_volseal_help | sed -n '1,2p' | grep -oE -- '--?[a-z][a-z-]*')" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
                fi
                return 0
        fi
        # An option's argument.
        if [[ $prev == -* ]]; then
                local ph
                ph=$(_volseal_placeholder "$prev" "${path[@]}")
                if [ -n "$ph" ]; then
                        case $prev:$ph in
                        --bank:*) COMPREPLY=($(compgen -W "sha1 sha256 sha384 sha512" -- "$cur")) ;;
                        --tcti:*) COMPREPLY=($(compgen -W "device:/dev/tpmrm0 device:/dev/tpm0 swtpm:host=127.0.0.1,port=" -- "$cur"))
                                  compopt -o nospace 2>/dev/null ;;
                        --volume:*|*:ID=DEVICE)
                                if [[ $cur == *=* ]]; then
                                        local id=${cur%%=*}
                                        COMPREPLY=($(compgen -f -- "${cur#*=}"))
                                        COMPREPLY=("${COMPREPLY[@]/#/$id=}")
                                else
                                        COMPREPLY=($(compgen -W "STATE= EPHEMERAL= u-" -- "$cur"))
                                        compopt -o nospace 2>/dev/null
                                fi ;;
                        *:*\|*) COMPREPLY=($(compgen -W "${ph//|/ }" -- "$cur")) ;;
                        *:DIR*) COMPREPLY=($(compgen -d -- "$cur")) ;;
                        *:HEX*|*:N|*:N=*|*:\[*|*:LIST|*:WORD|*:SECONDS|*:KIB|*:MS|*:H|*:ID|*:PATH*|*:[0-9]*) ;;
                        *) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
                        esac
                        return 0
                fi
        fi
        if [[ $cur != -* ]]; then
                subs=$(_volseal_subcommands "${path[@]}")
                if [ -n "$subs" ]; then
                        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
                        return 0
                fi
                if [ "${path[*]}" = wipe ]; then
                        COMPREPLY=($(compgen -W "STATE EPHEMERAL u-" -- "$cur"))
                        return 0
                fi
                if [ -n "$cur" ] || _volseal_positional "${path[@]}"; then
                        COMPREPLY=($(compgen -f -- "$cur"))
                        compopt -o filenames 2>/dev/null
                        return 0
                fi
        fi
        COMPREPLY=($(compgen -W "$(_volseal_options "${path[@]}")" -- "$cur"))
        return 0
}

complete -F _volseal volseal
