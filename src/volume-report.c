/* volume-report.c: struct vs_volume_report, filled as unlock, status and sync go: the names of states and
 * slot statuses, error sentences with the problem they are, and one entry per slot, kept in slot order. */
#include "volume-report-internal.h"
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

const char *vs_volume_state_name(enum vs_volume_state s) {
        static const char *const names[] = {
                [VS_VOLUME_OPENED] = "opened",
                [VS_VOLUME_FORMATTED] = "formatted",
                [VS_VOLUME_ALREADY_OPEN] = "already-open",
                [VS_VOLUME_WAITING_FOR_STATE] = "waiting-for-state",
                [VS_VOLUME_NOT_OPENED] = "not-opened",
                [VS_VOLUME_FOREIGN] = "foreign",
                [VS_VOLUME_NOT_FOUND] = "not-found",
                [VS_VOLUME_UNENCRYPTED] = "unencrypted",
                [VS_VOLUME_ERROR] = "error",
                [VS_VOLUME_EMPTY] = "empty",
                [VS_VOLUME_LUKS2] = "luks2",
        };
        return (size_t) s < ELEMENTSOF(names) && names[s] ? names[s] : "unknown";
}

const char *vs_slot_status_name(enum vs_slot_status s) {
        static const char *const names[] = {
                [VS_SLOT_UNSET] = "unknown",
                [VS_SLOT_OPENED] = "opened",
                [VS_SLOT_OK] = "ok",
                [VS_SLOT_NOT_TRIED] = "not-tried",
                [VS_SLOT_ADDED] = "added",
                [VS_SLOT_REPLACED] = "replaced",
                [VS_SLOT_REMOVED] = "removed",
                [VS_SLOT_PENDING] = "pending",
                [VS_SLOT_FAILED] = "failed",
                [VS_SLOT_REJECTED] = "rejected",
                [VS_SLOT_MISSING] = "missing",
                [VS_SLOT_NOT_CHECKED] = "not-checked",
                [VS_SLOT_OPENS] = "opens",
                [VS_SLOT_DOES_NOT_OPEN] = "does-not-open",
                [VS_SLOT_UNCONFIGURED] = "unconfigured",
                [VS_SLOT_UNKNOWN] = "unknown",
                [VS_SLOT_TO_ENROL] = "to-enrol",
        };
        return (size_t) s < ELEMENTSOF(names) && names[s] ? names[s] : "unknown";
}

__attribute__((format(printf, 1, 0)))
static char *vfmt(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

static void push(char ***arr, size_t *n, char *s) {
        if (!s)
                return;
        char **a = realloc(*arr, (*n + 1) * sizeof(char *));
        if (!a) {
                free(s);
                return;
        }
        a[(*n)++] = s;
        *arr = a;
}

void report_init(struct vs_volume_report *rep, const struct vs_volume_config *v) {
        *rep = (struct vs_volume_report) { .opened_by_slot = -1, .problem = VS_PROBLEM_NONE };
        rep->volume = strdup(v->id);
}

void report_error(struct vs_volume_report *rep, enum vs_volume_problem problem, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        push(&rep->errors, &rep->n_errors, vfmt(fmt, ap));
        va_end(ap);
        if (problem > rep->problem)
                rep->problem = problem;
}

void report_pending(struct vs_volume_report *rep, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        push(&rep->pending, &rep->n_pending, vfmt(fmt, ap));
        va_end(ap);
}

struct vs_slot_report *report_slot(struct vs_volume_report *rep, unsigned slot, const char *kind) {
        size_t i = 0;
        for (; i < rep->n_slots; i++)
                if (rep->slots[i].slot == slot)
                        break;
        if (i == rep->n_slots) {
                if (rep->n_slots == ELEMENTSOF(rep->slots))
                        return NULL;
                size_t at = 0;
                while (at < rep->n_slots && rep->slots[at].slot < slot)
                        at++;
                memmove(&rep->slots[at + 1], &rep->slots[at], (rep->n_slots - at) * sizeof(rep->slots[0]));
                rep->slots[at] = (struct vs_slot_report) { .slot = slot };
                rep->n_slots++;
                i = at;
        }
        if (kind)
                snprintf(rep->slots[i].kind, sizeof(rep->slots[i].kind), "%s", kind);
        return &rep->slots[i];
}

bool report_slot_is(const struct vs_volume_report *rep, unsigned slot, enum vs_slot_status status) {
        for (size_t i = 0; i < rep->n_slots; i++)
                if (rep->slots[i].slot == slot)
                        return rep->slots[i].status == status;
        return status == VS_SLOT_UNSET;
}

void report_slot_set(struct vs_volume_report *rep, unsigned slot, const char *kind, enum vs_slot_status status,
                     const char *fmt, ...) {
        struct vs_slot_report *e = report_slot(rep, slot, kind);
        if (!e)
                return;
        e->status = status;
        free(e->detail);
        e->detail = NULL;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                e->detail = vfmt(fmt, ap);
                va_end(ap);
        }
}

void report_slot_fail(struct vs_volume_report *rep, unsigned slot, const char *kind, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = vfmt(fmt, ap);
        va_end(ap);
        report_slot_set(rep, slot, kind, VS_SLOT_FAILED, "%s", msg ? msg : "?");
        report_error(rep, VS_PROBLEM_SYNC, "volume %s slot %u: %s", rep->volume, slot, msg ? msg : "?");
        free(msg);
}

void report_log_failed_slots(const struct vs_volume_report *rep) {
        for (size_t i = 0; i < rep->n_slots; i++)
                if (rep->slots[i].status == VS_SLOT_FAILED)
                        log_error("volume %s slot %u (%s): %s", rep->volume, rep->slots[i].slot, rep->slots[i].kind,
                                  rep->slots[i].detail ?: "failed");
}

void vs_volume_report_done(struct vs_volume_report *rep) {
        free(rep->volume);
        free(rep->device);
        free(rep->mapper);
        free(rep->what);
        for (size_t i = 0; i < rep->n_slots; i++)
                free(rep->slots[i].detail);
        for (size_t i = 0; i < rep->n_errors; i++)
                free(rep->errors[i]);
        free(rep->errors);
        for (size_t i = 0; i < rep->n_pending; i++)
                free(rep->pending[i]);
        free(rep->pending);
        *rep = (struct vs_volume_report) { .opened_by_slot = -1 };
}
