/*
 * image_map.c: the in-memory map behind the tile path (issue 9): image id -> the image's
 * record (packed: ~300 bytes, not the 1 KB of a dq_image_rec_t) and what anonymous
 * visibility needs, guarded by one rwlock, so that dq_catalog_image_get and
 * dq_catalog_image_visible answer with no SQL and no catalog-wide mutex. Backend-neutral: it
 * is filled by catalog.c from the store's image rows and relic links and kept coherent from
 * the change feed (catalog.c apply_feed), never by itself.
 *
 * Visibility (docs/api.md "Roles"): an image is hidden from anonymous callers when it is
 * linked to relics and every one of them is restricted. The map keeps, per image, how many
 * relic links it has and how many of them are from unrestricted relics, and per relic its
 * restricted flag and its linked image ids, so that one relic's change is applied by
 * subtracting its old links and adding its new ones (no full recount).
 *
 * Condition gates (issue 12, "anonymous users see only what the museum publishes"): an image
 * a relic links with role `condition` or `change-map` (a capture of a condition record, its
 * change map) is hidden from anonymous callers too unless a published condition record of
 * that relic refers to it. The map keeps, per relic, its gated image ids with an "open" flag
 * each (referred to by a published record), and per image how many gated links it has and how
 * many of them are open; condition.c decides which links are gated and which are open, this
 * file only counts. The two rules combine: hidden when either hides.
 */
#define _GNU_SOURCE
#include "image_map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- a string-keyed table */

/* Chained hash of string keys; grows at load 1. Not thread-safe (the map's rwlock). */
typedef struct node {
    struct node *next;
    char *key; /* owned */
    void *val; /* owned by the user of the table */
} node_t;

typedef struct {
    node_t **b;
    size_t n_b, n;
} table_t;

static size_t slot_of(const table_t *t, const char *key)
{
    return (size_t)(dq_hash64(key, strlen(key)) & (t->n_b - 1));
}

static node_t *t_find(const table_t *t, const char *key)
{
    if (!t->n_b)
        return NULL;
    for (node_t *n = t->b[slot_of(t, key)]; n; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

static node_t *t_add(table_t *t, const char *key)
{
    if (t->n >= t->n_b) {
        size_t nb = t->n_b ? t->n_b * 2 : 1024;
        node_t **b = dq_xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < t->n_b; i++)
            for (node_t *n = t->b[i], *next; n; n = next) {
                next = n->next;
                size_t k = (size_t)(dq_hash64(n->key, strlen(n->key)) & (nb - 1));
                n->next = b[k];
                b[k] = n;
            }
        free(t->b);
        t->b = b;
        t->n_b = nb;
    }
    node_t *n = dq_xcalloc(1, sizeof(*n));
    n->key = dq_xstrdup(key);
    size_t k = slot_of(t, key);
    n->next = t->b[k];
    t->b[k] = n;
    t->n++;
    return n;
}

/* Unlinks and frees the node of key (not its val, which is returned). */
static void *t_del(table_t *t, const char *key)
{
    if (!t->n_b)
        return NULL;
    for (node_t **p = &t->b[slot_of(t, key)]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0) {
            node_t *n = *p;
            void *v = n->val;
            *p = n->next;
            free(n->key);
            free(n);
            t->n--;
            return v;
        }
    return NULL;
}

static void t_clear(table_t *t, void (*free_val)(void *))
{
    for (size_t i = 0; i < t->n_b; i++)
        for (node_t *n = t->b[i], *next; n; n = next) {
            next = n->next;
            free_val(n->val);
            free(n->key);
            free(n);
        }
    free(t->b);
    memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- entries */

/* The strings of a record, packed one after another with their NULs. */
enum { S_SHA, S_MPATH, S_FMT, S_ORIG, S_PPATH, S_PSHA, S_CREATED, S_UPDATED, N_STR };

typedef struct {
    char *str;         /* owned: N_STR strings, NUL-separated; NULL: no image record */
    uint64_t master_size, pyramid_size;
    int width, height, levels, tile_size, bands, icc_converted;
    int n_links;  /* relic links to this image */
    int n_public; /* of them, from unrestricted relics */
    int n_gated;  /* condition/change-map links to this image (condition gates) */
    int n_open;   /* of them, referred to by a published condition record */
} img_t;

typedef struct {
    int restricted;
    int n;
    char **image_ids; /* owned */
} relic_t;

/* One relic's condition gates. */
typedef struct {
    int n;
    char **image_ids;    /* owned */
    unsigned char *open; /* owned; n flags */
} gate_t;

struct dq_image_map {
    pthread_rwlock_t lock; /* guards everything below */
    table_t images;        /* id -> img_t */
    table_t relics;        /* relic id -> relic_t (only relics with links) */
    table_t gates;         /* relic id -> gate_t (only relics with gated links) */
    int64_t n_records;     /* images with a record */
    int64_t n_hidden;      /* of them, hidden from anonymous callers */
};

static int hidden(const img_t *e)
{
    return (e->n_links > 0 && e->n_public == 0) || (e->n_gated > 0 && e->n_open == 0);
}

static void img_free(void *v)
{
    img_t *e = v;
    if (e)
        free(e->str);
    free(e);
}

static void gate_free(void *v)
{
    gate_t *g = v;
    for (int i = 0; g && i < g->n; i++)
        free(g->image_ids[i]);
    if (g) {
        free(g->image_ids);
        free(g->open);
    }
    free(g);
}

static void relic_free(void *v)
{
    relic_t *r = v;
    for (int i = 0; r && i < r->n; i++)
        free(r->image_ids[i]);
    if (r)
        free(r->image_ids);
    free(r);
}

/* Counts a record's share of the totals in or out (sign +1 / -1). */
static void tally(dq_image_map_t *m, const img_t *e, int sign)
{
    if (!e->str)
        return;
    m->n_records += sign;
    if (hidden(e))
        m->n_hidden += sign;
}

static img_t *img_get(dq_image_map_t *m, const char *id, int create)
{
    node_t *n = t_find(&m->images, id);
    if (n)
        return n->val;
    if (!create)
        return NULL;
    n = t_add(&m->images, id);
    n->val = dq_xcalloc(1, sizeof(img_t));
    return n->val;
}

/* Drops an entry that holds nothing any more. */
static void img_gc(dq_image_map_t *m, const char *id, img_t *e)
{
    if (!e->str && e->n_links == 0 && e->n_gated == 0)
        img_free(t_del(&m->images, id));
}

/* ---------------------------------------------------------------- public */

dq_image_map_t *dq_image_map_new(void)
{
    dq_image_map_t *m = dq_xcalloc(1, sizeof(*m));
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    /* Tile readers are many and constant; an update must not starve behind them. */
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&m->lock, &a);
    pthread_rwlockattr_destroy(&a);
    return m;
}

void dq_image_map_free(dq_image_map_t *m)
{
    if (!m)
        return;
    t_clear(&m->images, img_free);
    t_clear(&m->relics, relic_free);
    t_clear(&m->gates, gate_free);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

void dq_image_map_swap(dq_image_map_t *m, dq_image_map_t *fresh)
{
    pthread_rwlock_wrlock(&m->lock);
    pthread_rwlock_wrlock(&fresh->lock);
    table_t ti = m->images, tr = m->relics, tg = m->gates;
    int64_t nr = m->n_records, nh = m->n_hidden;
    m->images = fresh->images, m->relics = fresh->relics, m->gates = fresh->gates;
    m->n_records = fresh->n_records, m->n_hidden = fresh->n_hidden;
    fresh->images = ti, fresh->relics = tr, fresh->gates = tg;
    fresh->n_records = nr, fresh->n_hidden = nh;
    pthread_rwlock_unlock(&fresh->lock);
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_put(dq_image_map_t *m, const dq_image_rec_t *r)
{
    const char *s[N_STR] = {[S_SHA] = r->master_sha256,  [S_MPATH] = r->master_path,
                            [S_FMT] = r->master_format,  [S_ORIG] = r->orig_filename,
                            [S_PPATH] = r->pyramid_path, [S_PSHA] = r->pyramid_sha256,
                            [S_CREATED] = r->created_at, [S_UPDATED] = r->updated_at};
    size_t len = 0;
    for (int i = 0; i < N_STR; i++)
        len += strlen(s[i]) + 1;
    char *str = dq_xmalloc(len), *p = str;
    for (int i = 0; i < N_STR; i++) {
        size_t n = strlen(s[i]) + 1;
        memcpy(p, s[i], n);
        p += n;
    }
    pthread_rwlock_wrlock(&m->lock);
    img_t *e = img_get(m, r->id, 1);
    tally(m, e, -1);
    free(e->str);
    e->str = str;
    e->master_size = r->master_size;
    e->pyramid_size = r->pyramid_size;
    e->width = r->width;
    e->height = r->height;
    e->levels = r->levels;
    e->tile_size = r->tile_size;
    e->bands = r->bands;
    e->icc_converted = r->icc_converted;
    tally(m, e, +1);
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_drop(dq_image_map_t *m, const char *id)
{
    pthread_rwlock_wrlock(&m->lock);
    img_t *e = img_get(m, id, 0);
    if (e) {
        tally(m, e, -1);
        free(e->str);
        e->str = NULL;
        img_gc(m, id, e);
    }
    pthread_rwlock_unlock(&m->lock);
}

int dq_image_map_get(dq_image_map_t *m, const char *id, dq_image_rec_t *out)
{
    int found = 0;
    pthread_rwlock_rdlock(&m->lock);
    const img_t *e = img_get(m, id, 0);
    if (e && e->str) {
        memset(out, 0, sizeof(*out));
        snprintf(out->id, sizeof(out->id), "%s", id);
        char *dst[N_STR] = {[S_SHA] = out->master_sha256,  [S_MPATH] = out->master_path,
                            [S_FMT] = out->master_format,  [S_ORIG] = out->orig_filename,
                            [S_PPATH] = out->pyramid_path, [S_PSHA] = out->pyramid_sha256,
                            [S_CREATED] = out->created_at, [S_UPDATED] = out->updated_at};
        static const size_t cap[N_STR] = {
            [S_SHA] = sizeof(out->master_sha256), [S_MPATH] = sizeof(out->master_path),
            [S_FMT] = sizeof(out->master_format), [S_ORIG] = sizeof(out->orig_filename),
            [S_PPATH] = sizeof(out->pyramid_path), [S_PSHA] = sizeof(out->pyramid_sha256),
            [S_CREATED] = sizeof(out->created_at), [S_UPDATED] = sizeof(out->updated_at)};
        const char *p = e->str;
        for (int i = 0; i < N_STR; i++) {
            snprintf(dst[i], cap[i], "%s", p);
            p += strlen(p) + 1;
        }
        out->master_size = e->master_size;
        out->pyramid_size = e->pyramid_size;
        out->width = e->width;
        out->height = e->height;
        out->levels = e->levels;
        out->tile_size = e->tile_size;
        out->bands = e->bands;
        out->icc_converted = e->icc_converted;
        found = 1;
    }
    pthread_rwlock_unlock(&m->lock);
    return found;
}

int dq_image_map_visible(dq_image_map_t *m, const char *id)
{
    pthread_rwlock_rdlock(&m->lock);
    const img_t *e = img_get(m, id, 0);
    int vis = !e || !hidden(e);
    pthread_rwlock_unlock(&m->lock);
    return vis;
}

/* Adds (sign +1) or removes (-1) one link's share of image id. Lock held. */
static void link_tally(dq_image_map_t *m, const char *id, int restricted, int sign)
{
    img_t *e = img_get(m, id, sign > 0);
    if (!e)
        return;
    tally(m, e, -1);
    e->n_links += sign;
    if (!restricted)
        e->n_public += sign;
    tally(m, e, +1);
    img_gc(m, id, e);
}

void dq_image_map_link(dq_image_map_t *m, const char *relic_id, int restricted,
                       const char *image_id)
{
    pthread_rwlock_wrlock(&m->lock);
    node_t *n = t_find(&m->relics, relic_id);
    if (!n) {
        n = t_add(&m->relics, relic_id);
        n->val = dq_xcalloc(1, sizeof(relic_t));
        ((relic_t *)n->val)->restricted = restricted;
    }
    relic_t *r = n->val;
    r->image_ids = dq_xrealloc(r->image_ids, (size_t)(r->n + 1) * sizeof(char *));
    r->image_ids[r->n++] = dq_xstrdup(image_id);
    link_tally(m, image_id, r->restricted, +1);
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_relic(dq_image_map_t *m, const char *relic_id, int restricted,
                        const char *const *image_ids, int n_images)
{
    if (n_images == 0) {
        /* Most relics of a bulk import have no images: no need to hold tiles back (the lock
         * prefers writers) for a relic the map does not know. */
        pthread_rwlock_rdlock(&m->lock);
        int known = t_find(&m->relics, relic_id) != NULL;
        pthread_rwlock_unlock(&m->lock);
        if (!known)
            return; /* only apply_feed changes relics, one call at a time (feed_lock) */
    }
    pthread_rwlock_wrlock(&m->lock);
    relic_t *old = t_del(&m->relics, relic_id);
    for (int i = 0; old && i < old->n; i++)
        link_tally(m, old->image_ids[i], old->restricted, -1);
    relic_free(old);
    if (n_images > 0) {
        relic_t *r = dq_xcalloc(1, sizeof(*r));
        r->restricted = restricted;
        r->n = n_images;
        r->image_ids = dq_xcalloc((size_t)n_images, sizeof(char *));
        for (int i = 0; i < n_images; i++) {
            r->image_ids[i] = dq_xstrdup(image_ids[i]);
            link_tally(m, image_ids[i], restricted, +1);
        }
        t_add(&m->relics, relic_id)->val = r;
    }
    pthread_rwlock_unlock(&m->lock);
}

/* ---------------------------------------------------------------- condition gates */

/* Adds (sign +1) or removes (-1) one gated link's share of image id. Lock held. */
static void gate_tally(dq_image_map_t *m, const char *id, int open, int sign)
{
    img_t *e = img_get(m, id, sign > 0);
    if (!e)
        return;
    tally(m, e, -1);
    e->n_gated += sign;
    if (open)
        e->n_open += sign;
    tally(m, e, +1);
    img_gc(m, id, e);
}

void dq_image_map_gate_link(dq_image_map_t *m, const char *relic_id, const char *image_id)
{
    pthread_rwlock_wrlock(&m->lock);
    node_t *n = t_find(&m->gates, relic_id);
    if (!n) {
        n = t_add(&m->gates, relic_id);
        n->val = dq_xcalloc(1, sizeof(gate_t));
    }
    gate_t *g = n->val;
    g->image_ids = dq_xrealloc(g->image_ids, (size_t)(g->n + 1) * sizeof(char *));
    g->open = dq_xrealloc(g->open, (size_t)(g->n + 1));
    g->image_ids[g->n] = dq_xstrdup(image_id);
    g->open[g->n++] = 0;
    gate_tally(m, image_id, 0, +1);
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_gate_open(dq_image_map_t *m, const char *relic_id, const char *image_id)
{
    pthread_rwlock_wrlock(&m->lock);
    node_t *n = t_find(&m->gates, relic_id);
    gate_t *g = n ? n->val : NULL;
    for (int i = 0; g && i < g->n; i++)
        if (!g->open[i] && strcmp(g->image_ids[i], image_id) == 0) {
            img_t *e = img_get(m, image_id, 0);
            g->open[i] = 1;
            if (e) { /* always there: the link counted it */
                tally(m, e, -1);
                e->n_open++;
                tally(m, e, +1);
            }
        }
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_gate_relic(dq_image_map_t *m, const char *relic_id,
                             const char *const *image_ids, const unsigned char *open,
                             int n_images)
{
    if (n_images == 0) {
        /* As in dq_image_map_relic: a relic the gates do not know needs no writer lock. */
        pthread_rwlock_rdlock(&m->lock);
        int known = t_find(&m->gates, relic_id) != NULL;
        pthread_rwlock_unlock(&m->lock);
        if (!known)
            return;
    }
    pthread_rwlock_wrlock(&m->lock);
    gate_t *old = t_del(&m->gates, relic_id);
    for (int i = 0; old && i < old->n; i++)
        gate_tally(m, old->image_ids[i], old->open[i], -1);
    gate_free(old);
    if (n_images > 0) {
        gate_t *g = dq_xcalloc(1, sizeof(*g));
        g->n = n_images;
        g->image_ids = dq_xcalloc((size_t)n_images, sizeof(char *));
        g->open = dq_xcalloc((size_t)n_images, 1);
        for (int i = 0; i < n_images; i++) {
            g->image_ids[i] = dq_xstrdup(image_ids[i]);
            g->open[i] = open[i] != 0;
            gate_tally(m, image_ids[i], g->open[i], +1);
        }
        t_add(&m->gates, relic_id)->val = g;
    }
    pthread_rwlock_unlock(&m->lock);
}

void dq_image_map_counts(dq_image_map_t *m, int64_t *records, int64_t *anon_visible)
{
    pthread_rwlock_rdlock(&m->lock);
    if (records)
        *records = m->n_records;
    if (anon_visible)
        *anon_visible = m->n_records - m->n_hidden;
    pthread_rwlock_unlock(&m->lock);
}
