/*
 * Issue 9, "hot paths never wait for a writer": libmicrohttpd keeps a connection on the worker
 * thread that accepted it, and API writes and logins ran on those workers. A write waiting for
 * the catalog's writer lock (another process's `danqing import` holds it for seconds) held its
 * worker, and every keep-alive tile connection and /health on that worker waited with it
 * (uncached tile p99 during an import: 1.8 s, against 54 ms idle).
 *
 * The server here has one worker (--threads 1), so before the fix any write that waited held
 * every connection. A raw SQLite connection holds the write lock (BEGIN IMMEDIATE) for as long
 * as the test wants, so a write and a login that need it wait for sure; while they wait,
 * /health and tiles (a keep-alive connection opened before the write, and fresh ones) must be
 * answered. The checks are about order (answered while the lock is still held, so before the
 * write could answer), not speed: the only time bound (10 s per read) tells "answered" from
 * "stuck behind the write", whose lock wait is a minute here.
 */
#define _GNU_SOURCE /* strcasestr */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <vips/vips.h>

#include "../dq_fixture.h"

#define READ_BOUND_MS 10000 /* a read stuck behind the write would wait WRITE_WAIT_MS */
#define WRITE_WAIT_MS "60000"

typedef dqt_cura_t fx_t;

static void setup(fx_t *f) { dqt_cura_start(f, WRITE_WAIT_MS, "--cache-mb 0 --threads 1"); }

static void teardown(fx_t *f) { dqt_cura_stop(f); }

/* ---------------------------------------------------------------- a keep-alive connection */

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {READ_BOUND_MS / 1000, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GET path on the open connection fd (kept alive); reads one whole answer (Content-Length
 * framed). Returns the status, or 0 when no whole answer came within READ_BOUND_MS. */
static int get_on(int fd, const char *path)
{
    char q[512];
    int n = snprintf(q, sizeof(q), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, q, (size_t)n) != n)
        return 0;
    dq_buf_t in = {0};
    char chunk[16384];
    int status = 0;
    for (;;) {
        char *sep = in.data ? strstr(in.data, "\r\n\r\n") : NULL;
        if (sep) {
            const char *cl = strcasestr(in.data, "\r\nContent-Length:");
            size_t head = (size_t)(sep - in.data) + 4;
            if (cl && cl < sep && in.len >= head + strtoul(cl + 17, NULL, 10)) {
                status = atoi(in.data + 9);
                break;
            }
        }
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got <= 0)
            break;
        dq_buf_append(&in, chunk, (size_t)got);
        dq_buf_putc(&in, '\0'); /* keep it a string for strstr; dropped below */
        in.len--;
    }
    dq_buf_free(&in);
    return status;
}

/* GET path on a fresh connection: the status, 0 when no answer came within READ_BOUND_MS. */
static int get_fresh(int port, const char *path)
{
    int fd = connect_local(port);
    if (fd < 0)
        return -1;
    int st = get_on(fd, path);
    close(fd);
    return st;
}

/* /health's count of API jobs queued or running (-1 when it did not answer). */
static int api_jobs(int port)
{
    dqt_resp_t r;
    int n = -1;
    if (dqt_http(port, "GET", "/health", NULL, &r) == 0 && r.status == 200) {
        const char *p = r.body.data ? strstr(r.body.data, "\"api_jobs\":") : NULL;
        if (p)
            n = atoi(p + strlen("\"api_jobs\":"));
    }
    dqt_resp_free(&r);
    return n;
}

/* ---------------------------------------------------------------- the waiting API calls */

typedef struct {
    const fx_t *f;
    const char *path, *headers, *body;
    int status;
    atomic_int done;
} call_t;

static void *api_call(void *arg)
{
    call_t *c = arg;
    dqt_resp_t r;
    c->status = dqt_http_body(c->f->srv.port, "POST", c->path, c->headers, c->body, &r) == 0
                    ? r.status
                    : -1;
    dqt_resp_free(&r);
    atomic_store(&c->done, 1);
    return NULL;
}

#define TILE "/iiif/3/img/0,0,512,512/512,/0/default.jpg"

DQ_TEST(write_and_login_waiting_for_the_writer_lock_do_not_hold_the_only_worker)
{
    fx_t f;
    setup(&f);
    /* A keep-alive tile connection, opened and used before the write arrives. */
    int ka = connect_local(f.srv.port);
    DQ_REQUIRE(ka >= 0);
    DQ_CHECK_INT(get_on(ka, TILE), 200);

    sqlite3 *db = NULL;
    char *path = dq_xasprintf("%s/catalog.sqlite", f.data);
    DQ_REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    free(path);
    DQ_REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);

    call_t w = {.f = &f, .path = "/api/relics", .headers = f.cur,
                .body = "{\"accession\":\"W-1\",\"title\":{\"zh\":\"山水\"}}"};
    call_t l = {.f = &f, .path = "/api/login", .headers = "Content-Type: application/json\r\n",
                .body = "{\"user\":\"cura\",\"password\":\"cura-pass-1\"}"};
    atomic_init(&w.done, 0);
    atomic_init(&l.done, 0);
    pthread_t tw, tl;
    DQ_REQUIRE(pthread_create(&tw, NULL, api_call, &w) == 0);
    DQ_REQUIRE(pthread_create(&tl, NULL, api_call, &l) == 0);
    /* Wait (bounded polling) until the server has both calls: they then wait for the lock.
     * Before the fix /health stopped answering here (the one worker was inside the write). */
    int jobs = 0;
    for (int i = 0; i < 20000 && jobs >= 0 && jobs != 2; i++)
        jobs = api_jobs(f.srv.port);
    DQ_REQUIRE(jobs == 2);

    /* While both wait: /health, a tile on the old keep-alive connection, tiles on new ones. */
    DQ_CHECK_INT(get_fresh(f.srv.port, "/health"), 200);
    DQ_CHECK_INT(get_on(ka, TILE), 200);
    DQ_CHECK_INT(get_on(ka, "/iiif/3/img/512,0,488,512/488,/0/default.jpg"), 200);
    DQ_CHECK_INT(get_fresh(f.srv.port, "/iiif/3/img/0,512,512,188/512,/0/default.jpg"), 200);
    DQ_CHECK_INT(get_fresh(f.srv.port, "/api/health"), 200);
    /* ... and they were answered before the write and the login: the lock is still held. */
    DQ_CHECK(!atomic_load(&w.done));
    DQ_CHECK(!atomic_load(&l.done));
    DQ_CHECK_INT(api_jobs(f.srv.port), 2);

    /* The lock goes: the waiting write and login complete as if nothing happened. */
    DQ_REQUIRE(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    pthread_join(tw, NULL);
    pthread_join(tl, NULL);
    DQ_CHECK_INT(w.status, 201);
    DQ_CHECK_INT(l.status, 200);
    DQ_CHECK_INT(get_on(ka, TILE), 200);
    close(ka);
    teardown(&f);
}

DQ_TEST(api_writes_still_answer_in_order_on_a_keep_alive_connection)
{
    /* A deferred answer must come back on its own connection, and the connection must stay
     * usable: a write, then a read of what it wrote, then a delete, on one connection. */
    fx_t f;
    setup(&f);
    int fd = connect_local(f.srv.port);
    DQ_REQUIRE(fd >= 0);
    const char *body = "{\"accession\":\"K-1\",\"title\":{\"zh\":\"花鸟\"}}";
    char q[1024];
    int n = snprintf(q, sizeof(q),
                     "POST /api/relics HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n%s",
                     f.cur, strlen(body), body);
    DQ_REQUIRE(write(fd, q, (size_t)n) == n);
    dq_buf_t in = {0};
    char chunk[4096];
    while (!in.data || !strstr(in.data, "\r\n\r\n")) {
        ssize_t got = read(fd, chunk, sizeof(chunk) - 1);
        if (got <= 0)
            break;
        dq_buf_append(&in, chunk, (size_t)got);
        dq_buf_putc(&in, '\0');
        in.len--;
    }
    DQ_REQUIRE(in.data != NULL);
    DQ_CHECK(strncmp(in.data, "HTTP/1.1 201", 12) == 0);
    /* read the rest of the body by its length, then ask again on the same connection */
    const char *cl = strcasestr(in.data, "\r\nContent-Length:");
    DQ_REQUIRE(cl != NULL);
    size_t head = (size_t)(strstr(in.data, "\r\n\r\n") - in.data) + 4;
    size_t want = head + strtoul(cl + 17, NULL, 10);
    while (in.len < want) {
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got <= 0)
            break;
        dq_buf_append(&in, chunk, (size_t)got);
    }
    DQ_CHECK(in.len == want);
    dq_buf_free(&in);
    DQ_CHECK_INT(get_on(fd, "/api/relics?q=%E8%8A%B1%E9%B8%9F"), 200);
    DQ_CHECK_INT(get_on(fd, TILE), 200);
    close(fd);
    teardown(&f);
}

DQ_TEST(connection_pool_takes_large_headers_and_bodies_and_431s_past_it)
{
    /* Each connection's pool (mhd.c, 32 KiB) holds headers only: bodies are copied out of it,
     * so a body near the API's 1 MiB limit must still arrive whole, large header blocks and
     * cookies must still be read, and only a header block past the pool answers 431. */
    fx_t f;
    setup(&f);
    dqt_resp_t r;
    /* libmicrohttpd copies a Cookie header into the pool once more to split it, so cookies
     * get about half of it: 12 KiB of cookies and a 24 KiB header block of other headers. */
    const struct {
        const char *name;
        int len, status;
    } cases[] = {{"Cookie: a=", 12 * 1024, 200}, {"X-Pad: ", 24 * 1024, 200},
                 {"X-Pad: ", 40 * 1024, 431}};
    for (size_t c = 0; c < DQ_ARRAY_LEN(cases); c++) {
        dq_buf_t h = {0};
        dq_buf_puts(&h, cases[c].name);
        for (int i = 0; i < cases[c].len; i++)
            dq_buf_putc(&h, (char)('a' + i % 26));
        dq_buf_puts(&h, "\r\n");
        const char *paths[] = {TILE, "/api/relics?q=x"};
        for (size_t i = 0; i < DQ_ARRAY_LEN(paths); i++) {
            DQ_REQUIRE(dqt_http(f.srv.port, "GET", paths[i], h.data, &r) == 0);
            DQ_CHECK_INT(r.status, cases[c].status);
            dqt_resp_free(&r);
        }
        dq_buf_free(&h);
    }

    /* A body of 1 MiB less 64 bytes: valid JSON padded with spaces, created (201), and readable
     * afterwards. */
    dq_buf_t body = {0};
    dq_buf_puts(&body, "{\"accession\":\"K-BIG\",\"title\":{\"zh\":\"长卷\"}");
    while (body.len < (1u << 20) - 65) /* DQ_API_MAX_BODY */
        dq_buf_putc(&body, ' ');
    dq_buf_putc(&body, '}');
    DQ_REQUIRE(dqt_http_body(f.srv.port, "POST", "/api/relics", f.cur, body.data, &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    DQ_CHECK(strstr(r.body.data, "K-BIG") != NULL);
    dqt_resp_free(&r);
    dq_buf_free(&body);
    teardown(&f);
}
