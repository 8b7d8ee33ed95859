/* efi.c: reading SecureBoot-related EFI variables with libefivar. */
#include "efi.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <efivar/efivar.h>

int vs_efi_supported(void) {
        const char *p = getenv("EFIVARFS_PATH");
        /* libefivar appends "<Name>-<guid>" to EFIVARFS_PATH as is: without the '/' every variable would read
         * as absent, and a prediction would silently use empty variables. */
        if (p && (!*p || p[strlen(p) - 1] != '/'))
                return log_error_errno(-EINVAL, "EFIVARFS_PATH=%s must end with '/'", p);
        if (!efi_variables_supported()) {
                if (p)
                        return log_error_errno(-EOPNOTSUPP, "EFI variables are not readable from EFIVARFS_PATH=%s (it must be an existing directory, end with '/' and be set when volseal starts)", p);
                return log_error_errno(-EOPNOTSUPP, "this system has no EFI variables (no efivarfs at /sys/firmware/efi/efivars)");
        }
        return 0;
}

static int read_var(const uint8_t guid_bytes[16], const char *name, uint8_t **data, size_t *size, bool *present) {
        efi_guid_t guid;
        uint8_t *d = NULL;
        size_t n = 0;
        uint32_t attrs = 0;
        memcpy(&guid, guid_bytes, sizeof(guid));
        *present = false;
        *data = NULL;
        *size = 0;
        if (efi_get_variable(guid, name, &d, &n, &attrs) < 0) {
                int e = errno;
                efi_error_clear();
                if (e == ENOENT)
                        return 0;
                char g[37];
                pcr_guid_format(guid_bytes, g);
                return log_error_errno(-(e ?: EIO), "cannot read EFI variable %s-%s: %s", name, g, strerror(e ?: EIO));
        }
        *data = d;
        *size = n;
        *present = true;
        return 0;
}

int vs_efi_read_secureboot_vars(struct pcr_sb_vars *out) {
        int r = vs_efi_supported();
        if (r < 0)
                return r;
        memset(out, 0, sizeof(*out));
        for (int k = 0; k < _PCR_SB_MAX; k++) {
                r = read_var(pcr_sb_var_guid((enum pcr_sb_var) k), pcr_sb_var_name((enum pcr_sb_var) k),
                             &out->v[k].data, &out->v[k].size, &out->v[k].present);
                if (r < 0) {
                        pcr_sb_vars_free(out);
                        return r;
                }
        }
        return 0;
}

int vs_efi_read_modes(bool *secure_boot, bool *setup_mode) {
        int r = vs_efi_supported();
        if (r < 0)
                return r;
        const char *names[2] = { "SecureBoot", "SetupMode" };
        bool *outs[2] = { secure_boot, setup_mode };
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ uint8_t *d = NULL;
                size_t n;
                bool present;
                r = read_var(pcr_guid_efi_global, names[i], &d, &n, &present);
                if (r < 0)
                        return r;
                *outs[i] = present && n >= 1 && d[0] == 1;
        }
        return 0;
}
