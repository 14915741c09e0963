/*
 * accesslog.c: one key=value line per request, cheaply. A write(2) per request halved the
 * throughput of cached tiles (48.6k vs 87.4k requests/s in one wrk run on 2 cores), so each
 * worker thread appends to its own buffer (an uncontended mutex, no syscall) and the buffer
 * goes out in one write when it fills, when the server's watcher flushes every slot (every
 * 100 ms), and at shutdown. Lines are therefore at most about 100 ms late, never lost on a
 * graceful stop, and never interleaved. A log on a file of its own (--access-log) is reopened
 * on SIGHUP by dup2 over its descriptor, so a writer never sees a closed one.
 */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES (32 * 1024)

typedef struct slot {
    struct slot *next;
    pthread_mutex_t lock; /* guards len, data, sec, stamp */
    size_t len;
    time_t sec;     /* the second `stamp` was formatted for */
    char stamp[24]; /* "2026-11-24T15:33:07" */
    char data[SLOT_BYTES];
} slot_t;

struct dq_alog {
    int fd;
    char *path; /* the file it owns (dq_alog_open), else NULL */
    pthread_mutex_t list_lock; /* guards slots (the list, not their contents) */
    slot_t *slots;
};

/* Per-thread: the slot this thread writes to, and the log it belongs to. */
static __thread slot_t *my_slot;
static __thread dq_alog_t *my_log;

dq_alog_t *dq_alog_new(int fd)
{
    dq_alog_t *a = dq_xcalloc(1, sizeof(*a));
    a->fd = fd;
    pthread_mutex_init(&a->list_lock, NULL);
    return a;
}

static int open_log(const char *path, dq_err_t *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        dq_err_set(err, DQ_EIO, 500, "access log %s: %s", path, strerror(errno));
    return fd;
}

dq_alog_t *dq_alog_open(const char *path, dq_err_t *err)
{
    int fd = open_log(path, err);
    if (fd < 0)
        return NULL;
    dq_alog_t *a = dq_alog_new(fd);
    a->path = dq_xstrdup(path);
    return a;
}

int dq_alog_reopen(dq_alog_t *a, dq_err_t *err)
{
    if (!a || !a->path)
        return 0;
    int fd = open_log(a->path, err);
    if (fd < 0)
        return -1;
    /* Buffered lines belong to the old file. Lines added after this flush go to whichever
     * file a->fd names when their slot is written: dup2 swaps the file under the same
     * descriptor number in one step, so a write goes wholly to one or the other. */
    dq_alog_flush(a);
    int rc = 0;
    if (dup2(fd, a->fd) < 0)
        rc = dq_err_set(err, DQ_EIO, 500, "access log %s: %s", a->path, strerror(errno));
    close(fd);
    return rc;
}

static void flush_locked(dq_alog_t *a, slot_t *s)
{
    size_t off = 0;
    while (off < s->len) {
        ssize_t n = write(a->fd, s->data + off, s->len - off);
        if (n <= 0)
            break; /* a full disk must not stop the server; the lines are dropped */
        off += (size_t)n;
    }
    s->len = 0;
}

void dq_alog_flush(dq_alog_t *a)
{
    pthread_mutex_lock(&a->list_lock);
    for (slot_t *s = a->slots; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        flush_locked(a, s);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&a->list_lock);
}

void dq_alog_free(dq_alog_t *a)
{
    if (!a)
        return;
    dq_alog_flush(a);
    for (slot_t *s = a->slots, *n; s; s = n) {
        n = s->next;
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    pthread_mutex_destroy(&a->list_lock);
    if (a->path)
        close(a->fd);
    free(a->path);
    free(a);
}

void dq_alog_printf(dq_alog_t *a, const char *fmt, ...)
{
    if (my_log != a || !my_slot) {
        slot_t *s = dq_xcalloc(1, sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_lock(&a->list_lock);
        s->next = a->slots;
        a->slots = s;
        pthread_mutex_unlock(&a->list_lock);
        my_slot = s;
        my_log = a;
    }
    slot_t *s = my_slot;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char line[1024];
    pthread_mutex_lock(&s->lock);
    if (tv.tv_sec != s->sec) { /* gmtime_r once a second, not once a request */
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(s->stamp, sizeof(s->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        s->sec = tv.tv_sec;
    }
    int n = snprintf(line, sizeof(line), "%s.%03dZ info access ", s->stamp, (int)(tv.tv_usec / 1000));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : DQ_MIN((size_t)m, sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    if (s->len + len > SLOT_BYTES)
        flush_locked(a, s);
    memcpy(s->data + s->len, line, len);
    s->len += len;
    pthread_mutex_unlock(&s->lock);
}
