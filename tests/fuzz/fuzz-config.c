/* fuzz-config.c: libFuzzer target for the config YAML parser (src/config.c). */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        struct vs_config cfg = {};
        if (vs_config_load_string(&cfg, "fuzz.yaml", (const char *) data, size) == 0) {
                for (size_t i = 0; i < cfg.n_volumes; i++)
                        json_object_put(vs_volume_config_to_json(&cfg.volumes[i]));
                vs_config_free(&cfg);
        }
        return 0;
}
