/* cmd-pcr.h: helpers shared by cmd-pcr.c and cmd-attest.c (the pcr/ side of the CLI).
 * Promise: `pcr` and `attest` read event logs from the same default paths and print PCR values in the
 * same JSON shape; a log that does not parse is refused with its file named. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "pcr.h"
#include "tpm/measure-log.h"

#define VS_FIRMWARE_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"

/* Parses the firmware log (may be NULL: none) and appends volseal's log (may be NULL; a missing file is
 * fine when `measure_optional`). */
int vs_load_eventlogs(const char *fw_path, const char *measure_path, bool measure_optional, struct pcr_eventlog *log);
/* {"sha256": {"0": "hex", ...}, ...} for PCRs that were extended (PCR 0 always). */
struct json_object *vs_pcr_values_to_json(const struct pcr_values *v, const bool (*only)[PCR_NUM]);
