/*
 * relic_search.c: relic search, backend-neutral (GET /api/relics, docs/api.md "Search
 * response"). It validates the request, has search/ turn the text into a query plan, and
 * computes everything a backend should not: the filters, facets and sort pages (over the
 * in-memory index, relic_index.c), the relevance order and its tiers, the snippets' HTML, the
 * cursors and the response JSON. The backend only answers row primitives inside one read
 * transaction: which relics match the plan (optionally scored), the snippet text of a few of
 * them, and their stored documents. No SQL and no query syntax here.
 *
 * A search: (1) the matches of the text query as a seq list (text queries only); (2) the index
 * filters them (or every relic), counts the facets and (3) picks the page: the top k of the
 * sort key with a heap, or the relevance order (rank_page); (4) only the page's documents and
 * snippets are read. Date and accession cursors are keysets on (sort key, seq). Relevance
 * cannot be a keyset: scores depend on corpus statistics, so a row inserted between two pages
 * moves every score and a keyset on the old score would repeat or skip rows. Its cursor is
 * instead (offset, snapshot seq): later pages see only rows that existed when the first page
 * was made (seq never goes back), so inserts cannot shift them.
 */
#include "catalog/relic_internal.h"
#include "catalog/style_internal.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Match sets up to this size are ranked exactly: the score of every match (about 1 µs a row,
 * so 3 ms here), the boosted ones first. */
#define RANK_EXACT_MAX 3000
/* Beyond it, scoring 150,000 matches would cost 130 ms. The matches are split into tiers
 * instead: (boosted, all terms in title or creators), (boosted), (title or creators), (the
 * rest: body and description only). Rows of the title/creators tiers are ordered by the score
 * of the query restricted to those fields when that query has at most RANK_TIER_MAX matches;
 * every other tier is in seq (catalogue) order, since its rows match the same way in the same
 * fields and a score would mostly tell their lengths apart. */
#define RANK_TIER_MAX 5000
/* What a boosted match gains: more than any score difference (scores are a few units). */
#define BOOST 100.0

/* ---------------------------------------------------------------- cursors */

/* Cursors are "<sort letter>~<key>~<seq>": d/D date (year), a accession (hex of the
 * accession, so that any text survives a URL), r relevance (offset~snapshot seq). URL-safe,
 * opaque to clients, and checked strictly when they come back. */
static const char sort_letters[] = "rdDa";

static void cursor_encode(dq_buf_t *out, int sort, double num, const char *str, int64_t seq)
{
    dq_buf_putc(out, sort_letters[sort]);
    dq_buf_putc(out, '~');
    if (sort == DQ_RELIC_SORT_ACCESSION) {
        for (const unsigned char *p = (const unsigned char *)str; *p; p++)
            dq_buf_printf(out, "%02x", *p);
    } else {
        dq_buf_printf(out, "%lld", (long long)num);
    }
    dq_buf_printf(out, "~%lld", (long long)seq);
}

static int cursor_decode(const char *c, relic_plan_t *p, char **str, dq_err_t *err)
{
    const char *t1 = strchr(c, '~'), *t2 = t1 ? strchr(t1 + 1, '~') : NULL;
    if (!t1 || !t2 || t1 != c + 1 || strchr(sort_letters, c[0]) == NULL || !c[0])
        goto bad;
    int sort = (int)(strchr(sort_letters, c[0]) - sort_letters);
    if (sort != p->sort)
        return dq_err_set(err, DQ_EINVAL, 400, "cursor belongs to another sort order");
    uint64_t seq;
    if (dq_str_to_u64(t2 + 1, strlen(t2 + 1), &seq) < 0 || seq > INT64_MAX)
        goto bad;
    p->cursor_seq = (int64_t)seq;
    size_t klen = (size_t)(t2 - t1 - 1);
    const char *k = t1 + 1;
    if (sort == DQ_RELIC_SORT_ACCESSION) {
        if (klen % 2 || klen > 512)
            goto bad;
        char *s = dq_xmalloc(klen / 2 + 1);
        for (size_t i = 0; i < klen / 2; i++) {
            unsigned v;
            if (sscanf(k + 2 * i, "%2x", &v) != 1) {
                free(s);
                goto bad;
            }
            s[i] = (char)v;
        }
        s[klen / 2] = '\0';
        *str = s;
        p->cursor_str = s;
    } else {
        char tmp[64];
        if (klen == 0 || klen >= sizeof(tmp))
            goto bad;
        memcpy(tmp, k, klen);
        tmp[klen] = '\0';
        char *end;
        p->cursor_num = strtod(tmp, &end);
        if (*end || !isfinite(p->cursor_num))
            goto bad;
    }
    p->has_cursor = 1;
    return 0;
bad:
    return dq_err_set(err, DQ_EINVAL, 400, "bad cursor");
}

/* ---------------------------------------------------------------- match sets */

typedef struct rowset {
    int64_t *id;
    double *score; /* NULL unless scored */
    size_t n, cap;
    /* early stop (tier_rows): stop once more than RANK_TIER_MAX rows are read and need of
     * r[0..n_r) were among them */
    const int64_t *r;
    size_t n_r, j, seen, need;
    int may_stop, stopped;
    /* prefix walks (tier_prefix): stop after stop_n rows (0: never), or at the first row past
     * upto (has_upto; that row is not kept) */
    size_t stop_n;
    int64_t upto;
    int has_upto;
    /* first-class walks (tier_prefix's boost walk): stop once first_need rows of
     * first_r[0..first_n) that first_tier holds have been read */
    const int64_t *first_r;
    size_t first_n, first_i, first_found, first_need;
    const struct rowset *first_tier;
} rowset_t;

static void rowset_free(rowset_t *r)
{
    free(r->id);
    free(r->score);
    memset(r, 0, sizeof(*r));
}

static long find_sorted(const int64_t *a, size_t n, int64_t id);

static int collect(void *ud, int64_t seq, double score)
{
    rowset_t *o = ud;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 1024;
        o->id = dq_xrealloc(o->id, o->cap * sizeof(*o->id));
        if (o->score)
            o->score = dq_xrealloc(o->score, o->cap * sizeof(*o->score));
    }
    DQ_ASSERT(o->n == 0 || seq > o->id[o->n - 1]); /* the primitive's contract: ascending */
    if (o->has_upto && seq > o->upto) {
        o->stopped = 1;
        return 1;
    }
    o->id[o->n] = seq;
    if (o->score)
        o->score[o->n] = score;
    o->n++;
    if (o->stop_n && o->n >= o->stop_n) {
        o->stopped = 1;
        return 1;
    }
    if (o->first_tier) {
        while (o->first_i < o->first_n && o->first_r[o->first_i] < seq)
            o->first_i++;
        if (o->first_i < o->first_n && o->first_r[o->first_i] == seq &&
            find_sorted(o->first_tier->id, o->first_tier->n, seq) >= 0 &&
            ++o->first_found >= o->first_need) {
            o->stopped = 1;
            return 1;
        }
    }
    if (o->may_stop) {
        while (o->j < o->n_r && o->r[o->j] < seq)
            o->j++;
        if (o->j < o->n_r && o->r[o->j] == seq)
            o->seen++;
        if (o->n > RANK_TIER_MAX && o->seen >= o->need) {
            o->stopped = 1;
            return 1;
        }
    }
    return 0;
}

/* The relics matching plan (what: DQ_RELIC_MATCH_*), ascending, into out (scores when
 * scored). A plan the backend rejects is the query's fault: 400. */
static int match(relic_search_ctx_t *c, int what, int scored, rowset_t *out, dq_err_t *err)
{
    if (scored && !out->score)
        out->score = dq_xmalloc(1 * sizeof(*out->score));
    if (c->b->relics->match(c->txn, c->sp, what, scored, collect, out, err) < 0) {
        if (err->code == DQ_EINVAL)
            err->http_status = 400;
        return -1;
    }
    return 0;
}

/* Index of id in the ascending a[0..n), or -1. */
static long find_sorted(const int64_t *a, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == id ? (long)lo : -1;
}

static long rowset_find(const rowset_t *r, int64_t id)
{
    return find_sorted(r->id, r->n, id);
}

/* ---------------------------------------------------------------- relevance */

/* 1 when every match holds a boost phrase: a boost phrase is the only phrase of a term (张择端
 * names the artist 张择端). Then the boost lifts every match alike and need not be looked up. */
static int boost_covers_all(const dq_search_plan_t *p)
{
    for (size_t i = 0; i < p->n_ph; i++) {
        const dq_search_phrase_t *b = &p->ph[i];
        if (b->term >= 0)
            continue;
        for (int t = 0; t < p->n_terms; t++) {
            const dq_search_phrase_t *only = NULL;
            int n = 0;
            for (size_t j = 0; j < p->n_ph; j++)
                if (p->ph[j].term == t && n++ == 0)
                    only = &p->ph[j];
            if (n == 1 && only->kind == b->kind && only->len == b->len &&
                memcmp(dq_search_phrase_text(p, only), dq_search_phrase_text(p, b), b->len) == 0)
                return 1;
        }
    }
    return 0;
}

typedef struct {
    int64_t seq;
    double score;
} ranked_t;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The page of a broad relevance search from a prefix of the matches, when that is enough
 * (issue 9: at 500,000 relics "wind in the pines" spent half its time walking the boost and
 * title/creators sets of all its 19,000 matches, to list 24 of them). With more than
 * RANK_TIER_MAX matches in the title/creators set, no tier is scored: every class of
 * rank_page is in seq order. So once the title walk has read RANK_TIER_MAX + 1 rows, up to
 * seq L, and the boost walk its rows up to L, the class of every listed row up to L is
 * known; when the first class (boosted title rows, or title rows when nothing is boosted)
 * already has offset + k rows up to L, they are the page, since any later row of any class
 * comes after them. *done is 0 when the prefix is not enough (the caller walks everything:
 * the prefix walks were at most RANK_TIER_MAX + 1 rows each); *whole is then 1 when tier
 * holds the whole title set (at most RANK_TIER_MAX rows), else tier is empty. */
static int tier_prefix(relic_search_ctx_t *c, const int64_t *r, size_t n, size_t offset, size_t k,
                       int64_t *page, size_t *n_page, rowset_t *tier, int *done, int *whole,
                       dq_err_t *err)
{
    rowset_t boost = {0};
    int rc = -1, boosted = c->sp->n_boost > 0, covers = boosted && boost_covers_all(c->sp);
    size_t need = offset + k, found = 0;
    *done = *whole = 0;
    tier->stop_n = RANK_TIER_MAX + 1;
    if (match(c, DQ_RELIC_MATCH_TITLE, 0, tier, err) < 0)
        goto out;
    if (!tier->stopped) { /* at most RANK_TIER_MAX title rows: a scored tier */
        *whole = 1;
        rc = 0;
        goto out;
    }
    int64_t last = tier->id[tier->n - 1];
    if (boosted && !covers) {
        /* up to L, and only as far as the first class needs: once it holds offset + k rows
         * the rest of the boost set cannot change the page (a phrase walk on PostgreSQL reads
         * each candidate's positions: "wind in the pines" at 500,000 relics checked 5,090
         * rows where a few dozen decide) */
        boost.upto = last;
        boost.has_upto = 1;
        boost.first_r = r;
        boost.first_n = n;
        boost.first_need = need;
        boost.first_tier = tier;
        if (match(c, DQ_RELIC_MATCH_BOOST, 0, &boost, err) < 0)
            goto out;
    }
    /* the first class: boosted title rows (every title row is boosted when the boost covers
     * all matches); with no boost phrase, the title rows */
    size_t jt = 0, jb = 0;
    for (size_t i = 0; i < n && r[i] <= last && found < need; i++) {
        while (jt < tier->n && tier->id[jt] < r[i])
            jt++;
        if (jt == tier->n || tier->id[jt] != r[i])
            continue;
        if (boosted && !covers) {
            while (jb < boost.n && boost.id[jb] < r[i])
                jb++;
            if (jb == boost.n || boost.id[jb] != r[i])
                continue;
        }
        if (found++ >= offset)
            page[(*n_page)++] = r[i];
    }
    if (found >= need)
        *done = 1;
    else
        *n_page = 0;
    rc = 0;
out:
    if (!*whole)
        rowset_free(tier);
    rowset_free(&boost);
    return rc;
}

/* The relevance order of r[0..n) (ascending seqs, all of them among m, the matches of the
 * plan, scored when m->score): fills page with the rows at positions [offset, offset + k). */
static int rank_page(relic_search_ctx_t *c, const int64_t *r, size_t n, const rowset_t *m,
                     size_t offset, size_t k, int64_t *page, size_t *n_page, dq_err_t *err)
{
    rowset_t all = {0}, boost = {0}, tier = {0};
    ranked_t *rk = NULL;
    int64_t *cls[4] = {NULL, NULL, NULL, NULL};
    size_t n_cls[4] = {0, 0, 0, 0}, need = offset + k, have = 0;
    int rc = -1, boosted = c->sp->n_boost > 0;
    *n_page = 0;
    int have_tier = 0; /* 1: tier_prefix left the whole (small) title set in tier */
    if (m->n > RANK_TIER_MAX) {
        int done = 0;
        if (tier_prefix(c, r, n, offset, k, page, n_page, &tier, &done, &have_tier, err) < 0)
            return -1;
        if (done)
            return 0;
    }
    rk = dq_xmalloc((n ? n : 1) * sizeof(*rk));
    if (boosted && boost_covers_all(c->sp)) { /* the boost set is every match */
        boost.id = dq_xmalloc((m->n ? m->n : 1) * sizeof(*boost.id));
        memcpy(boost.id, m->id, m->n * sizeof(*boost.id));
        boost.n = boost.cap = m->n;
    } else if (boosted && match(c, DQ_RELIC_MATCH_BOOST, 0, &boost, err) < 0) {
        goto out;
    }
    if (m->n <= RANK_EXACT_MAX) {
        /* The exact order: the boost subtracts a constant, so whole-name matches come first
         * and keep their score order among themselves. */
        const rowset_t *sc = m;
        if (!m->score) {
            if (match(c, DQ_RELIC_MATCH_ALL, 1, &all, err) < 0)
                goto out;
            sc = &all;
        }
        for (size_t i = 0; i < n; i++) {
            long j = rowset_find(sc, r[i]);
            double s = j >= 0 ? sc->score[j] : 0.0;
            if (boosted)
                s -= BOOST * (rowset_find(&boost, r[i]) >= 0);
            rk[i] = (ranked_t){r[i], s};
        }
        qsort(rk, n, sizeof(*rk), cmp_ranked);
        have = n;
    } else {
        /* Early stop is safe only when no boosted row is listed: the boosted tiers come
         * first and need every row's title/creators membership. */
        int any_boosted = 0;
        for (size_t i = 0; i < boost.n && !any_boosted; i++)
            any_boosted = find_sorted(r, n, boost.id[i]) >= 0;
        tier.r = r;
        tier.n_r = n;
        tier.need = need;
        tier.may_stop = !any_boosted;
        /* The tier is scored when it has at most RANK_TIER_MAX rows: known beforehand when
         * all the matches are that few, else found out by a plain walk first. */
        int partial = 0;
        if (m->n > RANK_TIER_MAX && !have_tier) {
            if (match(c, DQ_RELIC_MATCH_TITLE, 0, &tier, err) < 0)
                goto out;
            partial = tier.stopped;
        }
        if (m->n <= RANK_TIER_MAX || (tier.n && tier.n <= RANK_TIER_MAX)) {
            rowset_free(&tier);
            if (match(c, DQ_RELIC_MATCH_TITLE, 1, &tier, err) < 0)
                goto out;
        }
        for (int i = 0; i < 4; i++)
            cls[i] = dq_xmalloc((n ? n : 1) * sizeof(int64_t));
        for (size_t i = 0; i < n; i++) {
            int cl = (boost.n && rowset_find(&boost, r[i]) >= 0 ? 0 : 2) +
                     (rowset_find(&tier, r[i]) >= 0 ? 0 : 1);
            cls[cl][n_cls[cl]++] = r[i];
        }
        /* After an early stop, rows past the last tier row read count as class 3: harmless,
         * because class 2 alone fills the page (the walk stopped only then). */
        DQ_ASSERT(!partial || (n_cls[0] + n_cls[1] == 0 && n_cls[2] >= need));
        for (int cl = 0; cl < 4 && have < need; cl++) {
            for (size_t i = 0; i < n_cls[cl]; i++) {
                long j = cl % 2 == 0 && tier.score ? rowset_find(&tier, cls[cl][i]) : -1;
                rk[have + i] = (ranked_t){cls[cl][i], j >= 0 ? tier.score[j] : 0.0};
            }
            if (cl % 2 == 0 && tier.score)
                qsort(rk + have, n_cls[cl], sizeof(*rk), cmp_ranked);
            have += n_cls[cl];
        }
    }
    for (size_t i = offset; i < have && i < need; i++)
        page[(*n_page)++] = rk[i].seq;
    rc = 0;
out:
    for (int i = 0; i < 4; i++)
        free(cls[i]);
    free(rk);
    rowset_free(&all);
    rowset_free(&boost);
    rowset_free(&tier);
    return rc;
}

/* ---------------------------------------------------------------- items */

/* HTML-escapes a snippet and turns the \x01 / \x02 markers around hits into <mark> and
 * </mark>: escape first, then mark, so stored text can never inject markup. */
static void snippet_html(dq_buf_t *out, const char *t)
{
    dq_buf_t h = {0};
    for (const char *p = t; *p; p++) {
        switch (*p) {
        case '<':
            dq_buf_puts(&h, "&lt;");
            break;
        case '>':
            dq_buf_puts(&h, "&gt;");
            break;
        case '&':
            dq_buf_puts(&h, "&amp;");
            break;
        case '"':
            dq_buf_puts(&h, "&quot;");
            break;
        case '\'':
            dq_buf_puts(&h, "&#39;");
            break;
        case '\x01':
            dq_buf_puts(&h, "<mark>");
            break;
        case '\x02':
            dq_buf_puts(&h, "</mark>");
            break;
        default:
            dq_buf_putc(&h, *p);
        }
    }
    dq_buf_putc(out, '"');
    dq_buf_json_str(out, h.data ? h.data : "", h.len);
    dq_buf_putc(out, '"');
    dq_buf_free(&h);
}

/* A list item is made of a few fields of the stored document. Stored documents are the
 * canonical compact text relic_doc_text writes (json_dumps, JSON_COMPACT), so a value's bytes
 * in the document are exactly what json_dumps of the parsed value writes again: an item copies
 * those spans instead of building a jansson tree of the whole document and dumping parts of
 * it (json_loadb was 12 % of a selective search, issue 9). The scanner below only finds where
 * values start and end; it validates no more than it needs to, and a document it cannot walk
 * is an error, as a document jansson could not parse was. */

typedef struct {
    const char *p; /* NULL: absent */
    size_t len;
} span_t;

/* The end of the JSON string starting at s[i] == '"', or 0 when it does not end. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The end of the value starting at s[i], or 0 when it does not end. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                size_t e = skip_string(s, n, i);
                if (!e)
                    return 0;
                i = e - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return 0;
    }
    size_t j = i; /* a number or a literal */
    while (j < n && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\n')
        j++;
    return j > i ? j : 0;
}

/* Calls fn for each member (key span without quotes, value span) of the object s[0..n), or
 * for each element (key NULL) of the array. Returns 0, or -1 when s is not one. */
static int walk(const char *s, size_t n, int (*fn)(void *ud, span_t key, span_t val), void *ud)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || (s[i] != '{' && s[i] != '['))
        return -1;
    int obj = s[i] == '{';
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == (obj ? '}' : ']'))
        return 0;
    while (i < n) {
        span_t key = {NULL, 0};
        if (obj) {
            size_t e = s[i] == '"' ? skip_string(s, n, i) : 0;
            if (!e)
                return -1;
            key = (span_t){s + i + 1, e - i - 2};
            i = skip_ws(s, n, e);
            if (i >= n || s[i] != ':')
                return -1;
            i = skip_ws(s, n, i + 1);
        }
        size_t e = skip_value(s, n, i);
        if (!e)
            return -1;
        if (fn(ud, key, (span_t){s + i, e - i}))
            return 0;
        i = skip_ws(s, n, e);
        if (i < n && s[i] == ',')
            i = skip_ws(s, n, i + 1);
        else if (i < n && s[i] == (obj ? '}' : ']'))
            return 0;
        else
            return -1;
    }
    return -1;
}

static int span_is(span_t k, const char *lit)
{
    size_t n = strlen(lit);
    return k.p && k.len == n && memcmp(k.p, lit, n) == 0;
}

/* The item's fields of a document (a later duplicate key wins, as in jansson). */
enum { F_ACC, F_TITLE, F_CREATORS, F_DYN, F_TYPE, F_DATE, F_IMAGES, N_FIELDS };
static const char *const field_names[N_FIELDS] = {
    "accession", "title", "creators", "dynasty", "object_type", "date_text", "images"};

static int take_field(void *ud, span_t key, span_t val)
{
    span_t *f = ud;
    for (int i = 0; i < N_FIELDS; i++)
        if (span_is(key, field_names[i]))
            f[i] = val;
    return 0;
}

/* The members named by keys[0..n) of one object value. */
typedef struct {
    const char *const *keys;
    int n;
    span_t *out;
} pick_t;

static int take_member(void *ud, span_t key, span_t val)
{
    pick_t *p = ud;
    for (int i = 0; i < p->n; i++)
        if (span_is(key, p->keys[i]))
            p->out[i] = val;
    return 0;
}

static void pick(span_t obj, const char *const *keys, int n, span_t *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (span_t){NULL, 0};
    if (obj.p && obj.p[0] == '{') {
        pick_t p = {keys, n, out};
        walk(obj.p, obj.len, take_member, &p);
    }
}

/* creators: [{"name": <name>}...] of the elements that have a name. */
static int put_creator(void *ud, span_t key, span_t val)
{
    (void)key;
    dq_buf_t *out = ud;
    static const char *const name_key[] = {"name"};
    span_t name;
    pick(val, name_key, 1, &name);
    if (!name.p)
        return 0;
    if (out->data[out->len - 1] != '[')
        dq_buf_putc(out, ',');
    dq_buf_puts(out, "{\"name\":");
    dq_buf_append(out, name.p, name.len);
    dq_buf_putc(out, '}');
    return 0;
}

/* images: the first one whose role is "main", else the first; its image_id if a string. */
typedef struct {
    span_t first, main;
} thumb_t;

static int take_image(void *ud, span_t key, span_t val)
{
    (void)key;
    thumb_t *t = ud;
    static const char *const role_key[] = {"role"};
    if (!t->first.p)
        t->first = val;
    span_t role;
    pick(val, role_key, 1, &role);
    if (span_is(role, "\"main\"")) {
        t->main = val;
        return 1;
    }
    return 0;
}

static void put_field(dq_buf_t *out, const char *key, span_t v)
{
    dq_buf_putc(out, ',');
    dq_buf_putc(out, '"');
    dq_buf_puts(out, key);
    dq_buf_puts(out, "\":");
    if (v.p)
        dq_buf_append(out, v.p, v.len);
    else
        dq_buf_puts(out, "null");
}

/* One item of the page from the stored document and the index entry; snip is its snippet
 * (NULL: none, or no text query when !text). */
static int item(const relic_ixinfo_t *e, const dq_relic_stored_t *st, int text, const char *snip,
                dq_buf_t *out, dq_err_t *err)
{
    span_t f[N_FIELDS] = {{NULL, 0}};
    size_t mark = out->len;
    size_t first = skip_ws(st->doc, st->doc_len, 0);
    if (first >= st->doc_len || st->doc[first] != '{' ||
        walk(st->doc, st->doc_len, take_field, f) < 0)
        return dq_err_set(err, DQ_EINTERNAL, 500, "relic %s: stored document is not JSON", e->id);
    dq_buf_puts(out, "{\"id\":\"");
    dq_buf_json_str(out, e->id, strlen(e->id));
    dq_buf_putc(out, '"');
    put_field(out, "accession", f[F_ACC]);
    put_field(out, "title", f[F_TITLE]);
    dq_buf_puts(out, ",\"creators\":[");
    if (f[F_CREATORS].p && f[F_CREATORS].p[0] == '[' &&
        walk(f[F_CREATORS].p, f[F_CREATORS].len, put_creator, out) < 0)
        goto bad;
    dq_buf_putc(out, ']');
    put_field(out, "dynasty", f[F_DYN]);
    put_field(out, "object_type", f[F_TYPE]);
    put_field(out, "date_text", f[F_DATE]);
    if (!e->has_year)
        dq_buf_puts(out, ",\"year_from\":null,\"year_to\":null");
    else
        dq_buf_printf(out, ",\"year_from\":%d,\"year_to\":%d", e->year_from, e->year_to);
    /* The thumbnail: the first "main" image, else the first image. */
    thumb_t t = {{NULL, 0}, {NULL, 0}};
    if (f[F_IMAGES].p && f[F_IMAGES].p[0] == '[' &&
        walk(f[F_IMAGES].p, f[F_IMAGES].len, take_image, &t) < 0)
        goto bad;
    static const char *const iid_key[] = {"image_id"};
    span_t iid;
    pick(t.main.p ? t.main : t.first, iid_key, 1, &iid);
    /* A string without escapes is the id as it is (image ids are [A-Za-z0-9._-]); one with
     * escapes is decoded, as json_string_value would. */
    json_t *decoded = NULL;
    const char *id_p = NULL;
    size_t id_len = 0;
    if (iid.p && iid.p[0] == '"' && iid.len >= 2 && !memchr(iid.p, '\\', iid.len)) {
        id_p = iid.p + 1;
        id_len = iid.len - 2;
    } else if (iid.p && iid.p[0] == '"' &&
               (decoded = json_loadb(iid.p, iid.len, JSON_DECODE_ANY, NULL)) != NULL) {
        id_p = json_string_value(decoded);
        id_len = json_string_length(decoded);
    }
    if (id_p) {
        dq_buf_puts(out, ",\"thumbnail\":\"/iiif/3/");
        dq_buf_json_str(out, id_p, id_len);
        dq_buf_puts(out, "/full/!400,400/0/default.jpg\",\"image_id\":\"");
        dq_buf_json_str(out, id_p, id_len);
        dq_buf_putc(out, '"');
        json_decref(decoded);
    } else {
        dq_buf_puts(out, ",\"thumbnail\":null,\"image_id\":null");
    }
    dq_buf_puts(out, ",\"snippet\":");
    if (text && snip)
        snippet_html(out, snip);
    else
        dq_buf_puts(out, "null");
    dq_buf_putc(out, '}');
    return 0;
bad:
    out->len = mark;
    out->data[mark] = '\0';
    return dq_err_set(err, DQ_EINTERNAL, 500, "relic %s: stored document is not JSON", e->id);
}

typedef struct {
    const int64_t *page;
    size_t n;
    char **snip;
} snips_t;

static int take_snippet(void *ud, int64_t seq, const char *text)
{
    snips_t *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (s->page[i] == seq && text && !s->snip[i])
            s->snip[i] = dq_xstrdup(text);
    return 0;
}

/* ---------------------------------------------------------------- the search */

/* Keeps the matches of m that are in the ascending allow[0..n) (colour search). */
static void rowset_keep(rowset_t *m, const int64_t *allow, size_t n)
{
    size_t w = 0, j = 0;
    for (size_t i = 0; i < m->n; i++) {
        while (j < n && allow[j] < m->id[i])
            j++;
        if (j < n && allow[j] == m->id[i]) {
            m->id[w] = m->id[i];
            if (m->score)
                m->score[w] = m->score[i];
            w++;
        }
    }
    m->n = w;
}

static int search_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    relic_search_ctx_t *c = ud;
    const relic_plan_t *p = c->p;
    const dq_relic_query_t *q = c->q;
    relic_index_t *ix = c->ix;
    rowset_t m = {0};
    relic_sel_t sel = {0};
    dq_buf_t fac = {0}, next = {0};
    int64_t *page = NULL;
    char **snip = NULL;
    size_t n_page = 0, k = (size_t)p->limit + 1;
    relic_ixinfo_t *ent = NULL; /* the page's index entries, strings copied */
    int text = c->sp != NULL, rc = -1, rel = p->sort == DQ_RELIC_SORT_RELEVANCE;
    dq_buf_t *out = c->out;
    size_t mark = out->len;

    c->txn = txn;
    if (relic_index_sync(ix, c->b, txn, err) < 0)
        goto out;
    if (text) {
        /* Relevance ranks every match exactly when there are few: when the backend can bound
         * their number that low beforehand, one scored walk serves both the filters and the
         * ranking (instead of a plain walk and a scored one). */
        int64_t bound = -1;
        if (rel && c->b->relics->match_bound &&
            c->b->relics->match_bound(txn, c->sp, RANK_EXACT_MAX, &bound, err) < 0)
            goto out;
        if (match(c, DQ_RELIC_MATCH_ALL, rel && bound >= 0 && bound <= RANK_EXACT_MAX, &m, err) < 0)
            goto out;
    }
    if (c->colour && text)
        rowset_keep(&m, c->colour_seq, c->n_colour);
    /* The index's read lock is held only for the work in C over its arrays (filters, facets,
     * a sorted page, copying the page's entries), never across a backend call, so that a
     * sync that must write to the index never waits behind a slow full-text query. */
    relic_index_rdlock(ix);
    relic_index_select(ix, q, c->show_restricted, p->lang_en, text || c->colour,
                       text ? m.id : c->colour_seq, text ? m.n : c->n_colour, &sel,
                       q->facets ? &fac : NULL);
    page = dq_xmalloc(k * sizeof(*page));
    int64_t snapshot = p->has_cursor ? p->cursor_seq : relic_index_max_seq(ix);
    size_t offset = rel && p->has_cursor ? (size_t)p->cursor_num : 0;
    if (!rel)
        n_page = relic_index_page(ix, p, &sel, page, k);
    relic_index_unlock(ix);
    if (rel) {
        size_t n = 0; /* rows inserted after the first page are not part of this listing */
        while (n < sel.n && sel.seq[n] <= snapshot)
            n++;
        if (rank_page(c, sel.seq, n, &m, offset, k, page, &n_page, err) < 0)
            goto out;
    }
    size_t shown = n_page < (size_t)p->limit ? n_page : (size_t)p->limit;
    ent = dq_xcalloc(k, sizeof(*ent));
    relic_index_rdlock(ix);
    for (size_t i = 0; i < shown; i++) {
        relic_ixinfo_t *e = &ent[i];
        if (relic_index_entry(ix, page[i], e) != 0) {
            e->id = NULL; /* gone since the page was chosen: skipped */
            continue;
        }
        e->id = dq_xstrdup(e->id);
        e->accession = dq_xstrdup(e->accession);
    }
    relic_index_unlock(ix);
    snip = dq_xcalloc(k, sizeof(*snip));
    snips_t sn = {page, shown, snip};
    if (text && shown &&
        c->b->relics->snippets(txn, c->sp, page, shown, m.id, m.n, take_snippet, &sn, err) < 0)
        goto out;
    dq_buf_printf(out, "{\"total\":%lld,\"items\":[", (long long)sel.n);
    int n = 0;
    for (size_t i = 0; i < shown; i++) {
        const relic_ixinfo_t *e = &ent[i];
        dq_relic_stored_t st = {0};
        if (!e->id)
            continue;
        int r = c->b->relics->load(txn, e->id, NULL, &st, err);
        if (r < 0)
            goto out;
        if (r == 0) {
            if (n++)
                dq_buf_putc(out, ',');
            if (item(e, &st, text, snip[i], out, err) < 0)
                goto out;
        }
        dq_buf_reset(&next);
        if (rel)
            cursor_encode(&next, p->sort, (double)(offset + i + 1), NULL, snapshot);
        else
            cursor_encode(&next, p->sort,
                          p->sort == DQ_RELIC_SORT_DATE ? e->sort_year : e->sort_year_desc,
                          e->accession, page[i]);
    }
    dq_buf_putc(out, ']');
    if (fac.len)
        dq_buf_append(out, fac.data, fac.len);
    if (n_page > (size_t)p->limit) { /* one more row exists: the cursor points after the last */
        dq_buf_puts(out, ",\"next_cursor\":\"");
        dq_buf_append(out, next.data, next.len);
        dq_buf_puts(out, "\"}");
    } else {
        dq_buf_puts(out, ",\"next_cursor\":null}");
    }
    rc = 0;
out:
    for (size_t i = 0; ent && i < k; i++) {
        free((char *)ent[i].id);
        free((char *)ent[i].accession);
    }
    free(ent);
    if (rc < 0) { /* leave out as it was */
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    for (size_t i = 0; snip && i < k; i++)
        free(snip[i]);
    free(snip);
    free(page);
    rowset_free(&m);
    relic_sel_free(&sel);
    dq_buf_free(&fac);
    dq_buf_free(&next);
    return rc;
}

int dq_catalog_relic_warm(dq_catalog_t *cat, dq_err_t *err)
{
    relic_search_ctx_t c = {.b = dq_catalog_backend(cat), .ix = relic_index_of(cat)};
    return dq_catalog_read(cat, relic_warm_txn, &c, err);
}

int relic_warm_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    relic_search_ctx_t *c = ud;
    return relic_index_sync(c->ix, c->b, txn, err);
}

int dq_catalog_relic_search(dq_catalog_t *cat, const dq_relic_query_t *q, const dq_actor_t *who,
                            dq_buf_t *out, dq_err_t *err)
{
    relic_plan_t p = {0};
    dq_search_plan_t sp = {0};
    char *cstr = NULL;
    int64_t *colour_seq = NULL;
    int rc = -1;
    int has_q = q->q && *q->q;
    const char *sort = q->sort && *q->sort ? q->sort : (has_q ? "relevance" : "accession");
    if (strcmp(sort, "relevance") == 0 && has_q)
        p.sort = DQ_RELIC_SORT_RELEVANCE;
    else if (strcmp(sort, "relevance") == 0)
        p.sort = DQ_RELIC_SORT_ACCESSION; /* nothing to be relevant to */
    else if (strcmp(sort, "date") == 0)
        p.sort = DQ_RELIC_SORT_DATE;
    else if (strcmp(sort, "-date") == 0)
        p.sort = DQ_RELIC_SORT_DATE_DESC;
    else if (strcmp(sort, "accession") == 0)
        p.sort = DQ_RELIC_SORT_ACCESSION;
    else {
        dq_err_set(err, DQ_EINVAL, 400, "sort must be relevance, date, -date or accession");
        goto out;
    }
    p.limit = q->limit ? q->limit : 24;
    if (p.limit < 1 || p.limit > 100) {
        dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..100");
        goto out;
    }
    if (q->has_images < -1 || q->has_images > 1) {
        dq_err_set(err, DQ_EINVAL, 400, "has_images must be 0 or 1");
        goto out;
    }
    if (q->year_from != INT_MIN && q->year_to != INT_MAX && q->year_from > q->year_to) {
        dq_err_set(err, DQ_EINVAL, 400, "year_from must be <= year_to");
        goto out;
    }
    if (q->lang && *q->lang && strcmp(q->lang, "zh") != 0 && strcmp(q->lang, "en") != 0) {
        dq_err_set(err, DQ_EINVAL, 400, "lang must be zh or en");
        goto out;
    }
    p.lang_en = q->lang && strcmp(q->lang, "en") == 0;
    const dq_store_backend_t *b = dq_catalog_backend(cat);
    if (has_q &&
        dq_search_query_plan(b->relics->search_handle(dq_catalog_impl(cat)), q->q, &sp, err) < 0) {
        err->http_status = 400;
        goto out;
    }
    if (q->cursor && *q->cursor && cursor_decode(q->cursor, &p, &cstr, err) < 0)
        goto out;
    relic_search_ctx_t c = {.b = b,
                            .ix = relic_index_of(cat),
                            .q = q,
                            .p = &p,
                            .sp = has_q ? &sp : NULL,
                            .show_restricted = relic_show_restricted(who),
                            .out = out};
    /* Colour search (issue 13): the relics whose palette holds the colour, computed before
     * the read transaction (it reads the style index, which has transactions of its own). */
    if (q->colour && *q->colour) {
        if (style_colour_seqs(cat, q->colour, c.show_restricted, &colour_seq, &c.n_colour, err) <
            0)
            goto out;
        c.colour_seq = colour_seq;
        c.colour = 1;
    }
    rc = dq_catalog_read(cat, search_txn, &c, err);
out:
    free(colour_seq);
    dq_search_plan_free(&sp);
    free(cstr);
    return rc;
}
