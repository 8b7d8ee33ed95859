/* luks-recheck IMAGE [CMD ARG...]: the write-time check (docs/security.md, "LUKS2 header
 * validation") on its own. Loads IMAGE's validated
 * detached copy (vs_luks_load_validated), runs CMD (which may change IMAGE behind volseal's back), then asks
 * vs_luks_load_for_write() whether the device still holds the validated header. Prints "same" (exit 0),
 * "changed" (exit 1: -ESTALE or -EINVAL, "the LUKS2 header changed after it was validated"), exit 2 when
 * the load or CMD failed. */
#include "log.h"
#include "luks.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: luks-recheck IMAGE [CMD ARG...]\n");
                return 2;
        }
        char reason[320];
        struct vs_luks *l = NULL, *w = NULL;
        if (vs_luks_load_validated(argv[1], 0, 0, argv[1], &l, reason, sizeof(reason)) < 0) {
                fprintf(stderr, "luks-recheck: refused or unreadable: %s\n", reason);
                return 2;
        }
        if (argc > 2) {
                pid_t pid = fork();
                if (pid == 0) {
                        execvp(argv[2], argv + 2);
                        _exit(127);
                }
                int st = 0;
                if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                        fprintf(stderr, "luks-recheck: %s failed\n", argv[2]);
                        vs_luks_free(l);
                        return 2;
                }
        }
        int r = vs_luks_load_for_write(l, &w);
        vs_luks_free(w);
        vs_luks_free(l);
        printf("%s\n", r < 0 ? "changed" : "same");
        return r < 0 ? 1 : 0;
}
