/*
 * blob/cache.c: the bounded read-through cache in front of an object store. An object is read
 * in fixed-size aligned blocks (--store-block-kb); a block that is not here is fetched with one
 * ranged GET, answered from memory, and written to DIR/xx/<name>-<block> (a temporary file
 * renamed in, so a reader never sees a part). <name> is 128 bits of hash over (key, version
 * tag): a replaced object has another ETag and so other files, and its old blocks simply age
 * out. Reads that hit open the block file and pread the wanted bytes straight into the caller's
 * buffer. The bytes on disk are bounded by --store-cache-mb: least recently used blocks are
 * unlinked first. Files left by an earlier run are counted at start (oldest first), so the
 * bound holds across restarts.
 * Verification: a block is accepted from the store only when the response says it is that
 * range of that version (s3.c checks Content-Range and ETag), and a cached block whose file
 * has the wrong size (truncated, replaced by hand) is dropped and fetched again.
 * Several processes should not share one cache directory: each bounds only what it wrote.
 * Thread safety: the index is guarded by `lock`; fetches run outside it. A block is fetched
 * once however many threads miss it at the same time (a viewer asks for a block's neighbouring
 * tiles together): the first records a fetch in flight, the others wait on `fetched` and then
 * read the cached file; when the first fails, each of them tries on its own.
 */
#define _GNU_SOURCE
#include "blob/blob_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_BUCKETS 65536

/* A block being fetched (a short list: at most one per thread). */
typedef struct flight {
    struct flight *next;
    uint64_t h1, h2, block;
} flight_t;

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list: head = most recent */
    uint64_t h1, h2, block;
    uint64_t size;
} entry_t;

struct dq_blob_cache {
    char *dir;
    uint64_t max_bytes;
    size_t block;
    const dq_blob_ops_t *ops;
    void *self;
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t fetched; /* signalled when a fetch in flight ends */
    flight_t *flights;      /* fetches in flight */
    uint64_t waits;         /* reads that waited for another thread's fetch */
    entry_t *buckets[N_BUCKETS];
    entry_t *head, *tail;
    uint64_t bytes, hits, misses, evictions;
};

static unsigned bucket_of(uint64_t h1, uint64_t block)
{
    return (unsigned)((h1 ^ (block * 0x9E3779B97F4A7C15ULL)) % N_BUCKETS);
}

static char *block_path(const dq_blob_cache_t *c, uint64_t h1, uint64_t h2, uint64_t block)
{
    return dq_xasprintf("%s/%02x/%016llx%016llx-%llu", c->dir, (unsigned)(h1 >> 56),
                        (unsigned long long)h1, (unsigned long long)h2, (unsigned long long)block);
}

static void lru_unlink(dq_blob_cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(dq_blob_cache_t *c, entry_t *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static entry_t *find(dq_blob_cache_t *c, uint64_t h1, uint64_t h2, uint64_t block)
{
    for (entry_t *e = c->buckets[bucket_of(h1, block)]; e; e = e->hnext)
        if (e->h1 == h1 && e->h2 == h2 && e->block == block)
            return e;
    return NULL;
}

/* Takes e out of the index and the byte count (with the lock held); the caller frees it. */
static void drop(dq_blob_cache_t *c, entry_t *e)
{
    entry_t **pp = &c->buckets[bucket_of(e->h1, e->block)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= e->size;
}

/* With the lock held: unlinks least recently used blocks until the bound holds. */
static void evict(dq_blob_cache_t *c)
{
    while (c->bytes > c->max_bytes && c->tail) {
        entry_t *e = c->tail;
        drop(c, e);
        char *p = block_path(c, e->h1, e->h2, e->block);
        unlink(p);
        free(p);
        free(e);
        c->evictions++;
    }
}

/* With the lock held: records a block of size bytes (no-op when already there). */
static void insert(dq_blob_cache_t *c, uint64_t h1, uint64_t h2, uint64_t block, uint64_t size)
{
    if (find(c, h1, h2, block))
        return;
    entry_t *e = dq_xcalloc(1, sizeof(*e));
    e->h1 = h1;
    e->h2 = h2;
    e->block = block;
    e->size = size;
    unsigned b = bucket_of(h1, block);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    lru_push(c, e);
    c->bytes += size;
}

/* ---------------------------------------------------------------- start-up scan */

typedef struct {
    uint64_t h1, h2, block, size;
    struct timespec mtime;
} found_t;

static int by_mtime(const void *a, const void *b)
{
    const found_t *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* Counts the blocks an earlier run left (removing its unfinished temporary files), oldest
 * first into the LRU list, then evicts down to the bound (which may have shrunk). */
static void scan(dq_blob_cache_t *c)
{
    found_t *v = NULL;
    size_t n = 0, cap = 0;
    for (unsigned d = 0; d < 256; d++) {
        char *sub = dq_xasprintf("%s/%02x", c->dir, d);
        DIR *dir = opendir(sub);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            if (de->d_name[0] == '.' && strncmp(de->d_name, ".tmp.", 5) != 0)
                continue;
            char *p = dq_xasprintf("%s/%s", sub, de->d_name);
            unsigned long long h1, h2, block;
            int used = 0;
            struct stat st;
            if (de->d_name[0] == '.') {
                unlink(p); /* a fetch that died before its rename */
            } else if (strlen(de->d_name) > 33 && de->d_name[32] == '-' &&
                       sscanf(de->d_name, "%16llx%16llx-%llu%n", &h1, &h2, &block, &used) == 3 &&
                       de->d_name[used] == '\0' && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 256;
                    v = dq_xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = (found_t){h1, h2, block, (uint64_t)st.st_size, st.st_mtim};
            }
            free(p);
        }
        if (dir)
            closedir(dir);
        free(sub);
    }
    if (n)
        qsort(v, n, sizeof(*v), by_mtime);
    for (size_t i = 0; i < n; i++)
        insert(c, v[i].h1, v[i].h2, v[i].block, v[i].size);
    evict(c);
    free(v);
}

dq_blob_cache_t *dq_blob_cache_new(const char *dir, uint64_t max_bytes, size_t block,
                                   const dq_blob_ops_t *ops, void *self, dq_err_t *err)
{
    if (block == 0 || max_bytes == 0) {
        dq_err_set(err, DQ_EINVAL, 0, "the store cache needs a block size and a bound");
        return NULL;
    }
    for (unsigned d = 0; d < 256; d++) {
        char *sub = dq_xasprintf("%s/%02x", dir, d);
        int rc = dq_fs_mkdirs(sub, err);
        free(sub);
        if (rc < 0)
            return NULL;
    }
    dq_blob_cache_t *c = dq_xcalloc(1, sizeof(*c));
    c->dir = dq_xstrdup(dir);
    c->max_bytes = max_bytes;
    c->block = block;
    c->ops = ops;
    c->self = self;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->fetched, NULL);
    scan(c);
    return c;
}

void dq_blob_cache_free(dq_blob_cache_t *c)
{
    if (!c)
        return;
    for (entry_t *e = c->head, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->fetched);
    free(c->dir);
    free(c);
}

void dq_blob_cache_stats(dq_blob_cache_t *c, dq_blob_stats_t *out)
{
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    out->bytes = c->bytes;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- reads */

/* Reads [from, from + len) of a cached block file into dst. 0, or 1 when the file is gone or
 * has the wrong size (the caller drops the entry and fetches). */
static int read_cached(const char *path, uint64_t want_size, void *dst, size_t len, uint64_t from)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    struct stat st;
    int rc = 1;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != want_size)
        goto out;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)dst + got, len - got, (off_t)(from + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Writes a fetched block into the cache directory; failures only cost a later refetch. */
static int store_block(dq_blob_cache_t *c, const char *path, const void *data, size_t len)
{
    (void)c;
    /* the temporary file sits in the directory of its final name: rename stays within it */
    const char *slash = strrchr(path, '/');
    char *tmp = dq_xasprintf("%.*s/.tmp.XXXXXX", (int)(slash - path), path);
    int fd = mkstemp(tmp), rc = -1;
    if (fd < 0)
        goto out;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    close(fd);
    if (left || rename(tmp, path) < 0) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

int dq_blob_cache_read(dq_blob_cache_t *c, const char *key, const char *tag, uint64_t size,
                       void *dst, size_t len, uint64_t off, dq_err_t *err)
{
    /* Two independent 64-bit hashes of (key, tag) name the object's blocks. */
    size_t kl = strlen(key), tl = strlen(tag);
    char *kt = dq_xmalloc(kl + tl + 2);
    memcpy(kt, key, kl + 1);
    memcpy(kt + kl + 1, tag, tl + 1);
    uint64_t h1 = dq_hash64(kt, kl + tl + 2);
    uint64_t h2 = dq_hash64(kt, kl + tl + 2) * 0x100000001b3ULL ^ dq_hash64(tag, tl) ^ kl;
    free(kt);
    int rc = -1;
    uint8_t *buf = NULL;
    char *path = NULL;
    size_t done = 0;
    int waited = 0; /* this block was already waited for once */
    while (done < len) {
        uint64_t pos = off + done;
        uint64_t block = pos / c->block, boff = block * c->block;
        size_t bsize = (size_t)DQ_MIN((uint64_t)c->block, size - boff);
        size_t from = (size_t)(pos - boff), n = DQ_MIN(bsize - from, len - done);
        free(path);
        path = block_path(c, h1, h2, block);

        pthread_mutex_lock(&c->lock);
        entry_t *e = find(c, h1, h2, block);
        if (e) {
            lru_unlink(c, e);
            lru_push(c, e);
        }
        pthread_mutex_unlock(&c->lock);
        if (e && read_cached(path, bsize, (char *)dst + done, n, from) == 0) {
            pthread_mutex_lock(&c->lock);
            c->hits++;
            pthread_mutex_unlock(&c->lock);
            done += n;
            waited = 0;
            continue;
        }
        if (e) { /* listed but unreadable or the wrong size: forget it */
            pthread_mutex_lock(&c->lock);
            if ((e = find(c, h1, h2, block))) {
                drop(c, e);
                free(e);
            }
            pthread_mutex_unlock(&c->lock);
        }
        /* Miss. Another thread fetching this block already: wait for it, then look again
         * (a hit now, or, when its fetch failed, a fetch of our own). */
        pthread_mutex_lock(&c->lock);
        flight_t *fl = c->flights;
        while (fl && !(fl->h1 == h1 && fl->h2 == h2 && fl->block == block))
            fl = fl->next;
        if (fl && !waited) {
            c->waits++;
            while (fl) {
                pthread_cond_wait(&c->fetched, &c->lock);
                for (fl = c->flights; fl; fl = fl->next)
                    if (fl->h1 == h1 && fl->h2 == h2 && fl->block == block)
                        break;
            }
            pthread_mutex_unlock(&c->lock);
            waited = 1; /* once per block: after that, fetch ourselves */
            continue;
        }
        flight_t me = {c->flights, h1, h2, block};
        c->flights = &me;
        pthread_mutex_unlock(&c->lock);
        waited = 0;
        /* One ranged GET for the whole block, answered from memory, kept on disk. */
        if (!buf)
            buf = dq_xmalloc(c->block);
        int got = c->ops->read(c->self, key, tag, boff, bsize, buf, err);
        int stored = 0;
        if (got == 0) {
            memcpy((char *)dst + done, buf + from, n);
            stored = store_block(c, path, buf, bsize) == 0;
        }
        pthread_mutex_lock(&c->lock);
        for (flight_t **pp = &c->flights; *pp; pp = &(*pp)->next)
            if (*pp == &me) {
                *pp = me.next;
                break;
            }
        if (got == 0)
            c->misses++;
        if (stored) {
            insert(c, h1, h2, block, bsize);
            evict(c);
        }
        pthread_cond_broadcast(&c->fetched);
        pthread_mutex_unlock(&c->lock);
        if (got < 0)
            goto out;
        done += n;
    }
    rc = 0;
out:
    free(buf);
    free(path);
    return rc;
}
