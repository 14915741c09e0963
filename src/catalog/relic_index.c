/*
 * relic_index.c: the in-memory facet and sort index of the relics, backend-neutral. For every
 * relic (by the backend's seq, the number its full-text matches come back with) it keeps the
 * values search filters, counts and sorts on, as compact columns (interned string ids, years,
 * flags, the accession), so that a search filters, counts its six facets and picks its page in
 * C over arrays instead of six GROUP BYs over the matches.
 *
 * The store stays the truth. The index is built once from relics->index_rows and then follows
 * the change feed (audit->since): each committed relic write, of this process or any other
 * sharing the catalog, adds an audit row naming the relic, and the next search re-reads just
 * those relics. A server's watcher applies the feed too (relic_index_follow, from
 * dq_catalog_refresh about once a second, at most a bounded number of feed rows each time), so
 * a search after another process's write usually finds the index current. A full rebuild
 * (about 0.3 s per 100,000 relics) happens only at the first search and when a search meets a
 * burst of changes (a bulk import elsewhere) that names more relics than a rebuild would cost.
 * It does not run full-text queries or render JSON (relic_search.c).
 *
 * Thread safety: one rwlock; relic_index_sync takes it for writing, searches read under
 * relic_index_rdlock.
 */
#include "catalog/relic_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Feed rows read per since() call. */
#define FEED_BATCH 1000
/* More changed relics than this (and than an eighth of the index) are cheaper to rebuild. */
#define FEED_REBUILD_MIN 5000

enum { IX_PRESENT = 1, IX_RESTRICTED = 2, IX_HAS_IMAGES = 4, IX_HAS_YEAR = 8 };

typedef struct {
    int64_t seq;
    uint32_t hash;
} idslot_t;

/* One relic's entry. Strings are ids into ix->str (0: NULL); lists live in ix->pool. */
typedef struct {
    uint32_t dyn, type, med;
    int32_t year_from, year_to;
    uint32_t subj_off, cre_off; /* subjects: ids; creators: (name, name_en) id pairs */
    uint8_t n_subj, n_cre, flags;
    char *accession; /* owned */
    char *id;        /* owned */
} rentry_t;

/* The first 16 bytes of an accession as two big-endian numbers (zero-padded): comparing keys
 * orders accessions as strcmp does (unsigned bytes, a shorter string first), and only keys
 * that tie need the strings. A page sorted by accession compares every candidate with the
 * worst of the page so far; at 500,000 relics strcmp through each entry's own allocation was
 * half of a browse (issue 9). Kept apart from the entries, which filters and facets scan. */
typedef struct {
    uint64_t hi, lo;
} acckey_t;

struct relic_index {
    pthread_rwlock_t lock; /* guards everything below */
    int built;
    int64_t feed_seq;     /* the audit seq the index reflects */
    int64_t n_rebuilds;   /* full builds so far (tests, bench) */
    int64_t n_reloads;    /* relics re-read from the feed so far */
    rentry_t *e;          /* indexed by seq, [0, cap) */
    uint8_t *fl;          /* e[seq].flags again, [0, cap): what a search without filters reads
                             (a byte a row instead of a 48-byte entry) */
    acckey_t *acck;       /* the accession key of e[seq], [0, cap) */
    int64_t cap, max_seq; /* max_seq: largest seq ever present */
    /* interned strings: str[id] owned; open-addressing table of ids, n_slot a power of 2 */
    char **str;
    uint32_t n_str, cap_str, *slot, n_slot;
    uint32_t *pool; /* subject and creator lists; old lists of rewritten rows are garbage
                       until the next rebuild (a rewrite appends) */
    size_t n_pool, cap_pool;
    /* relic id -> seq of its present entry: open addressing (seq 0: empty); each slot keeps
     * the id's hash, so that probing and growing rarely touch the strings */
    idslot_t *idslot;
    size_t n_idslot, n_ids;
};

/* ---------------------------------------------------------------- strings */

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The id of s, or 0 when s is NULL or unknown. */
static uint32_t str_find(const relic_index_t *ix, const char *s)
{
    if (!s || !ix->n_slot)
        return 0;
    for (uint32_t i = str_hash(s) & (ix->n_slot - 1);; i = (i + 1) & (ix->n_slot - 1)) {
        uint32_t id = ix->slot[i];
        if (!id)
            return 0;
        if (strcmp(ix->str[id], s) == 0)
            return id;
    }
}

/* The id of s, adding a copy when it is new; 0 for NULL. */
static uint32_t str_intern(relic_index_t *ix, const char *s)
{
    if (!s)
        return 0;
    if ((ix->n_str + 1) * 2 >= ix->n_slot) { /* keep the table at most half full */
        uint32_t n = ix->n_slot ? ix->n_slot * 2 : 1024;
        free(ix->slot);
        ix->slot = dq_xcalloc(n, sizeof(*ix->slot));
        ix->n_slot = n;
        for (uint32_t id = 1; id <= ix->n_str; id++) {
            uint32_t i = str_hash(ix->str[id]) & (n - 1);
            while (ix->slot[i])
                i = (i + 1) & (n - 1);
            ix->slot[i] = id;
        }
    }
    uint32_t i = str_hash(s) & (ix->n_slot - 1);
    for (; ix->slot[i]; i = (i + 1) & (ix->n_slot - 1))
        if (strcmp(ix->str[ix->slot[i]], s) == 0)
            return ix->slot[i];
    if (ix->n_str + 2 > ix->cap_str) {
        ix->cap_str = ix->cap_str ? ix->cap_str * 2 : 256;
        ix->str = dq_xrealloc(ix->str, ix->cap_str * sizeof(*ix->str));
    }
    ix->str[++ix->n_str] = dq_xstrdup(s);
    ix->slot[i] = ix->n_str;
    return ix->n_str;
}

static void pool_push(relic_index_t *ix, uint32_t v)
{
    if (ix->n_pool == ix->cap_pool) {
        ix->cap_pool = ix->cap_pool ? ix->cap_pool * 2 : 4096;
        ix->pool = dq_xrealloc(ix->pool, ix->cap_pool * sizeof(*ix->pool));
    }
    ix->pool[ix->n_pool++] = v;
}

/* ---------------------------------------------------------------- relic id -> seq */

/* The slot of id (hash h) in ix->idslot: where it is, or the empty slot where it would go. */
static size_t id_slot(const relic_index_t *ix, const char *id, uint32_t h)
{
    size_t mask = ix->n_idslot - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const idslot_t *x = &ix->idslot[i];
        if (!x->seq || (x->hash == h && strcmp(ix->e[x->seq].id, id) == 0))
            return i;
    }
}

/* The seq of the present relic id, or 0. */
static int64_t id_find(const relic_index_t *ix, const char *id)
{
    return ix->n_idslot ? ix->idslot[id_slot(ix, id, str_hash(id))].seq : 0;
}

/* The empty slot for hash h (the id is known to be absent). */
static size_t id_free_slot(const relic_index_t *ix, uint32_t h)
{
    size_t mask = ix->n_idslot - 1, i = h & mask;
    while (ix->idslot[i].seq)
        i = (i + 1) & mask;
    return i;
}

static void id_put(relic_index_t *ix, int64_t seq)
{
    if ((ix->n_ids + 1) * 2 >= ix->n_idslot) {
        size_t n = ix->n_idslot ? ix->n_idslot * 2 : 1024;
        idslot_t *old = ix->idslot;
        size_t n_old = ix->n_idslot;
        ix->idslot = dq_xcalloc(n, sizeof(*ix->idslot));
        ix->n_idslot = n;
        for (size_t i = 0; i < n_old; i++)
            if (old[i].seq)
                ix->idslot[id_free_slot(ix, old[i].hash)] = old[i];
        free(old);
    }
    uint32_t h = str_hash(ix->e[seq].id);
    size_t i = id_slot(ix, ix->e[seq].id, h);
    if (!ix->idslot[i].seq)
        ix->n_ids++;
    ix->idslot[i] = (idslot_t){seq, h};
}

/* Removes id (open addressing: the cluster after it is re-inserted). */
static void id_del(relic_index_t *ix, const char *id)
{
    if (!ix->n_idslot)
        return;
    size_t mask = ix->n_idslot - 1, i = id_slot(ix, id, str_hash(id));
    if (!ix->idslot[i].seq)
        return;
    ix->idslot[i].seq = 0;
    ix->n_ids--;
    for (size_t j = (i + 1) & mask; ix->idslot[j].seq; j = (j + 1) & mask) {
        idslot_t x = ix->idslot[j];
        ix->idslot[j].seq = 0;
        ix->idslot[id_free_slot(ix, x.hash)] = x;
    }
}

/* ---------------------------------------------------------------- entries */

static rentry_t *entry(relic_index_t *ix, int64_t seq)
{
    if (seq >= ix->cap) {
        int64_t n = ix->cap ? ix->cap : 1024;
        while (n <= seq)
            n *= 2;
        ix->e = dq_xrealloc(ix->e, (size_t)n * sizeof(*ix->e));
        memset(ix->e + ix->cap, 0, (size_t)(n - ix->cap) * sizeof(*ix->e));
        ix->fl = dq_xrealloc(ix->fl, (size_t)n);
        memset(ix->fl + ix->cap, 0, (size_t)(n - ix->cap));
        ix->acck = dq_xrealloc(ix->acck, (size_t)n * sizeof(*ix->acck));
        memset(ix->acck + ix->cap, 0, (size_t)(n - ix->cap) * sizeof(*ix->acck));
        ix->cap = n;
    }
    if (seq > ix->max_seq)
        ix->max_seq = seq;
    return &ix->e[seq];
}

static void index_clear(relic_index_t *ix)
{
    for (int64_t i = 0; i < ix->cap; i++) {
        free(ix->e[i].accession);
        free(ix->e[i].id);
    }
    for (uint32_t i = 1; i <= ix->n_str; i++)
        free(ix->str[i]);
    free(ix->e);
    free(ix->acck);
    free(ix->fl);
    free(ix->str);
    free(ix->slot);
    free(ix->pool);
    free(ix->idslot);
    ix->built = 0;
    ix->feed_seq = 0;
    ix->e = NULL;
    ix->acck = NULL;
    ix->fl = NULL;
    ix->cap = ix->max_seq = 0;
    ix->str = NULL;
    ix->n_str = ix->cap_str = ix->n_slot = 0;
    ix->slot = ix->pool = NULL;
    ix->n_pool = ix->cap_pool = 0;
    ix->idslot = NULL;
    ix->n_idslot = ix->n_ids = 0;
}

/* Marks the entry of seq not present (its strings stay interned). */
static void entry_drop(relic_index_t *ix, int64_t seq)
{
    rentry_t *e = &ix->e[seq];
    if (!(e->flags & IX_PRESENT))
        return;
    id_del(ix, e->id);
    e->flags = 0;
    ix->fl[seq] = 0;
}

static uint64_t be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static acckey_t acc_key(const char *s)
{
    unsigned char b[16] = {0};
    for (int i = 0; i < 16 && s[i]; i++)
        b[i] = (unsigned char)s[i];
    return (acckey_t){be64(b), be64(b + 8)};
}

/* strcmp(a's accession, b's accession) through their keys. */
static int acc_cmp(const acckey_t *ka, const char *a, const acckey_t *kb, const char *b)
{
    if (ka->hi != kb->hi)
        return ka->hi < kb->hi ? -1 : 1;
    if (ka->lo != kb->lo)
        return ka->lo < kb->lo ? -1 : 1;
    return strcmp(a, b);
}

/* Sets the entry of row->seq from row (a relic the store returned). */
static int put_row(void *ud, const dq_relic_ixrow_t *r)
{
    relic_index_t *ix = ud;
    if (r->seq <= 0)
        return 0;
    int64_t old = ix->built ? id_find(ix, r->id) : 0; /* a build starts empty */
    if (old && old != r->seq)
        entry_drop(ix, old);
    rentry_t *e = entry(ix, r->seq);
    if (e->flags & IX_PRESENT)
        id_del(ix, e->id);
    e->dyn = str_intern(ix, r->dynasty);
    e->type = str_intern(ix, r->object_type);
    e->med = str_intern(ix, r->medium);
    e->flags = IX_PRESENT;
    e->year_from = e->year_to = 0;
    if (r->has_year) {
        e->flags |= IX_HAS_YEAR;
        e->year_from = r->year_from;
        e->year_to = r->year_to;
    }
    if (r->restricted)
        e->flags |= IX_RESTRICTED;
    if (r->has_images)
        e->flags |= IX_HAS_IMAGES;
    ix->fl[r->seq] = e->flags;
    free(e->accession);
    free(e->id);
    e->accession = dq_xstrdup(r->accession ? r->accession : "");
    ix->acck[r->seq] = acc_key(e->accession);
    e->id = dq_xstrdup(r->id);
    e->n_subj = (uint8_t)DQ_MIN(r->n_subjects, UINT8_MAX);
    e->subj_off = (uint32_t)ix->n_pool;
    for (int i = 0; i < e->n_subj; i++)
        pool_push(ix, str_intern(ix, r->subjects[i]));
    e->n_cre = (uint8_t)DQ_MIN(r->n_creators, UINT8_MAX);
    e->cre_off = (uint32_t)ix->n_pool;
    for (int i = 0; i < e->n_cre; i++) {
        pool_push(ix, str_intern(ix, r->creators[i]));
        pool_push(ix, str_intern(ix, r->creators_en[i]));
    }
    id_put(ix, r->seq);
    return 0;
}

/* ---------------------------------------------------------------- building and following */

relic_index_t *relic_index_new(void)
{
    relic_index_t *ix = dq_xcalloc(1, sizeof(*ix));
    DQ_ASSERT(pthread_rwlock_init(&ix->lock, NULL) == 0);
    return ix;
}

void relic_index_free(relic_index_t *ix)
{
    if (!ix)
        return;
    index_clear(ix);
    pthread_rwlock_destroy(&ix->lock);
    free(ix);
}

/* Whole build: every relic in one walk of the store, at the feed position of the same
 * snapshot. Lock held for writing. */
static int rebuild(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn,
                   dq_err_t *err)
{
    int64_t seq = 0;
    index_clear(ix);
    if (b->audit->max_seq(txn, &seq, err) < 0 ||
        b->relics->index_rows(txn, NULL, put_row, ix, err) < 0) {
        index_clear(ix);
        return -1;
    }
    ix->feed_seq = seq;
    ix->built = 1;
    ix->n_rebuilds++;
    return 0;
}

/* The relic ids the feed names after ix->feed_seq (deduplicated, in first-seen order). */
typedef struct {
    char **id;
    size_t n, cap;
    int64_t last; /* the last seq read */
    int n_rows;   /* rows of this batch */
} feed_t;

static int feed_row(void *ud, const dq_store_audit_row_t *row)
{
    feed_t *f = ud;
    f->last = row->seq;
    f->n_rows++;
    if (!row->action || strncmp(row->action, "relic.", 6) != 0 || !row->object)
        return 0;
    const char *id = row->object;
    if (strncmp(id, "relic/", 6) == 0)
        id += 6;
    for (size_t i = f->n; i-- > 0 && i + 64 >= f->n;) /* bursts name a relic in a row */
        if (strcmp(f->id[i], id) == 0)
            return 0;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->id = dq_xrealloc(f->id, f->cap * sizeof(*f->id));
    }
    f->id[f->n++] = dq_xstrdup(id);
    return 0;
}

/* Applies the change feed since ix->feed_seq: each named relic is re-read (gone: dropped).
 * *rebuild_instead is set when there are too many to be worth it (never with max_rows > 0:
 * then at most max_rows feed rows are read, and the index stays behind by the rest). Lock
 * held for writing. */
static int follow(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn, int64_t upto,
                  int max_rows, int *rebuild_instead, dq_err_t *err)
{
    feed_t f = {0};
    int rc = -1, n_read = 0;
    int64_t limit = DQ_MAX((int64_t)FEED_REBUILD_MIN, ix->n_ids / 8);
    f.last = ix->feed_seq;
    *rebuild_instead = 0;
    for (;;) {
        int want = max_rows > 0 ? DQ_MIN(FEED_BATCH, max_rows - n_read) : FEED_BATCH;
        f.n_rows = 0;
        if (b->audit->since(txn, f.last, want, feed_row, &f, err) < 0)
            goto out;
        n_read += f.n_rows;
        if (max_rows <= 0 && (int64_t)f.n > limit) {
            *rebuild_instead = 1;
            rc = 0;
            goto out;
        }
        if (f.n_rows < want || f.last >= upto)
            break;
        if (max_rows > 0 && n_read >= max_rows) {
            upto = f.last; /* the rest waits for the next call */
            break;
        }
    }
    for (size_t i = 0; i < f.n; i++) {
        int64_t seq = id_find(ix, f.id[i]);
        if (seq)
            entry_drop(ix, seq);
        if (b->relics->index_rows(txn, f.id[i], put_row, ix, err) < 0)
            goto out;
    }
    ix->n_reloads += (int64_t)f.n;
    ix->feed_seq = f.last > upto ? f.last : upto;
    rc = 0;
out:
    for (size_t i = 0; i < f.n; i++)
        free(f.id[i]);
    free(f.id);
    return rc;
}

int relic_index_sync(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn,
                     dq_err_t *err)
{
    int64_t seq = 0;
    if (b->audit->max_seq(txn, &seq, err) < 0)
        return -1;
    DQ_ASSERT(pthread_rwlock_rdlock(&ix->lock) == 0);
    int current = ix->built && ix->feed_seq >= seq;
    pthread_rwlock_unlock(&ix->lock);
    if (current)
        return 0;
    int rc = 0, again = 0;
    DQ_ASSERT(pthread_rwlock_wrlock(&ix->lock) == 0);
    if (!ix->built)
        rc = rebuild(ix, b, txn, err);
    else if (ix->feed_seq < seq && (rc = follow(ix, b, txn, seq, 0, &again, err)) == 0 && again)
        rc = rebuild(ix, b, txn, err);
    if (rc < 0)
        index_clear(ix); /* the next search builds it again */
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

int relic_index_follow(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn,
                       int max_rows, dq_err_t *err)
{
    int64_t seq = 0;
    if (b->audit->max_seq(txn, &seq, err) < 0)
        return -1;
    DQ_ASSERT(pthread_rwlock_rdlock(&ix->lock) == 0);
    int idle = !ix->built || ix->feed_seq >= seq;
    pthread_rwlock_unlock(&ix->lock);
    if (idle)
        return 0;
    int rc = 0, again = 0;
    DQ_ASSERT(pthread_rwlock_wrlock(&ix->lock) == 0);
    if (ix->built && ix->feed_seq < seq && (rc = follow(ix, b, txn, seq, max_rows, &again, err)) < 0)
        index_clear(ix); /* it may have missed a change: the next search builds it again */
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

void relic_index_rdlock(relic_index_t *ix)
{
    DQ_ASSERT(pthread_rwlock_rdlock(&ix->lock) == 0);
}

void relic_index_unlock(relic_index_t *ix)
{
    pthread_rwlock_unlock(&ix->lock);
}

int64_t relic_index_max_seq(const relic_index_t *ix)
{
    return ix->max_seq;
}

void relic_index_stats(relic_index_t *ix, int64_t *rebuilds, int64_t *reloads)
{
    relic_index_rdlock(ix);
    *rebuilds = ix->n_rebuilds;
    *reloads = ix->n_reloads;
    relic_index_unlock(ix);
}

/* ---------------------------------------------------------------- filters and facets */

enum { F_DYN = 1, F_TYPE = 2, F_SUBJ = 4, F_CRE = 8, F_MED = 16, F_IMG = 32 };

typedef struct {
    const dq_relic_query_t *q;
    int show_restricted;
    uint32_t dyn, type, med, subj, cre; /* ids of the asked values (0: unknown value) */
} filt_t;

/* Which facet filters the row fails (F_* bits), or -1 when it fails a filter that no facet
 * ignores (visibility, years). */
static int row_mask(const relic_index_t *ix, const filt_t *f, const rentry_t *e)
{
    const dq_relic_query_t *q = f->q;
    if (!(e->flags & IX_PRESENT))
        return -1;
    if (!f->show_restricted && (e->flags & IX_RESTRICTED))
        return -1;
    /* Overlap (docs/api.md): the work's span meets the asked span; no dates: no match. */
    if (q->year_from != INT_MIN && (!(e->flags & IX_HAS_YEAR) || e->year_to < q->year_from))
        return -1;
    if (q->year_to != INT_MAX && (!(e->flags & IX_HAS_YEAR) || e->year_from > q->year_to))
        return -1;
    int m = 0;
    if (q->dynasty && (!f->dyn || e->dyn != f->dyn))
        m |= F_DYN;
    if (q->object_type && (!f->type || e->type != f->type))
        m |= F_TYPE;
    if (q->medium && (!f->med || e->med != f->med))
        m |= F_MED;
    if (q->has_images >= 0 && !!(e->flags & IX_HAS_IMAGES) != q->has_images)
        m |= F_IMG;
    if (q->subject) {
        int hit = 0;
        for (int i = 0; f->subj && i < e->n_subj; i++)
            hit |= ix->pool[e->subj_off + i] == f->subj;
        if (!hit)
            m |= F_SUBJ;
    }
    if (q->creator) {
        int hit = 0;
        for (int i = 0; f->cre && i < e->n_cre; i++)
            hit |= ix->pool[e->cre_off + 2 * i] == f->cre ||
                   ix->pool[e->cre_off + 2 * i + 1] == f->cre;
        if (!hit)
            m |= F_CRE;
    }
    return m;
}

typedef struct {
    const relic_index_t *ix;
    const uint32_t *c;
} fsort_t;

static int fsort_cmp(const void *a, const void *b, void *ud)
{
    const fsort_t *x = ud;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (x->c[i] != x->c[j])
        return x->c[i] > x->c[j] ? -1 : 1;
    return strcmp(x->ix->str[i], x->ix->str[j]); /* byte order, as SQLite's BINARY */
}

/* The top 50 keys of a facet, count descending then key. glibc's qsort_r is not C11; an
 * insertion sort into the top 50 is all a facet needs. */
static void facet_out(const relic_index_t *ix, const char *name, const uint32_t *c, dq_buf_t *out)
{
    uint32_t top[50];
    int n = 0;
    fsort_t x = {ix, c};
    for (uint32_t id = 1; id <= ix->n_str; id++) {
        if (!c[id])
            continue;
        if (n == 50 && fsort_cmp(&id, &top[49], &x) >= 0)
            continue;
        int i = n < 50 ? n++ : 49;
        while (i > 0 && fsort_cmp(&id, &top[i - 1], &x) < 0) {
            top[i] = top[i - 1];
            i--;
        }
        top[i] = id;
    }
    dq_buf_printf(out, "\"%s\":[", name);
    for (int i = 0; i < n; i++) {
        const char *k = ix->str[top[i]];
        dq_buf_puts(out, i ? ",{\"key\":\"" : "{\"key\":\"");
        dq_buf_json_str(out, k, strlen(k));
        dq_buf_printf(out, "\",\"count\":%lu}", (unsigned long)c[top[i]]);
    }
    dq_buf_putc(out, ']');
}

/* Counts row e in the facets its mask m allows (see relic_index_select). */
static inline void count_row(const relic_index_t *ix, const rentry_t *e, int m, int lang_en,
                             uint32_t *cnt[5], uint32_t cimg[2])
{
    /* a row that passes everything counts in every facet; a row that fails only facet X's
     * own filter counts in X alone (each facet ignores its own filter) */
    if (!m || m == F_DYN)
        cnt[0][e->dyn]++;
    if (!m || m == F_TYPE)
        cnt[1][e->type]++;
    if (!m || m == F_SUBJ)
        for (int i = 0; i < e->n_subj; i++)
            cnt[2][ix->pool[e->subj_off + i]]++;
    if (!m || m == F_CRE)
        for (int i = 0; i < e->n_cre; i++)
            cnt[3][ix->pool[e->cre_off + 2 * i + (lang_en ? 1 : 0)]]++;
    if (!m || m == F_MED)
        cnt[4][e->med]++;
    if (!m || m == F_IMG)
        cimg[(e->flags & IX_HAS_IMAGES) ? 1 : 0]++;
}

void relic_index_select(const relic_index_t *ix, const dq_relic_query_t *q, int show_restricted,
                        int lang_en, int only, const int64_t *cand, size_t n_cand, relic_sel_t *res,
                        dq_buf_t *facets)
{
    filt_t f = {q,
                show_restricted,
                str_find(ix, q->dynasty),
                str_find(ix, q->object_type),
                str_find(ix, q->medium),
                str_find(ix, q->subject),
                str_find(ix, q->creator)};
    /* Facet counts: one array per facet indexed by string id (has_images: 0/1). */
    uint32_t *cnt[5] = {NULL, NULL, NULL, NULL, NULL}; /* dynasty, type, subject, creator, medium */
    uint32_t cimg[2] = {0, 0};
    if (facets)
        for (int i = 0; i < 5; i++)
            cnt[i] = dq_xcalloc(ix->n_str + 1, sizeof(uint32_t));
    memset(res, 0, sizeof(*res));
    size_t n = only ? n_cand : (size_t)(ix->max_seq > 0 ? ix->max_seq : 0);
    res->seq = dq_xmalloc((n ? n : 1) * sizeof(*res->seq));
    /* No filter but visibility (a text query alone, or browsing): the flags decide, and the
     * entries are read only to count the facets. */
    int plain = !q->dynasty && !q->object_type && !q->medium && q->has_images < 0 && !q->subject &&
                !q->creator && q->year_from == INT_MIN && q->year_to == INT_MAX;
    uint8_t hide = show_restricted ? 0 : IX_RESTRICTED;
    for (size_t k = 0; plain && k < n; k++) {
        int64_t seq = only ? cand[k] : (int64_t)k + 1;
        if (seq <= 0 || seq >= ix->cap || !(ix->fl[seq] & IX_PRESENT) || (ix->fl[seq] & hide))
            continue;
        res->seq[res->n++] = seq;
        if (facets)
            count_row(ix, &ix->e[seq], 0, lang_en, cnt, cimg);
    }
    for (size_t k = 0; !plain && k < n; k++) {
        int64_t seq = only ? cand[k] : (int64_t)k + 1;
        if (seq <= 0 || seq >= ix->cap)
            continue;
        const rentry_t *e = &ix->e[seq];
        int m = row_mask(ix, &f, e);
        if (m < 0)
            continue;
        if (m == 0)
            res->seq[res->n++] = seq;
        if (facets && !(m & (m - 1))) /* fails two facet filters: counts nowhere */
            count_row(ix, e, m, lang_en, cnt, cimg);
    }
    if (facets) {
        static const char *const names[] = {"dynasty", "object_type", "subject", "creator",
                                            "medium"};
        dq_buf_puts(facets, ",\"facets\":{");
        for (int i = 0; i < 5; i++) {
            cnt[i][0] = 0; /* NULL keys are not listed */
            facet_out(ix, names[i], cnt[i], facets);
            dq_buf_putc(facets, ',');
        }
        dq_buf_puts(facets, "\"has_images\":[");
        /* count desc, then key ("0" < "1") */
        int first = cimg[1] > cimg[0] ? 1 : 0, nb = 0;
        for (int j = 0; j < 2; j++) {
            int b = j ? !first : first;
            if (!cimg[b])
                continue;
            dq_buf_printf(facets, "%s{\"key\":\"%d\",\"count\":%lu}", nb++ ? "," : "", b,
                          (unsigned long)cimg[b]);
        }
        dq_buf_puts(facets, "]}");
    }
    for (int i = 0; i < 5; i++)
        free(cnt[i]);
}

void relic_sel_free(relic_sel_t *res)
{
    free(res->seq);
    res->seq = NULL;
    res->n = 0;
}

/* ---------------------------------------------------------------- sorted pages */

typedef struct {
    const relic_index_t *ix;
    int sort;
    acckey_t cursor_key; /* the cursor's accession key (accession sort with a cursor) */
} ksort_t;

static int year_key(const rentry_t *e, int sort)
{
    /* missing dates sort last both ways */
    if (sort == DQ_RELIC_SORT_DATE)
        return (e->flags & IX_HAS_YEAR) ? e->year_from : 1000000;
    return (e->flags & IX_HAS_YEAR) ? e->year_to : -1000000;
}

/* <0 when a comes before b in the sort order. */
static int key_cmp(const ksort_t *k, int64_t a, int64_t b)
{
    const rentry_t *x = &k->ix->e[a], *y = &k->ix->e[b];
    int c;
    if (k->sort == DQ_RELIC_SORT_ACCESSION) {
        c = acc_cmp(&k->ix->acck[a], x->accession, &k->ix->acck[b], y->accession);
    } else {
        int p = year_key(x, k->sort), q = year_key(y, k->sort);
        c = p < q ? -1 : p > q;
    }
    if (!c)
        c = a < b ? -1 : a > b;
    return k->sort == DQ_RELIC_SORT_DATE_DESC ? -c : c;
}

/* 1 when seq comes strictly after the cursor (cursor_num or cursor_str, cursor_seq). */
static int after_cursor(const ksort_t *k, const relic_plan_t *p, int64_t seq)
{
    const relic_index_t *ix = k->ix;
    const rentry_t *e = &ix->e[seq];
    int c;
    if (p->sort == DQ_RELIC_SORT_ACCESSION) {
        c = acc_cmp(&ix->acck[seq], e->accession, &k->cursor_key, p->cursor_str);
    } else {
        double y = year_key(e, p->sort);
        c = y < p->cursor_num ? -1 : y > p->cursor_num;
    }
    if (!c)
        c = seq < p->cursor_seq ? -1 : seq > p->cursor_seq;
    return p->sort == DQ_RELIC_SORT_DATE_DESC ? c < 0 : c > 0;
}

static void heap_down(const ksort_t *k, int64_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && key_cmp(k, h[l], h[m]) > 0)
            m = l;
        if (r < n && key_cmp(k, h[r], h[m]) > 0)
            m = r;
        if (m == i)
            return;
        int64_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

size_t relic_index_page(const relic_index_t *ix, const relic_plan_t *p, const relic_sel_t *res,
                        int64_t *page, size_t k)
{
    ksort_t ks = {ix, p->sort, {0, 0}};
    size_t n = 0;
    if (p->has_cursor && p->sort == DQ_RELIC_SORT_ACCESSION)
        ks.cursor_key = acc_key(p->cursor_str);
    /* A max-heap of the k best so far (the worst on top): O(n log k). */
    for (size_t i = 0; i < res->n; i++) {
        int64_t seq = res->seq[i];
        if (p->has_cursor && !after_cursor(&ks, p, seq))
            continue;
        if (n < k) {
            page[n++] = seq;
            for (size_t j = n - 1; j > 0 && key_cmp(&ks, page[(j - 1) / 2], page[j]) < 0;
                 j = (j - 1) / 2) {
                int64_t t = page[j];
                page[j] = page[(j - 1) / 2];
                page[(j - 1) / 2] = t;
            }
        } else if (k && key_cmp(&ks, seq, page[0]) < 0) {
            page[0] = seq;
            heap_down(&ks, page, n, 0);
        }
    }
    /* heap sort in place: best first */
    for (size_t m = n; m > 1; m--) {
        int64_t t = page[0];
        page[0] = page[m - 1];
        page[m - 1] = t;
        heap_down(&ks, page, m - 1, 0);
    }
    return n;
}

int relic_index_entry(const relic_index_t *ix, int64_t seq, relic_ixinfo_t *out)
{
    if (seq <= 0 || seq >= ix->cap || !(ix->e[seq].flags & IX_PRESENT))
        return 1;
    const rentry_t *e = &ix->e[seq];
    out->id = e->id;
    out->accession = e->accession;
    out->has_year = (e->flags & IX_HAS_YEAR) != 0;
    out->year_from = e->year_from;
    out->year_to = e->year_to;
    out->sort_year = year_key(e, DQ_RELIC_SORT_DATE);
    out->sort_year_desc = year_key(e, DQ_RELIC_SORT_DATE_DESC);
    return 0;
}
