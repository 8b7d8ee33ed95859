/* cmd-wipe.c: `volseal wipe` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal wipe ID (--volume ID=DEVICE | --label ID) [--yes]\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_wipe(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("wipe");
}
