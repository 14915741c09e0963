/*
 * store_sqlite_relic_search.c: the SQLite backend's half of relic search: it renders a query
 * plan (search/, dq_search_plan_t) into FTS5 MATCH expressions and runs them against
 * relic_fts (title, creators, body, description; tokenizer "danqing"), answering the
 * full-text primitives of dq_store_relic_ops: which relics match (with bm25 when asked) and
 * their snippets. Ranking tiers, facets and JSON live in relic_search.c; this file knows FTS5
 * and nothing about what a search response looks like.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* bm25 weights of title, creators, body, description: a word in the title says more about
 * what the work is than the same word in a colophon. */
#define BM25 "bm25(relic_fts, 10.0, 8.0, 2.0, 1.0)"

/* ---------------------------------------------------------------- rendering */

/* One phrase as an FTS5 string (FTS5 §3.1: a double quote inside is doubled); pinyin and
 * initials phrases start with their namespace byte, which the tokenizer reads (search.h). */
static void quote(dq_buf_t *b, const dq_search_plan_t *p, const dq_search_phrase_t *ph)
{
    const char *s = dq_search_phrase_text(p, ph);
    dq_buf_putc(b, '"');
    if (ph->kind == DQ_SEARCH_PHRASE_PINYIN)
        dq_buf_putc(b, DQ_SEARCH_NS_PINYIN);
    else if (ph->kind == DQ_SEARCH_PHRASE_INITIALS)
        dq_buf_putc(b, DQ_SEARCH_NS_INITIALS);
    for (size_t i = 0; i < ph->len; i++) {
        if (s[i] == '"')
            dq_buf_putc(b, '"');
        dq_buf_putc(b, s[i]);
    }
    dq_buf_putc(b, '"');
}

void dq_sqlite_fts_render(const dq_search_plan_t *p, int what, dq_buf_t *out)
{
    if (what == DQ_SQ_FTS_BOOST) { /* "a" OR "b" ... */
        int n = 0;
        for (size_t i = 0; i < p->n_ph; i++) {
            if (p->ph[i].term >= 0)
                continue;
            if (n++)
                dq_buf_puts(out, " OR ");
            quote(out, p, &p->ph[i]);
        }
        return;
    }
    /* every term AND-ed; a term of several phrases is ("a" OR "b") */
    for (int t = 0; t < p->n_terms; t++) {
        size_t n_alt = 0;
        for (size_t i = 0; i < p->n_ph; i++)
            n_alt += p->ph[i].term == t;
        if (t)
            dq_buf_puts(out, " AND ");
        if (n_alt > 1)
            dq_buf_putc(out, '(');
        size_t k = 0;
        for (size_t i = 0; i < p->n_ph; i++) {
            if (p->ph[i].term != t)
                continue;
            if (k++)
                dq_buf_puts(out, " OR ");
            quote(out, p, &p->ph[i]);
        }
        if (n_alt > 1)
            dq_buf_putc(out, ')');
    }
}

/* The MATCH expression of a primitive's what. */
static void render_what(const dq_search_plan_t *p, int what, dq_buf_t *out)
{
    if (what == DQ_RELIC_MATCH_BOOST) {
        /* The boost phrases alone: "(match) AND (boost)" would say the same for the rows that
         * matter, but FTS5 evaluates it twice as slowly (张择端: 2.0 against 0.9 ms). */
        dq_sqlite_fts_render(p, DQ_SQ_FTS_BOOST, out);
    } else if (what == DQ_RELIC_MATCH_TITLE) {
        dq_buf_puts(out, "{title creators} : (");
        dq_sqlite_fts_render(p, DQ_SQ_FTS_MATCH, out);
        dq_buf_putc(out, ')');
    } else {
        dq_sqlite_fts_render(p, DQ_SQ_FTS_MATCH, out);
    }
}

/* ---------------------------------------------------------------- primitives */

int dq_sqlite_relic_match(dq_store_txn_t *txn, const dq_search_plan_t *plan, int what, int scored,
                          dq_relic_match_cb cb, void *ud, dq_err_t *err)
{
    dq_buf_t expr = {0};
    sqlite3_stmt *st;
    int rc = -1, r;
    render_what(plan, what, &expr);
    if (!expr.len) /* no boost phrases: nothing matches */
        return dq_buf_free(&expr), 0;
    st = dq_sq_stmt(txn,
                    scored ? "SELECT rowid, " BM25 " FROM relic_fts WHERE relic_fts MATCH ?1"
                             " ORDER BY rowid"
                           : "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1",
                    err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, expr.data, (int)expr.len, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, sqlite3_column_int64(st, 0), scored ? sqlite3_column_double(st, 1) : 0.0))
            break;
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        /* the plan is made of quoted strings only, so this is the text's fault at most */
        dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(txn->db));
        goto out;
    }
    rc = 0;
out:
    if (st)
        sqlite3_reset(st);
    dq_buf_free(&expr);
    return rc;
}

/* ---------------------------------------------------------------- match bounds */

typedef struct {
    sqlite3_stmt *st;
    int64_t limit; /* counts stop here: the caller only asks "at most limit?" */
    int64_t min;   /* the smallest count of the phrase's tokens so far (-1: none yet) */
    int failed;
} bound_t;

/* One token of a phrase: how often it occurs (capped at limit + 1) bounds the phrase. Once a
 * token is rare enough the rest are not looked up. */
static int bound_token(void *ud, int colocated, const char *tok, int tok_len, int start, int end)
{
    bound_t *b = ud;
    (void)colocated, (void)start, (void)end;
    if (b->min >= 0 && b->min <= b->limit)
        return 0;
    sqlite3_reset(b->st);
    sqlite3_bind_text(b->st, 1, tok, tok_len, SQLITE_STATIC);
    sqlite3_bind_int64(b->st, 2, b->limit + 1);
    int r = sqlite3_step(b->st);
    int64_t n = r == SQLITE_ROW ? sqlite3_column_int64(b->st, 0) : 0;
    if (r != SQLITE_ROW)
        b->failed = 1;
    if (b->min < 0 || n < b->min)
        b->min = n;
    return b->failed;
}

/* A phrase matches only rows that hold every token of it: at most the occurrences of its
 * rarest token. A term (OR) matches at most the sum over its phrases, all terms (AND) at most
 * the smallest term. The phrases are tokenized as FTS5 will tokenize the rendered query
 * (FTS5_TOKENIZE_QUERY), so the tokens are the ones the index holds. Each count stops at
 * limit + 1 occurrences, so this costs at most a few thousand doclist entries per token and
 * answers only "at most limit, and then how many at most" (else -1). */
int dq_sqlite_relic_match_bound(dq_store_txn_t *txn, const dq_search_plan_t *plan, int64_t limit,
                                int64_t *bound, dq_err_t *err)
{
    bound_t b = {NULL, limit, -1, 0};
    dq_buf_t q = {0};
    *bound = -1;
    b.st = dq_sq_stmt(txn,
                      "SELECT count(*) FROM (SELECT 1 FROM relic_fts_vocab WHERE term = ?1"
                      " LIMIT ?2)",
                      err);
    if (!b.st)
        return -1;
    for (int t = 0; t < plan->n_terms && !b.failed && *bound < 0; t++) {
        int64_t term = 0;
        for (size_t i = 0; i < plan->n_ph && !b.failed && term <= limit; i++) {
            const dq_search_phrase_t *ph = &plan->ph[i];
            if (ph->term != t)
                continue;
            dq_buf_reset(&q);
            if (ph->kind == DQ_SEARCH_PHRASE_PINYIN)
                dq_buf_putc(&q, DQ_SEARCH_NS_PINYIN);
            else if (ph->kind == DQ_SEARCH_PHRASE_INITIALS)
                dq_buf_putc(&q, DQ_SEARCH_NS_INITIALS);
            dq_buf_append(&q, dq_search_phrase_text(plan, ph), ph->len);
            b.min = -1;
            dq_search_tokenize(txn->search, DQ_SEARCH_MODE_QUERY, 1, q.data, q.len, bound_token,
                               &b);
            term += b.min < 0 ? 0 : b.min;
        }
        if (term <= limit) /* every term must match: this one alone bounds the query */
            *bound = term;
    }
    sqlite3_reset(b.st);
    dq_buf_free(&q);
    if (b.failed) {
        *bound = -1;
        return dq_sq_fail(txn, err, "match bound");
    }
    return 0;
}

/* ---------------------------------------------------------------- snippets */

/* Matches per snippet query. A snippet query names its rows by a rowid range plus a filter:
 * FTS5 runs a MATCH with `rowid IN (...)` once per listed rowid (0.3-0.5 ms each, 7-13 ms
 * for a page), while a range is one seek into the doclists and a scan of the matches inside
 * it (373 matches: 0.9 ms for all 24 snippets). So the page's rows are grouped into ranges
 * that hold at most this many matches each. */
#define SNIPPET_RANGE_MAX 1000

static int snippet_group(dq_store_txn_t *txn, const char *match, const int64_t *seqs, size_t n,
                         dq_relic_snippet_cb cb, void *ud, dq_err_t *err)
{
    dq_buf_t ids = {0};
    sqlite3_stmt *st;
    int rc = -1, r;
    /* `+rowid` keeps the list out of FTS5's plan: it only filters the range's rows (and the
     * list is a JSON array, so that the statement text, and its cached plan, never change) */
    st = dq_sq_stmt(txn,
                    "SELECT rowid, snippet(relic_fts, -1, char(1), char(2), '…', 24)"
                    " FROM relic_fts WHERE relic_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3"
                    " AND +rowid IN (SELECT value FROM json_each(?4))",
                    err);
    if (!st)
        return -1;
    dq_buf_putc(&ids, '[');
    for (size_t i = 0; i < n; i++)
        dq_buf_printf(&ids, i ? ",%lld" : "%lld", (long long)seqs[i]);
    dq_buf_putc(&ids, ']');
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seqs[0]);
    sqlite3_bind_int64(st, 3, seqs[n - 1]);
    sqlite3_bind_text(st, 4, ids.data, (int)ids.len, SQLITE_STATIC);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1)))
            break;
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(txn, err, "snippet");
        goto out;
    }
    rc = 0;
out:
    sqlite3_reset(st);
    dq_buf_free(&ids);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of the first element >= v in the ascending a[0..n). */
static size_t lower_bound(const int64_t *a, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int dq_sqlite_relic_snippets(dq_store_txn_t *txn, const dq_search_plan_t *plan, const int64_t *seqs,
                             size_t n, const int64_t *all, size_t n_all, dq_relic_snippet_cb cb,
                             void *ud, dq_err_t *err)
{
    dq_buf_t match = {0};
    int64_t *s = NULL;
    int rc = -1;
    if (!n)
        return 0;
    dq_sqlite_fts_render(plan, DQ_SQ_FTS_MATCH, &match);
    s = dq_xmalloc(n * sizeof(*s));
    memcpy(s, seqs, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_i64);
    for (size_t i = 0; i < n;) {
        /* grow the group while the matches between its ends stay few */
        size_t j = i + 1, from = lower_bound(all, n_all, s[i]);
        while (j < n && (all ? lower_bound(all, n_all, s[j]) - from < SNIPPET_RANGE_MAX : 1))
            j++;
        if (snippet_group(txn, match.data, s + i, j - i, cb, ud, err) < 0)
            goto out;
        i = j;
    }
    rc = 0;
out:
    free(s);
    dq_buf_free(&match);
    return rc;
}
