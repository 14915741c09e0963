/*
 * search/query.c: from what a person types to a query plan (terms of alternative phrases,
 * and boost phrases for ranking; search.h says what they mean). User text never becomes query
 * syntax: the query is cut into atoms (Han runs, Latin words) with the tokenizer's own
 * character classes, and every atom becomes phrase text that a backend quotes, so quotes,
 * operators, '*', '^', ':', NEAR( and parentheses are at most separators or literal words. Control
 * bytes, among them the two namespace bytes, are separators too, so only a backend's rendering of a
 * pinyin or initials phrase writes them. The only query syntax we honour is "double quotes" for an
 * exact phrase.
 */
#include "search/search_internal.h"

#include <stdlib.h>
#include <string.h>

enum { A_HAN, A_WORD };
#define MAX_ATOMS 64

typedef struct {
    int type;
    int group;             /* user quote group (>= 1), or 0 when unquoted */
    size_t off, len;       /* normalised text in the pool (UTF-8; Latin folded) */
    size_t py_off, py_len; /* A_WORD: ASCII pinyin fold (ü -> v), len 0 when not pure letters */
    size_t n_han;          /* A_HAN: characters */
    int cjk_only;          /* A_HAN: holds a kana/Hangul character (no pinyin) */
} atom_t;

void plan_add(dq_search_plan_t *p, int kind, int term, const char *text, size_t len)
{
    if (term < 0) { /* a boost is listed once */
        for (size_t i = 0; i < p->n_ph; i++) {
            const dq_search_phrase_t *h = &p->ph[i];
            if (h->term < 0 && h->kind == kind && h->len == len &&
                memcmp(p->text.data + h->off, text, len) == 0)
                return;
        }
        p->n_boost++;
    }
    if (p->n_ph == p->cap_ph) {
        p->cap_ph = p->cap_ph ? p->cap_ph * 2 : 16;
        p->ph = dq_xrealloc(p->ph, p->cap_ph * sizeof(*p->ph));
    }
    p->ph[p->n_ph++] = (dq_search_phrase_t){kind, term, p->text.len, len};
    dq_buf_append(&p->text, text, len);
}

/* ---------------------------------------------------------------- cutting into atoms */

typedef struct {
    atom_t a[MAX_ATOMS];
    size_t n;
    dq_buf_t pool;
} atoms_t;

static int cut(const dq_search_t *s, const char *q, size_t len, atoms_t *out, dq_err_t *err)
{
    const unsigned char *u = (const unsigned char *)q;
    han_t run[DQ_SEARCH_QUERY_MAX_HAN];
    int group = 0, n_groups = 0;
    size_t i = 0;
    while (i < len) {
        size_t at = i;
        uint32_t cp = utf8_next(u, len, &i);
        int cls = char_class(cp);
        if (cp == '"' || cp == 0x201C || cp == 0x201D || cp == 0xFF02) {
            group = group ? 0 : ++n_groups; /* ASCII, curly and full-width quotes */
            continue;
        }
        if (cls != CC_WORD && cls != CC_HAN && cls != CC_CJK)
            continue;
        if (out->n == MAX_ATOMS)
            return dq_err_set(err, DQ_ELIMIT, 400, "search: query has more than %d words",
                              MAX_ATOMS);
        atom_t *a = &out->a[out->n++];
        memset(a, 0, sizeof(*a));
        a->group = group;
        a->off = out->pool.len;
        if (cls == CC_WORD) {
            char py[DQ_SEARCH_QUERY_MAX_BYTES];
            size_t n_py = 0;
            int pure = 1;
            a->type = A_WORD;
            for (;;) {
                if (cls == CC_WORD) {
                    char b[4];
                    int f = fold_latin(cp, 0), fp = fold_latin(cp, 1);
                    if (f > 0)
                        dq_buf_putc(&out->pool, (char)f);
                    else
                        dq_buf_append(&out->pool, b, (size_t)utf8_put(b, lower_other(cp)));
                    if (fp >= 'a' && fp <= 'z' && n_py < sizeof(py))
                        py[n_py++] = (char)fp;
                    else
                        pure = 0;
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
            a->len = out->pool.len - a->off;
            if (pure) {
                a->py_off = out->pool.len;
                dq_buf_append(&out->pool, py, n_py);
                a->py_len = n_py;
            }
            continue;
        }
        /* A Han/CJK run: gather with original offsets, normalise as the tokenizer will. */
        han_run_t r;
        han_run_init(&r, run, DQ_SEARCH_QUERY_MAX_HAN);
        a->type = A_HAN;
        if (han_run_scan(u, len, &i, at, cp, cls, &r, DQ_SEARCH_QUERY_MAX_HAN) < 0)
            return dq_err_set(err, DQ_ELIMIT, 400,
                              "search: a run of more than %d characters in the query",
                              DQ_SEARCH_QUERY_MAX_HAN);
        size_t n = r.n;
        for (size_t k = 0; k < n; k++)
            a->cjk_only |= run[k].cls == CC_CJK;
        han_normalize(s, q, run, n);
        char b[4];
        for (size_t k = 0; k < n; k++)
            dq_buf_append(&out->pool, b, (size_t)utf8_put(b, run[k].cp));
        a->len = out->pool.len - a->off;
        a->n_han = n;
    }
    return 0;
}

/* ---------------------------------------------------------------- terms */

static const char *atom_text(const atoms_t *at, const atom_t *a)
{
    return at->pool.data + a->off;
}

/* Byte offset of character k of a normalised Han atom. */
static size_t han_byte(const atoms_t *at, const atom_t *a, size_t k)
{
    const unsigned char *u = (const unsigned char *)atom_text(at, a);
    size_t i = 0;
    while (k-- > 0 && i < a->len)
        (void)utf8_next(u, a->len, &i);
    return i;
}

/* A new AND-ed term; returns its index. */
static int new_term(dq_search_plan_t *p)
{
    return p->n_terms++;
}

/* A Han run, split at dictionary names by forward maximum matching: the longest name that
 * starts at each character wins. Each part is one phrase; names found go into the boost. */
static void han_term(const dq_search_t *s, const atoms_t *at, const atom_t *a, dq_search_plan_t *p)
{
    const char *t = atom_text(at, a);
    size_t max = DQ_MIN(dict_max_han(s), a->n_han), pending = 0, k = 0, parts = 0;
    while (k < a->n_han) {
        int idx = -1;
        size_t l = DQ_MIN(max, a->n_han - k);
        for (; l >= 2; l--) {
            size_t b0 = han_byte(at, a, k), b1 = han_byte(at, a, k + l);
            if ((idx = dict_find(s, 'H', t + b0, b1 - b0)) >= 0)
                break;
        }
        if (idx < 0) {
            k++;
            continue;
        }
        if (k > pending) {
            size_t b0 = han_byte(at, a, pending), b1 = han_byte(at, a, k);
            plan_add(p, DQ_SEARCH_PHRASE_TEXT, new_term(p), t + b0, b1 - b0);
            parts++;
        }
        size_t b0 = han_byte(at, a, k), b1 = han_byte(at, a, k + l);
        plan_add(p, DQ_SEARCH_PHRASE_TEXT, new_term(p), t + b0, b1 - b0);
        parts++;
        dict_boost(s, idx, p);
        k += l;
        pending = k;
    }
    if (pending < a->n_han) {
        size_t b0 = han_byte(at, a, pending);
        plan_add(p, DQ_SEARCH_PHRASE_TEXT, new_term(p), t + b0, a->len - b0);
        parts++;
    }
    if (parts > 1) /* the run as typed, adjacent, ranks first */
        plan_add(p, DQ_SEARCH_PHRASE_TEXT, -1, t, a->len);
}

static int has_vowel(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("aeiouv", w[i]))
            return 1;
    return 0;
}

/* A Latin word: ("w" OR pinyin phrase OR initials). */
static void word_term(const dq_search_t *s, const atoms_t *at, const atom_t *a, dq_search_plan_t *p)
{
    char seg[DQ_SEARCH_QUERY_MAX_BYTES * 2 + 2];
    const char *py = at->pool.data + a->py_off;
    int t = new_term(p);
    plan_add(p, DQ_SEARCH_PHRASE_TEXT, t, atom_text(at, a), a->len);
    if (a->py_len && pinyin_segment(s->tab, py, a->py_len, seg, sizeof(seg)) > 0)
        plan_add(p, DQ_SEARCH_PHRASE_PINYIN, t, seg, strlen(seg));
    if (a->py_len >= 2 && a->py_len <= 16 && !has_vowel(py, a->py_len))
        plan_add(p, DQ_SEARCH_PHRASE_INITIALS, t, py, a->py_len);
}

/* Boosts for a sequence of unquoted Latin words a[0..n): names the dictionary knows by their
 * pinyin, Latin form or initials (spans of up to 4 words), the whole sequence as one adjacent
 * phrase, and as one adjacent pinyin phrase when every word is pinyin ("qing ming" ranks 清明
 * above 清...明). */
static void latin_boost(const dq_search_t *s, const atoms_t *at, const atom_t *a, size_t n,
                        dq_search_plan_t *p)
{
    char key[DQ_SEARCH_QUERY_MAX_BYTES + 1];
    for (size_t i = 0; i < n; i++) {
        for (size_t l = 1; l <= 4 && i + l <= n; l++) {
            size_t kp = 0, kl = 0;
            int pure = 1;
            char lat[DQ_SEARCH_QUERY_MAX_BYTES + 1];
            for (size_t j = i; j < i + l; j++) {
                const atom_t *w = &a[j];
                pure &= w->py_len > 0;
                if (pure && kp + w->py_len < sizeof(key)) {
                    memcpy(key + kp, at->pool.data + w->py_off, w->py_len);
                    kp += w->py_len;
                }
                if (kl + w->len + 1 < sizeof(lat)) {
                    if (kl)
                        lat[kl++] = ' ';
                    memcpy(lat + kl, atom_text(at, w), w->len);
                    kl += w->len;
                }
            }
            int idx;
            if (pure && (idx = dict_find(s, 'P', key, kp)) >= 0)
                dict_boost(s, idx, p);
            if ((idx = dict_find(s, 'L', lat, kl)) >= 0)
                dict_boost(s, idx, p);
            if (l == 1 && pure && (idx = dict_find(s, 'I', key, kp)) >= 0)
                dict_boost(s, idx, p);
        }
    }
    if (n < 2)
        return;
    /* The words as typed, adjacent and in order: "autumn mountains" ranks a title that says
     * "Autumn Mountains" above records that hold both words apart. */
    dq_buf_t ph = {0};
    for (size_t i = 0; i < n; i++) {
        if (ph.len)
            dq_buf_putc(&ph, ' ');
        dq_buf_append(&ph, atom_text(at, &a[i]), a[i].len);
    }
    plan_add(p, DQ_SEARCH_PHRASE_TEXT, -1, ph.data, ph.len);
    dq_buf_reset(&ph);
    char seg[DQ_SEARCH_QUERY_MAX_BYTES * 2 + 2];
    for (size_t i = 0; i < n; i++) {
        if (!a[i].py_len || pinyin_segment(s->tab, at->pool.data + a[i].py_off, a[i].py_len, seg,
                                           sizeof(seg)) <= 0) {
            dq_buf_free(&ph);
            return;
        }
        if (ph.len)
            dq_buf_putc(&ph, ' ');
        dq_buf_puts(&ph, seg);
    }
    plan_add(p, DQ_SEARCH_PHRASE_PINYIN, -1, ph.data, ph.len);
    dq_buf_free(&ph);
}

/* ---------------------------------------------------------------- entry points */

static void plan_reset(dq_search_plan_t *p)
{
    dq_buf_reset(&p->text);
    p->n_ph = 0;
    p->n_terms = 0;
    p->n_boost = 0;
}

int dq_search_query_plan(const dq_search_t *s, const char *user_query, dq_search_plan_t *plan,
                         dq_err_t *err)
{
    int rc = -1;
    atoms_t *at = dq_xcalloc(1, sizeof(*at));
    plan_reset(plan);
    size_t len = user_query ? strlen(user_query) : 0;
    dict_rdlock(s);
    if (len > DQ_SEARCH_QUERY_MAX_BYTES) {
        dq_err_set(err, DQ_ELIMIT, 400, "search: query longer than %d bytes",
                   DQ_SEARCH_QUERY_MAX_BYTES);
        goto out;
    }
    if (cut(s, user_query ? user_query : "", len, at, err) < 0)
        goto out;
    if (at->n == 0) {
        dq_err_set(err, DQ_EINVAL, 400, "search: the query has no words to search for");
        goto out;
    }
    for (size_t i = 0; i < at->n;) {
        const atom_t *a = &at->a[i];
        if (a->group) {
            /* A quoted phrase: one FTS5 string of its atoms, in order; when every atom is a
             * pinyin word ("Zhang Zeduan"), also the same phrase in pinyin, so the quotes
             * mean "adjacent" in both scripts. */
            dq_buf_t ph = {0}, py = {0};
            char seg[DQ_SEARCH_QUERY_MAX_BYTES * 2 + 2];
            int all_py = 1;
            size_t j = i;
            for (; j < at->n && at->a[j].group == a->group; j++) {
                const atom_t *w = &at->a[j];
                if (ph.len)
                    dq_buf_putc(&ph, ' ');
                dq_buf_append(&ph, atom_text(at, w), w->len);
                if (all_py && w->type == A_WORD && w->py_len &&
                    pinyin_segment(s->tab, at->pool.data + w->py_off, w->py_len, seg, sizeof(seg)) >
                        0) {
                    if (py.len)
                        dq_buf_putc(&py, ' ');
                    dq_buf_puts(&py, seg);
                } else {
                    all_py = 0;
                }
            }
            int t = new_term(plan);
            plan_add(plan, DQ_SEARCH_PHRASE_TEXT, t, ph.data, ph.len);
            if (all_py)
                plan_add(plan, DQ_SEARCH_PHRASE_PINYIN, t, py.data, py.len);
            dq_buf_free(&ph);
            dq_buf_free(&py);
            i = j;
            continue;
        }
        if (a->type == A_HAN) {
            han_term(s, at, a, plan);
            i++;
            continue;
        }
        size_t j = i;
        for (; j < at->n && at->a[j].type == A_WORD && !at->a[j].group; j++)
            word_term(s, at, &at->a[j], plan);
        latin_boost(s, at, &at->a[i], j - i, plan);
        i = j;
    }
    if (plan->n_terms > DQ_SEARCH_QUERY_MAX_TERMS) {
        dq_err_set(err, DQ_ELIMIT, 400, "search: query has %d terms (at most %d)", plan->n_terms,
                   DQ_SEARCH_QUERY_MAX_TERMS);
        goto out;
    }
    rc = 0;
out:
    dict_unlock(s);
    if (rc < 0)
        plan_reset(plan);
    dq_buf_free(&at->pool);
    free(at);
    return rc;
}

void dq_search_plan_free(dq_search_plan_t *plan)
{
    if (!plan)
        return;
    dq_buf_free(&plan->text);
    free(plan->ph);
    memset(plan, 0, sizeof(*plan));
}
