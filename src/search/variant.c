/*
 * search/variant.c: traditional -> simplified, so that 清明上河圖 and 清明上河图 index to the same
 * tokens. Two levels: a character map in the code-point table (OpenCC's single-character t2s,
 * built once and cached; Unihan kSimplifiedVariant where OpenCC has no answer or is absent),
 * and OpenCC's phrase-level t2s (乾隆 stays 乾隆 while 乾淨 becomes 干净) only for runs holding one
 * of the ~480 characters Unihan lists as simplified in some words only. Why not OpenCC on
 * everything: it runs at about 3 MB/s, 30 times slower than the rest of the tokenizer, and on
 * unambiguous characters it gives the same answer as the map. Unihan alone is not enough
 * either: for 37 URO characters its formal simplified form is a rare one nobody types (嶽 ->
 * U+2B3AB where OpenCC and people write 岳).
 * Offsets: the caller keeps each character's original byte span; we only replace code points,
 * and only when the count of characters is unchanged, so offsets stay exact.
 */
#include "search/search_internal.h"

#include <opencc/opencc.h>
#include <stdlib.h>
#include <string.h>

/* OpenCC returns a malloc'd string per call; runs are short (they end at punctuation), so one
 * call per traditional run is the cost, not one per token. */
static int opencc_pass(const dq_search_t *s, const char *src, han_t *run, size_t n)
{
    size_t from = run[0].start, to = run[n - 1].end;
    char *conv = opencc_convert_utf8((opencc_t)s->cc, src + from, to - from);
    if (!conv)
        return -1;
    const unsigned char *u = (const unsigned char *)conv;
    size_t len = strlen(conv), i = 0, k = 0;
    int ok = 1;
    /* First pass: count, so that a length-changing conversion leaves run untouched. */
    while (i < len) {
        uint32_t cp = utf8_next(u, len, &i);
        int c = char_class(cp);
        if (c == CC_IGN)
            continue;
        if (c != CC_HAN && c != CC_CJK) {
            ok = 0;
            break;
        }
        k++;
    }
    if (ok && k == n) {
        i = 0, k = 0;
        while (i < len) {
            uint32_t cp = utf8_next(u, len, &i);
            if (char_class(cp) != CC_IGN)
                run[k++].cp = cp;
        }
    }
    opencc_convert_utf8_free(conv);
    return ok && k == n ? 0 : -1;
}

void han_normalize(const dq_search_t *s, const char *src, han_t *run, size_t n)
{
    int trad = 0, ambig = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t f = cp_info(s->tab, run[i].cp)->simp;
        trad |= (f & CPI_TRAD) != 0;
        ambig |= (f & CPI_AMBIG) != 0;
    }
    if (!trad)
        return;
    /* Only a run with a context-dependent character pays for OpenCC's phrase pass (about
     * 3 MB/s); every other traditional character has one answer, which the table holds (built
     * from OpenCC's own single-character t2s). A lone character has no phrase to read, and
     * t2s would turn an ambiguous one (乾) into 干 while 乾隆 in a document keeps 乾: so one
     * character gets the table only, on the index and the query side alike. */
    if (ambig && s->cc && n > 1)
        (void)opencc_pass(s, src, run, n); /* on failure the table below does all */
    for (size_t i = 0; i < n; i++) {
        uint32_t m = cp_info(s->tab, run[i].cp)->simp & CPI_CP_MASK;
        if (m)
            run[i].cp = m;
    }
}

uint32_t variant_char(void *cc, uint32_t cp)
{
    char in[5];
    int l = utf8_put(in, cp);
    in[l] = '\0';
    char *o = opencc_convert_utf8((opencc_t)cc, in, (size_t)l);
    if (!o)
        return 0;
    size_t len = strlen(o), i = 0;
    uint32_t r = len ? utf8_next((const unsigned char *)o, len, &i) : 0;
    opencc_convert_utf8_free(o);
    return (i == len && r != cp && r != 0xFFFD) ? r : 0;
}

/* ---------------------------------------------------------------- lifecycle (search.c) */

int variant_open(const char *config, void **cc, dq_err_t *err)
{
    *cc = NULL;
    if (config && !*config)
        return 0; /* Unihan only, by request */
    const char *name = config ? config : OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP;
    opencc_t h = opencc_open(name);
    if (h == (opencc_t)-1) {
        const char *why = opencc_error();
        return dq_err_set(err, DQ_EIO, 500, "search: OpenCC %s: %s (install libopencc-data)", name,
                          why ? why : "failed");
    }
    *cc = h;
    return 0;
}

void variant_close(void *cc)
{
    if (cc)
        opencc_close((opencc_t)cc);
}
