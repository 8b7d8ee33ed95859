/* progress.c: see progress.h. */
#include "progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static bool enabled;
static unsigned depth;
static char what[160];
static pthread_t thread;
static bool thread_running, stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static struct timespec started;

void vs_progress_enable(bool on) { enabled = on; }

static double elapsed(void) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - started.tv_sec) + (double) (now.tv_nsec - started.tv_nsec) / 1e9;
}

static void *spin(void *arg) {
        static const char wheel[] = "|/-\\";
        unsigned tick = 0;
        pthread_mutex_lock(&lock);
        while (!stop) {
                fprintf(stderr, "\r\033[Kvolseal: %s %c %.1f s", what, wheel[tick++ % 4], elapsed());
                fflush(stderr);
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += 100 * 1000 * 1000;
                if (until.tv_nsec >= 1000 * 1000 * 1000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000 * 1000 * 1000;
                }
                while (!stop && pthread_cond_timedwait(&cond, &lock, &until) == 0)
                        ;
        }
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pthread_mutex_unlock(&lock);
        return arg;
}

void vs_progress_begin(const char *fmt, ...) {
        if (!enabled || depth++ > 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        clock_gettime(CLOCK_MONOTONIC, &started);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&cond, &attr);
        pthread_condattr_destroy(&attr);
        stop = false;
        /* No thread (out of resources): the step simply runs without an indicator. */
        thread_running = pthread_create(&thread, NULL, spin, NULL) == 0;
        if (!thread_running)
                pthread_cond_destroy(&cond);
}

void vs_progress_end(void) {
        if (!enabled || depth == 0 || --depth > 0 || !thread_running)
                return;
        pthread_mutex_lock(&lock);
        stop = true;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&lock);
        pthread_join(thread, NULL);
        pthread_cond_destroy(&cond);
        thread_running = false;
}
