/* pcr.h: public header of libvolseal-pcr: TCG event log parse/replay, PCR 7 prediction from EFI variables.
 * Promise: pure functions over bytes; no TPM and no disk I/O. (Filled in by its issue.) */
#pragma once
