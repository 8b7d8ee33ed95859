/* cmd-volume-report.c: a volume's report as `unlock` and `status` print it (lines or one JSON object) and
 * the exit code it makes (docs/operations.md "volseal unlock: states and exit codes"). */
#include "cli.h"
#include "cmd-volume.h"

#include <stdio.h>

int volume_report_exit(const struct vs_volume_report *rep) {
        switch (rep->problem) {
        case VS_PROBLEM_NONE:
                return EXIT_OK;
        case VS_PROBLEM_SYNC:
                return EXIT_SYNC;
        case VS_PROBLEM_ENVIRONMENT:
                return EXIT_ENV;
        case VS_PROBLEM_NOT_OPENED:
                return EXIT_NOT_OPENED;
        }
        return EXIT_USAGE;
}

static struct json_object *slots_to_json(const struct vs_volume_report *rep) {
        struct json_object *slots = json_object_new_array();
        for (size_t i = 0; i < rep->n_slots; i++) {
                const struct vs_slot_report *s = &rep->slots[i];
                struct json_object *so = json_object_new_object();
                json_object_object_add(so, "slot", json_object_new_int((int) s->slot));
                json_object_object_add(so, "kind", json_object_new_string(s->kind));
                json_object_object_add(so, "status", json_object_new_string(vs_slot_status_name(s->status)));
                if (s->detail)
                        json_object_object_add(so, "detail", json_object_new_string(s->detail));
                json_object_array_add(slots, so);
        }
        return slots;
}

static struct json_object *strings_to_json(char *const *v, size_t n) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

struct json_object *volume_report_to_json(const struct vs_volume_report *rep) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "volume", json_object_new_string(rep->volume ? rep->volume : ""));
        json_object_object_add(o, "device", rep->device ? json_object_new_string(rep->device) : NULL);
        json_object_object_add(o, "state", json_object_new_string(vs_volume_state_name(rep->state)));
        json_object_object_add(o, "opened_by_slot", rep->opened_by_slot >= 0 ? json_object_new_int(rep->opened_by_slot) : NULL);
        json_object_object_add(o, "mapper", rep->mapper ? json_object_new_string(rep->mapper) : NULL);
        if (rep->partition) {
                json_object_object_add(o, "partition", json_object_new_int((int) rep->partition));
                json_object_object_add(o, "offset", json_object_new_int64((int64_t) rep->offset));
                json_object_object_add(o, "size", json_object_new_int64((int64_t) rep->size));
        }
        if (rep->what)
                json_object_object_add(o, "holds", json_object_new_string(rep->what));
        json_object_object_add(o, "slots", slots_to_json(rep));
        json_object_object_add(o, "errors", strings_to_json(rep->errors, rep->n_errors));
        json_object_object_add(o, "pending", strings_to_json(rep->pending, rep->n_pending));
        return o;
}

void volume_report_print(const struct vs_volume_report *rep) {
        printf("%s: %s", rep->volume, vs_volume_state_name(rep->state));
        if (rep->opened_by_slot >= 0 && (rep->state == VS_VOLUME_OPENED || rep->state == VS_VOLUME_FORMATTED))
                printf(" by slot %d", rep->opened_by_slot);
        else if (rep->opened_by_slot >= 0 && rep->state != VS_VOLUME_ERROR)
                printf(", slot %d opens it", rep->opened_by_slot);
        if (rep->device && rep->partition)
                printf(" (%s partition %u at offset %llu)", rep->device, rep->partition, (unsigned long long) rep->offset);
        else if (rep->device)
                printf(" (%s)", rep->device);
        if (rep->mapper)
                printf(" as %s", rep->mapper);
        if (rep->what)
                printf(", holds %s", rep->what);
        putchar('\n');
        for (size_t i = 0; i < rep->n_slots; i++) {
                const struct vs_slot_report *s = &rep->slots[i];
                printf("  slot %-2u %-12s %s%s%s\n", s->slot, s->kind, vs_slot_status_name(s->status),
                       s->detail ? ": " : "", s->detail ? s->detail : "");
        }
        for (size_t i = 0; i < rep->n_pending; i++)
                printf("  pending: %s\n", rep->pending[i]);
        for (size_t i = 0; i < rep->n_errors; i++)
                printf("  error: %s\n", rep->errors[i]);
}
