/*
 * test_search_pairs.c: the pair lexemes and markers of relic_fts (issue 15, migration 25,
 * store_pg_text.c "pair lexemes"). Without a database: the pair lexeme of each kind of token,
 * the tsvector's pairs and markers (text and binary forms alike), the rendering of phrases.
 * On both backends (the catalog pass runs it against SQLite and PostgreSQL): phrases whose
 * inner tokens occur once (the AND of pairs) and repeat (the chain rechecked), and pairs that
 * are in a record without their phrase, find exactly what FTS5 finds. PostgreSQL only: a
 * relic created, a relic imported and a catalog migrated from before migration 25 hold the
 * same tsvector.
 */
#include "relic_fixture.h"

#include "catalog/store_pg_text.c" /* its statics: pair_lexeme, tok_kind */

#include <jansson.h>
#include <stdio.h>

static dq_search_t *search_tables(void)
{
    dq_err_t err = {0};
    dq_search_t *s = dq_search_new(NULL, &err);
    if (!s)
        fprintf(stderr, "search tables: %s\n", err.msg);
    DQ_REQUIRE(s);
    return s;
}

/* pair_lexeme of a and b as a new string ("" when none) */
static char *pair_of(const char *a, const char *b)
{
    dq_buf_t o = {0};
    if (!pair_lexeme(a, strlen(a), b, strlen(b), &o))
        return dq_xstrdup("");
    return dq_buf_steal(&o, NULL);
}

#define CHECK_PAIR(a, b, want)                                                                     \
    do {                                                                                           \
        char *p_ = pair_of((a), (b));                                                              \
        DQ_CHECK_STR(p_, (want));                                                                  \
        free(p_);                                                                                  \
    } while (0)

DQ_TEST(pair_lexeme_per_kind)
{
    CHECK_PAIR("溪山", "山行", "溪山行");             /* two bigrams: the trigram */
    CHECK_PAIR("溪山", "水行", "");                   /* bigrams that do not overlap */
    CHECK_PAIR("\x01qiu", "\x01shan", "\x01qiu\x01shan"); /* two syllables */
    CHECK_PAIR("\x02xs", "\x02sx", ""); /* initials and words: no pairs (pairs_kind) */
    CHECK_PAIR("wind", "in", "");
    CHECK_PAIR("溪", "山", "");          /* unigrams: the bigram is there already */
    CHECK_PAIR("溪山", "\x01shan", "");  /* two kinds */
    CHECK_PAIR("wind", "山行", "");
    DQ_CHECK_INT(tok_kind("\x04山行", strlen("\x04山行")), TK_OTHER); /* a marker pairs with nothing */
}

/* Decodes a binary tsvector (tsvectorsend's form) into the text form tvb_text writes. */
static char *bin_to_text(const dq_buf_t *b)
{
    static const char wl[] = "DCBA";
    const unsigned char *p = (const unsigned char *)b->data;
    dq_buf_t o = {0};
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    size_t i = 4;
    for (uint32_t k = 0; k < n; k++) {
        size_t len = strlen((const char *)p + i);
        if (o.len)
            dq_buf_putc(&o, ' ');
        put_lexeme(&o, (const char *)p + i, (int)len);
        i += len + 1;
        unsigned np = (unsigned)p[i] << 8 | p[i + 1];
        i += 2;
        for (unsigned q = 0; q < np; q++, i += 2) {
            unsigned v = (unsigned)p[i] << 8 | p[i + 1];
            dq_buf_printf(&o, "%c%u%c", q ? ',' : ':', v & 0x3fff, wl[v >> 14]);
        }
    }
    DQ_CHECK(i == b->len);
    return o.data ? dq_buf_steal(&o, NULL) : dq_xstrdup("");
}

DQ_TEST(tsvector_pairs_and_markers)
{
    dq_search_t *s = search_tables();
    /* title 溪山行旅, body 山行 again: 山行 repeats (a marker), 溪山 does not */
    const char *f[4] = {"溪山行旅", NULL, "山行 wind in the pines", "the pines"};
    dq_buf_t t = {0}, b = {0}, plain = {0};
    dq_pg_tsvector(s, f, 4, DQ_PG_RELIC_TSV, &t, NULL);
    dq_pg_tsvector(s, f, 4, 1, &plain, NULL);
    DQ_CHECK(strstr(t.data, "'溪山行':1A") != NULL);
    DQ_CHECK(strstr(t.data, "'山行旅':2A") != NULL);
    /* positions: title 1-4, an empty one, creators none, another empty one, body 7-12, ... */
    DQ_CHECK(strstr(t.data, "'溪山行':1A") != NULL);
    /* 山行 at 2 is followed by 行旅, at 7 by no bigram: a marker, at its first position, with
     * the highest weight of the token's */
    DQ_CHECK(strstr(t.data, "'\x04山行':2A ") != NULL);
    DQ_CHECK(strstr(t.data, "'\x04溪山'") == NULL); /* once */
    DQ_CHECK(strstr(t.data, "'\x01xi\x01shan':1A") != NULL);
    DQ_CHECK(strstr(t.data, "'\x02xsx'") == NULL);
    DQ_CHECK(strstr(t.data, "'the pine'") == NULL && strstr(t.data, "'\x04the'") == NULL);
    /* shan (山) twice, followed by xing both times: no marker; xing by lv, then by nothing: one */
    DQ_CHECK(strstr(t.data, "'\x04\x01shan'") == NULL);
    DQ_CHECK(strstr(t.data, "'\x04\x01xing':3A ") != NULL);
    DQ_CHECK(strstr(t.data, "'\x04山'") == NULL); /* unigrams have no pairs, no markers */
    DQ_CHECK(strstr(plain.data, "溪山行") == NULL);      /* annotations and lessons: none */
    /* the binary form (imports) is the same tsvector */
    dq_pg_tsvector_bin(s, f, 4, DQ_PG_RELIC_TSV, &b);
    char *bt = bin_to_text(&b);
    DQ_CHECK_STR(bt, t.data);
    free(bt);
    dq_buf_free(&t);
    dq_buf_free(&b);
    dq_buf_free(&plain);
    dq_search_free(s);
}

static char *tsq(dq_search_t *s, const char *text, int what)
{
    dq_search_plan_t plan = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_search_query_plan(s, text, &plan, &err) == 0);
    dq_buf_t q = {0};
    dq_pg_tsquery(s, &plan, what, &q);
    dq_search_plan_free(&plan);
    return q.data ? dq_buf_steal(&q, NULL) : dq_xstrdup("");
}

DQ_TEST(tsquery_renders_pairs)
{
    dq_search_t *s = search_tables();
    char *q = tsq(s, "溪山行旅", DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS);
    DQ_CHECK_STR(q, "((('溪山行' & '山行旅' & !'\x04山行') | ('溪山行' <-> '山行旅')))");
    free(q);
    q = tsq(s, "溪山行旅", DQ_RELIC_MATCH_ALL); /* annotations, lessons: as before */
    DQ_CHECK_STR(q, "(('溪山' <-> '山行' <-> '行旅'))");
    free(q);
    q = tsq(s, "张择端", DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS); /* two bigrams: one lexeme */
    DQ_CHECK_STR(q, "('张择端')");
    free(q);
    q = tsq(s, "qiushan", DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS);
    DQ_CHECK(strstr(q, "'\x01qiu\x01shan'") != NULL && strstr(q, "<->") == NULL);
    free(q);
    q = tsq(s, "wind in the pines", DQ_RELIC_MATCH_BOOST | DQ_PG_PAIRS); /* words: a chain */
    DQ_CHECK_STR(q, "('wind' <-> 'in' <-> 'the' <-> 'pine')");
    free(q);
    /* the words as typed (a chain), then the syllables (pairs) */
    q = tsq(s, "xi shan xing lü", DQ_RELIC_MATCH_BOOST | DQ_PG_PAIRS);
    DQ_CHECK_STR(q, "('xi' <-> 'shan' <-> 'xing' <-> 'lu') | "
                    "(('\x01xi\x01shan' & '\x01shan\x01xing' & '\x01xing\x01lv'"
                    " & !'\x04\x01shan' & !'\x04\x01xing') | ('\x01xi\x01shan' <->"
                    " '\x01shan\x01xing' <-> '\x01xing\x01lv'))");
    free(q);
    q = tsq(s, "\"山 水\"", DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS); /* unigrams: the plain chain */
    DQ_CHECK(strstr(q, "<->") != NULL);
    free(q);
    dq_search_free(s);
}

/* ---------------------------------------------------------------- both backends */

/* The texts are descriptions: zh titles are dictionary names, which split queries into terms. */
static const char *docs[] = {
    /* P1: the phrase once (the AND of pairs) */
    "{\"accession\":\"P1\",\"title\":{\"en\":\"One\"},"
    "\"description\":{\"zh\":\"溪山行旅\",\"en\":\"Wind in the Pines\"}}",
    /* P2: both trigrams of 溪山行旅 and both pairs of "wind in the", never the phrase: 山行
     * and "in" repeat, so the chain is checked against positions */
    "{\"accession\":\"P2\",\"title\":{\"en\":\"Two\"},"
    "\"description\":{\"zh\":\"溪山行路，看山行旅\",\"en\":\"wind in autumn, in the pines\"}}",
    /* P3: the phrase and its inner tokens again elsewhere: 山行 followed by nothing (a marker:
     * the checked chain finds it), "the" followed by "pines" again (no marker) */
    "{\"accession\":\"P3\",\"title\":{\"en\":\"Three\"},\"medium\":{\"zh\":\"山行\",\"en\":\"the"
    " pines\"},\"description\":{\"zh\":\"溪山行旅\",\"en\":\"wind in the pines\"}}",
    /* P4: the characters apart (pinyin xi shan xing lü not adjacent) */
    "{\"accession\":\"P4\",\"title\":{\"en\":\"Four\"},"
    "\"description\":{\"zh\":\"溪与山，行与旅\",\"en\":\"pines, wind\"}}",
    /* P5: the phrase twice, its inner tokens in the same company each time: no marker, the
     * AND of pairs answers */
    "{\"accession\":\"P5\",\"title\":{\"en\":\"Five\"},"
    "\"description\":{\"zh\":\"溪山行旅，溪山行旅\"}}",
};

static dq_catalog_t *collection(void)
{
    return fx_collection(docs, DQ_ARRAY_LEN(docs));
}

DQ_TEST(phrases_find_what_fts5_finds)
{
    dq_catalog_t *c = collection();
    FX_EXPECT_FOUND(c, "溪山行旅", "P1 P3 P5");
    FX_EXPECT_FOUND(c, "山行旅", "P1 P2 P3 P5");
    FX_EXPECT_FOUND(c, "溪山行", "P1 P2 P3 P5");
    FX_EXPECT_FOUND(c, "xishanxinglv", "P1 P3 P5"); /* pinyin syllables, four of them */
    FX_EXPECT_FOUND(c, "xsxl", "P1 P2 P3 P5");      /* initials: 行路 is xing lu, xl too */
    FX_EXPECT_FOUND(c, "\"wind in the pines\"", "P1 P3");
    FX_EXPECT_FOUND(c, "\"in the pines\"", "P1 P2 P3");
    FX_EXPECT_FOUND(c, "\"wind in the\"", "P1 P3");
    FX_EXPECT_FOUND(c, "\"pines wind\"", "P4");
    FX_EXPECT_FOUND(c, "xishan", "P1 P2 P3 P5");
    dq_catalog_close(c);
}

/* ---------------------------------------------------------------- PostgreSQL only */

static char *fts_of(const char *dir, const char *acc)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT f.fts::text FROM relic_fts f JOIN relics r ON r.seq = f.seq"
             " WHERE r.accession = '%s'",
             acc);
    return dq_pg_test_sql1(dir, sql);
}

DQ_TEST(pg_created_imported_and_migrated_alike)
{
    if (!dq_test_on_pg()) {
        printf("    (SQLite pass: PostgreSQL only)\n");
        return;
    }
    char *d = dq_test_tmpdir("dq_pairs");
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c);
    free(fx_create(c, docs[2])); /* one by one: the text tsvector */
    /* the same record under another accession, imported: the binary tsvector */
    char line[512];
    snprintf(line, sizeof(line), "%s\n", docs[2]);
    char *q = strstr(line, "\"P3\"");
    DQ_REQUIRE(q);
    q[2] = '9';
    FILE *f = fmemopen(line, strlen(line), "r");
    DQ_REQUIRE(f);
    dq_import_opts_t o = {.format = DQ_IMPORT_JSONL, .batch_rows = 10};
    dq_import_stats_t st;
    DQ_REQUIRE(dq_catalog_import(c, f, &o, &curator, &st, &err) == 0);
    fclose(f);
    DQ_CHECK_INT(st.inserted, 1);
    char *created = fts_of(dir, "P3"), *imported = fts_of(dir, "P9");
    DQ_CHECK(strstr(created, "'溪山行'") != NULL);
    char *acc = strstr(imported, "'p9'"); /* the accession is searchable: the one difference */
    DQ_REQUIRE(acc);
    acc[2] = '3';
    DQ_CHECK_STR(imported, created);
    dq_catalog_close(c);
    /* a catalog from before migration 25: its tsvectors without pairs, the version gone */
    free(dq_pg_test_sql1(dir, "WITH u AS (UPDATE relic_fts SET fts = ''::tsvector RETURNING 1),"
                              " v AS (DELETE FROM schema_version WHERE version = 25 RETURNING 1)"
                              " SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM v)"));
    char *gone = fts_of(dir, "P3");
    DQ_CHECK_STR(gone, "");
    c = dq_test_catalog_open(dir, &err); /* migrates */
    DQ_REQUIRE(c);
    char *migrated = fts_of(dir, "P3");
    DQ_CHECK_STR(migrated, created);
    FX_EXPECT_FOUND(c, "溪山行旅", "P3 P9");
    char *idx = dq_pg_test_sql1(dir, "SELECT count(*) FROM pg_indexes WHERE tablename = 'relic_fts'"
                                     " AND indexname IN ('relic_fts_terms', 'relic_fts_ab')"
                                     " AND schemaname = current_schema()");
    DQ_CHECK_STR(idx, "2");
    dq_catalog_close(c);
    free(idx);
    free(created);
    free(imported);
    free(gone);
    free(migrated);
    free(dir);
    free(d);
}

