/* fuzz-config.c: libFuzzer target for the config YAML parser (src/config.c). */
#include <stddef.h>
#include <stdint.h>

#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "meta-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int streq_state(const char *id) {
        return id[0] == 'S' && id[1] == 'T' && id[2] == 'A' && id[3] == 'T' && id[4] == 'E' && !id[5];
}

static void drop(enum vs_log_level level, const char *msg, void *ud) {
        (void) level; (void) msg; (void) ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vs_log_set_sink(drop, NULL);
        struct vs_config cfg = {};
        if (vs_config_load_string(&cfg, "fuzz.yaml", (const char *) data, size) == 0) {
                for (size_t i = 0; i < cfg.n_volumes; i++) {
                        const struct vs_volume_config *v = &cfg.volumes[i];
                        json_object_put(vs_volume_config_to_json(v));
                        /* What volseal writes to META tag 9 reads back as an encrypted config. */
                        struct vs_secret *json = NULL;
                        struct vs_encryption_config back;
                        if (v->encrypted && vs_meta_config_format(&v->enc, VS_META_CONFIG_TALOS_1_14, &json) == 0) {
                                if (vs_meta_config_parse(json->data, json->len, "fuzz", &back) < 0 && streq_state(v->id))
                                        abort();
                                vs_encryption_config_done(&back);
                        }
                        vs_secret_free(json);
                }
                vs_config_free(&cfg);
        }
        return 0;
}
