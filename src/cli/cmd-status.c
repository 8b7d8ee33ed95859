/* cmd-status.c: `volseal status`: what each configured volume holds and what the next unlock would do.
 * Read-only: no keyslot, token or salt is written. */
#include "cli.h"
#include "cmd-volume.h"

static const char usage[] =
        "Usage: volseal status -c CONFIG.yaml [-c MORE.yaml] [--volume ID=DEVICE]... [--state-dir DIR]\n"
        "              [--tcti TCTI] [--pcr-signature FILE] [--pcr-public-key FILE] [--product-uuid-file FILE] [--kms-ca FILE]\n"
        "              [--kms-timeout SECONDS] [--meta DEVICE] [--disk DISK] [--json] [--debug-tpm]\n"
        "\n"
        "For each configured volume: where it is, what it holds (empty, luks2, already-open, foreign,\n"
        "not-found, unencrypted), every keyslot with its kind and whether the configured key opens it\n"
        "(opens, does-not-open, missing, unconfigured, unknown), and the actions the next 'volseal unlock'\n"
        "would take (pending). Every configured key is tested against its own slot, so static/nodeID slots\n"
        "with benchmarked argon2id take ~2 s each. Nothing is written.\n"
        "\n"
        "Options: as for 'volseal unlock' (-c, --volume, --state-dir, --tcti, --pcr-signature,\n"
        "--pcr-public-key, --product-uuid-file, --kms-ca, --kms-timeout, --meta, --disk, --debug-tpm); --json prints one\n"
        "object per volume and line.\n"
        "META (--meta, else the partition labelled META): STATE's config from tag 9 when the config has no\n"
        "STATE document, tag 15 as the nodeID UUID; a static STATE passphrase stored in tag 9 is warned about\n"
        "(stderr, and \"warnings\" in STATE's --json object).\n"
        "A tpm slot that would be re-sealed (docs/tpm.md, the re-seal gate) shows as does-not-open with 'replace slot N'\n"
        "pending; one that is refused and not re-sealable shows as unknown with the reason.\n"
        "\n"
        "Exit codes: 0 every volume can be opened or formatted; 1 usage or config error; 2 a LUKS2 volume\n"
        "that no configured key opens, or a volume holding something else; 4 a volume not found.\n";

int cmd_status(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        struct volume_cli c;
        int r = volume_cli_parse(&c, argc, argv, false);
        if (r != EXIT_OK)
                return r;
        return volume_cli_run(&c, vs_volume_status);
}
