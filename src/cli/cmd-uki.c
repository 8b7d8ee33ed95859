/* cmd-uki.c: `volseal uki` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"

static const char usage[] =
        "Usage: volseal uki inspect UKI [--json]\n"
        "       volseal uki measure UKI [--phase PATH]... [--bank B] [--json]\n"
        "       volseal uki sign UKI --key KEY.pem [--phase PATH]... [-o OUT] [--append FILE]\n"
        "       volseal uki build --stub STUB --linux K --initrd I --cmdline C --os-release F [--pcr-key PUB.pem] -o OUT\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_uki(int argc, char **argv) {
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("uki");
}
