/*
 * search/tables.c: the code-point table (readings and simplified forms) built from Debian's
 * Unihan files, Unihan_Readings.txt.bz2 (kMandarin) and Unihan_Variants.txt.bz2
 * (kSimplifiedVariant), read with libbz2 in one streaming pass each. Decompressing the 1.2 MB
 * readings file costs about 130 ms of CPU, so the parsed table can be kept as a compiled
 * binary cache (a header, the page index, the pages, the syllables) that loads in a millisecond;
 * the cache is trusted only while the sources' sizes and mtimes match the ones it records.
 * Does not know about tokens or SQLite.
 */
#include "search/search_internal.h"

#include <bzlib.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UNIHAN_DIR "/usr/share/unicode"
#define CACHE_MAGIC "DQSRCHT1"
#define CACHE_VERSION 2u

/* ---------------------------------------------------------------- building */

/* A small open-addressing index from syllable text to id, used only while building. */
typedef struct {
    uint16_t slot[2048]; /* 0: empty, else syllable id */
} syl_index_t;

static uint32_t syl_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Returns the id of syllable s (ASCII, 1..6 letters), adding it when new; 0 when full. */
static uint16_t syl_intern(tables_t *t, syl_index_t *ix, const char *s, size_t len)
{
    uint32_t h = syl_hash(s, len) & 2047u;
    for (;;) {
        uint16_t id = ix->slot[h];
        if (id == 0)
            break;
        if (t->syl_len[id] == len + 1 && memcmp(t->syl[id] + 1, s, len) == 0)
            return id;
        h = (h + 1) & 2047u;
    }
    if (t->n_syl >= SYL_MAX)
        return 0;
    uint16_t id = (uint16_t)t->n_syl++;
    t->syl[id][0] = DQ_SEARCH_NS_PINYIN;
    memcpy(t->syl[id] + 1, s, len);
    t->syl[id][len + 1] = '\0';
    t->syl_len[id] = (uint8_t)(len + 1);
    ix->slot[h] = id;
    return id;
}

/* The writable entry of cp, adding a page when needed. */
static cp_info_t *cp_slot(tables_t *t, uint32_t cp)
{
    uint32_t pg = cp >> 8;
    if (t->page_of[pg] == 0) {
        t->pages = dq_xrealloc(t->pages, (t->n_pages + 1) * sizeof(*t->pages));
        memset(t->pages[t->n_pages], 0, sizeof(*t->pages));
        t->page_of[pg] = (uint16_t)t->n_pages++;
    }
    return &t->pages[t->page_of[pg]][cp & 0xFF];
}

/* Parses "U+XXXX" at *p; returns the code point or 0 on a malformed field. */
static uint32_t parse_ucp(const char **p, const char *end)
{
    const char *s = *p;
    if (end - s < 6 || s[0] != 'U' || s[1] != '+')
        return 0;
    s += 2;
    uint32_t cp = 0;
    int n = 0;
    for (; s < end && n < 6; s++, n++) {
        char c = *s;
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            break;
        cp = cp * 16 + (uint32_t)v;
    }
    *p = s;
    return n >= 4 ? cp : 0;
}

/* kMandarin: "U+5F20\tkMandarin\tzhāng" (one or two readings, the first the most common).
 * Tone marks fold away (ü -> v), so 张 gets "zhang". */
static void on_reading(tables_t *t, syl_index_t *ix, uint32_t cp, const char *v, const char *end)
{
    if (cp >= CP_LIMIT)
        return;
    cp_info_t *e = NULL;
    int k = 0;
    while (v < end && k < 2) {
        char syl[16];
        size_t n = 0;
        int bad = 0;
        while (v < end && *v == ' ')
            v++;
        while (v < end && *v != ' ') {
            size_t pos = 0;
            uint32_t c = utf8_next((const unsigned char *)v, (size_t)(end - v), &pos);
            v += pos;
            if (char_class(c) == CC_MARK)
                continue; /* a decomposed tone mark */
            int f = fold_latin(c, 1);
            if (f < 'a' || f > 'z' || n + 1 >= sizeof(syl))
                bad = 1;
            else
                syl[n++] = (char)f;
        }
        if (bad || n == 0 || n > SYL_TOK - 2)
            continue;
        uint16_t id = syl_intern(t, ix, syl, n);
        if (id == 0)
            continue;
        if (!e)
            e = cp_slot(t, cp);
        if (k == 1 && e->py[0] == id)
            continue; /* zhāng zhǎng: one toneless syllable */
        e->py[k++] = id;
    }
    if (e && e->py[0])
        t->n_readings++;
}

/* kSimplifiedVariant: "U+5716\tkSimplifiedVariant\tU+56FE", sometimes with several values.
 * When the character lists itself (乾: U+4E7E U+5E72) or several forms, it is simplified
 * differently in different words: it is marked CPI_AMBIG for OpenCC's phrase-level pass and
 * gets no character mapping. */
static void on_variant(tables_t *t, uint32_t cp, const char *v, const char *end)
{
    if (cp >= CP_LIMIT)
        return;
    uint32_t first = 0;
    int self = 0, other = 0, n_other = 0;
    while (v < end) {
        while (v < end && *v == ' ')
            v++;
        uint32_t x = parse_ucp(&v, end);
        if (x == 0)
            break;
        while (v < end && *v != ' ')
            v++; /* a "<source" suffix */
        if (x == cp) {
            self = 1;
        } else if (x < CP_LIMIT && x <= CPI_CP_MASK) {
            other = 1;
            if (first != x)
                n_other++;
            if (!first)
                first = x;
        }
    }
    if (!other)
        return;
    cp_info_t *e = cp_slot(t, cp);
    e->simp = CPI_TRAD | ((self || n_other > 1) ? CPI_AMBIG : first);
    t->n_variants++;
}

typedef void (*line_fn)(tables_t *t, syl_index_t *ix, const char *line, size_t len);

static void reading_line(tables_t *t, syl_index_t *ix, const char *line, size_t len)
{
    const char *end = line + len, *p = line;
    uint32_t cp = parse_ucp(&p, end);
    static const char key[] = "\tkMandarin\t";
    if (cp && (size_t)(end - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0)
        on_reading(t, ix, cp, p + sizeof(key) - 1, end);
}

static void variant_line(tables_t *t, syl_index_t *ix, const char *line, size_t len)
{
    (void)ix;
    const char *end = line + len, *p = line;
    uint32_t cp = parse_ucp(&p, end);
    static const char key[] = "\tkSimplifiedVariant\t";
    if (cp && (size_t)(end - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0)
        on_variant(t, cp, p + sizeof(key) - 1, end);
}

/* Streams a .bz2 text file line by line into fn. Lines longer than the buffer (none in
 * Unihan) are cut, which only loses that line. */
static int read_bz2_lines(const char *path, tables_t *t, syl_index_t *ix, line_fn fn, dq_err_t *err)
{
    int rc = -1, bzerr = BZ_OK;
    FILE *f = fopen(path, "rb");
    BZFILE *bz = NULL;
    char *buf = NULL;
    if (!f) {
        dq_err_set(err, DQ_EIO, 500, "search: %s: %s (install unicode-data)", path,
                   strerror(errno));
        goto out;
    }
    bz = BZ2_bzReadOpen(&bzerr, f, 0, 0, NULL, 0);
    if (bzerr != BZ_OK) {
        dq_err_set(err, DQ_EIO, 500, "search: %s: bzip2 open failed (%d)", path, bzerr);
        goto out;
    }
    enum { CAP = 1 << 17 };
    buf = dq_xmalloc(CAP);
    size_t have = 0;
    for (;;) {
        int n = BZ2_bzRead(&bzerr, bz, buf + have, (int)(CAP - have));
        if (bzerr != BZ_OK && bzerr != BZ_STREAM_END) {
            dq_err_set(err, DQ_EIO, 500, "search: %s: bzip2 read failed (%d)", path, bzerr);
            goto out;
        }
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] == '\n') {
                if (i > start && buf[start] == 'U')
                    fn(t, ix, buf + start, i - start);
                start = i + 1;
            }
        }
        if (bzerr == BZ_STREAM_END) {
            if (start < have && buf[start] == 'U')
                fn(t, ix, buf + start, have - start);
            break;
        }
        if (start == 0 && have == CAP)
            start = have; /* an over-long line: drop it */
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    rc = 0;
out:
    if (bz) {
        int e2;
        BZ2_bzReadClose(&e2, bz);
    }
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/* The character map from OpenCC itself: every URO, Extension A and compatibility ideograph is
 * converted alone once (about 30,000 calls, tens of milliseconds, then cached). Where OpenCC
 * has an answer it wins over Unihan's formal variant; ambiguous characters keep no map. */
static void opencc_map(tables_t *t, void *cc)
{
    static const uint32_t ranges[][2] = {{0x3400, 0x4DC0}, {0x4E00, 0xA000}, {0xF900, 0xFB00}};
    for (size_t r = 0; r < DQ_ARRAY_LEN(ranges); r++)
        for (uint32_t cp = ranges[r][0]; cp < ranges[r][1]; cp++) {
            if (cp_info(t, cp)->simp & CPI_AMBIG)
                continue;
            uint32_t m = variant_char(cc, cp);
            if (!m || m > CPI_CP_MASK)
                continue;
            cp_info_t *e = cp_slot(t, cp);
            if (!(e->simp & CPI_TRAD))
                t->n_variants++;
            e->simp = CPI_TRAD | m;
        }
}

/* ---------------------------------------------------------------- the compiled cache */

typedef struct {
    char magic[8];
    uint32_t version, n_pages, n_syl, pad;
    uint64_t src[4]; /* readings size, mtime; variants size, mtime */
    uint64_t opencc; /* hash of the OpenCC config name, 0 without OpenCC */
    uint64_t n_readings, n_variants;
} cache_hdr_t;

static void src_stamp(const char *readings, const char *variants, uint64_t src[4])
{
    struct stat st;
    memset(src, 0, 4 * sizeof(uint64_t));
    if (stat(readings, &st) == 0)
        src[0] = (uint64_t)st.st_size, src[1] = (uint64_t)st.st_mtime;
    if (stat(variants, &st) == 0)
        src[2] = (uint64_t)st.st_size, src[3] = (uint64_t)st.st_mtime;
}

static size_t cache_size(uint32_t n_pages, uint32_t n_syl)
{
    return sizeof(cache_hdr_t) + sizeof(((tables_t *)0)->page_of) +
           (size_t)n_pages * sizeof(cp_info_t[256]) + (size_t)n_syl * (SYL_TOK + 1);
}

/* 1 when the cache was valid and t is filled; 0 otherwise (t untouched, no error: a stale or
 * damaged cache is rebuilt, not fatal). */
static int cache_read(tables_t *t, const char *path, const uint64_t src[4], uint64_t opencc)
{
    dq_buf_t b = {0};
    dq_err_t e;
    int ok = 0;
    if (dq_fs_read_file(path, 64u << 20, &b, &e) < 0 || b.len < sizeof(cache_hdr_t))
        goto out;
    cache_hdr_t h;
    memcpy(&h, b.data, sizeof(h));
    if (memcmp(h.magic, CACHE_MAGIC, 8) != 0 || h.version != CACHE_VERSION ||
        memcmp(h.src, src, sizeof(h.src)) != 0 || h.opencc != opencc || h.n_pages == 0 ||
        h.n_pages > CP_PAGES + 1 || h.n_syl == 0 || h.n_syl > SYL_MAX ||
        b.len != cache_size(h.n_pages, h.n_syl))
        goto out;
    const char *p = b.data + sizeof(h);
    memcpy(t->page_of, p, sizeof(t->page_of));
    p += sizeof(t->page_of);
    for (size_t i = 0; i < CP_PAGES; i++)
        if (t->page_of[i] >= h.n_pages)
            goto out;
    t->pages = dq_xmalloc(h.n_pages * sizeof(*t->pages));
    memcpy(t->pages, p, h.n_pages * sizeof(*t->pages));
    p += h.n_pages * sizeof(*t->pages);
    for (uint32_t i = 0; i < h.n_syl; i++, p += SYL_TOK + 1) {
        memcpy(t->syl[i], p, SYL_TOK);
        t->syl[i][SYL_TOK - 1] = '\0';
        t->syl_len[i] = (uint8_t)DQ_MIN((unsigned char)p[SYL_TOK], SYL_TOK - 1);
    }
    /* Syllable ids in pages must name a syllable: a damaged file must not index out of syl. */
    for (uint32_t pg = 0; pg < h.n_pages; pg++)
        for (int i = 0; i < 256; i++)
            for (int k = 0; k < 2; k++)
                if (t->pages[pg][i].py[k] >= h.n_syl) {
                    free(t->pages);
                    t->pages = NULL;
                    goto out;
                }
    t->n_pages = h.n_pages;
    t->n_syl = h.n_syl;
    t->n_readings = (size_t)h.n_readings;
    t->n_variants = (size_t)h.n_variants;
    ok = 1;
out:
    dq_buf_free(&b);
    return ok;
}

static int cache_write(const tables_t *t, const char *path, const char *tmp_dir,
                       const uint64_t src[4], uint64_t opencc, dq_err_t *err)
{
    dq_buf_t b = {0};
    cache_hdr_t h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.n_pages = t->n_pages;
    h.n_syl = t->n_syl;
    memcpy(h.src, src, sizeof(h.src));
    h.opencc = opencc;
    h.n_readings = t->n_readings;
    h.n_variants = t->n_variants;
    dq_buf_append(&b, &h, sizeof(h));
    dq_buf_append(&b, t->page_of, sizeof(t->page_of));
    dq_buf_append(&b, t->pages, t->n_pages * sizeof(*t->pages));
    for (uint32_t i = 0; i < t->n_syl; i++) {
        dq_buf_append(&b, t->syl[i], SYL_TOK);
        dq_buf_putc(&b, (char)t->syl_len[i]);
    }
    char *dir = NULL;
    if (!tmp_dir) {
        const char *slash = strrchr(path, '/');
        dir = slash ? dq_xstrndup(path, (size_t)(slash - path)) : dq_xstrdup(".");
        if (!*dir) {
            free(dir);
            dir = dq_xstrdup("/");
        }
    }
    int rc = dq_fs_write_atomic(path, tmp_dir ? tmp_dir : dir, b.data, b.len, err);
    free(dir);
    dq_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- entry points */

int tables_load(tables_t *t, const dq_search_config_t *cfg, void *cc, int *from_cache,
                dq_err_t *err)
{
    int rc = -1;
    const char *dir = cfg && cfg->unihan_dir ? cfg->unihan_dir : UNIHAN_DIR;
    char *readings = dq_xasprintf("%s/Unihan_Readings.txt.bz2", dir);
    char *variants = dq_xasprintf("%s/Unihan_Variants.txt.bz2", dir);
    syl_index_t *ix = NULL;
    uint64_t src[4];
    src_stamp(readings, variants, src);
    const char *occ = cfg && cfg->opencc_config ? cfg->opencc_config : "t2s.json";
    uint64_t opencc = cc ? dq_hash64(occ, strlen(occ)) : 0;
    *from_cache = 0;
    if (cfg && cfg->cache_path && cache_read(t, cfg->cache_path, src, opencc)) {
        *from_cache = 1;
        rc = 0;
        goto out;
    }
    /* Page 0 is the shared empty page; syllable id 0 means "none". */
    t->pages = dq_xcalloc(1, sizeof(*t->pages));
    t->n_pages = 1;
    t->n_syl = 1;
    ix = dq_xcalloc(1, sizeof(*ix));
    if (read_bz2_lines(readings, t, ix, reading_line, err) < 0 ||
        read_bz2_lines(variants, t, ix, variant_line, err) < 0)
        goto out;
    if (cc)
        opencc_map(t, cc);
    if (t->n_readings < 1000) {
        dq_err_set(err, DQ_EIO, 500, "search: %s has only %zu kMandarin readings", readings,
                   t->n_readings);
        goto out;
    }
    if (cfg && cfg->cache_path) {
        dq_err_t e2;
        /* A cache that cannot be written costs start-up time, not correctness; the caller
         * sees from_cache stay 0 on the next start (this module does not log). */
        (void)cache_write(t, cfg->cache_path, cfg->tmp_dir, src, opencc, &e2);
    }
    rc = 0;
out:
    free(ix);
    free(readings);
    free(variants);
    return rc;
}

void tables_free(tables_t *t)
{
    if (!t)
        return;
    free(t->pages);
    t->pages = NULL;
}
