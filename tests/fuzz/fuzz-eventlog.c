/* fuzz-eventlog.c: libFuzzer target for pcr/: the TCG event log parser (both formats), replay, every
 * decoder (describe and JSON) and the JSON-seq measurement log reader. The first input byte picks the
 * reader: even = TCG binary log, odd = volseal's JSON-seq log. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <json-c/json.h>

#include "log.h"
#include "pcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        if (size < 1)
                return 0;
        struct pcr_eventlog log = {};
        int r = data[0] & 1 ? pcr_eventlog_add_measure_log(&log, (const char *) data + 1, size - 1, "fuzz")
                            : pcr_eventlog_parse(&log, data + 1, size - 1, "fuzz");
        if (r == 0) {
                struct pcr_values v;
                (void) pcr_eventlog_replay(&log, &v);
                for (size_t i = 0; i < log.n_events; i++) {
                        free(pcr_event_describe(&log.events[i]));
                        json_object_put(pcr_event_to_json(&log.events[i]));
                }
                struct pcr_sb_vars vars = {};
                struct pcr_values pred;
                char *reason = NULL;
                (void) pcr_predict_pcr7(&log, &vars, &pred, &reason);
                free(reason);
        }
        pcr_eventlog_free(&log);
        return 0;
}
