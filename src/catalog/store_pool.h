/*
 * catalog/store_pool.h: the two pieces of connection handling that every storage backend
 * needs and that have nothing to do with its database: a fixed pool of read connections
 * handed out by index (a read waits only for another read, never for a writer), and the
 * writer's mutex taken with a deadline (a write that cannot start in time answers 503 instead
 * of freezing a server thread). The backend owns the connections; the pool owns the flags.
 */
#ifndef DQ_STORE_POOL_H
#define DQ_STORE_POOL_H

#include <pthread.h>
#include <stdint.h>

#define DQ_STORE_POOL_MAX 16

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* signalled when a connection is returned */
    int n;
    unsigned char in_use[DQ_STORE_POOL_MAX]; /* guarded by lock */
} dq_store_pool_t;

/* n connections, 1..DQ_STORE_POOL_MAX. */
void dq_store_pool_init(dq_store_pool_t *p, int n);
void dq_store_pool_destroy(dq_store_pool_t *p);
/* The index of a free connection, marked in use; waits while every one is busy. */
int dq_store_pool_take(dq_store_pool_t *p);
/* The index of a free connection, marked in use, or -1 at once when every one is busy (a
 * helper for work a caller could also do alone: it must never wait for a reader, since the
 * reader it waits for may be waiting for it). */
int dq_store_pool_try(dq_store_pool_t *p);
/* Returns connection i to the pool. */
void dq_store_pool_give(dq_store_pool_t *p, int i);
/* Locks m before deadline_us (dq_now_us clock); 0, or -1 when the deadline passed first. */
int dq_store_lock_until(pthread_mutex_t *m, int64_t deadline_us);

#endif
