/*
 * throttle.c: the login throttle. It remembers recent failed password checks per account name
 * and per client address, and answers "wait N seconds" once either has failed too often, with
 * a delay that doubles with each further failure. It also bounds how many password checks
 * (argon2id: ~120 ms and 64 MiB each) run at once, so that a burst of logins can never hold
 * every server thread. It does not check passwords, write audit rows or sleep: api_auth.c
 * does the first two and answers 429/503 with Retry-After instead of sleeping.
 *
 * The state is per process and in memory, bounded to a fixed number of entries: a restart
 * forgets it, and several servers behind one proxy each keep their own (docs/security.md).
 *
 * Why a flat array scanned under one mutex and not a hash map: logins are rare next to tiles,
 * a scan of DQ_THROTTLE_MAX entries compares 64-bit hashes first (a few microseconds), and a
 * full table needs the least valuable entry anyway, which a scan finds in the same pass.
 */
#define _GNU_SOURCE
#include "http.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The policy (docs/security.md "Logins and throttling"). An account may fail ACCOUNT_FREE
 * times in a row, an address ADDRESS_FREE times (many people may share one address behind a
 * NAT); that failure and each one after it locks the key for BASE_MS << k (k = 0, 1, ...),
 * at most MAX_MS.
 * A key with no failure for FORGET_MS after its lock ends is forgotten. */
#define ACCOUNT_FREE 5
#define ADDRESS_FREE 20
#define BASE_MS 1000
#define MAX_MS (15 * 60 * 1000)
#define FORGET_MS (15 * 60 * 1000)

typedef struct {
    uint64_t hash;        /* of key; 0: the slot is free */
    char key[80];         /* "u:" + lower-cased account name, or "a:" + address */
    int failures;         /* consecutive failures (a success of the account resets it) */
    int inflight;         /* password checks under way for this key */
    int64_t locked_until; /* ms; 0 when not locked */
    int64_t last_ms;      /* last failure or attempt, ms */
} entry_t;

struct dq_throttle {
    pthread_mutex_t lock; /* guards entries and n_used */
    entry_t *entries;     /* max_entries slots */
    size_t max_entries;
    size_t n_used;
    _Atomic int hashing; /* password checks running now; at most max_hashing */
    int max_hashing;
};

dq_throttle_t *dq_throttle_new(size_t max_entries, int max_hashing)
{
    dq_throttle_t *t = dq_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->max_entries = max_entries < 16 ? 16 : max_entries;
    t->entries = dq_xcalloc(t->max_entries, sizeof(entry_t));
    t->max_hashing = max_hashing < 1 ? 1 : max_hashing;
    atomic_init(&t->hashing, 0);
    return t;
}

void dq_throttle_free(dq_throttle_t *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->entries);
    free(t);
}

/* ---------------------------------------------------------------- entries */

/* Writes the key of an account ("u:" + name, ASCII letters folded so that "Admin" and
 * "admin" share one count) or an address ("a:" + text) into out. Names longer than the key
 * are cut: valid names have at most 63 bytes, and longer junk only needs to be counted. */
static void make_key(char out[80], char kind, const char *text)
{
    size_t n = 0;
    out[n++] = kind;
    out[n++] = ':';
    for (const char *p = text ? text : ""; *p && n < 79; p++)
        out[n++] = kind == 'u' ? (char)tolower((unsigned char)*p) : *p;
    out[n] = '\0';
}

/* The moment an entry stops mattering: the end of its lock plus FORGET_MS, or never while a
 * check is under way. Smallest first when a slot is needed. */
static int64_t entry_worth(const entry_t *e)
{
    if (e->inflight > 0)
        return INT64_MAX;
    int64_t base = e->locked_until > e->last_ms ? e->locked_until : e->last_ms;
    return base + FORGET_MS;
}

/* Finds key's entry, or (create != 0) makes one, reusing a free or forgotten slot or else
 * evicting the entry that matters least. NULL when absent and create == 0. Under t->lock. */
static entry_t *find(dq_throttle_t *t, const char *key, int create, int64_t now)
{
    uint64_t h = dq_hash64(key, strlen(key)) | 1; /* never 0, the free marker */
    entry_t *victim = NULL;
    int64_t victim_worth = INT64_MAX;
    for (size_t i = 0; i < t->max_entries; i++) {
        entry_t *e = &t->entries[i];
        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (entry_worth(e) <= now) /* forgotten: starts over */
                e->failures = 0, e->locked_until = 0;
            return e;
        }
        int64_t w = e->hash ? entry_worth(e) : INT64_MIN;
        if (create && w < victim_worth) {
            victim = e;
            victim_worth = w;
        }
    }
    if (!create)
        return NULL;
    if (!victim) /* every slot has a check in flight: cannot happen with max_entries >= 16 *
                    threads, but then the first slot is reused rather than failing */
        victim = &t->entries[0];
    if (!victim->hash)
        t->n_used++;
    memset(victim, 0, sizeof(*victim));
    victim->hash = h;
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->last_ms = now;
    return victim;
}

/* How long key must still wait (ms, 0 = not at all), counting checks under way as
 * failures-to-be so that parallel attempts cannot all slip past the free ones. */
static int64_t wait_ms(const entry_t *e, int free_failures, int64_t now)
{
    if (!e)
        return 0;
    if (e->locked_until > now)
        return e->locked_until - now;
    if (e->failures + e->inflight >= free_failures && e->inflight > 0)
        return 1000; /* the outcome of the checks under way decides; ask again in a second */
    return 0;
}

/* Records a failure of e at now and sets its lock from the new count. */
static void fail_entry(entry_t *e, int free_failures, int64_t now)
{
    e->failures++;
    e->last_ms = now;
    int k = e->failures - free_failures;
    if (k < 0)
        return;
    int64_t d = k > 20 ? MAX_MS : (int64_t)BASE_MS << k;
    e->locked_until = now + (d > MAX_MS ? MAX_MS : d);
}

/* ---------------------------------------------------------------- the public calls */

int64_t dq_throttle_begin(dq_throttle_t *t, const char *user, const char *addr, int64_t now_ms)
{
    char ku[80], ka[80];
    make_key(ku, 'u', user);
    make_key(ka, 'a', addr);
    pthread_mutex_lock(&t->lock);
    entry_t *eu = find(t, ku, 0, now_ms), *ea = find(t, ka, 0, now_ms);
    int64_t wu = wait_ms(eu, ACCOUNT_FREE, now_ms), wa = wait_ms(ea, ADDRESS_FREE, now_ms);
    int64_t w = wu > wa ? wu : wa;
    if (w == 0) {
        /* create both only now: a refused attempt never evicts anybody's record */
        eu = find(t, ku, 1, now_ms);
        eu->inflight++;
        ea = find(t, ka, 1, now_ms);
        ea->inflight++;
    }
    pthread_mutex_unlock(&t->lock);
    return w;
}

void dq_throttle_end(dq_throttle_t *t, const char *user, const char *addr, int outcome,
                     int64_t now_ms)
{
    char ku[80], ka[80];
    make_key(ku, 'u', user);
    make_key(ka, 'a', addr);
    pthread_mutex_lock(&t->lock);
    entry_t *eu = find(t, ku, 0, now_ms), *ea = find(t, ka, 0, now_ms);
    /* An entry may have been evicted meanwhile only if all slots were in flight; then its
     * outcome is simply not recorded. */
    if (eu && eu->inflight > 0)
        eu->inflight--;
    if (ea && ea->inflight > 0)
        ea->inflight--;
    if (outcome == DQ_THROTTLE_FAILED) {
        if (eu)
            fail_entry(eu, ACCOUNT_FREE, now_ms);
        if (ea)
            fail_entry(ea, ADDRESS_FREE, now_ms);
    } else if (outcome == DQ_THROTTLE_SUCCEEDED && eu) {
        /* The account's owner got in: its count starts over. The address keeps its count, or
         * one valid account would let its holder reset the count between guesses at others. */
        eu->failures = 0;
        eu->locked_until = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

int dq_throttle_hash_acquire(dq_throttle_t *t)
{
    int cur = atomic_load(&t->hashing);
    while (cur < t->max_hashing)
        if (atomic_compare_exchange_weak(&t->hashing, &cur, cur + 1))
            return 1;
    return 0;
}

void dq_throttle_hash_release(dq_throttle_t *t)
{
    int prev = atomic_fetch_sub(&t->hashing, 1);
    DQ_ASSERT(prev > 0);
}

size_t dq_throttle_count(dq_throttle_t *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n_used;
    pthread_mutex_unlock(&t->lock);
    return n;
}
