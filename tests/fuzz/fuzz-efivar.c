/* fuzz-efivar.c: libFuzzer target for EFI variable data as volseal reads it: the files of an efivarfs
 * directory (4 bytes of attributes + data) read by src/efi.c through libefivar (SecureBoot, SetupMode, PK,
 * KEK, db, dbx), then the PCR 7 prediction of pcr/ from those variables over a TCG event log (db/dbx ESLs
 * searched for the logged authorities, variables re-measured).
 * Input: for SecureBoot, SetupMode, PK, KEK, db, dbx in turn a u16 little-endian length (0xffff: the
 * variable is absent) and the file bytes; the rest is the event log.
 * libefivar reads EFIVARFS_PATH when the process starts, so LLVMFuzzerInitialize points it at a scratch
 * directory and executes itself again once. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "efi.h"
#include "log.h"
#include "pcr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

static char dir[256];

static void remove_dir(void) {
        char path[512];
        for (int k = 0; k <= _PCR_SB_MAX; k++) {
                const char *name = k < _PCR_SB_MAX ? pcr_sb_var_name((enum pcr_sb_var) k) : "SetupMode";
                char g[37];
                pcr_guid_format(k < _PCR_SB_MAX ? pcr_sb_var_guid((enum pcr_sb_var) k) : pcr_guid_efi_global, g);
                snprintf(path, sizeof(path), "%s%s-%s", dir, name, g);
                unlink(path);
        }
        rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        const char *p = getenv("EFIVARFS_PATH");
        if (p && strstr(p, "/volseal-fuzz-efivar.")) {
                snprintf(dir, sizeof(dir), "%s", p);
                atexit(remove_dir);
                return 0;
        }
        char tmpl[] = "/tmp/volseal-fuzz-efivar.XXXXXX";
        if (!mkdtemp(tmpl)) {
                perror("fuzz-efivar: mkdtemp");
                exit(1);
        }
        snprintf(dir, sizeof(dir), "%s/", tmpl);
        setenv("EFIVARFS_PATH", dir, 1);
        execv("/proc/self/exe", *argv);
        perror("fuzz-efivar: execv");
        exit(1);
}

static void put_var(const char *name, const uint8_t guid[16], const uint8_t *d, size_t n, bool present) {
        char path[512], g[37];
        pcr_guid_format(guid, g);
        snprintf(path, sizeof(path), "%s%s-%s", dir, name, g);
        if (!present) {
                unlink(path);
                return;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        if (n && write(fd, d, n) != (ssize_t) n)
                abort();
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        /* files: SecureBoot, PK, KEK, db, dbx (enum order), then SetupMode */
        for (int k = 0; k <= _PCR_SB_MAX; k++) {
                size_t n = 0xffff;
                if (size >= 2) {
                        n = (size_t) (data[0] | data[1] << 8);
                        data += 2, size -= 2;
                }
                bool present = n != 0xffff;
                if (!present)
                        n = 0;
                if (n > size)
                        n = size;
                if (k < _PCR_SB_MAX)
                        put_var(pcr_sb_var_name((enum pcr_sb_var) k), pcr_sb_var_guid((enum pcr_sb_var) k), data, n, present);
                else
                        put_var("SetupMode", pcr_guid_efi_global, data, n, present);
                data += n, size -= n;
        }
        bool sb = false, setup = false;
        (void) vs_efi_read_modes(&sb, &setup);
        struct pcr_sb_vars vars = {};
        if (vs_efi_read_secureboot_vars(&vars) < 0)
                return 0;
        struct pcr_eventlog log = {};
        if (pcr_eventlog_parse(&log, data, size, "fuzz") < 0) {
                pcr_eventlog_free(&log);
                log = (struct pcr_eventlog) {};
        }
        struct pcr_values pred;
        char *reason = NULL;
        (void) pcr_predict_pcr7(&log, &vars, &pred, &reason);
        free(reason);
        for (int k = 0; k < _PCR_SB_MAX; k++)
                if (vars.v[k].present)
                        (void) pcr_esl_validate(vars.v[k].data, vars.v[k].size, NULL, "fuzz");
        pcr_eventlog_free(&log);
        pcr_sb_vars_free(&vars);
        return 0;
}
