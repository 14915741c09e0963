/*
 * api_condition_job.c: the one-step condition record over HTTP (docs/api.md "Condition records
 * in one step"; issue 12) and the restoration mask's outline.
 *   POST /api/relics/{id}/condition/jobs       a new capture (image body) or {"image": id},
 *                                              with date, examiner, ...: 202 + a job
 *   GET  /api/relics/{id}/condition/jobs/{job} the job: queued, running (stage, percent),
 *                                              done (the record's id) or failed (status, why)
 *   GET  /api/images/{id}/outline              the restoration mask's outline, SVG
 * A record takes seconds to a minute (registration and change maps of two captures), so it
 * never runs on a connection or API thread: the POST checks what it cheaply can, keeps the
 * upload under this server's tmp/ and queues the job on the condition queue (one thread per
 * server: the change maps of a 24000 x 2000 pair peak near 650 MiB, two at once would double
 * that). The work itself is condrec/'s dq_condrec_build, the same as `danqing condition
 * record`.
 * Several servers (issue 15): a job runs on the server that took it, but its state lives in
 * the catalog (catalog.h "condition jobs"), so a poll that the balancer sends to another
 * server gets the same answer. This server's beater thread writes its jobs' progress (at most
 * once a second) and beats for them every quarter of --job-stale-s; a job whose server died
 * (its process is gone, when it ran on this host, or it stopped beating) is answered as failed
 * by every server instead of running forever, and is stored so at the next POST's sweep,
 * which also forgets jobs finished more than KEEP_H hours ago.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "condrec/condrec.h"
#include "image/image.h"

#define MAX_QUEUED 8 /* waiting at once; more is 503 */
#define MAX_ACTIVE (MAX_QUEUED + 1)
#define QUEUE_WAIT_MS (30 * 60 * 1000)
#define KEEP_H 24 /* finished jobs are answered this long */
#define OUTLINE_MAX_SIDE 2048

typedef struct cjob {
    struct dq_condjobs *reg;
    dq_actor_t who;
    /* the request, owned */
    char *upload; /* tmp file of an uploaded capture, removed when the job ends */
    char *image, *orig_name, *date, *examiner, *against, *overall, *note;
    double width_cm, height_cm;
    /* row: id, relic_id, user, node fixed at creation; state, stage, percent guarded by
     * reg->lock while the job is in reg->active */
    dq_condjob_row_t row;
    char written_stage[48]; /* the progress the catalog has (beater thread only) */
    int written_percent;
} cjob_t;

struct dq_condjobs {
    pthread_mutex_t lock; /* guards active, n_active, stopping and the jobs' progress */
    pthread_cond_t wake;  /* the beater's sleep; signalled on stop */
    cjob_t *active[MAX_ACTIVE]; /* this server's queued and running jobs (borrowed) */
    int n_active;
    int stopping;
    int64_t uploads; /* upload numbers */
    pthread_t beater;
    int beater_running;
    dq_renderq_t *q; /* one thread; thread-safe */
    /* read-only after dq_condjobs_new */
    dq_catalog_t *cat;
    struct dq_blob *store;
    const char *data_dir;
    char node[128];  /* "<host>/<pid>/<where>.<start µs, hex>" */
    char host[64];   /* gethostname */
    /* "<boot id, 8 hex>-<pid namespace, hex>": the pid is meaningful to processes with the
     * same host, boot and pid namespace only ("" unknown: never judged by its pid) */
    char where[48];
    int64_t stale_ms;
};

static void job_free(cjob_t *j)
{
    if (!j)
        return;
    if (j->upload) {
        unlink(j->upload);
        free(j->upload);
    }
    free(j->image);
    free(j->orig_name);
    free(j->date);
    free(j->examiner);
    free(j->against);
    free(j->overall);
    free(j->note);
    free(j);
}

/* ---------------------------------------------------------------- liveness */

/* 1 when node ran where this process runs (same host name, kernel boot and pid namespace,
 * so that its pid means the same process here) and that process is gone: its jobs can be
 * failed at once instead of after the stale time. Other nodes (other machines, containers
 * with pid namespaces of their own) are judged by their beat alone. */
static int node_dead(void *ud, const char *node)
{
    const dq_condjobs_t *r = ud;
    size_t hl = strlen(r->host), wl = strlen(r->where);
    if (!wl || strncmp(node, r->host, hl) != 0 || node[hl] != '/')
        return 0;
    char *end = NULL;
    long pid = strtol(node + hl + 1, &end, 10);
    if (!end || *end != '/' || pid <= 0 || strncmp(end + 1, r->where, wl) != 0 ||
        end[1 + wl] != '.')
        return 0;
    if (pid == (long)getpid())
        return strcmp(node, r->node) != 0; /* an earlier life of this process id */
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* The undo of a job whose server stopped, handed here once (by the compare-and-set that
 * stored it failed) on whichever server saw it first: what its build noted it stored is
 * taken back as that build's own undo would (dq_condrec_undo), as the job's user with a
 * conservator's rights (the route's role). */
static void undo_stopped(void *ud, const dq_condjob_row_t *row)
{
    dq_condjobs_t *r = ud;
    if (!row->work)
        return; /* it stored nothing yet */
    dq_actor_t who = {.role = DQ_ROLE_CONSERVATOR};
    snprintf(who.user, sizeof(who.user), "%s", row->user);
    dq_err_t err = {0};
    if (dq_condrec_undo(r->cat, r->store, &who, row->work, &err) < 0)
        dq_log(DQ_LOG_WARN, "http", "condition job %s: undo: %s", row->id, err.msg);
    else
        dq_log(DQ_LOG_INFO, "http", "condition job %s of stopped server %s: its work undone",
               row->id, row->node);
}

static dq_condjob_policy_t policy(dq_condjobs_t *r)
{
    dq_condjob_policy_t p = {.stale_ms = r->stale_ms,
                             .keep_ms = (int64_t)KEEP_H * 3600 * 1000,
                             .dead = node_dead,
                             .ud = r,
                             .undo = undo_stopped};
    return p;
}

/* ---------------------------------------------------------------- the beater */

/* Writes the progress of this server's jobs when it moved (at most once a second) and beats
 * for all of them every quarter of the stale time, so that other servers can tell a slow job
 * from a dead server. Runs until dq_condjobs_free. */
static void *beat_loop(void *arg)
{
    dq_condjobs_t *r = arg;
    int64_t every_ms = r->stale_ms / 4 > 500 ? r->stale_ms / 4 : 500;
    int64_t last_beat = dq_now_us();
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        /* the progress that moved, copied under the lock and written without it */
        dq_condjob_row_t rows[MAX_ACTIVE];
        int n = 0, n_active = r->n_active;
        for (int i = 0; i < r->n_active; i++) {
            cjob_t *j = r->active[i];
            /* a finished state is the job thread's to write, with its reason */
            if (strcmp(j->row.state, "done") == 0 || strcmp(j->row.state, "failed") == 0)
                continue;
            if (strcmp(j->row.stage, j->written_stage) != 0 ||
                j->row.percent != j->written_percent) {
                rows[n++] = j->row;
                snprintf(j->written_stage, sizeof(j->written_stage), "%s", j->row.stage);
                j->written_percent = j->row.percent;
            }
        }
        pthread_mutex_unlock(&r->lock);
        dq_err_t err = {0};
        dq_condjob_policy_t pol = policy(r);
        for (int i = 0; i < n; i++)
            if (dq_catalog_condjob_set(r->cat, &rows[i], &pol, &err) < 0)
                dq_log(DQ_LOG_WARN, "http", "condition job %s: progress: %s", rows[i].id, err.msg);
        if (n_active && dq_now_us() - last_beat >= every_ms * 1000) {
            if (dq_catalog_condjob_beat(r->cat, r->node, &pol, NULL, &err) < 0)
                dq_log(DQ_LOG_WARN, "http", "condition jobs: beat: %s", err.msg);
            last_beat = dq_now_us();
        } else if (!n_active) {
            last_beat = 0; /* beat at once when the next job comes */
        }
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

dq_condjobs_t *dq_condjobs_new(dq_catalog_t *cat, struct dq_blob *store, const dq_config_t *cfg)
{
    dq_condjobs_t *r = dq_xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->cat = cat;
    r->store = store;
    r->data_dir = cfg->data_dir;
    r->stale_ms = (int64_t)(cfg->job_stale_s > 0 ? cfg->job_stale_s : 60) * 1000;
    if (gethostname(r->host, sizeof(r->host)) < 0 || !r->host[0])
        snprintf(r->host, sizeof(r->host), "localhost");
    r->host[sizeof(r->host) - 1] = '\0';
    for (char *c = r->host; *c; c++)
        if (*c == '/')
            *c = '_';
    char boot[9] = "", ns[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (fscanf(f, "%8[0-9a-f]", boot) != 1 || strlen(boot) != 8)
            boot[0] = '\0';
        fclose(f);
    }
    ssize_t nl = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1); /* "pid:[4026531836]" */
    unsigned long long ns_ino = 0;
    if (nl > 0) {
        ns[nl] = '\0';
        if (sscanf(ns, "pid:[%llu]", &ns_ino) != 1)
            ns_ino = 0;
    }
    if (boot[0] && ns_ino)
        snprintf(r->where, sizeof(r->where), "%s-%llx", boot, ns_ino);
    snprintf(r->node, sizeof(r->node), "%s/%d/%s.%llx", r->host, (int)getpid(),
             r->where[0] ? r->where : "unknown", (unsigned long long)dq_now_us());
    r->q = dq_renderq_new(1, QUEUE_WAIT_MS, 0, MAX_QUEUED);
    if (pthread_create(&r->beater, NULL, beat_loop, r) == 0)
        r->beater_running = 1;
    else
        dq_log(DQ_LOG_WARN, "http", "condition jobs: no beater thread: other servers will "
               "answer this server's jobs as failed after %lld s", (long long)r->stale_ms / 1000);
    return r;
}

void dq_condjobs_free(dq_condjobs_t *r)
{
    if (!r)
        return;
    /* The running job finishes and queued ones run expired, while the beater still beats
     * for them; then the beater stops. */
    dq_renderq_free(r->q);
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (r->beater_running)
        pthread_join(r->beater, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---------------------------------------------------------------- running */

static void on_progress(void *ud, const char *stage, int percent)
{
    cjob_t *j = ud;
    pthread_mutex_lock(&j->reg->lock);
    snprintf(j->row.stage, sizeof(j->row.stage), "%s", stage);
    j->row.percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    pthread_mutex_unlock(&j->reg->lock);
}

/* Writes the job's state now (not at the beater's next tick): a change of state is what a
 * poll waits for. Called on the job's thread, without the lock. */
static int write_state(cjob_t *j, const char *state, int status, const char *why,
                       const char *record)
{
    dq_condjobs_t *r = j->reg;
    pthread_mutex_lock(&r->lock);
    snprintf(j->row.state, sizeof(j->row.state), "%s", state);
    j->row.http_status = status;
    if (record)
        snprintf(j->row.record, sizeof(j->row.record), "%s", record);
    if (strcmp(state, "done") == 0)
        j->row.percent = 100;
    dq_condjob_row_t row = j->row;
    pthread_mutex_unlock(&r->lock);
    row.error = why;
    dq_err_t err = {0};
    /* compare-and-set: only while the stored job is still running here and not judged
     * stopped (catalog.h dq_catalog_condjob_set with a policy) */
    dq_condjob_policy_t pol = policy(r);
    int rc = dq_catalog_condjob_set(r->cat, &row, &pol, &err);
    if (rc < 0)
        dq_log(DQ_LOG_WARN, "http", "condition job %s: cannot store state %s: %s", row.id, state,
               err.msg);
    else if (rc == 1)
        dq_log(DQ_LOG_WARN, "http", "condition job %s was failed by another server meanwhile",
               row.id);
    return rc;
}

/* condrec's finish hook: the record is stored; the job becomes done only if it still runs
 * here. A job judged failed meanwhile (this server frozen past the stale time) loses, and the
 * build undoes the record and everything it stored. */
static int finish_job(void *ud, const char *record_id, dq_err_t *err)
{
    cjob_t *j = ud;
    int rc = write_state(j, "done", 201, NULL, record_id);
    if (rc == 0)
        return 0;
    dq_log(DQ_LOG_WARN, "http", "condition job %s: record %s undone (the job was judged failed)",
           j->row.id, record_id);
    return dq_err_set(err, DQ_EINTERNAL, 503,
                      rc == 1 ? "the job was judged failed before it finished"
                              : "the job's outcome could not be stored");
}

/* condrec's work note: kept in the catalog before the build stores anything more, so that
 * another server can undo this job should this server die. A job judged failed meanwhile
 * stops here (its stores so far are undone by the build). */
static int note_work(void *ud, const char *json, dq_err_t *err)
{
    cjob_t *j = ud;
    int rc = dq_catalog_condjob_set_work(j->reg->cat, j->row.id, json, err);
    if (rc == 1)
        return dq_err_set(err, DQ_EINTERNAL, 503, "the job was judged failed before it finished");
    return rc;
}

static void deactivate(dq_condjobs_t *r, cjob_t *j)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n_active; i++)
        if (r->active[i] == j) {
            r->active[i] = r->active[--r->n_active];
            break;
        }
    pthread_mutex_unlock(&r->lock);
}

static void job_run(void *arg, int64_t deadline_us, int expired)
{
    (void)deadline_us;
    cjob_t *j = arg;
    dq_condjobs_t *r = j->reg;
    if (expired) {
        write_state(j, "failed", 503,
                    "the server stopped, or the job waited too long: send it again", NULL);
    } else {
        write_state(j, "running", 0, NULL, NULL);
        dq_condrec_opts_t o = {.relic_id = j->row.relic_id,
                               .capture_path = j->upload,
                               .capture_image = j->image,
                               .date = j->date,
                               .examiner = j->examiner,
                               .against = j->against,
                               .overall = j->overall,
                               .note = j->note,
                               .width_cm = j->width_cm,
                               .height_cm = j->height_cm,
                               .data_dir = r->data_dir,
                               .store = r->store,
                               .who = &j->who,
                               .progress = on_progress,
                               .progress_ud = j,
                               .finish = finish_job,
                               .finish_ud = j,
                               .work = note_work,
                               .work_ud = j};
        dq_buf_t out = {0};
        dq_err_t err = {0};
        if (dq_condrec_build(r->cat, &o, &out, &err) < 0) {
            dq_log(DQ_LOG_INFO, "http", "condition job %s on %s failed: %s", j->row.id,
                   j->row.relic_id, err.msg);
            write_state(j, "failed", err.http_status ? err.http_status : 500, err.msg, NULL);
        } /* else finish_job stored "done" */
        dq_buf_free(&out);
    }
    deactivate(r, j);
    job_free(j); /* and its upload, ingested or refused */
}

/* ---------------------------------------------------------------- answers */

static char *dup_or_null(const char *s)
{
    return s && *s ? dq_xstrdup(s) : NULL;
}

/* A JSON body: {"image", "date", "examiner", "against", "overall", "note", "dimensions_cm"}. */
static int from_json(dq_api_t *c, cjob_t *j)
{
    json_t *b = dq_api_body(c, 0);
    if (!b)
        return -1;
    static const char *const known[] = {"image",   "date", "examiner",     "against",
                                        "overall", "note", "dimensions_cm"};
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        int ok = 0;
        for (size_t i = 0; i < DQ_ARRAY_LEN(known); i++)
            ok |= strcmp(k, known[i]) == 0;
        if (!ok || (strcmp(k, "dimensions_cm") != 0 && !json_is_string(v))) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%.60s: %s", k, ok ? "must be a string" : "unknown field");
            dq_api_error(c->resp, 400, msg, NULL);
            json_decref(b);
            return -1;
        }
    }
    j->image = dup_or_null(json_string_value(json_object_get(b, "image")));
    j->date = dup_or_null(json_string_value(json_object_get(b, "date")));
    j->examiner = dup_or_null(json_string_value(json_object_get(b, "examiner")));
    j->against = dup_or_null(json_string_value(json_object_get(b, "against")));
    j->overall = dup_or_null(json_string_value(json_object_get(b, "overall")));
    j->note = dup_or_null(json_string_value(json_object_get(b, "note")));
    json_t *d = json_object_get(b, "dimensions_cm");
    j->width_cm = json_number_value(json_object_get(d, "width"));
    j->height_cm = json_number_value(json_object_get(d, "height"));
    json_decref(b);
    if (!j->image) {
        dq_api_error(c->resp, 400,
                     "send the capture as the body (Content-Type image/...) or "
                     "name a catalogued one: {\"image\": id, ...}",
                     NULL);
        return -1;
    }
    return 0;
}

/* An image body: the capture; the rest as query arguments. */
static int from_upload(dq_api_t *c, cjob_t *j, const char *data_dir, int64_t n)
{
    static const char *const names[] = {"date", "examiner", "against",  "overall",
                                        "note", "filename", "width_cm", "height_cm"};
    char *v[8] = {0};
    int bad = 0, rc = -1;
    for (int i = 0; i < 8 && !bad; i++)
        v[i] = dq_api_arg(c, names[i], &bad);
    if (bad)
        goto out;
    if (!c->req->body_len) {
        dq_api_error(c->resp, 400, "the capture is empty", NULL);
        goto out;
    }
    j->date = v[0], j->examiner = v[1], j->against = v[2], j->overall = v[3], j->note = v[4];
    j->orig_name = v[5];
    v[0] = v[1] = v[2] = v[3] = v[4] = v[5] = NULL;
    for (int i = 6; i < 8; i++)
        if (v[i]) {
            char *e = NULL;
            double x = strtod(v[i], &e);
            if (!e || *e || !(x > 0 && x < 1e5)) {
                dq_api_error(c->resp, 400, "width_cm and height_cm: numbers > 0", NULL);
                goto out;
            }
            *(i == 6 ? &j->width_cm : &j->height_cm) = x;
        }
    /* The upload waits under tmp/ (cleaned at start-up) until the job has ingested it. */
    char *tmp = dq_xasprintf("%s/tmp", data_dir);
    /* The file's own name (letters, digits, '.', '-', '_' kept) ends the temporary name, so
     * that the image record's original file name says what was uploaded. */
    char name[81] = "capture";
    if (j->orig_name) {
        size_t k = 0;
        for (const char *q = j->orig_name; *q && k < sizeof(name) - 1; q++)
            if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
                *q == '.' || *q == '-' || *q == '_')
                name[k++] = *q;
        name[k] = '\0';
        if (!k || name[0] == '.')
            snprintf(name, sizeof(name), "capture");
    }
    j->upload = dq_xasprintf("%s/condjob-%lld-%d-%s", tmp, (long long)n, (int)getpid(), name);
    dq_err_t err = {0};
    int w = dq_fs_mkdirs(tmp, &err) < 0
                ? -1
                : dq_fs_write_atomic(j->upload, tmp, c->req->body, c->req->body_len, &err);
    free(tmp);
    if (w < 0) {
        free(j->upload);
        j->upload = NULL;
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < 8; i++)
        free(v[i]);
    return rc;
}

void dq_api_condition_job_create(dq_api_t *c)
{
    dq_condjobs_t *r = c->srv->condjobs;
    dq_err_t err = {0};
    dq_buf_t b = {0};
    if (!r) {
        dq_api_error(c->resp, 503, "condition jobs are not available on this server", NULL);
        return;
    }
    /* What can be refused at once is refused here, not as a failed job: the relic (404 as
     * for the relic itself), the role (the route's), the body's form. */
    if (dq_catalog_relic_get(c->srv->catalog, c->seg[1], &c->actor, &b, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        dq_buf_free(&b);
        return;
    }
    dq_buf_free(&b);
    cjob_t *j = dq_xcalloc(1, sizeof(*j));
    j->reg = r;
    j->who = c->actor;
    const char *ct = c->req->header(c->req, "Content-Type");
    pthread_mutex_lock(&r->lock);
    int64_t seq = ++r->uploads;
    pthread_mutex_unlock(&r->lock);
    int rc = ct && strncmp(ct, "image/", 6) == 0 ? from_upload(c, j, c->srv->cfg->data_dir, seq)
                                                 : from_json(c, j);
    if (rc < 0) {
        job_free(j);
        return;
    }
    if (strlen(c->seg[1]) >= sizeof(j->row.relic_id) || !j->date || !j->examiner) {
        dq_api_error(c->resp, 400, "date (YYYY-MM-DD) and examiner are required", NULL);
        job_free(j);
        return;
    }
    /* The id: random, so that servers sharing the catalog never pick the same one. */
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        dq_api_error(c->resp, 503, "no random bytes for a job id: try again", NULL);
        job_free(j);
        return;
    }
    dq_condjob_row_t *row = &j->row;
    char *p = row->id;
    *p++ = 'j';
    for (int i = 0; i < 8; i++, p += 2)
        snprintf(p, 3, "%02x", rnd[i]);
    snprintf(row->relic_id, sizeof(row->relic_id), "%s", c->seg[1]);
    snprintf(row->user, sizeof(row->user), "%s", c->actor.user);
    snprintf(row->node, sizeof(row->node), "%s", r->node);
    snprintf(row->state, sizeof(row->state), "queued");
    /* Before a new job: store as failed the jobs of servers that stopped, and forget old
     * finished ones (a failure here only delays that). */
    dq_condjob_policy_t pol = policy(r);
    int64_t n_failed = 0, n_expired = 0;
    if (dq_catalog_condjob_sweep(c->srv->catalog, &pol, &n_failed, &n_expired, &err) < 0)
        dq_log(DQ_LOG_WARN, "http", "condition jobs: sweep: %s", err.msg);
    else if (n_failed)
        dq_log(DQ_LOG_INFO, "http", "condition jobs: %lld of stopped servers failed",
               (long long)n_failed);
    pthread_mutex_lock(&r->lock);
    int full = r->n_active == MAX_ACTIVE;
    if (!full)
        r->active[r->n_active++] = j;
    pthread_mutex_unlock(&r->lock);
    if (full) {
        dq_api_error(c->resp, 503, "too many condition jobs at once: try again later", NULL);
        dq_http_resp_header(c->resp, "Retry-After", "30");
        job_free(j);
        return;
    }
    if (dq_catalog_condjob_create(c->srv->catalog, row, &err) < 0) {
        deactivate(r, j);
        job_free(j);
        dq_api_error_err(c->resp, &err);
        return;
    }
    /* j belongs to the queue once submitted (its thread may free it at once): keep the ids */
    char relic[64], id[40];
    snprintf(relic, sizeof(relic), "%s", row->relic_id);
    snprintf(id, sizeof(id), "%s", row->id);
    if (dq_renderq_submit(r->q, job_run, j) < 0) {
        write_state(j, "failed", 503, "too many condition jobs waiting: send it again", NULL);
        deactivate(r, j);
        job_free(j);
        dq_api_error(c->resp, 503, "too many condition jobs waiting: try again later", NULL);
        dq_http_resp_header(c->resp, "Retry-After", "30");
        return;
    }
    /* Answered from the catalog, as a poll would be. */
    dq_buf_t out = {0};
    if (dq_catalog_condjob_get(c->srv->catalog, relic, id, &pol, &out, &err) < 0) {
        dq_buf_free(&out);
        dq_api_error_err(c->resp, &err);
        return;
    }
    json_t *t = json_loadb(out.data, out.len, 0, NULL);
    dq_http_resp_header(c->resp, "Location", json_string_value(json_object_get(t, "href")));
    json_decref(t);
    dq_api_json(c->resp, 202, &out);
    c->resp->no_etag = 1;
}

void dq_api_condition_job_get(dq_api_t *c)
{
    dq_condjobs_t *r = c->srv->condjobs;
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (!r) {
        dq_api_error(c->resp, 503, "condition jobs are not available on this server", NULL);
        return;
    }
    dq_condjob_policy_t pol = policy(r);
    if (dq_catalog_condjob_get(c->srv->catalog, c->seg[1], c->seg[4], &pol, &out, &err) < 0) {
        dq_buf_free(&out);
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_json(c->resp, 200, &out);
    c->resp->no_etag = 1;
}

/* ---------------------------------------------------------------- mask outline */

typedef struct {
    char *mask; /* the store key layers/<image>/mask.png */
} outline_t;

static void outline_free(void *arg)
{
    outline_t *o = arg;
    free(o->mask);
    free(o);
}

static void outline_run(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us)
{
    (void)deadline_us;
    outline_t *o = arg;
    dq_raster_t m = {0};
    dq_err_t err = {0};
    dq_buf_t svg = {0};
    /* The mask is read from the store (any server of a cluster answers alike): a file store's
     * own file, an object store's local copy (fetched once, revalidated by its ETag). */
    char *path = dq_blob_local_path(srv->store, o->mask, &err);
    if (!path && err.code == DQ_ENOTFOUND)
        dq_err_set(&err, DQ_ENOTFOUND, 404, "this image has no restoration mask");
    if (!path || dq_raster_load(path, 1, 400ull * 1000 * 1000, &m, &err) < 0 ||
        dq_condrec_outline_svg(m.px, m.w, m.h, OUTLINE_MAX_SIDE, &svg, &err) < 0) {
        dq_http_resp_error(resp, err.http_status ? err.http_status : 500, err.msg);
    } else {
        resp->status = 200;
        resp->content_type = "image/svg+xml";
        dq_buf_free(&resp->body);
        resp->body = svg;
        memset(&svg, 0, sizeof(svg));
        dq_http_resp_header(resp, "Cache-Control", "private, no-cache");
        dq_http_resp_header(resp, "Vary", "Cookie, Authorization");
    }
    dq_buf_free(&svg);
    dq_raster_free(&m);
    free(path);
}

/* GET /api/images/{id}/outline: {id} is a restoration layer ("<image>.restoration") or its
 * original; the mask is the one `danqing restore --relic` kept beside the layer. */
void dq_api_restoration_outline(dq_api_t *c)
{
    const char *id = c->seg[1];
    char base[DQ_IMAGE_ID_MAX + 1];
    size_t n = strlen(id);
    const char *tag = ".restoration";
    if (n > strlen(tag) && strcmp(id + n - strlen(tag), tag) == 0)
        n -= strlen(tag);
    if (n > DQ_IMAGE_ID_MAX) {
        dq_api_error(c->resp, 404, "no such image", NULL);
        return;
    }
    memcpy(base, id, n);
    base[n] = '\0';
    dq_err_t err = {0};
    if (!dq_image_id_valid(base, &err) ||
        !dq_catalog_image_visible(c->srv->catalog, base, &c->actor)) {
        dq_api_error(c->resp, 404, "no such image", NULL);
        return;
    }
    char *name = dq_xasprintf("layers/%s/mask.png", base);
    char *mask = dq_condrec_layer_find(c->srv->catalog, c->srv->store, name, &err);
    free(name);
    int have = mask ? dq_blob_exists(c->srv->store, mask, &err) : -1;
    if (have != 1) {
        free(mask);
        if (have < 0)
            dq_api_error_err(c->resp, &err);
        else
            dq_api_error(c->resp, 404, "this image has no restoration mask", NULL);
        return;
    }
    outline_t *o = dq_xcalloc(1, sizeof(*o));
    o->mask = mask;
    c->resp->defer_fn = outline_run;
    c->resp->defer_free = outline_free;
    c->resp->defer_arg = o;
}
