/*
 * tests/unit/search/test_search.c: the Chinese-aware search module against a real in-memory
 * SQLite FTS5 table. Each case from the issue is a test: single characters, words inside
 * longer words, pinyin with and without tones and as initials, simplified <-> traditional,
 * no match through pinyin for Chinese queries, bm25 column weights, exact highlights, the
 * dictionary's ranking, the plan's terms and phrases and their FTS5 rendering, and user input
 * that tries to be FTS5 syntax. The test includes the
 * module's sources' internal header to check a few statics-free internals (segmentation).
 */
#include "dq_test.h"
#include "search/search.h"
#include "search/search_internal.h"
/* The SQLite backend's rendering of a plan into FTS5 (store_sqlite_relic_search.c): the
 * tests run plans against a real FTS5 table the way the catalog does. */
#include "catalog/store_sqlite_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- fixture */

/* The compiled tables are cached in the test program's temporary folder (dq_test.h removes it
 * at the end), so the first test pays for the .bz2 files and the others load in a millisecond. */
static char cache_file[1100];

static const char *cache_path(void)
{
    snprintf(cache_file, sizeof(cache_file), "%s/search-tables.bin", dq_test_root_);
    return cache_file;
}

static dq_search_t *new_search(void)
{
    dq_err_t err = {0};
    dq_search_config_t cfg = {.cache_path = cache_path(), .tmp_dir = getenv("TMPDIR")};
    dq_search_t *s = dq_search_new(&cfg, &err);
    if (!s)
        fprintf(stderr, "    dq_search_new: %s\n", err.msg);
    DQ_REQUIRE(s);
    return s;
}

typedef struct {
    const char *title, *body;
} rec_t;

/* rowid = index + 1 */
static const rec_t recs[] = {
    /* 1 */ {"清明上河图", "北宋张择端绘，描绘汴京清明时节的繁华景象。"},
    /* 2 */ {"清明上河圖", "明代仿本，張擇端原作。"},
    /* 3 */
    {"Along the River During the Qingming Festival",
     "Handscroll by Zhang Zeduan, Northern Song dynasty."},
    /* 4 */ {"溪山行旅图", "范宽作，山水画。"},
    /* 5 */ {"蝴蝶图", "绢本设色"},
    /* 6 */ {"梦蝶", "庄周梦蝶的故事"},
    /* 7 */ {"安装简单的展柜", "说明书"},
    /* 8 */ {"经典山水", "经典作品"},
    /* 9 */ {"景点导览", "博物馆景点介绍"},
    /* 10 */ {"Landscape with Pavilions", "ink landscape on silk"},
    /* 11 */ {"Mountain Landscapes", "two landscapes of the Song dynasties"},
    /* 12 */ {"富春山居图", "黄公望 山水 长卷"},
    /* 13 */ {"册页", "明人山水册"},
    /* 14 */ {"仿清明上河图意", "清人摹本"},
    /* 15 */ {"张大千荷花", "张大千作"},
    /* 16 */ {"清代宫廷画", "清明节祭祖"},
    /* 17 */ {"张氏旧藏", "泽端砚台"},
    /* 18 */ {"乾隆御题", "乾隆皇帝题诗"},
    /* 19 */ {"荷花图", "夏日"},
    /* 20 */ {"花鸟册", "荷花与鸳鸯"},
    /* 21 */ {"Ｆｕｌｌ ｗｉｄｔｈ Ｔｉｔｌｅ", "Café Zürich"},
};
#define N_RECS ((int)DQ_ARRAY_LEN(recs))

static sqlite3 *open_db(const dq_search_t *s, const char *tokenize)
{
    sqlite3 *db = NULL;
    dq_err_t err = {0};
    DQ_REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    DQ_REQUIRE(dq_search_register(s, db, &err) == 0);
    char *sql = dq_xasprintf("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='%s')",
                             tokenize ? tokenize : DQ_SEARCH_TOKENIZER);
    DQ_REQUIRE(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    free(sql);
    sqlite3_stmt *st = NULL;
    DQ_REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO t(rowid, title, body) VALUES (?, ?, ?)", -1, &st,
                                  NULL) == SQLITE_OK);
    for (int i = 0; i < N_RECS; i++) {
        sqlite3_bind_int(st, 1, i + 1);
        sqlite3_bind_text(st, 2, recs[i].title, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, recs[i].body, -1, SQLITE_STATIC);
        DQ_REQUIRE(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return db;
}

typedef struct {
    dq_search_t *s;
    sqlite3 *db;
} fx_t;

static fx_t fx_open(void)
{
    fx_t f;
    f.s = new_search();
    f.db = open_db(f.s, NULL);
    return f;
}

static void fx_close(fx_t *f)
{
    sqlite3_close(f->db);
    dq_search_free(f->s);
}

/* Runs user query q; writes the matching rowids, best first (bm25 title 10, body 1, plus the
 * dictionary boost), as "1,2,14" into out. Returns the number of rows, or -1 when the query was
 * refused (err filled) or SQLite failed. */
static int search(fx_t *f, const char *q, char *out, size_t cap, dq_err_t *err)
{
    dq_search_plan_t p = {0};
    dq_err_t e2 = {0};
    if (!err)
        err = &e2;
    out[0] = '\0';
    if (dq_search_query_plan(f->s, q, &p, err) < 0)
        return -1;
    dq_buf_t match = {0}, boost = {0};
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &match);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &boost);
    const char *sql =
        boost.len ? "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY bm25(t, 10.0, 1.0) - 100.0 * "
                    "(rowid IN (SELECT rowid FROM t WHERE t MATCH ?2)), rowid"
                  : "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY bm25(t, 10.0, 1.0), rowid";
    sqlite3_stmt *st = NULL;
    int n = 0, rc;
    DQ_REQUIRE(sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
    if (boost.len)
        sqlite3_bind_text(st, 2, boost.data, (int)boost.len, SQLITE_STATIC);
    size_t o = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        o += (size_t)snprintf(out + o, cap - o, "%s%d", n ? "," : "", sqlite3_column_int(st, 0));
        n++;
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "    sqlite: %s for %s\n", sqlite3_errmsg(f->db), match.data);
        n = -1;
    }
    sqlite3_finalize(st);
    dq_search_plan_free(&p);
    dq_buf_free(&match);
    dq_buf_free(&boost);
    return n;
}

/* The matching rowids sorted ascending, for set comparisons. */
static const char *found(fx_t *f, const char *q)
{
    static char out[512];
    char raw[512];
    int ids[64], n = 0;
    if (search(f, q, raw, sizeof(raw), NULL) < 0)
        return "error";
    for (char *p = raw; *p && n < 64;) {
        ids[n++] = (int)strtol(p, &p, 10);
        if (*p == ',')
            p++;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%d", i ? "," : "", ids[i]);
    return out;
}

static const char *ranked(fx_t *f, const char *q)
{
    static char out[512];
    if (search(f, q, out, sizeof(out), NULL) < 0)
        return "error";
    return out;
}

/* highlight() of column col of rowid for user query q. */
static const char *hl(fx_t *f, const char *q, int col, int rowid)
{
    static char out[512];
    dq_search_plan_t p = {0};
    dq_err_t err = {0};
    out[0] = '\0';
    if (dq_search_query_plan(f->s, q, &p, &err) < 0)
        return "error";
    sqlite3_stmt *st = NULL;
    DQ_REQUIRE(sqlite3_prepare_v2(f->db,
                                  "SELECT highlight(t, ?1, '[', ']') FROM t WHERE t MATCH ?2 "
                                  "AND rowid = ?3",
                                  -1, &st, NULL) == SQLITE_OK);
    dq_buf_t match = {0};
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &match);
    sqlite3_bind_int(st, 1, col);
    sqlite3_bind_text(st, 2, match.data, (int)match.len, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, rowid);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    dq_search_plan_free(&p);
    dq_buf_free(&match);
    return out;
}

/* ---------------------------------------------------------------- tables and tokens */

DQ_TEST(tables_load_from_unihan_and_cache)
{
    dq_search_t *a = new_search(), *b = new_search();
    dq_search_stats_t sa, sb;
    dq_search_stats(a, &sa);
    dq_search_stats(b, &sb);
    DQ_CHECK(sa.n_readings > 40000);
    DQ_CHECK(sa.n_variants > 2000);
    DQ_CHECK(sa.n_syllables > 380 && sa.n_syllables < 600);
    DQ_CHECK(sb.from_cache == 1);
    DQ_CHECK_INT(sa.n_readings, sb.n_readings);
    DQ_CHECK(sa.opencc == 1);
    fprintf(stderr,
            "    load %lld us (cache %d), cache load %lld us, %zu readings, %zu variants, "
            "%zu syllables, %zu pages\n",
            (long long)sa.load_us, sa.from_cache, (long long)sb.load_us, sa.n_readings,
            sa.n_variants, sa.n_syllables, sa.n_pages);
    const char *syl[2];
    DQ_CHECK_INT(dq_search_pinyin(b, 0x5F20, syl), 1); /* 张 */
    DQ_CHECK_STR(syl[0], "zhang");
    DQ_CHECK_INT(dq_search_pinyin(b, 0x7EFF, syl), 1); /* 绿 lǜ -> lv */
    DQ_CHECK_STR(syl[0], "lv");
    DQ_CHECK_INT(dq_search_pinyin(b, 0x4E7E, syl), 2); /* 乾 qián gān */
    DQ_CHECK_INT(dq_search_pinyin(b, 'a', syl), 0);
    dq_search_free(a);
    dq_search_free(b);
}

DQ_TEST(damaged_cache_is_rebuilt)
{
    dq_search_t *a = new_search(); /* makes sure the cache exists */
    dq_search_free(a);
    FILE *f = fopen(cache_file, "r+b");
    DQ_REQUIRE(f);
    fseek(f, 100, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fseek(f, 0, SEEK_END);
    fputs("tail", f); /* wrong size */
    fclose(f);
    dq_search_t *b = new_search();
    dq_search_stats_t st;
    dq_search_stats(b, &st);
    DQ_CHECK(st.from_cache == 0);
    const char *syl[2];
    DQ_CHECK(dq_search_pinyin(b, 0x6E05, syl) == 1 && strcmp(syl[0], "qing") == 0); /* 清 */
    dq_search_free(b);
    dq_search_t *c = new_search();
    dq_search_stats(c, &st);
    DQ_CHECK(st.from_cache == 1);
    dq_search_free(c);
}

DQ_TEST(missing_unihan_is_a_clear_error)
{
    dq_err_t err = {0};
    dq_search_config_t cfg = {.unihan_dir = "/nonexistent"};
    DQ_CHECK(dq_search_new(&cfg, &err) == NULL);
    DQ_CHECK(err.code == DQ_EIO);
    DQ_CHECK(strstr(err.msg, "Unihan_Readings") != NULL);
    dq_search_config_t cfg2 = {.opencc_config = "/nonexistent.json", .cache_path = cache_path()};
    DQ_CHECK(dq_search_new(&cfg2, &err) == NULL);
    DQ_CHECK(strstr(err.msg, "OpenCC") != NULL);
}

DQ_TEST(normalize_folds_width_case_tones_and_traditional)
{
    dq_search_t *s = new_search();
    dq_buf_t b = {0};
    const char *in = "ＡＢＣ清明上河圖 Zhāng Zéduān Café";
    dq_search_normalize(s, in, strlen(in), &b);
    DQ_CHECK_STR(b.data, "abc清明上河图 zhang zeduan cafe");
    /* Phrase-level t2s: 乾 stays in 乾隆 and becomes 干 in 乾淨. */
    dq_buf_reset(&b);
    dq_search_normalize(s, "乾隆 乾淨", strlen("乾隆 乾淨"), &b);
    DQ_CHECK_STR(b.data, "乾隆 干净");
    /* The character map comes from OpenCC where Unihan's formal form is one nobody types. */
    dq_buf_reset(&b);
    dq_search_normalize(s, "五嶽 託 乾", strlen("五嶽 託 乾"), &b);
    DQ_CHECK_STR(b.data, "五岳 托 乾");
    dq_buf_free(&b);
    dq_search_free(s);
}

DQ_TEST(unihan_only_mode_still_folds_traditional)
{
    dq_err_t err = {0};
    dq_search_config_t cfg = {
        .cache_path = cache_path(), .tmp_dir = getenv("TMPDIR"), .opencc_config = ""};
    dq_search_t *s = dq_search_new(&cfg, &err);
    DQ_REQUIRE(s);
    dq_buf_t b = {0};
    dq_search_normalize(s, "清明上河圖張擇端", strlen("清明上河圖張擇端"), &b);
    DQ_CHECK_STR(b.data, "清明上河图张择端");
    dq_buf_free(&b);
    dq_search_stats_t st;
    dq_search_stats(s, &st);
    DQ_CHECK(st.opencc == 0);
    dq_search_free(s);
}

typedef struct {
    char out[2048];
    size_t len;
    const char *src;
} collect_t;

/* Writes tokens as "tok@start-end" separated by spaces; colocated ones get a leading '+';
 * namespace bytes print as 'P' and 'I'. */
static int collect(void *ctx, int colocated, const char *tok, int n, int start, int end)
{
    collect_t *c = ctx;
    char t[128];
    int o = 0;
    for (int i = 0; i < n && o < 120; i++)
        t[o++] = tok[i] == DQ_SEARCH_NS_PINYIN     ? 'P'
                 : tok[i] == DQ_SEARCH_NS_INITIALS ? 'I'
                                                   : tok[i];
    t[o] = '\0';
    c->len += (size_t)snprintf(c->out + c->len, sizeof(c->out) - c->len, "%s%s%s@%d-%d",
                               c->len ? " " : "", colocated ? "+" : "", t, start, end);
    return 0;
}

DQ_TEST(document_tokens_unigram_bigram_pinyin_initials)
{
    dq_search_t *s = new_search();
    collect_t c = {0};
    const char *text = "清明圖 Landscapes";
    DQ_CHECK_INT(dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, 1, text, strlen(text), collect, &c),
                 0);
    DQ_CHECK_STR(c.out, "清@0-3 +清明@0-6 +Pqing@0-3 +Iqm@0-6 "
                        "明@3-6 +明图@3-9 +Pming@3-6 +Imt@3-9 "
                        "图@6-9 +Ptu@6-9 "
                        "landscape@10-20");
    /* Query side: bigrams plus the last unigram, nothing colocated, no pinyin. */
    collect_t q = {0};
    DQ_CHECK_INT(dq_search_tokenize(s, DQ_SEARCH_MODE_QUERY, 1, text, strlen(text), collect, &q),
                 0);
    DQ_CHECK_STR(q.out, "清明@0-6 明图@3-9 图@6-9 landscape@10-20");
    collect_t ns = {0};
    DQ_CHECK_INT(dq_search_tokenize(s, DQ_SEARCH_MODE_QUERY, 1, "\2qmsht", 6, collect, &ns), 0);
    DQ_CHECK_STR(ns.out, "Iqm@1-3 Ims@2-4 Ish@3-5 Iht@4-6");
    dq_search_free(s);
}

/* DQ_SEARCH_NS_NOTAIL: the unigram that ends the query's last run is left out, and only that
 * one (a run in the middle keeps it, a one-character run is its own unigram). */
DQ_TEST(notail_query_leaves_out_only_the_final_unigram)
{
    dq_search_t *s = new_search();
    static const char *const cases[][2] = {
        {"\3溪山行旅", "溪山@1-7 山行@4-10 行旅@7-13"},
        {"\3溪山 行旅", "溪山@1-7 山@4-7 行旅@8-14"},
        {"\3清明 Landscapes", "清明@1-7 明@4-7 landscape@8-18"},
        {"\3蝶", "蝶@1-4"},
        {"\3清明圖", "清明@1-7 明图@4-10"},
        {"\3", ""},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(cases); i++) {
        collect_t q = {0};
        DQ_CHECK_INT(dq_search_tokenize(s, DQ_SEARCH_MODE_QUERY, 1, cases[i][0],
                                        strlen(cases[i][0]), collect, &q),
                     0);
        if (strcmp(q.out, cases[i][1]) != 0)
            fprintf(stderr, "    case %zu: [%s]\n", i, q.out);
        DQ_CHECK_STR(q.out, cases[i][1]);
    }
    dq_search_free(s);
}

static int count_tokens(void *ctx, int colocated, const char *tok, int n, int start, int end)
{
    int *c = ctx;
    (void)tok, (void)n, (void)start, (void)end;
    c[colocated ? 1 : 0]++;
    return 0;
}

DQ_TEST(tokenizer_survives_invalid_utf8_and_long_runs)
{
    dq_search_t *s = new_search();
    collect_t c = {0};
    const char bad[] = "\xE6\xB8 \xFF\xC0\x80 abc\xE6";
    DQ_CHECK_INT(
        dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, 1, bad, sizeof(bad) - 1, collect, &c), 0);
    DQ_CHECK_STR(c.out, "abc@7-10"); /* E6 B8 _ FF C0 80 _ a: invalid bytes are separators */
    /* A 1000-character run goes to the heap and comes back with the right count. */
    dq_buf_t b = {0};
    for (int i = 0; i < 1000; i++)
        dq_buf_puts(&b, i % 2 ? "圖" : "山");
    int counts[2] = {0, 0}; /* primary, colocated */
    DQ_CHECK_INT(
        dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, 1, b.data, b.len, count_tokens, counts), 0);
    DQ_CHECK_INT(counts[0], 1000);
    DQ_CHECK_INT(counts[1], 999 + 1000 + 999); /* bigrams, syllables, initials */
    dq_buf_free(&b);
    dq_search_free(s);
}

DQ_TEST(pinyin_segmentation)
{
    dq_search_t *s = new_search();
    char out[128];
    DQ_CHECK_INT(pinyin_segment(s->tab, "zhangzeduan", 11, out, sizeof(out)), 3);
    DQ_CHECK_STR(out, "zhang ze duan");
    DQ_CHECK_INT(pinyin_segment(s->tab, "qingming", 8, out, sizeof(out)), 2);
    DQ_CHECK_STR(out, "qing ming");
    DQ_CHECK_INT(pinyin_segment(s->tab, "xian", 4, out, sizeof(out)), 1);
    DQ_CHECK_INT(pinyin_segment(s->tab, "fangan", 6, out, sizeof(out)), 2);
    DQ_CHECK_STR(out, "fan gan");
    DQ_CHECK_INT(pinyin_segment(s->tab, "landscape", 9, out, sizeof(out)), 0);
    DQ_CHECK_INT(pinyin_segment(s->tab, "qmsht", 5, out, sizeof(out)), 0);
    DQ_CHECK_INT(pinyin_segment(s->tab, "lvse", 4, out, sizeof(out)), 2);
    dq_search_free(s);
}

/* ---------------------------------------------------------------- the cases */

DQ_TEST(single_character_finds_every_work_that_has_it)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "蝶"), "5,6");
    DQ_CHECK_STR(found(&f, "乾"), "18");
    fx_close(&f);
}

DQ_TEST(word_inside_a_longer_word)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "简单"), "7");
    DQ_CHECK_STR(found(&f, "山水"), "4,8,12,13");
    DQ_CHECK_STR(found(&f, "清明上河"), "1,2,14");
    DQ_CHECK_STR(found(&f, "上河"), "1,2,14");
    fx_close(&f);
}

DQ_TEST(chinese_query_never_matches_through_pinyin)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "景点"), "9");
    DQ_CHECK_STR(found(&f, "经典"), "8");
    /* ...while the pinyin finds both, as it should. */
    DQ_CHECK_STR(found(&f, "jingdian"), "8,9");
    fx_close(&f);
}

DQ_TEST(simplified_and_traditional_find_each_other)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "清明上河圖"), "1,2,14");
    DQ_CHECK_STR(found(&f, "清明上河图"), "1,2,14");
    DQ_CHECK_STR(found(&f, "張擇端"), "1,2");
    DQ_CHECK_STR(found(&f, "张择端"), "1,2");
    fx_close(&f);
}

DQ_TEST(latin_names_pinyin_with_and_without_tones)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "\"Zhang Zeduan\""), "1,2,3");
    DQ_CHECK_STR(found(&f, "Zhang Zeduan"), "1,2,3,17");
    DQ_CHECK_STR(found(&f, "zhang zeduan"), "1,2,3,17");
    DQ_CHECK_STR(found(&f, "zhāng zéduān"), "1,2,3,17");
    DQ_CHECK_STR(found(&f, "ZHANGZEDUAN"), "1,2");
    DQ_CHECK_STR(found(&f, "qingming"), "1,2,3,14,16");
    DQ_CHECK_STR(found(&f, "qīngmíng"), "1,2,3,14,16");
    DQ_CHECK_STR(found(&f, "qing ming"), "1,2,14,16");
    DQ_CHECK_STR(found(&f, "qmsht"), "1,2,14");
    DQ_CHECK_STR(found(&f, "zzd"), "1,2");
    fx_close(&f);
}

DQ_TEST(english_words_and_plurals)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(found(&f, "landscape"), "10,11");
    DQ_CHECK_STR(found(&f, "landscapes"), "10,11");
    DQ_CHECK_STR(found(&f, "Landscape"), "10,11");
    DQ_CHECK_STR(found(&f, "dynasty"), "3,11");
    DQ_CHECK_STR(found(&f, "full width"), "21");
    DQ_CHECK_STR(found(&f, "ｆｕｌｌ"), "21");
    DQ_CHECK_STR(found(&f, "zurich cafe"), "21");
    DQ_CHECK_STR(found(&f, "\"the qingming festival\""), "3");
    DQ_CHECK_STR(found(&f, "\"festival qingming\""), "");
    fx_close(&f);
}

DQ_TEST(bm25_column_weights_rank_title_above_body)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(ranked(&f, "荷花"), "19,15,20");
    DQ_CHECK_STR(ranked(&f, "landscape"), "10,11");
    fx_close(&f);
}

DQ_TEST(highlight_marks_exactly_the_matched_characters)
{
    fx_t f = fx_open();
    DQ_CHECK_STR(hl(&f, "清明上河", 0, 1), "[清明上河]图");
    DQ_CHECK_STR(hl(&f, "清明上河", 0, 2), "[清明上河]圖");
    DQ_CHECK_STR(hl(&f, "清明上河图", 0, 2), "[清明上河圖]");
    DQ_CHECK_STR(hl(&f, "蝶", 1, 6), "庄周梦[蝶]的故事");
    DQ_CHECK_STR(hl(&f, "张择端", 1, 2), "明代仿本，[張擇端]原作。");
    DQ_CHECK_STR(hl(&f, "qingming", 0, 1), "[清明]上河图");
    DQ_CHECK_STR(hl(&f, "landscapes", 1, 11), "two [landscapes] of the Song dynasties");
    DQ_CHECK_STR(hl(&f, "full", 0, 21), "[Ｆｕｌｌ] ｗｉｄｔｈ Ｔｉｔｌｅ");
    DQ_CHECK_STR(hl(&f, "简单", 0, 7), "安装[简单]的展柜");
    fx_close(&f);
}

DQ_TEST(dictionary_splits_runs_and_ranks_whole_names_first)
{
    fx_t f = fx_open();
    dq_err_t err = {0};
    /* Without the dictionary a name glued to a title is one phrase no record holds. */
    DQ_CHECK_STR(found(&f, "张择端清明上河图"), "");
    DQ_CHECK(dq_search_dict_add(f.s, "张择端", &err) == 0);
    DQ_CHECK(dq_search_dict_add(f.s, "清明上河圖", &err) == 0); /* stored simplified */
    DQ_CHECK(dq_search_dict_add(f.s, "Zhang Zeduan", &err) == 0);
    DQ_CHECK(dq_search_dict_add(f.s, "张择端", &err) == 0); /* twice is fine */
    DQ_CHECK(dq_search_dict_add(f.s, "  ", &err) < 0 && err.code == DQ_EINVAL);
    dq_search_stats_t st;
    dq_search_stats(f.s, &st);
    DQ_CHECK_INT(st.n_dict, 3);
    DQ_CHECK_STR(found(&f, "张择端清明上河图"), "1,2");
    DQ_CHECK_STR(found(&f, "清明上河圖張擇端"), "1,2");
    /* Record 17 holds 张 and 泽端 (ze duan) apart: it matches the pinyin, but ranks after every
     * record that has the whole name, in characters or in Latin. */
    char out[256];
    DQ_REQUIRE(search(&f, "zhang zeduan", out, sizeof(out), &err) == 4);
    DQ_CHECK(strcmp(out + strlen(out) - 3, ",17") == 0);
    DQ_REQUIRE(search(&f, "zhangzeduan", out, sizeof(out), &err) == 2);
    /* Initials of a known name boost it too. */
    dq_search_plan_t p = {0};
    dq_buf_t boost = {0};
    DQ_REQUIRE(dq_search_query_plan(f.s, "zzd", &p, &err) == 0);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &boost);
    DQ_CHECK(strstr(boost.data, "\"张择端\"") != NULL);
    dq_buf_free(&boost);
    dq_search_plan_free(&p);
    fx_close(&f);
}

DQ_TEST(adjacent_pinyin_words_rank_first)
{
    fx_t f = fx_open();
    char out[256];
    dq_err_t err = {0};
    /* 16 has 清代 ... 清明节: it has qing and ming, adjacent; 2 has 清明 and 明代: adjacent too.
     * The boost is what orders adjacency first when bm25 alone would not. */
    DQ_REQUIRE(search(&f, "qing ming", out, sizeof(out), &err) == 4);
    dq_search_plan_t p = {0};
    dq_buf_t boost = {0};
    DQ_REQUIRE(dq_search_query_plan(f.s, "qing ming", &p, &err) == 0);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &boost);
    DQ_CHECK_STR(boost.data, "\"qing ming\" OR \"\1qing ming\"");
    dq_buf_free(&boost);
    dq_search_plan_free(&p);
    fx_close(&f);
}

DQ_TEST(user_input_never_becomes_fts5_syntax)
{
    fx_t f = fx_open();
    static const char *attempts[] = {
        "\"",        "\"\"",           "AND OR NOT",   "*",        "山水*",   "NEAR(",
        "NEAR(a b)", "title:山水",     "col:x",        "(((",      ")))",     "清明\"上河",
        "^山水",     "{title body}:x", "a + b",        "\x01qing", "\x02qm",  "'; DROP TABLE t; --",
        "-山水",     "山水 OR 经典",   "\"unbalanced", "\\\"",     "a\"b\"c",
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(attempts); i++) {
        char out[256];
        dq_err_t err = {0};
        int n = search(&f, attempts[i], out, sizeof(out), &err);
        if (n < 0 && err.code != DQ_EINVAL)
            fprintf(stderr, "    attempt %zu (%s): %s\n", i, attempts[i], err.msg);
        DQ_CHECK(n >= 0 || err.code == DQ_EINVAL);
    }
    /* Operators are words, not operators: "山水 OR 经典" needs 山水 and the word "or" too. */
    DQ_CHECK_STR(found(&f, "山水 OR 经典"), "");
    DQ_CHECK_STR(found(&f, "title:山水"), "");
    DQ_CHECK_STR(found(&f, "山水*"), "4,8,12,13");
    /* Control bytes are separators: "\1qing" is the plain word qing, not a namespaced string. */
    char plain[64];
    snprintf(plain, sizeof(plain), "%s", found(&f, "qing"));
    DQ_CHECK_STR(found(&f, "\x01qing"), plain);
    snprintf(plain, sizeof(plain), "%s", found(&f, "qm"));
    DQ_CHECK_STR(found(&f, "\x02qm"), plain);
    dq_search_plan_t p = {0};
    dq_buf_t e = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_search_query_plan(f.s, "a\"b", &p, &err) == 0);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &e);
    DQ_CHECK(strchr(e.data, '(') == NULL || strstr(e.data, " OR ") != NULL);
    dq_buf_free(&e);
    dq_search_plan_free(&p);
    fx_close(&f);
}

DQ_TEST(empty_and_oversized_queries_are_refused)
{
    dq_search_t *s = new_search();
    dq_search_plan_t p = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_search_query_plan(s, "", &p, &err) < 0 && err.code == DQ_EINVAL);
    DQ_CHECK(dq_search_query_plan(s, NULL, &p, &err) < 0 && err.code == DQ_EINVAL);
    DQ_CHECK(dq_search_query_plan(s, "  \t\n　 ", &p, &err) < 0 && err.code == DQ_EINVAL);
    DQ_CHECK(dq_search_query_plan(s, "，。！？", &p, &err) < 0 && err.code == DQ_EINVAL);
    DQ_CHECK(err.http_status == 400);
    dq_buf_t big = {0};
    for (int i = 0; i < 600; i++)
        dq_buf_putc(&big, 'a');
    DQ_CHECK(dq_search_query_plan(s, big.data, &p, &err) < 0 && err.code == DQ_ELIMIT);
    dq_buf_reset(&big);
    for (int i = 0; i < 65; i++)
        dq_buf_puts(&big, "山");
    DQ_CHECK(dq_search_query_plan(s, big.data, &p, &err) < 0 && err.code == DQ_ELIMIT);
    dq_buf_reset(&big);
    for (int i = 0; i < 17; i++)
        dq_buf_puts(&big, "w ");
    DQ_CHECK(dq_search_query_plan(s, big.data, &p, &err) < 0 && err.code == DQ_ELIMIT);
    DQ_CHECK(p.n_ph == 0 && p.n_terms == 0); /* empty on failure */
    dq_buf_free(&big);
    dq_search_plan_free(&p);
    dq_search_free(s);
}

/* The plan is data, not syntax: terms of alternative phrases and boost phrases, each with its
 * kind; the SQLite backend renders it into the FTS5 expression the tokenizer expects. */
static char *phrases(const dq_search_plan_t *p)
{
    dq_buf_t b = {0};
    static const char kinds[] = "tpi";
    for (size_t i = 0; i < p->n_ph; i++)
        dq_buf_printf(&b, "%s%d%c:%.*s", i ? " | " : "", p->ph[i].term, kinds[p->ph[i].kind],
                      (int)p->ph[i].len, dq_search_phrase_text(p, &p->ph[i]));
    return dq_buf_steal(&b, NULL);
}

DQ_TEST(plan_terms_phrases_and_fts5_rendering)
{
    fx_t f = fx_open();
    dq_err_t err = {0};
    dq_search_plan_t p = {0};
    dq_buf_t m = {0}, b = {0};
    /* a pinyin word: its text, its syllables; no boost for one word */
    DQ_REQUIRE(dq_search_query_plan(f.s, "qingming", &p, &err) == 0);
    char *ph = phrases(&p);
    DQ_CHECK_STR(ph, "0t:qingming | 0p:qing ming");
    free(ph);
    DQ_CHECK(p.n_terms == 1 && p.n_boost == 0);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &m);
    DQ_CHECK_STR(m.data, "(\"qingming\" OR \"\1qing ming\")");
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &b);
    DQ_CHECK_INT(b.len, 0);
    /* initials, a Han run split at dictionary names, English adjacency */
    DQ_REQUIRE(dq_search_dict_add(f.s, "张择端", &err) == 0);
    DQ_REQUIRE(dq_search_dict_add(f.s, "清明上河图", &err) == 0);
    DQ_REQUIRE(dq_search_query_plan(f.s, "qmsht 张择端清明上河图 autumn mountains", &p, &err) == 0);
    ph = phrases(&p);
    DQ_CHECK(strstr(ph, "0t:qmsht | 0i:qmsht") == ph);
    DQ_CHECK(strstr(ph, "-1t:张择端") != NULL);
    DQ_CHECK(strstr(ph, "-1t:autumn mountains") != NULL);
    free(ph);
    dq_buf_reset(&m);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_MATCH, &m);
    DQ_CHECK(strncmp(m.data, "(\"qmsht\" OR \"\2qmsht\") AND \"张择端\" AND \"清明上河图\" AND ",
                     strlen("(\"qmsht\" OR \"\2qmsht\") AND \"张择端\" AND \"清明上河图\" AND ")) ==
             0);
    DQ_CHECK(strstr(m.data, "\"autumn\" AND \"mountains\"") != NULL);
    dq_buf_reset(&b);
    dq_sqlite_fts_render(&p, DQ_SQ_FTS_BOOST, &b);
    DQ_CHECK(strstr(b.data, "\"张择端\" OR ") != NULL);
    DQ_CHECK(strstr(b.data, "\"autumn mountains\"") != NULL);
    /* a user quote inside a word is doubled in the FTS5 string, never a quote of its own */
    dq_search_phrase_t q = {DQ_SEARCH_PHRASE_TEXT, 0, 0, 3};
    dq_search_plan_t raw = {0};
    dq_buf_puts(&raw.text, "a\"b");
    raw.ph = &q;
    raw.n_ph = 1;
    raw.n_terms = 1;
    dq_buf_reset(&m);
    dq_sqlite_fts_render(&raw, DQ_SQ_FTS_MATCH, &m);
    DQ_CHECK_STR(m.data, "\"a\"\"b\"");
    dq_buf_free(&raw.text);
    dq_buf_free(&m);
    dq_buf_free(&b);
    dq_search_plan_free(&p);
    fx_close(&f);
}

DQ_TEST(nopinyin_tables_and_bad_arguments)
{
    dq_search_t *s = new_search();
    fx_t f = {s, open_db(s, DQ_SEARCH_TOKENIZER " nopinyin")};
    DQ_CHECK_STR(found(&f, "qingming"), "3");
    DQ_CHECK_STR(found(&f, "清明上河"), "1,2,14");
    sqlite3_close(f.db);
    sqlite3 *db = NULL;
    dq_err_t err = {0};
    DQ_REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    DQ_REQUIRE(dq_search_register(s, db, &err) == 0);
    DQ_CHECK(sqlite3_exec(db, "CREATE VIRTUAL TABLE x USING fts5(a, tokenize='danqing bogus')",
                          NULL, NULL, NULL) != SQLITE_OK);
    sqlite3_close(db);
    dq_search_free(s);
}

/* Queries and dictionary additions from several threads on one shared dq_search_t. */
typedef struct {
    dq_search_t *s;
    int id, bad;
} thr_t;

static void *worker(void *arg)
{
    thr_t *t = arg;
    char name[32];
    for (int i = 0; i < 200; i++) {
        dq_search_plan_t p = {0};
        dq_err_t err = {0};
        if (dq_search_query_plan(t->s, i % 2 ? "清明上河圖 zhang" : "qmsht 山水", &p, &err) < 0)
            t->bad++;
        dq_search_plan_free(&p);
        snprintf(name, sizeof(name), "name%d x%d", t->id, i);
        if (i % 10 == 0 && dq_search_dict_add(t->s, name, &err) < 0)
            t->bad++;
        collect_t c = {0};
        dq_search_tokenize(t->s, DQ_SEARCH_MODE_DOCUMENT, 1, "乾隆御題清明上河圖", 27, collect, &c);
        if (!strstr(c.out, "图"))
            t->bad++;
    }
    return NULL;
}

DQ_TEST(shared_between_threads)
{
    dq_search_t *s = new_search();
    pthread_t th[4];
    thr_t a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_t){s, i, 0};
        DQ_REQUIRE(pthread_create(&th[i], NULL, worker, &a[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        DQ_CHECK_INT(a[i].bad, 0);
    }
    dq_search_stats_t st;
    dq_search_stats(s, &st);
    DQ_CHECK_INT(st.n_dict, 80);
    dq_search_free(s);
}
