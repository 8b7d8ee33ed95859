/* cmd-status.c: `volseal status` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal status -c CONFIG.yaml [--volume ID=DEVICE]... [--json]\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_status(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("status");
}
