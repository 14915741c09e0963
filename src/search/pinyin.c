/*
 * search/pinyin.c: query-side pinyin. Decides whether a typed Latin word is pinyin by splitting
 * it into the toneless syllables that Unihan's kMandarin readings use ("qingming" -> qing ming,
 * "zhangzeduan" -> zhang ze duan). The index side needs no code here: the tokenizer reads the
 * syllable ids straight from the code-point table. Runs per query, not per token, so a linear
 * syllable lookup (about 410 entries) is cheap enough and keeps the table simple.
 */
#include "search/search_internal.h"

#include <string.h>

static int has_vowel(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr("aeiouv", s[i]))
            return 1;
    return 0;
}

int pinyin_is_syllable(const tables_t *t, const char *w, size_t len)
{
    if (len == 0 || len > SYL_TOK - 2)
        return 0;
    for (uint32_t id = 1; id < t->n_syl; id++)
        if (t->syl_len[id] == len + 1 && memcmp(t->syl[id] + 1, w, len) == 0)
            return 1;
    return 0;
}

/* Dynamic programming over split points. Cost: 4 per syllable, so fewer syllables win
 * ("xian" is 先, not xi'an); +1 for a syllable after the first that starts with a vowel,
 * because written pinyin would need an apostrophe there ("fangan" is fan gan, not fang'an). */
int pinyin_segment(const tables_t *t, const char *w, size_t len, char *out, size_t out_cap)
{
    enum { MAXW = 64 };
    int cost[MAXW + 1];
    uint8_t step[MAXW + 1];
    if (len == 0 || len > MAXW)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return 0;
    cost[0] = 0;
    for (size_t i = 1; i <= len; i++) {
        cost[i] = -1;
        for (size_t l = 1; l <= SYL_TOK - 2 && l <= i; l++) {
            size_t b = i - l;
            if (cost[b] < 0 || !has_vowel(w + b, l) || !pinyin_is_syllable(t, w + b, l))
                continue;
            int c = cost[b] + 4 + (b > 0 && strchr("aeo", w[b]) ? 1 : 0);
            if (cost[i] < 0 || c < cost[i]) {
                cost[i] = c;
                step[i] = (uint8_t)l;
            }
        }
    }
    if (cost[len] < 0)
        return 0;
    /* Walk back to collect the syllable boundaries, then write them forwards. */
    size_t bounds[MAXW + 1], nb = 0;
    for (size_t i = len; i > 0; i -= step[i])
        bounds[nb++] = i;
    if (len + nb > out_cap)
        return 0;
    size_t o = 0, from = 0;
    for (size_t k = nb; k-- > 0;) {
        if (o)
            out[o++] = ' ';
        memcpy(out + o, w + from, bounds[k] - from);
        o += bounds[k] - from;
        from = bounds[k];
    }
    out[o] = '\0';
    return (int)nb;
}
