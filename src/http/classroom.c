/*
 * classroom.c: live classroom sessions over a lesson (issue 17; http.h "classroom sessions").
 * A teacher opens a session and gets a short join code; learners join anonymously and get an
 * opaque token that only counts them; each side holds a server-sent event stream (mhd.c
 * stream answers: a waiting stream suspends its connection and costs no thread). The
 * teacher's moves (step, view, mode, end) are written into every learner's stream at once;
 * learners report where they are and how they answered, and the teacher's stream gets an
 * anonymous dashboard (counts per step, the regions the class looks at), coalesced to at
 * most four a second by a ticker thread, which also sends a comment every 15 s so that dead
 * connections are noticed (a suspended connection does not see its client leave).
 *
 * Memory only: nothing about a session or a learner is stored, and a session ends with the
 * process. One mutex (dq_classes.lock) guards every session, learner and subscriber; a
 * stream's own lock (mhd.c's) is never taken while holding it, so producers queue under the
 * registry lock and wake after releasing it (subscribers are reference counted across that
 * gap).
 */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define MAX_ROOMS 200
#define MAX_LEARNERS 500
#define MAX_STEPS 100
#define MAX_VIEWS 200
#define IDLE_US (12LL * 3600 * 1000000)
#define TICK_MS 250
#define PING_US (15LL * 1000000)
#define KICK_TICKS 4 /* a second of ticks late before a kick (dq_http_stream_kick) */
#define MAX_QUEUE (256u << 10) /* bytes a slow subscriber may have pending: then it is cut */

typedef struct room room_t;

/* One event stream. st first: mhd.c hands us back the dq_http_stream_t pointer. */
typedef struct sub {
    dq_http_stream_t st;
    struct dq_classes *reg;
    room_t *room; /* NULL once the room is gone */
    int teacher;
    dq_buf_t q; /* pending bytes from off; guarded by reg->lock */
    size_t off;
    int ended;  /* read() answers -1 once q is drained */
    int refs;   /* the connection's one + producers between queue and wake; reg->lock */
    int late;   /* ticks in a row with unsent bytes or ended but open; reg->lock */
    int kick;   /* the next wake resumes even a stream not marked waiting; reg->lock */
    struct sub *next;
} sub_t;

typedef struct {
    char token[33];
    int step, has_view, view[4];
    uint8_t answered[MAX_STEPS], correct[MAX_STEPS];
} learner_t;

struct room {
    char code[8], lesson[32], teacher[64];
    int n_steps, mode, step, has_view, view[4], ended;
    int64_t seq, last_us;
    learner_t *learners;
    int n_learners;
    int dirty; /* the dashboard changed since the last tick */
    sub_t *subs;
    room_t *next;
};

struct dq_classes {
    pthread_mutex_t lock;
    pthread_cond_t cv; /* signalled when a subscriber goes, and to stop the ticker */
    room_t *rooms;
    int n_rooms, n_subs, stopping;
    pthread_t ticker;
    int ticker_running;
};

/* ---------------------------------------------------------------- helpers */

static int random_bytes(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom((char *)buf + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Join codes: 6 characters without look-alikes (no 0/O, 1/I/L), read aloud in a class. */
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

static room_t *find_room(dq_classes_t *c, const char *code)
{
    for (room_t *r = c->rooms; r; r = r->next)
        if (code && strcasecmp(r->code, code) == 0)
            return r;
    return NULL;
}

static learner_t *find_learner(room_t *r, const char *token)
{
    for (int i = 0; token && i < r->n_learners; i++)
        if (strcmp(r->learners[i].token, token) == 0)
            return &r->learners[i];
    return NULL;
}

static void state_json(const room_t *r, dq_buf_t *b)
{
    dq_buf_printf(b, "{\"code\":\"%s\",\"lesson\":\"%s\",\"mode\":\"%s\",\"step\":%d,\"view\":",
                  r->code, r->lesson, r->mode == DQ_CLASS_STUDENT_PACED ? "student" : "teacher",
                  r->step);
    if (r->has_view)
        dq_buf_printf(b, "[%d,%d,%d,%d]", r->view[0], r->view[1], r->view[2], r->view[3]);
    else
        dq_buf_puts(b, "null");
    dq_buf_printf(b, ",\"ended\":%s,\"seq\":%lld,\"sent_us\":%lld}", r->ended ? "true" : "false",
                  (long long)r->seq, (long long)dq_now_us());
}

static void dashboard_json(const room_t *r, dq_buf_t *b)
{
    dq_buf_printf(b, "{\"code\":\"%s\",\"lesson\":\"%s\",\"mode\":\"%s\",\"step\":%d,\"ended\":%s,"
                  "\"learners\":%d,\"steps\":[",
                  r->code, r->lesson, r->mode == DQ_CLASS_STUDENT_PACED ? "student" : "teacher",
                  r->step, r->ended ? "true" : "false", r->n_learners);
    for (int s = 0; s < r->n_steps; s++) {
        int on = 0, answered = 0, correct = 0;
        for (int i = 0; i < r->n_learners; i++) {
            const learner_t *l = &r->learners[i];
            on += l->step == s;
            answered += l->answered[s];
            correct += l->answered[s] && l->correct[s];
        }
        dq_buf_printf(b, "%s{\"on_step\":%d,\"answered\":%d,\"correct\":%d}", s ? "," : "", on,
                      answered, correct);
    }
    /* Where the class looks on the teacher's step: regions only, in no particular order
     * (sorted by position, so that the order says nothing about who joined when). */
    int (*v)[4] = dq_xcalloc((size_t)r->n_learners + 1, sizeof(*v));
    int n = 0;
    for (int i = 0; i < r->n_learners && n < MAX_VIEWS; i++)
        if (r->learners[i].has_view && r->learners[i].step == r->step)
            memcpy(v[n++], r->learners[i].view, sizeof(v[0]));
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && memcmp(v[j - 1], v[j], sizeof(v[0])) > 0; j--) {
            int t[4];
            memcpy(t, v[j], sizeof(t));
            memcpy(v[j], v[j - 1], sizeof(t));
            memcpy(v[j - 1], t, sizeof(t));
        }
    dq_buf_puts(b, "],\"views\":[");
    for (int i = 0; i < n; i++)
        dq_buf_printf(b, "%s[%d,%d,%d,%d]", i ? "," : "", v[i][0], v[i][1], v[i][2], v[i][3]);
    dq_buf_puts(b, "]}");
    free(v);
}

/* ---------------------------------------------------------------- subscribers */

static void sub_unref_locked(dq_classes_t *c, sub_t *s)
{
    if (--s->refs > 0)
        return;
    dq_buf_free(&s->q);
    pthread_mutex_destroy(&s->st.lock);
    free(s);
    (void)c;
}

/* Appends one event to s (reg->lock held). A subscriber that stopped reading is cut off. */
static void sub_push(sub_t *s, const char *event, const dq_buf_t *data)
{
    if (s->ended)
        return;
    if (s->q.len - s->off > MAX_QUEUE) {
        s->ended = 1;
        return;
    }
    if (s->off && s->off == s->q.len) {
        dq_buf_reset(&s->q);
        s->off = 0;
    }
    if (event)
        dq_buf_printf(&s->q, "event: %s\ndata: ", event);
    dq_buf_append(&s->q, data->data, data->len);
    dq_buf_puts(&s->q, event ? "\n\n" : "");
}

/* Collects the room's subscribers (teachers only: teachers 1) with a reference each, to be
 * woken after the lock is released. Returns how many (into *out, new array). */
static int collect(room_t *r, int teachers, sub_t ***out)
{
    int n = 0;
    for (sub_t *s = r->subs; s; s = s->next)
        n++;
    *out = dq_xcalloc((size_t)n + 1, sizeof(sub_t *));
    n = 0;
    for (sub_t *s = r->subs; s; s = s->next)
        if (!teachers || s->teacher) {
            s->refs++;
            (*out)[n++] = s;
        }
    return n;
}

static void wake_all(dq_classes_t *c, sub_t **v, int n)
{
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&c->lock);
        int kick = v[i]->kick;
        v[i]->kick = 0;
        pthread_mutex_unlock(&c->lock);
        if (kick)
            dq_http_stream_kick(&v[i]->st);
        else
            dq_http_stream_wake(&v[i]->st);
    }
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < n; i++)
        sub_unref_locked(c, v[i]);
    pthread_mutex_unlock(&c->lock);
    free(v);
}

/* Sends the room's state to every subscriber (reg->lock held on entry, released inside). */
static void broadcast_state_unlock(dq_classes_t *c, room_t *r)
{
    dq_buf_t b = {0};
    r->seq++;
    state_json(r, &b);
    for (sub_t *s = r->subs; s; s = s->next) {
        sub_push(s, "state", &b);
        if (r->ended)
            s->ended = 1;
    }
    sub_t **v;
    int n = collect(r, 0, &v);
    pthread_mutex_unlock(&c->lock);
    dq_buf_free(&b);
    wake_all(c, v, n);
}

static long sub_read(dq_http_stream_t *st, char *buf, size_t max)
{
    sub_t *s = (sub_t *)st;
    dq_classes_t *c = s->reg;
    long n;
    pthread_mutex_lock(&c->lock);
    size_t avail = s->q.len - s->off;
    if (avail) {
        n = (long)(avail < max ? avail : max);
        memcpy(buf, s->q.data + s->off, (size_t)n);
        s->off += (size_t)n;
    } else {
        n = s->ended || c->stopping ? -1 : 0;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void sub_close(dq_http_stream_t *st)
{
    sub_t *s = (sub_t *)st;
    dq_classes_t *c = s->reg;
    pthread_mutex_lock(&c->lock);
    if (s->room)
        for (sub_t **p = &s->room->subs; *p; p = &(*p)->next)
            if (*p == s) {
                *p = s->next;
                break;
            }
    c->n_subs--;
    pthread_cond_broadcast(&c->cv);
    sub_unref_locked(c, s);
    pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- the ticker */

static void *tick(void *arg)
{
    dq_classes_t *c = arg;
    int64_t last_ping = dq_now_us();
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&c->cv, &c->lock, &ts);
        if (c->stopping)
            break;
        int64_t now = dq_now_us();
        int ping = now - last_ping > PING_US;
        if (ping)
            last_ping = now;
        /* Drop sessions idle for 12 hours (their subscribers are ended first). */
        for (room_t **p = &c->rooms; *p;) {
            room_t *r = *p;
            if (now - r->last_us > IDLE_US && !r->subs) {
                *p = r->next;
                free(r->learners);
                free(r);
                c->n_rooms--;
                continue;
            }
            if (now - r->last_us > IDLE_US)
                for (sub_t *s = r->subs; s; s = s->next)
                    s->ended = 1;
            p = &r->next;
        }
        sub_t **all = NULL;
        int n_all = 0;
        for (room_t *r = c->rooms; r; r = r->next) {
            /* Subscribers with unsent bytes, and ended ones, are woken on every tick until
             * their queue drains or their stream closes: a resume that races the reader's own
             * suspension inside libmicrohttpd can be lost (seen as 1 of 40 learner streams
             * left open after a session ended, in one make check run), and no event may then
             * wait for the next one or for the 15 s ping. A wake of a stream that is not
             * suspended does nothing (dq_http_stream_wake), so this costs one check per
             * subscriber per tick. */
            int n_late = 0;
            for (sub_t *s = r->subs; s; s = s->next) {
                int late = s->ended || s->q.len > s->off;
                n_late += late;
                /* Late for a second: the wake alone may not reach it (dq_http_stream_kick). */
                s->late = late ? s->late + 1 : 0;
                if (s->late >= KICK_TICKS && s->late % KICK_TICKS == 0)
                    s->kick = 1;
            }
            if (n_late && !r->dirty && !ping) {
                all = dq_xrealloc(all, ((size_t)n_all + (size_t)n_late + 1) * sizeof(*all));
                for (sub_t *s = r->subs; s; s = s->next)
                    if (s->ended || s->q.len > s->off) {
                        s->refs++;
                        all[n_all++] = s;
                    }
                continue;
            }
            if (!r->dirty && !ping)
                continue;
            dq_buf_t b = {0}, comment = {0};
            if (r->dirty)
                dashboard_json(r, &b);
            dq_buf_puts(&comment, ": ping\n\n");
            for (sub_t *s = r->subs; s; s = s->next) {
                if (r->dirty && s->teacher)
                    sub_push(s, "dashboard", &b);
                if (ping)
                    sub_push(s, NULL, &comment);
            }
            r->dirty = 0;
            dq_buf_free(&b);
            dq_buf_free(&comment);
            sub_t **v;
            int k = collect(r, !ping, &v);
            all = dq_xrealloc(all, ((size_t)n_all + (size_t)k + (size_t)n_late + 1) * sizeof(*all));
            memcpy(all + n_all, v, (size_t)k * sizeof(*v));
            n_all += k;
            free(v);
            /* and the late learners a teachers-only wake leaves out */
            for (sub_t *s = r->subs; s && !ping; s = s->next)
                if (!s->teacher && (s->ended || s->q.len > s->off)) {
                    s->refs++;
                    all[n_all++] = s;
                }
        }
        if (all) {
            pthread_mutex_unlock(&c->lock);
            wake_all(c, all, n_all);
            pthread_mutex_lock(&c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the registry */

dq_classes_t *dq_classes_new(void)
{
    dq_classes_t *c = dq_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->ticker, NULL, tick, c) == 0)
        c->ticker_running = 1;
    return c;
}

void dq_classes_stop(dq_classes_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cv);
    sub_t **v = NULL;
    int n = 0;
    for (room_t *r = c->rooms; r; r = r->next) {
        sub_t **rv;
        int k = collect(r, 0, &rv);
        v = dq_xrealloc(v, ((size_t)n + (size_t)k + 1) * sizeof(*v));
        memcpy(v + n, rv, (size_t)k * sizeof(*v));
        n += k;
        free(rv);
    }
    pthread_mutex_unlock(&c->lock);
    wake_all(c, v ? v : dq_xcalloc(1, sizeof(*v)), n);
    /* Wait for the connections to let go of their streams (bounded: 2 s). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 2;
    pthread_mutex_lock(&c->lock);
    while (c->n_subs > 0)
        if (pthread_cond_timedwait(&c->cv, &c->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->lock);
    if (c->ticker_running) {
        pthread_join(c->ticker, NULL);
        c->ticker_running = 0;
    }
}

void dq_classes_free(dq_classes_t *c)
{
    if (!c)
        return;
    dq_classes_stop(c);
    for (room_t *r = c->rooms, *next; r; r = next) {
        next = r->next;
        for (sub_t *s = r->subs; s; s = s->next)
            s->room = NULL; /* a stream that outlived the wait: its close must not touch r */
        free(r->learners);
        free(r);
    }
    /* Subscribers still held by a connection (the 2 s wait ran out) keep the registry: MHD is
     * stopped after this only when none are (dq_classes_stop), so this is the normal path. */
    if (c->n_subs > 0)
        return;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int dq_classes_open(dq_classes_t *c, const char *lesson_id, int n_steps, const char *teacher,
                    int mode, char code[8], dq_err_t *err)
{
    if (n_steps < 1 || n_steps > MAX_STEPS || !lesson_id || strlen(lesson_id) > 31)
        return dq_err_set(err, DQ_EINVAL, 400, "a classroom needs a lesson of 1 to %d steps",
                          MAX_STEPS);
    room_t *r = dq_xcalloc(1, sizeof(*r));
    snprintf(r->lesson, sizeof(r->lesson), "%s", lesson_id);
    snprintf(r->teacher, sizeof(r->teacher), "%s", teacher ? teacher : "");
    r->n_steps = n_steps;
    r->mode = mode == DQ_CLASS_STUDENT_PACED ? DQ_CLASS_STUDENT_PACED : DQ_CLASS_TEACHER_PACED;
    r->last_us = dq_now_us();
    pthread_mutex_lock(&c->lock);
    if (c->n_rooms >= MAX_ROOMS || c->stopping) {
        pthread_mutex_unlock(&c->lock);
        free(r);
        return dq_err_set(err, DQ_EBUSY, 503, "too many classroom sessions; try again later");
    }
    do {
        unsigned char rnd[6];
        if (random_bytes(rnd, sizeof(rnd)) < 0) {
            pthread_mutex_unlock(&c->lock);
            free(r);
            return dq_err_set(err, DQ_EIO, 500, "no randomness for a join code");
        }
        for (int i = 0; i < 6; i++)
            r->code[i] = code_alphabet[rnd[i] % (sizeof(code_alphabet) - 1)];
        r->code[6] = '\0';
    } while (find_room(c, r->code));
    r->next = c->rooms;
    c->rooms = r;
    c->n_rooms++;
    memcpy(code, r->code, 7);
    code[7] = '\0';
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Looks code up with the lock taken: returns the room (lock held) or NULL with err (lock
 * released). */
static room_t *room_locked(dq_classes_t *c, const char *code, dq_err_t *err)
{
    pthread_mutex_lock(&c->lock);
    room_t *r = find_room(c, code);
    if (!r) {
        pthread_mutex_unlock(&c->lock);
        dq_err_set(err, DQ_ENOTFOUND, 404, "no classroom with this code");
    }
    return r;
}

static int owner(const room_t *r, const char *user, int is_admin)
{
    return is_admin || (user && *user && strcmp(user, r->teacher) == 0);
}

int dq_classes_join(dq_classes_t *c, const char *code, char token[33], dq_buf_t *out,
                    dq_err_t *err)
{
    unsigned char rnd[16];
    if (random_bytes(rnd, sizeof(rnd)) < 0)
        return dq_err_set(err, DQ_EIO, 500, "no randomness for a learner token");
    room_t *r = room_locked(c, code, err);
    if (!r)
        return -1;
    int rc = -1;
    if (r->ended) {
        dq_err_set(err, DQ_EINVAL, 410, "this classroom session has ended");
        goto out;
    }
    if (r->n_learners >= MAX_LEARNERS) {
        dq_err_set(err, DQ_EBUSY, 503, "the classroom is full (%d learners)", MAX_LEARNERS);
        goto out;
    }
    if (r->n_learners % 16 == 0)
        r->learners = dq_xrealloc(r->learners, ((size_t)r->n_learners + 16) * sizeof(learner_t));
    learner_t *l = &r->learners[r->n_learners++];
    memset(l, 0, sizeof(*l));
    for (int i = 0; i < 16; i++)
        snprintf(l->token + 2 * i, 3, "%02x", rnd[i]);
    l->step = r->step;
    memcpy(token, l->token, 33);
    state_json(r, out);
    r->dirty = 1;
    r->last_us = dq_now_us();
    rc = 0;
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int dq_classes_lesson(dq_classes_t *c, const char *code, char lesson[32], dq_err_t *err)
{
    room_t *r = room_locked(c, code, err);
    if (!r)
        return -1;
    memcpy(lesson, r->lesson, 32);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int dq_classes_set(dq_classes_t *c, const char *code, const char *user, int is_admin, int step,
                   const int *view, int mode, int end, dq_err_t *err)
{
    room_t *r = room_locked(c, code, err);
    if (!r)
        return -1;
    if (!owner(r, user, is_admin)) {
        pthread_mutex_unlock(&c->lock);
        return dq_err_set(err, DQ_EINVAL, 403, "only the teacher who opened it leads a class");
    }
    if (step >= r->n_steps || (view && (view[2] < 1 || view[3] < 1))) {
        pthread_mutex_unlock(&c->lock);
        return dq_err_set(err, DQ_EINVAL, 400, "no such step, or an empty view");
    }
    if (step >= 0 && step != r->step) {
        r->step = step;
        r->has_view = 0; /* a new step starts at its own region */
    }
    if (view) {
        memcpy(r->view, view, sizeof(r->view));
        r->has_view = 1;
    }
    if (mode >= 0)
        r->mode = mode == DQ_CLASS_STUDENT_PACED ? DQ_CLASS_STUDENT_PACED : DQ_CLASS_TEACHER_PACED;
    if (end)
        r->ended = 1;
    r->dirty = 1;
    r->last_us = dq_now_us();
    broadcast_state_unlock(c, r);
    return 0;
}

/* Looks up the learner (lock held on success, as room_locked). */
static learner_t *learner_locked(dq_classes_t *c, const char *code, const char *token,
                                 room_t **room, dq_err_t *err)
{
    room_t *r = room_locked(c, code, err);
    if (!r)
        return NULL;
    learner_t *l = find_learner(r, token);
    if (!l) {
        pthread_mutex_unlock(&c->lock);
        dq_err_set(err, DQ_ENOTFOUND, 404, "not a learner of this class (join again)");
        return NULL;
    }
    *room = r;
    return l;
}

int dq_classes_progress(dq_classes_t *c, const char *code, const char *token, int step,
                        const int *view, dq_err_t *err)
{
    room_t *r;
    learner_t *l = learner_locked(c, code, token, &r, err);
    if (!l)
        return -1;
    if (step < 0 || step >= r->n_steps || (view && (view[2] < 1 || view[3] < 1))) {
        pthread_mutex_unlock(&c->lock);
        return dq_err_set(err, DQ_EINVAL, 400, "no such step, or an empty view");
    }
    l->step = step;
    l->has_view = view != NULL;
    if (view)
        memcpy(l->view, view, sizeof(l->view));
    r->dirty = 1;
    r->last_us = dq_now_us();
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int dq_classes_answer(dq_classes_t *c, const char *code, const char *token, int step,
                      int correct, dq_err_t *err)
{
    room_t *r;
    learner_t *l = learner_locked(c, code, token, &r, err);
    if (!l)
        return -1;
    if (step < 0 || step >= r->n_steps) {
        pthread_mutex_unlock(&c->lock);
        return dq_err_set(err, DQ_EINVAL, 400, "no such step");
    }
    l->answered[step] = 1;
    l->correct[step] = correct ? 1 : 0;
    r->dirty = 1;
    r->last_us = dq_now_us();
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int dq_classes_dashboard(dq_classes_t *c, const char *code, const char *user, int is_admin,
                         dq_buf_t *out, dq_err_t *err)
{
    room_t *r = room_locked(c, code, err);
    if (!r)
        return -1;
    int ok = owner(r, user, is_admin);
    if (ok)
        dashboard_json(r, out);
    pthread_mutex_unlock(&c->lock);
    return ok ? 0 : dq_err_set(err, DQ_EINVAL, 403, "the dashboard is the teacher's");
}

dq_http_stream_t *dq_classes_subscribe(dq_classes_t *c, const char *code, const char *token,
                                       const char *user, int is_admin, dq_err_t *err)
{
    room_t *r = room_locked(c, code, err);
    if (!r)
        return NULL;
    int teacher = !token;
    if (teacher ? !owner(r, user, is_admin) : !find_learner(r, token)) {
        pthread_mutex_unlock(&c->lock);
        dq_err_set(err, DQ_EINVAL, teacher ? 403 : 404,
                   teacher ? "only the teacher follows the dashboard" : "not a learner of this class");
        return NULL;
    }
    sub_t *s = dq_xcalloc(1, sizeof(*s));
    dq_http_stream_init(&s->st);
    s->st.read = sub_read;
    s->st.close = sub_close;
    s->reg = c;
    s->room = r;
    s->teacher = teacher;
    s->refs = 1;
    /* The stream opens with the state (and, for the teacher, the dashboard), and a retry hint
     * for EventSource reconnects. */
    dq_buf_t b = {0};
    dq_buf_puts(&s->q, "retry: 1000\n\n");
    state_json(r, &b);
    sub_push(s, "state", &b);
    if (teacher) {
        dq_buf_reset(&b);
        dashboard_json(r, &b);
        sub_push(s, "dashboard", &b);
    }
    dq_buf_free(&b);
    s->ended = r->ended;
    s->next = r->subs;
    r->subs = s;
    c->n_subs++;
    pthread_mutex_unlock(&c->lock);
    return &s->st;
}
