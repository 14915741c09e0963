/*
 * registry.c: image id -> open pyramid, shared by every worker thread. Opening a pyramid
 * reads its TIFF directories and tile tables once; after that every tile is one pread, so
 * keeping the handles open is what makes the hot path cheap. The catalog is asked only on a
 * miss. A replaced pyramid (ingest --replace renames a new file over the old) is noticed by
 * dq_registry_revalidate, which the server's watcher thread calls once a second: it compares
 * the inode and mtime of each open file and drops the handles whose file changed, and the
 * server then bumps its cache epoch.
 */
#define _GNU_SOURCE
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "image/image.h"

#define N_BUCKETS 1024

typedef struct entry {
    struct entry *next;
    char id[DQ_IMAGE_ID_MAX + 1];
    char *path;
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
    char *data_dir;
};

dq_registry_t *dq_registry_new(dq_catalog_t *catalog, const char *data_dir)
{
    dq_registry_t *r = dq_xcalloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    r->catalog = catalog;
    r->data_dir = dq_xstrdup(data_dir);
    return r;
}

static void entry_free(entry_t *e)
{
    dq_pyramid_unref(e->pyr);
    free(e->path);
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
    free(r->data_dir);
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
    char *path = dq_xasprintf("%s/%s", r->data_dir, rec.pyramid_path);
    struct stat st;
    if (stat(path, &st) < 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "image %s has no pyramid on disk", id);
        free(path);
        return NULL;
    }
    p = dq_pyramid_open(path, err);
    if (!p) {
        free(path);
        return NULL;
    }
    entry_t *n = dq_xcalloc(1, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->path = path;
    n->pyr = p;
    n->dev = st.st_dev;
    n->ino = st.st_ino;
    n->mtime = st.st_mtim;
    n->size = st.st_size;
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

int dq_registry_revalidate(dq_registry_t *r)
{
    int changed = 0;
    pthread_rwlock_wrlock(&r->lock);
    for (int i = 0; i < N_BUCKETS; i++) {
        entry_t **pp = &r->buckets[i];
        while (*pp) {
            entry_t *e = *pp;
            struct stat st;
            int same = stat(e->path, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino &&
                       st.st_size == e->size && st.st_mtim.tv_sec == e->mtime.tv_sec &&
                       st.st_mtim.tv_nsec == e->mtime.tv_nsec;
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
    return changed;
}
