/*
 * test_search_catalog.c: dq_catalog_relic_search on a small collection: CJK phrases and
 * substrings, traditional/simplified, pinyin (full and initials), English, the dictionary's
 * whole-name boost, highlight marks with HTML escaping, facets that ignore their own filter,
 * year overlap, the sorts, cursor paging that stays stable when rows arrive between pages,
 * adjacent English words first, and the in-memory facet index staying coherent with writes of
 * this catalog, of another connection and of another process, without rebuilding.
 */
#include "relic_fixture.h"

#include "catalog/relic_internal.h"
#include "catalog/store_sqlite_internal.h" /* the SQLite walk test at the end */

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *docs[] = {
    "{\"accession\":\"A001\",\"title\":{\"zh\":\"清明上河图\",\"en\":\"Along the River During the "
    "Qingming Festival\"},\"creators\":[{\"name\":{\"zh\":\"张择端\",\"en\":\"Zhang Zeduan\"},"
    "\"dates\":\"1085–1145\"}],\"dynasty\":\"northern_song\",\"year_from\":1085,\"year_to\":1145,"
    "\"object_type\":\"handscroll\",\"subject\":[\"figure\",\"architecture\"],"
    "\"medium\":{\"zh\":\"绢本设色\"}}",
    "{\"accession\":\"A002\",\"title\":{\"zh\":\"溪山行旅图\",\"en\":\"Travelers among Mountains "
    "and Streams\"},\"creators\":[{\"name\":{\"zh\":\"范宽\",\"en\":\"Fan Kuan\"}}],"
    "\"dynasty\":\"northern_song\",\"object_type\":\"hanging_scroll\",\"subject\":[\"landscape\"],"
    "\"medium\":{\"zh\":\"绢本水墨\"}}",
    "{\"accession\":\"A003\",\"title\":{\"zh\":\"富春山居圖\",\"en\":\"Dwelling in the Fuchun "
    "Mountains\"},\"creators\":[{\"name\":{\"zh\":\"黃公望\",\"en\":\"Huang Gongwang\"}}],"
    "\"dynasty\":\"yuan\",\"year_from\":1347,\"year_to\":1350,\"object_type\":\"handscroll\","
    "\"subject\":[\"landscape\"],\"medium\":{\"zh\":\"纸本水墨\"}}",
    "{\"accession\":\"A004\",\"title\":{\"zh\":\"蝴蝶图\",\"en\":\"Butterflies <and> flowers\"},"
    "\"creators\":[{\"name\":{\"zh\":\"佚名\",\"en\":\"Anonymous\"}}],\"dynasty\":\"southern_"
    "song\","
    "\"object_type\":\"album_leaf\",\"subject\":[\"bird_and_flower\"],\"medium\":{\"zh\":"
    "\"绢本设色\"}}",
    "{\"accession\":\"A005\",\"title\":{\"zh\":\"经典山水册\",\"en\":\"Classic landscapes album\"},"
    "\"dynasty\":\"ming\",\"object_type\":\"album_leaf\",\"subject\":[\"landscape\"],"
    "\"medium\":{\"zh\":\"纸本设色\"}}",
    "{\"accession\":\"A006\",\"title\":{\"zh\":\"仿张择端笔意\",\"en\":\"In the manner of an old "
    "master\"},\"creators\":[{\"name\":{\"zh\":\"王翚\",\"en\":\"Wang "
    "Hui\"}}],\"dynasty\":\"qing\","
    "\"description\":{\"zh\":\"张择端之后，张某择端正笔法\"},\"object_type\":\"handscroll\","
    "\"subject\":[\"landscape\"]}",
};

static dq_catalog_t *collection(void)
{
    return fx_collection(docs, DQ_ARRAY_LEN(docs));
}

static json_t *run(dq_catalog_t *c, dq_relic_query_t *q)
{
    dq_err_t err = {0};
    char *r = fx_search(c, q, &anon, &err);
    if (!r)
        fprintf(stderr, "search failed: %s\n", err.msg);
    DQ_REQUIRE(r);
    json_t *j = json_loads(r, 0, NULL);
    DQ_REQUIRE(j);
    free(r);
    return j;
}

static char *find(dq_catalog_t *c, const char *text)
{
    dq_relic_query_t q = fx_query(text);
    json_t *j = run(c, &q);
    char *a = fx_accessions(j);
    json_decref(j);
    return a;
}

#define EXPECT(c, text, want)                                                                      \
    do {                                                                                           \
        char *got_ = find((c), (text));                                                            \
        if (strcmp(got_, (want)) != 0)                                                             \
            fprintf(stderr, "    query %s: got [%s], want [%s]\n", (text), got_, (want));          \
        DQ_CHECK_STR(got_, (want));                                                                \
        free(got_);                                                                                \
    } while (0)

/* Contains-checks when the order among several is not the point. */
static int has(const char *list, const char *acc)
{
    return strstr(list, acc) != NULL;
}

DQ_TEST(cjk_phrases_and_substrings)
{
    dq_catalog_t *c = collection();
    char *r = find(c, "山水");
    DQ_CHECK(has(r, "A002") && has(r, "A003") && has(r, "A005")); /* subject label 山水 */
    free(r);
    EXPECT(c, "清明上河", "A001"); /* inside 清明上河图 */
    EXPECT(c, "蝶", "A004");       /* one character */
    EXPECT(c, "景点", "");         /* jingdian must not find 经典 (jingdian) */
    r = find(c, "富春山居图");     /* simplified query, traditional record */
    DQ_CHECK_STR(r, "A003");
    free(r);
    r = find(c, "黄公望");
    DQ_CHECK_STR(r, "A003");
    free(r);
    r = find(c, "溪山行旅圖"); /* traditional query, simplified record */
    DQ_CHECK_STR(r, "A002");
    free(r);
    dq_catalog_close(c);
}

DQ_TEST(pinyin_initials_english)
{
    dq_catalog_t *c = collection();
    EXPECT(c, "qingming", "A001");
    EXPECT(c, "qmsht", "A001");
    char *r = find(c, "Zhang Zeduan");
    DQ_CHECK(strncmp(r, "A001", 4) == 0);
    free(r);
    r = find(c, "landscape");
    DQ_CHECK(has(r, "A002") && has(r, "A003") && has(r, "A005") && !has(r, "A004"));
    free(r);
    EXPECT(c, "butterflies", "A004");
    EXPECT(c, "fuchun", "A003");
    dq_catalog_close(c);
}

DQ_TEST(dictionary_whole_name_first)
{
    dq_catalog_t *c = collection();
    /* A006 mentions 张择端 in its title and description more often than A001 does, but A001
     * has him as creator: the whole dictionary name in the creator column ranks A001 first,
     * and both are found. */
    char *r = find(c, "张择端");
    DQ_CHECK(has(r, "A001") && has(r, "A006"));
    free(r);
    /* a run the dictionary can split: 张择端清明上河图 = 张择端 AND 清明上河图 */
    EXPECT(c, "张择端清明上河图", "A001");
    dq_catalog_close(c);
}

DQ_TEST(snippet_marks_and_escaping)
{
    dq_catalog_t *c = collection();
    dq_relic_query_t q = fx_query("清明上河");
    json_t *j = run(c, &q);
    const char *sn = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "items"), 0), "snippet"));
    DQ_REQUIRE(sn);
    DQ_CHECK(strstr(sn, "<mark>清明上河</mark>") != NULL);
    json_decref(j);
    q = fx_query("butterflies");
    q.lang = "en";
    j = run(c, &q);
    sn = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "items"), 0), "snippet"));
    DQ_REQUIRE(sn);
    DQ_CHECK(strstr(sn, "&lt;and&gt;") != NULL); /* stored text is escaped, marks are not */
    DQ_CHECK(strstr(sn, "<and>") == NULL);
    DQ_CHECK(strstr(sn, "<mark>") != NULL);
    json_decref(j);
    dq_catalog_close(c);
}

static int64_t facet_count(json_t *j, const char *facet, const char *key)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(json_object_get(j, "facets"), facet), i,
                       x) if (strcmp(json_string_value(json_object_get(x, "key")), key) ==
                              0) return json_integer_value(json_object_get(x, "count"));
    return 0;
}

DQ_TEST(facets_ignore_their_own_filter)
{
    dq_catalog_t *c = collection();
    dq_relic_query_t q = fx_query(NULL);
    q.facets = 1;
    q.dynasty = "northern_song";
    json_t *j = run(c, &q);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 2);
    /* the dynasty facet still counts the other dynasties */
    DQ_CHECK_INT(facet_count(j, "dynasty", "northern_song"), 2);
    DQ_CHECK_INT(facet_count(j, "dynasty", "yuan"), 1);
    DQ_CHECK_INT(facet_count(j, "dynasty", "qing"), 1);
    /* other facets are narrowed by the dynasty */
    DQ_CHECK_INT(facet_count(j, "object_type", "handscroll"), 1);
    DQ_CHECK_INT(facet_count(j, "object_type", "album_leaf"), 0);
    DQ_CHECK_INT(facet_count(j, "subject", "landscape"), 1);
    DQ_CHECK_INT(facet_count(j, "creator", "张择端"), 1);
    DQ_CHECK_INT(facet_count(j, "medium", "绢本设色"), 1);
    DQ_CHECK_INT(facet_count(j, "has_images", "0"), 2);
    json_decref(j);
    /* English creator labels */
    q = fx_query("山水");
    q.facets = 1;
    q.lang = "en";
    q.subject = "landscape";
    j = run(c, &q);
    DQ_CHECK(facet_count(j, "creator", "Fan Kuan") == 1);
    DQ_CHECK(facet_count(j, "subject", "landscape") >= 3);
    json_decref(j);
    /* creator filter by either name */
    q = fx_query(NULL);
    q.creator = "Huang Gongwang";
    j = run(c, &q);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);
    dq_catalog_close(c);
}

DQ_TEST(year_overlap_and_dynasty_default_years)
{
    dq_catalog_t *c = collection();
    dq_relic_query_t q = fx_query(NULL);
    q.year_from = 1100;
    q.year_to = 1200;
    json_t *j = run(c, &q);
    char *a = fx_accessions(j);
    /* A001 is 1085–1145 (overlaps); A002 has no years but its dynasty (960–1127) stands in;
     * A004 southern_song 1127–1279 overlaps; A003 (1347) does not */
    DQ_CHECK(has(a, "A001") && has(a, "A002") && has(a, "A004") && !has(a, "A003"));
    free(a);
    json_decref(j);
    q.year_from = 1346;
    q.year_to = 1346;
    j = run(c, &q);
    a = fx_accessions(j);
    DQ_CHECK_STR(a, "");
    free(a);
    json_decref(j);
    dq_catalog_close(c);
}

DQ_TEST(sorts)
{
    dq_catalog_t *c = collection();
    dq_relic_query_t q = fx_query(NULL);
    json_t *j = run(c, &q);
    char *a = fx_accessions(j);
    DQ_CHECK_STR(a, "A001 A002 A003 A004 A005 A006");
    free(a);
    json_decref(j);
    q.sort = "date";
    j = run(c, &q);
    a = fx_accessions(j);
    DQ_CHECK(strncmp(a, "A002 A001", 9) == 0); /* 960 (dynasty default), then 1085 */
    free(a);
    json_decref(j);
    q.sort = "-date";
    j = run(c, &q);
    a = fx_accessions(j);
    DQ_CHECK(strncmp(a, "A006", 4) == 0); /* qing ends 1912 */
    free(a);
    json_decref(j);
    dq_err_t err = {0};
    q.sort = "colour";
    DQ_CHECK(fx_search(c, &q, &anon, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 400);
    q.sort = NULL;
    q.limit = 101;
    DQ_CHECK(fx_search(c, &q, &anon, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 400);
    q.limit = 0;
    q.cursor = "garbage";
    DQ_CHECK(fx_search(c, &q, &anon, &err) == NULL);
    DQ_CHECK_INT(err.http_status, 400);
    dq_catalog_close(c);
}

/* Walks every page of q with limit 2, creating a new record between pages; every record
 * that existed at the start is seen exactly once. */
static void page_walk(const char *sort, const char *text)
{
    dq_catalog_t *c = collection();
    dq_relic_query_t q = fx_query(text);
    q.sort = sort;
    q.limit = 2;
    char *cursor = NULL;
    dq_buf_t seen = {0};
    int pages = 0, extra = 0;
    do {
        q.cursor = cursor;
        json_t *j = run(c, &q);
        char *a = fx_accessions(j);
        dq_buf_puts(&seen, a);
        dq_buf_putc(&seen, ' ');
        free(a);
        free(cursor);
        const char *nc = json_string_value(json_object_get(j, "next_cursor"));
        cursor = nc ? dq_xstrdup(nc) : NULL;
        json_decref(j);
        char *doc = dq_xasprintf("{\"accession\":\"%s%02d\",\"title\":{\"zh\":\"新山水%d\"},"
                                 "\"subject\":[\"landscape\"],\"year_from\":%d,\"year_to\":%d}",
                                 pages % 2 ? "A000" : "Z", extra, extra, 900 + extra, 2000);
        free(fx_create(c, doc));
        free(doc);
        extra++;
        pages++;
    } while (cursor && pages < 20);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++) {
        if (text && !strstr(docs[i], "landscape"))
            continue;
        char acc[8];
        snprintf(acc, sizeof(acc), "A00%zu ", i + 1);
        char *first = strstr(seen.data, acc);
        if (!first || strstr(first + 1, acc))
            fprintf(stderr, "    sort %s: %s seen %s in [%s]\n", sort, acc,
                    first ? "twice" : "never", seen.data);
        DQ_CHECK(first && !strstr(first + 1, acc));
    }
    dq_buf_free(&seen);
    dq_catalog_close(c);
}

static long long total_of(dq_catalog_t *c, const char *dynasty)
{
    dq_relic_query_t q = fx_query(NULL);
    q.dynasty = dynasty;
    json_t *j = run(c, &q);
    long long n = json_integer_value(json_object_get(j, "total"));
    json_decref(j);
    return n;
}

DQ_TEST(index_coherent_with_writes)
{
    char *tmp = dq_test_tmpdir("dq_relic");
    char *dir = dq_xasprintf("%s/data", tmp);
    free(tmp);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c);
    char *ids[DQ_ARRAY_LEN(docs)];
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        ids[i] = fx_create(c, docs[i]);
    dq_relic_query_t q = fx_query(NULL);
    q.facets = 1;
    json_t *j = run(c, &q); /* builds the index */
    DQ_CHECK(facet_count(j, "dynasty", "ming") == 1);
    json_decref(j);
    /* this connection: an update moves A005 from ming to qing, a delete drops A004 */
    dq_buf_t out = {0}, fe = {0};
    const char *patch = "{\"dynasty\":\"qing\"}";
    DQ_REQUIRE(dq_catalog_relic_patch(c, ids[4], patch, strlen(patch), -1, &curator, &out, &fe,
                                      &err) == 0);
    DQ_REQUIRE(dq_catalog_relic_delete(c, ids[3], -1, &curator, &err) == 0);
    j = run(c, &q);
    DQ_CHECK(json_integer_value(json_object_get(j, "total")) == 5);
    DQ_CHECK(facet_count(j, "dynasty", "ming") == 0);
    DQ_CHECK(facet_count(j, "dynasty", "qing") == 2);
    DQ_CHECK(facet_count(j, "dynasty", "southern_song") == 0);
    json_decref(j);
    DQ_CHECK(total_of(c, "qing") == 2);
    char *r = find(c, "蝴蝶");
    DQ_CHECK_STR(r, "");
    free(r);
    /* a write that fails (duplicate accession) leaves the index as it was */
    dq_buf_reset(&out);
    DQ_CHECK(dq_catalog_relic_create(c, docs[0], strlen(docs[0]), &curator, &out, &fe, &err) < 0);
    DQ_CHECK(total_of(c, NULL) == 5);
    /* another connection (another process, as far as SQLite can tell) */
    dq_catalog_t *c2 = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c2);
    free(fx_create(c2, "{\"accession\":\"B001\",\"title\":{\"zh\":\"秋山图\"},"
                       "\"dynasty\":\"ming\",\"object_type\":\"fan\"}"));
    DQ_CHECK(total_of(c, "ming") == 1);
    r = find(c, "秋山");
    DQ_CHECK_STR(r, "B001");
    free(r);
    dq_catalog_close(c2);
    dq_catalog_close(c);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(ids[i]);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(dir);
}

/* dq_catalog_relic_warm, as serve calls it: from another thread while searches run (they
 * wait for it or build the index themselves), then again on a built index (a no-op). */
static void *warm_thread(void *arg)
{
    dq_err_t err = {0};
    return (void *)(intptr_t)dq_catalog_relic_warm(arg, &err);
}

DQ_TEST(warm_from_another_thread)
{
    char *tmp = dq_test_tmpdir("dq_relic");
    char *dir = dq_xasprintf("%s/data", tmp);
    free(tmp);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c);
    DQ_CHECK(dq_catalog_relic_warm(c, &err) == 0); /* empty catalog */
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(fx_create(c, docs[i]));
    dq_catalog_close(c);
    c = dq_test_catalog_open(dir, &err); /* a fresh connection: nothing built yet */
    DQ_REQUIRE(c);
    pthread_t t;
    DQ_REQUIRE(pthread_create(&t, NULL, warm_thread, c) == 0);
    for (int i = 0; i < 20; i++)
        DQ_CHECK(total_of(c, NULL) == (long long)DQ_ARRAY_LEN(docs));
    void *rc = NULL;
    pthread_join(t, &rc);
    DQ_CHECK(rc == NULL);
    DQ_CHECK(dq_catalog_relic_warm(c, &err) == 0);
    EXPECT(c, "溪山行旅", "A002");
    dq_catalog_close(c);
    free(dir);
}

DQ_TEST(cursor_paging_stable_under_inserts)
{
    page_walk("accession", NULL);
    page_walk("date", NULL);
    page_walk("-date", NULL);
    page_walk("relevance", "landscape");
}

/* The facet index follows the change feed: writes of another catalog handle and of another
 * process show up in the next search's facets, and the index is re-read for the named relics
 * only, never rebuilt (relic_index_stats counts both). */
DQ_TEST(foreign_writes_update_facets_without_rebuild)
{
    char *tmp = dq_test_tmpdir("dq_relic");
    char *dir = dq_xasprintf("%s/data", tmp);
    free(tmp);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c);
    char *ids[DQ_ARRAY_LEN(docs)];
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        ids[i] = fx_create(c, docs[i]);
    dq_relic_query_t q = fx_query(NULL);
    q.facets = 1;
    json_t *j = run(c, &q); /* the first search builds the index */
    DQ_CHECK(facet_count(j, "dynasty", "ming") == 1);
    json_decref(j);
    int64_t rebuilds = 0, reloads = 0;
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 0);

    /* another handle on the same catalog: one insert, one patch */
    dq_catalog_t *c2 = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c2);
    free(fx_create(c2, "{\"accession\":\"B001\",\"title\":{\"zh\":\"秋山图\"},"
                       "\"dynasty\":\"ming\",\"object_type\":\"fan\"}"));
    dq_buf_t out = {0}, fe = {0};
    const char *patch = "{\"dynasty\":\"qing\"}";
    DQ_REQUIRE(dq_catalog_relic_patch(c2, ids[4], patch, strlen(patch), -1, &curator, &out, &fe,
                                      &err) == 0);
    dq_catalog_close(c2);
    j = run(c, &q);
    DQ_CHECK(json_integer_value(json_object_get(j, "total")) == 7);
    DQ_CHECK(facet_count(j, "dynasty", "ming") == 1); /* B001 in, A005 out */
    DQ_CHECK(facet_count(j, "dynasty", "qing") == 2);
    DQ_CHECK(facet_count(j, "object_type", "fan") == 1);
    json_decref(j);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 2);

    /* another process: deletes A004 and adds a Yuan fan */
    pid_t pid = fork();
    DQ_REQUIRE(pid >= 0);
    if (pid == 0) {
        dq_err_t e2 = {0};
        dq_catalog_t *c3 = dq_test_catalog_open(dir, &e2);
        int ok = c3 && dq_catalog_relic_delete(c3, ids[3], -1, &curator, &e2) == 0;
        const char *doc = "{\"accession\":\"B002\",\"title\":{\"zh\":\"扇面山水\"},"
                          "\"dynasty\":\"yuan\",\"object_type\":\"fan\"}";
        dq_buf_t o2 = {0}, f2 = {0};
        ok = ok && dq_catalog_relic_create(c3, doc, strlen(doc), &curator, &o2, &f2, &e2) == 0;
        dq_catalog_close(c3);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    DQ_REQUIRE(waitpid(pid, &status, 0) == pid);
    DQ_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    j = run(c, &q);
    DQ_CHECK(json_integer_value(json_object_get(j, "total")) == 7);
    DQ_CHECK(facet_count(j, "dynasty", "southern_song") == 0);
    DQ_CHECK(facet_count(j, "dynasty", "yuan") == 2);
    DQ_CHECK(facet_count(j, "object_type", "fan") == 2);
    json_decref(j);
    char *r = find(c, "扇面山水");
    DQ_CHECK_STR(r, "B002");
    free(r);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 4);
    /* a search with nothing new reads nothing */
    j = run(c, &q);
    json_decref(j);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 4);
    dq_catalog_close(c);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(ids[i]);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    free(dir);
}

/* The change feed reaches the facet index from the poller too (dq_catalog_refresh, which a
 * server's watcher calls once a second), not only when a search comes: a write of another
 * handle is applied by the refresh, and the search after it reads nothing more. A poller
 * applies at most its budget of feed rows per call (relic_index_follow), never a rebuild. */
typedef struct {
    dq_catalog_t *c;
    int max_rows;
} follow_t;

static int follow_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    follow_t *f = ud;
    return relic_index_follow(relic_index_of(f->c), dq_catalog_backend(f->c), txn, f->max_rows,
                              err);
}

DQ_TEST(refresh_applies_foreign_writes_to_the_index_without_a_search)
{
    char *tmp = dq_test_tmpdir("dq_relic");
    char *dir = dq_xasprintf("%s/data", tmp);
    free(tmp);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(fx_create(c, docs[i]));
    int64_t rebuilds = 0, reloads = 0;
    /* before the first search there is no index to follow: the refresh builds nothing */
    DQ_REQUIRE(dq_catalog_refresh(c, &err) >= 0);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 0);
    dq_relic_query_t q = fx_query(NULL);
    q.facets = 1;
    json_t *j = run(c, &q);
    DQ_CHECK(facet_count(j, "object_type", "fan") == 0);
    json_decref(j);

    dq_catalog_t *c2 = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c2);
    free(fx_create(c2, "{\"accession\":\"F001\",\"title\":{\"zh\":\"扇一\"},"
                       "\"object_type\":\"fan\"}"));
    DQ_REQUIRE(dq_catalog_refresh(c, &err) == 1); /* content changed */
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 1); /* applied by the refresh */
    j = run(c, &q);
    DQ_CHECK(facet_count(j, "object_type", "fan") == 1);
    json_decref(j);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(rebuilds, 1);
    DQ_CHECK_INT(reloads, 1); /* the search found the index current */

    /* a budget of one feed row per call: three writes take three calls */
    for (int i = 0; i < 3; i++) {
        char doc[160];
        snprintf(doc, sizeof doc,
                 "{\"accession\":\"F1%02d\",\"title\":{\"zh\":\"扇\"},\"object_type\":\"fan\"}",
                 i);
        free(fx_create(c2, doc));
    }
    follow_t f = {c, 1};
    for (int i = 1; i <= 4; i++) {
        DQ_REQUIRE(dq_catalog_read(c, follow_txn, &f, &err) == 0);
        relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
        DQ_CHECK_INT(reloads, 1 + DQ_MIN(i, 3));
        DQ_CHECK_INT(rebuilds, 1);
    }
    j = run(c, &q);
    DQ_CHECK(facet_count(j, "object_type", "fan") == 4);
    json_decref(j);
    relic_index_stats(relic_index_of(c), &rebuilds, &reloads);
    DQ_CHECK_INT(reloads, 4);
    dq_catalog_close(c2);
    dq_catalog_close(c);
    free(dir);
}

/* Several English words rank the records that hold them next to each other, in order, first:
 * "autumn mountains" puts the long title that says "Autumn Mountains" above the shorter ones
 * that have both words apart (which bm25 alone would rank higher). */
DQ_TEST(adjacent_english_words_rank_first)
{
    dq_catalog_t *c = fx_open();
    free(fx_create(c, "{\"accession\":\"E1\",\"title\":{\"en\":\"Mountains in Autumn\"}}"));
    free(fx_create(c, "{\"accession\":\"E2\",\"title\":{\"en\":\"Autumn Mountains after "
                      "Rain with a Scholar and his Servant on a Bridge\"}}"));
    free(fx_create(c, "{\"accession\":\"E3\",\"title\":{\"en\":\"Autumn, and Mountains\"}}"));
    free(fx_create(c, "{\"accession\":\"E4\",\"title\":{\"en\":\"Autumn Mountain\"},"
                      "\"description\":{\"en\":\"a long description of a small painting of a "
                      "mountain seen in the autumn, with trees, a hut and a path\"}}"));
    char *r = find(c, "autumn mountains");
    DQ_CHECK(strncmp(r, "E4 E2 ", 6) == 0 || strncmp(r, "E2 E4 ", 6) == 0);
    DQ_CHECK(has(r, "E1") && has(r, "E3"));
    if (strncmp(r, "E4 E2 ", 6) != 0 && strncmp(r, "E2 E4 ", 6) != 0)
        fprintf(stderr, "    autumn mountains: [%s]\n", r);
    free(r);
    dq_catalog_close(c);
}

/* The backend's match bound (which lets one scored walk replace two) never undercounts: for
 * each query it is at least the number of matches, or -1 ("maybe more than limit"). */
typedef struct {
    dq_catalog_t *cat;
    const char *q;
    int64_t limit, bound;
} bound_case_t;

static int bound_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    bound_case_t *b = ud;
    dq_search_plan_t p = {0};
    const dq_store_relic_ops *r = dq_catalog_backend(b->cat)->relics;
    if (dq_search_query_plan(r->search_handle(dq_catalog_impl(b->cat)), b->q, &p, err) < 0)
        return -1;
    int rc = r->match_bound(txn, &p, b->limit, &b->bound, err);
    dq_search_plan_free(&p);
    return rc;
}

DQ_TEST(match_bound_never_undercounts)
{
    dq_catalog_t *c = collection();
    static const char *const qs[] = {"张择端", "山水",         "landscape",        "qingming",
                                     "qmsht",  "蝴蝶 flowers", "\"Zhang Zeduan\"", "nothing"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(qs); i++) {
        dq_relic_query_t q = fx_query(qs[i]);
        json_t *j = run(c, &q);
        long long total = json_integer_value(json_object_get(j, "total"));
        json_decref(j);
        dq_err_t err = {0};
        bound_case_t b = {c, qs[i], 100, -2};
        DQ_REQUIRE(dq_catalog_read(c, bound_txn, &b, &err) == 0);
        if (b.bound < total)
            fprintf(stderr, "    %s: bound %lld, total %lld\n", qs[i], (long long)b.bound, total);
        DQ_CHECK(b.bound >= total && b.bound <= 100);
        b.limit = total - 1; /* asked for less than there are: must not claim it */
        if (total > 0) {
            DQ_REQUIRE(dq_catalog_read(c, bound_txn, &b, &err) == 0);
            DQ_CHECK(b.bound == -1);
        }
    }
    dq_catalog_close(c);
}

/* ---- SQLite: the relevance walk against FTS5's own bm25() and snippet() ---- */

/* The SQLite backend finishes bm25 in C for one-phrase queries and makes snippets in C
 * (store_sqlite_relic_search.c, fts_aux.c); both must give exactly what FTS5's bm25() and
 * snippet() give, double for double and byte for byte, also when a row's text is long enough
 * for the snippet window, the sentence finder and the ellipses to matter. */
static const char *long_docs[] = {
    "{\"accession\":\"L1\",\"title\":{\"zh\":\"溪山行旅图\",\"en\":\"Travelers among Mountains "
    "and Streams\"},\"creators\":[{\"name\":{\"zh\":\"范宽\",\"en\":\"Fan Kuan\"}}],"
    "\"description\":{\"en\":\"A towering mountain fills the upper half. Travelers with mules "
    "cross the lower edge: a stream runs beside them. The mountains rise behind a grove, and "
    "the travelers are small. Streams fall from the cliff: the painter signed among the trees. "
    "Later collectors added seals along the mountain edge and the streams below.\","
    "\"zh\":\"溪山行旅，巨峰壁立，山顶丛林茂密。行旅者驮队自右而来，溪水潺潺。溪山之间，行旅"
    "之人甚小。后世题跋称溪山行旅为北宋山水第一。\"}}",
    "{\"accession\":\"L2\",\"title\":{\"zh\":\"仿溪山行旅\",\"en\":\"After Travelers among "
    "Mountains and Streams\"},\"creators\":[{\"name\":{\"zh\":\"王翚\",\"en\":\"Wang Hui\"}}],"
    "\"description\":{\"en\":\"A copy. The mountains are lower and the streams wider; the "
    "travelers walk in autumn mountains with red leaves. Autumn, mountains and a bridge: a "
    "late work.\"}}",
    "{\"accession\":\"L3\",\"title\":{\"zh\":\"秋山图\",\"en\":\"Autumn Mountains\"},"
    "\"creators\":[{\"name\":{\"zh\":\"张择端\",\"en\":\"Zhang Zeduan\"}}],"
    "\"description\":{\"zh\":\"秋山红叶，张择端笔意。溪山行旅之后又一秋山。\"}}",
    "{\"accession\":\"L4\",\"title\":{\"zh\":\"溪山\",\"en\":\"Streams and mountains\"},"
    "\"description\":{\"en\":\"mountains mountains mountains streams\"}}",
    "{\"accession\":\"L5\",\"title\":{\"zh\":\"清明上河圖\",\"en\":\"Qingming scroll\"},"
    "\"creators\":[{\"name\":{\"zh\":\"張擇端\",\"en\":\"Zhang Zeduan\"}}]}",
};

typedef struct {
    dq_catalog_t *cat;
    const char *q;
    int64_t limit;
    int n_checked, mismatches;
} fts_case_t;

typedef struct {
    int64_t *id;
    double *score;
    size_t n, cap;
} got_t;

static int got_row(void *ud, int64_t seq, double score)
{
    got_t *g = ud;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->id = dq_xrealloc(g->id, g->cap * sizeof(*g->id));
        g->score = dq_xrealloc(g->score, g->cap * sizeof(*g->score));
    }
    g->id[g->n] = seq;
    g->score[g->n++] = score;
    return 0;
}

typedef struct {
    int64_t *id;
    char **text;
    size_t n;
} snips_got_t;

static int got_snippet(void *ud, int64_t seq, const char *text)
{
    snips_got_t *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (s->id[i] == seq && !s->text[i])
            s->text[i] = dq_xstrdup(text ? text : "(null)");
    return 0;
}

static int fts_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    fts_case_t *fc = ud;
    dq_search_plan_t p = {0};
    const dq_store_relic_ops *r = dq_catalog_backend(fc->cat)->relics;
    got_t g = {0}, plain = {0};
    dq_buf_t expr = {0};
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (dq_search_query_plan(txn->search, fc->q, &p, err) < 0)
        return -1;
    /* the order of a relevance search: the bound (the walk), then the scored match */
    int64_t bound = -2;
    if (r->match_bound(txn, &p, fc->limit, &bound, err) < 0 ||
        r->match(txn, &p, DQ_RELIC_MATCH_ALL, bound >= 0, got_row, &g, err) < 0)
        goto out;
    /* a second, unscored match in the same transaction reads the same rows back */
    if (r->match(txn, &p, DQ_RELIC_MATCH_ALL, 0, got_row, &plain, err) < 0)
        goto out;
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &expr);
    /* the title/creators tier (read from a one-term walk, else walked by FTS5) against FTS5's
     * own column filter */
    {
        got_t tier = {0};
        sqlite3_stmt *tst = NULL;
        if (r->match(txn, &p, DQ_RELIC_MATCH_TITLE, 0, got_row, &tier, err) < 0)
            goto out;
        DQ_REQUIRE(sqlite3_prepare_v2(txn->db,
                                      "SELECT rowid FROM relic_fts WHERE relic_fts MATCH"
                                      " '{title creators} : (' || ?1 || ')' ORDER BY rowid",
                                      -1, &tst, NULL) == SQLITE_OK);
        sqlite3_bind_text(tst, 1, expr.data, (int)expr.len, SQLITE_STATIC);
        size_t k = 0;
        while (sqlite3_step(tst) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(tst, 0);
            if (k >= tier.n || tier.id[k] != id) {
                fc->mismatches++;
                fprintf(stderr, "    %s: title tier row %zu is %lld, want %lld\n", fc->q, k,
                        k < tier.n ? (long long)tier.id[k] : -1LL, (long long)id);
            }
            k++;
        }
        if (k != tier.n) {
            fc->mismatches++;
            fprintf(stderr, "    %s: title tier %zu rows, want %zu\n", fc->q, tier.n, k);
        }
        fc->n_checked += (int)k;
        sqlite3_finalize(tst);
        free(tier.id);
        free(tier.score);
    }
    DQ_REQUIRE(sqlite3_prepare_v2(txn->db,
                                  "SELECT rowid, bm25(relic_fts, 10.0, 8.0, 2.0, 1.0),"
                                  " snippet(relic_fts, -1, char(1), char(2), '…', 24)"
                                  " FROM relic_fts WHERE relic_fts MATCH ?1 ORDER BY rowid",
                                  -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, expr.data, (int)expr.len, SQLITE_STATIC);
    size_t i = 0;
    snips_got_t sn = {g.id, dq_xcalloc(g.n + 1, sizeof(char *)), g.n};
    if (r->snippets(txn, &p, g.id, g.n, g.id, g.n, got_snippet, &sn, err) < 0)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        double want = sqlite3_column_double(st, 1);
        const char *snip = (const char *)sqlite3_column_text(st, 2);
        int ok = i < g.n && g.id[i] == id && i < plain.n && plain.id[i] == id;
        if (ok && bound >= 0 && memcmp(&g.score[i], &want, sizeof(want)) != 0)
            ok = 0;
        if (ok && (!sn.text[i] || strcmp(sn.text[i], snip ? snip : "(null)") != 0))
            ok = 0;
        if (!ok) {
            fc->mismatches++;
            fprintf(stderr, "    %s row %lld: score %.17g want %.17g, snippet [%s] want [%s]\n",
                    fc->q, (long long)id, i < g.n ? g.score[i] : 0.0, want,
                    i < g.n && sn.text[i] ? sn.text[i] : "-", snip ? snip : "(null)");
        }
        fc->n_checked++;
        i++;
    }
    if (i != g.n || i != plain.n) {
        fc->mismatches++;
        fprintf(stderr, "    %s: %zu rows, match gave %zu and %zu\n", fc->q, i, g.n, plain.n);
    }
    for (size_t k = 0; k < g.n; k++)
        free(sn.text[k]);
    free(sn.text);
    rc = 0;
out:
    sqlite3_finalize(st);
    dq_buf_free(&expr);
    free(g.id);
    free(g.score);
    free(plain.id);
    free(plain.score);
    dq_search_plan_free(&p);
    return rc;
}

DQ_TEST(sqlite_walk_scores_and_snippets_equal_fts5)
{
    if (dq_test_on_pg())
        return; /* FTS5's own functions exist only in the SQLite backend */
    dq_catalog_t *c = collection();
    for (size_t i = 0; i < DQ_ARRAY_LEN(long_docs); i++)
        free(fx_create(c, long_docs[i]));
    static const char *const qs[] = {"溪山行旅",  "张择端",       "mountains",  "streams",
                                     "秋山",      "qingming",     "qmsht",      "autumn mountains",
                                     "溪山 行旅", "\"Fan Kuan\"", "清明上河图", "travelers",
                                     "zhang",     "fankuan",      "nowhereword"};
    int n = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(qs); i++) {
        /* limit 3000: the walk completes (scored); limit 1: it stops early (unscored) */
        for (int64_t limit = 3000; limit >= 1; limit = limit == 3000 ? 1 : 0) {
            fts_case_t fc = {c, qs[i], limit, 0, 0};
            dq_err_t err = {0};
            DQ_REQUIRE(dq_catalog_read(c, fts_txn, &fc, &err) == 0);
            DQ_CHECK(fc.mismatches == 0);
            n += fc.n_checked;
        }
    }
    DQ_CHECK(n > 40);
    dq_catalog_close(c);
}

/* ---- PostgreSQL: snippets made from the document equal SQLite's from its FTS5 texts ---- */

/* The accession -> snippet pairs of a search response, one "A|snippet" line each, sorted
 * (new string): the two backends may rank ties apart, never snippet them apart. */
static char *snippets_by_accession(dq_catalog_t *c, const char *text)
{
    dq_relic_query_t q = fx_query(text);
    q.limit = 100;
    json_t *j = run(c, &q);
    size_t i, n = json_array_size(json_object_get(j, "items"));
    char **line = dq_xcalloc(n + 1, sizeof(char *));
    json_t *x;
    json_array_foreach(json_object_get(j, "items"), i, x)
    {
        const char *sn = json_string_value(json_object_get(x, "snippet"));
        line[i] = dq_xasprintf("%s|%s", json_string_value(json_object_get(x, "accession")),
                               sn ? sn : "(none)");
    }
    for (size_t a = 1; a < n; a++) /* insertion sort: a handful of lines */
        for (size_t b = a; b > 0 && strcmp(line[b - 1], line[b]) > 0; b--) {
            char *t = line[b];
            line[b] = line[b - 1];
            line[b - 1] = t;
        }
    dq_buf_t out = {0};
    for (size_t k = 0; k < n; k++) {
        dq_buf_printf(&out, "%s\n", line[k]);
        free(line[k]);
    }
    free(line);
    json_decref(j);
    return out.data ? dq_buf_steal(&out, NULL) : dq_xstrdup("");
}

/* PostgreSQL stores no search texts (its migration 30): a page's snippets are made from each
 * relic's document. They must be SQLite's, whose FTS5 table keeps the texts as written, byte
 * for byte, also after an edit changed the texts and for long fields (the snippet window,
 * sentences, ellipses). */
DQ_TEST(pg_snippets_from_documents_equal_sqlite)
{
    if (!dq_test_on_pg())
        return; /* SQLite is the reference */
    dq_catalog_t *pg = collection();
    char *d = dq_test_tmpdir("dq_snip_sq");
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *sq = dq_catalog_open(dir, &err);
    DQ_REQUIRE(sq != NULL);
    for (size_t i = 0; i < DQ_ARRAY_LEN(docs); i++)
        free(fx_create(sq, docs[i]));
    dq_catalog_t *both[2] = {pg, sq};
    for (int k = 0; k < 2; k++) {
        char *id = NULL;
        for (size_t i = 0; i < DQ_ARRAY_LEN(long_docs); i++) {
            char *x = fx_create(both[k], long_docs[i]);
            if (i == 3) /* L4 */
                id = x;
            else
                free(x);
        }
        /* an edit: the stored document changes, and with it two fields' texts */
        static const char patch[] =
            "{\"description\":{\"en\":\"Streams below, mountains above; travelers between the "
            "streams and the mountains in autumn.\"},\"keywords\":[\"溪山\",\"autumn\"]}";
        dq_buf_t out = {0}, fe = {0};
        int r = dq_catalog_relic_patch(both[k], id, patch, strlen(patch), -1, &curator, &out,
                                       &fe, &err);
        if (r < 0)
            fprintf(stderr, "patch: %s %s\n", err.msg, fe.data ? fe.data : "");
        DQ_REQUIRE(r == 0);
        dq_buf_free(&out);
        dq_buf_free(&fe);
        free(id);
    }
    static const char *const qs[] = {"溪山行旅", "张择端",     "mountains", "streams",
                                     "秋山",     "qingming",   "qmsht",     "autumn mountains",
                                     "溪山 行旅", "\"Fan Kuan\"", "清明上河图", "travelers",
                                     "zhang",    "fankuan",    "butterflies", "北宋"};
    int n = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(qs); i++) {
        char *a = snippets_by_accession(pg, qs[i]), *b = snippets_by_accession(sq, qs[i]);
        if (strcmp(a, b) != 0)
            fprintf(stderr, "    %s: postgres\n%s    sqlite\n%s", qs[i], a, b);
        DQ_CHECK(strcmp(a, b) == 0);
        for (const char *p = a; (p = strchr(p, '\n')); p++)
            n++;
        free(a);
        free(b);
    }
    DQ_CHECK(n > 40); /* rows compared */
    dq_catalog_close(sq);
    dq_catalog_close(pg);
    free(dir);
    free(d);
}
