/*
 * cache.c: the response cache. Sixteen shards, each a chained hash table plus an LRU list
 * under one mutex, so that two worker threads rarely wait on each other. Entries are
 * reference counted: the cache holds one reference, every borrower (a response in flight)
 * one more, and the value is freed only when the last one goes. The byte budget is split
 * evenly across shards; an entry larger than a shard's share is not cached at all (a huge
 * render should not flush hundreds of hot tiles).
 */
#include "http.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define N_SHARDS 16

struct dq_cache_entry {
    struct dq_cache_entry *hnext;        /* hash chain */
    struct dq_cache_entry *prev, *next;  /* LRU list: head is most recent */
    atomic_int refs;
    uint64_t hash;
    void *value;
    size_t size;       /* cost in bytes, including the key and bookkeeping */
    size_t value_size; /* what the caller said the value costs (e.g. body bytes) */
    char tag[40];
    size_t key_len;
    char key[]; /* not NUL-terminated */
};

typedef struct {
    pthread_mutex_t lock; /* guards every field below */
    dq_cache_entry_t **buckets;
    size_t n_buckets, n_entries;
    dq_cache_entry_t *head, *tail;
    size_t bytes, budget;
    uint64_t hits, misses, inserts, evictions;
} shard_t;

/* The admission filter's size: recently seen key hashes, one per slot (a hash collision
 * only admits an entry one request early). 64 Ki slots = 512 KiB. */
#define N_GHOSTS 65536

struct dq_cache {
    shard_t shards[N_SHARDS];
    _Atomic uint64_t ghosts[N_GHOSTS]; /* lock-free: a lost race costs one admission */
    dq_cache_free_fn free_fn;
    size_t budget;
};

dq_cache_t *dq_cache_new(size_t budget_bytes, dq_cache_free_fn free_fn)
{
    dq_cache_t *c = dq_xcalloc(1, sizeof(*c));
    c->free_fn = free_fn;
    c->budget = budget_bytes;
    for (int i = 0; i < N_SHARDS; i++) {
        shard_t *s = &c->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->n_buckets = 1024;
        s->buckets = dq_xcalloc(s->n_buckets, sizeof(*s->buckets));
        s->budget = budget_bytes / N_SHARDS;
    }
    return c;
}

static void entry_unref(dq_cache_t *c, dq_cache_entry_t *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1) {
        if (c->free_fn && e->value)
            c->free_fn(e->value);
        free(e);
    }
}

void dq_cache_free(dq_cache_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_SHARDS; i++) {
        shard_t *s = &c->shards[i];
        dq_cache_entry_t *e = s->head;
        while (e) {
            dq_cache_entry_t *n = e->next;
            entry_unref(c, e);
            e = n;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

static void lru_unlink(shard_t *s, dq_cache_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(shard_t *s, dq_cache_entry_t *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

/* Removes e from the hash chain and the LRU list; the caller drops the cache's reference. */
static void shard_remove(shard_t *s, dq_cache_entry_t *e)
{
    dq_cache_entry_t **pp = &s->buckets[e->hash % s->n_buckets];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    lru_unlink(s, e);
    s->bytes -= e->size;
    s->n_entries--;
}

static void shard_grow(shard_t *s)
{
    size_t n = s->n_buckets * 2;
    dq_cache_entry_t **b = dq_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < s->n_buckets; i++) {
        dq_cache_entry_t *e = s->buckets[i];
        while (e) {
            dq_cache_entry_t *next = e->hnext;
            e->hnext = b[e->hash % n];
            b[e->hash % n] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

static dq_cache_entry_t *shard_find(shard_t *s, uint64_t h, const void *key, size_t key_len)
{
    for (dq_cache_entry_t *e = s->buckets[h % s->n_buckets]; e; e = e->hnext)
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return e;
    return NULL;
}

dq_cache_entry_t *dq_cache_get(dq_cache_t *c, const void *key, size_t key_len)
{
    uint64_t h = dq_hash64(key, key_len);
    shard_t *s = &c->shards[(h >> 56) % N_SHARDS];
    pthread_mutex_lock(&s->lock);
    dq_cache_entry_t *e = shard_find(s, h, key, key_len);
    if (e) {
        atomic_fetch_add(&e->refs, 1);
        if (s->head != e) {
            lru_unlink(s, e);
            lru_push_front(s, e);
        }
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return e;
}

int dq_cache_seen_before(dq_cache_t *c, const void *key, size_t key_len)
{
    uint64_t h = dq_hash64(key, key_len) | 1; /* never 0, the empty slot */
    _Atomic uint64_t *slot = &c->ghosts[h % N_GHOSTS];
    if (atomic_load_explicit(slot, memory_order_relaxed) == h)
        return 1;
    atomic_store_explicit(slot, h, memory_order_relaxed);
    return 0;
}

void dq_cache_put(dq_cache_t *c, const void *key, size_t key_len, void *value, size_t size,
                  const char *tag)
{
    uint64_t h = dq_hash64(key, key_len);
    shard_t *s = &c->shards[(h >> 56) % N_SHARDS];
    /* 512: a rough price for what the value itself holds beside its payload (an MHD
     * response with its headers), so that tiny entries are not free. */
    size_t cost = size + key_len + sizeof(dq_cache_entry_t) + 512;
    if (cost > s->budget) {
        if (c->free_fn && value)
            c->free_fn(value);
        return;
    }
    dq_cache_entry_t *e = dq_xmalloc(sizeof(*e) + key_len);
    memset(e, 0, sizeof(*e));
    atomic_init(&e->refs, 1);
    e->hash = h;
    e->value = value;
    e->size = cost;
    e->value_size = size;
    snprintf(e->tag, sizeof(e->tag), "%s", tag ? tag : "");
    e->key_len = key_len;
    memcpy(e->key, key, key_len);

    dq_cache_entry_t *victims = NULL; /* freed outside the lock: free callbacks may be slow */
    pthread_mutex_lock(&s->lock);
    dq_cache_entry_t *old = shard_find(s, h, key, key_len);
    if (old) {
        shard_remove(s, old);
        old->hnext = victims;
        victims = old;
    }
    while (s->bytes + cost > s->budget && s->tail) {
        dq_cache_entry_t *v = s->tail;
        shard_remove(s, v);
        v->hnext = victims;
        victims = v;
        s->evictions++;
    }
    if (s->n_entries >= s->n_buckets)
        shard_grow(s);
    e->hnext = s->buckets[h % s->n_buckets];
    s->buckets[h % s->n_buckets] = e;
    lru_push_front(s, e);
    s->bytes += cost;
    s->n_entries++;
    s->inserts++;
    pthread_mutex_unlock(&s->lock);
    while (victims) {
        dq_cache_entry_t *n = victims->hnext;
        entry_unref(c, victims);
        victims = n;
    }
}

void dq_cache_release(dq_cache_t *c, dq_cache_entry_t *e)
{
    if (e)
        entry_unref(c, e);
}

void *dq_cache_entry_value(const dq_cache_entry_t *e) { return e->value; }
const char *dq_cache_entry_tag(const dq_cache_entry_t *e) { return e->tag; }
size_t dq_cache_entry_size(const dq_cache_entry_t *e) { return e->value_size; }

void dq_cache_stats(dq_cache_t *c, dq_cache_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->budget = c->budget;
    for (int i = 0; i < N_SHARDS; i++) {
        shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        st->hits += s->hits;
        st->misses += s->misses;
        st->inserts += s->inserts;
        st->evictions += s->evictions;
        st->bytes += s->bytes;
        st->n_entries += s->n_entries;
        pthread_mutex_unlock(&s->lock);
    }
}
