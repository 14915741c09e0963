/*
 * store_pg_text.c: the PostgreSQL backend's full text, without SQL. PostgreSQL has no
 * Chinese-aware parser in Debian (no zhparser, pg_bigm, PGroonga), so danqing's own tokenizer
 * (search/) makes the index terms at write time and the query at read time:
 *
 *  - a document is a tsvector literal: every token the tokenizer gives in document mode, at
 *    one tsvector position per tokenizer position (colocated tokens, the bigram, pinyin and
 *    initials of a character, share it), weighted A-D by field (title, creators, body,
 *    description), with one empty position between fields so that no phrase spans two, as
 *    in FTS5 where a phrase lives in one column. Cast with ::tsvector, so no text search
 *    configuration touches the terms (they are already final, as under `simple`).
 *  - a query plan becomes a tsquery: each phrase the chain of its query-mode tokens joined by
 *    <-> (FTS5's phrase: adjacent, in order), a term the | of its phrases, the plan the & of
 *    its terms; :AB restricts a chain to the title and creators fields (FTS5's
 *    {title creators} column filter).
 * So a row matches on PostgreSQL exactly when FTS5 matches it on SQLite: the same tokens at
 * the same relative positions. Limits PostgreSQL sets and FTS5 does not: a tsvector position
 * is at most 16,383 (later tokens share the last one) and a lexeme keeps at most 256
 * positions; a record's text would need more than ~4,000 Han characters to meet them.
 *
 * Snippets and highlights are FTS5's own algorithms re-stated over phrase hits (fts_aux.c,
 * shared with the SQLite backend), so that both backends return the same marked text.
 */
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

#define PG_MAX_POS 16383

/* ---------------------------------------------------------------- tsvector */

typedef struct {
    dq_buf_t *out;
    int base; /* tsvector position of the field's first token, minus 1 */
    int i;    /* the field's current token position (-1 before the first) */
    char weight;
} tv_t;

static void put_lexeme(dq_buf_t *out, const char *tok, int len)
{
    dq_buf_putc(out, '\'');
    for (int k = 0; k < len; k++) {
        if (tok[k] == '\'' || tok[k] == '\\')
            dq_buf_putc(out, tok[k]); /* doubled: '' and \\ */
        dq_buf_putc(out, tok[k]);
    }
    dq_buf_putc(out, '\'');
}

static int tv_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    tv_t *v = ctx;
    (void)start, (void)end;
    if (!colocated || v->i < 0)
        v->i++;
    if (len <= 0)
        return 0;
    int pos = v->base + v->i + 1;
    if (pos > PG_MAX_POS)
        pos = PG_MAX_POS;
    if (v->out->len)
        dq_buf_putc(v->out, ' ');
    put_lexeme(v->out, tok, len);
    dq_buf_printf(v->out, ":%d%c", pos, v->weight);
    return 0;
}

void dq_pg_tsvector(const dq_search_t *s, const char *const *fields, int n_fields, int pinyin,
                    dq_buf_t *out, int64_t *n_pos)
{
    static const char weights[] = "ABCD";
    int base = 0;
    int64_t total = 0;
    for (int f = 0; f < n_fields; f++) {
        tv_t v = {out, base, -1, weights[f < 4 ? f : 3]};
        if (fields[f])
            dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, pinyin, fields[f], strlen(fields[f]),
                               tv_token, &v);
        total += v.i + 1;
        base += v.i + 2; /* one empty position between fields */
    }
    if (n_pos)
        *n_pos = total;
}

/* ---------------------------------------------------------------- tsvector, binary */

/* The same tsvector in PostgreSQL's binary form (tsvectorsend/tsvectorrecv in
 * src/backend/utils/adt/tsvector.c), for COPY ... (FORMAT binary): parsing the text literal
 * (tsvectorin) was most of an import's server time. The text input sorts and merges for us;
 * here we do what it does: lexemes in byte order (tsCompareString), each once, with its
 * positions ascending, one per position (the highest weight wins), at most 256 of them and
 * none after the last position, 16,383 (uniquePos). Layout: int32 count; per lexeme its bytes
 * and a NUL, uint16 count of positions, then each as uint16 (weight << 14 | position, weight
 * A = 3 .. D = 0); all big-endian. */

#define PG_MAX_NUMPOS 256

typedef struct {
    size_t off; /* into the token text; then p */
    const char *p;
    int len;
    unsigned pos, weight;
} tvb_ent_t;

typedef struct {
    dq_buf_t text;
    tvb_ent_t *e;
    size_t n, cap;
    int base, i;
    unsigned weight;
} tvb_t;

static int tvb_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    tvb_t *v = ctx;
    (void)start, (void)end;
    if (!colocated || v->i < 0)
        v->i++;
    if (len <= 0)
        return 0;
    int pos = v->base + v->i + 1;
    if (pos > PG_MAX_POS)
        pos = PG_MAX_POS;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 256;
        v->e = dq_xrealloc(v->e, v->cap * sizeof(*v->e));
    }
    v->e[v->n++] = (tvb_ent_t){v->text.len, NULL, len, (unsigned)pos, v->weight};
    dq_buf_append(&v->text, tok, (size_t)len);
    return 0;
}

static int tvb_cmp(const void *a, const void *b)
{
    const tvb_ent_t *x = a, *y = b;
    int c = memcmp(x->p, y->p, (size_t)(x->len < y->len ? x->len : y->len));
    if (c == 0 && x->len != y->len)
        c = x->len < y->len ? -1 : 1;
    if (c == 0 && x->pos != y->pos)
        c = x->pos < y->pos ? -1 : 1;
    if (c == 0 && x->weight != y->weight) /* the highest first: it is the one kept */
        c = x->weight > y->weight ? -1 : 1;
    return c;
}

static void put_be(dq_buf_t *out, uint32_t v, int bytes)
{
    for (int k = bytes - 1; k >= 0; k--)
        dq_buf_putc(out, (char)((v >> (8 * k)) & 0xff));
}

void dq_pg_tsvector_bin(const dq_search_t *s, const char *const *fields, int n_fields,
                        int pinyin, dq_buf_t *out)
{
    tvb_t v;
    memset(&v, 0, sizeof(v));
    int base = 0;
    for (int f = 0; f < n_fields; f++) {
        v.base = base;
        v.i = -1;
        v.weight = f < 3 ? 3u - (unsigned)f : 0u; /* A, B, C, then D */
        if (fields[f])
            dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, pinyin, fields[f], strlen(fields[f]),
                               tvb_token, &v);
        base += v.i + 2; /* one empty position between fields */
    }
    for (size_t k = 0; k < v.n; k++)
        v.e[k].p = v.text.data + v.e[k].off;
    if (v.n)
        qsort(v.e, v.n, sizeof(*v.e), tvb_cmp);
    size_t count_at = out->len, n_lex = 0;
    put_be(out, 0, 4);
    for (size_t a = 0; a < v.n;) {
        size_t b = a + 1;
        while (b < v.n && v.e[b].len == v.e[a].len &&
               memcmp(v.e[b].p, v.e[a].p, (size_t)v.e[a].len) == 0)
            b++;
        dq_buf_append(out, v.e[a].p, (size_t)v.e[a].len);
        dq_buf_putc(out, '\0');
        size_t npos_at = out->len;
        unsigned npos = 0, last = 0;
        put_be(out, 0, 2);
        for (size_t k = a; k < b && npos < PG_MAX_NUMPOS && last != PG_MAX_POS; k++) {
            if (npos && v.e[k].pos == last)
                continue; /* the same position: the first (highest weight) is kept */
            put_be(out, (v.e[k].weight << 14) | v.e[k].pos, 2);
            last = v.e[k].pos;
            npos++;
        }
        out->data[npos_at] = (char)(npos >> 8);
        out->data[npos_at + 1] = (char)(npos & 0xff);
        n_lex++;
        a = b;
    }
    for (int k = 0; k < 4; k++)
        out->data[count_at + (size_t)k] = (char)((n_lex >> (8 * (3 - k))) & 0xff);
    dq_buf_free(&v.text);
    free(v.e);
}

/* ---------------------------------------------------------------- tsquery */

/* The number of UTF-8 code points of s[0..n) that are not ASCII (-1 when any is ASCII). */
static int wide_chars(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80)
            return -1;
        if ((c & 0xC0) != 0x80)
            k++;
    }
    return k;
}

/* Appends phrase k as a <-> chain (weights "AB" or NULL); 0 when it has no tokens.
 * A chain that ends "... <-> XY <-> Y" (a Han, kana or hangul run: its last bigram, then its
 * last character, see search.h) ends at XY instead: in a document the bigram XY at position p
 * is made from the characters at p and p + 1, so Y is always at p + 1 and the two chains match
 * the same rows. For the common two-character query ("山水" -> '山水' <-> '水') that leaves one
 * lexeme, which the GIN index answers without reading the rows again (a phrase needs the
 * positions stored in each row: a recheck of every candidate). */
static int put_chain(const dq_fts_phrases_t *p, size_t k, const char *weights, dq_buf_t *out)
{
    size_t a = p->first[k], b = p->first[k + 1];
    if (a == b)
        return 0;
    if (b - a >= 2) {
        const char *x = p->text.data + p->tok_off[b - 2], *y = p->text.data + p->tok_off[b - 1];
        size_t xl = p->tok_len[b - 2], yl = p->tok_len[b - 1];
        if (wide_chars(x, xl) == 2 && wide_chars(y, yl) == 1 && yl < xl &&
            memcmp(x + xl - yl, y, yl) == 0)
            b--;
    }
    if (b - a > 1)
        dq_buf_putc(out, '(');
    for (size_t i = a; i < b; i++) {
        if (i > a)
            dq_buf_puts(out, " <-> ");
        put_lexeme(out, p->text.data + p->tok_off[i], (int)p->tok_len[i]);
        if (weights)
            dq_buf_printf(out, ":%s", weights);
    }
    if (b - a > 1)
        dq_buf_putc(out, ')');
    return 1;
}

void dq_pg_phrase_tsquery(const dq_fts_phrases_t *p, size_t k, dq_buf_t *out)
{
    put_chain(p, k, NULL, out);
}

int dq_pg_tsquery_split(const dq_search_t *s, const dq_search_plan_t *plan, dq_buf_t *exact,
                        dq_buf_t *phrased)
{
    if (plan->n_terms != 1)
        return 0;
    dq_fts_phrases_t p;
    dq_buf_t one = {0}, e = {0}, ph = {0};
    dq_fts_phrases(s, plan, 0, &p);
    /* the phrases of the one term, in dq_pg_tsquery's order */
    size_t k = 0;
    for (size_t i = 0; i < plan->n_ph; i++) {
        if (plan->ph[i].term != 0)
            continue;
        dq_buf_reset(&one);
        if (put_chain(&p, k++, NULL, &one)) {
            dq_buf_t *to = one.data[0] == '(' ? &ph : &e; /* '(': a chain of lexemes */
            if (to->len)
                dq_buf_puts(to, " | ");
            dq_buf_append(to, one.data, one.len);
        }
    }
    int split = e.len && ph.len;
    if (split) {
        dq_buf_append(exact, e.data, e.len);
        dq_buf_append(phrased, ph.data, ph.len);
    }
    dq_buf_free(&one);
    dq_buf_free(&e);
    dq_buf_free(&ph);
    dq_fts_phrases_free(&p);
    return split;
}

void dq_pg_tsquery(const dq_search_t *s, const dq_search_plan_t *plan, int what, dq_buf_t *out)
{
    dq_fts_phrases_t p;
    const char *w = what == DQ_RELIC_MATCH_TITLE ? "AB" : NULL;
    size_t start = out->len;
    dq_fts_phrases(s, plan, what == DQ_RELIC_MATCH_BOOST, &p);
    if (what == DQ_RELIC_MATCH_BOOST) {
        int n = 0;
        for (size_t k = 0; k < p.n_phrases; k++) {
            size_t mark = out->len;
            if (n)
                dq_buf_puts(out, " | ");
            if (put_chain(&p, k, NULL, out))
                n++;
            else
                out->len = mark;
        }
        goto out;
    }
    /* Walk the terms again to know which phrases belong together: dq_fts_phrases kept the
     * term order, so phrase k belongs to the k-th phrase of that walk. */
    size_t k = 0;
    for (int t = 0; t < plan->n_terms; t++) {
        size_t mark = out->len;
        int n = 0;
        if (t)
            dq_buf_puts(out, " & ");
        dq_buf_putc(out, '(');
        for (size_t i = 0; i < plan->n_ph; i++) {
            if (plan->ph[i].term != t)
                continue;
            size_t m2 = out->len;
            if (n)
                dq_buf_puts(out, " | ");
            if (put_chain(&p, k, w, out))
                n++;
            else
                out->len = m2;
            k++;
        }
        dq_buf_putc(out, ')');
        if (!n) { /* FTS5: a phrase without tokens matches nothing, so neither does the AND */
            (void)mark;
            out->len = start;
            goto out;
        }
    }
out:
    if (out->data)
        out->data[out->len] = '\0';
    dq_fts_phrases_free(&p);
}

