/*
 * search/tokenize.c: the FTS5 tokenizer and its SQLite glue. One pass over the text, one code
 * point at a time: words are folded into a fixed stack buffer, Han runs are gathered (stack
 * array, heap only for runs over 256 characters), normalised, and emitted with colocated
 * bigram, syllable and initials tokens (layout in search.h). No allocation per token: every
 * token is built in a small stack buffer or points into the precomputed syllable table.
 * The same function serves documents, queries and highlight(), which is what keeps positions
 * and offsets consistent between the index and the snippets.
 */
#include "search/search_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 96 /* bytes of one word token; longer words are cut (still one token) */
#define RUN_STACK 256

typedef struct {
    const dq_search_t *s;
    const char *src;
    int query; /* FTS5_TOKENIZE_QUERY: Han runs become bigram phrases, no colocated tokens */
    int aux;   /* FTS5_TOKENIZE_AUX (highlight, snippet): one plain token per position */
    int notail; /* a query string that began with DQ_SEARCH_NS_NOTAIL (search.h) */
    int pinyin;
    dq_search_token_fn tok;
    void *ctx;
    /* notail: the unigram that ended the last Han run, held back until another token
     * follows it (then it is sent first) or the text ends (then it is dropped) */
    char held[8];
    int held_len, held_start, held_end;
} tk_t;

/* Sends the held unigram, if any (notail queries). */
static int flush_held(tk_t *k)
{
    if (!k->held_len)
        return 0;
    int l = k->held_len;
    k->held_len = 0;
    return k->tok(k->ctx, 0, k->held, l, k->held_start, k->held_end);
}

/* ---------------------------------------------------------------- words */

/* Harman's S-stemmer (1991), on ASCII letters only: "ies" -> "y" (not "aies"/"eies"),
 * "es" -> "e" (not "aes"/"ees"/"oes"), "s" -> "" (not "us"/"ss"). It folds plurals and little
 * else, so "landscapes" finds "landscape" without porter's surprises on names and pinyin.
 * Rewrites w in place and returns the new length. */
static size_t s_stem(char *w, size_t n)
{
    if (n < 4 || w[n - 1] != 's')
        return n;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n;
    char a = w[n - 2], b = w[n - 3], c = w[n - 4];
    if (a == 'e' && b == 'i' && c != 'a' && c != 'e') {
        w[n - 3] = 'y';
        return n - 2;
    }
    if (a == 'e' && (b == 'a' || b == 'e' || b == 'o'))
        return n;
    if (a == 'u' || a == 's')
        return n;
    return n - 1;
}

static int emit_word(tk_t *k, char *w, size_t n, size_t start, size_t end)
{
    int rc = flush_held(k);
    if (rc)
        return rc;
    n = s_stem(w, n);
    return k->tok(k->ctx, 0, w, (int)n, (int)start, (int)end);
}

/* ---------------------------------------------------------------- Han runs */

static int emit_run(tk_t *k, han_t *run, size_t n)
{
    const tables_t *t = k->s->tab;
    char b[8];
    int rc = 0;
    if (k->aux) {
        /* FTS5's auxiliary functions use only positions and offsets, and skip colocated
         * tokens (fts5_aux.c): the unigrams as written do, without normalising the run. */
        for (size_t i = 0; i < n && rc == 0; i++) {
            int l = utf8_put(b, run[i].cp);
            rc = k->tok(k->ctx, 0, b, l, (int)run[i].start, (int)run[i].end);
        }
        return rc;
    }
    han_normalize(k->s, k->src, run, n);
    if (k->query) {
        /* "b1 .. b(n-1) u(n)": selective bigrams, and a last unigram so the phrase covers all n
         * positions (and highlight() all n characters). */
        rc = flush_held(k);
        for (size_t i = 0; i + 1 < n && rc == 0; i++) {
            int l = utf8_put(b, run[i].cp);
            l += utf8_put(b + l, run[i + 1].cp);
            rc = k->tok(k->ctx, 0, b, l, (int)run[i].start, (int)run[i + 1].end);
        }
        if (rc == 0) {
            int l = utf8_put(b, run[n - 1].cp);
            if (k->notail && n >= 2) { /* the bigram before it already places it */
                memcpy(k->held, b, (size_t)l);
                k->held_len = l;
                k->held_start = (int)run[n - 1].start;
                k->held_end = (int)run[n - 1].end;
            } else {
                rc = k->tok(k->ctx, 0, b, l, (int)run[n - 1].start, (int)run[n - 1].end);
            }
        }
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int start = (int)run[i].start, end = (int)run[i].end;
        int l = utf8_put(b, run[i].cp);
        rc = k->tok(k->ctx, 0, b, l, start, end);
        if (rc == 0 && i + 1 < n) {
            int l2 = l + utf8_put(b + l, run[i + 1].cp);
            rc = k->tok(k->ctx, FTS5_TOKEN_COLOCATED, b, l2, start, (int)run[i + 1].end);
        }
        if (rc || !k->pinyin || run[i].cls != CC_HAN)
            continue;
        const cp_info_t *e = cp_info(t, run[i].cp);
        for (int r = 0; r < 2 && e->py[r] && rc == 0; r++)
            rc = k->tok(k->ctx, FTS5_TOKEN_COLOCATED, t->syl[e->py[r]], t->syl_len[e->py[r]], start,
                        end);
        if (rc == 0 && e->py[0] && i + 1 < n && run[i + 1].cls == CC_HAN) {
            const cp_info_t *e2 = cp_info(t, run[i + 1].cp);
            if (e2->py[0]) {
                char ini[3] = {DQ_SEARCH_NS_INITIALS, t->syl[e->py[0]][1], t->syl[e2->py[0]][1]};
                rc = k->tok(k->ctx, FTS5_TOKEN_COLOCATED, ini, 3, start, (int)run[i + 1].end);
            }
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- namespaced query strings */

/* "\1qing ming" -> \1qing \1ming; "\2qmsht" -> \2qm \2ms \2sh \2ht (see search.h). */
static int tokenize_ns(tk_t *k, const char *text, size_t len)
{
    char b[SYL_TOK + 8];
    int rc = 0;
    if (text[0] == DQ_SEARCH_NS_PINYIN) {
        size_t i = 1;
        while (i < len && rc == 0) {
            while (i < len && text[i] == ' ')
                i++;
            size_t from = i;
            while (i < len && text[i] >= 'a' && text[i] <= 'z')
                i++;
            if (i == from) {
                i++; /* anything else is a separator */
                continue;
            }
            size_t n = DQ_MIN(i - from, (size_t)SYL_TOK);
            b[0] = DQ_SEARCH_NS_PINYIN;
            memcpy(b + 1, text + from, n);
            rc = k->tok(k->ctx, 0, b, (int)n + 1, (int)from, (int)i);
        }
        return rc;
    }
    for (size_t i = 1; i + 1 < len && rc == 0; i++) {
        b[0] = DQ_SEARCH_NS_INITIALS;
        b[1] = text[i];
        b[2] = text[i + 1];
        rc = k->tok(k->ctx, 0, b, 3, (int)i, (int)i + 2);
    }
    return rc;
}

/* ---------------------------------------------------------------- the walk */

int dq_search_tokenize(const dq_search_t *s, int mode, int pinyin, const char *text, size_t len,
                       dq_search_token_fn tok, void *ctx)
{
    tk_t k = {.s = s,
              .src = text,
              .query = (mode & DQ_SEARCH_MODE_QUERY) != 0,
              .aux = (mode & DQ_SEARCH_MODE_AUX) != 0,
              .pinyin = pinyin,
              .tok = tok,
              .ctx = ctx};
    const unsigned char *u = (const unsigned char *)text;
    han_t local[RUN_STACK];
    han_run_t run;
    int rc = 0;
    if (len == 0)
        return 0;
    if (k.query && (text[0] == DQ_SEARCH_NS_PINYIN || text[0] == DQ_SEARCH_NS_INITIALS))
        return tokenize_ns(&k, text, len);
    size_t i = 0;
    if (k.query && text[0] == DQ_SEARCH_NS_NOTAIL) {
        k.notail = 1;
        i = 1; /* offsets stay those of text: FTS5 passes them through */
    }
    han_run_init(&run, local, RUN_STACK);
    while (i < len && rc == 0) {
        size_t at = i;
        uint32_t cp = utf8_next(u, len, &i);
        int cls = char_class(cp);
        if (cls == CC_WORD) {
            char w[WORD_MAX + 4];
            size_t n = 0, end = i;
            for (;;) {
                if (cls == CC_WORD) {
                    int f = fold_latin(cp, 0);
                    if (f > 0) {
                        if (n < WORD_MAX)
                            w[n++] = (char)f;
                    } else {
                        char tmp[4];
                        int l = utf8_put(tmp, lower_other(cp));
                        if (n + (size_t)l <= WORD_MAX) {
                            memcpy(w + n, tmp, (size_t)l);
                            n += (size_t)l;
                        }
                    }
                    end = i;
                }
                if (i >= len)
                    break;
                size_t next = i;
                cp = utf8_next(u, len, &next);
                cls = char_class(cp);
                if (cls != CC_WORD && cls != CC_MARK)
                    break;
                i = next;
            }
            rc = emit_word(&k, w, n, at, end);
        } else if (cls == CC_HAN || cls == CC_CJK) {
            han_run_scan(u, len, &i, at, cp, cls, &run, 0);
            rc = emit_run(&k, run.v, run.n);
        }
    }
    han_run_free(&run);
    return rc;
}

void dq_search_normalize(const dq_search_t *s, const char *text, size_t len, dq_buf_t *out)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t at = i;
        uint32_t cp = utf8_next(u, len, &i);
        int cls = char_class(cp);
        char b[4];
        if (cls == CC_HAN || cls == CC_CJK) {
            /* Gather the whole run so that OpenCC sees phrases, as the tokenizer does. */
            han_t local[RUN_STACK];
            han_run_t run;
            han_run_init(&run, local, RUN_STACK);
            han_run_scan(u, len, &i, at, cp, cls, &run, 0);
            han_normalize(s, text, run.v, run.n);
            for (size_t k = 0; k < run.n; k++)
                dq_buf_append(out, b, (size_t)utf8_put(b, run.v[k].cp));
            han_run_free(&run);
        } else if (cls == CC_WORD) {
            int f = fold_latin(cp, 0);
            if (f > 0)
                dq_buf_putc(out, (char)f);
            else
                dq_buf_append(out, b, (size_t)utf8_put(b, lower_other(cp)));
        } else if (cls == CC_MARK || cls == CC_IGN) {
            continue;
        } else {
            dq_buf_append(out, text + at, i - at);
        }
    }
}

int dq_search_pinyin(const dq_search_t *s, uint32_t cp, const char *syl[2])
{
    const cp_info_t *e = cp_info(s->tab, cp);
    int n = 0;
    for (int r = 0; r < 2; r++)
        if (e->py[r])
            syl[n++] = s->tab->syl[e->py[r]] + 1;
    return n;
}

/* ---------------------------------------------------------------- SQLite FTS5 glue */

/* One per FTS5 table that names the tokenizer; s is shared, pinyin comes from the arguments. */
typedef struct {
    const dq_search_t *s;
    int pinyin;
} fts_tok_t;

static int x_create(void *user, const char **argv, int argc, Fts5Tokenizer **out)
{
    int pinyin = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "nopinyin") == 0)
            pinyin = 0;
        else
            return SQLITE_ERROR; /* an unknown option is a schema mistake: say so early */
    }
    fts_tok_t *t = sqlite3_malloc(sizeof(*t));
    if (!t)
        return SQLITE_NOMEM;
    t->s = user;
    t->pinyin = pinyin;
    *out = (Fts5Tokenizer *)t;
    return SQLITE_OK;
}

static void x_delete(Fts5Tokenizer *p)
{
    sqlite3_free(p);
}

static int x_tokenize(Fts5Tokenizer *p, void *ctx, int flags, const char *text, int len,
                      int (*tok)(void *, int, const char *, int, int, int))
{
    fts_tok_t *t = (fts_tok_t *)p;
    if (len <= 0)
        return SQLITE_OK;
    int mode = (flags & FTS5_TOKENIZE_QUERY) ? DQ_SEARCH_MODE_QUERY
               : (flags & FTS5_TOKENIZE_AUX) ? DQ_SEARCH_MODE_AUX
                                             : DQ_SEARCH_MODE_DOCUMENT;
    return dq_search_tokenize(t->s, mode, t->pinyin, text, (size_t)len, tok, ctx);
}

/* The documented way to reach FTS5's C API: `SELECT fts5(?1)` with a pointer bound under the
 * type "fts5_api_ptr" (SQLite FTS5 §7.1, "Custom Tokenizers" / extending FTS5). */
void *dq_search_fts5_api(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
    return api && api->iVersion >= 2 ? api : NULL;
}

int dq_search_register(const dq_search_t *s, sqlite3 *db, dq_err_t *err)
{
    fts5_api *api = dq_search_fts5_api(db);
    if (!api)
        return dq_err_set(err, DQ_EUNSUP, 500, "search: SQLite without a usable FTS5: %s",
                          sqlite3_errmsg(db));
    fts5_tokenizer tk = {x_create, x_delete, x_tokenize};
    if (api->xCreateTokenizer(api, DQ_SEARCH_TOKENIZER, (void *)s, &tk, NULL) != SQLITE_OK)
        return dq_err_set(err, DQ_EINTERNAL, 500, "search: registering the tokenizer failed: %s",
                          sqlite3_errmsg(db));
    return 0;
}
