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
 * upload under tmp/ and queues the job on the condition queue (one thread: the change maps of
 * a 24000 x 2000 pair peak near 1 GiB, two at once would double that). The work itself is
 * condrec/'s dq_condrec_build, the same as `danqing condition record`. Jobs live in this
 * process's memory (the last 64): a job is polled on the server that took it; the record it
 * makes is in the catalog like any other.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "condrec/condrec.h"
#include "image/image.h"

#define MAX_JOBS 64  /* kept (finished ones are dropped oldest first) */
#define MAX_QUEUED 8 /* waiting at once; more is 503 */
#define QUEUE_WAIT_MS (30 * 60 * 1000)
#define OUTLINE_MAX_SIDE 2048

enum { J_QUEUED, J_RUNNING, J_DONE, J_FAILED };
static const char *const state_names[] = {"queued", "running", "done", "failed"};

typedef struct cjob {
    struct dq_condjobs *reg;
    char id[40];
    char relic_id[64];
    dq_actor_t who;
    /* the request, owned */
    char *upload; /* tmp file of an uploaded capture, removed when the job ends */
    char *image, *orig_name, *date, *examiner, *against, *overall, *note;
    double width_cm, height_cm;
    /* guarded by reg->lock */
    int state, percent, http_status;
    const char *stage; /* static */
    char record[24];
    char *error;
    char created[32];
    int64_t finished_us;
} cjob_t;

struct dq_condjobs {
    pthread_mutex_t lock; /* guards jobs, n_jobs, next and every job's mutable fields */
    cjob_t *jobs[MAX_JOBS];
    int n_jobs;
    int64_t next, uploads; /* job and upload numbers */
    dq_renderq_t *q;       /* one thread; thread-safe */
    /* read-only after dq_condjobs_new */
    dq_catalog_t *cat;
    struct dq_blob *store;
    const char *data_dir;
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
    free(j->error);
    free(j);
}

dq_condjobs_t *dq_condjobs_new(dq_catalog_t *cat, struct dq_blob *store, const char *data_dir)
{
    dq_condjobs_t *r = dq_xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->cat = cat;
    r->store = store;
    r->data_dir = data_dir;
    r->q = dq_renderq_new(1, QUEUE_WAIT_MS, 0, MAX_QUEUED);
    return r;
}

void dq_condjobs_free(dq_condjobs_t *r)
{
    if (!r)
        return;
    dq_renderq_free(r->q); /* the running job finishes; queued ones run expired */
    for (int i = 0; i < r->n_jobs; i++)
        job_free(r->jobs[i]);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---------------------------------------------------------------- running */

static void on_progress(void *ud, const char *stage, int percent)
{
    cjob_t *j = ud;
    pthread_mutex_lock(&j->reg->lock);
    j->stage = stage;
    j->percent = percent;
    pthread_mutex_unlock(&j->reg->lock);
}

static void finish(cjob_t *j, int state, int status, const char *why, const char *record)
{
    pthread_mutex_lock(&j->reg->lock);
    j->state = state;
    j->http_status = status;
    if (why)
        j->error = dq_xstrdup(why);
    if (record)
        snprintf(j->record, sizeof(j->record), "%s", record);
    j->finished_us = dq_now_us();
    if (state == J_DONE)
        j->percent = 100;
    pthread_mutex_unlock(&j->reg->lock);
}

static void job_run(void *arg, int64_t deadline_us, int expired)
{
    (void)deadline_us;
    cjob_t *j = arg;
    dq_condjobs_t *r = j->reg;
    if (expired) {
        finish(j, J_FAILED, 503, "the server stopped, or the job waited too long: send it again",
               NULL);
    } else {
        pthread_mutex_lock(&r->lock);
        j->state = J_RUNNING;
        pthread_mutex_unlock(&r->lock);
        dq_condrec_opts_t o = {.relic_id = j->relic_id,
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
                               .progress_ud = j};
        dq_buf_t out = {0};
        dq_err_t err = {0};
        if (dq_condrec_build(r->cat, &o, &out, &err) < 0) {
            dq_log(DQ_LOG_INFO, "http", "condition job %s on %s failed: %s", j->id, j->relic_id,
                   err.msg);
            finish(j, J_FAILED, err.http_status ? err.http_status : 500, err.msg, NULL);
        } else {
            json_t *rec = json_loadb(out.data, out.len, 0, NULL);
            finish(j, J_DONE, 201, NULL, json_string_value(json_object_get(rec, "id")));
            json_decref(rec);
        }
        dq_buf_free(&out);
    }
    /* the upload is no longer needed (ingested, or refused) */
    pthread_mutex_lock(&r->lock);
    char *up = j->upload;
    j->upload = NULL;
    pthread_mutex_unlock(&r->lock);
    if (up)
        unlink(up);
    free(up);
}

/* Adds j to the registry, dropping the oldest finished job when full; -1 when every kept job
 * is still waiting or running (the caller answers 503). */
static int add_job(dq_condjobs_t *r, cjob_t *j)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_jobs == MAX_JOBS) {
        int drop = -1;
        for (int i = 0; i < r->n_jobs && drop < 0; i++)
            if (r->jobs[i]->state >= J_DONE)
                drop = i;
        if (drop < 0) {
            pthread_mutex_unlock(&r->lock);
            return -1;
        }
        job_free(r->jobs[drop]);
        memmove(&r->jobs[drop], &r->jobs[drop + 1],
                (size_t)(r->n_jobs - drop - 1) * sizeof(cjob_t *));
        r->n_jobs--;
    }
    snprintf(j->id, sizeof(j->id), "j%lld-%04x", (long long)++r->next,
             (unsigned)(dq_now_us() & 0xffff));
    r->jobs[r->n_jobs++] = j;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void drop_job(dq_condjobs_t *r, cjob_t *j)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n_jobs; i++)
        if (r->jobs[i] == j) {
            memmove(&r->jobs[i], &r->jobs[i + 1], (size_t)(r->n_jobs - i - 1) * sizeof(cjob_t *));
            r->n_jobs--;
            break;
        }
    pthread_mutex_unlock(&r->lock);
    job_free(j);
}

/* ---------------------------------------------------------------- answers */

static void job_json(dq_api_t *c, const cjob_t *j, dq_buf_t *out)
{
    /* called with the lock held */
    dq_buf_t href = {0};
    dq_buf_puts(&href, "/api/relics/");
    dq_buf_url_segment(&href, j->relic_id);
    dq_buf_printf(&href, "/condition/jobs/%s", j->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "id", j->id, "href", href.data,
                          "relic_id", j->relic_id, "state", state_names[j->state], "percent",
                          j->percent, "user", j->who.user, "created", j->created);
    if (j->stage)
        json_object_set_new(o, "stage", json_string(j->stage));
    if (j->record[0]) {
        dq_buf_t rh = {0};
        dq_buf_puts(&rh, "/api/relics/");
        dq_buf_url_segment(&rh, j->relic_id);
        dq_buf_printf(&rh, "/condition/%s", j->record);
        json_object_set_new(o, "record", json_string(j->record));
        json_object_set_new(o, "record_href", json_string(rh.data));
        dq_buf_free(&rh);
    }
    if (j->state == J_FAILED)
        json_object_set_new(
            o, "error",
            json_pack("{s:i, s:s}", "status", j->http_status, "message", j->error ? j->error : ""));
    char *t = json_dumps(o, JSON_COMPACT);
    dq_buf_puts(out, t);
    dq_buf_putc(out, '\n');
    free(t);
    json_decref(o);
    dq_buf_free(&href);
    (void)c;
}

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
    snprintf(j->relic_id, sizeof(j->relic_id), "%s", c->seg[1]);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(j->created, sizeof(j->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
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
    if (strlen(c->seg[1]) >= sizeof(j->relic_id) || !j->date || !j->examiner) {
        dq_api_error(c->resp, 400, "date (YYYY-MM-DD) and examiner are required", NULL);
        job_free(j);
        return;
    }
    if (add_job(r, j) < 0) {
        dq_api_error(c->resp, 503, "too many condition jobs at once: try again later", NULL);
        dq_http_resp_header(c->resp, "Retry-After", "30");
        job_free(j);
        return;
    }
    if (dq_renderq_submit(r->q, job_run, j) < 0) {
        drop_job(r, j);
        dq_api_error(c->resp, 503, "too many condition jobs waiting: try again later", NULL);
        dq_http_resp_header(c->resp, "Retry-After", "30");
        return;
    }
    dq_buf_t out = {0};
    pthread_mutex_lock(&r->lock);
    job_json(c, j, &out);
    pthread_mutex_unlock(&r->lock);
    json_t *t = json_loadb(out.data, out.len, 0, NULL);
    dq_api_json(c->resp, 202, &out);
    dq_http_resp_header(c->resp, "Location", json_string_value(json_object_get(t, "href")));
    c->resp->no_etag = 1;
    json_decref(t);
}

void dq_api_condition_job_get(dq_api_t *c)
{
    dq_condjobs_t *r = c->srv->condjobs;
    dq_buf_t out = {0};
    if (r) {
        pthread_mutex_lock(&r->lock);
        for (int i = 0; i < r->n_jobs; i++)
            if (strcmp(r->jobs[i]->id, c->seg[4]) == 0 &&
                strcmp(r->jobs[i]->relic_id, c->seg[1]) == 0)
                job_json(c, r->jobs[i], &out);
        pthread_mutex_unlock(&r->lock);
    }
    if (!out.len) {
        dq_api_error(c->resp, 404, "no such condition job on this server", NULL);
        return;
    }
    dq_api_json(c->resp, 200, &out);
    c->resp->no_etag = 1;
}

/* ---------------------------------------------------------------- mask outline */

typedef struct {
    char *mask; /* layers/<image>/mask.png */
} outline_t;

static void outline_free(void *arg)
{
    outline_t *o = arg;
    free(o->mask);
    free(o);
}

static void outline_run(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us)
{
    (void)srv, (void)deadline_us;
    outline_t *o = arg;
    dq_raster_t m = {0};
    dq_err_t err = {0};
    dq_buf_t svg = {0};
    if (dq_raster_load(o->mask, 1, 400ull * 1000 * 1000, &m, &err) < 0 ||
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
    char *mask = dq_xasprintf("%s/layers/%s/mask.png", c->srv->cfg->data_dir, base);
    if (!dq_fs_exists(mask)) {
        free(mask);
        dq_api_error(c->resp, 404, "this image has no restoration mask", NULL);
        return;
    }
    outline_t *o = dq_xcalloc(1, sizeof(*o));
    o->mask = mask;
    c->resp->defer_fn = outline_run;
    c->resp->defer_free = outline_free;
    c->resp->defer_arg = o;
}
