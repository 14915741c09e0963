/*
 * search: the Chinese-aware full-text machinery behind the catalog's SQLite FTS5 index. It owns
 * an FTS5 tokenizer ("danqing"), the pinyin and simplified/traditional tables it needs (loaded
 * from Debian's Unihan files and OpenCC, never typed by hand), a user dictionary of names and
 * titles, and the translation of what a person types into a backend-neutral query plan (the
 * backend renders the plan into its own syntax). It does not own any table: the catalog
 * creates the FTS5 table, inserts, and runs the SELECT.
 * search/ is the one module besides catalog/store_sqlite.c that includes sqlite3.h, because an
 * FTS5 tokenizer is by nature bound to SQLite; it is also the only includer of opencc.h and
 * bzlib.h.
 *
 * ---- How text becomes tokens (the same code runs for documents, queries and highlight) ----
 * Normalisation: full-width ASCII folds to ASCII, Latin letters lose case and diacritics
 * ("Zhāng" -> "zhang"), and Han text is converted to simplified: per character from a map
 * built from OpenCC's t2s (Unihan kSimplifiedVariant where OpenCC has no answer), and by
 * OpenCC's phrase-level t2s for runs holding a character whose simplification depends on the
 * word (乾隆 keeps 乾, 乾淨 becomes 干净); variant.c says why. Offsets always point into the
 * original bytes, so highlight() marks the characters the user stored, traditional or not.
 * One FTS5 position per Han character, holding colocated tokens:
 *     清    the unigram (the "primary" token: its offsets are what highlight() uses)
 *     清明  the bigram with the next character of the run (colocated)
 *     \1qing  the toneless Mandarin reading(s) (kMandarin, up to 2), namespace byte 0x01
 *     \2qm  the initials of this and the next character, namespace byte 0x02
 * Latin/digit words are one position each, lowercased, with a light plural fold (Harman's
 * S-stemmer: "landscapes" -> "landscape"). Kana and Hangul get unigrams and bigrams only.
 * The namespace bytes are control characters: no document or user text can produce them (both
 * treat controls as separators), so a Chinese query never matches through pinyin (景点 jingdian
 * never finds 经典) and an English word never matches a pinyin token by accident.
 *
 * ---- How a query is tokenized (FTS5_TOKENIZE_QUERY) ----
 * A Han run of n >= 2 characters becomes the phrase "b1 b2 ... b(n-1) u(n)": its bigrams and the
 * unigram of its last character. Bigrams make the lookup selective; the trailing unigram makes
 * the phrase span every character, so highlight() marks exactly 清明上河 and not 清明上. One
 * character is its unigram: 蝶 finds every work that has 蝶, 简单 finds 安装简单.
 * A quoted string that starts with 0x01 is a pinyin phrase ("\1qing ming" -> \1qing \1ming); one
 * that starts with 0x02 is an initials string ("\2qmsht" -> \2qm \2ms \2sh \2ht). Only a
 * backend's rendering of a DQ_SEARCH_PHRASE_PINYIN / _INITIALS phrase writes these (user text
 * cannot: controls are separators). Limitation: an initials match highlights all but its last
 * character (there is no per-character initials token, to keep the index small).
 *
 * ---- Thread safety ----
 * A dq_search_t is built once at start-up and then shared by every thread and connection: the
 * tables and the OpenCC converter are read-only (OpenCC's Converter::Convert is const and its
 * maintainers test it concurrently, BYVoid/OpenCC#231); the dictionary is guarded by its own
 * rwlock (dict.c), so names may be added while queries run.
 */
#ifndef DQ_SEARCH_H
#define DQ_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct sqlite3; /* sqlite3.h stays out of this header; callers that register include it */

/* The name the tokenizer is registered under: CREATE VIRTUAL TABLE t USING fts5(title, body,
 * tokenize='danqing'). Argument "nopinyin" (tokenize='danqing nopinyin') leaves the pinyin and
 * initials tokens out, for long description columns kept in a table of their own. */
#define DQ_SEARCH_TOKENIZER "danqing"

/* Token namespaces (first byte of a pinyin or initials token); see the header comment. */
#define DQ_SEARCH_NS_PINYIN '\x01'
#define DQ_SEARCH_NS_INITIALS '\x02'
/* A query string that starts with this byte is tokenized like any text query, except that the
 * unigram ending a Han (kana, hangul) run of two or more characters is left out when it is
 * the string's last token: in a document the bigram XY at position p is made of the
 * characters at p and p + 1, so the phrase "... XY" already places Y and matches exactly the
 * rows "... XY Y" matches, at the same positions, with one doclist fewer for FTS5 to read
 * (山水 no longer walks the 58,000 rows that hold 水). The phrase is one token shorter, so
 * FTS5's highlight() and snippet() over it would mark one character less: a backend renders
 * it only for matching and scoring (bm25 does not use a phrase's length). Issue 9. */
#define DQ_SEARCH_NS_NOTAIL '\x03'

/* Bounds on user queries: beyond these dq_search_query fails with DQ_ELIMIT (HTTP 400). */
#define DQ_SEARCH_QUERY_MAX_BYTES 512
#define DQ_SEARCH_QUERY_MAX_TERMS 16
#define DQ_SEARCH_QUERY_MAX_HAN 64 /* characters in one Han run */

typedef struct dq_search dq_search_t;

typedef struct {
    /* Directory holding Unihan_Readings.txt.bz2 and Unihan_Variants.txt.bz2 (Debian
     * unicode-data). NULL: /usr/share/unicode. */
    const char *unihan_dir;
    /* OpenCC configuration for traditional -> simplified. NULL: "t2s.json" (Debian
     * libopencc-data). "": no OpenCC, Unihan character mapping only. */
    const char *opencc_config;
    /* A compiled copy of the Unihan tables (e.g. "$DANQING_DATA/search-tables.bin"). When it
     * exists and matches the sources' size and mtime it is loaded instead of the .bz2 files;
     * otherwise it is (re)written atomically. NULL: no cache. */
    const char *cache_path;
    /* Same file system as cache_path, for the atomic write. NULL: the cache's directory. */
    const char *tmp_dir;
} dq_search_config_t;

/* Loads the tables (cache or Unihan), opens OpenCC and starts an empty dictionary.
 * cfg may be NULL (all defaults). Returns a new object, free with dq_search_free; NULL on
 * failure with err filled (DQ_EIO: a data file is missing or unreadable). Not thread-safe
 * itself; the result is (see the header comment). */
dq_search_t *dq_search_new(const dq_search_config_t *cfg, dq_err_t *err);
/* Frees s; NULL is fine. No connection that registered s may be used for FTS5 afterwards. */
void dq_search_free(dq_search_t *s);

typedef struct {
    int64_t load_us;    /* time dq_search_new spent opening OpenCC and loading the tables */
    int from_cache;     /* 1 when the compiled cache was used */
    size_t n_readings;  /* code points with a Mandarin reading */
    size_t n_variants;  /* code points with a simplified variant */
    size_t n_syllables; /* distinct toneless syllables */
    size_t n_pages;     /* 256-code-point pages in the lookup table */
    size_t n_dict;      /* names in the dictionary */
    int opencc;         /* 1 when OpenCC is in use */
} dq_search_stats_t;
/* Fills st; thread-safe. */
void dq_search_stats(const dq_search_t *s, dq_search_stats_t *st);

/* ---------------------------------------------------------------- the FTS5 tokenizer */

/* Registers the tokenizer DQ_SEARCH_TOKENIZER on db (through `SELECT fts5(?1)`). s is
 * borrowed and must outlive db. Call once per connection, before creating or using a table
 * that names the tokenizer. Returns 0, or -1 with err (DQ_EUNSUP: SQLite without FTS5). */
int dq_search_register(const dq_search_t *s, struct sqlite3 *db, dq_err_t *err);
/* db's FTS5 C API (an fts5_api *, version >= 2; void * so that this header stays free of
 * sqlite3.h), or NULL when db has no usable FTS5. Borrowed: valid while db is open. For
 * backends that add FTS5 auxiliary functions of their own. */
void *dq_search_fts5_api(struct sqlite3 *db);

/* The tokenizer without SQLite, for benchmarks, tests and debugging. Calls tok for each token
 * with the FTS5 callback's arguments (colocated is FTS5_TOKEN_COLOCATED or 0; start/end are
 * byte offsets into text). mode is one of DQ_SEARCH_MODE_*; a non-zero return from tok stops
 * the walk and is returned. Thread-safe; text is borrowed. */
enum {
    DQ_SEARCH_MODE_QUERY = 0x1,    /* FTS5_TOKENIZE_QUERY */
    DQ_SEARCH_MODE_DOCUMENT = 0x4, /* FTS5_TOKENIZE_DOCUMENT */
    DQ_SEARCH_MODE_AUX = 0x8,      /* FTS5_TOKENIZE_AUX: highlight() and snippet() use only
                                      positions and offsets, so a Han run gives its unigrams as
                                      written (no colocated tokens, no t2s) */
};
typedef int (*dq_search_token_fn)(void *ctx, int colocated, const char *tok, int tok_len, int start,
                                  int end);
int dq_search_tokenize(const dq_search_t *s, int mode, int pinyin, const char *text, size_t len,
                       dq_search_token_fn tok, void *ctx);

/* Appends to out the normalised form of text (t2s, width and case folding), for display and
 * tests. Thread-safe. */
void dq_search_normalize(const dq_search_t *s, const char *text, size_t len, dq_buf_t *out);

/* The toneless reading(s) of a code point, e.g. 0x5F20 -> "zhang". Returns how many (0..2)
 * and sets syl[i] to borrowed strings valid as long as s. */
int dq_search_pinyin(const dq_search_t *s, uint32_t cp, const char *syl[2]);

/* ---------------------------------------------------------------- the dictionary */

/* Adds an artist or title name ("张择端", "清明上河图", "Zhang Zeduan") to the dictionary. The
 * name is normalised (so 張擇端 and 张择端 are one entry) and copied. Adding a name twice is
 * not an error. Thread-safe (takes the dictionary's write lock). Errors: DQ_EINVAL when the
 * name has no searchable text or is longer than DQ_SEARCH_QUERY_MAX_HAN characters. */
int dq_search_dict_add(dq_search_t *s, const char *name, dq_err_t *err);

/* ---------------------------------------------------------------- queries */

/* What a user query becomes: a small plan that says what must match, not how a backend asks
 * for it (house style 4). A backend renders it into its own query language (the SQLite
 * backend into FTS5 MATCH expressions, catalog/store_sqlite_relic_search.c). The plan is made
 * of phrases: a phrase is text that the tokenizer above turns into tokens that must be
 * adjacent, in order.
 *  terms:  every term must match (AND); a term matches when any of its phrases does (OR). A
 *          Han run is one term, split at dictionary names ("张择端清明上河图" -> "张择端" AND
 *          "清明上河图"). A Latin word w is the term (w OR its pinyin syllables OR its
 *          initials), the last two only when w segments into pinyin ("qingming" -> qing ming)
 *          or has no vowel ("qmsht"). A "quoted phrase" is one term (and its pinyin form when
 *          every word of it is pinyin).
 *  boost:  phrases (term -1) matched by records that hold a whole dictionary name that the
 *          query names (in characters, pinyin, initials or its Latin form), the whole query
 *          run when it was split, adjacent pinyin words as one phrase, and two or more Latin
 *          words as one phrase ("autumn mountains"): records holding any of them rank first.
 * Phrase kinds say which tokens the text stands for (see "How a query is tokenized"). */
enum {
    DQ_SEARCH_PHRASE_TEXT = 0, /* words and characters as typed (normalised), space-separated */
    DQ_SEARCH_PHRASE_PINYIN,   /* toneless syllables separated by one space: "qing ming" */
    DQ_SEARCH_PHRASE_INITIALS, /* initials of consecutive characters: "qmsht" */
};
typedef struct {
    int kind;        /* DQ_SEARCH_PHRASE_* */
    int term;        /* the term it is an alternative of (0..n_terms-1), or -1: a boost */
    size_t off, len; /* its text: plan->text.data + off, len bytes (UTF-8, no NUL inside) */
} dq_search_phrase_t;
typedef struct dq_search_plan {
    dq_buf_t text;          /* the phrases' texts, back to back */
    dq_search_phrase_t *ph; /* in the order the query names them; owned */
    size_t n_ph, cap_ph;
    int n_terms; /* AND-ed terms */
    int n_boost; /* boost phrases (distinct) */
} dq_search_plan_t;

/* Turns user_query (UTF-8, any content) into a plan. User text never becomes query syntax:
 * quotes, operators, '*', '^', ':', NEAR and parentheses are separators or literal words.
 * Thread-safe (takes the dictionary's read lock). Returns 0, or -1 with err: DQ_EINVAL (empty,
 * no searchable text, invalid UTF-8 is only skipped), DQ_ELIMIT (beyond DQ_SEARCH_QUERY_MAX_*).
 * plan must start zeroed or be a plan already used (it is reset first). */
int dq_search_query_plan(const dq_search_t *s, const char *user_query, dq_search_plan_t *plan,
                         dq_err_t *err);
/* Frees what plan holds (not plan itself); NULL is fine. */
void dq_search_plan_free(dq_search_plan_t *plan);
/* The text of phrase ph of plan (not NUL-terminated: ph->len bytes). */
static inline const char *dq_search_phrase_text(const dq_search_plan_t *plan,
                                                const dq_search_phrase_t *ph)
{
    return plan->text.data + ph->off;
}

#endif
