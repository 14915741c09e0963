/*
 * test_relic_index.c: the in-memory facet and sort index (relic_index.c) against brute force
 * on random rows: the accession keys order like strcmp, a page sorted by accession (with and
 * without a cursor) is the first rows of a full sort, and a search without filters (the flags
 * fast path) selects and counts exactly what a row-by-row count of the same rows gives.
 * Includes relic_index.c to reach its statics and to fill an index without a store.
 */
#include "dq_test.h"

#include "../../../src/catalog/relic_index.c"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator (tests repeat exactly). */
static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

static void rand_acc(uint64_t *s, char *out, size_t cap)
{
    /* few letters and long shared prefixes, so that keys tie and strcmp must decide */
    static const char alpha[] = {'\x01', '-', '0', '9', 'A', 'a', '\x7f', '\xe4', '\xff'};
    size_t n = rnd(s) % 24, i = 0;
    if (rnd(s) % 2)
        for (; i < n && i < 17; i++)
            out[i] = "DQ-2026-0000000000"[i];
    for (; i < n && i + 1 < cap; i++)
        out[i] = alpha[rnd(s) % sizeof(alpha)];
    out[i] = '\0';
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

DQ_TEST(accession_keys_order_like_strcmp)
{
    uint64_t s = 42;
    int bad = 0;
    for (int t = 0; t < 200000; t++) {
        char a[32], b[32];
        rand_acc(&s, a, sizeof(a));
        if (rnd(&s) % 4 == 0)
            memcpy(b, a, sizeof(a)); /* equal strings too */
        else
            rand_acc(&s, b, sizeof(b));
        acckey_t ka = acc_key(a), kb = acc_key(b);
        bad += sign(acc_cmp(&ka, a, &kb, b)) != sign(strcmp(a, b));
    }
    DQ_CHECK(bad == 0);
}

/* Random rows put into an index; the test keeps its own copy of what it put. */
#define N_ROWS 3000
static const char *const dyns[] = {NULL, "song", "ming", "qing", "yuan"};
static const char *const subjs[] = {"landscape", "figure", "flower", "bird"};
static const char *const cres[] = {"张", "李", "王"};
static const char *const cres_en[] = {"Zhang", "Li", "Wang"};

typedef struct {
    int present, restricted, has_images;
    int dyn, n_subj, subj[3], n_cre, cre[2];
    char acc[32], id[32];
} row_t;

static void fill(relic_index_t *ix, row_t *rows, uint64_t *s)
{
    ix->built = 1; /* put_row then replaces rows by id, as the change feed does */
    for (int i = 1; i < N_ROWS; i++) {
        row_t *r = &rows[i];
        r->present = rnd(s) % 10 != 0;
        r->restricted = rnd(s) % 5 == 0;
        r->has_images = rnd(s) % 2;
        r->dyn = (int)(rnd(s) % DQ_ARRAY_LEN(dyns));
        r->n_subj = (int)(rnd(s) % 3);
        for (int k = 0; k < r->n_subj; k++)
            r->subj[k] = (int)(rnd(s) % DQ_ARRAY_LEN(subjs));
        r->n_cre = (int)(rnd(s) % 3);
        for (int k = 0; k < r->n_cre; k++)
            r->cre[k] = (int)(rnd(s) % DQ_ARRAY_LEN(cres));
        rand_acc(s, r->acc, sizeof(r->acc));
        snprintf(r->id, sizeof(r->id), "dq-%d", i);
        const char *sj[3], *cr[2], *ce[2];
        for (int k = 0; k < r->n_subj; k++)
            sj[k] = subjs[r->subj[k]];
        for (int k = 0; k < r->n_cre; k++) {
            cr[k] = cres[r->cre[k]];
            ce[k] = cres_en[r->cre[k]];
        }
        dq_relic_ixrow_t x = {.seq = i,
                              .id = r->id,
                              .accession = r->acc,
                              .dynasty = dyns[r->dyn],
                              .restricted = r->restricted,
                              .has_images = r->has_images,
                              .subjects = sj,
                              .n_subjects = r->n_subj,
                              .creators = cr,
                              .creators_en = ce,
                              .n_creators = r->n_cre};
        put_row(ix, &x);
        if (!r->present)
            entry_drop(ix, i);
    }
}

static dq_relic_query_t plain_query(void)
{
    dq_relic_query_t q = {0};
    q.has_images = -1;
    q.year_from = INT_MIN;
    q.year_to = INT_MAX;
    return q;
}

/* The facets JSON of the rows listed in sel[0..n), counted row by row (the response's
 * order: count descending, then key bytes; NULL keys left out). */
static void brute_facets(const row_t *rows, const int64_t *sel, size_t n, int lang_en,
                         dq_buf_t *out)
{
    const char *const *keys[4] = {dyns, NULL, subjs, lang_en ? cres_en : cres};
    size_t nk[4] = {DQ_ARRAY_LEN(dyns), 0, DQ_ARRAY_LEN(subjs), DQ_ARRAY_LEN(cres)};
    static const char *const names[] = {"dynasty", "object_type", "subject", "creator", "medium"};
    dq_buf_puts(out, ",\"facets\":{");
    for (int f = 0; f < 5; f++) {
        unsigned c[8] = {0};
        for (size_t i = 0; i < n; i++) {
            const row_t *r = &rows[sel[i]];
            if (f == 0 && r->dyn)
                c[r->dyn]++;
            for (int k = 0; f == 2 && k < r->n_subj; k++)
                c[r->subj[k]]++;
            for (int k = 0; f == 3 && k < r->n_cre; k++)
                c[r->cre[k]]++;
        }
        dq_buf_printf(out, "\"%s\":[", names[f]);
        int first = 1;
        for (;;) { /* selection: the best key left, then clear it */
            long best = -1;
            for (size_t k = 0; f < 4 && keys[f] && k < nk[f]; k++)
                if (c[k] && (best < 0 || c[k] > c[best] ||
                             (c[k] == c[best] && strcmp(keys[f][k], keys[f][best]) < 0)))
                    best = (long)k;
            if (best < 0)
                break;
            dq_buf_printf(out, "%s{\"key\":\"%s\",\"count\":%u}", first ? "" : ",", keys[f][best],
                          c[best]);
            c[best] = 0;
            first = 0;
        }
        dq_buf_puts(out, "],");
    }
    unsigned img[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        img[rows[sel[i]].has_images]++;
    dq_buf_puts(out, "\"has_images\":[");
    int b = img[1] > img[0] ? 1 : 0;
    if (img[b])
        dq_buf_printf(out, "{\"key\":\"%d\",\"count\":%u}", b, img[b]);
    if (img[!b])
        dq_buf_printf(out, "%s{\"key\":\"%d\",\"count\":%u}", img[b] ? "," : "", !b, img[!b]);
    dq_buf_puts(out, "]}");
}

DQ_TEST(plain_select_and_facets_equal_brute_force)
{
    uint64_t s = 7;
    relic_index_t *ix = relic_index_new();
    row_t *rows = dq_xcalloc(N_ROWS, sizeof(*rows));
    fill(ix, rows, &s);
    int64_t *cand = dq_xmalloc(N_ROWS * sizeof(*cand)), *want = dq_xmalloc(N_ROWS * sizeof(*want));
    int bad = 0;
    for (int t = 0; t < 40; t++) {
        int only = t % 2, show = (t / 2) % 2, lang_en = (t / 4) % 2;
        size_t n_cand = 0, n_want = 0;
        for (int i = 1; i < N_ROWS; i++) {
            int in = !only || rnd(&s) % 3 == 0;
            if (only && in)
                cand[n_cand++] = i;
            if (in && rows[i].present && (show || !rows[i].restricted))
                want[n_want++] = i;
        }
        dq_relic_query_t q = plain_query();
        relic_sel_t sel;
        dq_buf_t fac = {0}, exp = {0};
        relic_index_select(ix, &q, show, lang_en, only, cand, n_cand, &sel, &fac);
        brute_facets(rows, want, n_want, lang_en, &exp);
        if (sel.n != n_want || memcmp(sel.seq, want, n_want * sizeof(*want)) != 0 ||
            strcmp(fac.data, exp.data) != 0) {
            bad++;
            fprintf(stderr, "    case %d: %zu rows, want %zu\n    %s\n    want %s\n", t, sel.n,
                    n_want, fac.data, exp.data);
        }
        relic_sel_free(&sel);
        dq_buf_free(&fac);
        dq_buf_free(&exp);
    }
    DQ_CHECK(bad == 0);
    free(cand);
    free(want);
    free(rows);
    relic_index_free(ix);
}

static const row_t *sort_rows;

static int cmp_acc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int c = strcmp(sort_rows[x].acc, sort_rows[y].acc);
    return c ? c : (x > y) - (x < y);
}

DQ_TEST(accession_pages_equal_a_full_sort)
{
    uint64_t s = 11;
    relic_index_t *ix = relic_index_new();
    row_t *rows = dq_xcalloc(N_ROWS, sizeof(*rows));
    fill(ix, rows, &s);
    dq_relic_query_t q = plain_query();
    relic_sel_t sel;
    relic_index_select(ix, &q, 1, 0, 0, NULL, 0, &sel, NULL);
    int64_t *all = dq_xmalloc((sel.n + 1) * sizeof(*all)), page[25];
    memcpy(all, sel.seq, sel.n * sizeof(*all));
    sort_rows = rows;
    qsort(all, sel.n, sizeof(*all), cmp_acc);
    /* page through everything, 25 rows at a time, with the keyset cursor */
    relic_plan_t p = {.sort = DQ_RELIC_SORT_ACCESSION, .limit = 25};
    size_t at = 0;
    int bad = 0;
    for (;;) {
        size_t n = relic_index_page(ix, &p, &sel, page, 25);
        for (size_t i = 0; i < n; i++)
            bad += at + i >= sel.n || page[i] != all[at + i];
        at += n;
        if (n < 25)
            break;
        p.has_cursor = 1;
        p.cursor_str = rows[page[n - 1]].acc;
        p.cursor_seq = page[n - 1];
    }
    DQ_CHECK(bad == 0);
    DQ_CHECK(at == sel.n);
    relic_sel_free(&sel);
    free(all);
    free(rows);
    relic_index_free(ix);
}
