/* cmd-unlock.c: `volseal unlock` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal unlock -c CONFIG.yaml [-c MORE.yaml] [--volume ID=DEVICE]... [--meta DEVICE]\n"
        "              [--state-dir DIR] [--tcti TCTI] [--pcr-signature FILE] [--pcr-public-key FILE]\n"
        "              [--product-uuid-file FILE] [--check] [--no-sync] [--full-sync] [--cap-phase WORD] [--json]\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_unlock(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("unlock");
}
