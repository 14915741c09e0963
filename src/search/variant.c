/*
 * search/variant.c: traditional -> simplified, so that 清明上河圖 and 清明上河图 index to the same
 * tokens. OpenCC's t2s works on phrases (乾隆 stays 乾隆 while 乾淨 becomes 干净), which a
 * character table cannot do; Unihan kSimplifiedVariant is the per-character fallback for what
 * OpenCC leaves or for builds without it. OpenCC is only called for a run that holds at least one
 * character Unihan marks as traditional, so simplified and Latin text never pays for it.
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
    int trad = 0;
    for (size_t i = 0; i < n && !trad; i++)
        trad = (cp_info(s->tab, run[i].cp)->simp & CPI_TRAD) != 0;
    if (!trad)
        return;
    /* A lone character has no phrase for OpenCC to read, and t2s would turn an ambiguous one
     * (乾, which Unihan lists as its own simplified form) into 干 while 乾隆 in a document keeps
     * 乾: the query 乾 would miss every 乾隆. So one character gets the unambiguous mapping only,
     * on the index side and the query side alike. */
    if (s->cc && n > 1)
        (void)opencc_pass(s, src, run, n); /* on failure the Unihan mapping below does all */
    for (size_t i = 0; i < n; i++) {
        uint32_t m = cp_info(s->tab, run[i].cp)->simp & CPI_CP_MASK;
        if (m)
            run[i].cp = m;
    }
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
