/*
 * fuzz_query.c: libFuzzer entry for the public search-query parser (search/query.c), what
 * `/api/relics?q=` and annotation search take. The input is the user's query text (cut at its
 * first NUL, as a C string arrives from the URL decoder). Each query goes through
 * dq_search_query_plan; a plan is rendered by the SQLite backend's renderer
 * (dq_sqlite_fts_render, the one relic and annotation search use) and both expressions are
 * run against a real FTS5 table with our tokenizer. Invariants, checked with abort() so that
 * libFuzzer reports them:
 *   - a failure is DQ_EINVAL or DQ_ELIMIT with an HTTP status in 400..499 and a message;
 *   - a plan has 1..DQ_SEARCH_QUERY_MAX_TERMS terms, each with at least one phrase; every
 *     phrase has a known kind, a term in -1..n_terms-1, and non-empty text inside the plan's
 *     buffer without NUL or control bytes (only the renderer writes namespace bytes);
 *     n_boost counts the term -1 phrases;
 *   - outside its quoted strings a rendered expression holds only parentheses, AND, OR and
 *     spaces (user text never becomes FTS5 syntax), and its quotes and parentheses balance;
 *   - SQLite accepts both expressions: no FTS5 syntax error, whatever the input.
 */
#include "catalog/store_sqlite_internal.h"
#include "search/search.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #c);                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Set up once: loading the Unihan tables per input would measure that, not the parser. */
static dq_search_t *search;
static sqlite3 *db;
static sqlite3_stmt *match_stmt, *boost_stmt;
static char cache_path[1024];

static void teardown(void)
{
    sqlite3_finalize(match_stmt);
    sqlite3_finalize(boost_stmt);
    sqlite3_close(db);
    dq_search_free(search);
    remove(cache_path);
}

static void exec(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(cache_path, sizeof(cache_path), "%s/dqfuzz-query-tables.%d.bin",
             tmp && *tmp ? tmp : "/tmp", (int)getpid());
    dq_search_config_t cfg = {.cache_path = cache_path};
    dq_err_t err = {0};
    search = dq_search_new(&cfg, &err);
    if (!search) {
        fprintf(stderr, "dq_search_new: %s\n", err.msg);
        abort();
    }
    atexit(teardown);
    /* names in the dictionary make the planner split Han runs and add boosts */
    static const char *const names[] = {"张择端",     "清明上河图", "Zhang Zeduan", "范宽",
                                        "溪山行旅图", "王希孟",     "千里江山图"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK(dq_search_dict_add(search, names[i], &err) == 0);
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(dq_search_register(search, db, &err) == 0);
    char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='%q')",
                                DQ_SEARCH_TOKENIZER);
    exec(sql);
    sqlite3_free(sql);
    exec("INSERT INTO t VALUES ('清明上河图', '北宋张择端绘'), "
         "('Along the River During the Qingming Festival', 'Zhang Zeduan, handscroll'), "
         "('溪山行旅圖', '范寬'), ('\"quoted\" AND (NEAR) * ^ :', 'OR NOT')");
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?1", -1, &match_stmt,
                             NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?1 LIMIT 5", -1, &boost_stmt,
                             NULL) == SQLITE_OK);
    return 0;
}

/* Outside quoted strings only "(", ")", "AND", "OR" and spaces; quotes and parentheses
 * balance. FTS5 §3.1: inside a string a double quote is doubled. */
static void check_shape(const char *e, size_t len)
{
    int depth = 0;
    size_t i = 0;
    while (i < len) {
        char c = e[i];
        if (c == '"') {
            i++;
            for (;;) {
                CHECK(i < len); /* the string is closed */
                if (e[i] == '"' && i + 1 < len && e[i + 1] == '"') {
                    i += 2;
                } else if (e[i] == '"') {
                    i++;
                    break;
                } else {
                    i++;
                }
            }
        } else if (c == '(') {
            depth++;
            i++;
        } else if (c == ')') {
            CHECK(--depth >= 0);
            i++;
        } else if (c == ' ') {
            i++;
        } else if (len - i >= 3 && memcmp(e + i, "AND", 3) == 0) {
            i += 3;
        } else if (len - i >= 2 && memcmp(e + i, "OR", 2) == 0) {
            i += 2;
        } else {
            CHECK(!"a byte outside the quoted strings that is not an operator");
        }
    }
    CHECK(depth == 0);
}

static void run(sqlite3_stmt *st, const char *expr, size_t len)
{
    sqlite3_reset(st);
    CHECK(sqlite3_bind_text(st, 1, expr, (int)len, SQLITE_STATIC) == SQLITE_OK);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        fprintf(stderr, "FTS5 refused %.*s: %s\n", (int)len, expr, sqlite3_errmsg(db));
    CHECK(rc == SQLITE_DONE);
    sqlite3_reset(st);
}

/* The plan's own invariants (search.h, "What a user query becomes"). */
static void check_plan(const dq_search_plan_t *p)
{
    CHECK(p->n_terms >= 1 && p->n_terms <= DQ_SEARCH_QUERY_MAX_TERMS);
    int n_boost = 0;
    for (int t = 0; t < p->n_terms; t++) {
        size_t n_alt = 0;
        for (size_t i = 0; i < p->n_ph; i++)
            n_alt += p->ph[i].term == t;
        CHECK(n_alt >= 1);
    }
    for (size_t i = 0; i < p->n_ph; i++) {
        const dq_search_phrase_t *ph = &p->ph[i];
        CHECK(ph->kind == DQ_SEARCH_PHRASE_TEXT || ph->kind == DQ_SEARCH_PHRASE_PINYIN ||
              ph->kind == DQ_SEARCH_PHRASE_INITIALS);
        CHECK(ph->term >= -1 && ph->term < p->n_terms);
        n_boost += ph->term == -1;
        CHECK(ph->len > 0 && ph->off <= p->text.len && ph->len <= p->text.len - ph->off);
        const unsigned char *t = (const unsigned char *)dq_search_phrase_text(p, ph);
        for (size_t k = 0; k < ph->len; k++)
            CHECK(t[k] >= 0x20 && t[k] != 0x7F);
    }
    CHECK(n_boost == p->n_boost);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *q = malloc(size + 1);
    CHECK(q);
    memcpy(q, data, size);
    q[size] = '\0';
    dq_search_plan_t plan = {0};
    dq_err_t err = {0};
    if (dq_search_query_plan(search, q, &plan, &err) < 0) {
        CHECK(err.code == DQ_EINVAL || err.code == DQ_ELIMIT);
        CHECK(err.http_status >= 400 && err.http_status <= 499);
        CHECK(err.msg[0] != '\0');
    } else {
        check_plan(&plan);
        dq_buf_t match = {0}, boost = {0};
        dq_sqlite_fts_render(&plan, DQ_SQ_FTS_MATCH, &match);
        dq_sqlite_fts_render(&plan, DQ_SQ_FTS_BOOST, &boost);
        CHECK(match.len > 0);
        CHECK((boost.len > 0) == (plan.n_boost > 0));
        check_shape(match.data, match.len);
        run(match_stmt, match.data, match.len);
        if (boost.len) {
            check_shape(boost.data, boost.len);
            run(boost_stmt, boost.data, boost.len);
        }
        dq_buf_free(&match);
        dq_buf_free(&boost);
    }
    dq_search_plan_free(&plan);
    free(q);
    return 0;
}
