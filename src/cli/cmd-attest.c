/* cmd-attest.c: `volseal attest` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal attest enroll|quote|verify ...\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_attest(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("attest");
}
