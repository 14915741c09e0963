/*
 * renderq.c: the render queue. Expensive work (renders that are not a stored tile or a cache
 * hit) runs here, on a fixed number of threads, instead of on libmicrohttpd's connection
 * threads: each of those serves many connections, so one 5-second render there stalls every
 * other request on it, /health included (issue 10: four rotated renders stalled /health for
 * 7 s). A job waits in a bounded FIFO at most wait_ms: a reaper thread hands a job that
 * waited longer over "expired" (it answers 503), so a burst of renders turns into quick 503s
 * with Retry-After rather than a backlog that waits for the renders ahead of it. It knows
 * nothing of HTTP: a job is a function and an argument.
 */
#define _GNU_SOURCE
#include "http.h"

#include <stdlib.h>
#include <time.h>

#include "image/image.h"

typedef struct job {
    struct job *next;
    dq_renderq_fn fn;
    void *arg;
    int64_t queued_us;
} job_t;

struct dq_renderq {
    pthread_mutex_t lock; /* guards every field below except the read-only ones */
    pthread_cond_t more;  /* signalled when a job is queued or the queue stops */
    pthread_cond_t reap;  /* the same, for the reaper (CLOCK_MONOTONIC timed waits) */
    job_t *head, *tail;
    int n_queued, n_running, stopping, joined;
    /* read-only after dq_renderq_new */
    int n_threads, max_queued;
    int64_t wait_us, timeout_us;
    pthread_t *threads;
    pthread_t reaper;
};

static void *worker(void *arg)
{
    dq_renderq_t *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->more, &q->lock);
        if (!q->head)
            break; /* stopping and drained */
        job_t *j = q->head;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->n_queued--;
        q->n_running++;
        int stopping = q->stopping;
        pthread_mutex_unlock(&q->lock);
        int64_t now = dq_now_us();
        int expired = stopping || now - j->queued_us > q->wait_us;
        j->fn(j->arg, now + q->timeout_us, expired);
        free(j);
        pthread_mutex_lock(&q->lock);
        q->n_running--;
    }
    pthread_mutex_unlock(&q->lock);
    dq_image_thread_done();
    return NULL;
}

/* Takes the jobs at the head of the queue that have waited past wait_us and runs them expired
 * (cheap: they answer 503), then sleeps until the next head would expire or a job comes. */
static void *reaper(void *arg)
{
    dq_renderq_t *q = arg;
    pthread_mutex_lock(&q->lock);
    while (!q->stopping) {
        int64_t now = dq_now_us();
        while (q->head && now - q->head->queued_us > q->wait_us) {
            job_t *j = q->head;
            q->head = j->next;
            if (!q->head)
                q->tail = NULL;
            q->n_queued--;
            pthread_mutex_unlock(&q->lock);
            j->fn(j->arg, 0, 1);
            free(j);
            pthread_mutex_lock(&q->lock);
        }
        int64_t wake = q->head ? q->head->queued_us + q->wait_us + 1000 : now + 1000000;
        struct timespec ts = {(time_t)(wake / 1000000), (long)(wake % 1000000) * 1000};
        pthread_cond_timedwait(&q->reap, &q->lock, &ts);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

dq_renderq_t *dq_renderq_new(int n_threads, int wait_ms, int timeout_ms, int max_queued)
{
    dq_renderq_t *q = dq_xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->more, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* dq_now_us()'s clock */
    pthread_cond_init(&q->reap, &ca);
    pthread_condattr_destroy(&ca);
    q->n_threads = n_threads < 1 ? 1 : n_threads;
    q->max_queued = max_queued < 1 ? 1 : max_queued;
    q->wait_us = (int64_t)wait_ms * 1000;
    q->timeout_us = (int64_t)timeout_ms * 1000;
    q->threads = dq_xcalloc((size_t)q->n_threads, sizeof(pthread_t));
    for (int i = 0; i < q->n_threads; i++)
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
            DQ_ASSERT(!"cannot start a render thread");
    if (pthread_create(&q->reaper, NULL, reaper, q) != 0)
        DQ_ASSERT(!"cannot start the render reaper");
    return q;
}

int dq_renderq_submit(dq_renderq_t *q, dq_renderq_fn fn, void *arg)
{
    job_t *j = dq_xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->arg = arg;
    j->queued_us = dq_now_us();
    pthread_mutex_lock(&q->lock);
    if (q->stopping || q->n_queued >= q->max_queued) {
        pthread_mutex_unlock(&q->lock);
        free(j);
        return -1;
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n_queued++;
    pthread_cond_signal(&q->more);
    pthread_cond_signal(&q->reap);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int dq_renderq_busy(dq_renderq_t *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->n_queued + q->n_running;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void dq_renderq_stop(dq_renderq_t *q)
{
    if (!q || q->joined)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->more);
    pthread_cond_broadcast(&q->reap);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->reaper, NULL);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    q->joined = 1;
}

void dq_renderq_free(dq_renderq_t *q)
{
    if (!q)
        return;
    dq_renderq_stop(q);
    free(q->threads);
    pthread_cond_destroy(&q->more);
    pthread_cond_destroy(&q->reap);
    pthread_mutex_destroy(&q->lock);
    free(q);
}
