/*
 * search/search_internal.h: what the files of search/ share and nobody else sees: the layout
 * of dq_search_t, the code-point table, character classes and the UTF-8 and Latin folding
 * helpers. search.h is the contract; this is plumbing. Everything here is read-only once
 * dq_search_new returns, except the dictionary, which has its own lock (dict.c).
 */
#ifndef DQ_SEARCH_INTERNAL_H
#define DQ_SEARCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "search/search.h"

/* ---------------------------------------------------------------- code-point table */

/* Unihan 15 ends at U+323AF (CJK Extension H); nothing above needs a reading or a variant. */
#define CP_LIMIT 0x32400u
#define CP_PAGES (CP_LIMIT >> 8)
#define SYL_MAX 1024 /* distinct toneless syllables: about 410 in practice */
#define SYL_TOK 8    /* "\1" + at most 6 letters ("zhuang") + NUL */

/* One code point's data. 8 bytes, so a 256-entry page is 2 KiB and the whole table, with
 * about 170 populated pages, stays under 400 KiB. */
typedef struct {
    uint32_t simp;  /* low 21 bits: unambiguous simplified form (0: none); CPI_TRAD flag */
    uint16_t py[2]; /* syllable ids (index into syl), 0: none */
} cp_info_t;
#define CPI_TRAD 0x80000000u /* has a simplified form (low bits) or is CPI_AMBIG */
#define CPI_AMBIG                                                                                  \
    0x40000000u /* simplified only in some words (乾隆 / 乾淨): OpenCC phrase pass             \
                 */
#define CPI_CP_MASK 0x1FFFFFu

typedef struct {
    uint16_t page_of[CP_PAGES]; /* cp >> 8 -> page index; page 0 is all zeros */
    cp_info_t (*pages)[256];
    uint32_t n_pages;
    uint32_t n_syl;             /* ids 1..n_syl-1 are used; 0 means none */
    char syl[SYL_MAX][SYL_TOK]; /* syl[id] = "\1qing": the token, namespace byte first */
    uint8_t syl_len[SYL_MAX];   /* token length including the namespace byte */
    size_t n_readings, n_variants;
} tables_t;

static inline const cp_info_t *cp_info(const tables_t *t, uint32_t cp)
{
    static const cp_info_t none = {0, {0, 0}};
    if (cp >= CP_LIMIT)
        return &none;
    return &t->pages[t->page_of[cp >> 8]][cp & 0xFF];
}

struct dq_dict; /* dict.c */

struct dq_search {
    tables_t *tab;
    void *cc; /* opencc_t, or NULL for Unihan only */
    struct dq_dict *dict;
    int64_t load_us;
    int from_cache;
};

/* tables.c: builds t from the Unihan files (and, when cc is an OpenCC handle, the character
 * map from OpenCC's own single-character t2s), or reads/writes the compiled cache. */
int tables_load(tables_t *t, const dq_search_config_t *cfg, void *cc, int *from_cache,
                dq_err_t *err);
void tables_free(tables_t *t);

/* ---------------------------------------------------------------- characters */

enum {
    CC_SEP = 0, /* separator: spaces, punctuation, symbols, controls, invalid bytes */
    CC_WORD,    /* letters and digits of alphabetic scripts */
    CC_HAN,     /* Han ideographs: unigrams, bigrams, pinyin */
    CC_CJK,     /* kana, Hangul, bopomofo: unigrams and bigrams, no pinyin */
    CC_MARK,    /* combining marks: dropped, do not split a word */
    CC_IGN,     /* variation selectors: dropped, do not split a run */
};

int char_class(uint32_t cp);

/* Decodes one code point at s[*i] (i < len) and advances *i. Invalid or overlong sequences and
 * surrogates decode as U+FFFD over one byte, which is a separator. */
static inline uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
    size_t p = *i;
    uint32_t c = s[p];
    if (c < 0x80) {
        *i = p + 1;
        return c;
    }
    int n;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
        n = 1, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, min = 0x10000, c &= 0x07;
    } else {
        *i = p + 1;
        return 0xFFFD;
    }
    if (p + (size_t)n >= len) { /* truncated sequence */
        *i = p + 1;
        return 0xFFFD;
    }
    for (int k = 1; k <= n; k++) {
        uint32_t b = s[p + (size_t)k];
        if ((b & 0xC0) != 0x80) {
            *i = p + 1;
            return 0xFFFD;
        }
        c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *i = p + 1;
        return 0xFFFD;
    }
    *i = p + (size_t)n + 1;
    return c;
}

/* Writes cp as UTF-8 to out (at least 4 bytes); returns the length. */
static inline int utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Folds a CC_WORD code point for a word token: the lowercase ASCII letter or digit it stands
 * for (full-width, accented and pinyin tone letters included), or 0 when it is a letter of
 * another script (kept as UTF-8, lowercased by lower_other). With pinyin set, ü and its tone
 * forms fold to 'v', the way pinyin is typed and the way the syllable table spells it. */
int fold_latin(uint32_t cp, int pinyin);
uint32_t lower_other(uint32_t cp);

/* ---------------------------------------------------------------- Han runs */

/* One character of a Han/CJK run: normalised code point and original byte span. */
typedef struct {
    uint32_t cp;
    uint32_t start, end;
    uint8_t cls; /* CC_HAN or CC_CJK */
} han_t;

/* A run being gathered: v is the caller's array (cap elements) until it overflows into heap. */
typedef struct {
    han_t *v;
    size_t n, cap;
    han_t *heap; /* owned; NULL while v is the caller's */
} han_run_t;
void han_run_init(han_run_t *r, han_t *local, size_t cap);
void han_run_free(han_run_t *r); /* frees heap only */
/* The one Han-run scanner (the tokenizer, normalisation and query parsing all cut runs the
 * same way): cp, of class cls (CC_HAN or CC_CJK), is the first character of a run and spans
 * bytes [at, *i) of u[0..len). Gathers it and the characters that follow into r (ignorable
 * characters, CC_IGN, inside a run are skipped) and leaves *i after the last one. Returns 0,
 * or -1 when max > 0 and the run has more than max characters (r then holds the first max). */
int han_run_scan(const unsigned char *u, size_t len, size_t *i, size_t at, uint32_t cp, int cls,
                 han_run_t *r, size_t max);
/* Rewrites run[0..n).cp to simplified: OpenCC on the original bytes when the run has two or
 * more characters, one of them CPI_AMBIG, and the result keeps the character count; then the
 * character map for what is left. src is the text the offsets point into. */
void han_normalize(const dq_search_t *s, const char *src, han_t *run, size_t n);
/* Opens the OpenCC converter named by config into *cc (NULL: t2s.json; "": none, *cc = NULL).
 * Returns 0, or -1 with err filled. */
int variant_open(const char *config, void **cc, dq_err_t *err);
void variant_close(void *cc);
/* OpenCC t2s of the single character cp: the simplified code point, or 0 when OpenCC keeps it
 * or makes more than one character of it. */
uint32_t variant_char(void *cc, uint32_t cp);

/* ---------------------------------------------------------------- pinyin */

/* Splits an ASCII lowercase word into Mandarin syllables, fewest syllables first. Writes the
 * syllables separated by single spaces to out (cleared first) and returns how many, or 0 when
 * the word does not segment. Syllables without a vowel (m, n, ng, hm) are not used: they would
 * let almost anything segment. */
int pinyin_segment(const tables_t *t, const char *w, size_t len, char *out, size_t out_cap);
/* 1 when the ASCII lowercase string is a known syllable. */
int pinyin_is_syllable(const tables_t *t, const char *w, size_t len);

/* ---------------------------------------------------------------- dictionary */

struct dq_dict *dict_new(void);
void dict_free(struct dq_dict *d);
size_t dict_count(const dq_search_t *s);
void dict_rdlock(const dq_search_t *s);
void dict_unlock(const dq_search_t *s);
/* kind: 'H' normalised Han name, 'P' concatenated toneless pinyin, 'I' initials, 'L' Latin
 * words joined by one space. Returns the entry index or -1. Hold the read lock. */
int dict_find(const dq_search_t *s, char kind, const char *key, size_t len);
/* The longest Han name in characters (0 when none). Hold the read lock. */
size_t dict_max_han(const dq_search_t *s);
/* Adds to p the boost phrases that match entry idx as a whole name (characters, pinyin
 * phrase, Latin words). Hold the read lock. */
void dict_boost(const dq_search_t *s, int idx, dq_search_plan_t *p);
/* query.c helper shared with dict.c: adds the phrase (kind, text[0..len)) to p as an
 * alternative of term (>= 0), or as a boost (-1) unless p already has that boost. */
void plan_add(dq_search_plan_t *p, int kind, int term, const char *text, size_t len);

#endif
