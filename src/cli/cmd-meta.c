/* cmd-meta.c: `volseal meta` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal meta list|get TAG|set TAG VALUE|delete TAG --meta DEVICE [--json]\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_meta(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("meta");
}
