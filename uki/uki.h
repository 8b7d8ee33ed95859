/* uki.h: public header of libvolseal-uki: PE/COFF section reader, PCR 11 prediction per stub version, UKI signing and assembly.
 * Promise: pure functions over bytes; no TPM and no disk I/O. (Filled in by its issue.) */
#pragma once
