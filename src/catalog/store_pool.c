/*
 * catalog/store_pool.c: the read pool and the writer's bounded lock that store_sqlite.c and
 * store_pg.c share (store_pool.h).
 */
#include "store_pool.h"

#include <time.h>

#include "core/core.h"

void dq_store_pool_init(dq_store_pool_t *p, int n)
{
    DQ_ASSERT(n >= 1 && n <= DQ_STORE_POOL_MAX);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->n = n;
    for (int i = 0; i < DQ_STORE_POOL_MAX; i++)
        p->in_use[i] = 0;
}

void dq_store_pool_destroy(dq_store_pool_t *p)
{
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cv);
}

int dq_store_pool_take(dq_store_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    for (;;) {
        for (int i = 0; i < p->n; i++)
            if (!p->in_use[i]) {
                p->in_use[i] = 1;
                pthread_mutex_unlock(&p->lock);
                return i;
            }
        /* Every connection is busy with a read of its own: wait for one (reads never wait
         * for a writer, so this wait is as short as the reads). */
        pthread_cond_wait(&p->cv, &p->lock);
    }
}

int dq_store_pool_try(dq_store_pool_t *p)
{
    int got = -1;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n && got < 0; i++)
        if (!p->in_use[i]) {
            p->in_use[i] = 1;
            got = i;
        }
    pthread_mutex_unlock(&p->lock);
    return got;
}

void dq_store_pool_give(dq_store_pool_t *p, int i)
{
    pthread_mutex_lock(&p->lock);
    p->in_use[i] = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->lock);
}

int dq_store_lock_until(pthread_mutex_t *m, int64_t deadline_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t left = deadline_us - dq_now_us();
    if (left < 0)
        left = 0;
    ts.tv_sec += (time_t)(left / 1000000);
    ts.tv_nsec += (long)(left % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock(m, &ts) == 0 ? 0 : -1;
}
