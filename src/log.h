/* log.h: one logging channel for the CLI and library.
 * Promise: messages go to stderr (or a caller-installed sink) with a "volseal: " prefix; secrets are never
 * passed here (struct vs_secret has no printer). Functions that decide log once and return -errno. */
#pragma once
#include <stdarg.h>

enum vs_log_level { VS_LOG_ERR = 3, VS_LOG_WARN = 4, VS_LOG_NOTICE = 5, VS_LOG_INFO = 6, VS_LOG_DEBUG = 7 };

void vs_log_set_level(enum vs_log_level level);
enum vs_log_level vs_log_get_level(void);
void vs_log_set_quiet(int quiet); /* --json: only errors and warnings reach stderr (stdout is JSON) */
/* Tests and embedders: receive each formatted message (without prefix) instead of stderr; NULL restores. */
typedef void (*vs_log_sink)(enum vs_log_level level, const char *message, void *userdata);
void vs_log_set_sink(vs_log_sink sink, void *userdata);

__attribute__((format(printf, 2, 3)))
int vs_log(enum vs_log_level level, const char *fmt, ...);
/* Logs at `level` and returns -abs(err), so `return log_error_errno(-EINVAL, "...")` reads naturally.
 * %m in fmt names err (errno is set to it while formatting and restored after). */
__attribute__((format(printf, 3, 4)))
int vs_log_errno(enum vs_log_level level, int err, const char *fmt, ...);

#define log_error(...)  vs_log(VS_LOG_ERR, __VA_ARGS__)
#define log_warning(...) vs_log(VS_LOG_WARN, __VA_ARGS__)
#define log_notice(...) vs_log(VS_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   vs_log(VS_LOG_INFO, __VA_ARGS__)
#define log_debug(...)  vs_log(VS_LOG_DEBUG, __VA_ARGS__)
#define log_error_errno(err, ...) vs_log_errno(VS_LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) vs_log_errno(VS_LOG_WARN, (err), __VA_ARGS__)
#define log_debug_errno(err, ...) vs_log_errno(VS_LOG_DEBUG, (err), __VA_ARGS__)
