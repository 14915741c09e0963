/*
 * store_pg_postings.c: exact posting bitmaps of relic_fts's most frequent lexemes, kept in
 * the server's memory (issue 15). A broad query ('山水': 153,025 of 500,000 relics) cost
 * PostgreSQL a visit to the heap row of every match (its GIN index gives row addresses; the
 * search needs seqs) and a text of 150,000 numbers: 55-60 ms of CPU on a quiet machine, more
 * than the 50 ms p95 target leaves. For a lexeme found in at least one relic in POST_DIV,
 * known from the column's statistics (pg_stats.most_common_elems, which ANALYZE keeps) or
 * from a one-lexeme query that found that many, the store keeps the set of relics holding it
 * as a bitmap over seqs (one for fts, one for fts_ab). A query's terms that are such a lexeme
 * are answered from the bitmaps, the other terms by PostgreSQL, and the two sets are
 * intersected here (a query is the AND of its terms: store_pg_text.c).
 *
 * Exact, not a cache of answers (nothing is keyed by a query: every query holding a kept
 * lexeme uses the same bitmap): the bitmaps are relic_fts's posting lists as of one audit
 * seq, `at`. Every committed relic write adds an audit row in its own transaction (store.h,
 * the change feed), so a read transaction whose snapshot has max audit seq `at` sees exactly
 * the relic_fts they were made from. A newer snapshot first applies the feed rows in between:
 * each relic they name is checked again against every kept lexeme, and a deleted one's seq
 * (relic_gone, migration 31, written with the deletion) is cleared; more than FOLLOW_MAX
 * rows (a bulk import), or a migration applied since, drops them all (made again when asked
 * for). An older snapshot (another thread moved them on) asks PostgreSQL as before.
 * Write transactions never use them.
 *
 * Thread safety: one mutex over everything here, held while the feed is applied and while a
 * bitmap is made or read (statements on the caller's connection, inside its transaction).
 */
#include "store_pg_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POST_MAX 64     /* bitmaps kept (the least recently used goes first) */
#define POST_DIV 32     /* frequent: in at least one relic in POST_DIV */
#define FOLLOW_MAX 1000 /* feed rows applied; more: every bitmap is dropped */
#define TERMS_MAX 64    /* terms looked at in one query; a longer one goes to PostgreSQL */

typedef struct {
    char *lex; /* the lexeme's bytes (owned) */
    size_t lex_len;
    int ab;         /* 1: of fts_ab, 0: of fts */
    uint64_t *bits; /* bit seq set: relic seq holds the lexeme */
    size_t n_words;
    uint64_t used; /* LRU tick */
} post_t;

typedef struct {
    char *lex; /* owned */
    size_t len;
    int ab;
} freq_t;

struct dq_pg_postings {
    pthread_mutex_t lock; /* guards everything below */
    int64_t at;           /* the audit seq every bitmap is exact at; -1: not yet known */
    int64_t schema;       /* the migrations applied then (a migration may rewrite relic_fts
                           * without an audit row: another process's, while this one serves) */
    post_t p[POST_MAX];
    size_t n_p;
    freq_t *freq; /* the frequent lexemes by the column statistics */
    size_t n_freq;
    int freq_loaded;
    uint64_t tick;
};

dq_pg_postings_t *dq_pg_postings_new(void)
{
    dq_pg_postings_t *ps = dq_xcalloc(1, sizeof(*ps));
    pthread_mutex_init(&ps->lock, NULL);
    ps->at = -1;
    return ps;
}

static void drop_all(dq_pg_postings_t *ps)
{
    for (size_t i = 0; i < ps->n_p; i++) {
        free(ps->p[i].lex);
        free(ps->p[i].bits);
    }
    ps->n_p = 0;
    for (size_t i = 0; i < ps->n_freq; i++)
        free(ps->freq[i].lex);
    free(ps->freq);
    ps->freq = NULL;
    ps->n_freq = 0;
    ps->freq_loaded = 0; /* the statistics may have changed too: read again */
}

void dq_pg_postings_free(dq_pg_postings_t *ps)
{
    if (!ps)
        return;
    drop_all(ps);
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

const char dq_pg_relic_gone_schema[] =
    "CREATE TABLE relic_gone (id text NOT NULL, seq bigint NOT NULL);"
    "CREATE INDEX relic_gone_id ON relic_gone (id);";

/* A relic_gone row serves a follow() from bitmaps older than its deletion's audit row. When
 * FOLLOW_MAX rows or more came after that row (audit seqs are gapless: store_pg.c), every such
 * follow has more than FOLLOW_MAX rows to apply and drops its bitmaps without reading
 * relic_gone: the row can go. Without this the table grew by a row per deletion forever.
 * Run with each batch of audit rows holding a deletion (dq_pg_audit_flush), in the deleting
 * transaction: what it keeps is the relic_gone rows of ids deleted in the last FOLLOW_MAX
 * audit rows, so one statement over a small table. A snapshot from before the commit still
 * sees the rows; and a row missing where a follow wanted it drops the bitmaps (gone.missing),
 * never gives a wrong answer. */
int dq_pg_relic_gone_prune(dq_store_txn_t *t, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_int(&p, FOLLOW_MAX);
    return dq_pg_run(t,
                     "DELETE FROM relic_gone g WHERE NOT EXISTS (SELECT 1 FROM audit a"
                     " WHERE a.object IN (g.id, 'relic/' || g.id) AND a.action = 'relic.delete'"
                     " AND a.seq > (SELECT coalesce(max(seq), 0) FROM audit) - $1)",
                     &p, NULL, err);
}

/* ---------------------------------------------------------------- bitmaps */

static void bit_set(post_t *p, int64_t seq)
{
    if (seq < 0)
        return;
    size_t w = (size_t)seq / 64;
    if (w >= p->n_words) {
        size_t n = DQ_MAX(w + 1, p->n_words + p->n_words / 4);
        p->bits = dq_xrealloc(p->bits, n * sizeof(*p->bits));
        memset(p->bits + p->n_words, 0, (n - p->n_words) * sizeof(*p->bits));
        p->n_words = n;
    }
    p->bits[w] |= (uint64_t)1 << (seq % 64);
}

static void bit_clear(post_t *p, int64_t seq)
{
    if (seq >= 0 && (size_t)seq / 64 < p->n_words)
        p->bits[seq / 64] &= ~((uint64_t)1 << (seq % 64));
}

static int bit_test(const uint64_t *bits, size_t n_words, int64_t seq)
{
    return seq >= 0 && (size_t)seq / 64 < n_words &&
           (bits[seq / 64] >> (seq % 64) & 1);
}

static post_t *find(dq_pg_postings_t *ps, const char *lex, size_t len, int ab)
{
    for (size_t i = 0; i < ps->n_p; i++)
        if (ps->p[i].ab == ab && ps->p[i].lex_len == len && memcmp(ps->p[i].lex, lex, len) == 0)
            return &ps->p[i];
    return NULL;
}

static int is_frequent(const dq_pg_postings_t *ps, const char *lex, size_t len, int ab)
{
    for (size_t i = 0; i < ps->n_freq; i++)
        if (ps->freq[i].ab == ab && ps->freq[i].len == len && memcmp(ps->freq[i].lex, lex, len) == 0)
            return 1;
    return 0;
}

/* A new bitmap for (lex, ab) from the ascending seqs[0..n), the least recently used one
 * making room. */
static post_t *keep(dq_pg_postings_t *ps, const char *lex, size_t len, int ab, const int64_t *seqs,
                    size_t n)
{
    post_t *p;
    if (ps->n_p < POST_MAX) {
        p = &ps->p[ps->n_p++];
    } else {
        p = &ps->p[0];
        for (size_t i = 1; i < ps->n_p; i++)
            if (ps->p[i].used < p->used)
                p = &ps->p[i];
        free(p->lex);
        free(p->bits);
    }
    memset(p, 0, sizeof(*p));
    p->lex = dq_xmalloc(len + 1);
    memcpy(p->lex, lex, len);
    p->lex[len] = '\0';
    p->lex_len = len;
    p->ab = ab;
    if (n)
        bit_set(p, seqs[n - 1]); /* sized once */
    for (size_t i = 0; i < n; i++)
        bit_set(p, seqs[i]);
    p->used = ++ps->tick;
    return p;
}

/* ---------------------------------------------------------------- the statistics */

static int freq_row(void *ud, PGresult *r)
{
    dq_pg_postings_t *ps = ud;
    const char *lex = dq_pg_col(r, 0, 1);
    if (!lex || !*lex)
        return 0;
    ps->freq = dq_xrealloc(ps->freq, (ps->n_freq + 1) * sizeof(*ps->freq));
    freq_t *f = &ps->freq[ps->n_freq++];
    f->len = (size_t)PQgetlength(r, 0, 1);
    f->lex = dq_xmalloc(f->len + 1);
    memcpy(f->lex, lex, f->len + 1);
    f->ab = dq_pg_col(r, 0, 0)[0] == 't';
    return 0;
}

/* The lexemes that ANALYZE found in at least one sampled row in POST_DIV, of fts and fts_ab
 * (none before the first ANALYZE). most_common_elem_freqs has three numbers more than
 * most_common_elems (minimum, maximum, empty rows): unnest pads the lexemes with NULLs. */
static int load_freq(dq_store_txn_t *t, dq_pg_postings_t *ps, dq_err_t *err)
{
    pg_params_t p = {0};
    char div[32];
    snprintf(div, sizeof(div), "%.6f", 1.0 / POST_DIV);
    dq_pg_p_text(&p, div);
    if (dq_pg_walk(t,
                   "SELECT s.attname = 'fts_ab', u.e FROM pg_stats s,"
                   " unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs)"
                   " AS u(e, f) WHERE s.schemaname = current_schema()"
                   " AND s.tablename = 'relic_fts' AND s.attname IN ('fts', 'fts_ab')"
                   " AND u.e IS NOT NULL AND u.f >= $1::real",
                   &p, freq_row, ps, err) < 0)
        return -1;
    ps->freq_loaded = 1;
    return 0;
}

/* ---------------------------------------------------------------- the change feed */

typedef struct {
    dq_buf_t ids;  /* array literal of relic ids */
    dq_buf_t gone; /* the same, of deleted relics */
    size_t n_rows, n_ids, n_gone;
} feed_t;

static int feed_row(void *ud, PGresult *r)
{
    feed_t *f = ud;
    const char *action = dq_pg_col(r, 0, 0), *object = dq_pg_col(r, 0, 1);
    f->n_rows++;
    if (!action || strncmp(action, "relic.", 6) != 0 || !object)
        return 0;
    if (strncmp(object, "relic/", 6) == 0)
        object += 6;
    if (strcmp(action, "relic.delete") == 0) {
        dq_pg_array_add(&f->gone, object);
        f->n_gone++;
    }
    dq_pg_array_add(&f->ids, object);
    f->n_ids++;
    return 0;
}

/* The seqs deleted relics had (relic_gone, migration 31), a row per (id, seq); a NULL seq
 * for an id without one (*missing set: the bitmaps cannot know what to forget). */
typedef struct {
    int64_t *seq;
    size_t n, cap;
    int missing;
} gone_t;

static int gone_row(void *ud, PGresult *r)
{
    gone_t *g = ud;
    if (PQgetisnull(r, 0, 0)) {
        g->missing = 1;
        return 0;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->seq = dq_xrealloc(g->seq, g->cap * sizeof(*g->seq));
    }
    g->seq[g->n++] = dq_pg_col_int(r, 0, 0);
    return 0;
}

typedef struct {
    int64_t *seq;
    size_t n, cap;
} seqs_t;

static int seq_row(void *ud, PGresult *r)
{
    seqs_t *s = ud;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->seq = dq_xrealloc(s->seq, s->cap * sizeof(*s->seq));
    }
    s->seq[s->n++] = dq_pg_col_int(r, 0, 0);
    return 0;
}

static void lexeme_tsquery(const char *lex, size_t len, dq_buf_t *out)
{
    dq_buf_putc(out, '\'');
    for (size_t k = 0; k < len; k++) {
        if (lex[k] == '\'' || lex[k] == '\\')
            dq_buf_putc(out, lex[k]);
        dq_buf_putc(out, lex[k]);
    }
    dq_buf_putc(out, '\'');
}

/* Brings the bitmaps from ps->at to snap (the caller's snapshot, newer): the relics the
 * feed names in between are checked again against every kept lexeme. */
static int follow(dq_store_txn_t *t, dq_pg_postings_t *ps, int64_t snap, dq_err_t *err)
{
    feed_t f = {0};
    gone_t gone = {0};
    seqs_t changed = {0}, now = {0};
    dq_buf_t arr = {0}, q = {0};
    int rc = -1;
    pg_params_t p = {0};
    dq_pg_p_int(&p, ps->at);
    dq_pg_p_int(&p, snap);
    dq_pg_p_int(&p, FOLLOW_MAX + 1);
    if (ps->n_p == 0) { /* nothing to keep up to date */
        ps->at = snap;
        return 0;
    }
    if (dq_pg_walk(t,
                   "SELECT action, object FROM audit WHERE seq > $1 AND seq <= $2"
                   " ORDER BY seq LIMIT $3",
                   &p, feed_row, &f, err) < 0)
        goto out;
    if (f.n_gone) {
        /* a deleted relic is forgotten by the seq it had (before migration 31 a deletion
         * dropped every bitmap); an id without one (written by no danqing) still does */
        dq_buf_puts(&f.gone, "}");
        pg_params_t a = {0};
        dq_pg_p_text(&a, f.gone.data);
        if (dq_pg_walk(t,
                       "SELECT g.seq FROM unnest($1::text[]) x LEFT JOIN relic_gone g"
                       " ON g.id = x",
                       &a, gone_row, &gone, err) < 0)
            goto out;
    }
    if (gone.missing || f.n_rows > FOLLOW_MAX) {
        drop_all(ps);
    } else if (f.n_ids) {
        for (size_t k = 0; k < ps->n_p; k++)
            for (size_t i = 0; i < gone.n; i++)
                bit_clear(&ps->p[k], gone.seq[i]);
        dq_buf_puts(&f.ids, "}");
        pg_params_t a = {0};
        dq_pg_p_text(&a, f.ids.data);
        if (dq_pg_walk(t, "SELECT seq FROM relics WHERE id = ANY($1::text[])", &a, seq_row,
                       &changed, err) < 0)
            goto out;
        dq_buf_putc(&arr, '{');
        for (size_t i = 0; i < changed.n; i++)
            dq_buf_printf(&arr, i ? ",%lld" : "%lld", (long long)changed.seq[i]);
        dq_buf_putc(&arr, '}');
        for (size_t k = 0; k < ps->n_p; k++) {
            post_t *pk = &ps->p[k];
            pg_params_t b = {0};
            dq_buf_reset(&q);
            lexeme_tsquery(pk->lex, pk->lex_len, &q);
            dq_pg_p_text(&b, arr.data);
            dq_pg_p_text(&b, q.data);
            now.n = 0;
            /* ts_match_vq is @@ as a function: no index condition, the rows by primary key */
            if (dq_pg_walk(t,
                           pk->ab ? "SELECT seq FROM relic_fts WHERE seq = ANY($1::bigint[])"
                                    " AND ts_match_vq(fts_ab, $2::tsquery)"
                                  : "SELECT seq FROM relic_fts WHERE seq = ANY($1::bigint[])"
                                    " AND ts_match_vq(fts, $2::tsquery)",
                           &b, seq_row, &now, err) < 0)
                goto out;
            for (size_t i = 0; i < changed.n; i++)
                bit_clear(pk, changed.seq[i]);
            for (size_t i = 0; i < now.n; i++)
                bit_set(pk, now.seq[i]);
        }
    }
    ps->at = snap;
    rc = 0;
out:
    if (rc < 0)
        drop_all(ps); /* half applied: start again */
    dq_buf_free(&f.ids);
    dq_buf_free(&f.gone);
    free(gone.seq);
    dq_buf_free(&arr);
    dq_buf_free(&q);
    free(changed.seq);
    free(now.seq);
    return rc;
}

/* ---------------------------------------------------------------- matching */

/* Reads the quoted lexeme at q[*i] (q[0..n)) into lex (tsquery quoting undone: '' and \x),
 * followed by a NUL, and moves *i past its closing quote; 0 when there is none there. */
static int quoted(const char *q, size_t n, size_t *i, dq_buf_t *lex)
{
    size_t k = *i, start = lex->len;
    if (k >= n || q[k] != '\'')
        return 0;
    for (k++; k < n; k++) {
        if (q[k] == '\'') {
            if (k + 1 < n && q[k + 1] == '\'') {
                dq_buf_putc(lex, '\'');
                k++;
                continue;
            }
            break;
        }
        if (q[k] == '\\' && k + 1 < n)
            k++;
        dq_buf_putc(lex, q[k]);
    }
    if (k >= n || lex->len == start)
        return 0;
    dq_buf_putc(lex, '\0');
    *i = k + 1;
    return 1;
}

/* When the term text q[0..n) is an OR of quoted lexemes in parentheses ("('山水')",
 * "('qiushan' | '\1qiu\1shan')"), the lexemes' bytes, each followed by a NUL, into lex, and
 * their number; else 0. */
static int term_lexemes(const char *q, size_t n, dq_buf_t *lex)
{
    size_t i = 1;
    int k = 0;
    dq_buf_reset(lex);
    if (n < 2 || q[0] != '(' || q[n - 1] != ')')
        return 0;
    while (i < n - 1) {
        if (k) { /* " | " between lexemes */
            if (i + 3 > n - 1 || memcmp(q + i, " | ", 3) != 0)
                return 0;
            i += 3;
        }
        if (!quoted(q, n - 1, &i, lex))
            return 0;
        k++;
    }
    return k;
}

/* When q[0..n) is an OR of chains of quoted lexemes ("('\2xs' <-> '\2sx' <-> '\2xl')", the
 * phrase half of a split query: store_pg_text.c, dq_pg_tsquery_split), the lexemes into lex
 * as term_lexemes puts them, and in *ends the count of lexemes after each chain (at most
 * max chains); the number of chains, else 0. */
static int chain_lexemes(const char *q, size_t n, dq_buf_t *lex, int *ends, int max)
{
    size_t i = 0;
    int c = 0, k = 0;
    dq_buf_reset(lex);
    while (i < n) {
        if (c && (i + 3 > n || memcmp(q + i, " | ", 3) != 0))
            return 0;
        if (c)
            i += 3;
        if (c == max || i >= n || q[i++] != '(')
            return 0;
        for (int first = 1;; first = 0) {
            if (!first) {
                if (i + 5 > n || memcmp(q + i, " <-> ", 5) != 0)
                    return 0;
                i += 5;
            }
            if (!quoted(q, n, &i, lex))
                return 0;
            k++;
            if (i < n && q[i] == ')')
                break;
        }
        i++; /* ')' */
        ends[c++] = k;
    }
    return c;
}

/* The audit seq and the count of schema_version rows of t's snapshot (a read transaction):
 * both as relic_index_sync read them in this transaction (dq_pg_audit_max_seq, one
 * statement), else read now. */
static int snapshot_seq(dq_store_txn_t *t, int64_t *snap, int64_t *schema, dq_err_t *err)
{
    if (!t->has_audit_at && dq_pg_audit_max_seq(t, snap, err) < 0)
        return -1;
    *snap = t->audit_at;
    *schema = t->schema_at;
    return 0;
}

/* Appends the set bits of bits[0..n_words) to *out as seqs, ascending. */
static void put_seqs(const uint64_t *bits, size_t n_words, int64_t **out, size_t *n, size_t *cap)
{
    for (size_t w = 0; w < n_words; w++)
        for (uint64_t v = bits[w]; v; v &= v - 1) {
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 1024;
                *out = dq_xrealloc(*out, *cap * sizeof(**out));
            }
            (*out)[(*n)++] = (int64_t)(w * 64 + (size_t)__builtin_ctzll(v));
        }
}

/* Sets the bits of the ascending seqs[0..n) in the bitmap *w / *n_w (grown as needed). */
static void set_seqs(uint64_t **w, size_t *n_w, const int64_t *seqs, size_t n)
{
    if (n && seqs[n - 1] >= 0 && (size_t)seqs[n - 1] / 64 >= *n_w) {
        size_t m = (size_t)seqs[n - 1] / 64 + 1;
        *w = dq_xrealloc(*w, m * sizeof(**w));
        memset(*w + *n_w, 0, (m - *n_w) * sizeof(**w));
        *n_w = m;
    }
    for (size_t i = 0; i < n; i++)
        if (seqs[i] >= 0)
            (*w)[seqs[i] / 64] |= (uint64_t)1 << (seqs[i] % 64);
}

/* Locks ps and brings it to t's snapshot: 1 (locked) when the bitmaps are exact for it,
 * 0 (unlocked) when they cannot be (an older snapshot than theirs: PostgreSQL answers),
 * -1 (unlocked) with err. */
static int ready(dq_store_txn_t *t, dq_pg_postings_t *ps, dq_err_t *err)
{
    int64_t snap = 0, schema = 0;
    if (snapshot_seq(t, &snap, &schema, err) < 0)
        return -1;
    DQ_ASSERT(pthread_mutex_lock(&ps->lock) == 0);
    if (ps->at >= 0 && schema != ps->schema) { /* migrated since: start again */
        drop_all(ps);
        ps->at = -1;
    }
    if (ps->at < 0) {
        ps->at = snap;
        ps->schema = schema;
    }
    if ((ps->at < snap && follow(t, ps, snap, err) < 0) ||
        (ps->at == snap && !ps->freq_loaded && load_freq(t, ps, err) < 0)) {
        pthread_mutex_unlock(&ps->lock);
        return -1;
    }
    if (ps->at != snap) {
        pthread_mutex_unlock(&ps->lock);
        return 0;
    }
    return 1;
}

int dq_pg_postings_match(dq_store_txn_t *t, const dq_search_plan_t *plan, int ab, int64_t **out,
                         size_t *n, size_t *cap, dq_err_t *err)
{
    dq_pg_postings_t *ps = t->store->postings;
    dq_buf_t term[TERMS_MAX], lex[TERMS_MAX], rest = {0}, q = {0};
    int nl[TERMS_MAX], n_terms = plan->n_terms, any = 0, rc = 0, locked = 0, n_ans = 0;
    uint64_t *and = NULL, *or = NULL;
    size_t n_and = 0, n_or = 0;
    int64_t *s = NULL, cnt = -1;
    size_t ns = 0, cs = 0;
    if (t->write || !ps || n_terms <= 0 || n_terms > TERMS_MAX)
        return 0;
    memset(term, 0, sizeof(term));
    memset(lex, 0, sizeof(lex));
    for (int i = 0; i < n_terms; i++) {
        dq_pg_tsquery_term(t->search, plan, i, &term[i]);
        if (!term[i].len) /* no tokens: nothing matches (dq_pg_tsquery says so first) */
            goto out;
        nl[i] = term_lexemes(term[i].data, term[i].len, &lex[i]);
        any |= nl[i] > 0;
    }
    if (!any)
        goto out;
    int ok = ready(t, ps, err);
    if (ok <= 0) {
        rc = ok;
        goto out;
    }
    locked = 1;
    /* Each term that is an OR of lexemes is answered here when every lexeme has a bitmap (one
     * is made for a lexeme the statistics call frequent). A query of one such term is
     * answered here anyway, a lexeme at a time: that costs what its own query costs, and a
     * lexeme found that often gets its bitmap. The answered terms' bitmaps are and-ed into
     * `and` (their own OR in `or` first). */
    for (int i = 0; i < n_terms; i++) {
        if (!nl[i])
            continue;
        int whole = 1;
        n_or = 0;
        const char *L = lex[i].data;
        for (int k = 0; k < nl[i] && whole; k++, L += strlen(L) + 1) {
            size_t len = strlen(L);
            post_t *p = find(ps, L, len, ab);
            if (!p && (is_frequent(ps, L, len, ab) || n_terms == 1)) {
                dq_buf_reset(&q);
                lexeme_tsquery(L, len, &q);
                ns = 0;
                if (dq_pg_relic_plain(t, ab, q.data, &s, &ns, &cs, err) < 0 ||
                    (cnt < 0 && dq_pg_int(t, "SELECT value FROM dq_counters WHERE name = 'relics'",
                                          NULL, &cnt, err) < 0)) {
                    rc = -1;
                    goto out;
                }
                if (is_frequent(ps, L, len, ab) || (int64_t)ns >= DQ_MAX(2, cnt / POST_DIV))
                    p = keep(ps, L, len, ab, s, ns);
                else /* rare: its rows only (n_terms == 1) */
                    set_seqs(&or, &n_or, s, ns);
            }
            if (p) {
                p->used = ++ps->tick;
                if (p->n_words > n_or) {
                    or = dq_xrealloc(or, p->n_words * sizeof(*or));
                    memset(or + n_or, 0, (p->n_words - n_or) * sizeof(*or));
                    n_or = p->n_words;
                }
                for (size_t w = 0; w < p->n_words; w++)
                    or[w] |= p->bits[w];
            } else if (n_terms > 1) {
                whole = 0; /* PostgreSQL answers this term */
            }
        }
        if (!whole)
            continue;
        if (n_ans++ == 0) {
            free(and);
            and = or;
            n_and = n_or;
            or = NULL;
            n_or = 0;
        } else {
            n_and = DQ_MIN(n_and, n_or);
            for (size_t w = 0; w < n_and; w++)
                and[w] &= or[w];
        }
        nl[i] = -1; /* answered here */
    }
    pthread_mutex_unlock(&ps->lock);
    locked = 0;
    if (!n_ans)
        goto out;
    for (int i = 0; i < n_terms; i++) {
        if (nl[i] < 0)
            continue;
        if (rest.len)
            dq_buf_puts(&rest, " & ");
        dq_buf_append(&rest, term[i].data, term[i].len);
    }
    *n = 0;
    if (rest.len) { /* the other terms by PostgreSQL, then only what the bitmaps hold */
        if (dq_pg_relic_plain(t, ab, rest.data, out, n, cap, err) < 0) {
            rc = -1;
            goto out;
        }
        size_t w = 0;
        for (size_t i = 0; i < *n; i++)
            if (bit_test(and, n_and, (*out)[i]))
                (*out)[w++] = (*out)[i];
        *n = w;
    } else {
        put_seqs(and, n_and, out, n, cap);
    }
    rc = 1;
out:
    if (locked)
        pthread_mutex_unlock(&ps->lock);
    for (int i = 0; i < n_terms && i < TERMS_MAX; i++) {
        dq_buf_free(&term[i]);
        dq_buf_free(&lex[i]);
    }
    dq_buf_free(&rest);
    dq_buf_free(&q);
    free(and);
    free(or);
    free(s);
    return rc;
}

/* ---------------------------------------------------------------- phrase candidates */

#define CHAINS_MAX 16 /* chains in one phrase half; more: PostgreSQL's index */

int dq_pg_postings_chains(dq_store_txn_t *t, const char *q, size_t len, int64_t **out, size_t *n,
                          size_t *cap, dq_err_t *err)
{
    dq_pg_postings_t *ps = t->store->postings;
    dq_buf_t lex = {0}, tq = {0};
    int ends[CHAINS_MAX], rc = 0, locked = 0, n_chains;
    uint64_t *and = NULL, *or = NULL;
    size_t n_and = 0, n_or = 0, ns = 0, cs = 0;
    int64_t *s = NULL;
    if (t->write || !ps || !(n_chains = chain_lexemes(q, len, &lex, ends, CHAINS_MAX)))
        goto out;
    int ok = ready(t, ps, err);
    if (ok <= 0) {
        rc = ok;
        goto out;
    }
    locked = 1;
    const char *L = lex.data;
    for (int c = 0, k = 0; c < n_chains; c++) {
        /* a row holds the chain only where it holds each of its lexemes: their AND */
        for (int first = 1; k < ends[c]; k++, first = 0, L += strlen(L) + 1) {
            size_t l = strlen(L);
            post_t *p = find(ps, L, l, 0);
            if (!p && is_frequent(ps, L, l, 0)) {
                dq_buf_reset(&tq);
                lexeme_tsquery(L, l, &tq);
                ns = 0;
                if (dq_pg_relic_plain(t, 0, tq.data, &s, &ns, &cs, err) < 0) {
                    rc = -1;
                    goto out;
                }
                p = keep(ps, L, l, 0, s, ns);
            }
            if (!p) /* a rare lexeme: PostgreSQL's index finds its few rows as cheaply */
                goto out;
            p->used = ++ps->tick;
            if (first) {
                and = dq_xrealloc(and, (p->n_words ? p->n_words : 1) * sizeof(*and));
                memcpy(and, p->bits, p->n_words * sizeof(*and));
                n_and = p->n_words;
            } else {
                n_and = DQ_MIN(n_and, p->n_words);
                for (size_t w = 0; w < n_and; w++)
                    and[w] &= p->bits[w];
            }
        }
        if (n_and > n_or) {
            or = dq_xrealloc(or, n_and * sizeof(*or));
            memset(or + n_or, 0, (n_and - n_or) * sizeof(*or));
            n_or = n_and;
        }
        for (size_t w = 0; w < n_and; w++)
            or[w] |= and[w];
    }
    pthread_mutex_unlock(&ps->lock);
    locked = 0;
    *n = 0;
    put_seqs(or, n_or, out, n, cap);
    rc = 1;
out:
    if (locked)
        pthread_mutex_unlock(&ps->lock);
    dq_buf_free(&lex);
    dq_buf_free(&tq);
    free(and);
    free(or);
    free(s);
    return rc;
}
