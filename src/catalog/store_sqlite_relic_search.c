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
 * the query again. When the query is one term (one phrase, or a few OR-ed: 山水, qiushan,
 * xsxl), the walk reads each phrase's rows through FTS5's xQueryPhrase instead of stepping
 * the MATCH statement (walk_term: a third of the cost a row at 500,000 relics), recording
 * each row's weighted phrase frequencies and whether a phrase sits in the title or creators
 * field; bm25 is then finished in C (its IDF needs the rows holding each phrase, which for a
 * one-term query are counted by the walk, where bm25() ran each phrase once more over the
 * whole table), and the title/creators tier is read from the walk instead of walked again.
 * Snippets are made in C from the page's stored field text (fts_aux.c, FTS5's own algorithm
 * re-stated), without a third evaluation of the query.
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

/* The rows of one phrase (walk_term): ascending, with bm25's weighted instance count (when
 * recorded) and whether the phrase occurs in the title or creators field. */
typedef struct {
    int64_t *id;
    double *freq; /* recorded for the first freq_max + 1 rows, else 0 */
    unsigned char *title;
    size_t n, cap;
} phrase_rows_t;

/* The first matches of one MATCH expression in one transaction (see the header comment). */
struct relic_walk {
    dq_buf_t expr; /* the expression walked; empty: nothing kept */
    int changes;   /* sqlite3_total_changes() then: a write since makes the walk stale */
    int64_t *id;   /* the first n matches, ascending */
    size_t n, cap;
    int complete;    /* 1: id[] holds every match */
    int has_freq;    /* 1: a one-term walk that recorded every frequency and the totals */
    int64_t n_row;   /* rows in relic_fts (FTS5 xRowCount) */
    int64_t n_token; /* tokens in relic_fts (FTS5 xColumnTotalSize(-1)) */
    /* One-term walks (walk_term): the rows of each phrase of the expression, in phrase order,
     * and per match of id[] whether it is a title/creators match (DQ_RELIC_MATCH_TITLE). */
    phrase_rows_t *ph;
    size_t n_ph, cap_ph;
    unsigned char *title; /* per id[] when has_title */
    int has_title;
    int64_t freq_max; /* walk_term records frequencies while a phrase has at most this many
                         rows (more: the walk is too long to be scored exactly anyway) */
    int term_rc;      /* the first error of an xQueryPhrase in term_fn */
};

static void phrases_clear(struct relic_walk *w)
{
    for (size_t i = 0; i < w->n_ph; i++)
        w->ph[i].n = 0;
    w->n_ph = 0;
    w->has_title = 0;
}

void dq_sqlite_relic_walk_free(struct relic_walk *w)
{
    if (!w)
        return;
    dq_buf_free(&w->expr);
    free(w->id);
    for (size_t i = 0; i < w->cap_ph; i++) {
        free(w->ph[i].id);
        free(w->ph[i].freq);
        free(w->ph[i].title);
    }
    free(w->ph);
    free(w->title);
    free(w);
}

void dq_sqlite_relic_walk_clear(struct relic_walk *w)
{
    if (w)
        dq_buf_reset(&w->expr);
}

/* xQueryPhrase's callback in term_fn: one row of the phrase t->p (see walk_term). */
typedef struct {
    struct relic_walk *w;
    phrase_rows_t *p;
} term_ctx_t;

static int term_row(const Fts5ExtensionApi *api, Fts5Context *fts, void *ud)
{
    term_ctx_t *t = ud;
    phrase_rows_t *p = t->p;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 512;
        p->id = dq_xrealloc(p->id, p->cap * sizeof(*p->id));
        p->freq = dq_xrealloc(p->freq, p->cap * sizeof(*p->freq));
        p->title = dq_xrealloc(p->title, p->cap);
    }
    p->id[p->n] = api->xRowid(fts);
    /* the columns holding the phrase come in ascending order: the first says it all */
    Fts5PhraseIter it;
    int col = -1, rc = api->xPhraseFirstColumn(fts, 0, &it, &col);
    p->title[p->n] = col == 0 || col == 1;
    double f = 0.0;
    if (rc == SQLITE_OK && (int64_t)p->n <= t->w->freq_max) {
        /* bm25's frequency (fts5_aux.c fts5Bm25Function): the field weight of each instance,
         * summed in instance order */
        int n_inst = 0;
        rc = api->xInstCount(fts, &n_inst);
        for (int i = 0; rc == SQLITE_OK && i < n_inst; i++) {
            int ip, ic, io;
            rc = api->xInst(fts, i, &ip, &ic, &io);
            if (rc == SQLITE_OK)
                f += ic >= 0 && ic < 4 ? bm25_weight[ic] : 1.0;
        }
    }
    p->freq[p->n++] = f;
    return rc;
}

/* FTS5 auxiliary function dq_relic_term(relic_fts, walk pointer), called on the first match
 * of a one-term expression only (LIMIT 1): it reads the rows of every phrase of the
 * expression through xQueryPhrase into the walk (see walk_term), and the table totals bm25
 * reads. */
static void term_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_val,
                    sqlite3_value **val)
{
    struct relic_walk *w = n_val == 1 ? sqlite3_value_pointer(val[0], WALK_PTR) : NULL;
    if (!w) {
        sqlite3_result_error(ctx, "dq_relic_term: no walk", -1);
        return;
    }
    sqlite3_int64 rows = 0, tokens = 0;
    int rc = api->xRowCount(fts, &rows);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, -1, &tokens);
    w->n_row = rows;
    w->n_token = tokens;
    size_t n = (size_t)api->xPhraseCount(fts);
    if (n > w->cap_ph) {
        w->ph = dq_xrealloc(w->ph, n * sizeof(*w->ph));
        memset(w->ph + w->cap_ph, 0, (n - w->cap_ph) * sizeof(*w->ph));
        w->cap_ph = n;
    }
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        term_ctx_t t = {w, &w->ph[i]};
        w->ph[i].n = 0;
        rc = api->xQueryPhrase(fts, (int)i, &t, term_row);
    }
    w->n_ph = n;
    if (rc != SQLITE_OK)
        sqlite3_result_error_code(ctx, rc);
    else
        sqlite3_result_int(ctx, 1);
}

int dq_sqlite_relic_fts_register(sqlite3 *db, dq_err_t *err)
{
    fts5_api *api = dq_search_fts5_api(db);
    if (!api || api->xCreateFunction(api, "dq_relic_term", NULL, term_fn, NULL) != SQLITE_OK)
        return dq_err_set(err, DQ_EINTERNAL, 500, "catalog: registering dq_relic_term failed: %s",
                          sqlite3_errmsg(db));
    return 0;
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

/* The walk of a one-term plan (its phrases OR-ed: every row holding a phrase is a match):
 * the rows of each phrase read through xQueryPhrase from inside one auxiliary function call,
 * then their union in C. Stepping a MATCH statement costs about 70 ns a row at 500,000
 * relics (the virtual machine and the cursor around each rowid); a phrase query walks the
 * same doclist without them, and it answers three questions the statement could not: each
 * phrase's row count (bm25's IDF, so that bm25 is finished in C for several phrases too),
 * each row's phrase frequencies, and whether a phrase sits in the title or creators field
 * (the DQ_RELIC_MATCH_TITLE tier), which took a second walk of the same doclists. Frequencies
 * are recorded while a phrase has at most limit rows: beyond, the matches are too many to be
 * scored exactly. Multi-term plans keep FTS5's own AND walk, which skips through the longer
 * doclists instead of reading them whole. */
static int walk_term(dq_store_txn_t *txn, const dq_buf_t *expr, int64_t limit, struct relic_walk *w,
                     dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(txn,
                                  "SELECT dq_relic_term(relic_fts, ?2) FROM relic_fts"
                                  " WHERE relic_fts MATCH ?1 LIMIT 1",
                                  err);
    if (!st)
        return -1;
    phrases_clear(w);
    w->freq_max = limit;
    sqlite3_bind_text(st, 1, expr->data, (int)expr->len, SQLITE_STATIC);
    sqlite3_bind_pointer(st, 2, w, WALK_PTR, NULL);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        phrases_clear(w);
        /* the plan is made of quoted strings only, so this is the text's fault at most */
        return dq_err_set(err, DQ_EINVAL, 400, "search: %s", sqlite3_errmsg(txn->db));
    }
    if (r == SQLITE_DONE) /* nothing matches: term_fn never ran */
        phrases_clear(w);
    /* the union of the phrases' ascending rows, a k-way merge (k: the term's few phrases) */
    size_t total = 0, *at = dq_xcalloc(w->n_ph ? w->n_ph : 1, sizeof(*at));
    for (size_t i = 0; i < w->n_ph; i++)
        total += w->ph[i].n;
    if (total > w->cap) {
        w->cap = total;
        w->id = dq_xrealloc(w->id, w->cap * sizeof(*w->id));
    }
    w->title = dq_xrealloc(w->title, w->cap ? w->cap : 1);
    for (;;) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < w->n_ph; i++)
            if (at[i] < w->ph[i].n && w->ph[i].id[at[i]] < next)
                next = w->ph[i].id[at[i]];
        if (next == INT64_MAX)
            break;
        unsigned char title = 0;
        for (size_t i = 0; i < w->n_ph; i++)
            if (at[i] < w->ph[i].n && w->ph[i].id[at[i]] == next)
                title |= w->ph[i].title[at[i]++];
        w->id[w->n] = next;
        w->title[w->n++] = title;
    }
    free(at);
    w->complete = 1;
    w->has_title = 1;
    w->has_freq = (int64_t)w->n <= limit;
    return 0;
}

/* Walks expr (every term: DQ_RELIC_MATCH_ALL) for at most limit + 1 matches into the
 * transaction's walk; a one-term plan is walked whole (walk_term). */
static int walk(dq_store_txn_t *txn, const dq_search_plan_t *plan, const dq_buf_t *expr,
                int64_t limit, struct relic_walk **out, dq_err_t *err)
{
    struct relic_walk *w = txn->conn->walk;
    int r = SQLITE_ROW;
    if (!w)
        w = txn->conn->walk = dq_xcalloc(1, sizeof(*w));
    dq_buf_reset(&w->expr);
    w->n = 0;
    w->complete = w->has_freq = 0;
    phrases_clear(w);
    if (plan->n_terms == 1) {
        if (walk_term(txn, expr, limit, w, err) < 0)
            return -1;
        goto done;
    }
    sqlite3_stmt *st =
        dq_sq_stmt(txn, "SELECT rowid FROM relic_fts WHERE relic_fts MATCH ?1 ORDER BY rowid", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, expr->data, (int)expr->len, SQLITE_STATIC);
    while ((int64_t)w->n <= limit && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 512;
            w->id = dq_xrealloc(w->id, w->cap * sizeof(*w->id));
        }
        w->id[w->n++] = sqlite3_column_int64(st, 0);
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
done:
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

/* bm25(relic_fts, 10.0, 8.0, 2.0, 1.0) of every row of a complete one-term walk, the same
 * arithmetic as fts5Bm25Function in the same order (so the same doubles): nHit of phrase p,
 * the rows holding it anywhere, is its row count in the walk (every row holding a phrase of
 * the only term is a match). 1 when a row's length cannot be read (the caller then asks FTS5
 * for bm25 itself). */
static int walk_scores(dq_store_txn_t *txn, const struct relic_walk *w, double *score,
                       dq_err_t *err)
{
    const double k1 = 1.2, b = 0.75;
    sqlite3_stmt *st = dq_sq_stmt(txn, "SELECT sz FROM relic_fts_docsize WHERE id = ?1", err);
    if (!st)
        return -1;
    size_t n_ph = w->n_ph, *at = dq_xcalloc(n_ph ? n_ph : 1, sizeof(*at));
    double *idf = dq_xmalloc((n_ph ? n_ph : 1) * sizeof(*idf));
    double avgdl = (double)w->n_token / (double)w->n_row;
    for (size_t p = 0; p < n_ph; p++) { /* nHit: the rows holding phrase p */
        int64_t n_hit = (int64_t)w->ph[p].n;
        idf[p] = log((w->n_row - n_hit + 0.5) / (n_hit + 0.5));
        if (idf[p] <= 0.0)
            idf[p] = 1e-6;
    }
    int rc = 0;
    for (size_t i = 0; i < w->n; i++) {
        int64_t tokens;
        if (doc_tokens(st, w->id[i], &tokens) != 0) {
            rc = 1;
            break;
        }
        double d = (double)tokens, s = 0.0;
        for (size_t p = 0; p < n_ph; p++) { /* every phrase, in order, as bm25 sums them */
            const phrase_rows_t *ph = &w->ph[p];
            double f = 0.0;
            if (at[p] < ph->n && ph->id[at[p]] == w->id[i])
                f = ph->freq[at[p]++];
            s += idf[p] * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * d / avgdl)));
        }
        score[i] = -1.0 * s;
    }
    sqlite3_reset(st);
    free(at);
    free(idf);
    return rc;
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
    if (what == DQ_RELIC_MATCH_ALL && !w && plan->n_terms == 1 &&
        walk(txn, plan, &expr, scored ? INT64_MAX - 1 : -1, &w, err) < 0)
        goto out;
    if (what == DQ_RELIC_MATCH_TITLE && !scored) {
        /* the title tier of a one-term plan is known from its walk (walk_term) */
        dq_buf_t all = {0};
        render_what(plan, DQ_RELIC_MATCH_ALL, &all);
        struct relic_walk *wa = walk_of(txn, &all);
        dq_buf_free(&all);
        if (wa && wa->complete && wa->has_title) {
            for (size_t i = 0; i < wa->n; i++)
                if (wa->title[i] && cb(ud, wa->id[i], 0.0))
                    break;
            rc = 0;
            goto out;
        }
    }
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
        if (rc == 0 && w->complete && (int64_t)w->n <= limit) /* one-term walks are whole */
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
