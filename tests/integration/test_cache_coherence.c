/*
 * The response cache stays truthful when another process changes the catalog: a relic made
 * restricted by `danqing import` (a separate process) must stop its image being served to
 * anonymous users, even though the tile was in the running server's response cache.
 */
#include "../dq_http_test.h"

static void write_line(const char *path, const char *json)
{
    FILE *f = fopen(path, "w");
    DQ_ASSERT(f != NULL);
    fputs(json, f);
    fputc('\n', f);
    fclose(f);
}

DQ_TEST(import_from_another_process_retires_cached_tiles)
{
    char *dir = dqt_tmpdir();
    char *data = dq_xasprintf("%s/data", dir);
    char *jsonl = dq_xasprintf("%s/relic.jsonl", dir);
    DQ_REQUIRE(dqt_sh("vips black %s/m.png 600 400 --bands 3", dir) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s/m.png --id coh-1 --data %s >/dev/null 2>&1", dqt_bin(), dir,
                      data) == 0);
    write_line(jsonl, "{\"accession\":\"COH-1\",\"title\":{\"en\":\"Coherence\"},"
                      "\"images\":[{\"image_id\":\"coh-1\",\"role\":\"main\"}],\"restricted\":false}");
    DQ_REQUIRE(dqt_sh("%s import %s --data %s >/dev/null 2>&1", dqt_bin(), jsonl, data) == 0);
    dqt_server_t srv;
    DQ_REQUIRE(dqt_server_start(&srv, data, NULL) == 0);
    const char *tile = "/iiif/3/coh-1/0,0,256,256/256,/0/default.jpg";
    dqt_resp_t r;
    for (int i = 0; i < 2; i++) { /* the second answer comes from the response cache */
        DQ_REQUIRE(dqt_http(srv.port, "GET", tile, NULL, &r) == 0);
        DQ_CHECK_INT(r.status, 200);
        dqt_resp_free(&r);
    }
    write_line(jsonl, "{\"accession\":\"COH-1\",\"title\":{\"en\":\"Coherence\"},"
                      "\"images\":[{\"image_id\":\"coh-1\",\"role\":\"main\"}],\"restricted\":true}");
    DQ_REQUIRE(dqt_sh("%s import %s --data %s >/dev/null 2>&1", dqt_bin(), jsonl, data) == 0);
    /* The watcher polls once a second: wait with a deadline, not a fixed sleep. */
    int status = 200;
    for (int i = 0; i < 100 && status == 200; i++) {
        DQ_REQUIRE(dqt_http(srv.port, "GET", tile, NULL, &r) == 0);
        status = r.status;
        dqt_resp_free(&r);
        if (status == 200)
            usleep(100000);
    }
    DQ_CHECK_INT(status, 401); /* IIIF Auth 2.0: restricted pixels answer 401 */
    DQ_CHECK_INT(dqt_server_stop(&srv), 0);
    dqt_sh("rm -rf %s", dir);
    free(jsonl);
    free(data);
    free(dir);
}
