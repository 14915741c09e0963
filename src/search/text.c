/*
 * search/text.c: character classes and Latin folding, the "NFKC-ish" part of normalisation.
 * Only what catalog text needs: full-width ASCII, Latin-1, Latin Extended-A and the pinyin tone
 * letters fold to ASCII; Greek and Cyrillic lowercase; everything else passes through. This is
 * not Unicode normalisation (no decomposition tables): a range test and two small strings keep
 * it branch-cheap in the tokenizer's inner loop.
 */
#include "search/search_internal.h"

#include <stdlib.h>
#include <string.h>

int char_class(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return CC_WORD;
        return CC_SEP;
    }
    if (cp < 0xC0)
        return CC_SEP; /* C1 controls, NBSP, Latin-1 symbols */
    if (cp < 0x2B0)
        return (cp == 0xD7 || cp == 0xF7) ? CC_SEP : CC_WORD; /* × ÷ */
    if (cp < 0x300)
        return CC_SEP; /* spacing modifier letters */
    if (cp < 0x370)
        return CC_MARK;
    if (cp < 0x2000)
        return CC_WORD; /* Greek, Cyrillic, ..., Latin Extended Additional */
    if (cp < 0x2C00)
        return CC_SEP; /* general punctuation, symbols, arrows, box drawing */
    if (cp < 0x2E00)
        return CC_WORD;
    if (cp < 0x3000)
        return CC_SEP; /* supplemental punctuation, radicals (not ideographs) */
    if (cp < 0x3040)
        return (cp == 0x3005 || cp == 0x3007) ? CC_HAN : CC_SEP; /* 々 〇 are Han */
    if (cp < 0x3100)
        return (cp == 0x30FB) ? CC_SEP : CC_CJK; /* kana; ・ separates */
    if (cp < 0x31C0)
        return CC_CJK; /* bopomofo, Hangul compatibility jamo, kanbun */
    if (cp >= 0x31F0 && cp < 0x3200)
        return CC_CJK;
    if (cp < 0x3400)
        return CC_SEP; /* strokes, enclosed and compatibility CJK */
    if (cp < 0x4DC0)
        return CC_HAN; /* Extension A */
    if (cp < 0x4E00)
        return CC_SEP; /* Yijing hexagrams */
    if (cp < 0xA000)
        return CC_HAN; /* URO */
    if (cp < 0xAC00)
        return CC_WORD;
    if (cp < 0xD7B0)
        return CC_CJK; /* Hangul syllables */
    if (cp < 0xF900)
        return CC_SEP; /* jamo extensions, private use */
    if (cp < 0xFB00)
        return CC_HAN; /* compatibility ideographs */
    if (cp < 0xFE00)
        return CC_WORD;
    if (cp < 0xFE10)
        return CC_IGN; /* variation selectors */
    if (cp < 0xFF00)
        return (cp >= 0xFE20 && cp < 0xFE30) ? CC_MARK : CC_SEP;
    if (cp < 0xFFF0) {
        if ((cp >= 0xFF10 && cp <= 0xFF19) || (cp >= 0xFF21 && cp <= 0xFF3A) ||
            (cp >= 0xFF41 && cp <= 0xFF5A))
            return CC_WORD; /* full-width digits and letters */
        if (cp >= 0xFF66 && cp <= 0xFFDC)
            return CC_CJK; /* half-width katakana and Hangul */
        return CC_SEP;
    }
    if (cp >= 0x20000 && cp < 0x323B0)
        return CC_HAN; /* Extensions B-H and the compatibility supplement */
    if (cp >= 0xE0100 && cp < 0xE01F0)
        return CC_IGN; /* variation selectors supplement (Adobe-Japan1 glyph choices) */
    return CC_SEP;
}

/* Base letters of U+00C0..U+017F, one per code point ('_' for × and ÷, which are separators).
 * Ligatures fold to their first letter (Æ -> a, Œ -> o): good enough to match, and it keeps one
 * input character one output byte. */
static const char latin1_ext_a[] = "aaaaaaaceeeeiiii"                                  /* C0 */
                                   "dnooooo_ouuuuyts"                                  /* D0 */
                                   "aaaaaaaceeeeiiii"                                  /* E0 */
                                   "dnooooo_ouuuuyty"                                  /* F0 */
                                   "aaaaaaccccccccdd"                                  /* 100 */
                                   "ddeeeeeeeeeegggg"                                  /* 110 */
                                   "gggghhhhiiiiiiii"                                  /* 120 */
                                   "iiiijjkkklllllll"                                  /* 130 */
                                   "lllnnnnnnnnnoooo"                                  /* 140 */
                                   "oooorrrrrrssssss"                                  /* 150 */
                                   "ssttttttuuuuuuuu"                                  /* 160 */
                                   "uuuuwwyyyzzzzzzs";                                 /* 170 */
_Static_assert(sizeof(latin1_ext_a) == 0x180 - 0xC0 + 1, "one letter per code point"); /* 170 */

int fold_latin(uint32_t cp, int pinyin)
{
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            return (int)(cp + 32);
        return (int)cp;
    }
    if (cp >= 0xFF10 && cp <= 0xFF5A) /* full-width: same layout as ASCII, 0xFEE0 above it */
        return fold_latin(cp - 0xFEE0, pinyin);
    if (pinyin && (cp == 0xDC || cp == 0xFC || (cp >= 0x1D5 && cp <= 0x1DC)))
        return 'v'; /* ü, Ü, ǖ ǘ ǚ ǜ */
    if (cp >= 0xC0 && cp < 0x180)
        return latin1_ext_a[cp - 0xC0];
    if (cp >= 0x1CD && cp <= 0x1DC) /* Ǎǎ Ǐǐ Ǒǒ Ǔǔ Ǖǖ Ǘǘ Ǚǚ Ǜǜ: pinyin third tones */
        return "aaiioouuuuuuuuuu"[cp - 0x1CD];
    if (cp == 0x1F8 || cp == 0x1F9) /* Ǹ ǹ */
        return 'n';
    if (cp == 0x1E3E || cp == 0x1E3F) /* Ḿ ḿ */
        return 'm';
    if (cp == 0x1EBF || cp == 0x1EC1 || cp == 0x1EBE || cp == 0x1EC0) /* ế ề (pinyin ê) */
        return 'e';
    return 0;
}

uint32_t lower_other(uint32_t cp)
{
    if ((cp >= 0x391 && cp <= 0x3A9) || (cp >= 0x410 && cp <= 0x42F))
        return cp + 0x20; /* Greek, Cyrillic capitals */
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    return cp;
}

/* ---------------------------------------------------------------- Han runs */

void han_run_init(han_run_t *r, han_t *local, size_t cap)
{
    r->v = local;
    r->n = 0;
    r->cap = cap;
    r->heap = NULL;
}

void han_run_free(han_run_t *r)
{
    free(r->heap);
    r->heap = NULL;
}

int han_run_scan(const unsigned char *u, size_t len, size_t *i, size_t at, uint32_t cp, int cls,
                 han_run_t *r, size_t max)
{
    r->n = 0;
    for (;;) {
        if (cls == CC_HAN || cls == CC_CJK) {
            if (max && r->n == max)
                return -1;
            if (r->n == r->cap) {
                r->cap *= 2;
                if (!r->heap) {
                    r->heap = dq_xmalloc(r->cap * sizeof(*r->heap));
                    memcpy(r->heap, r->v, r->n * sizeof(*r->heap));
                } else {
                    r->heap = dq_xrealloc(r->heap, r->cap * sizeof(*r->heap));
                }
                r->v = r->heap;
            }
            r->v[r->n++] = (han_t){cp, (uint32_t)at, (uint32_t)*i, (uint8_t)cls};
        }
        if (*i >= len)
            return 0;
        size_t next = *i;
        cp = utf8_next(u, len, &next);
        cls = char_class(cp);
        if (cls != CC_HAN && cls != CC_CJK && cls != CC_IGN)
            return 0;
        at = *i;
        *i = next;
    }
}
