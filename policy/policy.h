/* policy.h: public header of libvolseal-policy: TPM2 policy digests in software, TPMT_PUBLIC/Name of RSA keys, signed PCR policy JSON.
 * Promise: pure functions over bytes; no TPM and no disk I/O. (Filled in by its issue.) */
#pragma once
