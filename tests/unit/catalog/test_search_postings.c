/*
 * test_search_postings.c: searches whose terms are frequent lexemes (issue 15), which the
 * PostgreSQL backend answers from posting bitmaps kept in the server (store_pg_postings.c).
 * On both backends (the catalog pass runs it against SQLite and PostgreSQL): the matches stay
 * exactly what the catalog holds while relics are created, edited and deleted between
 * searches, by this catalog handle and by a second one on the same catalog (another
 * server). PostgreSQL only: the bitmaps follow the change feed (audit rows), not the table,
 * which shows that they answer at all; a migration applied meanwhile drops them; and the
 * column statistics (ANALYZE) name frequent lexemes for a query of several terms.
 * Both backends, PostgreSQL's path shown apart: an initials query whose phrase half has
 * hundreds of candidates ("xsxl") finds the same relics, in the same order, when the
 * candidates come from the bitmaps and their positions are checked on two connections at
 * once, as when PostgreSQL's index finds them.
 */
#include "relic_fixture.h"

#include <jansson.h>
#include <stdio.h>

/* English descriptions: "pines" in most records (frequent: a bitmap), "wind" in a few. */
static const char *docs[] = {
    "{\"accession\":\"Q1\",\"title\":{\"en\":\"One\"},\"description\":{\"en\":\"wind in the pines\"}}",
    "{\"accession\":\"Q2\",\"title\":{\"en\":\"Two\"},"
    "\"description\":{\"zh\":\"秋山\",\"en\":\"pines by a river\"}}",
    "{\"accession\":\"Q3\",\"title\":{\"en\":\"Three\"},"
    "\"description\":{\"zh\":\"秋山图\",\"en\":\"old pines, wind\"}}",
    "{\"accession\":\"Q4\",\"title\":{\"en\":\"Four\"},\"description\":{\"en\":\"a river\"}}",
    "{\"accession\":\"Q5\",\"title\":{\"en\":\"Pines\"},\"description\":{\"en\":\"snow\"}}",
    "{\"accession\":\"Q6\",\"title\":{\"en\":\"Six\"},\"description\":{\"en\":\"pines in snow\"}}",
};

static char *id_of(dq_catalog_t *c, const char *acc)
{
    dq_relic_query_t q = fx_query(NULL);
    q.sort = "accession";
    dq_err_t err = {0};
    char *r = fx_search(c, &q, &curator, &err);
    DQ_REQUIRE(r);
    json_t *j = json_loads(r, 0, NULL);
    free(r);
    DQ_REQUIRE(j);
    char *id = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "items"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "accession")), acc) == 0)
            id = dq_xstrdup(json_string_value(json_object_get(x, "id")));
    }
    json_decref(j);
    DQ_REQUIRE(id);
    return id;
}

static void patch(dq_catalog_t *c, const char *acc, const char *json)
{
    char *id = id_of(c, acc);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int r = dq_catalog_relic_patch(c, id, json, strlen(json), -1, &curator, &out, &fe, &err);
    if (r < 0)
        fprintf(stderr, "patch %s: %s\n", acc, err.msg);
    DQ_REQUIRE(r == 0);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(id);
}

static void delete(dq_catalog_t *c, const char *acc)
{
    char *id = id_of(c, acc);
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_delete(c, id, -1, &curator, &err) == 0);
    free(id);
}

/* A change-feed row naming ACC's relic, written in the table alone (PostgreSQL): the bitmaps
 * re-check that relic at the next read, whatever its row holds. */
static void feed_names(const char *dir, dq_catalog_t *c, const char *acc)
{
    char *id = id_of(c, acc);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO audit (seq, who, at, action, object, detail) SELECT max(seq) + 1,"
             " 'test', now()::text, 'relic.patch', '%s', '{}' FROM audit RETURNING seq",
             id);
    free(dq_pg_test_sql1(dir, sql));
    free(id);
}

static char *data_dir(const char *name)
{
    char *d = dq_test_tmpdir(name);
    char *dir = dq_xasprintf("%s/data", d);
    free(d);
    return dir;
}

static dq_catalog_t *open_at(const char *dir)
{
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    if (!c)
        fprintf(stderr, "open: %s\n", err.msg);
    DQ_REQUIRE(c);
    return c;
}

DQ_TEST(frequent_terms_follow_every_write)
{
    char *dir = data_dir("dq_post");
    dq_catalog_t *c = open_at(dir), *other = NULL;
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(fx_create(c, docs[i]));
    /* one term: the bitmap is made from its answer */
    FX_EXPECT_FOUND(c, "pines", "Q1 Q2 Q3 Q5 Q6");
    FX_EXPECT_FOUND(c, "wind", "Q1 Q3");
    FX_EXPECT_FOUND(c, "pines wind", "Q1 Q3"); /* bitmaps and PostgreSQL's answer for the rest */
    FX_EXPECT_FOUND(c, "wind pines river", "");
    FX_EXPECT_FOUND(c, "pines snow", "Q5 Q6");
    /* a term of two lexemes (the word as typed | the pinyin pair of 秋山) */
    FX_EXPECT_FOUND(c, "qiushan", "Q2 Q3");
    FX_EXPECT_FOUND(c, "qiushan wind", "Q3");
    /* an edit takes a lexeme away and gives one */
    patch(c, "Q2", "{\"description\":{\"en\":\"a river, wind\"}}");
    patch(c, "Q4", "{\"description\":{\"en\":\"pines by a river\"}}");
    FX_EXPECT_FOUND(c, "pines", "Q1 Q3 Q4 Q5 Q6");
    FX_EXPECT_FOUND(c, "pines wind", "Q1 Q3");
    FX_EXPECT_FOUND(c, "wind", "Q1 Q2 Q3");
    FX_EXPECT_FOUND(c, "qiushan", "Q2 Q3");
    /* a new relic */
    free(fx_create(c, "{\"accession\":\"Q7\",\"title\":{\"en\":\"Seven\"},"
                      "\"description\":{\"en\":\"wind and pines\"}}"));
    FX_EXPECT_FOUND(c, "pines wind", "Q1 Q3 Q7");
    /* another server's writes (a second handle on the same catalog) */
    other = open_at(dir);
    patch(other, "Q1", "{\"description\":{\"en\":\"wind in the snow\"}}");
    FX_EXPECT_FOUND(c, "pines", "Q3 Q4 Q5 Q6 Q7");
    FX_EXPECT_FOUND(c, "pines wind", "Q3 Q7");
    delete(other, "Q3");
    FX_EXPECT_FOUND(c, "pines", "Q4 Q5 Q6 Q7");
    FX_EXPECT_FOUND(c, "pines wind", "Q7");
    FX_EXPECT_FOUND(c, "snow pines", "Q5 Q6");
    FX_EXPECT_FOUND(other, "pines", "Q4 Q5 Q6 Q7");
    dq_catalog_close(other);
    dq_catalog_close(c);
    free(dir);
}

/* ---------------------------------------------------------------- PostgreSQL only */

/* For a PostgreSQL-only test: a catalog in a new data dir (*dir) holding docs; NULL (and a
 * line saying so) on the SQLite pass. */
static dq_catalog_t *pg_only_with_docs(const char *name, char **dir)
{
    if (!dq_test_on_pg()) {
        printf("    (SQLite pass: PostgreSQL only)\n");
        return NULL;
    }
    *dir = data_dir(name);
    dq_catalog_t *c = open_at(*dir);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(fx_create(c, docs[i]));
    return c;
}

DQ_TEST(pg_bitmaps_follow_the_feed)
{
    char *dir = NULL;
    dq_catalog_t *c = pg_only_with_docs("dq_postfeed", &dir);
    if (!c)
        return;
    free(fx_create(c, "{\"accession\":\"Q9\",\"title\":{\"en\":\"Nine\"},"
                      "\"description\":{\"en\":\"pines\"}}"));
    FX_EXPECT_FOUND(c, "pines", "Q1 Q2 Q3 Q5 Q6 Q9");
    /* Q2 loses "pines" in the table alone, as no danqing write would leave it: the bitmap
     * answers (PostgreSQL would not find Q2) until the feed names the relic */
    free(dq_pg_test_sql1(dir, "UPDATE relic_fts f SET fts = to_tsvector('simple', 'river')"
                              " FROM relics r WHERE r.seq = f.seq AND r.accession = 'Q2'"
                              " RETURNING f.seq"));
    FX_EXPECT_FOUND(c, "pines", "Q1 Q2 Q3 Q5 Q6 Q9");
    FX_EXPECT_FOUND(c, "pines wind", "Q1 Q3");
    /* a deletion clears its relic's bit by the seq relic_gone keeps (migration 31) and
     * leaves the bitmaps otherwise as they were: Q2 is still found, so they were not made
     * again (before, a deletion dropped them all) */
    delete(c, "Q9");
    FX_EXPECT_FOUND(c, "pines", "Q1 Q2 Q3 Q5 Q6");
    feed_names(dir, c, "Q2");
    FX_EXPECT_FOUND(c, "pines", "Q1 Q3 Q5 Q6");
    /* a migration (another process's) may rewrite relic_fts without audit rows: a
     * schema_version row more drops the bitmaps */
    free(dq_pg_test_sql1(dir, "UPDATE relic_fts f SET fts = to_tsvector('simple', 'snow')"
                              " FROM relics r WHERE r.seq = f.seq AND r.accession = 'Q6'"
                              " RETURNING f.seq"));
    FX_EXPECT_FOUND(c, "pines", "Q1 Q3 Q5 Q6");
    free(dq_pg_test_sql1(dir, "INSERT INTO schema_version VALUES (9999, 'test', 'now')"
                              " RETURNING version"));
    FX_EXPECT_FOUND(c, "pines", "Q1 Q3 Q5");
    FX_EXPECT_FOUND(c, "pines snow", "Q5");
    free(dq_pg_test_sql1(dir, "DELETE FROM schema_version WHERE version = 9999 RETURNING version"));
    dq_catalog_close(c);
    /* A fresh server knows "pines" is frequent from the column statistics: a query of two
     * terms uses a bitmap made for it; the answer is the same. */
    free(dq_pg_test_sql1(dir, "ANALYZE relic_fts; SELECT 1"));
    c = open_at(dir);
    FX_EXPECT_FOUND(c, "wind pines", "Q1 Q3");
    FX_EXPECT_FOUND(c, "snow pines", "Q5");
    dq_catalog_close(c);
    free(dir);
}

/* relic_gone (migration 31) keeps a deleted relic's seq for the bitmaps; a row no bitmap can
 * use any more goes with the next deletion: one whose deletion has the bitmaps' limit of feed
 * rows (FOLLOW_MAX, 1000) after it, since bitmaps older than it drop themselves instead of
 * reading it. Before, the table grew by a row per deletion forever. Bitmaps older than the
 * pruned row (a second handle's) still answer right. */
DQ_TEST(pg_relic_gone_pruned)
{
    char *dir = NULL;
    dq_catalog_t *c = pg_only_with_docs("dq_postgone", &dir);
    if (!c)
        return;
    dq_catalog_t *old = open_at(dir);
    FX_EXPECT_FOUND(old, "pines", "Q1 Q2 Q3 Q5 Q6"); /* bitmaps from before any deletion */
    FX_EXPECT_FOUND(c, "pines", "Q1 Q2 Q3 Q5 Q6");
    delete(c, "Q1");
    FX_EXPECT_FOUND(c, "pines", "Q2 Q3 Q5 Q6");
    char *n = dq_pg_test_sql1(dir, "SELECT count(*) FROM relic_gone");
    DQ_CHECK_STR(n, "1"); /* needed: bitmaps one deletion old clear Q1 by it */
    free(n);
    free(dq_pg_test_sql1(dir, "INSERT INTO audit (seq, who, at, action, object, detail)"
                              " SELECT m + i, 'test', now()::text, 'test.filler', 'x', '{}'"
                              " FROM (SELECT max(seq) AS m FROM audit) a,"
                              " generate_series(1, 1000) i RETURNING seq"));
    char *q5 = id_of(c, "Q5");
    delete(c, "Q5");
    n = dq_pg_test_sql1(dir, "SELECT count(*) || ' ' || min(id) FROM relic_gone");
    char *want = dq_xasprintf("1 %s", q5);
    DQ_CHECK_STR(n, want); /* Q1's row went; Q5's, one deletion old, stays */
    free(want);
    free(n);
    free(q5);
    FX_EXPECT_FOUND(c, "pines", "Q2 Q3 Q6");
    FX_EXPECT_FOUND(old, "pines", "Q2 Q3 Q6");
    FX_EXPECT_FOUND(old, "pines wind", "Q3");
    dq_catalog_close(old);
    dq_catalog_close(c);
    free(dir);
}

/* ---------------------------------------------------------------- phrase candidates */

/* N_XS relics for "xsxl" (溪山行旅: x s x l), a query split into its exact word and its
 * initials chain ('xsxl' | '\2xs' <-> '\2sx' <-> '\2xl'): descriptions by i % 4, 溪山行旅
 * (matches), 行旅溪山行 (holds xs, sx and xl, not in a row: a candidate that does not match),
 * 西山小路 (xi shan xiao lu: matches through other characters), 山水 (no candidate); X007 (a
 * 山水) and X008 (a 溪山行旅) also hold the word xsxl. 450 candidates: more than the split
 * needs (SPLIT_MIN, store_pg_relic_search.c). */
#define N_XS 600
#define XS_MATCHES 301

static void import_xs(dq_catalog_t *c)
{
    static const char *const text[4] = {"溪山行旅", "行旅溪山行", "西山小路", "山水"};
    dq_buf_t b = {0};
    for (int i = 0; i < N_XS; i++)
        dq_buf_printf(&b,
                      "{\"accession\":\"X%03d\",\"title\":{\"en\":\"Item %d\"},"
                      "\"description\":{\"zh\":\"%s\"%s}}\n",
                      i, i, text[i % 4], i == 7 || i == 8 ? ",\"en\":\"a xsxl b\"" : "");
    FILE *f = fmemopen(b.data, b.len, "r");
    DQ_REQUIRE(f);
    dq_import_opts_t o = {.format = DQ_IMPORT_JSONL, .batch_rows = N_XS};
    dq_import_stats_t st = {0};
    dq_err_t err = {0};
    int r = dq_catalog_import(c, f, &o, &curator, &st, &err);
    if (r < 0)
        fprintf(stderr, "import: %s\n", err.msg);
    DQ_REQUIRE(r == 0);
    fclose(f);
    dq_buf_free(&b);
}

/* The relevance-ordered response for text (new string), from cursor (NULL: the first page);
 * its total in *total, its next cursor in *next (new string or NULL). Every listed relic must
 * be a match (i % 4 is 0 or 2, or X007, or X<also>). */
static char *ranked(dq_catalog_t *c, const char *text, const char *cursor, int also,
                    int64_t *total, char **next)
{
    dq_relic_query_t q = fx_query(text);
    q.cursor = cursor;
    char *r = NULL;
    json_t *j = fx_search_parsed(c, &q, text, &r);
    *total = json_integer_value(json_object_get(j, "total"));
    if (next) {
        const char *nc = json_string_value(json_object_get(j, "next_cursor"));
        *next = nc ? dq_xstrdup(nc) : NULL;
    }
    size_t i;
    json_t *x;
    int bad = 0;
    json_array_foreach(json_object_get(j, "items"), i, x)
    {
        int k = atoi(json_string_value(json_object_get(x, "accession")) + 1);
        bad += !(k % 4 == 0 || k % 4 == 2 || k == 7 || k == also);
    }
    DQ_CHECK_INT(bad, 0);
    DQ_CHECK(json_array_size(json_object_get(j, "items")) > 0);
    json_decref(j);
    return r;
}

DQ_TEST(initials_phrase_candidates_from_bitmaps)
{
    char *dir = data_dir("dq_postxs");
    dq_catalog_t *a = open_at(dir), *b = NULL;
    int64_t n = 0;
    /* a's frequent lexemes are read now, from no statistics: its "xsxl" stays PostgreSQL's
     * index and recheck in one statement, whatever ANALYZE says later */
    FX_EXPECT_FOUND(a, "山水", "");
    import_xs(a);
    if (dq_test_on_pg())
        free(dq_pg_test_sql1(dir, "ANALYZE relic_fts; SELECT 1"));
    b = open_at(dir); /* knows xs, sx and xl frequent: the bitmaps give the candidates */
    char *ca = NULL, *cb = NULL;
    for (int page = 0; page < 3; page++) {
        char *na = NULL, *nb = NULL;
        char *ra = ranked(a, "xsxl", ca, -1, &n, &na);
        DQ_CHECK_INT(n, XS_MATCHES);
        char *rb = ranked(b, "xsxl", cb, -1, &n, &nb);
        DQ_CHECK_INT(n, XS_MATCHES);
        DQ_CHECK_STR(rb, ra);
        free(ra);
        free(rb);
        free(ca);
        free(cb);
        ca = na;
        cb = nb;
        DQ_REQUIRE(ca && cb);
    }
    free(ca);
    free(cb);
    /* the same set by accession order (the unranked walk, split the same way) */
    char *acc = fx_find_accessions(b, "xsxl"), *acc_a = fx_find_accessions(a, "xsxl");
    DQ_CHECK(strncmp(acc, "X000 X002 X004 X006 X007 X008 X010", 34) == 0);
    DQ_CHECK_STR(acc, acc_a);
    free(acc);
    free(acc_a);
    if (dq_test_on_pg()) {
        /* X003 (山水) gets the chain in the table alone, as no danqing write would leave it:
         * PostgreSQL's index finds it (a), the bitmaps do not make it a candidate (b) until
         * the feed names it */
        free(dq_pg_test_sql1(dir, "UPDATE relic_fts f SET fts = E'''\\x02xs'':1 ''\\x02sx'':2"
                                  " ''\\x02xl'':3'::tsvector FROM relics r WHERE r.seq = f.seq"
                                  " AND r.accession = 'X003' RETURNING f.seq"));
        free(ranked(a, "xsxl", NULL, 3, &n, NULL));
        DQ_CHECK_INT(n, XS_MATCHES + 1);
        free(ranked(b, "xsxl", NULL, 3, &n, NULL));
        DQ_CHECK_INT(n, XS_MATCHES);
        acc = fx_find_accessions(a, "xsxl"); /* the unranked walk alike */
        DQ_CHECK(strncmp(acc, "X000 X002 X003 X004 ", 20) == 0);
        free(acc);
        acc = fx_find_accessions(b, "xsxl");
        DQ_CHECK(strncmp(acc, "X000 X002 X004 X006 ", 20) == 0);
        free(acc);
        feed_names(dir, b, "X003");
        free(ranked(b, "xsxl", NULL, 3, &n, NULL));
        DQ_CHECK_INT(n, XS_MATCHES + 1);
    }
    dq_catalog_close(b);
    dq_catalog_close(a);
    free(dir);
}
