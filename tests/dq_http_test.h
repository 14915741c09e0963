/*
 * dq_http_test.h: helpers for integration tests that run the real binary. A test makes a
 * data directory, runs `danqing ingest`, starts `danqing serve --listen 127.0.0.1:0`, reads
 * the bound port from its first line, talks HTTP/1.1 to it over a plain socket, and stops it
 * with SIGTERM (checking that it exits 0: graceful shutdown is part of what is tested).
 * The binary is $DQ_BIN (scripts/run-tests.sh sets it), else build/san/danqing.
 */
#ifndef DQ_HTTP_TEST_H
#define DQ_HTTP_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "../src/core/core.h"
#include "dq_test.h"

static const char *dqt_bin(void)
{
    const char *b = getenv("DQ_BIN");
    return b && *b ? b : "build/san/danqing";
}

/* A fresh temporary directory, removed by the runner when the test ends; free with free(). */
static char *dqt_tmpdir(void)
{
    return dq_test_tmpdir("dqtest"); /* in the test's own $TMPDIR (dq_test.h) */
}

/* Runs a shell command line (printf-style); returns its exit status (-1 if it did not exit). */
__attribute__((format(printf, 1, 2))) static int dqt_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dq_buf_t b = {0};
    dq_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    int st = system(b.data);
    dq_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct {
    pid_t pid;
    int port;
} dqt_server_t;

static int dqt_wait_ready(int port);

/* Starts `danqing serve` on data_dir with extra args; fills s once it printed its port, which
 * it opens before its search index is built (/health: 503 "starting"). Returns 0 or -1. */
static int dqt_server_launch(dqt_server_t *s, const char *data_dir, const char *extra)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char *cmd = dq_xasprintf("exec %s serve --listen 127.0.0.1:0 --data %s --log-level 2 %s",
                                 dqt_bin(), data_dir, extra ? extra : "");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    int port = 0;
    if (fgets(line, sizeof(line), f)) {
        char *p = strrchr(line, ':');
        if (p)
            port = atoi(p + 1);
    }
    fclose(f);
    if (port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "    server did not start: '%s'\n", line);
        return -1;
    }
    s->pid = pid;
    s->port = port;
    return 0;
}

/* dqt_server_launch, then waits until /health says ready. Returns 0 or -1 (no server). */
static int dqt_server_start(dqt_server_t *s, const char *data_dir, const char *extra)
{
    if (dqt_server_launch(s, data_dir, extra) < 0)
        return -1;
    if (dqt_wait_ready(s->port) < 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        fprintf(stderr, "    server on port %d never said ready\n", s->port);
        return -1;
    }
    return 0;
}

/* SIGTERM, wait; returns the server's exit status (0 = graceful). */
static int dqt_server_stop(dqt_server_t *s)
{
    int st = 0;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct {
    int status;
    dq_buf_t head; /* status line and headers, as received */
    dq_buf_t body;
} dqt_resp_t;

static void dqt_resp_free(dqt_resp_t *r)
{
    dq_buf_free(&r->head);
    dq_buf_free(&r->body);
}

/* A header's value (first occurrence, case-insensitive name); new string or NULL. */
static char *dqt_header(const dqt_resp_t *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->head.data;
    while (p && (p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            return dq_xstrndup(v, e ? (size_t)(e - v) : strlen(v));
        }
    }
    return NULL;
}

/* One request on a fresh connection (Connection: close), with an optional body (sent with
 * its Content-Length; the caller names its Content-Type in extra_headers). extra_headers:
 * "Name: v\r\n"... or NULL. Returns 0 or -1 (connection failure). Body read to EOF and
 * de-chunked. */
static int dqt_http_from(const char *src, int port, const char *method, const char *path,
                         const char *extra_headers, const char *body, dqt_resp_t *r);
static int dqt_http_body(int port, const char *method, const char *path, const char *extra_headers,
                         const char *body, dqt_resp_t *r)
{
    return dqt_http_from(NULL, port, method, path, extra_headers, body, r);
}

/* dqt_http_body from the local address src (a loopback address such as "127.0.0.2", which
 * Linux lets any socket bind; NULL: the kernel's choice), so that a test can be several
 * clients. */
static int dqt_http_from(const char *src, int port, const char *method, const char *path,
                         const char *extra_headers, const char *body, dqt_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (src) {
        struct sockaddr_in b = {0};
        b.sin_family = AF_INET;
        if (inet_pton(AF_INET, src, &b.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    size_t blen = body ? strlen(body) : 0;
    dq_buf_t q = {0};
    dq_buf_printf(&q, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s", method,
                  path, port, extra_headers ? extra_headers : "");
    if (body)
        dq_buf_printf(&q, "Content-Length: %zu\r\n", blen);
    dq_buf_puts(&q, "\r\n");
    if (body)
        dq_buf_append(&q, body, blen);
    size_t off = 0;
    while (off < q.len) {
        ssize_t w = write(fd, q.data + off, q.len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    dq_buf_free(&q);
    dq_buf_t all = {0};
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        dq_buf_append(&all, chunk, (size_t)n);
    close(fd);
    char *sep = all.data ? strstr(all.data, "\r\n\r\n") : NULL;
    if (!sep) {
        dq_buf_free(&all);
        return -1;
    }
    dq_buf_append(&r->head, all.data, (size_t)(sep - all.data) + 2);
    size_t boff = (size_t)(sep - all.data) + 4;
    r->status = atoi(all.data + 9);
    char *te = dqt_header(r, "Transfer-Encoding");
    if (te && strstr(te, "chunked")) {
        size_t i = boff;
        while (i < all.len) {
            size_t len = strtoul(all.data + i, NULL, 16);
            char *crlf = strstr(all.data + i, "\r\n");
            if (!crlf || len == 0)
                break;
            i = (size_t)(crlf - all.data) + 2;
            dq_buf_append(&r->body, all.data + i, DQ_MIN(len, all.len - i));
            i += len + 2;
        }
    } else {
        dq_buf_append(&r->body, all.data + boff, all.len - boff);
    }
    free(te);
    dq_buf_free(&all);
    return 0;
}

/* A request without a body. */
static int dqt_http(int port, const char *method, const char *path, const char *extra_headers,
                    dqt_resp_t *r)
{
    return dqt_http_body(port, method, path, extra_headers, NULL, r);
}

/* Polls /health every 10 ms until it answers 200 (ready); bounded at 60 s, which a
 * sanitizer build on a loaded machine needs at most. 0, or -1 when it never did. */
static int dqt_wait_ready(int port)
{
    for (int i = 0; i < 6000; i++) {
        dqt_resp_t r;
        int ok = dqt_http(port, "GET", "/health", NULL, &r) == 0;
        int st = ok ? r.status : 0;
        if (ok)
            dqt_resp_free(&r);
        if (st == 200)
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

#endif
