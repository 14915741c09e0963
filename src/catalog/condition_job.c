/*
 * condition_job.c: the state of one-step condition records in flight (issue 12), kept in the
 * catalog so that several servers sharing it (issue 15) answer a poll alike. The policy above
 * store.h's dq_store_condjob_ops: argument checks, when a job counts as stopped (its server is
 * gone, or has not beaten for the stale time), when a finished job is forgotten, and the
 * API's JSON. Roles are the route's (conservators and above). Nothing here runs a job: the
 * server that took it does (http/api_condition_job.c), and writes through these functions.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/store.h"

static const char *const states[] = {"queued", "running", "done", "failed"};

static int known_state(const char *s)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(states); i++)
        if (strcmp(s, states[i]) == 0)
            return 1;
    return 0;
}

static int check_row(const dq_condjob_row_t *r, dq_err_t *err)
{
    if (!r->id[0] || !r->relic_id[0] || !r->node[0])
        return dq_err_set(err, DQ_EINVAL, 400, "condition job: id, relic and node are required");
    if (!known_state(r->state))
        return dq_err_set(err, DQ_EINVAL, 400, "condition job: unknown state '%.20s'", r->state);
    if (r->percent < 0 || r->percent > 100)
        return dq_err_set(err, DQ_EINVAL, 400, "condition job: percent out of 0..100");
    return 0;
}

static int finished_state(const char *s)
{
    return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0;
}

/* 1 when the unfinished job r's server stopped (by pol), with the reason in why. */
static int stopped(const dq_condjob_row_t *r, const dq_condjob_policy_t *pol, char *why,
                   size_t cap)
{
    if (r->finished_ms)
        return 0;
    if (pol->dead && pol->dead(pol->ud, r->node)) {
        snprintf(why, cap, "the server that took this job (%s) stopped before it finished: "
                 "send it again", r->node);
        return 1;
    }
    if (pol->stale_ms > 0 && r->now_ms - r->beat_ms > pol->stale_ms) {
        snprintf(why, cap, "the server that took this job (%s) has not been heard from for "
                 "%lld s: it stopped; send it again", r->node,
                 (long long)((r->now_ms - r->beat_ms) / 1000));
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- writes */

typedef struct {
    const dq_store_backend_t *be;
    const dq_condjob_row_t *row;
    const dq_condjob_policy_t *pol;
    const char *node;
    int kind; /* W_CREATE, W_SET, W_BEAT, W_SWEEP */
    int result;
    int64_t n, n2;
    /* W_SWEEP: the stopped jobs found, with their reasons */
    dq_condjob_row_t *found;
    char (*why)[400];
    char **work;  /* found[i]'s work note, copied (the row's is borrowed) */
    char *failed; /* failed[i]: this call stored found[i] as failed */
    size_t n_found, cap;
    const char *id;   /* W_CLAIM, W_WORK */
    const char *text; /* W_WORK */
} w_t;
enum { W_CREATE, W_SET, W_BEAT, W_SWEEP, W_CLAIM, W_WORK };

static int collect_stopped(void *ud, const dq_condjob_row_t *row)
{
    w_t *w = ud;
    char why[400];
    if (!stopped(row, w->pol, why, sizeof(why)))
        return 0;
    if (w->id && strcmp(row->id, w->id) != 0)
        return 0; /* W_CLAIM: that one job only */
    if (w->n_found == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 8;
        w->found = dq_xrealloc(w->found, w->cap * sizeof(*w->found));
        w->why = dq_xrealloc(w->why, w->cap * sizeof(*w->why));
        w->work = dq_xrealloc(w->work, w->cap * sizeof(*w->work));
        w->failed = dq_xrealloc(w->failed, w->cap);
    }
    w->found[w->n_found] = *row;
    w->found[w->n_found].error = NULL; /* borrowed for the callback only; not needed */
    w->work[w->n_found] = row->work ? dq_xstrdup(row->work) : NULL;
    w->found[w->n_found].work = w->work[w->n_found];
    w->failed[w->n_found] = 0;
    snprintf(w->why[w->n_found], sizeof(w->why[0]), "%s", why);
    w->n_found++;
    return 0;
}

static int keep_row(void *ud, const dq_condjob_row_t *row)
{
    dq_condjob_row_t *out = ud;
    *out = *row;
    out->error = NULL; /* borrowed for the callback only */
    out->work = NULL;
    return 0;
}

/* Stores the stopped jobs (by w->pol) that collect_stopped found as failed; w->n counts. */
static int fail_found(w_t *w, dq_store_txn_t *t, dq_err_t *err)
{
    for (size_t i = 0; i < w->n_found; i++) {
        dq_condjob_row_t *r = &w->found[i];
        snprintf(r->state, sizeof(r->state), "failed");
        r->http_status = 503;
        r->error = w->why[i];
        int e = w->be->condjobs->update(t, r, 1, err);
        if (e < 0)
            return -1;
        w->n += e == 0;
        w->failed[i] = e == 0; /* the compare-and-set: unfinished until this update */
    }
    return 0;
}

/* After a write that committed: the jobs this call stored as failed go to pol->undo (once:
 * no other call's update found them unfinished). Frees what collect_stopped kept. */
static void hand_over(w_t *w, int committed)
{
    for (size_t i = 0; i < w->n_found; i++) {
        if (committed && w->failed[i] && w->pol && w->pol->undo)
            w->pol->undo(w->pol->ud, &w->found[i]);
        free(w->work[i]);
    }
    free(w->found);
    free(w->why);
    free(w->work);
    free(w->failed);
    w->found = NULL;
    w->n_found = 0;
}

/* The compare-and-set of a node's own write (W_SET with a policy): the stored job must still
 * be unfinished, this node's, and not stopped by the policy; a job whose beat is stale is
 * stored as failed here instead (what any server answered already), and an outcome arriving
 * more than half the stale time after the last beat loses too: a reader may have judged it
 * between this check and the commit only if that commit took half the stale time. 0 when the
 * write may go on, 1 when it lost (w->result), -1 on an error. */
static int set_allowed(w_t *w, dq_store_txn_t *t, dq_err_t *err)
{
    const dq_store_condjob_ops *ops = w->be->condjobs;
    dq_condjob_row_t cur;
    char why[400];
    int r = ops->get(t, w->row->id, keep_row, &cur, err);
    if (r < 0)
        return -1;
    if (r == 1 || cur.finished_ms || strcmp(cur.node, w->row->node) != 0)
        return 1;
    int late = finished_state(w->row->state) && w->pol->stale_ms > 0 &&
               cur.now_ms - cur.beat_ms > w->pol->stale_ms / 2;
    if (!stopped(&cur, w->pol, why, sizeof(why)) && !late)
        return 0;
    if (late && !stopped(&cur, w->pol, why, sizeof(why)))
        snprintf(why, sizeof(why), "the server that took this job (%s) was not heard from for "
                 "%lld s before it finished: its work was undone; send it again", cur.node,
                 (long long)((cur.now_ms - cur.beat_ms) / 1000));
    snprintf(cur.state, sizeof(cur.state), "failed");
    cur.http_status = 503;
    cur.error = why;
    return ops->update(t, &cur, 1, err) < 0 ? -1 : 1;
}

static int write_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    w_t *w = ud;
    const dq_store_condjob_ops *ops = w->be->condjobs;
    switch (w->kind) {
    case W_CREATE:
        return ops->insert(t, w->row, err);
    case W_SET: {
        if (w->pol) {
            int a = set_allowed(w, t, err);
            if (a != 0) {
                w->result = 1;
                return a < 0 ? -1 : 0;
            }
        }
        int r = ops->update(t, w->row, finished_state(w->row->state), err);
        if (r < 0)
            return -1;
        w->result = r;
        return 0;
    }
    case W_BEAT:
        /* A stale job is never revived by a late beat (a frozen server thawing): it is
         * stored as failed first, as any server answered it already. */
        if (w->pol && (ops->unfinished(t, collect_stopped, w, err) < 0 ||
                       fail_found(w, t, err) < 0))
            return -1;
        w->n = 0;
        return ops->beat(t, w->node, &w->n, err);
    case W_CLAIM: /* one job, if it is stopped: as a sweep of it alone */
        return ops->unfinished(t, collect_stopped, w, err) < 0 || fail_found(w, t, err) < 0
                   ? -1
                   : 0;
    case W_WORK: {
        int r = ops->set_work(t, w->id, w->text, err);
        if (r < 0)
            return -1;
        w->result = r;
        return 0;
    }
    default: /* W_SWEEP: fail the stopped, then forget the old */
        if (ops->unfinished(t, collect_stopped, w, err) < 0 || fail_found(w, t, err) < 0)
            return -1;
        return ops->expire(t, w->pol->keep_ms, &w->n2, err);
    }
}

int dq_catalog_condjob_create(dq_catalog_t *cat, const dq_condjob_row_t *row, dq_err_t *err)
{
    if (check_row(row, err) < 0)
        return -1;
    w_t w = {.be = dq_catalog_backend(cat), .row = row, .kind = W_CREATE};
    return dq_catalog_write(cat, write_txn, &w, err);
}

int dq_catalog_condjob_set(dq_catalog_t *cat, const dq_condjob_row_t *row,
                           const dq_condjob_policy_t *pol, dq_err_t *err)
{
    if (check_row(row, err) < 0)
        return -1;
    w_t w = {.be = dq_catalog_backend(cat), .row = row, .pol = pol, .kind = W_SET};
    int rc = dq_catalog_write(cat, write_txn, &w, err);
    hand_over(&w, rc == 0);
    if (rc < 0)
        return -1;
    return w.result;
}

int dq_catalog_condjob_beat(dq_catalog_t *cat, const char *node, const dq_condjob_policy_t *pol,
                            int64_t *n, dq_err_t *err)
{
    if (!node || !*node)
        return dq_err_set(err, DQ_EINVAL, 400, "condition job: node is required");
    w_t w = {.be = dq_catalog_backend(cat), .node = node, .pol = pol, .kind = W_BEAT};
    int rc = dq_catalog_write(cat, write_txn, &w, err);
    hand_over(&w, rc == 0);
    if (rc < 0)
        return -1;
    if (n)
        *n = w.n;
    return 0;
}

int dq_catalog_condjob_set_work(dq_catalog_t *cat, const char *id, const char *work,
                                dq_err_t *err)
{
    if (!id || !*id || !work || strlen(work) > 16384)
        return dq_err_set(err, DQ_EINVAL, 400, "condition job: a work note of at most 16 KiB");
    w_t w = {.be = dq_catalog_backend(cat), .id = id, .text = work, .kind = W_WORK};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        return -1;
    return w.result;
}

int dq_catalog_condjob_sweep(dq_catalog_t *cat, const dq_condjob_policy_t *pol, int64_t *n_failed,
                             int64_t *n_expired, dq_err_t *err)
{
    w_t w = {.be = dq_catalog_backend(cat), .pol = pol, .kind = W_SWEEP};
    int rc = dq_catalog_write(cat, write_txn, &w, err);
    hand_over(&w, rc == 0);
    if (rc < 0)
        return -1;
    if (n_failed)
        *n_failed = w.n;
    if (n_expired)
        *n_expired = w.n2;
    return 0;
}

/* ---------------------------------------------------------------- reads */

typedef struct {
    dq_condjob_row_t row;
    char *error; /* the row's, copied */
    int found;
} r_t;

static int copy_row(void *ud, const dq_condjob_row_t *row)
{
    r_t *r = ud;
    r->row = *row;
    r->error = row->error ? dq_xstrdup(row->error) : NULL;
    r->row.error = r->error;
    r->row.work = NULL; /* borrowed; not answered */
    r->found = 1;
    return 1;
}

typedef struct {
    const dq_store_backend_t *be;
    const char *id;
    r_t *r;
} get_t;

static int get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    get_t *g = ud;
    int rc = g->be->condjobs->get(t, g->id, copy_row, g->r, err);
    return rc < 0 ? -1 : 0;
}

int dq_catalog_condjob_get(dq_catalog_t *cat, const char *relic_id, const char *job_id,
                           const dq_condjob_policy_t *pol, dq_buf_t *out, dq_err_t *err)
{
    r_t r = {0};
    get_t g = {dq_catalog_backend(cat), job_id, &r};
    if (dq_catalog_read(cat, get_txn, &g, err) < 0)
        return -1;
    const dq_condjob_row_t *j = &r.row;
    if (!r.found || strcmp(j->relic_id, relic_id) != 0 ||
        (j->finished_ms && pol->keep_ms >= 0 && j->now_ms - j->finished_ms > pol->keep_ms)) {
        free(r.error);
        return dq_err_set(err, DQ_ENOTFOUND, 404,
                          "no such condition job (finished jobs are kept %lld h)",
                          (long long)(pol->keep_ms / 3600000));
    }
    /* A job whose server stopped is answered as failed before any sweep stores it so. */
    char why[400];
    const char *state = j->state, *error = j->error;
    int status = j->http_status;
    if (stopped(j, pol, why, sizeof(why))) {
        state = "failed", error = why, status = 503;
        /* Found stopped: stored failed now, and its work undone by whoever wins that (this
         * call or another server's); the answer is the same either way. */
        if (pol->undo) {
            w_t w = {.be = dq_catalog_backend(cat), .pol = pol, .id = j->id, .kind = W_CLAIM};
            dq_err_t e = {0}; /* a failure only leaves the claim to the next reader or sweep */
            hand_over(&w, dq_catalog_write(cat, write_txn, &w, &e) == 0);
        }
    }
    dq_buf_t href = {0};
    dq_buf_puts(&href, "/api/relics/");
    dq_buf_url_segment(&href, j->relic_id);
    dq_buf_puts(&href, "/condition/jobs/");
    dq_buf_url_segment(&href, j->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "id", j->id, "href",
                          href.data, "relic_id", j->relic_id, "state", state, "percent",
                          j->percent, "user", j->user, "node", j->node, "created", j->created);
    if (j->stage[0])
        json_object_set_new(o, "stage", json_string(j->stage));
    if (j->record[0] && strcmp(state, "done") == 0) {
        dq_buf_t rh = {0};
        dq_buf_puts(&rh, "/api/relics/");
        dq_buf_url_segment(&rh, j->relic_id);
        dq_buf_puts(&rh, "/condition/");
        dq_buf_url_segment(&rh, j->record);
        json_object_set_new(o, "record", json_string(j->record));
        json_object_set_new(o, "record_href", json_string(rh.data));
        dq_buf_free(&rh);
    }
    if (strcmp(state, "failed") == 0)
        json_object_set_new(o, "error", json_pack("{s:i, s:s}", "status", status, "message",
                                                  error ? error : ""));
    char *text = json_dumps(o, JSON_COMPACT);
    dq_buf_puts(out, text);
    dq_buf_putc(out, '\n');
    free(text);
    json_decref(o);
    dq_buf_free(&href);
    free(r.error);
    return 0;
}
