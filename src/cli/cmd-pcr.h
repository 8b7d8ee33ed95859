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
/* PCR 7 of the next boot (docs/pcr.md "Predicting PCR 7"): the event log's PCR 7 events replayed with the
 * EFI variables as they are, except files[k] (an ESL or .auth file) for PK, KEK, db, dbx: appended to the
 * current variable when `append` has bit k (EDK2's append write), else replacing it. 0 with cur and pred,
 * 1 when the prediction is "unknown" (*reason, malloc'ed), -errno (logged; -EINVAL: a file is not a
 * signature list). */
int vs_predict_pcr7(const char *eventlog, const char *const files[_PCR_SB_MAX], unsigned append, struct pcr_values *cur,
                    struct pcr_values *pred, char **reason);
/* {"sha256": {"0": "hex", ...}, ...} for PCRs that were extended (PCR 0 always). */
struct json_object *vs_pcr_values_to_json(const struct pcr_values *v, const bool (*only)[PCR_NUM]);
