/* cli-tpm.c: the shared --tcti/--json/--debug-tpm options and TPM opening of the CLI (see cli-tpm.h). */
#include "cli-tpm.h"
#include "cli.h"
#include "log.h"

static bool cli_tpm_option(int c, const char *arg, struct cli_tpm_options *o) {
        switch (c) {
        case CLI_OPT_TCTI:
                o->tcti = arg;
                return true;
        case CLI_OPT_JSON:
                o->json = true;
                return true;
        case CLI_OPT_DEBUG_TPM:
                o->flags |= VS_TPM_DEBUG_LOG;
                return true;
        default:
                return false;
        }
}

int cli_tpm_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                   struct cli_tpm_options *o) {
        int c;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
                if (!cli_tpm_option(c, optarg, o))
                        break;
        return c;
}

int cli_open_tpm(const struct cli_tpm_options *o, struct vs_tpm **ret) {
        if (o->json)
                vs_log_set_quiet(1);
        int r = vs_tpm_open(o->tcti, o->flags, ret);
        return r < 0 ? cli_exit_from_errno(r) : EXIT_OK;
}
