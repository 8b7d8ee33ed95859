/* cmd-policy.c: `volseal policy` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal policy digest --pcrs 7,11 ...\n"
        "       volseal policy verify-signature JSON --key PUB.pem\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_policy(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("policy");
}
