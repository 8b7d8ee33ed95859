/* cmd-tpm.c: `volseal tpm` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal tpm info [--tcti T]\n"
        "       volseal tpm setup [--tcti T]\n"
        "       volseal tpm reseal --force ...\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_tpm(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("tpm");
}
