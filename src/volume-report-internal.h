/* volume-report-internal.h: how unlock, status and sync fill a struct vs_volume_report (volume-report.c).
 * Promise: included only by src/volume*.c; a report is only ever changed through these. */
#pragma once
#include "volume-report.h"

void report_init(struct vs_volume_report *rep, const struct vs_volume_config *v);
/* An error sentence for the volume; the report's problem becomes the worse of the two. */
__attribute__((format(printf, 3, 4)))
void report_error(struct vs_volume_report *rep, enum vs_volume_problem problem, const char *fmt, ...);
/* status: one thing the next unlock would do. */
__attribute__((format(printf, 2, 3)))
void report_pending(struct vs_volume_report *rep, const char *fmt, ...);
/* The entry of `slot` (made, in slot order, when missing; `kind` replaces its kind when not NULL). NULL only
 * when all VS_MAX_SLOTS entries are used. */
struct vs_slot_report *report_slot(struct vs_volume_report *rep, unsigned slot, const char *kind);
/* Sets a slot's status and detail (printf-style; fmt NULL = no detail). */
__attribute__((format(printf, 5, 6)))
void report_slot_set(struct vs_volume_report *rep, unsigned slot, const char *kind, enum vs_slot_status status,
                     const char *fmt, ...);
/* A slot that failed to sync: status failed, and an error sentence naming volume and slot (VS_PROBLEM_SYNC). */
__attribute__((format(printf, 4, 5)))
void report_slot_fail(struct vs_volume_report *rep, unsigned slot, const char *kind, const char *fmt, ...);
/* One error line on stderr per slot whose final status is failed (the report keeps the detail). */
void report_log_failed_slots(const struct vs_volume_report *rep);
/* True when the slot's entry says `status` (a slot without an entry is VS_SLOT_UNSET). */
bool report_slot_is(const struct vs_volume_report *rep, unsigned slot, enum vs_slot_status status);
