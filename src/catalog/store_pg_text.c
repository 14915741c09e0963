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
 * the same relative positions.
 *
 * relic_fts holds more (migration 25, "pair lexemes" below): every two adjacent tokens of one
 * kind as one lexeme, and a marker for each such token that occurs at more than one position,
 * so that a phrase is an AND of lexemes that the GIN index answers without reading a row. Limits PostgreSQL sets and FTS5 does not: a tsvector position
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

/* ---------------------------------------------------------------- pair lexemes */

/* Migration 25 (issue 15). A phrase of two or more tokens ('qiu' <-> 'shan', the bigram chain
 * of 溪山行旅) made PostgreSQL read every candidate row's tsvector from TOAST to compare
 * positions (25-30 µs a row; q=qiushan at 500,000 relics: 19,000 candidates, 410 ms of server
 * CPU). relic_fts therefore also holds, at write time:
 *  - a pair lexeme for every two tokens of one kind at adjacent positions (pair_lexeme): two
 *    pinyin syllables ("\1qiu\1shan"), two Han (kana, hangul) bigrams ("溪山" + "山行" = the
 *    trigram "溪山行"); pairs_kind says why not initials or Latin words. A pair lexeme is
 *    present exactly where its phrase of two tokens is, so a two-token phrase becomes one
 *    lexeme: GIN answers it alone.
 *  - a marker ("\4" + token) for every token of those kinds that occurs at two or more
 *    positions of the record with different right partners (the tokens it makes pairs with
 *    at the next position). A longer phrase t1 .. tn is the AND of its n - 1 pair lexemes
 *    wherever its inner tokens t2 .. t(n-1) have no marker: by induction from the left, once
 *    t1 .. tj are in place with tj at s, the pair (tj, t(j+1)) at any s' puts t(j+1) among
 *    tj's right partners at s', which are those at s, so t(j+1) is at s + 1. (A token at one
 *    position, or repeated with the same text after it each time, as a title repeated in a
 *    description, needs no marker.) Where a marker says an inner token's contexts differ,
 *    the chain of pair lexemes (P1 <-> P2 ...) is checked against the positions as before,
 *    on the few rows that hold every pair.
 * Unigrams get no pairs (a Han unigram chain is the bigram already). The namespace bytes
 * (search.h; \4 is ours) and the space of a word pair never occur in a token, so no pair
 * lexeme or marker equals a token or another pair. The query side renders the same forms
 * (put_chain), from the same function. */

#define PG_NS_MARK '\x04'

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

enum { TK_OTHER, TK_BIGRAM, TK_PINYIN, TK_INITIALS, TK_WORD };

static int tok_kind(const char *t, size_t len)
{
    if (len == 0)
        return TK_OTHER;
    if (t[0] == DQ_SEARCH_NS_PINYIN)
        return TK_PINYIN;
    if (t[0] == DQ_SEARCH_NS_INITIALS)
        return len == 3 ? TK_INITIALS : TK_OTHER;
    if ((unsigned char)t[0] < 0x80) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
                return TK_OTHER;
        return TK_WORD;
    }
    return wide_chars(t, len) == 2 ? TK_BIGRAM : TK_OTHER;
}

/* The byte length of the UTF-8 sequence that starts with c. */
static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The kinds that make pairs. Initials and words could (the cases below say how), but each
 * pair is an index entry that every import pays for (issue 15, 50,000 records: the server's
 * time per record 164 -> 322-345 µs with all four kinds, 39 of the 94 new lexemes per record
 * theirs), and what they buy is small: initials phrases of four or more characters are
 * rare and answered by their exact lexeme first (xsxl), and an English phrase's inner words
 * ("the", "in") repeat in most records, so it is checked against positions anyway. */
static int pairs_kind(int k)
{
    return k == TK_BIGRAM || k == TK_PINYIN;
}

/* Appends to out the pair lexeme of the tokens a then b (a at position p, b at p + 1); 0 (and
 * nothing appended) when tokens of their kinds make none. */
static int pair_lexeme(const char *a, size_t al, const char *b, size_t bl, dq_buf_t *out)
{
    int k = tok_kind(a, al);
    if (!pairs_kind(k) || tok_kind(b, bl) != k)
        return 0;
    switch (k) {
    case TK_BIGRAM: { /* XY then YZ: XYZ */
        size_t x = utf8_len((unsigned char)a[0]), y = utf8_len((unsigned char)b[0]);
        if (al - x != y || memcmp(a + x, b, y) != 0 || bl <= y)
            return 0;
        dq_buf_append(out, a, al);
        dq_buf_append(out, b + y, bl - y);
        return 1;
    }
    case TK_INITIALS: /* \2xy then \2yz: \2xyz */
        if (a[2] != b[1])
            return 0;
        dq_buf_append(out, a, al);
        dq_buf_putc(out, b[2]);
        return 1;
    case TK_PINYIN: /* \1qiu\1shan: each syllable starts with its namespace byte */
        dq_buf_append(out, a, al);
        dq_buf_append(out, b, bl);
        return 1;
    default: /* TK_WORD: words hold no space */
        dq_buf_append(out, a, al);
        dq_buf_putc(out, ' ');
        dq_buf_append(out, b, bl);
        return 1;
    }
}

/* ---------------------------------------------------------------- tsvector */

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

/* A tsvector's entries before they are written: one per token (or pair lexeme, marker). */
typedef struct {
    size_t off; /* into the token text; then p */
    const char *p;
    int len;
    unsigned pos, weight; /* pos is tpos clamped at PG_MAX_POS; weight A = 3 .. D = 0 */
    int tpos;             /* the tokenizer's position */
    int made;             /* 1: a pair lexeme or a marker (made here, not by the tokenizer) */
    size_t rs_off, rs_len; /* a token's right partners (tvb_pairs), in tvb_t.rs */
    uint64_t key;          /* lex_key of the lexeme (tvb_sort) */
} tvb_ent_t;

typedef struct {
    dq_buf_t text, rs;
    tvb_ent_t *e;
    size_t n, cap;
    int base, i;
    unsigned weight;
} tvb_t;

static void tvb_add(tvb_t *v, const char *tok, size_t len, int tpos, unsigned weight, int made)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 256;
        v->e = dq_xrealloc(v->e, v->cap * sizeof(*v->e));
    }
    unsigned pos = tpos > PG_MAX_POS ? PG_MAX_POS : (unsigned)tpos;
    v->e[v->n++] = (tvb_ent_t){v->text.len, NULL, (int)len, pos, weight, tpos, made, 0, 0, 0};
    dq_buf_append(&v->text, tok, len);
}

static int tvb_token(void *ctx, int colocated, const char *tok, int len, int start, int end)
{
    tvb_t *v = ctx;
    (void)start, (void)end;
    if (!colocated || v->i < 0)
        v->i++;
    if (len > 0)
        tvb_add(v, tok, (size_t)len, v->base + v->i + 1, v->weight, 0);
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

/* The first 8 bytes of a lexeme as a big-endian number, zero-padded. Where two keys differ
 * they order their lexemes as tsCompareString does (memcmp, then the shorter first): at the
 * first differing byte either both strings have a byte, or the shorter one's padding zero
 * meets a byte of the longer that is above zero (a tie there is not a difference). Equal
 * keys need the whole compare. */
static uint64_t lex_key(const char *s, int len)
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = k << 8 | (i < len ? (unsigned char)s[i] : 0u);
    return k;
}

/* One entry to sort: its key and where it is. */
typedef struct {
    uint64_t key;
    size_t i;
} tvb_key_t;

/* 1 when entry a must come after b (tvb_cmp's order, key first). */
static int tvb_after(const tvb_ent_t *e, const tvb_key_t *a, const tvb_key_t *b)
{
    if (a->key != b->key)
        return a->key > b->key;
    return tvb_cmp(&e[a->i], &e[b->i]) > 0;
}

/* Sorts v->e[from..n) by tvb_cmp, then merges it into v->e[0..from) (sorted before): a stable
 * merge sort of (key, index) pairs with the comparison inlined. qsort moving whole entries and
 * calling memcmp per comparison was a fifth of an import's client CPU (issue 15: two sorts of
 * ~400 entries per relic; perf at 20,000 relics: qsort 20 %, memcmp 10 %). */
static void tvb_sort_from(tvb_t *v, size_t from)
{
    size_t n = v->n;
    for (size_t k = from; k < n; k++) {
        v->e[k].p = v->text.data + v->e[k].off;
        v->e[k].key = lex_key(v->e[k].p, v->e[k].len);
    }
    for (size_t k = 0; k < from; k++) /* the text may have moved since */
        v->e[k].p = v->text.data + v->e[k].off;
    if (n - from < 2 && from == 0)
        return;
    tvb_key_t *a = dq_xmalloc(2 * n * sizeof(*a)), *tmp = a + n;
    for (size_t k = 0; k < n; k++)
        a[k] = (tvb_key_t){v->e[k].key, k};
    /* bottom-up over the tail: runs of width w merged pairwise into tmp, then swapped */
    tvb_key_t *src = a + from, *dst = tmp + from;
    size_t m = n - from;
    for (size_t w = 1; w < m; w *= 2) {
        for (size_t lo = 0; lo < m; lo += 2 * w) {
            size_t mid = lo + w < m ? lo + w : m, hi = lo + 2 * w < m ? lo + 2 * w : m;
            size_t x = lo, y = mid, o = lo;
            while (x < mid && y < hi)
                dst[o++] = tvb_after(v->e, &src[x], &src[y]) ? src[y++] : src[x++];
            while (x < mid)
                dst[o++] = src[x++];
            while (y < hi)
                dst[o++] = src[y++];
        }
        tvb_key_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a + from)
        memcpy(a + from, src, m * sizeof(*a));
    /* the sorted head and the sorted tail, merged into tmp (equal ones: the head's first) */
    size_t x = 0, y = from, o = 0;
    while (x < from && y < n)
        tmp[o++] = tvb_after(v->e, &a[x], &a[y]) ? a[y++] : a[x++];
    while (x < from)
        tmp[o++] = a[x++];
    while (y < n)
        tmp[o++] = a[y++];
    tvb_ent_t *e = dq_xmalloc(v->cap * sizeof(*e));
    for (size_t k = 0; k < n; k++)
        e[k] = v->e[tmp[k].i];
    free(v->e);
    v->e = e;
    free(a);
}

static void tvb_sort(tvb_t *v)
{
    tvb_sort_from(v, 0);
}

/* Tokenizes the fields into v (in position order), weights A, B, C, D; *n_pos (may be NULL)
 * gets the positions used. */
static void tvb_fill(const dq_search_t *s, const char *const *fields, int n_fields, int pinyin,
                     tvb_t *v, int64_t *n_pos)
{
    int base = 0;
    int64_t total = 0;
    for (int f = 0; f < n_fields; f++) {
        v->base = base;
        v->i = -1;
        v->weight = f < 3 ? 3u - (unsigned)f : 0u; /* A, B, C, then D */
        if (fields[f])
            dq_search_tokenize(s, DQ_SEARCH_MODE_DOCUMENT, pinyin, fields[f], strlen(fields[f]),
                               tvb_token, v);
        total += v->i + 1;
        base += v->i + 2; /* one empty position between fields */
    }
    if (n_pos)
        *n_pos = total;
}

/* Adds the pair lexemes and markers of v's tokens (see "pair lexemes"); leaves v sorted. */
static void tvb_pairs(tvb_t *v)
{
    dq_buf_t pair = {0};
    size_t n_tok = v->n;
    /* the tokens come in position order: the groups of positions p and p + 1 side by side */
    for (size_t a = 0; a < n_tok;) {
        size_t b = a;
        while (b < n_tok && v->e[b].tpos == v->e[a].tpos)
            b++;
        size_t c = b;
        while (c < n_tok && v->e[c].tpos == v->e[a].tpos + 1)
            c++;
        for (size_t i = a; i < b; i++) {
            v->e[i].rs_off = v->rs.len;
            for (size_t j = b; j < c; j++) {
                dq_buf_reset(&pair);
                /* the texts are copied first: tvb_add may move them */
                if (pair_lexeme(v->text.data + v->e[i].off, (size_t)v->e[i].len,
                                v->text.data + v->e[j].off, (size_t)v->e[j].len, &pair)) {
                    tvb_add(v, pair.data, pair.len, v->e[i].tpos, v->e[i].weight, 1);
                    dq_buf_append(&v->rs, v->text.data + v->e[j].off, (size_t)v->e[j].len);
                    dq_buf_putc(&v->rs, '\0');
                }
            }
            v->e[i].rs_len = v->rs.len - v->e[i].rs_off;
        }
        a = b;
    }
    tvb_sort(v);
    /* markers: tokens of a paired kind at two or more positions whose right partners differ
     * between them (see "pair lexemes"); one position, the highest weight of the token's, so
     * that fts_ab (weights A and B) keeps the marker exactly when it keeps the token */
    size_t n = v->n;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        int differ = 0;
        unsigned w = v->e[a].weight;
        /* by offset, not p: tvb_add below may move the text */
        const char *x = v->text.data + v->e[a].off;
        while (b < n && v->e[b].key == v->e[a].key && v->e[b].len == v->e[a].len &&
               memcmp(v->text.data + v->e[b].off, x, (size_t)v->e[a].len) == 0) {
            const tvb_ent_t *f = &v->e[a], *g = &v->e[b];
            differ |= g->tpos != f->tpos &&
                      (g->rs_len != f->rs_len ||
                       /* no right partners at all leaves rs empty (data NULL): equal */
                       (f->rs_len &&
                        memcmp(v->rs.data + g->rs_off, v->rs.data + f->rs_off, f->rs_len) != 0));
            w = g->weight > w ? g->weight : w;
            b++;
        }
        if (differ && !v->e[a].made && pairs_kind(tok_kind(x, (size_t)v->e[a].len))) {
            dq_buf_reset(&pair);
            dq_buf_putc(&pair, PG_NS_MARK);
            dq_buf_append(&pair, x, (size_t)v->e[a].len);
            tvb_add(v, pair.data, pair.len, v->e[a].tpos, w, 1);
        }
        a = b;
    }
    if (v->n > n)
        tvb_sort_from(v, n); /* the markers, merged into the sorted tokens */
    dq_buf_free(&pair);
}

/* The text literal of v (sorted): each lexeme once, with its positions and weights. */
static void tvb_text(const tvb_t *v, dq_buf_t *out)
{
    static const char wl[] = "DCBA";
    for (size_t a = 0; a < v->n;) {
        size_t b = a + 1;
        while (b < v->n && v->e[b].key == v->e[a].key && v->e[b].len == v->e[a].len &&
               memcmp(v->e[b].p, v->e[a].p, (size_t)v->e[a].len) == 0)
            b++;
        if (out->len)
            dq_buf_putc(out, ' ');
        put_lexeme(out, v->e[a].p, v->e[a].len);
        for (size_t k = a; k < b; k++)
            dq_buf_printf(out, "%c%u%c", k == a ? ':' : ',', v->e[k].pos, wl[v->e[k].weight]);
        a = b;
    }
}

static void tvb_free(tvb_t *v)
{
    dq_buf_free(&v->text);
    dq_buf_free(&v->rs);
    free(v->e);
}

typedef struct {
    dq_buf_t *out;
    int base; /* tsvector position of the field's first token, minus 1 */
    int i;    /* the field's current token position (-1 before the first) */
    char weight;
} tv_t;

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

void dq_pg_tsvector(const dq_search_t *s, const char *const *fields, int n_fields, int flags,
                    dq_buf_t *out, int64_t *n_pos)
{
    static const char weights[] = "ABCD";
    int pinyin = flags & 1;
    if (flags & DQ_PG_PAIRS) {
        tvb_t v;
        memset(&v, 0, sizeof(v));
        tvb_fill(s, fields, n_fields, pinyin, &v, n_pos);
        tvb_pairs(&v);
        tvb_text(&v, out);
        tvb_free(&v);
        return;
    }
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

static void put_be(dq_buf_t *out, uint32_t v, int bytes)
{
    char d[4];
    for (int k = 0; k < bytes; k++)
        d[k] = (char)((v >> (8 * (bytes - 1 - k))) & 0xff);
    dq_buf_append(out, d, (size_t)bytes);
}

void dq_pg_tsvector_bin(const dq_search_t *s, const char *const *fields, int n_fields, int flags,
                        dq_buf_t *out)
{
    tvb_t v;
    memset(&v, 0, sizeof(v));
    tvb_fill(s, fields, n_fields, flags & 1, &v, NULL);
    if (flags & DQ_PG_PAIRS)
        tvb_pairs(&v);
    else
        tvb_sort(&v);
    size_t count_at = out->len, n_lex = 0;
    put_be(out, 0, 4);
    for (size_t a = 0; a < v.n;) {
        size_t b = a + 1;
        while (b < v.n && v.e[b].key == v.e[a].key && v.e[b].len == v.e[a].len &&
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
    tvb_free(&v);
}

/* ---------------------------------------------------------------- tsquery */

/* Appends phrase k as a <-> chain (weights "AB" or NULL); 0 when it has no tokens.
 * A chain that ends "... <-> XY <-> Y" (a Han, kana or hangul run: its last bigram, then its
 * last character, see search.h) ends at XY instead: in a document the bigram XY at position p
 * is made from the characters at p and p + 1, so Y is always at p + 1 and the two chains match
 * the same rows. For the common two-character query ("山水" -> '山水' <-> '水') that leaves one
 * lexeme, which the GIN index answers without reading the rows again (a phrase needs the
 * positions stored in each row: a recheck of every candidate). */
static void put_weighted(dq_buf_t *out, const char *lex, size_t len, const char *weights)
{
    put_lexeme(out, lex, (int)len);
    if (weights)
        dq_buf_printf(out, ":%s", weights);
}

/* Tokens a .. b - 1 of p (b - a >= 2) as pair lexemes (pairs: relic_fts, migration 25): one
 * lexeme for two tokens; for more, the AND of the pairs where no inner token repeats (no
 * marker), else the chain of the pairs, which PostgreSQL checks against positions: GIN answers
 * the first part alone, so only rows with a marker are read again. 0 (nothing appended) when
 * some two neighbours make no pair lexeme (tokens of two kinds, unigrams). */
static int put_pairs(const dq_fts_phrases_t *p, size_t a, size_t b, const char *weights,
                     dq_buf_t *out)
{
    dq_buf_t lex = {0};
    size_t n = b - a - 1, *off = dq_xmalloc((n + 1) * sizeof(*off));
    int ok = 1;
    for (size_t i = a; i + 1 < b && ok; i++) {
        off[i - a] = lex.len;
        ok = pair_lexeme(p->text.data + p->tok_off[i], p->tok_len[i],
                         p->text.data + p->tok_off[i + 1], p->tok_len[i + 1], &lex);
    }
    off[n] = lex.len;
    if (ok && n == 1) {
        put_weighted(out, lex.data, lex.len, weights);
    } else if (ok) {
        dq_buf_puts(out, "((");
        for (size_t i = 0; i < n; i++) {
            if (i)
                dq_buf_puts(out, " & ");
            put_weighted(out, lex.data + off[i], off[i + 1] - off[i], weights);
        }
        dq_buf_t m = {0};
        for (size_t i = a + 1; i + 1 < b; i++) { /* the inner tokens occur once */
            dq_buf_reset(&m);
            dq_buf_putc(&m, PG_NS_MARK);
            dq_buf_append(&m, p->text.data + p->tok_off[i], p->tok_len[i]);
            dq_buf_puts(out, " & !");
            put_weighted(out, m.data, m.len, weights);
        }
        dq_buf_free(&m);
        dq_buf_puts(out, ") | (");
        for (size_t i = 0; i < n; i++) {
            if (i)
                dq_buf_puts(out, " <-> ");
            put_weighted(out, lex.data + off[i], off[i + 1] - off[i], weights);
        }
        dq_buf_puts(out, "))");
    }
    free(off);
    dq_buf_free(&lex);
    return ok;
}

/* Appends phrase k as a <-> chain (weights "AB" or NULL); 0 when it has no tokens. pairs: as
 * pair lexemes where its tokens make them (put_pairs), for relic_fts.
 * A chain that ends "... <-> XY <-> Y" (a Han, kana or hangul run: its last bigram, then its
 * last character, see search.h) ends at XY instead: in a document the bigram XY at position p
 * is made from the characters at p and p + 1, so Y is always at p + 1 and the two chains match
 * the same rows. For the common two-character query ("山水" -> '山水' <-> '水') that leaves one
 * lexeme, which the GIN index answers without reading the rows again (a phrase needs the
 * positions stored in each row: a recheck of every candidate). */
static int put_chain(const dq_fts_phrases_t *p, size_t k, const char *weights, int pairs,
                     dq_buf_t *out)
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
    if (pairs && b - a > 1 && put_pairs(p, a, b, weights, out))
        return 1;
    if (b - a > 1)
        dq_buf_putc(out, '(');
    for (size_t i = a; i < b; i++) {
        if (i > a)
            dq_buf_puts(out, " <-> ");
        put_weighted(out, p->text.data + p->tok_off[i], p->tok_len[i], weights);
    }
    if (b - a > 1)
        dq_buf_putc(out, ')');
    return 1;
}

void dq_pg_phrase_tsquery(const dq_fts_phrases_t *p, size_t k, dq_buf_t *out)
{
    put_chain(p, k, NULL, 0, out);
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
        if (put_chain(&p, k++, NULL, 1, &one)) {
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

/* The AND of plan's terms (only: that term alone, -1 all), each the | of its phrases as
 * put_chain writes them, in parentheses; 0 when a term has no phrase with tokens (FTS5: a
 * phrase without tokens matches nothing, so neither does the AND). p: the plan's phrases
 * (dq_fts_phrases, without the boost phrases). */
static int put_terms(const dq_fts_phrases_t *p, const dq_search_plan_t *plan, int only,
                     const char *w, int pairs, dq_buf_t *out)
{
    /* Walk the terms again to know which phrases belong together: dq_fts_phrases kept the
     * term order, so phrase k belongs to the k-th phrase of that walk. */
    size_t k = 0;
    for (int t = 0; t < plan->n_terms; t++) {
        int n = 0, put = only < 0 || only == t;
        if (put && only < 0 && t)
            dq_buf_puts(out, " & ");
        if (put)
            dq_buf_putc(out, '(');
        for (size_t i = 0; i < plan->n_ph; i++) {
            if (plan->ph[i].term != t)
                continue;
            if (put) {
                size_t m2 = out->len;
                if (n)
                    dq_buf_puts(out, " | ");
                if (put_chain(p, k, w, pairs, out))
                    n++;
                else
                    out->len = m2;
            }
            k++;
        }
        if (put)
            dq_buf_putc(out, ')');
        if (put && !n)
            return 0;
    }
    return 1;
}

void dq_pg_tsquery(const dq_search_t *s, const dq_search_plan_t *plan, int what, dq_buf_t *out)
{
    dq_fts_phrases_t p;
    int pairs = (what & DQ_PG_PAIRS) != 0;
    what &= ~DQ_PG_PAIRS;
    const char *w = what == DQ_RELIC_MATCH_TITLE ? "AB" : NULL;
    size_t start = out->len;
    dq_fts_phrases(s, plan, what == DQ_RELIC_MATCH_BOOST, &p);
    if (what == DQ_RELIC_MATCH_BOOST) {
        int n = 0;
        for (size_t k = 0; k < p.n_phrases; k++) {
            size_t mark = out->len;
            if (n)
                dq_buf_puts(out, " | ");
            if (put_chain(&p, k, NULL, pairs, out))
                n++;
            else
                out->len = mark;
        }
        goto out;
    }
    if (!put_terms(&p, plan, -1, w, pairs, out))
        out->len = start;
out:
    if (out->data)
        out->data[out->len] = '\0';
    dq_fts_phrases_free(&p);
}

void dq_pg_tsquery_term(const dq_search_t *s, const dq_search_plan_t *plan, int term,
                        dq_buf_t *out)
{
    dq_fts_phrases_t p;
    size_t start = out->len;
    dq_fts_phrases(s, plan, 0, &p);
    if (!put_terms(&p, plan, term, NULL, 1, out))
        out->len = start;
    if (out->data)
        out->data[out->len] = '\0';
    dq_fts_phrases_free(&p);
}

