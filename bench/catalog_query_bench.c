/*
 * catalog_query_bench.c: timings of typical catalogue searches through the C API
 * (dq_catalog_relic_search, the function GET /api/relics calls), and of the bare FTS5 MATCH
 * of each text query on its own connection, for reference. Prints one line per query:
 * p50 and p95 over R runs, the thread CPU time p50 (on a loaded machine wall time mostly
 * measures the scheduler; CPU time measures the search), the total it found. Built and run by
 * bench/catalog_bench.sh and bench/issue9.sh.
 * Usage: catalog_query_bench DATA_DIR [RUNS [NAME]]  (NAME: only the queries whose label
 * contains it, and nothing else: for perf record)
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/store_sqlite_internal.h" /* dq_sqlite_fts_render, for the bare FTS5 timings */
#include "search/search.h"

typedef struct {
    const char *name;
    dq_relic_query_t q;
} bq_t;

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static dq_relic_query_t base(const char *text)
{
    dq_relic_query_t q = {0};
    q.q = text;
    q.has_images = -1;
    q.year_from = INT_MIN;
    q.year_to = INT_MAX;
    q.facets = 1;
    return q;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: catalog_query_bench DATA_DIR [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    dq_err_t err = {0};
    int64_t t0 = dq_now_us();
    dq_catalog_t *c = dq_catalog_open(argv[1], &err);
    if (!c) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    printf("catalog open (incl. dictionary refill): %.1f ms\n", (dq_now_us() - t0) / 1e3);
    dq_actor_t anon = {"", DQ_ROLE_ANON};
    {
        /* The first search builds the store's in-memory search index: timed on its own. */
        dq_relic_query_t q0 = base(NULL);
        dq_buf_t out = {0};
        t0 = dq_now_us();
        if (dq_catalog_relic_search(c, &q0, &anon, &out, &err) < 0) {
            fprintf(stderr, "first search: %s\n", err.msg);
            return 1;
        }
        printf("first search (builds the in-memory search index): %.1f ms\n",
               (dq_now_us() - t0) / 1e3);
        dq_buf_free(&out);
    }
    bq_t qs[16];
    int n = 0;
    qs[n++] = (bq_t){"text 山水 + facets", base("山水")};
    qs[n++] = (bq_t){"text 溪山行旅 + facets", base("溪山行旅")};
    qs[n] = (bq_t){"text landscape + dynasty=ming + facets", base("landscape")};
    qs[n++].q.dynasty = "ming";
    qs[n] = (bq_t){"filters only: northern_song + handscroll + facets", base(NULL)};
    qs[n].q.dynasty = "northern_song";
    qs[n++].q.object_type = "handscroll";
    qs[n] = (bq_t){"year range 1100-1200 + facets", base(NULL)};
    qs[n].q.year_from = 1100;
    qs[n++].q.year_to = 1200;
    qs[n++] = (bq_t){"pinyin qiushan + facets", base("qiushan")};
    qs[n++] = (bq_t){"initials xsxl + facets", base("xsxl")};
    qs[n++] = (bq_t){"English \"wind in the pines\" + facets", base("wind in the pines")};
    qs[n++] = (bq_t){"creator name 张择端 + facets", base("张择端")};
    qs[n++] = (bq_t){"English \"autumn mountains\" + facets", base("autumn mountains")};
    qs[n] = (bq_t){"subject=landscape sort=date + facets", base(NULL)};
    qs[n].q.subject = "landscape";
    qs[n++].q.sort = "date";
    qs[n++] = (bq_t){"browse all + facets", base(NULL)};
    qs[n] = (bq_t){"text 山水, no facets", base("山水")};
    qs[n++].q.facets = 0;
    int64_t *t = calloc((size_t)runs, sizeof(*t)), *tc = calloc((size_t)runs, sizeof(*tc));
    const char *only = argc > 3 ? argv[3] : NULL;
    for (int i = 0; i < n; i++) {
        long long total = -1;
        if (only && !strstr(qs[i].name, only))
            continue;
        for (int r = 0; r < runs; r++) {
            dq_buf_t out = {0};
            int64_t a = dq_now_us(), ac = cpu_us();
            if (dq_catalog_relic_search(c, &qs[i].q, &anon, &out, &err) < 0) {
                fprintf(stderr, "%s: %s\n", qs[i].name, err.msg);
                return 1;
            }
            t[r] = dq_now_us() - a;
            tc[r] = cpu_us() - ac;
            if (r == 0)
                sscanf(out.data, "{\"total\":%lld", &total);
            dq_buf_free(&out);
        }
        qsort(t, (size_t)runs, sizeof(*t), cmp);
        qsort(tc, (size_t)runs, sizeof(*tc), cmp);
        printf("  %-52s p50 %7.2f ms  p95 %7.2f ms  cpu50 %7.2f ms  total %lld\n", qs[i].name,
               t[runs / 2] / 1e3, t[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1] / 1e3,
               tc[runs / 2] / 1e3, total);
    }
    if (only) {
        free(t);
        free(tc);
        dq_catalog_close(c);
        return 0;
    }
    /* A write from another catalog handle (another process, as far as the store can tell):
     * the next search applies it from the change feed instead of rebuilding the index (which
     * the first search above timed). Searches right after a foreign patch vs. without one. */
    {
        dq_catalog_t *c2 = dq_catalog_open(argv[1], &err);
        dq_relic_query_t q0 = base(NULL);
        dq_actor_t admin = {"bench", DQ_ROLE_ADMIN};
        dq_buf_t out = {0}, fe = {0};
        const char *doc = "{\"accession\":\"BENCH-FOREIGN\",\"title\":{\"zh\":\"外来\"}}";
        char id[64] = "";
        if (c2 && dq_catalog_relic_create(c2, doc, strlen(doc), &admin, &out, &fe, &err) == 0)
            sscanf(out.data, "{\"id\":\"%63[^\"]", id);
        int64_t t_idle = 0, t_after = 0;
        for (int r = 0; id[0] && r < runs; r++) {
            dq_buf_reset(&out);
            t0 = dq_now_us();
            dq_catalog_relic_search(c, &q0, &anon, &out, &err);
            t_idle += dq_now_us() - t0;
            const char *patch = r % 2 ? "{\"dynasty\":\"ming\"}" : "{\"dynasty\":\"qing\"}";
            dq_buf_reset(&out);
            dq_catalog_relic_patch(c2, id, patch, strlen(patch), -1, &admin, &out, &fe, &err);
            dq_buf_reset(&out);
            t0 = dq_now_us();
            dq_catalog_relic_search(c, &q0, &anon, &out, &err);
            t_after += dq_now_us() - t0;
        }
        if (id[0]) {
            dq_catalog_relic_delete(c2, id, -1, &admin, &err);
            printf("browse all + facets: %.2f ms; right after another handle's write: %.2f ms "
                   "(mean of %d)\n",
                   t_idle / 1e3 / runs, t_after / 1e3 / runs, runs);
        }
        dq_buf_free(&out);
        dq_buf_free(&fe);
        dq_catalog_close(c2);
    }
    /* The bare FTS5 MATCH (count of matching rows) of each text query, for reference. */
    dq_search_t *s = dq_search_new(NULL, &err);
    sqlite3 *db = NULL;
    char *path = dq_xasprintf("%s/catalog.sqlite", argv[1]);
    if (!s || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        dq_search_register(s, db, &err) < 0) {
        fprintf(stderr, "bare: %s\n", err.msg);
        return 1;
    }
    printf("bare FTS5: SELECT count(*) FROM relic_fts WHERE relic_fts MATCH <plan>\n");
    for (int i = 0; i < n; i++) {
        if (!qs[i].q.q)
            continue;
        dq_search_plan_t plan = {0};
        if (dq_search_query_plan(s, qs[i].q.q, &plan, &err) < 0)
            continue;
        sqlite3_stmt *st = NULL;
        sqlite3_prepare_v2(db, "SELECT count(*) FROM relic_fts WHERE relic_fts MATCH ?1", -1, &st,
                           NULL);
        dq_buf_t match = {0};
        dq_sqlite_fts_render(&plan, DQ_SQ_FTS_MATCH, &match);
        long long cnt = 0;
        for (int r = 0; r < runs; r++) {
            int64_t a = dq_now_us();
            sqlite3_bind_text(st, 1, match.data, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                cnt = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
            t[r] = dq_now_us() - a;
        }
        qsort(t, (size_t)runs, sizeof(*t), cmp);
        printf("  %-52s p50 %7.2f ms  p95 %7.2f ms  matches %lld\n", qs[i].q.q, t[runs / 2] / 1e3,
               t[(runs * 95) / 100 < runs ? (runs * 95) / 100 : runs - 1] / 1e3, cnt);
        sqlite3_finalize(st);
        dq_buf_free(&match);
        dq_search_plan_free(&plan);
    }
    sqlite3_close(db);
    dq_search_free(s);
    free(path);
    free(t);
    free(tc);
    dq_catalog_close(c);
    return 0;
}
