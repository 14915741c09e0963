/*
 * fts_aux.c: FTS5's auxiliary functions snippet() and highlight() (SQLite 3.40's fts5_aux.c:
 * its coalesced phrase instances, sentence finder and snippet scoring) re-stated in C over
 * phrase hits that search/'s tokenizer finds in a field's text, so that a backend can make
 * the same marked text as FTS5 without asking FTS5: the PostgreSQL backend for every
 * snippet, the SQLite backend for the few rows of a result page (issue 9: running snippet()
 * made FTS5 evaluate the query a third time). No SQL here and no storage: the caller brings
 * the fields' text and the plan; fts_aux.h says what each function does.
 */
#include "catalog/fts_aux.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- phrases */

/* A phrase's text as SQLite's renderer quotes it: the namespace byte first for pinyin and
 * initials (the tokenizer reads it). */
static void phrase_text(const dq_search_plan_t *p, const dq_search_phrase_t *ph, dq_buf_t *b)
{
    dq_buf_reset(b);
    if (ph->kind == DQ_SEARCH_PHRASE_PINYIN)
        dq_buf_putc(b, DQ_SEARCH_NS_PINYIN);
    else if (ph->kind == DQ_SEARCH_PHRASE_INITIALS)
        dq_buf_putc(b, DQ_SEARCH_NS_INITIALS);
    dq_buf_append(b, dq_search_phrase_text(p, ph), ph->len);
}

typedef struct {
    dq_fts_phrases_t *ph;
    size_t cap;
} collect_t;

static int collect_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    collect_t *c = ctx;
    dq_fts_phrases_t *p = c->ph;
    (void)colocated, (void)start, (void)end; /* query mode has no colocated tokens */
    if (len <= 0)
        return 0;
    if (p->n_tok == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        p->tok_off = dq_xrealloc(p->tok_off, c->cap * sizeof(size_t));
        p->tok_len = dq_xrealloc(p->tok_len, c->cap * sizeof(size_t));
    }
    p->tok_off[p->n_tok] = p->text.len;
    p->tok_len[p->n_tok] = (size_t)len;
    dq_buf_append(&p->text, tok, (size_t)len);
    p->n_tok++;
    return 0;
}

static void add_phrase(const dq_search_t *s, const dq_search_plan_t *plan,
                       const dq_search_phrase_t *ph, collect_t *c, dq_buf_t *tmp)
{
    dq_fts_phrases_t *p = c->ph;
    phrase_text(plan, ph, tmp);
    p->first = dq_xrealloc(p->first, (p->n_phrases + 2) * sizeof(size_t));
    p->first[p->n_phrases] = p->n_tok;
    dq_search_tokenize(s, DQ_SEARCH_MODE_QUERY, 1, tmp->data, tmp->len, collect_token, c);
    p->n_phrases++;
    p->first[p->n_phrases] = p->n_tok;
}

void dq_fts_phrases(const dq_search_t *s, const dq_search_plan_t *plan, int boost,
                   dq_fts_phrases_t *out)
{
    collect_t c = {out, 0};
    dq_buf_t tmp = {0};
    memset(out, 0, sizeof(*out));
    out->first = dq_xcalloc(1, sizeof(size_t));
    if (boost) {
        for (size_t i = 0; i < plan->n_ph; i++)
            if (plan->ph[i].term < 0)
                add_phrase(s, plan, &plan->ph[i], &c, &tmp);
    } else {
        /* the order of dq_sqlite_fts_render: terms in order, each term's phrases in order */
        for (int t = 0; t < plan->n_terms; t++)
            for (size_t i = 0; i < plan->n_ph; i++)
                if (plan->ph[i].term == t)
                    add_phrase(s, plan, &plan->ph[i], &c, &tmp);
    }
    dq_buf_free(&tmp);
}

void dq_fts_phrases_free(dq_fts_phrases_t *p)
{
    if (!p)
        return;
    dq_buf_free(&p->text);
    free(p->tok_off);
    free(p->tok_len);
    free(p->first);
    memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------- phrase hits */

typedef struct {
    dq_buf_t text; /* the field's document tokens, back to back */
    size_t *off, *len;
    int *pos;
    size_t n, cap;
    int i; /* current position */
} doc_t;

static int doc_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    doc_t *d = ctx;
    (void)start, (void)end;
    if (!colocated || d->i < 0)
        d->i++;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->off = dq_xrealloc(d->off, d->cap * sizeof(size_t));
        d->len = dq_xrealloc(d->len, d->cap * sizeof(size_t));
        d->pos = dq_xrealloc(d->pos, d->cap * sizeof(int));
    }
    d->off[d->n] = d->text.len;
    d->len[d->n] = (size_t)(len > 0 ? len : 0);
    d->pos[d->n] = d->i;
    dq_buf_append(&d->text, tok, (size_t)(len > 0 ? len : 0));
    d->n++;
    return 0;
}

/* 1 when position pos of d holds token q (first[] indexes d's tokens by position). */
static int holds(const doc_t *d, const size_t *first, int n_pos, int pos, const char *q,
                 size_t qlen)
{
    if (pos >= n_pos)
        return 0;
    for (size_t j = first[pos]; j < first[pos + 1]; j++)
        if (d->len[j] == qlen && memcmp(d->text.data + d->off[j], q, qlen) == 0)
            return 1;
    return 0;
}

int dq_fts_field_hits(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *text, int col,
                     dq_fts_inst_t **inst, size_t *n_inst, size_t *cap_inst)
{
    doc_t d = {.i = -1};
    if (text)
        dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, 1, text, strlen(text), doc_token, &d);
    int n_pos = d.i + 1;
    size_t *first = dq_xmalloc((size_t)(n_pos + 1) * sizeof(size_t));
    for (int p = 0, j = 0; p <= n_pos; p++) {
        while ((size_t)j < d.n && d.pos[j] < p)
            j++;
        first[p] = (size_t)j;
    }
    for (int p = 0; p < n_pos; p++)
        for (size_t k = 0; k < ph->n_phrases; k++) {
            size_t a = ph->first[k], b = ph->first[k + 1];
            if (a == b)
                continue;
            int ok = 1;
            for (size_t i = a; i < b && ok; i++)
                ok = holds(&d, first, n_pos, p + (int)(i - a), ph->text.data + ph->tok_off[i],
                           ph->tok_len[i]);
            if (!ok)
                continue;
            if (*n_inst == *cap_inst) {
                *cap_inst = *cap_inst ? *cap_inst * 2 : 32;
                *inst = dq_xrealloc(*inst, *cap_inst * sizeof(**inst));
            }
            (*inst)[(*n_inst)++] = (dq_fts_inst_t){(int)k, col, p};
        }
    free(first);
    dq_buf_free(&d.text);
    free(d.off);
    free(d.len);
    free(d.pos);
    return n_pos;
}

/* ---------------------------------------------------------------- FTS5's highlight */

static int phrase_size(const dq_fts_phrases_t *ph, int k)
{
    return (int)(ph->first[k + 1] - ph->first[k]);
}

/* fts5_aux.c CInstIter: coalesced instances of one column. */
typedef struct {
    const dq_fts_inst_t *inst;
    size_t n, i;
    const dq_fts_phrases_t *ph;
    int col;
    int start, end;
} citer_t;

static void citer_next(citer_t *it)
{
    it->start = it->end = -1;
    while (it->i < it->n) {
        const dq_fts_inst_t *x = &it->inst[it->i];
        if (x->col == it->col) {
            int e = x->pos - 1 + phrase_size(it->ph, x->phrase);
            if (it->start < 0) {
                it->start = x->pos;
                it->end = e;
            } else if (x->pos <= it->end) {
                if (e > it->end)
                    it->end = e;
            } else {
                break;
            }
        }
        it->i++;
    }
}

/* fts5_aux.c HighlightContext and fts5HighlightCb (SQLite 3.40). */
typedef struct {
    int range_start, range_end; /* range_end 0: the whole text */
    const char *in;
    citer_t it;
    int pos, off;
    dq_buf_t *out;
} hl_t;

static int hl_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    hl_t *p = ctx;
    (void)tok, (void)len;
    if (colocated)
        return 0;
    int pos = p->pos++;
    if (p->range_end > 0) {
        if (pos < p->range_start || pos > p->range_end)
            return 0;
        if (p->range_start && pos == p->range_start)
            p->off = start;
    }
    if (pos == p->it.start) {
        dq_buf_append(p->out, p->in + p->off, (size_t)(start - p->off));
        dq_buf_putc(p->out, '\x01');
        p->off = start;
    }
    if (pos == p->it.end) {
        if (p->range_end && p->it.start < p->range_start)
            dq_buf_putc(p->out, '\x01');
        dq_buf_append(p->out, p->in + p->off, (size_t)(end - p->off));
        dq_buf_putc(p->out, '\x02');
        p->off = end;
        citer_next(&p->it);
    }
    if (p->range_end > 0 && pos == p->range_end) {
        dq_buf_append(p->out, p->in + p->off, (size_t)(end - p->off));
        p->off = end;
        if (pos >= p->it.start && pos < p->it.end)
            dq_buf_putc(p->out, '\x02');
    }
    return 0;
}

void dq_fts_highlight(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *text,
                     dq_buf_t *out)
{
    dq_fts_inst_t *inst = NULL;
    size_t n = 0, cap = 0;
    if (!text)
        return;
    dq_fts_field_hits(s, ph, text, 0, &inst, &n, &cap);
    hl_t h = {.in = text, .it = {inst, n, 0, ph, 0, -1, -1}, .out = out};
    citer_next(&h.it);
    size_t len = strlen(text);
    dq_search_tokenize(s, DQ_SEARCH_MODE_AUX, 1, text, len, hl_token, &h);
    dq_buf_append(out, text + h.off, len - (size_t)h.off);
    free(inst);
}

/* ---------------------------------------------------------------- FTS5's snippet */

typedef struct {
    const char *doc;
    int pos;
    int *first;
    size_t n, cap;
} sfind_t;

static int sfind_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    sfind_t *p = ctx;
    (void)tok, (void)len, (void)end;
    if (colocated)
        return 0;
    int add = -1;
    if (p->pos > 0) {
        int i;
        char c = 0;
        for (i = start - 1; i >= 0; i--) {
            c = p->doc[i];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                break;
        }
        if (i != start - 1 && (c == '.' || c == ':'))
            add = p->pos;
    } else {
        add = 0;
    }
    if (add >= 0) {
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 64;
            p->first = dq_xrealloc(p->first, p->cap * sizeof(int));
        }
        p->first[p->n++] = add;
    }
    p->pos++;
    return 0;
}

/* fts5SnippetScore over the instances of column col. */
static int snippet_score(const dq_fts_phrases_t *ph, const dq_fts_inst_t *inst, size_t n,
                         int n_docsize, unsigned char *seen, int col, int at, int n_token, int *adj)
{
    int first = -1, last = 0, score = 0;
    int64_t end = (int64_t)at + n_token;
    for (size_t i = 0; i < n; i++) {
        const dq_fts_inst_t *x = &inst[i];
        if (x->col == col && x->pos >= at && x->pos < end) {
            score += seen[x->phrase] ? 1 : 1000;
            seen[x->phrase] = 1;
            if (first < 0)
                first = x->pos;
            last = x->pos + phrase_size(ph, x->phrase);
        }
    }
    if (adj) {
        int64_t a = first - (n_token - (last - first)) / 2;
        if (a + n_token > n_docsize)
            a = n_docsize - n_token;
        if (a < 0)
            a = 0;
        *adj = (int)a;
    }
    return score;
}

void dq_fts_snippet(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *const *fields,
                   int n_fields, int n_tokens, dq_buf_t *out)
{
    dq_fts_inst_t *inst = NULL;
    size_t n = 0, cap = 0;
    int *sizes = dq_xcalloc((size_t)n_fields, sizeof(int));
    unsigned char *seen = dq_xcalloc(ph->n_phrases + 1, 1);
    for (int c = 0; c < n_fields; c++)
        sizes[c] = dq_fts_field_hits(s, ph, fields[c], c, &inst, &n, &cap);
    int best_col = 0, best_start = 0, best_score = 0, col_size = 0;
    sfind_t sf = {0};
    for (int c = 0; c < n_fields; c++) {
        const char *doc = fields[c] ? fields[c] : "";
        sf.doc = doc;
        sf.pos = 0;
        sf.n = 0;
        dq_search_tokenize(s, DQ_SEARCH_MODE_AUX, 1, doc, strlen(doc), sfind_token, &sf);
        int n_doc = sizes[c];
        for (size_t ii = 0; ii < n; ii++) {
            if (inst[ii].col != c)
                continue;
            int io = inst[ii].pos, adj = 0;
            memset(seen, 0, ph->n_phrases + 1);
            int score = snippet_score(ph, inst, n, n_doc, seen, c, io, n_tokens, &adj);
            if (score > best_score) {
                best_score = score;
                best_col = c;
                best_start = adj;
                col_size = n_doc;
            }
            if (sf.n && n_doc > n_tokens) {
                size_t jj;
                for (jj = 0; jj < sf.n - 1; jj++)
                    if (sf.first[jj + 1] > io)
                        break;
                if (sf.first[jj] < io) {
                    memset(seen, 0, ph->n_phrases + 1);
                    score =
                        snippet_score(ph, inst, n, n_doc, seen, c, sf.first[jj], n_tokens, NULL);
                    score += sf.first[jj] == 0 ? 120 : 100;
                    if (score > best_score) {
                        best_score = score;
                        best_col = c;
                        best_start = sf.first[jj];
                        col_size = n_doc;
                    }
                }
            }
        }
    }
    const char *in = fields[best_col] ? fields[best_col] : "";
    if (col_size == 0)
        col_size = sizes[best_col];
    hl_t h = {.range_start = best_start,
              .range_end = best_start + n_tokens - 1,
              .in = in,
              .it = {inst, n, 0, ph, best_col, -1, -1},
              .out = out};
    citer_next(&h.it);
    if (best_start > 0)
        dq_buf_puts(out, "…");
    while (h.it.start >= 0 && h.it.start < best_start)
        citer_next(&h.it);
    size_t len = strlen(in);
    dq_search_tokenize(s, DQ_SEARCH_MODE_AUX, 1, in, len, hl_token, &h);
    if (h.range_end >= col_size - 1)
        dq_buf_append(out, in + h.off, len - (size_t)h.off);
    else
        dq_buf_puts(out, "…");
    free(sf.first);
    free(seen);
    free(sizes);
    free(inst);
}
