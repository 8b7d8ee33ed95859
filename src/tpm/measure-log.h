/* measure-log.h: volseal's own measurement log (docs/tpm.md "PCR commands"): one RFC 7464 JSON-seq record
 * per PCR extend volseal makes, in the shape of systemd's tpm2-measure.log.
 * Promise: no TPM here; the path is resolved in one place (vs_measure_log_path). */
#pragma once
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#define VS_MEASURE_LOG_DEFAULT "/run/volseal/tpm2-measure.log"

/* $VOLSEAL_MEASURE_LOG if set and not empty (an empty value means the default), else
 * VS_MEASURE_LOG_DEFAULT. */
const char *vs_measure_log_path(void);
/* Appends 0x1E {"pcr":P,"digests":[{"hashAlg":"sha256","digest":"<hex>"},...],"content_type":"systemd",
 * "content":{"string":"<word>"}} '\n' under an exclusive flock; creates the file (0644) and its directory.
 * 0 or -errno, not logged: the caller decides how much a lost record matters. */
int vs_measure_log_append(const char *path, uint32_t pcr, const TPML_DIGEST_VALUES *digests, const char *word);
