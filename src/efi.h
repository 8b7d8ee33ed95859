/* efi.h: the EFI variables volseal reads (through libefivar, the only caller): SecureBoot, SetupMode, PK,
 * KEK, db, dbx. Promise: read-only; EFIVARFS_PATH (libefivar's own variable, must end with '/' and be set
 * before the process starts) points tests at a directory of "<Name>-<guid>" files (4 bytes of attributes,
 * then the data). A missing variable is "absent", not an error. */
#pragma once
#include <stdbool.h>
#include "pcr.h"

/* -EOPNOTSUPP (logged) when the system has no EFI variables. */
int vs_efi_supported(void);
/* Reads SecureBoot, PK, KEK, db, dbx into `out` (absent variables: present=false). */
int vs_efi_read_secureboot_vars(struct pcr_sb_vars *out);
/* SecureBoot and SetupMode as booleans (absent = false). */
int vs_efi_read_modes(bool *secure_boot, bool *setup_mode);
