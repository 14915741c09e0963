/*
 * Issue 15, several servers: two `danqing serve` nodes share one PostgreSQL catalog (a private
 * cluster, tests/dq_pg_test.h) and one data directory (a shared mount). A session made on one
 * node and a token work on the other; a relic made restricted through one node's API stops
 * the other node serving its cached tile (LISTEN/NOTIFY: the watcher refreshes on the commit's
 * notification); /health says ready, then draining (503) after SIGTERM while requests are still
 * answered, and the node exits cleanly.
 */
#define DQ_PG_TEST_CLUSTER 1
#include "../dq_http_test.h"
#include "../dq_pg_test.h"

/* The first line a shell command prints (new string, NULL when none). */
static char *sh_line(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    if (!p)
        return NULL;
    char *ok = fgets(line, sizeof(line), p);
    pclose(p);
    if (!ok)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return dq_xstrdup(line);
}

static int status_of(int port, const char *method, const char *path, const char *headers,
                     const char *body)
{
    dqt_resp_t r;
    int st = dqt_http_body(port, method, path, headers, body, &r) == 0 ? r.status : -1;
    dqt_resp_free(&r);
    return st;
}

DQ_TEST(two_nodes_share_sessions_cache_retirement_and_drain)
{
    const char *base = dq_pg_test_url();
    if (!base) {
        printf("    skipped: PostgreSQL 15 is not installed here\n");
        return;
    }
    char *dir = dqt_tmpdir();
    char *data = dq_xasprintf("%s/data", dir);
    char schema[40];
    snprintf(schema, sizeof(schema), "nodes_%d", (int)getpid());
    char *url = dq_pg_test_schema_url(base, schema);
    DQ_REQUIRE(url != NULL);
    char *cat = dq_xasprintf("--data %s --catalog '%s'", data, url);
    DQ_REQUIRE(dqt_sh("vips black %s/m.png 600 400 --bands 3", dir) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s/m.png --id node-1 %s >/dev/null 2>&1", dqt_bin(), dir, cat) ==
               0);
    DQ_REQUIRE(dqt_sh("%s %s user add cura --role curator --password curapass1 >/dev/null 2>&1",
                      dqt_bin(), cat) == 0);
    char *cmd = dq_xasprintf("%s %s user token cura 2>/dev/null", dqt_bin(), cat);
    char *tok = sh_line(cmd);
    free(cmd);
    DQ_REQUIRE(tok && dq_str_starts(tok, "dq_"));
    char *auth = dq_xasprintf("Authorization: Bearer %s\r\n", tok);
    /* no catalog.sqlite anywhere: the nodes know only the URL */
    char *sq = dq_xasprintf("%s/catalog.sqlite", data);
    DQ_CHECK(access(sq, F_OK) != 0);

    dqt_server_t a, b;
    char *extra = dq_xasprintf("--catalog '%s' --drain-ms 1500", url);
    DQ_REQUIRE(dqt_server_start(&a, data, extra) == 0);
    DQ_REQUIRE(dqt_server_start(&b, data, extra) == 0);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(b.port, "GET", "/health", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"state\":\"ready\"") != NULL);
    DQ_CHECK(strstr(r.body.data, "\"catalog\":\"postgres\"") != NULL);
    dqt_resp_free(&r);

    /* a relic on node a, public, with the image */
    const char *doc = "{\"accession\":\"NODE-1\",\"title\":{\"en\":\"Two nodes\"},"
                      "\"images\":[{\"image_id\":\"node-1\",\"role\":\"main\"}]}";
    char *h = dq_xasprintf("%sContent-Type: application/json\r\n", auth);
    DQ_REQUIRE(dqt_http_body(a.port, "POST", "/api/relics", h, doc, &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    char *id = NULL;
    const char *p = r.body.data ? strstr(r.body.data, "\"id\":\"") : NULL;
    if (p)
        id = dq_xstrndup(p + 6, strcspn(p + 6, "\""));
    dqt_resp_free(&r);
    DQ_REQUIRE(id != NULL);

    /* sessions and tokens work on every node */
    DQ_REQUIRE(dqt_http_body(a.port, "POST", "/api/login", "Content-Type: application/json\r\n",
                             "{\"user\":\"cura\",\"password\":\"curapass1\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *sc = dqt_header(&r, "Set-Cookie");
    dqt_resp_free(&r);
    DQ_REQUIRE(sc && dq_str_starts(sc, "dq_session="));
    char *cookie = dq_xasprintf("Cookie: %.*s\r\n", (int)strcspn(sc, ";"), sc);
    DQ_REQUIRE(dqt_http(b.port, "GET", "/api/me", cookie, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.data && strstr(r.body.data, "cura") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(b.port, "GET", "/api/me", auth, NULL), 200);
    DQ_CHECK_INT(status_of(a.port, "GET", "/api/me", "Cookie: dq_session=forged\r\n", NULL), 401);

    /* node b serves the tile, the second time from its response cache */
    const char *tile = "/iiif/3/node-1/0,0,256,256/256,/0/default.jpg";
    for (int i = 0; i < 2; i++)
        DQ_CHECK_INT(status_of(b.port, "GET", tile, NULL, NULL), 200);
    /* restricted through node a's API: node b stops serving it to anonymous clients */
    char *path = dq_xasprintf("/api/relics/%s", id);
    char *ph =
        dq_xasprintf("%sIf-Match: \"v1\"\r\nContent-Type: application/merge-patch+json\r\n", auth);
    int64_t t0 = dq_now_us();
    DQ_CHECK_INT(status_of(a.port, "PATCH", path, ph, "{\"restricted\":true}"), 200);
    int st = 200;
    for (int i = 0; i < 500 && st == 200; i++) { /* bounded poll, 10 ms apart */
        st = status_of(b.port, "GET", tile, NULL, NULL);
        if (st == 200)
            usleep(10000);
    }
    DQ_CHECK_INT(st, 401); /* IIIF Auth 2.0: restricted pixels answer 401 */
    printf("    node b stopped serving the restricted tile %.0f ms after node a's write\n",
           (double)(dq_now_us() - t0) / 1000.0);
    /* and a curator still gets it from either node */
    DQ_CHECK_INT(status_of(b.port, "GET", tile, auth, NULL), 200);

    /* SIGTERM: node b says draining (503) for --drain-ms while it still answers requests */
    kill(b.pid, SIGTERM);
    int drained = 0;
    for (int i = 0; i < 200 && !drained; i++) {
        DQ_REQUIRE(dqt_http(b.port, "GET", "/health", NULL, &r) == 0);
        drained = r.status == 503 && strstr(r.body.data, "\"state\":\"draining\"") != NULL;
        dqt_resp_free(&r);
        if (!drained)
            usleep(5000);
    }
    DQ_CHECK(drained);
    DQ_CHECK_INT(status_of(b.port, "GET", "/api/me", auth, NULL), 200);
    int ws = 0;
    waitpid(b.pid, &ws, 0);
    DQ_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* node a goes on alone */
    DQ_CHECK_INT(status_of(a.port, "GET", "/api/me", cookie, NULL), 200);

    /* A node that (re)starts says 503 "starting" until its search index is built, so that a
     * balancer sends it no search that would wait for it; here another session's lock on
     * relics holds the build back for as long as the test wants. */
    PGconn *lk = PQconnectdb(url);
    PGresult *lr = PQexec(lk, "BEGIN; LOCK TABLE relics IN ACCESS EXCLUSIVE MODE");
    DQ_REQUIRE(PQresultStatus(lr) == PGRES_COMMAND_OK);
    PQclear(lr);
    dqt_server_t c;
    DQ_REQUIRE(dqt_server_launch(&c, data, extra) == 0);
    for (int i = 0; i < 3; i++) { /* 3 probes 100 ms apart, all while the lock is held */
        DQ_REQUIRE(dqt_http(c.port, "GET", "/health", NULL, &r) == 0);
        DQ_CHECK_INT(r.status, 503);
        DQ_CHECK(strstr(r.body.data, "\"state\":\"starting\"") != NULL);
        dqt_resp_free(&r);
        usleep(100000);
    }
    DQ_CHECK_INT(status_of(c.port, "GET", "/api/me", auth, NULL), 200); /* it serves meanwhile */
    lr = PQexec(lk, "COMMIT");
    PQclear(lr);
    PQfinish(lk);
    DQ_CHECK_INT(dqt_wait_ready(c.port), 0);
    DQ_REQUIRE(dqt_http(c.port, "GET", "/health", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"state\":\"ready\",") != NULL);
    DQ_CHECK(strstr(r.body.data, "\"ready_ms\":") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(dqt_server_stop(&c), 0);
    DQ_CHECK_INT(dqt_server_stop(&a), 0);

    dqt_sh("rm -rf %s", dir);
    free(ph);
    free(path);
    free(cookie);
    free(sc);
    free(id);
    free(h);
    free(extra);
    free(sq);
    free(auth);
    free(tok);
    free(cat);
    free(url);
    free(data);
    free(dir);
}
