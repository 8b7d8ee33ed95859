/* cmd-pcr.h: helpers shared by cmd-pcr.c and cmd-attest.c (the pcr/ side of the CLI). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "pcr.h"
#include "tpm/measure-log.h"

#define VS_FIRMWARE_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"

/* Reads a whole file with read() (securityfs and efivarfs files cannot be seeked). -errno, logged,
 * naming the file; `what` describes it ("event log"). */
int vs_read_file(const char *path, const char *what, uint8_t **ret, size_t *ret_size);
/* Parses the firmware log (may be NULL: none) and appends volseal's log (may be NULL; a missing file is
 * fine when `measure_optional`). */
int vs_load_eventlogs(const char *fw_path, const char *measure_path, bool measure_optional, struct pcr_eventlog *log);
/* {"sha256": {"0": "hex", ...}, ...} for PCRs that were extended (PCR 0 always). */
struct json_object *vs_pcr_values_to_json(const struct pcr_values *v, const bool (*only)[PCR_NUM]);
