/*
 * mem.c: allocation that dies loudly on exhaustion (for sizes we chose) and allocation that
 * reports (for sizes a client chose). Aborting on OOM keeps every caller free of
 * unreachable error paths; untrusted sizes must never take that road.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

void dq_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "danqing: fatal: %s at %s:%d\n", what, file, line);
    fflush(stderr);
    abort();
}

void *dq_xmalloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        dq_panic(file, line, "out of memory");
    return p;
}

void *dq_xcalloc_at(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        dq_panic(file, line, "out of memory");
    return p;
}

void *dq_xrealloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        dq_panic(file, line, "out of memory");
    return q;
}

char *dq_xstrdup_at(const char *s, const char *file, int line)
{
    size_t n = strlen(s);
    char *p = dq_xmalloc_at(n + 1, file, line);
    memcpy(p, s, n + 1);
    return p;
}

char *dq_xstrndup_at(const char *s, size_t n, const char *file, int line)
{
    char *p = dq_xmalloc_at(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *dq_trymalloc(size_t n, dq_err_t *err)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        dq_err_set(err, DQ_ELIMIT, 0, "cannot allocate %zu bytes", n);
    return p;
}

char *dq_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dq_buf_t b = {0};
    dq_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return dq_buf_steal(&b, NULL);
}
