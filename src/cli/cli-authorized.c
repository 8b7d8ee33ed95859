/* cli-authorized.c: see cli-authorized.h. */
#include "cli-authorized.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

struct json_object *cli_authorized_to_json(uint32_t handle, const struct authnv_set *set) {
        struct json_object *o = json_object_new_object(), *pcrs = json_object_new_array();
        struct json_object *keys = json_object_new_array(), *states = json_object_new_array();
        char buf[2 * AUTHNV_NAME_SIZE + 1];
        snprintf(buf, sizeof(buf), "0x%08x", handle);
        json_object_object_add(o, "nv_index", json_object_new_string(buf));
        json_object_object_add(o, "serial", json_object_new_int64(set->serial));
        for (int p = 0; p < 24; p++)
                if (set->pcr_mask & (1u << p))
                        json_object_array_add(pcrs, json_object_new_int(p));
        json_object_object_add(o, "pcrs", pcrs);
        for (size_t i = 0; i < set->n_keys; i++) {
                policy_hex(set->keys[i].name, set->keys[i].size, buf);
                json_object_array_add(keys, json_object_new_string(buf));
        }
        json_object_object_add(o, "keys", keys);
        for (size_t i = 0; i < set->n_states; i++) {
                struct json_object *st = json_object_new_object();
                const uint8_t *v = authnv_state(set, i);
                for (int p = 0, k = 0; p < 24; p++)
                        if (set->pcr_mask & (1u << p)) {
                                char name[4];
                                snprintf(name, sizeof(name), "%d", p);
                                policy_hex(v + POLICY_SHA256_SIZE * k++, POLICY_SHA256_SIZE, buf);
                                json_object_object_add(st, name, json_object_new_string(buf));
                        }
                json_object_array_add(states, st);
        }
        json_object_object_add(o, "states", states);
        return o;
}

void cli_authorized_print(uint32_t handle, const struct authnv_set *set, const uint8_t *booted, size_t booted_len) {
        char buf[2 * AUTHNV_NAME_SIZE + 1];
        printf("  authorized (NV index 0x%08x, write %u):\n", handle, set->serial);
        for (size_t i = 0; i < set->n_keys; i++) {
                policy_hex(set->keys[i].name, set->keys[i].size, buf);
                printf("    PCR-policy key %s\n", buf);
        }
        size_t size = authnv_state_size(set);
        for (size_t i = 0; i < set->n_states; i++) {
                const uint8_t *v = authnv_state(set, i);
                printf("    state");
                for (int p = 0, k = 0; p < 24; p++)
                        if (set->pcr_mask & (1u << p)) {
                                policy_hex(v + POLICY_SHA256_SIZE * k++, POLICY_SHA256_SIZE, buf);
                                printf(" PCR %d = %s", p, buf);
                        }
                bool is_booted = booted && booted_len == size && memcmp(booted, v, size) == 0;
                printf("%s\n", is_booted ? " (booted)" : "");
        }
        if (!set->pcr_mask)
                printf("    no literal PCRs: any state of the authorized keys' signed PCR 11\n");
}
