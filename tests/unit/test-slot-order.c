/* test-slot-order.c: vs_slot_order_advice (src/slot-order.c) on configs read by vs_config_load_string: a
 * nodeID or static key in a lower slot than a tpm or kms key of the same volume is named with every slot it
 * hides; tpm/kms first, fallback after, says nothing; a short buffer cuts the sentence safely; the config
 * stays valid; vs_slot_order_warn logs the sentence as a warning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "slot-order.h"

/* A VolumeConfig named STATE with the keys of `keys` ("0:nodeID 1:tpm 2:kms"); provider luks2, which Talos
 * requires with keys (docs/talos.md). */
static void load(struct vs_config *cfg, const char *keys) {
        char yaml[2048];
        size_t off = (size_t) snprintf(yaml, sizeof(yaml),
                                       "apiVersion: v1alpha1\nkind: VolumeConfig\nname: STATE\nencryption:\n"
                                       "  provider: luks2\n  keys:\n");
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", keys);
        for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
                char *kind = strchr(w, ':');
                assert_non_null(kind);
                *kind++ = 0;
                const char *body = strcmp(kind, "nodeID") == 0 ? "nodeID: {}" :
                                   strcmp(kind, "static") == 0 ? "static: {passphrase: p}" :
                                   strcmp(kind, "kms") == 0 ? "kms: {endpoint: 'https://kms.example:443'}" : "tpm: {}";
                off += (size_t) snprintf(yaml + off, sizeof(yaml) - off, "    - %s\n      slot: %s\n", body, w);
        }
        assert_int_equal(vs_config_load_string(cfg, "t.yaml", yaml, strlen(yaml)), 0);
        assert_int_equal(cfg->n_volumes, 1);
}

static void expect(const char *keys, const char *want) {
        struct vs_config cfg = {};
        load(&cfg, keys);
        char buf[512];
        bool said = vs_slot_order_advice(&cfg.volumes[0], buf, sizeof(buf));
        if (!want) {
                assert_false(said);
                assert_string_equal(buf, "");
        } else {
                assert_true(said);
                assert_string_equal(buf, want);
        }
        vs_config_free(&cfg);
}

static void test_fallback_after(void **state) {
        (void) state;
        expect("0:tpm 1:nodeID", NULL);
        expect("0:kms 1:tpm 2:static", NULL);
        expect("0:nodeID", NULL);
        expect("0:static 1:nodeID", NULL);
        expect("0:tpm 1:kms", NULL);
}

static void test_fallback_first(void **state) {
        (void) state;
        expect("0:nodeID 1:tpm",
               "volume STATE: slot 0 (nodeID) always opens the volume and is tried before slot 1 (tpm), so it never "
               "opens the volume and a broken binding would go unnoticed (put tpm and kms keys in lower slots than "
               "nodeID and static keys)");
        expect("0:static 1:tpm 3:kms",
               "volume STATE: slot 0 (static) always opens the volume and is tried before slots 1 (tpm), 3 (kms), so "
               "these never open the volume and a broken binding would go unnoticed (put tpm and kms keys in lower "
               "slots than nodeID and static keys)");
        /* only the keys above the first always-opening one are hidden */
        expect("0:tpm 2:nodeID 5:kms 6:static",
               "volume STATE: slot 2 (nodeID) always opens the volume and is tried before slot 5 (kms), so it never "
               "opens the volume and a broken binding would go unnoticed (put tpm and kms keys in lower slots than "
               "nodeID and static keys)");
}

static void test_short_buffer_and_unencrypted(void **state) {
        (void) state;
        struct vs_config cfg = {};
        load(&cfg, "0:nodeID 1:tpm");
        char small[20];
        assert_true(vs_slot_order_advice(&cfg.volumes[0], small, sizeof(small)));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_memory_equal(small, "volume STATE: slot ", 19);
        cfg.volumes[0].encrypted = false;
        assert_false(vs_slot_order_advice(&cfg.volumes[0], small, sizeof(small)));
        vs_config_free(&cfg);
}

static void test_warn_logs(void **state) {
        (void) state;
        struct vs_config cfg = {};
        load(&cfg, "1:static 2:kms");
        vs_slot_order_warn(&cfg.volumes[0]);
        assert_non_null(strstr(fixture_log, "volume STATE: slot 1 (static) always opens the volume"));
        fixture_log[0] = 0;
        vs_config_free(&cfg);
        load(&cfg, "1:kms 2:static");
        vs_slot_order_warn(&cfg.volumes[0]);
        assert_string_equal(fixture_log, "");
        vs_config_free(&cfg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fallback_after, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_fallback_first, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_short_buffer_and_unencrypted, fixture_setup, fixture_teardown),
                cmocka_unit_test_setup_teardown(test_warn_logs, fixture_setup, fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
