/* cmd-pcr-tpm.c: `volseal pcr read` and `volseal pcr extend-phase` (the TPM side of `volseal pcr`). */
#include "cli.h"

int cmd_pcr_read(int argc, char **argv) {
        return cli_not_implemented("pcr read");
}

int cmd_pcr_extend_phase(int argc, char **argv) {
        return cli_not_implemented("pcr extend-phase");
}
