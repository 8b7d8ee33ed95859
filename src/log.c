/* log.c: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static enum vs_log_level max_level = VS_LOG_NOTICE;
static int quiet;
static vs_log_sink sink;
static void *sink_userdata;

void vs_log_set_sink(vs_log_sink s, void *userdata) {
        sink = s;
        sink_userdata = userdata;
}

void vs_log_set_level(enum vs_log_level level) { max_level = level; }
enum vs_log_level vs_log_get_level(void) { return max_level; }
void vs_log_set_quiet(int q) { quiet = q; }

/* errno_value is what %m names: set right before each formatting call, since fprintf may change errno. */
__attribute__((format(printf, 3, 0)))
static void vlog(enum vs_log_level level, int errno_value, const char *fmt, va_list ap) {
        if (sink) {
                char buf[2048];
                errno = errno_value;
                vsnprintf(buf, sizeof(buf), fmt, ap);
                sink(level, buf, sink_userdata);
                return;
        }
        if (level > max_level || (quiet && level > VS_LOG_WARN))
                return;
        const char *prefix = level <= VS_LOG_ERR ? "error: " : level == VS_LOG_WARN ? "warning: " : "";
        fprintf(stderr, "volseal: %s", prefix);
        errno = errno_value;
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

int vs_log(enum vs_log_level level, const char *fmt, ...) {
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        vlog(level, saved, fmt, ap);
        va_end(ap);
        errno = saved;
        return 0;
}

int vs_log_errno(enum vs_log_level level, int err, const char *fmt, ...) {
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        vlog(level, err < 0 ? -err : err, fmt, ap); /* %m names err, not whatever errno holds by now */
        va_end(ap);
        errno = saved;
        return err < 0 ? err : -err;
}
