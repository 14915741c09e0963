/*
 * registry.c: image id -> open pyramid, shared by every worker thread. Opening a pyramid
 * reads its TIFF directories and tile tables once; after that every tile is one pread, so
 * keeping the handles open is what makes the hot path cheap. The catalog is asked only on a
 * miss. A replaced pyramid (ingest --replace renames a new file over the old) is noticed by
 * dq_registry_revalidate, which the server's watcher thread calls once a second: it compares
 * the inode and mtime of each open file and drops the handles whose file changed, and the
 * server then bumps its cache epoch. Pyramids live in the blob store (src/blob/blob.h): for the
 * data directory or a shared mount that is the file as before (stat and pread). An object
 * store's pyramid is not polled (that was one HEAD per open pyramid per second, issue 15):
 * every replacement goes through the catalog (an ingest writes the object, then the row with
 * its SHA-256), so the watcher asks the catalog, only when its change feed moved (LISTEN/NOTIFY
 * on PostgreSQL: tens of ms), whether each open object's row still names the SHA-256 it was
 * opened at. An object replaced outside danqing (no catalog row moves) cannot be served stale
 * or mixed either: its ranged reads ask for the ETag read at open (If-Match) and fail, and the
 * failing request asks dq_registry_recheck, which asks the store once (HEAD) whether the object
 * moved; if so the handle is dropped and the request retries once on the reopened pyramid.
 */
#define _GNU_SOURCE
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"

#define N_BUCKETS 1024

typedef struct entry {
    struct entry *next;
    char id[DQ_IMAGE_ID_MAX + 1];
    char *path;        /* the file, or NULL for an object */
    char *key;         /* the store key */
    char tag[128];     /* an object's ETag at open */
    char sha[65];      /* an object's pyramid SHA-256 in the catalog row it was opened from */
    dq_pyramid_t *pyr; /* the registry's reference */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
} entry_t;

struct dq_registry {
    pthread_rwlock_t lock; /* guards buckets and every entry in them */
    entry_t *buckets[N_BUCKETS];
    dq_catalog_t *catalog; /* borrowed */
    dq_blob_t *store;      /* borrowed */
};

dq_registry_t *dq_registry_new(dq_catalog_t *catalog, dq_blob_t *store)
{
    dq_registry_t *r = dq_xcalloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    r->catalog = catalog;
    r->store = store;
    return r;
}

static void entry_free(entry_t *e)
{
    dq_pyramid_unref(e->pyr);
    free(e->path);
    free(e->key);
    free(e);
}

void dq_registry_free(dq_registry_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < N_BUCKETS; i++)
        for (entry_t *e = r->buckets[i], *n; e; e = n) {
            n = e->next;
            entry_free(e);
        }
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

static entry_t *find(dq_registry_t *r, const char *id, unsigned b)
{
    for (entry_t *e = r->buckets[b]; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

dq_pyramid_t *dq_registry_get(dq_registry_t *r, const char *id, dq_err_t *err)
{
    unsigned b = (unsigned)(dq_hash64(id, strlen(id)) % N_BUCKETS);
    pthread_rwlock_rdlock(&r->lock);
    entry_t *e = find(r, id, b);
    dq_pyramid_t *p = NULL;
    if (e) {
        p = e->pyr;
        dq_pyramid_ref(p);
    }
    pthread_rwlock_unlock(&r->lock);
    if (p)
        return p;

    /* Miss: ask the catalog, open the file, then insert unless another thread won the race. */
    dq_image_rec_t rec;
    if (dq_catalog_image_get(r->catalog, id, &rec, err) < 0)
        return NULL;
    char *path = dq_blob_file_path(r->store, rec.pyramid_path);
    struct stat st = {0};
    if (path && stat(path, &st) < 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "image %s has no pyramid on disk", id);
        free(path);
        return NULL;
    }
    p = path ? dq_pyramid_open(path, err) : dq_pyramid_open_blob(r->store, rec.pyramid_path, err);
    if (!p) {
        if (!path && err->code == DQ_ENOTFOUND)
            dq_err_set(err, DQ_ENOTFOUND, 404, "image %s has no pyramid in the store", id);
        free(path);
        return NULL;
    }
    entry_t *n = dq_xcalloc(1, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->path = path;
    n->key = dq_xstrdup(rec.pyramid_path);
    n->pyr = p;
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->mtime = st.st_mtim;
    n->size = st.st_size;
    if (!path) { /* the version the pyramid was opened at; "store:KEY" tells an object */
        snprintf(n->tag, sizeof(n->tag), "%s", dq_pyramid_obj_tag(p));
        memcpy(n->sha, rec.pyramid_sha256, sizeof(n->sha));
    }
    pthread_rwlock_wrlock(&r->lock);
    e = find(r, id, b);
    if (e) {
        p = e->pyr; /* another thread opened it first: use theirs, drop ours */
        dq_pyramid_ref(p);
        pthread_rwlock_unlock(&r->lock);
        entry_free(n);
        return p;
    }
    n->next = r->buckets[b];
    r->buckets[b] = n;
    dq_pyramid_ref(p);
    pthread_rwlock_unlock(&r->lock);
    return p;
}

typedef struct {
    dq_pyramid_t *pyr; /* identity only: no reference is held */
    char id[DQ_IMAGE_ID_MAX + 1];
    char sha[65];
    int stale;
} probe_t;

/* Object-store entries: copies their ids under the read lock, then asks the catalog for each
 * one's row with no lock held (tiles must not wait on it). A row that is gone, or that names
 * another pyramid (its SHA-256), is stale; a catalog that does not answer leaves the entry as
 * it is. */
static probe_t *probe_objects(dq_registry_t *r, int *n_out)
{
    probe_t *v = NULL;
    int n = 0, cap = 0;
    pthread_rwlock_rdlock(&r->lock);
    for (int i = 0; i < N_BUCKETS; i++)
        for (entry_t *e = r->buckets[i]; e; e = e->next) {
            if (e->path)
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                v = dq_xrealloc(v, (size_t)cap * sizeof(*v));
            }
            v[n] = (probe_t){.pyr = e->pyr};
            memcpy(v[n].id, e->id, sizeof(v[n].id));
            memcpy(v[n].sha, e->sha, sizeof(v[n].sha));
            n++;
        }
    pthread_rwlock_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        dq_image_rec_t rec;
        dq_err_t err = {0};
        if (dq_catalog_image_get(r->catalog, v[i].id, &rec, &err) == 0)
            v[i].stale = strcmp(rec.pyramid_sha256, v[i].sha) != 0;
        else
            v[i].stale = err.code == DQ_ENOTFOUND;
    }
    *n_out = n;
    return v;
}

int dq_registry_revalidate(dq_registry_t *r, int catalog_changed)
{
    int changed = 0, n_probe = 0;
    probe_t *probes = catalog_changed ? probe_objects(r, &n_probe) : NULL;
    pthread_rwlock_wrlock(&r->lock);
    for (int i = 0; i < N_BUCKETS; i++) {
        entry_t **pp = &r->buckets[i];
        while (*pp) {
            entry_t *e = *pp;
            struct stat st;
            int same = 1;
            if (e->path) {
                same = stat(e->path, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino &&
                       st.st_size == e->size && st.st_mtim.tv_sec == e->mtime.tv_sec &&
                       st.st_mtim.tv_nsec == e->mtime.tv_nsec;
            } else {
                for (int k = 0; k < n_probe; k++)
                    if (probes[k].pyr == e->pyr && probes[k].stale)
                        same = 0;
            }
            if (same) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            entry_free(e); /* requests in flight keep their own references */
            changed++;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    free(probes);
    return changed;
}

int dq_registry_recheck(dq_registry_t *r, const char *id, dq_pyramid_t *pyr)
{
    dq_err_t err = {0};
    if (dq_pyramid_replaced(pyr, &err) != 1)
        return 0;
    unsigned b = (unsigned)(dq_hash64(id, strlen(id)) % N_BUCKETS);
    pthread_rwlock_wrlock(&r->lock);
    for (entry_t **pp = &r->buckets[b]; *pp; pp = &(*pp)->next) {
        entry_t *e = *pp;
        if (e->pyr == pyr) { /* else another request dropped it already */
            *pp = e->next;
            entry_free(e); /* requests in flight keep their own references */
            break;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    return 1;
}
