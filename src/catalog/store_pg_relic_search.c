/*
 * store_pg_relic_search.c: the PostgreSQL backend's half of relic search, the twin of
 * store_sqlite_relic_search.c: it renders a query plan into a tsquery (store_pg_text.c) and
 * runs it against relic_fts's GIN index, answering which relics match (with a score when
 * asked) and their snippets. The match sets are FTS5's (store_pg_text.c says why); the score
 * is ts_rank with the field weights bm25 gets on SQLite (title 1.0, creators 0.8, body 0.2,
 * description 0.1), so the exact relevance order among matches can differ between the
 * backends while the tiers above it (relic_search.c) and everything else are the same.
 */
#include "store_pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A plan's matches come back as one row, their seqs joined by commas (string_agg): a
 * broad query matches a third of the collection, and one result per row (single-row mode)
 * cost more than the search itself. Scored matches (at most RANK_EXACT_MAX of the plain
 * kind, relic_search.c, or a title tier) keep one row per match. */
static int cmp_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int64_t seq;
    double sc;
} seqsc_t;

static int cmp_seqsc(const void *a, const void *b)
{
    const seqsc_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends the seqs of r's one row (joined by commas; with sc also the scores, "" for none,
 * in column 1) to *out / *n / *cap, and (when sc) the scores to *sc / *cap_sc, NAN where
 * none. */
static void take_seqs(PGresult *r, int64_t **out, size_t *n, size_t *cap, double **sc,
                      size_t *cap_sc)
{
    const char *s = dq_pg_col(r, 0, 0), *f = sc ? dq_pg_col(r, 0, 1) : NULL;
    while (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
            break;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 1024;
            *out = dq_xrealloc(*out, *cap * sizeof(**out));
        }
        if (sc && *n == *cap_sc) {
            *cap_sc = *cap;
            *sc = dq_xrealloc(*sc, *cap_sc * sizeof(**sc));
        }
        if (sc) { /* the score list runs beside the seqs: a number, or "" for none */
            char *fe = (char *)f;
            double x = f && *f && *f != ',' ? strtod(f, &fe) : NAN;
            (*sc)[*n] = fe == f ? NAN : x;
            f = fe && *fe == ',' ? fe + 1 : fe;
        }
        (*out)[(*n)++] = v;
        s = *end == ',' ? end + 1 : end;
    }
}

/* Sorts out[0..*n) (and sc beside, when not NULL) by seq; with dups, a seq that came twice
 * (the two halves of a split query, UNION ALL) is kept once, with the score either has. */
static void sort_seqs(int64_t *out, size_t *n, double *sc, int dups)
{
    /* The heap's order, which is seq order until rows are updated: sorted here, where it is
     * cheap, rather than by an ORDER BY that spilled 150,000 rows to disk (work_mem). */
    for (size_t i = 1; i < *n; i++)
        if (out[i] < out[i - 1]) {
            if (sc) {
                seqsc_t *e = dq_xmalloc(*n * sizeof(*e));
                for (size_t k = 0; k < *n; k++)
                    e[k] = (seqsc_t){out[k], sc[k]};
                qsort(e, *n, sizeof(*e), cmp_seqsc);
                for (size_t k = 0; k < *n; k++)
                    out[k] = e[k].seq, sc[k] = e[k].sc;
                free(e);
            } else {
                qsort(out, *n, sizeof(*out), cmp_seq);
            }
            break;
        }
    if (!dups)
        return;
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (w > 0 && out[i] == out[w - 1]) {
            if (sc && isnan(sc[w - 1]))
                sc[w - 1] = sc[i];
            continue;
        }
        if (sc)
            sc[w] = sc[i];
        out[w++] = out[i];
    }
    *n = w;
}

/* Runs sql (one row: the seqs joined by commas; with sc also the scores, "" for none) into
 * *out / *n / *cap, ascending; *sc (when sc) a new array of the scores, NAN where none.
 * tsq2: NULL, or the second half of a split query (dq_pg_tsquery_split: sql takes $2),
 * whose rows may come twice (kept once, with the score either has); rq: $3 of a split query
 * with scores (all_split_rank_sql). */
static int seqs_of(dq_store_txn_t *t, const char *sql, const char *tsq, const char *tsq2,
                   const char *rq, int64_t **out, size_t *n, size_t *cap, double **sc,
                   dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, tsq);
    if (tsq2)
        dq_pg_p_text(&p, tsq2);
    if (rq)
        dq_pg_p_text(&p, rq);
    PGresult *r = dq_pg_exec(t, sql, &p, err);
    if (!r)
        return -1;
    size_t cap_sc = 0;
    *n = 0;
    if (sc)
        *sc = NULL;
    take_seqs(r, out, n, cap, sc, &cap_sc);
    PQclear(r);
    sort_seqs(*out, n, sc ? *sc : NULL, tsq2 != NULL);
    return 0;
}

/* The plain match of every term: GIN answers a query of lexemes alone exactly; phrases
 * (<->) are rechecked against the stored positions. */
static const char all_sql[] = "SELECT string_agg(seq::text, ',') FROM relic_fts"
                              " WHERE fts @@ $1::tsquery";
/* The title and creators tier: the same query without weights on fts_ab (migration 18),
 * the title and creators lexemes alone, which its own GIN index answers without reading
 * every candidate's whole tsvector (a weight-restricted query on fts needed that recheck). */
static const char title_sql[] = "SELECT string_agg(seq::text, ',') FROM relic_fts"
                                " WHERE fts_ab @@ $1::tsquery";
/* The same two, of a query split in its exact and phrased alternatives (one term): GIN
 * answers the first alone, only the second's candidates are rechecked (xsxl at 500,000
 * relics: 80 -> 9 ms). Duplicates are dropped in seqs_of, after its sort. */
static const char all_split_sql[] =
    "SELECT string_agg(seq::text, ',') FROM (SELECT seq FROM relic_fts WHERE fts @@ $1::tsquery"
    " UNION ALL SELECT seq FROM relic_fts WHERE fts @@ $2::tsquery) m";
/* The same split, ranking the phrase half's matches as the ranked walk would (relevance, at
 * most RANK_EXACT_MAX matches: relic_search.c): its recheck has just read their tsvectors,
 * so ts_rank ($3, the query without pair lexemes) costs little more there, where the walk by
 * primary key read them again (xsxl at 500,000 relics: 1,880 matches, 40-60 ms at load 8). */
static const char all_split_rank_sql[] =
    "SELECT string_agg(seq::text, ','), string_agg(coalesce(r::text, ''), ',') FROM ("
    "SELECT seq, NULL::real AS r FROM relic_fts WHERE fts @@ $1::tsquery"
    " UNION ALL SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $3::tsquery) FROM relic_fts"
    " WHERE fts @@ $2::tsquery) m";
static const char title_split_sql[] =
    "SELECT string_agg(seq::text, ',') FROM (SELECT seq FROM relic_fts WHERE fts_ab @@ $1::tsquery"
    " UNION ALL SELECT seq FROM relic_fts WHERE fts_ab @@ $2::tsquery) m";

/* The ranked split query once more, with the phrase half's candidates known: the rows that
 * hold every lexeme of a chain, from the posting bitmaps (dq_pg_postings_chains), given by
 * primary key ($4) instead of by the GIN index, so that they can be cut in two. xsxl at
 * 500,000 relics: 5,598 candidates whose positions PostgreSQL reads from TOAST (two chunks
 * each), 1,880 of them match; 31 ms of the statement's 53 ms of CPU is that recheck and 8 ms
 * ranking. beside_rank_sql is the second half's, on a second connection with the same
 * snapshot (dq_pg_beside_begin), run at the same time: the statement's wall time halves at
 * no more CPU (a PostgreSQL parallel worker costs ~15 ms of CPU to start, measured). ts_match_vq
 * is @@ as a function, so the plan is the primary key's. */
static const char split_rank_sql[] =
    "SELECT string_agg(seq::text, ','), string_agg(coalesce(r::text, ''), ',') FROM ("
    "SELECT seq, NULL::real AS r FROM relic_fts WHERE fts @@ $1::tsquery"
    " UNION ALL SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $3::tsquery) FROM relic_fts"
    " WHERE seq = ANY($4::bigint[]) AND ts_match_vq(fts, $2::tsquery)) m";
static const char beside_rank_sql[] =
    "SELECT string_agg(seq::text, ','), string_agg(r::text, ',') FROM ("
    "SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $2::tsquery) AS r FROM relic_fts"
    " WHERE seq = ANY($3::bigint[]) AND ts_match_vq(fts, $1::tsquery)) m";
/* The same without ranks (a date or accession order: the plain walk). */
static const char split_sql[] =
    "SELECT string_agg(seq::text, ',') FROM (SELECT seq FROM relic_fts WHERE fts @@ $1::tsquery"
    " UNION ALL SELECT seq FROM relic_fts WHERE seq = ANY($3::bigint[])"
    " AND ts_match_vq(fts, $2::tsquery)) m";
static const char beside_sql[] = "SELECT string_agg(seq::text, ',') FROM relic_fts"
                                 " WHERE seq = ANY($2::bigint[]) AND ts_match_vq(fts, $1::tsquery)";
/* Fewer candidates: one statement (a second connection's round trips cost more than half
 * of their recheck). More than CANDS_MAX: the GIN index, since a probe by primary key per
 * row costs more than its bitmap heap scan over most of the table's pages. */
#define SPLIT_MIN 256
#define CANDS_MAX 50000

static void seq_array(dq_buf_t *b, const int64_t *s, size_t n)
{
    dq_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++)
        dq_buf_printf(b, i ? ",%lld" : "%lld", (long long)s[i]);
    dq_buf_putc(b, '}');
}

/* split_rank_sql for the split query (e, ph; rq the query for the ranks) into *out / *n /
 * *cap and *sc, as seqs_of fills them (sc NULL: split_sql, no ranks; rq unused): 1 when run,
 * 0 when the bitmaps do not know the candidates (the caller runs all_split_rank_sql or
 * all_split_sql), -1 with err. */
static int split_beside(dq_store_txn_t *t, const char *e, const char *ph, const char *rq,
                        int64_t **out, size_t *n, size_t *cap, double **sc, dq_err_t *err)
{
    int64_t *cand = NULL;
    size_t nc = 0, cap_c = 0, cap_sc = 0;
    dq_store_txn_t *b = NULL;
    dq_buf_t ids = {0}, ids_b = {0};
    PGresult *r = NULL;
    int rc = dq_pg_postings_chains(t, ph, strlen(ph), &cand, &nc, &cap_c, err);
    if (rc <= 0 || nc > CANDS_MAX) {
        free(cand);
        return rc < 0 ? -1 : 0;
    }
    rc = -1;
    if (nc >= SPLIT_MIN && dq_pg_beside_begin(t, &b, err) < 0)
        goto out;
    size_t half = b ? nc / 2 : nc; /* this connection: cand[0, half), the helper the rest */
    seq_array(&ids, cand, half);
    if (b) {
        pg_params_t pb = {0};
        seq_array(&ids_b, cand + half, nc - half);
        dq_pg_p_text(&pb, ph);
        if (sc)
            dq_pg_p_text(&pb, rq);
        dq_pg_p_text(&pb, ids_b.data);
        if (dq_pg_send(b, sc ? beside_rank_sql : beside_sql, &pb, err) < 0)
            goto out;
    }
    pg_params_t p = {0};
    dq_pg_p_text(&p, e);
    dq_pg_p_text(&p, ph);
    if (sc)
        dq_pg_p_text(&p, rq);
    dq_pg_p_text(&p, ids.data);
    if (!(r = dq_pg_exec(t, sc ? split_rank_sql : split_sql, &p, err)))
        goto out;
    *n = 0;
    if (sc)
        *sc = NULL;
    take_seqs(r, out, n, cap, sc, &cap_sc);
    PQclear(r);
    r = NULL;
    if (b) {
        if (!(r = dq_pg_recv(b, err)))
            goto out;
        take_seqs(r, out, n, cap, sc, &cap_sc);
    }
    sort_seqs(*out, n, sc ? *sc : NULL, 1);
    rc = 1;
out:
    PQclear(r);
    dq_pg_beside_end(b);
    if (rc < 0 && sc) {
        free(*sc);
        *sc = NULL;
    }
    free(cand);
    dq_buf_free(&ids);
    dq_buf_free(&ids_b);
    return rc;
}

int dq_pg_relic_plain(dq_store_txn_t *t, int ab, const char *q, int64_t **out, size_t *n,
                      size_t *cap, dq_err_t *err)
{
    return seqs_of(t, ab ? title_sql : all_sql, q, NULL, NULL, out, n, cap, NULL, err);
}

/* The plain matches of plan (ALL, or TITLE on fts_ab) whose query text is q: the frequent
 * lexemes' terms from the posting bitmaps (store_pg_postings.c) where they can answer. sc
 * (NULL: not asked): *sc gets the ranked walk's scores of the matches a split query's phrase
 * half found (all_split_rank_sql; NAN for the others), or NULL. */
static int plain_seqs(dq_store_txn_t *t, const dq_search_plan_t *plan, int title, const char *q,
                      int64_t **out, size_t *n, size_t *cap, double **sc, dq_err_t *err)
{
    dq_buf_t e = {0}, ph = {0}, rq = {0};
    if (sc)
        *sc = NULL;
    int rc = dq_pg_postings_match(t, plan, title, out, n, cap, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (dq_pg_tsquery_split(t->search, plan, &e, &ph)) {
        if (sc && !title) {
            dq_pg_tsquery(t->search, plan, DQ_RELIC_MATCH_ALL, &rq);
            rc = split_beside(t, e.data, ph.data, rq.data, out, n, cap, sc, err);
            if (rc == 0)
                rc = seqs_of(t, all_split_rank_sql, e.data, ph.data, rq.data, out, n, cap, sc,
                             err);
            else if (rc > 0)
                rc = 0;
        } else {
            rc = title ? 0 : split_beside(t, e.data, ph.data, NULL, out, n, cap, NULL, err);
            if (rc == 0)
                rc = seqs_of(t, title ? title_split_sql : all_split_sql, e.data, ph.data, NULL,
                             out, n, cap, NULL, err);
            else if (rc > 0)
                rc = 0;
        }
    } else {
        rc = seqs_of(t, title ? title_sql : all_sql, q, NULL, NULL, out, n, cap, NULL, err);
    }
    dq_buf_free(&e);
    dq_buf_free(&ph);
    dq_buf_free(&rq);
    return rc;
}

typedef struct {
    dq_relic_match_cb cb;
    void *ud;
    int scored;
} match_t;

static int match_row(void *ud, PGresult *r)
{
    match_t *m = ud;
    double score = m->scored ? strtod(PQgetvalue(r, 0, 1), NULL) : 0.0;
    return m->cb(m->ud, dq_pg_col_int(r, 0, 0), score);
}

/* Scores of the ranked walk into the matches' score array (rows in seq order, all among
 * the matches). */
typedef struct {
    const int64_t *seq;
    double *sc;
    size_t n, i;
} fill_t;

static int fill_row(void *ud, PGresult *r)
{
    fill_t *f = ud;
    int64_t seq = dq_pg_col_int(r, 0, 0);
    while (f->i < f->n && f->seq[f->i] < seq)
        f->i++;
    if (f->i < f->n && f->seq[f->i] == seq)
        f->sc[f->i] = strtod(PQgetvalue(r, 0, 1), NULL);
    return 0;
}

/* The boost phrases among the plan's matches, when match_bound found those in this snapshot
 * (t->m_seqs) and the boost query has phrases: the matches are read by primary key in
 * ascending chunks, each checked against the boost query, until cb stops the walk. A phrase
 * makes PostgreSQL read every candidate's tsvector from TOAST (issue 15: "wind in the pines"
 * at 500,000 relics, 19,000 candidates, 580 ms), while relic_search.c's boost walk stops at
 * the first row past the title tier's prefix (tier_prefix), a quarter of them there. Rows
 * outside the matches are left out: every caller looks the boost set up among them.
 * 1 when the walk ran here (rc in *rc), 0 when the bitmap walk should run instead. */
#define BOOST_CHUNK_MAX 100000 /* more matches: the bitmap walk costs less than probes */

typedef struct {
    dq_relic_match_cb cb;
    void *ud;
    int stopped;
} chunk_t;

static int chunk_row(void *ud, PGresult *r)
{
    chunk_t *c = ud;
    if (c->cb(c->ud, dq_pg_col_int(r, 0, 0), 0.0) != 0) {
        c->stopped = 1;
        return 1;
    }
    return 0;
}

static int boost_chunks(dq_store_txn_t *t, const dq_search_plan_t *plan, const char *q,
                        dq_relic_match_cb cb, void *ud, int *rc, dq_err_t *err)
{
    dq_buf_t all = {0}, ids = {0};
    if (!strchr(q, '<') || t->n_m > BOOST_CHUNK_MAX || !t->m_query.len)
        return 0;
    dq_pg_tsquery(t->search, plan, DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS, &all);
    int known = all.len == t->m_query.len && memcmp(all.data, t->m_query.data, all.len) == 0;
    dq_buf_free(&all);
    if (!known)
        return 0;
    chunk_t c = {cb, ud, 0};
    *rc = 0;
    /* ts_match_vq is the function behind @@: as a function it is no index condition, so
     * the plan is the primary key's and the check runs on those rows only */
    for (size_t off = 0, k = 128; *rc == 0 && !c.stopped && off < t->n_m; off += k, k *= 2) {
        size_t end = DQ_MIN(t->n_m, off + k);
        dq_buf_reset(&ids);
        dq_buf_putc(&ids, '{');
        for (size_t i = off; i < end; i++)
            dq_buf_printf(&ids, i > off ? ",%lld" : "%lld", (long long)t->m_seqs[i]);
        dq_buf_putc(&ids, '}');
        pg_params_t p = {0};
        dq_pg_p_text(&p, q);
        dq_pg_p_text(&p, ids.data);
        *rc = dq_pg_walk(t,
                         "SELECT seq FROM relic_fts WHERE seq = ANY($2::bigint[])"
                         " AND ts_match_vq(fts, $1::tsquery) ORDER BY seq",
                         &p, chunk_row, &c, err);
    }
    dq_buf_free(&ids);
    return 1;
}

int dq_pg_relic_match(dq_store_txn_t *t, const dq_search_plan_t *plan, int what, int scored,
                      dq_relic_match_cb cb, void *ud, dq_err_t *err)
{
    dq_buf_t q = {0}, rq = {0};
    int title = what == DQ_RELIC_MATCH_TITLE;
    /* the title tier is the plain query on fts_ab */
    dq_pg_tsquery(t->search, plan, (title ? DQ_RELIC_MATCH_ALL : what) | DQ_PG_PAIRS, &q);
    if (!q.len) /* nothing can match: no boost phrases, or a term without tokens */
        return dq_buf_free(&q), 0;
    int rc = 0;
    if (!scored) {
        int64_t *seqs = NULL;
        size_t n = 0, cap = 0;
        int cached = what == DQ_RELIC_MATCH_ALL && t->m_query.len == q.len &&
                     memcmp(t->m_query.data, q.data, q.len) == 0;
        if (cached) {
            seqs = t->m_seqs, n = t->n_m;
        } else if (what == DQ_RELIC_MATCH_BOOST &&
                   boost_chunks(t, plan, q.data, cb, ud, &rc, err)) {
            n = 0; /* walked there */
        } else {
            rc = plain_seqs(t, plan, title, q.data, &seqs, &n, &cap, NULL, err);
        }
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (cb(ud, seqs[i], 0.0) != 0)
                break;
        if (!cached)
            free(seqs);
    } else if (what == DQ_RELIC_MATCH_ALL && t->m_query.len == q.len &&
               memcmp(t->m_query.data, q.data, q.len) == 0) {
        /* ranked by the query without pair lexemes: ts_rank weighs the tokens' own positions,
         * so the order is the one before migration 25 */
        dq_pg_tsquery(t->search, plan, DQ_RELIC_MATCH_ALL, &rq);
        /* match_bound found the matches in this snapshot: rank those rows by their primary
         * key instead of running the query again, whose phrase rechecks read every
         * candidate's tsvector (issue 15: 张择端 at 500,000 relics ran it twice) */
        pg_params_t p = {0};
        match_t m = {cb, ud, scored};
        dq_buf_t ids = {0};
        fill_t f = {t->m_seqs, t->m_sc, t->n_m, 0};
        size_t n_ids = 0;
        dq_buf_putc(&ids, '{');
        for (size_t i = 0; i < t->n_m; i++)
            if (!t->m_sc || isnan(t->m_sc[i])) /* the scores match_bound has are kept */
                dq_buf_printf(&ids, n_ids++ ? ",%lld" : "%lld", (long long)t->m_seqs[i]);
        dq_buf_putc(&ids, '}');
        dq_pg_p_text(&p, rq.data);
        dq_pg_p_text(&p, ids.data);
        if (!t->m_sc) {
            rc = dq_pg_walk(t,
                            "SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $1::tsquery)"
                            " FROM relic_fts WHERE seq = ANY($2::bigint[]) ORDER BY seq",
                            &p, match_row, &m, err);
        } else {
            if (n_ids)
                rc = dq_pg_walk(t,
                                "SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $1::tsquery)"
                                " FROM relic_fts WHERE seq = ANY($2::bigint[]) ORDER BY seq",
                                &p, fill_row, &f, err);
            for (size_t i = 0; rc == 0 && i < t->n_m; i++)
                if (!isnan(t->m_sc[i]) && cb(ud, t->m_seqs[i], t->m_sc[i]) != 0)
                    break;
        }
        dq_buf_free(&ids);
    } else {
        pg_params_t p = {0};
        match_t m = {cb, ud, scored};
        dq_pg_tsquery(t->search, plan, title ? DQ_RELIC_MATCH_ALL : what, &rq);
        dq_pg_p_text(&p, q.data);
        dq_pg_p_text(&p, rq.data); /* ranked without pair lexemes, as above */
        /* ts_rank's weights are {D, C, B, A}; smaller is better, as bm25's scores are */
        rc = dq_pg_walk(t,
                        title ? "SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts_ab, $2::tsquery)"
                                " FROM relic_fts WHERE fts_ab @@ $1::tsquery ORDER BY seq"
                              : "SELECT seq, -ts_rank('{0.1, 0.2, 0.8, 1.0}', fts, $2::tsquery)"
                                " FROM relic_fts WHERE fts @@ $1::tsquery ORDER BY seq",
                        &p, match_row, &m, err);
    }
    if (rc < 0 && err && err->code == DQ_EIO) {
        err->code = DQ_EINVAL; /* the query is made of quoted lexemes only: the text's fault */
        err->http_status = 400;
    }
    dq_buf_free(&q);
    dq_buf_free(&rq);
    return rc;
}

/* The number of matches when it is at most limit, else -1. PostgreSQL has no cheap
 * occurrence counts like FTS5's vocabulary table, and the plain match is asked for next in
 * any case (the facets need every match): so it runs here, once, and is kept for that call
 * (as the SQLite backend keeps its walk). */
int dq_pg_relic_match_bound(dq_store_txn_t *t, const dq_search_plan_t *plan, int64_t limit,
                            int64_t *bound, dq_err_t *err)
{
    dq_buf_t q = {0};
    *bound = -1;
    dq_buf_reset(&t->m_query);
    dq_pg_tsquery(t->search, plan, DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS, &q);
    if (!q.len) {
        *bound = 0;
        return dq_buf_free(&q), 0;
    }
    dq_buf_reset(&t->m_query);
    t->n_m = 0;
    free(t->m_sc);
    t->m_sc = NULL;
    int rc = plain_seqs(t, plan, 0, q.data, &t->m_seqs, &t->n_m, &t->cap_m,
                        t->write ? NULL : &t->m_sc, err);
    if (rc == 0) {
        if (!t->write) /* a read snapshot: nothing can change the matches before match */
            dq_buf_append(&t->m_query, q.data, q.len);
        if ((int64_t)t->n_m <= limit)
            *bound = (int64_t)t->n_m;
    }
    dq_buf_free(&q);
    return rc;
}

typedef struct {
    dq_store_txn_t *t;
    const dq_search_t *s;
    const dq_fts_phrases_t *ph;
    dq_relic_snippet_cb cb;
    void *ud;
    dq_buf_t text, fields[4];
} snip_t;

/* A row of snippets_sql: 0 seq, 1 id, 2 version, 3 created_at, 4 updated_at, 5 doc. */
static int snippet_row(void *ud, PGresult *r)
{
    snip_t *sn = ud;
    dq_store_txn_t *t = sn->t;
    const char *doc = PQgetvalue(r, 0, 5);
    size_t doc_len = (size_t)PQgetlength(r, 0, 5);
    if (!t->write) { /* keep the stored row for relic_load */
        t->pre = dq_xrealloc(t->pre, (t->n_pre + 1) * sizeof(*t->pre));
        dq_pg_prefetch_t *e = &t->pre[t->n_pre++];
        e->id = t->pre_text.len;
        dq_buf_append(&t->pre_text, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1) + 1);
        e->doc = t->pre_text.len;
        e->doc_len = doc_len;
        dq_buf_append(&t->pre_text, doc, doc_len + 1);
        e->version = dq_pg_col_int(r, 0, 2);
        dq_pg_copy_col(e->created, sizeof(e->created), r, 0, 3);
        dq_pg_copy_col(e->updated, sizeof(e->updated), r, 0, 4);
    }
    /* The four search fields are not stored (migration 30: each was a TOAST value the
     * import wrote per relic for the ~20 rows a page shows): made from the document as its
     * writer made them, byte for byte. */
    if (dq_relic_fts_fields(doc, doc_len, sn->fields) < 0)
        for (int k = 0; k < 4; k++)
            dq_buf_reset(&sn->fields[k]);
    const char *fields[4];
    for (int k = 0; k < 4; k++)
        fields[k] = sn->fields[k].data;
    dq_buf_reset(&sn->text);
    /* FTS5 snippet(relic_fts, -1, char(1), char(2), '…', 24), as the SQLite backend asks */
    dq_fts_snippet(sn->s, sn->ph, fields, 4, 24, &sn->text);
    return sn->cb(sn->ud, dq_pg_col_int(r, 0, 0), sn->text.data ? sn->text.data : "");
}

int dq_pg_relic_snippets(dq_store_txn_t *t, const dq_search_plan_t *plan, const int64_t *seqs,
                         size_t n, const int64_t *all, size_t n_all, dq_relic_snippet_cb cb,
                         void *ud, dq_err_t *err)
{
    (void)all, (void)n_all;
    if (!n)
        return 0;
    dq_buf_t q = {0}, ids = {0};
    dq_fts_phrases_t ph;
    dq_pg_tsquery(t->search, plan, DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS, &q);
    if (!q.len)
        return dq_buf_free(&q), 0;
    dq_fts_phrases(t->search, plan, 0, &ph);
    dq_buf_putc(&ids, '{');
    for (size_t i = 0; i < n; i++)
        dq_buf_printf(&ids, i ? ",%lld" : "%lld", (long long)seqs[i]);
    dq_buf_putc(&ids, '}');
    pg_params_t p = {0};
    dq_pg_p_text(&p, ids.data);
    dq_pg_p_text(&p, q.data);
    snip_t sn = {t, t->search, &ph, cb, ud, {0}, {{0}}};
    int rc = dq_pg_walk(t,
                        "SELECT f.seq, r.id, r.version, r.created_at, r.updated_at, r.doc"
                        " FROM relic_fts f JOIN relics r ON r.seq = f.seq"
                        " WHERE f.seq = ANY($1::bigint[]) AND f.fts @@ $2::tsquery",
                        &p, snippet_row, &sn, err);
    dq_buf_free(&sn.text);
    for (int k = 0; k < 4; k++)
        dq_buf_free(&sn.fields[k]);
    dq_fts_phrases_free(&ph);
    dq_buf_free(&ids);
    dq_buf_free(&q);
    return rc;
}

/* ---------------------------------------------------------------- migration 25 */

/* Migration 25 (issue 15): relic_fts's tsvectors rebuilt with pair lexemes and markers
 * (store_pg_text.c, "pair lexemes"), since queries from now on ask for them. The GIN indexes
 * go first and are built again at the end (one sorted build costs less than updating them
 * row by row); the rows are read in seq order through a cursor, their tsvectors made here in
 * batches, sent in binary COPY to a temporary table and written by one UPDATE per batch (the
 * generated fts_ab follows). Texts are not rewritten: an UPDATE keeps unchanged TOAST values.
 * At 500,000 relics: see bench/results/issue15-pg.md, "Session 23, search". The four texts
 * are made from each relic's document (dq_relic_fts_fields, as the writer makes them), not
 * read from relic_fts: migration 30 dropped them there, and this step must still work on a
 * catalog that has lost its version-25 row after it (test_search_pairs.c). */
const char dq_pg_relic_pairs_schema[] =
    "DROP INDEX IF EXISTS relic_fts_terms;"
    "DROP INDEX IF EXISTS relic_fts_ab;"
    "CREATE TEMP TABLE dq_fts25 (seq bigint, fts tsvector) ON COMMIT DROP;"
    "DECLARE dq_fts25_rows NO SCROLL CURSOR FOR"
    " SELECT f.seq, r.doc FROM relic_fts f JOIN relics r ON r.seq = f.seq ORDER BY f.seq;";

#define REBUILD_BATCH 2000 /* rows per FETCH (its text below) */

static void put_be_int(dq_buf_t *b, uint64_t v, int bytes)
{
    for (int k = bytes - 1; k >= 0; k--)
        dq_buf_putc(b, (char)((v >> (8 * k)) & 0xff));
}

int dq_pg_relic_pairs_rebuild(dq_store_txn_t *t, dq_err_t *err)
{
    dq_buf_t copy = {0}, tsv = {0}, texts[4] = {{0}};
    PGresult *r = NULL;
    int rc = -1;
    for (;;) {
        r = dq_pg_exec_once(t, "FETCH 2000 FROM dq_fts25_rows", NULL, err); /* REBUILD_BATCH */
        if (!r)
            goto out;
        int n = PQntuples(r);
        if (n == 0)
            break;
        int64_t lo = dq_pg_col_int(r, 0, 0), hi = dq_pg_col_int(r, n - 1, 0);
        dq_buf_reset(&copy);
        /* COPY's binary format: signature, flags, extension length; per row the field count,
         * then each field's length and bytes (int8 seq, the tsvector's send form) */
        dq_buf_append(&copy, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
        for (int i = 0; i < n; i++) {
            if (dq_relic_fts_fields(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1), texts) <
                0) {
                dq_err_set(err, DQ_EIO, 500, "catalog: relic %lld: its document is not JSON",
                           (long long)dq_pg_col_int(r, i, 0));
                goto out;
            }
            const char *f[4] = {texts[0].data, texts[1].data, texts[2].data, texts[3].data};
            dq_buf_reset(&tsv);
            dq_pg_tsvector_bin(t->search, f, 4, DQ_PG_RELIC_TSV, &tsv);
            put_be_int(&copy, 2, 2);
            put_be_int(&copy, 8, 4);
            put_be_int(&copy, (uint64_t)dq_pg_col_int(r, i, 0), 8);
            put_be_int(&copy, (uint64_t)tsv.len, 4);
            dq_buf_append(&copy, tsv.data ? tsv.data : "", tsv.len);
        }
        put_be_int(&copy, 0xffff, 2);
        PQclear(r);
        r = NULL;
        pg_params_t p = {0};
        dq_pg_p_int(&p, lo);
        dq_pg_p_int(&p, hi);
        /* the seq range lets the planner read this batch's rows by primary key */
        if (dq_pg_copy_in(t, "COPY dq_fts25 (seq, fts) FROM STDIN (FORMAT binary)", copy.data,
                          copy.len, err) < 0 ||
            dq_pg_run(t,
                      "UPDATE relic_fts f SET fts = n.fts FROM dq_fts25 n"
                      " WHERE f.seq = n.seq AND f.seq BETWEEN $1 AND $2",
                      &p, NULL, err) < 0 ||
            dq_pg_run(t, "TRUNCATE dq_fts25", NULL, NULL, err) < 0)
            goto out;
    }
    if (dq_pg_run(t, "CLOSE dq_fts25_rows", NULL, NULL, err) < 0 ||
        dq_pg_run(t, "CREATE INDEX relic_fts_terms ON relic_fts USING gin (fts)", NULL, NULL,
                  err) < 0 ||
        dq_pg_run(t, "CREATE INDEX relic_fts_ab ON relic_fts USING gin (fts_ab)", NULL, NULL,
                  err) < 0)
        goto out;
    rc = 0;
out:
    PQclear(r);
    dq_buf_free(&copy);
    dq_buf_free(&tsv);
    for (int k = 0; k < 4; k++)
        dq_buf_free(&texts[k]);
    return rc;
}
