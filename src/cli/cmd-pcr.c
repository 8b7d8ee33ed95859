/* cmd-pcr.c: `volseal pcr` (not built yet: prints "not implemented yet", exit 5). */
#include "cli.h"
#include "util.h"

static const char usage[] =
        "Usage: volseal pcr read [--tcti T] [--bank B] [--json]\n"
        "       volseal pcr eventlog [FILE] [--json]\n"
        "       volseal pcr predict --pcr 7 [--db F] [--dbx F] [--kek F]\n"
        "       volseal pcr extend-phase WORD [--tcti T]\n"
        "\n"
        "This command is not implemented yet (exit code 5).\n";

int cmd_pcr(int argc, char **argv) {
        /* the TPM side lives in cmd-pcr-tpm.c (issue 7); issue 6's version of this file dispatches the same */
        if (argc >= 2 && streq(argv[1], "read"))
                return cmd_pcr_read(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "extend-phase"))
                return cmd_pcr_extend_phase(argc - 1, argv + 1);
        if (cli_wants_help(argc, argv, usage))
                return EXIT_OK;
        return cli_not_implemented("pcr");
}
