/*
 * test_condition_job.c: condition jobs in the catalog (src/catalog/condition_job.c over
 * store_*_condjob.c; issue 12 with issue 15's several servers), through the public API on a
 * real catalog of either backend (the runner's PostgreSQL pass sets DQ_TEST_CATALOG): the
 * JSON a poll gets at each state, that a finished job is never changed again, that a job
 * whose server stopped (dead by the caller's test, or silent past the stale time) is answered
 * as failed with the reason and stored so by a sweep, that finished jobs are forgotten after
 * the keep time, beats, and bad input; that a stopped job is handed to its undo once, with
 * its work note (session 24); layer file checksums; that the ingest lock spans catalog
 * handles; and (session 25) shared and try locks, and work journals.
 */
#include "relic_fixture.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>

static dq_condjob_row_t job(const char *id, const char *relic, const char *node)
{
    dq_condjob_row_t r = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.relic_id, sizeof(r.relic_id), "%s", relic);
    snprintf(r.user, sizeof(r.user), "connie");
    snprintf(r.node, sizeof(r.node), "%s", node);
    snprintf(r.state, sizeof(r.state), "queued");
    return r;
}

/* The job's JSON (NULL with *status when refused). */
static json_t *poll_job(dq_catalog_t *c, const char *relic, const char *id,
                        const dq_condjob_policy_t *pol, int *status)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    json_t *j = NULL;
    *status = 200;
    if (dq_catalog_condjob_get(c, relic, id, pol, &out, &err) < 0)
        *status = err.http_status;
    else
        j = json_loadb(out.data, out.len, 0, NULL);
    dq_buf_free(&out);
    return j;
}

static const char *str(const json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

static int dead_node(void *ud, const char *node)
{
    return strcmp(node, (const char *)ud) == 0;
}

/* Polls (bounded, as the database's clock must move on) until job id of relic "r" is
 * answered with state want (NULL: 404). */
static int polls_to(dq_catalog_t *c, const char *id, const dq_condjob_policy_t *pol,
                    const char *want)
{
    for (int i = 0; i < 5000; i++) {
        int st;
        json_t *j = poll_job(c, "r", id, pol, &st);
        int ok = want ? j && strcmp(str(j, "state"), want) == 0 : !j && st == 404;
        json_decref(j);
        if (ok)
            return 1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

DQ_TEST(condjob_states_as_polled)
{
    dq_catalog_t *c = fx_open();
    dq_condjob_policy_t pol = {.stale_ms = 60000, .keep_ms = 86400000};
    dq_condjob_row_t r = job("j00aa", "relic-1", "hostA/100/abcdef01.1");
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_condjob_create(c, &r, &err) == 0);
    int st;
    json_t *j = poll_job(c, "relic-1", "j00aa", &pol, &st);
    DQ_REQUIRE(j);
    DQ_CHECK_STR(str(j, "state"), "queued");
    DQ_CHECK_STR(str(j, "href"), "/api/relics/relic-1/condition/jobs/j00aa");
    DQ_CHECK_STR(str(j, "node"), "hostA/100/abcdef01.1");
    DQ_CHECK_STR(str(j, "user"), "connie");
    DQ_CHECK(strlen(str(j, "created")) == 20);
    DQ_CHECK(!json_object_get(j, "error") && !json_object_get(j, "record"));
    json_decref(j);
    /* another relic's path, or an unknown id: 404 */
    DQ_CHECK(!poll_job(c, "relic-2", "j00aa", &pol, &st) && st == 404);
    DQ_CHECK(!poll_job(c, "relic-1", "j00ab", &pol, &st) && st == 404);
    /* running with a stage */
    snprintf(r.state, sizeof(r.state), "running");
    snprintf(r.stage, sizeof(r.stage), "registering");
    r.percent = 10;
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &r, NULL, &err), 0);
    j = poll_job(c, "relic-1", "j00aa", &pol, &st);
    DQ_CHECK_STR(str(j, "state"), "running");
    DQ_CHECK_STR(str(j, "stage"), "registering");
    DQ_CHECK_INT((int)json_integer_value(json_object_get(j, "percent")), 10);
    json_decref(j);
    /* done, with the record */
    snprintf(r.state, sizeof(r.state), "done");
    snprintf(r.record, sizeof(r.record), "c7");
    r.percent = 100, r.http_status = 201;
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &r, NULL, &err), 0);
    j = poll_job(c, "relic-1", "j00aa", &pol, &st);
    DQ_CHECK_STR(str(j, "state"), "done");
    DQ_CHECK_STR(str(j, "record"), "c7");
    DQ_CHECK_STR(str(j, "record_href"), "/api/relics/relic-1/condition/c7");
    json_decref(j);
    /* a finished job is never changed again: 1, and the answer stays */
    snprintf(r.state, sizeof(r.state), "failed");
    r.error = "late";
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &r, NULL, &err), 1);
    j = poll_job(c, "relic-1", "j00aa", &pol, &st);
    DQ_CHECK_STR(str(j, "state"), "done");
    json_decref(j);
    /* a failed job carries its status and reason */
    dq_condjob_row_t f = job("j00ff", "relic-1", "hostA/100/abcdef01.1");
    DQ_REQUIRE(dq_catalog_condjob_create(c, &f, &err) == 0);
    snprintf(f.state, sizeof(f.state), "failed");
    f.http_status = 422;
    f.error = "the capture cannot be compared with x";
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &f, NULL, &err), 0);
    j = poll_job(c, "relic-1", "j00ff", &pol, &st);
    json_t *e = json_object_get(j, "error");
    DQ_CHECK_INT((int)json_integer_value(json_object_get(e, "status")), 422);
    DQ_CHECK_STR(str(e, "message"), "the capture cannot be compared with x");
    json_decref(j);
    dq_catalog_close(c);
}

DQ_TEST(condjob_stopped_servers_fail_and_old_jobs_go)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    dq_condjob_row_t a = job("j0001", "r", "hostA/1/00000000.1");
    dq_condjob_row_t b = job("j0002", "r", "hostB/2/00000000.2");
    dq_condjob_row_t d = job("j0003", "r", "hostB/2/00000000.2");
    DQ_REQUIRE(dq_catalog_condjob_create(c, &a, &err) == 0);
    DQ_REQUIRE(dq_catalog_condjob_create(c, &b, &err) == 0);
    DQ_REQUIRE(dq_catalog_condjob_create(c, &d, &err) == 0);
    int64_t n = -1;
    DQ_CHECK(dq_catalog_condjob_beat(c, "hostB/2/00000000.2", NULL, &n, &err) == 0 && n == 2);
    /* a dead server's job is failed at once, naming the server */
    dq_condjob_policy_t dead = {.stale_ms = 3600000, .keep_ms = 86400000, .dead = dead_node,
                                .ud = "hostA/1/00000000.1"};
    int st;
    json_t *j = poll_job(c, "r", "j0001", &dead, &st);
    DQ_CHECK_STR(str(j, "state"), "failed");
    json_t *e = json_object_get(j, "error");
    DQ_CHECK_INT((int)json_integer_value(json_object_get(e, "status")), 503);
    DQ_CHECK(strstr(str(e, "message"), "hostA/1/00000000.1") != NULL);
    json_decref(j);
    j = poll_job(c, "r", "j0002", &dead, &st);
    DQ_CHECK_STR(str(j, "state"), "queued");
    json_decref(j);
    /* silent past the stale time: failed too (the database's clock moves on) */
    dq_condjob_policy_t quick = {.stale_ms = 2, .keep_ms = 86400000};
    DQ_CHECK(polls_to(c, "j0002", &quick, "failed"));
    /* the sweep stores the dead one as failed; the live one stays */
    int64_t nf = -1, ne = -1;
    DQ_CHECK(dq_catalog_condjob_sweep(c, &dead, &nf, &ne, &err) == 0);
    DQ_CHECK_INT((int)nf, 1);
    DQ_CHECK_INT((int)ne, 0);
    dq_condjob_policy_t none = {.stale_ms = 3600000, .keep_ms = 86400000};
    j = poll_job(c, "r", "j0001", &none, &st);
    DQ_CHECK_STR(str(j, "state"), "failed");
    DQ_CHECK(strstr(str(json_object_get(j, "error"), "message"), "stopped") != NULL);
    json_decref(j);
    j = poll_job(c, "r", "j0002", &none, &st);
    DQ_CHECK_STR(str(j, "state"), "queued");
    json_decref(j);
    /* the stored failure is final: its server cannot overwrite it */
    snprintf(a.state, sizeof(a.state), "done");
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &a, NULL, &err), 1);
    /* finished jobs are forgotten after keep_ms (here 0: as soon as the clock moves) */
    dq_condjob_policy_t keep0 = {.stale_ms = 3600000, .keep_ms = 0};
    DQ_CHECK(polls_to(c, "j0001", &keep0, NULL));
    DQ_CHECK(dq_catalog_condjob_sweep(c, &keep0, &nf, &ne, &err) == 0);
    DQ_CHECK_INT((int)ne, 1);
    j = poll_job(c, "r", "j0001", &none, &st);
    DQ_CHECK(!j && st == 404);
    j = poll_job(c, "r", "j0003", &none, &st); /* unfinished: kept */
    DQ_CHECK_STR(str(j, "state"), "queued");
    json_decref(j);
    dq_catalog_close(c);
}

DQ_TEST(condjob_bad_input)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    dq_condjob_row_t r = job("j1", "r", "n");
    snprintf(r.state, sizeof(r.state), "paused");
    DQ_CHECK(dq_catalog_condjob_create(c, &r, &err) < 0 && err.http_status == 400);
    r = job("j1", "", "n");
    DQ_CHECK(dq_catalog_condjob_create(c, &r, &err) < 0 && err.http_status == 400);
    r = job("j1", "r", "n");
    r.percent = 101;
    DQ_CHECK(dq_catalog_condjob_create(c, &r, &err) < 0 && err.http_status == 400);
    r.percent = 0;
    DQ_REQUIRE(dq_catalog_condjob_create(c, &r, &err) == 0);
    DQ_CHECK(dq_catalog_condjob_create(c, &r, &err) < 0 && err.http_status == 409);
    DQ_CHECK(dq_catalog_condjob_beat(c, "", NULL, NULL, &err) < 0 && err.http_status == 400);
    dq_catalog_close(c);
}

/* A server's own writes with a policy are a compare-and-set (issue 12, defect 2 of session
 * 23): another node's job, or a job silent past the stale time, is not overwritten; the stale
 * one is stored as failed, a late beat never revives it, and its outcome loses. */
DQ_TEST(condjob_set_is_compare_and_set)
{
    dq_catalog_t *c = fx_open();
    dq_condjob_policy_t pol = {.stale_ms = 60000, .keep_ms = 86400000};
    dq_err_t err = {0};
    dq_condjob_row_t r = job("j0c01", "r", "hostA/1/00000000.1");
    DQ_REQUIRE(dq_catalog_condjob_create(c, &r, &err) == 0);
    snprintf(r.state, sizeof(r.state), "running");
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &r, &pol, &err), 0); /* fresh and ours */
    dq_condjob_row_t other = r;
    snprintf(other.node, sizeof(other.node), "hostB/2/00000000.2");
    snprintf(other.state, sizeof(other.state), "done");
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &other, &pol, &err), 1); /* not B's job */
    DQ_CHECK(polls_to(c, "j0c01", &pol, "running"));
    /* silent past a stale time of 1 ms: judged failed, and the late outcome loses */
    dq_condjob_policy_t quick = {.stale_ms = 1, .keep_ms = 86400000};
    DQ_CHECK(polls_to(c, "j0c01", &quick, "failed"));
    DQ_CHECK(dq_catalog_condjob_beat(c, r.node, &quick, NULL, &err) == 0);
    snprintf(r.state, sizeof(r.state), "done");
    snprintf(r.record, sizeof(r.record), "c1");
    r.http_status = 201;
    DQ_CHECK_INT(dq_catalog_condjob_set(c, &r, &pol, &err), 1);
    int st;
    json_t *j = poll_job(c, "r", "j0c01", &pol, &st); /* stored: failed under any policy */
    DQ_CHECK_STR(str(j, "state"), "failed");
    DQ_CHECK(!json_object_get(j, "record"));
    json_decref(j);
    dq_catalog_close(c);
}

/* The undo of a stopped job is handed over once, with its work note (session 24: a job
 * killed by SIGKILL left its capture and links; now whoever stores it failed undoes it). */
typedef struct {
    const char *dead; /* the dead node, as dead_node's ud */
    int n;
    char work[256];
} handed_t;

static int handed_dead(void *ud, const char *node)
{
    return strcmp(node, ((handed_t *)ud)->dead) == 0;
}

static void count_undo(void *ud, const dq_condjob_row_t *row)
{
    handed_t *h = ud;
    h->n++;
    snprintf(h->work, sizeof(h->work), "%s", row->work ? row->work : "(none)");
}

DQ_TEST(condjob_stopped_job_is_handed_to_undo_once)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    dq_condjob_row_t a = job("j0u01", "r", "hostA/1/00000000.1");
    dq_condjob_row_t b = job("j0u02", "r", "hostA/1/00000000.1");
    dq_condjob_row_t l = job("j0u03", "r", "hostB/2/00000000.2");
    DQ_REQUIRE(dq_catalog_condjob_create(c, &a, &err) == 0);
    DQ_REQUIRE(dq_catalog_condjob_create(c, &b, &err) == 0);
    DQ_REQUIRE(dq_catalog_condjob_create(c, &l, &err) == 0);
    DQ_CHECK_INT(dq_catalog_condjob_set_work(c, "j0u01", "{\"capture\":\"x\"}", &err), 0);
    handed_t h = {.dead = "hostA/1/00000000.1"}, h2 = {.dead = "hostA/1/00000000.1"};
    dq_condjob_policy_t pol = {.stale_ms = 3600000, .keep_ms = 86400000, .dead = handed_dead,
                               .ud = &h, .undo = count_undo};
    dq_condjob_policy_t pol2 = pol;
    pol2.ud = &h2; /* another server's view */
    int st;
    /* a poll that finds it stopped stores it failed and hands it over, with its note ... */
    json_t *j = poll_job(c, "r", "j0u01", &pol, &st);
    DQ_CHECK_STR(str(j, "state"), "failed");
    json_decref(j);
    DQ_CHECK_INT(h.n, 1);
    DQ_CHECK_STR(h.work, "{\"capture\":\"x\"}");
    /* ... once: a second poll, or another server's, finds it finished */
    j = poll_job(c, "r", "j0u01", &pol2, &st);
    DQ_CHECK_STR(str(j, "state"), "failed");
    json_decref(j);
    DQ_CHECK_INT(h2.n, 0);
    /* a sweep hands over the other stopped job (no note: nothing stored), not the live one */
    int64_t nf = -1, ne = -1;
    DQ_CHECK(dq_catalog_condjob_sweep(c, &pol2, &nf, &ne, &err) == 0);
    DQ_CHECK_INT((int)nf, 1);
    DQ_CHECK_INT(h2.n, 1);
    DQ_CHECK_STR(h2.work, "(none)");
    DQ_CHECK(dq_catalog_condjob_sweep(c, &pol, &nf, &ne, &err) == 0);
    DQ_CHECK_INT((int)nf, 0);
    DQ_CHECK_INT(h.n, 1);
    /* a finished job takes no more notes: its build must stop storing */
    DQ_CHECK_INT(dq_catalog_condjob_set_work(c, "j0u01", "{}", &err), 1);
    DQ_CHECK_INT(dq_catalog_condjob_set_work(c, "j0u03", "{}", &err), 0);
    DQ_CHECK(dq_catalog_condjob_set_work(c, "j0u03", NULL, &err) < 0 && err.http_status == 400);
    dq_catalog_close(c);
}

/* Layer file checksums (migration 29): put replaces, remove forgets, list in key order, and
 * only keys under layers/ with a real SHA-256 are taken. */
typedef struct {
    char keys[512];
    uint64_t size_sum;
} lf_seen_t;

static int lf_seen(void *ud, const dq_layer_file_row_t *row)
{
    lf_seen_t *s = ud;
    size_t n = strlen(s->keys);
    snprintf(s->keys + n, sizeof(s->keys) - n, "%s%s:%.4s", n ? " " : "", row->key, row->sha256);
    s->size_sum += row->size;
    return 0;
}

DQ_TEST(layer_files_put_list_remove)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    char sha[65];
    memset(sha, 'a', 64);
    sha[64] = '\0';
    DQ_CHECK(dq_catalog_layer_file_put(c, "layers/x/changes/loss.png", sha, 10, &err) == 0);
    DQ_CHECK(dq_catalog_layer_file_put(c, "layers/x/changes/changes.json", sha, 5, &err) == 0);
    sha[0] = 'b';
    DQ_CHECK(dq_catalog_layer_file_put(c, "layers/x/changes/loss.png", sha, 11, &err) == 0);
    lf_seen_t s = {{0}, 0};
    DQ_CHECK(dq_catalog_layer_file_list(c, lf_seen, &s, &err) == 0);
    DQ_CHECK_STR(s.keys, "layers/x/changes/changes.json:aaaa layers/x/changes/loss.png:baaa");
    DQ_CHECK(s.size_sum == 16);
    DQ_CHECK(dq_catalog_layer_file_put(c, "masters/ab/x", sha, 1, &err) < 0 &&
             err.http_status == 400);
    DQ_CHECK(dq_catalog_layer_file_put(c, "layers/../x", sha, 1, &err) < 0);
    DQ_CHECK(dq_catalog_layer_file_put(c, "layers/y/a.png", "ABC", 1, &err) < 0);
    DQ_CHECK(dq_catalog_layer_file_remove(c, "layers/x/changes/loss.png", &err) == 0);
    DQ_CHECK(dq_catalog_layer_file_remove(c, "layers/x/none.png", &err) == 0);
    memset(&s, 0, sizeof(s));
    DQ_CHECK(dq_catalog_layer_file_list(c, lf_seen, &s, &err) == 0);
    DQ_CHECK_STR(s.keys, "layers/x/changes/changes.json:aaaa");
    dq_catalog_close(c);
}

/* The ingest lock spans catalog handles (two servers' catalogs are two handles): a second
 * holder waits until the first lets go. */
typedef struct {
    dq_catalog_t *c;
    volatile int got;
} locker_t;

static void *take_lock(void *arg)
{
    locker_t *l = arg;
    dq_err_t err = {0};
    dq_catalog_lock_t *lk = NULL;
    if (dq_catalog_lock(l->c, DQ_CATALOG_LOCK_INGEST, &lk, &err) == 0)
        l->got = 1;
    dq_catalog_unlock(lk);
    return NULL;
}

/* Two handles on one new catalog (two servers' catalogs). */
static void two_handles(const char *name, dq_catalog_t **c, dq_catalog_t **c2)
{
    char *d = dq_test_tmpdir(name);
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    *c = dq_test_catalog_open(dir, &err);
    *c2 = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(*c && *c2);
    free(dir);
    free(d);
}

DQ_TEST(ingest_lock_spans_catalog_handles)
{
    dq_err_t err = {0};
    dq_catalog_t *c, *c2;
    two_handles("dq_lock", &c, &c2);
    dq_catalog_lock_t *lk = NULL;
    DQ_REQUIRE(dq_catalog_lock(c, DQ_CATALOG_LOCK_INGEST, &lk, &err) == 0);
    locker_t l = {c2, 0};
    pthread_t t;
    DQ_REQUIRE(pthread_create(&t, NULL, take_lock, &l) == 0);
    /* bounded: the other handle must still be waiting after the catalog did real work */
    for (int i = 0; i < 20; i++) {
        dq_image_rec_t rec;
        dq_catalog_image_get(c, "none", &rec, &err);
    }
    DQ_CHECK(!l.got);
    dq_catalog_unlock(lk);
    pthread_join(t, NULL);
    DQ_CHECK(l.got);
    dq_catalog_close(c2);
    dq_catalog_close(c);
}

/* Session 25: the upload lock is shared among holders, and a try of it exclusively fails with
 * DQ_EBUSY while any holder has it, on another handle too (no waiting either way). */
DQ_TEST(shared_and_try_locks)
{
    dq_err_t err = {0};
    dq_catalog_t *c, *c2;
    two_handles("dq_lock2", &c, &c2);
    dq_catalog_lock_t *a = NULL, *b = NULL, *x = NULL;
    DQ_REQUIRE(dq_catalog_lock(c, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_SHARED, &a, &err) == 0);
    DQ_CHECK(dq_catalog_lock(c2, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_SHARED |
                                     DQ_CATALOG_LOCK_TRY, &b, &err) == 0);
    DQ_CHECK(dq_catalog_lock(c2, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_TRY, &x, &err) < 0 &&
             err.code == DQ_EBUSY && x == NULL);
    dq_catalog_unlock(a);
    dq_err_clear(&err);
    DQ_CHECK(dq_catalog_lock(c2, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_TRY, &x, &err) < 0 &&
             err.code == DQ_EBUSY); /* b still holds it */
    dq_catalog_unlock(b);
    DQ_CHECK(dq_catalog_lock(c2, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_TRY, &x, &err) == 0);
    /* the other locks are other locks: the ingest lock is free meanwhile */
    dq_catalog_lock_t *i = NULL;
    DQ_CHECK(dq_catalog_lock(c, DQ_CATALOG_LOCK_INGEST | DQ_CATALOG_LOCK_TRY, &i, &err) == 0);
    dq_catalog_unlock(i);
    dq_catalog_unlock(x);
    dq_catalog_close(c2);
    dq_catalog_close(c);
}

/* Work journals (migration 32): put replaces, list by kind in run order, remove forgets, bad
 * run names and missing documents are refused. */
static int wj_seen(void *ud, const dq_journal_row_t *row)
{
    char *s = ud;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%s%s=%s", n ? " " : "", row->run, row->doc);
    return 0;
}

DQ_TEST(work_journals_put_list_remove)
{
    dq_catalog_t *c = fx_open();
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_journal_put(c, "c4.b", "spectral-add", "{\"n\":1}", &err) == 0);
    DQ_CHECK(dq_catalog_journal_put(c, "c4.a", "spectral-add", "{\"n\":2}", &err) == 0);
    DQ_CHECK(dq_catalog_journal_put(c, "other", "another-kind", "{}", &err) == 0);
    DQ_CHECK(dq_catalog_journal_put(c, "c4.b", "spectral-add", "{\"n\":3}", &err) == 0);
    char seen[256] = "";
    DQ_CHECK(dq_catalog_journal_list(c, "spectral-add", wj_seen, seen, &err) == 0);
    DQ_CHECK_STR(seen, "c4.a={\"n\":2} c4.b={\"n\":3}");
    DQ_CHECK(dq_catalog_journal_put(c, "a/b", "spectral-add", "{}", &err) < 0 &&
             err.http_status == 400);
    DQ_CHECK(dq_catalog_journal_put(c, "ok", "", "{}", &err) < 0 && err.http_status == 400);
    DQ_CHECK(dq_catalog_journal_remove(c, "c4.a", &err) == 0);
    DQ_CHECK(dq_catalog_journal_remove(c, "none", &err) == 0);
    seen[0] = '\0';
    DQ_CHECK(dq_catalog_journal_list(c, "spectral-add", wj_seen, seen, &err) == 0);
    DQ_CHECK_STR(seen, "c4.b={\"n\":3}");
    dq_catalog_close(c);
}
