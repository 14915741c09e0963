/*
 * store_sqlite_relic_search.c: the SQLite backend's half of relic search: it renders a query
 * plan (search/, dq_search_plan_t) into FTS5 MATCH expressions and runs them against
 * relic_fts (title, creators, body, description; tokenizer "danqing"), answering the
 * full-text primitives of dq_store_relic_ops: which relics match (with bm25 when asked) and
 * their snippets. Ranking tiers, facets and JSON live in relic_search.c; this file knows FTS5
 * and nothing about what a search response looks like.
 *
 * One walk, three answers (issue 9: a selective search evaluated its phrase three times, for
 * the match bound, for bm25's IDF and for snippet()). A relevance search asks match_bound
 * first, then match: the bound is now the walk itself, stopped after limit + 1 matches and
 * kept for the transaction (struct relic_walk), so match reads it back instead of running
 * the query again. When the query is one phrase, the walk also records each row's weighted
 * phrase frequency (the FTS5 auxiliary function dq_relic_freq), and bm25 is finished in C: its
 * IDF needs the number of rows holding the phrase, which for a one-phrase query is the number
 * of matches the walk just counted, where bm25() ran the phrase once more over the whole
 * table. Snippets are made in C from the page's stored field text (fts_aux.c, FTS5's own
 * algorithm re-stated), without a third evaluation of the query.
 */
#include "store_sqlite_internal.h"

#include "catalog/fts_aux.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* bm25 weights of title, creators, body, description: a word in the title says more about
 * what the work is than the same word in a colophon. */
#define BM25 "bm25(relic_fts, 10.0, 8.0, 2.0, 1.0)"

/* ---------------------------------------------------------------- rendering */

/* One phrase as an FTS5 string (FTS5 §3.1: a double quote inside is doubled); pinyin and
 * initials phrases start with their namespace byte, which the tokenizer reads (search.h).
 * notail: text phrases start with DQ_SEARCH_NS_NOTAIL, the same matches with one doclist
 * fewer, for walks that need no highlight() or snippet() from FTS5 (every relic walk: the
 * snippets are made in C from the plan, bm25 ignores a phrase's length). */
static void quote(dq_buf_t *b, const dq_search_plan_t *p, const dq_search_phrase_t *ph, int notail)
{
    const char *s = dq_search_phrase_text(p, ph);
    dq_buf_putc(b, '"');
    if (ph->kind == DQ_SEARCH_PHRASE_PINYIN)
        dq_buf_putc(b, DQ_SEARCH_NS_PINYIN);
    else if (ph->kind == DQ_SEARCH_PHRASE_INITIALS)
        dq_buf_putc(b, DQ_SEARCH_NS_INITIALS);
    else if (notail)
        dq_buf_putc(b, DQ_SEARCH_NS_NOTAIL);
    for (size_t i = 0; i < ph->len; i++) {
        if (s[i] == '"')
            dq_buf_putc(b, '"');
        dq_buf_putc(b, s[i]);
    }
    dq_buf_putc(b, '"');
}

static void render(const dq_search_plan_t *p, int what, int notail, dq_buf_t *out)
{
    if (what == DQ_SQ_FTS_BOOST) { /* "a" OR "b" ... */
        int n = 0;
        for (size_t i = 0; i < p->n_ph; i++) {
            if (p->ph[i].term >= 0)
                continue;
            if (n++)
                dq_buf_puts(out, " OR ");
            quote(out, p, &p->ph[i], notail);
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
            quote(out, p, &p->ph[i], notail);
        }
        if (n_alt > 1)
            dq_buf_putc(out, ')');
    }
}

void dq_sqlite_fts_render(const dq_search_plan_t *p, int what, dq_buf_t *out)
{
    render(p, what, 0, out);
}

/* The MATCH expression of a primitive's what. */
static void render_what(const dq_search_plan_t *p, int what, dq_buf_t *out)
{
    if (what == DQ_RELIC_MATCH_BOOST) {
        /* The boost phrases alone: "(match) AND (boost)" would say the same for the rows that
         * matter, but FTS5 evaluates it twice as slowly (张择端: 2.0 against 0.9 ms). */
        render(p, DQ_SQ_FTS_BOOST, 1, out);
    } else if (what == DQ_RELIC_MATCH_TITLE) {
        dq_buf_puts(out, "{title creators} : (");
        render(p, DQ_SQ_FTS_MATCH, 1, out);
        dq_buf_putc(out, ')');
    } else {
        render(p, DQ_SQ_FTS_MATCH, 1, out);
    }
}

/* ---------------------------------------------------------------- the walk */

/* bm25's field weights as numbers, in column order (title, creators, body, description). */
static const double bm25_weight[4] = {10.0, 8.0, 2.0, 1.0};
#define WALK_PTR "dq_relic_walk"

/* The first matches of one MATCH expression in one transaction (see the header comment). */
struct relic_walk {
    dq_buf_t expr;     /* the expression walked; empty: nothing kept */
    int changes;       /* sqlite3_total_changes() then: a write since makes the walk stale */
    int64_t *id;       /* the first n matches, ascending */
    double *freq;      /* per match, when freq: bm25's weighted instance count of the phrase */
    size_t n, cap;
    int complete;      /* 1: id[] holds every match */
    int has_freq;      /* 1: a one-phrase walk that recorded freq[] and the totals below */
    int64_t n_row;     /* rows in relic_fts (FTS5 xRowCount) */
    int64_t n_token;   /* tokens in relic_fts (FTS5 xColumnTotalSize(-1)) */
};

void dq_sqlite_relic_walk_free(struct relic_walk *w)
{
    if (!w)
        return;
    dq_buf_free(&w->expr);
    free(w->id);
    free(w->freq);
    free(w);
}

void dq_sqlite_relic_walk_clear(struct relic_walk *w)
{
    if (w)
        dq_buf_reset(&w->expr);
}

/* FTS5 auxiliary function dq_relic_freq(relic_fts, walk pointer): the row's phrase
 * frequency as bm25 computes it (fts5_aux.c fts5Bm25Function: the field weight of each
 * instance, summed in instance order), and on the first row the table totals bm25 reads. */
static void freq_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_val,
                    sqlite3_value **val)
{
    struct relic_walk *w = n_val == 1 ? sqlite3_value_pointer(val[0], WALK_PTR) : NULL;
    int rc = SQLITE_OK, n_inst = 0;
    double f = 0.0;
    if (!w) {
        sqlite3_result_error(ctx, "dq_relic_freq: no walk", -1);
        return;
    }
    if (!w->has_freq) {
        sqlite3_int64 rows = 0, tokens = 0;
        rc = api->xRowCount(fts, &rows);
        if (rc == SQLITE_OK)
            rc = api->xColumnTotalSize(fts, -1, &tokens);
        w->n_row = rows;
        w->n_token = tokens;
        w->has_freq = rc == SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        rc = api->xInstCount(fts, &n_inst);
    for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
        int ip, ic, io;
        rc = api->xInst(fts, i, &ip, &ic, &io);
        if (rc == SQLITE_OK)
            f += ic >= 0 && ic < 4 ? bm25_weight[ic] : 1.0;
    }
    if (rc != SQLITE_OK)
        sqlite3_result_error_code(ctx, rc);
    else
        sqlite3_result_double(ctx, f);
}

int dq_sqlite_relic_fts_register(sqlite3 *db, dq_err_t *err)
{
    fts5_api *api = dq_search_fts5_api(db);
    if (!api || api->xCreateFunction(api, "dq_relic_freq", NULL, freq_fn, NULL) != SQLITE_OK)
        return dq_err_set(err, DQ_EINTERNAL, 500, "catalog: registering dq_relic_freq failed: %s",
                          sqlite3_errmsg(db));
    return 0;
}

/* 1 when the MATCH expression of plan is one phrase: then the rows holding phrase 0 (bm25's
 * IDF) are exactly the matches. */
static int one_phrase(const dq_search_plan_t *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_ph; i++)
        n += p->ph[i].term >= 0;
    return p->n_terms == 1 && n == 1;
}

/* The transaction's walk of expr if it is still good, else NULL. */
static struct relic_walk *walk_of(dq_store_txn_t *txn, const dq_buf_t *expr)
{
    struct relic_walk *w = txn->conn->walk;
    if (!w || !w->expr.len || w->expr.len != expr->len ||
        memcmp(w->expr.data, expr->data, expr->len) != 0 ||
        w->changes != sqlite3_total_changes(txn->db))
        return NULL;
    return w;
}

/* Walks expr (every term: DQ_RELIC_MATCH_ALL) for at most limit + 1 matches into the
 * transaction's walk, recording frequencies when the plan is one phrase. */
static int walk(dq_store_txn_t *txn, const dq_search_plan_t *plan, const dq_buf_t *expr,
                int64_t limit, struct relic_walk **out, dq_err_t *err)
{
    struct relic_walk *w = txn->conn->walk;
    int freq = one_phrase(plan), r = SQLITE_ROW;
    if (!w)
        w = txn->conn->walk = dq_xcalloc(1, sizeof(*w));
    dq_buf_reset(&w->expr);
    w->n = 0;
    w->complete = w->has_freq = 0;
    sqlite3_stmt *st = dq_sq_stmt(txn,
                                  freq ? "SELECT rowid, dq_relic_freq(relic_fts, ?2) FROM relic_fts"
                                         " WHERE relic_fts MATCH ?1 ORDER BY rowid"
                                       : "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1"
                                         " ORDER BY rowid",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, expr->data, (int)expr->len, SQLITE_STATIC);
    if (freq)
        sqlite3_bind_pointer(st, 2, w, WALK_PTR, NULL);
    while ((int64_t)w->n <= limit && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 512;
            w->id = dq_xrealloc(w->id, w->cap * sizeof(*w->id));
            w->freq = dq_xrealloc(w->freq, w->cap * sizeof(*w->freq));
        }
        w->id[w->n] = sqlite3_column_int64(st, 0);
        w->freq[w->n] = freq ? sqlite3_column_double(st, 1) : 0.0;
        w->n++;
    }
    if ((int64_t)w->n <= limit) {
        if (r != SQLITE_DONE) {
            sqlite3_reset(st);
            /* the plan is made of quoted strings only, so this is the text's fault at most */
            return dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(txn->db));
        }
        w->complete = 1;
    }
    sqlite3_reset(st);
    w->has_freq = freq && w->has_freq;
    dq_buf_append(&w->expr, expr->data, expr->len);
    w->changes = sqlite3_total_changes(txn->db);
    *out = w;
    return 0;
}

/* A SQLite varint (the record format's, which FTS5 uses for its docsize blobs): bytes read,
 * 0 when p[0..n) ends first. */
static size_t get_varint(const unsigned char *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 9; i++) {
        if (i == 8) {
            *v = (x << 8) | p[i];
            return 9;
        }
        x = (x << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* The row's length in tokens, all fields (FTS5 xColumnSize(-1)), from relic_fts_docsize
 * (one varint per column). 1 when the row or its sizes cannot be read that way. */
static int doc_tokens(sqlite3_stmt *st, int64_t id, int64_t *n)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW)
        return 1;
    const unsigned char *p = sqlite3_column_blob(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0), off = 0;
    *n = 0;
    for (int c = 0; c < 4; c++) {
        uint64_t v;
        size_t k = p ? get_varint(p + off, len - off, &v) : 0;
        if (!k)
            return 1;
        off += k;
        *n += (int64_t)v;
    }
    return off == len ? 0 : 1;
}

/* bm25(relic_fts, 10.0, 8.0, 2.0, 1.0) of every row of a complete one-phrase walk, the same
 * arithmetic as fts5Bm25Function in the same order (so the same doubles): nHit, the rows
 * holding the phrase, is w->n. 1 when a row's length cannot be read (the caller then asks
 * FTS5 for bm25 itself). */
static int walk_scores(dq_store_txn_t *txn, const struct relic_walk *w, double *score,
                       dq_err_t *err)
{
    const double k1 = 1.2, b = 0.75;
    sqlite3_stmt *st = dq_sq_stmt(txn, "SELECT sz FROM relic_fts_docsize WHERE id = ?1", err);
    if (!st)
        return -1;
    int64_t n_hit = (int64_t)w->n;
    double avgdl = (double)w->n_token / (double)w->n_row;
    double idf = log((w->n_row - n_hit + 0.5) / (n_hit + 0.5));
    if (idf <= 0.0)
        idf = 1e-6;
    for (size_t i = 0; i < w->n; i++) {
        int64_t tokens;
        if (doc_tokens(st, w->id[i], &tokens) != 0) {
            sqlite3_reset(st);
            return 1;
        }
        double d = (double)tokens, s = 0.0, f = w->freq[i];
        s += idf * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * d / avgdl)));
        score[i] = -1.0 * s;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---------------------------------------------------------------- primitives */

int dq_sqlite_relic_match(dq_store_txn_t *txn, const dq_search_plan_t *plan, int what, int scored,
                          dq_relic_match_cb cb, void *ud, dq_err_t *err)
{
    dq_buf_t expr = {0};
    sqlite3_stmt *st;
    double *score = NULL;
    int rc = -1, r;
    int64_t after = INT64_MIN;
    render_what(plan, what, &expr);
    if (!expr.len) /* no boost phrases: nothing matches */
        return dq_buf_free(&expr), 0;
    struct relic_walk *w = what == DQ_RELIC_MATCH_ALL ? walk_of(txn, &expr) : NULL;
    if (w && scored && w->complete && w->has_freq) {
        score = dq_xmalloc((w->n ? w->n : 1) * sizeof(*score));
        r = walk_scores(txn, w, score, err);
        if (r < 0)
            goto out;
        if (r == 0) {
            for (size_t i = 0; i < w->n; i++)
                if (cb(ud, w->id[i], score[i]))
                    break;
            rc = 0;
            goto out;
        }
    } else if (w && !scored) {
        /* the walk's rows, then (when it stopped early) the rest after its last one */
        for (size_t i = 0; i < w->n; i++)
            if (cb(ud, w->id[i], 0.0)) {
                rc = 0;
                goto out;
            }
        if (w->complete) {
            rc = 0;
            goto out;
        }
        after = w->n ? w->id[w->n - 1] : INT64_MIN;
    }
    st = dq_sq_stmt(txn,
                    scored ? "SELECT rowid, " BM25 " FROM relic_fts WHERE relic_fts MATCH ?1"
                             " ORDER BY rowid"
                           : "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1"
                             " AND rowid > ?2 ORDER BY rowid",
                    err);
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, expr.data, (int)expr.len, SQLITE_STATIC);
    if (!scored)
        sqlite3_bind_int64(st, 2, after);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ud, sqlite3_column_int64(st, 0), scored ? sqlite3_column_double(st, 1) : 0.0))
            break;
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        /* the plan is made of quoted strings only, so this is the text's fault at most */
        dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(txn->db));
        goto out;
    }
    rc = 0;
out:
    free(score);
    dq_buf_free(&expr);
    return rc;
}

/* Whether at most limit relics match: the walk itself, stopped after limit + 1 matches and
 * kept for the match call that follows in the same transaction (header comment). Stopping
 * there keeps a broad query's cost bounded: a few thousand rows, as the instance counts of
 * relic_fts_vocab that this replaced read. */
int dq_sqlite_relic_match_bound(dq_store_txn_t *txn, const dq_search_plan_t *plan, int64_t limit,
                                int64_t *bound, dq_err_t *err)
{
    dq_buf_t expr = {0};
    struct relic_walk *w = NULL;
    *bound = -1;
    render_what(plan, DQ_RELIC_MATCH_ALL, &expr);
    int rc = 0;
    if (expr.len) {
        rc = walk(txn, plan, &expr, limit, &w, err);
        if (rc == 0 && w->complete)
            *bound = (int64_t)w->n;
    } else {
        *bound = 0;
    }
    dq_buf_free(&expr);
    return rc;
}

/* ---------------------------------------------------------------- snippets */

/* FTS5's snippet(relic_fts, -1, char(1), char(2), '…', 24) of each row, made in C from the
 * row's stored fields (fts_aux.c) instead of by FTS5: snippet() needs the query evaluated
 * over the rows once more (a third time in a relevance search), which cost a selective
 * search a fifth of its time, where the page's two dozen rows are read by rowid. all and
 * n_all are not needed. */
int dq_sqlite_relic_snippets(dq_store_txn_t *txn, const dq_search_plan_t *plan, const int64_t *seqs,
                             size_t n, const int64_t *all, size_t n_all, dq_relic_snippet_cb cb,
                             void *ud, dq_err_t *err)
{
    dq_fts_phrases_t ph;
    dq_buf_t text = {0};
    int rc = -1;
    (void)all, (void)n_all;
    if (!n)
        return 0;
    sqlite3_stmt *st =
        dq_sq_stmt(txn, "SELECT c0, c1, c2, c3 FROM relic_fts_content WHERE id = ?1", err);
    if (!st)
        return -1;
    dq_fts_phrases(txn->search, plan, 0, &ph);
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, seqs[i]);
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE)
            continue;
        if (r != SQLITE_ROW) {
            dq_sq_fail(txn, err, "snippet");
            goto out;
        }
        const char *fields[4];
        for (int c = 0; c < 4; c++)
            fields[c] = (const char *)sqlite3_column_text(st, c);
        dq_buf_reset(&text);
        dq_fts_snippet(txn->search, &ph, fields, 4, 24, &text);
        if (cb(ud, seqs[i], text.data ? text.data : ""))
            break;
    }
    rc = 0;
out:
    sqlite3_reset(st);
    dq_buf_free(&text);
    dq_fts_phrases_free(&ph);
    return rc;
}
