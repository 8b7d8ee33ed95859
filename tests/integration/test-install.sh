#!/usr/bin/env bash
# test-install.sh: what a packager gets. `meson setup --prefix=/usr` + `meson install --destdir` of a fresh
# build into a scratch tree, then: the CLI runs, every header compiles on its own, every .pc file builds and
# links a tiny program (against the DESTDIR tree) whose output is checked against known values, every man
# page renders without warnings and documents every option of its command's --help, and the bash
# completion, sourced in bash, completes commands, subcommands and every --help option.
. "$(dirname "$0")/../lib/common.sh"
SRC=${VOLSEAL_TOP:-$TOP}
D=$T/pkg

meson setup "$T/build" "$SRC" --prefix=/usr -Dtests=false >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; fail "meson setup"; }
meson compile -C "$T/build" >"$T/compile.log" 2>&1 || { tail -50 "$T/compile.log"; fail "meson compile"; }
DESTDIR=$D meson install -C "$T/build" --no-rebuild >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "meson install"; }
echo "# installed tree:"
(cd "$D" && find . \( -type f -o -type l \) | sort | sed 's/^\./#   /')
ok "meson install --destdir into a scratch tree"

# Nothing outside DESTDIR: every path in the install log is under it.
grep -E '^Installing ' "$T/install.log" | grep -v " to $D" && fail "something was installed outside DESTDIR"
ok "DESTDIR respected"

# ---- the CLI ----
[ -x "$D/usr/bin/volseal" ] || fail "no usr/bin/volseal"
v=$("$D/usr/bin/volseal" --version)
[ "$v" = "volseal $(meson introspect --projectinfo "$T/build" | jq -r .version)" ] || fail "volseal --version said '$v'"
ok "usr/bin/volseal --version: $v"

# ---- headers and pkg-config files ----
LIBDIR=$(meson introspect --buildoptions "$T/build" | jq -r '.[] | select(.name == "libdir") | .value')
PCDIR=$D/usr/$LIBDIR/pkgconfig
PCS=(libvolseal libvolseal-policy libvolseal-uki libvolseal-pcr)
for pc in "${PCS[@]}"; do [ -f "$PCDIR/$pc.pc" ] || fail "no $pc.pc in $PCDIR"; done
# The .pc files say prefix=/usr; point them at the DESTDIR tree the way a relocated package would be used
# (only prefix changes: every other path must derive from it).
mkdir "$T/pc"
for pc in "${PCS[@]}"; do
  grep -qx 'prefix=/usr' "$PCDIR/$pc.pc" || fail "$pc.pc: prefix is not /usr"
  sed "s|^prefix=/usr\$|prefix=$D/usr|" "$PCDIR/$pc.pc" > "$T/pc/$pc.pc"
done
export PKG_CONFIG_PATH=$T/pc
for pc in "${PCS[@]}"; do
  pkg-config --exists --print-errors "$pc" || fail "pkg-config cannot resolve $pc (its Requires)"
done
[ "$(pkg-config --modversion libvolseal)" = "${v#volseal }" ] || fail "libvolseal.pc version differs from the CLI's"
ok "4 .pc files resolve with their Requires"

CFLAGS_ALL=$(pkg-config --cflags libvolseal)
n=0
while read -r h; do
  rel=${h#"$D/usr/include/"}
  printf '#include <%s>\n' "$rel" | cc -std=gnu11 -Wall -Werror -fsyntax-only -x c - -I"$D/usr/include" $CFLAGS_ALL \
    2>"$T/h.err" || { cat "$T/h.err"; fail "installed header $rel does not compile on its own"; }
  n=$((n + 1))
done < <(find "$D/usr/include" -name '*.h' | sort)
[ "$n" -ge 10 ] || fail "only $n headers installed"
ok "$n installed headers each compile on their own"

build_and_run() { # NAME PC SOURCE-FILE -> builds with pkg-config --libs (and --static), runs the first
  local name=$1 pc=$2 src=$3
  # shellcheck disable=SC2046
  cc -std=gnu11 -Wall -Werror -o "$T/$name" "$src" $(pkg-config --cflags --libs "$pc") 2>"$T/cc.err" ||
    { cat "$T/cc.err" >&2; fail "$name: cannot build with pkg-config --libs $pc"; }
  # --static too for the pure libraries (libvolseal's would pull libcurl's Libs.private: -dev packages of
  # nghttp2, ldap, ... that a dynamic link does not need).
  # shellcheck disable=SC2046
  [ "$pc" = libvolseal ] || cc -std=gnu11 -Wall -Werror -o "$T/$name-static" "$src" $(pkg-config --static --cflags --libs "$pc") 2>"$T/cc.err" ||
    { cat "$T/cc.err" >&2; fail "$name: cannot build with pkg-config --static --libs $pc"; }
  "$T/$name"
}

cat > "$T/policy.c" <<'EOF'
#include <stdio.h>
#include <policy.h>
int main(void) {
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        policy_srk_template(&pub);
        if (policy_public_name(&pub, &name) < 0)
                return 1;
        for (unsigned i = 0; i < name.size; i++)
                printf("%02x", name.name[i]);
        putchar('\n');
        return 0;
}
EOF
got=$(build_and_run policy libvolseal-policy "$T/policy.c")
[ "$got" = "$("$D/usr/bin/volseal" policy srk-name)" ] || fail "libvolseal-policy: SRK Name $got differs from volseal policy srk-name"
ok "libvolseal-policy: a program linked from its .pc computes the SRK Name the CLI prints"

cat > "$T/uki.c" <<'EOF'
#include <stdio.h>
#include <uki.h>
int main(void) {
        /* systemd's own test vector (docs/uki.md): .linux "HALLO\n", .initrd "foobar\n", no phase. */
        struct uki_blob b[] = { { ".linux", (const uint8_t *) "HALLO\n", 6, 6 },
                                { ".initrd", (const uint8_t *) "foobar\n", 7, 7 } };
        uint8_t pcr[UKI_PCR_MAX];
        if (uki_measure(b, 2, uki_measure_order(252), uki_bank_md("sha256"), pcr) < 0)
                return 1;
        for (unsigned i = 0; i < 32; i++)
                printf("%02x", pcr[i]);
        putchar('\n');
        return 0;
}
EOF
got=$(build_and_run uki libvolseal-uki "$T/uki.c")
[ "$got" = 37b48bd0b222394dbe3cceff2fca4660c4b0a90ae9369ec90b42f14489989c13 ] || fail "libvolseal-uki: PCR 11 $got"
ok "libvolseal-uki: a program linked from its .pc reproduces systemd's PCR 11 vector"

cat > "$T/pcr.c" <<'EOF'
#include <stdio.h>
#include <pcr.h>
int main(void) {
        uint16_t alg;
        uint8_t d[64];
        if (pcr_alg_from_name("sha256", &alg) < 0 || pcr_hash(alg, "abc", 3, d) < 0)
                return 1;
        printf("%s:", pcr_alg_name(alg));
        for (unsigned i = 0; i < pcr_alg_size(alg); i++)
                printf("%02x", d[i]);
        putchar('\n');
        return 0;
}
EOF
got=$(build_and_run pcr libvolseal-pcr "$T/pcr.c")
[ "$got" = "sha256:$(printf abc | sha256sum | cut -d' ' -f1)" ] || fail "libvolseal-pcr: $got"
ok "libvolseal-pcr: a program linked from its .pc hashes as sha256sum does"

cat > "$T/core.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <config.h>
#include <volume.h>
int main(void) {
        static const char yaml[] = "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n  provider: luks2\n"
                                   "  keys:\n    - nodeID: {}\n      slot: 0\n    - tpm: {}\n      slot: 1\n";
        struct vs_config cfg = {};
        if (vs_config_load_string(&cfg, "test", yaml, strlen(yaml)) < 0)
                return 1;
        const struct vs_volume_config *v = vs_config_find(&cfg, "STATE");
        if (!v)
                return 1;
        printf("%s %zu %s\n", v->id, v->enc.n_keys, vs_key_kind_name(v->enc.keys[1].kind));
        vs_config_free(&cfg);
        return 0;
}
EOF
got=$(build_and_run core libvolseal "$T/core.c")
[ "$got" = "STATE 2 tpm" ] || fail "libvolseal: $got"
ok "libvolseal: a program linked from its .pc parses a VolumeConfig"

# ---- man pages ----
MAN=$D/usr/share/man/man8
pages=$(cd "$MAN" && ls)
for p in volseal volseal-unlock volseal-status volseal-wipe volseal-config volseal-meta volseal-uki volseal-pcr \
    volseal-policy volseal-tpm volseal-attest volseal-token; do
  [ -e "$MAN/$p.8" ] || fail "no man page $p.8 (have: $pages)"
done
n=0
for f in "$MAN"/*; do
  MANWIDTH=80 man --warnings -l "$f" >"$T/man.out" 2>"$T/man.err" || fail "man -l $f failed: $(cat "$T/man.err")"
  [ -s "$T/man.err" ] && fail "man --warnings -l $f: $(cat "$T/man.err")"
  groff -ww -z -man "$(readlink -f "$f")" 2>"$T/man.err"
  [ -s "$T/man.err" ] && fail "groff -ww $f: $(cat "$T/man.err")"
  grep -q '^NAME' "$T/man.out" || fail "$f has no NAME section"
  n=$((n + 1))
done
ok "$n man pages render with man --warnings -l and groff -ww, no warnings"

VS=$D/usr/bin/volseal
commands=$("$VS" --help | sed -n '/^Commands:/,/^$/{s/^  \([a-z][a-z0-9-]*\) .*/\1/p}')
[ "$(echo "$commands" | wc -l)" -ge 11 ] || fail "cannot read the command table from volseal --help"
# Every command and every subcommand with its own --help: ("CMD" or "CMD SUB").
helps=()
for c in $commands; do
  helps+=("$c")
  for s in $("$VS" "$c" --help | grep -oE "volseal $c [a-z][a-z0-9-]*" | awk '{print $3}' | sort -u); do
    cmp -s <("$VS" "$c" --help) <("$VS" "$c" "$s" --help) || helps+=("$c $s")
  done
done
help_options() { "$VS" $1 --help | grep -oE '(^|[][ ,(|/])--[a-z0-9][a-z0-9-]*' | sed -E 's/^[][ ,(|/]//' | sort -u; }
for h in "${helps[@]}"; do
  c=${h%% *}
  page=volseal-$c; case $c in status|wipe) page=volseal-unlock ;; esac
  [ -f "$MAN/$page.8" ] || fail "command $c has no man page $page.8"
  MANWIDTH=200 man -l "$MAN/$page.8" 2>/dev/null | sed 's/‐/-/g' > "$T/page.txt"
  grep -q "volseal $c" "$T/page.txt" || fail "$page.8 does not show 'volseal $c'"
  for o in $(help_options "$h"); do
    grep -qe "$o" "$T/page.txt" || fail "$page.8 does not document $o of 'volseal $h --help'"
  done
done
ok "every option of ${#helps[@]} --help texts is documented in its man page"
MANWIDTH=80 man -l "$MAN/volseal-config.8" 2>/dev/null | sed -n '/^EXAMPLE/,/^SEE ALSO/p' | sed -n '/apiVersion/,/^$/p' |
  sed -E 's/^ {11}//' > "$T/example.yaml"
"$VS" config validate -c "$T/example.yaml" >/dev/null || fail "the example of volseal-config(8) does not validate"
ok "the VolumeConfig example in volseal-config(8) validates"

# ---- bash completion ----
if pkg-config --exists bash-completion; then
  compdir=$(pkg-config --variable=completionsdir --define-variable=prefix=/usr bash-completion)
else
  compdir=/usr/share/bash-completion/completions
fi
COMP=$D$compdir/volseal
[ -f "$COMP" ] || fail "no bash completion at $compdir/volseal"
cat > "$T/complete.sh" <<'EOF'
source "$COMP"
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _volseal; printf '%s\n' "${COMPREPLY[@]}"; }
EOF
complete_words() { COMP=$COMP PATH=$D/usr/bin:$PATH bash --norc --noprofile -c 'source "$0"; cd "$1"; shift; c "$@"' "$T/complete.sh" "$T" "$@"; }
got=$(complete_words volseal "")
for c in $commands; do grep -qx "$c" <<<"$got" || fail "volseal <TAB> does not offer $c: $got"; done
got=$(complete_words volseal un)
[ "$got" = unlock ] || fail "volseal un<TAB> gave '$got'"
ok "volseal <TAB> completes the $(echo $commands | wc -w) commands"
for h in "${helps[@]}"; do
  # shellcheck disable=SC2086
  got=$(complete_words volseal $h --)
  for o in $(help_options "$h"); do
    grep -qx -- "$o" <<<"$got" || fail "volseal $h --<TAB> does not offer $o"
  done
done
ok "every option of ${#helps[@]} --help texts is completed"
got=$(complete_words volseal attest enroll "")
[ "$(echo $got)" = "activate make-credential verify-response" ] || fail "volseal attest enroll <TAB> gave '$got'"
got=$(complete_words volseal uki measure x.efi --bank "")
[ "$(echo $got)" = "sha1 sha256 sha384 sha512" ] || fail "--bank <TAB> gave '$got'"
got=$(complete_words volseal uki sign x.efi --phases "")
[ "$(echo $got)" = "systemd talos" ] || fail "--phases <TAB> gave '$got'"
mkdir "$T/somedir"
got=$(complete_words volseal unlock -c "$T/complete.")
[ "$got" = "$T/complete.sh" ] || fail "-c <TAB> did not complete a file: '$got'"
got=$(complete_words volseal unlock --state-dir "$T/som")
[ "$got" = "$T/somedir" ] || fail "--state-dir <TAB> did not complete a directory: '$got'"
got=$(complete_words volseal unlock --volume "STATE=$T/complete.")
[ "$got" = "STATE=$T/complete.sh" ] || fail "--volume STATE=<TAB> gave '$got'"
ok "subcommands, --bank, --phases, files, directories and --volume ID=FILE complete"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  # The real bash-completion loader finds the file on demand in the tree's completions dir.
  got=$(XDG_DATA_DIRS=$D/usr/share PATH=$D/usr/bin:$PATH bash --norc --noprofile -c \
    'source /usr/share/bash-completion/bash_completion; _completion_loader volseal; complete -p volseal')
  [ "$got" = "complete -F _volseal volseal" ] || fail "bash-completion did not load it: $got"
  ok "bash-completion's loader finds and loads the installed completion"
fi

# ---- parts other helpers install (listed above; checked when their sources are in the tree) ----
if [ -f "$SRC/dist/meson.build" ]; then
  find "$D" -path '*initramfs-tools*' -type f -print -quit | grep -q . || fail "dist/ is in the tree but no initramfs-tools file was installed"
  find "$D" -name '*.service' -print -quit | grep -q . || fail "dist/ is in the tree but no systemd unit was installed"
  m=$D/usr/lib/dracut/modules.d/90volseal/module-setup.sh
  [ -x "$m" ] || fail "dist/ is in the tree but the dracut module is not installed at $m"
  ! grep -q '@[A-Z]*@' "$m" || fail "$m: placeholders left: $(grep -o '@[A-Z]*@' "$m" | sort -u | tr '\n' ' ')"
  bash -n "$m" || fail "$m: not valid bash"
  ok "dist/: initramfs-tools hook, systemd units and dracut module installed"
fi
if grep -rqs 'libcryptsetup-token' "$SRC"/meson.build "$SRC"/*/meson.build "$SRC"/src/*/meson.build; then
  find "$D" -name 'libcryptsetup-token-*.so' -print -quit | grep -q . || fail "the token plugin is built but not installed"
  ok "cryptsetup token plugin installed: $(cd "$D" && find . -name 'libcryptsetup-token-*.so' | tr '\n' ' ')"
fi
done_testing
