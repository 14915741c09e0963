/*
 * bench/search_bench.c: how fast the search module is, alone and inside SQLite FTS5.
 *   1. table load: Unihan .bz2 parse vs the compiled cache;
 *   2. tokenizer throughput (MB/s, document mode, no SQLite) on simplified Chinese,
 *      traditional Chinese (the OpenCC path), English, and a mixed catalog-like text;
 *   3. FTS5 import rate (records/s) of synthetic relic records (title, artist, body) into an
 *      on-disk table, in one transaction per 10,000 records, the way an import runs;
 *   4. query latency (p50/p95 over typical queries: plan + MATCH + bm25 ORDER BY LIMIT 20).
 * usage: build/search_bench [records (default 100000)] [db path (default /tmp/dq_sb.db)]
 * Build: make build/search_bench. Numbers go to stdout, one "name value unit" line each.
 */
#include "catalog/store_sqlite_internal.h" /* dq_sqlite_fts_render */
#include "search/search.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng_state = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13; /* xorshift64: deterministic data, run after run */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *words_s[] = {
    "山水", "清明", "上河", "图",   "花鸟", "册页", "荷花", "蝴蝶", "宫廷", "仿",     "溪山",
    "行旅", "富春", "山居", "长卷", "立轴", "绢本", "设色", "水墨", "纸本", "楷书",   "行书",
    "草书", "青花", "瓷器", "玉器", "铜器", "佛像", "经典", "景点", "简单", "安装",   "故事",
    "皇帝", "题诗", "御制", "北宋", "南宋", "明代", "清代", "元代", "唐代", "博物馆", "收藏",
};
static const char *words_t[] = {"清明上河圖", "張擇端", "溪山行旅圖", "畫",   "藝術", "歷史",
                                "書法",       "銅器",   "寶物",       "發現", "東方", "風景"};
static const char *names[] = {"张择端", "范宽", "黄公望", "王希孟", "郭熙",   "赵孟頫",
                              "文徵明", "唐寅", "仇英",   "沈周",   "董其昌", "八大山人"};
static const char *words_e[] = {
    "landscape", "handscroll", "ink",      "silk",  "painting",  "dynasty",   "mountain",
    "river",     "festival",   "qingming", "along", "during",    "the",       "of",
    "porcelain", "bronze",     "jade",     "album", "leaf",      "court",     "northern",
    "song",      "ming",       "qing",     "with",  "pavilions", "travelers", "streams",
};

static void gen_text(dq_buf_t *b, int n_words, int mix)
{
    for (int i = 0; i < n_words; i++) {
        int k = rnd(10);
        if (mix == 0 || (mix == 3 && k < 6))
            dq_buf_puts(b, words_s[rnd(DQ_ARRAY_LEN(words_s))]);
        else if (mix == 1 || (mix == 3 && k < 7))
            dq_buf_puts(b, words_t[rnd(DQ_ARRAY_LEN(words_t))]);
        else {
            dq_buf_puts(b, words_e[rnd(DQ_ARRAY_LEN(words_e))]);
            dq_buf_putc(b, ' ');
        }
        if (rnd(8) == 0)
            dq_buf_puts(b, mix == 2 ? ", " : "，");
    }
}

static int nop(void *ctx, int colocated, const char *tok, int n, int start, int end)
{
    (void)colocated, (void)tok, (void)n, (void)start, (void)end;
    (*(size_t *)ctx)++;
    return 0;
}

static void bench_tokenizer(const dq_search_t *s)
{
    static const char *label[] = {"simplified", "traditional", "english", "mixed"};
    for (int mix = 0; mix < 4; mix++) {
        dq_buf_t b = {0};
        while (b.len < (4u << 20))
            gen_text(&b, 40, mix), dq_buf_putc(&b, '\n');
        size_t n_tok = 0, done = 0;
        int64_t t0 = dq_now_us();
        /* Record-sized slices (about 2 KB), as FTS5 hands them over. */
        for (int rep = 0; rep < 3; rep++)
            for (size_t off = 0; off < b.len;) {
                size_t len = DQ_MIN((size_t)2048, b.len - off);
                while (off + len < b.len && (b.data[off + len] & 0xC0) == 0x80)
                    len++; /* do not cut a character */
                dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, 1, b.data + off, len, nop, &n_tok);
                done += len;
                off += len;
            }
        double sec = (double)(dq_now_us() - t0) / 1e6;
        printf("tokenize_%s %.1f MB/s (%.1f Mtokens/s)\n", label[mix], (double)done / sec / 1e6,
               (double)n_tok / sec / 1e6);
        dq_buf_free(&b);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_sqlite(const dq_search_t *s, int n_recs, const char *path)
{
    sqlite3 *db = NULL;
    dq_err_t err = {0};
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK || dq_search_register(s, db, &err) < 0) {
        fprintf(stderr, "sqlite: %s\n", err.msg);
        exit(1);
    }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
    sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(title, artist, body, tokenize='danqing')",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO t(rowid, title, artist, body) VALUES (?,?,?,?)", -1, &ins,
                       NULL);
    dq_buf_t title = {0}, body = {0};
    size_t bytes = 0;
    int64_t t0 = dq_now_us();
    for (int i = 0; i < n_recs; i++) {
        if (i % 10000 == 0)
            sqlite3_exec(db, i ? "COMMIT; BEGIN" : "BEGIN", NULL, NULL, NULL);
        dq_buf_reset(&title);
        dq_buf_reset(&body);
        gen_text(&title, 2 + (int)rnd(3), rnd(5) == 0 ? 1 : 0);
        gen_text(&body, 20 + (int)rnd(40), 3);
        sqlite3_bind_int(ins, 1, i + 1);
        sqlite3_bind_text(ins, 2, title.data, (int)title.len, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, names[rnd(DQ_ARRAY_LEN(names))], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, body.data, (int)body.len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(ins);
        bytes += title.len + body.len;
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double sec = (double)(dq_now_us() - t0) / 1e6;
    printf("import_records %d\nimport_rate %.0f records/s (%.1f MB/s of text, avg %zu B)\n", n_recs,
           n_recs / sec, (double)bytes / sec / 1e6, bytes / (size_t)n_recs);
    sqlite3_finalize(ins);
    dq_buf_free(&title);
    dq_buf_free(&body);
    t0 = dq_now_us();
    sqlite3_exec(db, "INSERT INTO t(t) VALUES('optimize')", NULL, NULL, NULL);
    printf("optimize %.0f ms\n", (double)(dq_now_us() - t0) / 1e3);

    static const char *queries[] = {"山水",         "清明上河",     "蝶",           "简单",
                                    "清明上河圖",   "景点",         "张择端",       "landscape",
                                    "Zhang Zeduan", "zhang zeduan", "qingming",     "qing ming",
                                    "qmsht",        "山水 ink",     "ming dynasty", "黄公望 富春"};
    enum { REPS = 5 };
    int64_t lat[DQ_ARRAY_LEN(queries) * REPS];
    size_t n_lat = 0;
    sqlite3_stmt *q = NULL, *qb = NULL;
    sqlite3_prepare_v2(db,
                       "SELECT rowid, snippet(t, 2, '<b>', '</b>', '…', 12) FROM t WHERE t "
                       "MATCH ?1 ORDER BY bm25(t, 10.0, 5.0, 1.0) LIMIT 20",
                       -1, &q, NULL);
    sqlite3_prepare_v2(db,
                       "SELECT rowid, snippet(t, 2, '<b>', '</b>', '…', 12) FROM t WHERE t "
                       "MATCH ?1 ORDER BY bm25(t, 10.0, 5.0, 1.0) - 100.0 * (rowid IN (SELECT "
                       "rowid FROM t WHERE t MATCH ?2)) LIMIT 20",
                       -1, &qb, NULL);
    for (int rep = 0; rep < REPS; rep++)
        for (size_t i = 0; i < DQ_ARRAY_LEN(queries); i++) {
            int64_t t1 = dq_now_us();
            dq_search_plan_t p = {0};
            if (dq_search_query_plan(s, queries[i], &p, &err) < 0)
                continue;
            dq_buf_t match = {0}, boost = {0};
            dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &match);
            dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &boost);
            sqlite3_stmt *st = boost.len ? qb : q;
            sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
            if (boost.len)
                sqlite3_bind_text(st, 2, boost.data, (int)boost.len, SQLITE_STATIC);
            int rows = 0;
            while (sqlite3_step(st) == SQLITE_ROW)
                rows++;
            sqlite3_reset(st);
            dq_buf_free(&match);
            dq_buf_free(&boost);
            dq_search_plan_free(&p);
            lat[n_lat++] = dq_now_us() - t1;
            if (rep == REPS - 1)
                printf("query %-14s %6.2f ms, %d rows\n", queries[i], (double)lat[n_lat - 1] / 1e3,
                       rows);
        }
    qsort(lat, n_lat, sizeof(lat[0]), cmp_i64);
    printf("query_p50 %.2f ms\nquery_p95 %.2f ms\n", (double)lat[n_lat / 2] / 1e3,
           (double)lat[n_lat * 95 / 100] / 1e3);
    sqlite3_finalize(q);
    sqlite3_finalize(qb);
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    int n_recs = argc > 1 ? atoi(argv[1]) : 100000;
    const char *path = argc > 2 ? argv[2] : "/tmp/dq_sb.db";
    char cache[256];
    dq_err_t err = {0};
    snprintf(cache, sizeof(cache), "/tmp/dq_sb_tables.%d.bin", (int)getpid());
    dq_search_config_t cfg = {.cache_path = cache, .tmp_dir = "/tmp"};
    dq_search_t *cold = dq_search_new(&cfg, &err);
    if (!cold) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    dq_search_t *s = dq_search_new(&cfg, &err);
    dq_search_stats_t a, b;
    dq_search_stats(cold, &a);
    dq_search_stats(s, &b);
    printf("load_unihan_bz2 %.1f ms\nload_cache %.1f ms\n", (double)a.load_us / 1e3,
           (double)b.load_us / 1e3);
    dq_search_free(cold);
    unlink(cache);
    bench_tokenizer(s);
    if (n_recs > 0)
        bench_sqlite(s, n_recs, path);
    dq_search_free(s);
    return 0;
}
