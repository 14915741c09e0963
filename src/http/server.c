/*
 * server.c: assembles a server from its parts (catalog, registry, response cache, MHD
 * daemon) and runs the watcher thread that notices replaced images. Everything a request
 * needs lives in the catalog and the data directory, never only in this process, so several
 * servers can share one store.
 */
#define _GNU_SOURCE
#include "http.h"

#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"
#include "spectral/spectral.h"

/* Threads that run API writes and logins (see dq_server_start). */
#define DQ_API_THREADS 4

/* ---------------------------------------------------------------- CDN purge hook */

/* The purge hook (--purge-command, issue 15): after writes that may have made a public image
 * answer wrong (docs/deploy.md, CDN), the command runs with the URL path prefixes to purge as
 * its arguments. It runs beside the watcher, never waited for there (a slow CDN API must not
 * hold up cache retirement); finished ones are reaped on later ticks. */
#define PURGE_MAX_IDS 256 /* images per command run; more go to the next run */
#define PURGE_MAX_RUNNING 8

typedef struct {
    char *ids[PURGE_MAX_IDS];
    int n;
} purge_ids_t;

static int purge_add(void *ud, const char *image_id)
{
    purge_ids_t *p = ud;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->ids[i], image_id) == 0)
            return 0;
    if (p->n == PURGE_MAX_IDS)
        return 1;
    p->ids[p->n++] = dq_xstrdup(image_id);
    return 0;
}

typedef struct {
    int64_t seq;     /* the audit position scanned so far (-1: not started) */
    pid_t running[PURGE_MAX_RUNNING];
    int n_running;
} purge_state_t;

static void purge_reap(purge_state_t *ps)
{
    for (int i = 0; i < ps->n_running;) {
        int status;
        pid_t r = waitpid(ps->running[i], &status, WNOHANG);
        if (r == 0) {
            i++;
            continue;
        }
        if (r > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            dq_log(DQ_LOG_WARN, "http", "purge command failed (status %d)", status);
        ps->running[i] = ps->running[--ps->n_running];
    }
}

extern char **environ;

/* Scans the writes since the last tick and runs the command for what they touched. */
static void purge_tick(dq_server_t *srv, purge_state_t *ps)
{
    dq_err_t err = {0};
    purge_reap(ps);
    if (ps->n_running == PURGE_MAX_RUNNING)
        return; /* the CDN is slow: the writes wait in the audit trail */
    purge_ids_t ids = {{0}, 0};
    int64_t seq = ps->seq;
    if (dq_catalog_purge_scan(srv->catalog, &seq, PURGE_MAX_IDS, purge_add, &ids, &err) < 0) {
        dq_log(DQ_LOG_WARN, "http", "purge scan: %s", err.msg);
        goto out;
    }
    if (ids.n > 0) {
        /* sh -c 'CMD "$@"' danqing-purge /iiif/3/<id>/ /iiif/2/<id>/ ... */
        char *cmd = dq_xasprintf("%s \"$@\"", srv->cfg->purge_command);
        char **argv = dq_xcalloc((size_t)ids.n * 2 + 5, sizeof(char *));
        int k = 0;
        argv[k++] = "/bin/sh";
        argv[k++] = "-c";
        argv[k++] = cmd;
        argv[k++] = "danqing-purge";
        for (int i = 0; i < ids.n; i++) {
            argv[k++] = dq_xasprintf("/iiif/3/%s/", ids.ids[i]);
            argv[k++] = dq_xasprintf("/iiif/2/%s/", ids.ids[i]);
        }
        pid_t pid;
        int e = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
        if (e != 0) {
            dq_log(DQ_LOG_WARN, "http", "purge command: cannot start: %s", strerror(e));
            seq = ps->seq; /* try the same writes again next tick */
        } else {
            ps->running[ps->n_running++] = pid;
            dq_log(DQ_LOG_INFO, "http", "purge: %d image(s)", ids.n);
        }
        for (int i = 4; i < k; i++)
            free(argv[i]);
        free(argv);
        free(cmd);
    }
    ps->seq = seq;
out:
    for (int i = 0; i < ids.n; i++)
        free(ids.ids[i]);
}

/* Warms the catalog's search index, then polls the registry and the catalog's audit trail
 * once a second; a replaced pyramid or a
 * catalog write bumps the epoch, which retires every cached response at once (they age out
 * of the LRU). Replacements are rare, so a coarse
 * invalidation keeps the hit path to a single atomic load. */
static void *watch(void *arg)
{
    dq_server_t *srv = arg;
    int tick = 0;
    dq_err_t err = {0};
    /* First, the catalog's search index (about 1 s at 500,000 relics), here and not in
     * dq_server_start so that the port opens at once; a search that comes sooner waits for
     * it under the catalog's lock. On failure the first search builds it (and reports). */
    int64_t t0 = dq_now_us();
    if (dq_catalog_relic_warm(srv->catalog, &err) < 0)
        dq_log(DQ_LOG_WARN, "http", "search index warm-up: %s", err.msg);
    else
        dq_log(DQ_LOG_INFO, "http", "search index ready in %lld ms",
               (long long)(dq_now_us() - t0) / 1000);
    dq_catalog_refresh(srv->catalog, &err); /* builds the image map */
    /* Ready even when the warm-up failed: the first search then builds the index and says
     * why it could not, and a node kept out of rotation forever would hide that. */
    srv->ready_ms = (dq_now_us() - t0) / 1000;
    atomic_store(&srv->ready, 1);
    purge_state_t ps = {.seq = -1};
    if (srv->cfg->purge_command[0])
        purge_tick(srv, &ps); /* from the end of the trail as it is now */
    while (!atomic_load(&srv->stopping)) {
        /* A catalog shared with other servers (PostgreSQL) tells of every commit
         * (LISTEN/NOTIFY): the wait is the tick's sleep, and a commit anywhere refreshes
         * the views and retires cached responses at once instead of at the next poll. */
        int notified = dq_catalog_wait_change(srv->catalog, 100, &err);
        if (notified < 0) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (srv->alog)
            dq_alog_flush(srv->alog);
        /* An object store's pyramids are revalidated against the catalog when its feed
         * moved (registry.c), at once on a notification, never by polling the store. */
        if (notified == 1 && dq_catalog_refresh(srv->catalog, &err) > 0) {
            atomic_fetch_add(&srv->epoch, 1);
            if (dq_registry_revalidate(srv->registry, 1) > 0)
                atomic_fetch_add(&srv->epoch, 1);
        }
        if (srv->cfg->purge_command[0] && (notified == 1 || tick % 10 == 9))
            purge_tick(srv, &ps);
        if (++tick % 10)
            continue;
        /* The catalog's change feed: writes by this server or by another process (an
         * import, an ingest, a second server) reach the catalog's in-memory views here, and a
         * write that changes served content (an image, a relic: e.g. one made restricted)
         * retires the cached responses with it. */
        int changed = dq_catalog_refresh(srv->catalog, &err);
        if (changed > 0)
            atomic_fetch_add(&srv->epoch, 1);
        if (dq_registry_revalidate(srv->registry, changed > 0) > 0) {
            atomic_fetch_add(&srv->epoch, 1);
            dq_log(DQ_LOG_INFO, "http", "an image changed in the store; response cache retired");
        }
    }
    for (int i = 0; i < ps.n_running; i++) /* a graceful stop lets purges finish */
        waitpid(ps.running[i], NULL, 0);
    return NULL;
}

dq_server_t *dq_server_start(const dq_config_t *cfg, dq_err_t *err)
{
    dq_server_t *srv = dq_xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->started_us = dq_now_us();
    atomic_init(&srv->epoch, 1);
    atomic_init(&srv->stopping, 0);
    srv->catalog = dq_catalog_open(dq_config_catalog(cfg), err);
    if (!srv->catalog)
        goto fail;
    if (!(srv->store = dq_blob_open(cfg, err)))
        goto fail;
    /* design.md: tmp/ is cleaned at start-up, and a replacement journaled by an ingest that
     * crashed is completed or dropped before we serve anything from pyramids/. */
    int n_recovered = 0, n_removed = 0;
    if (dq_image_ingest_recover_store(srv->catalog, cfg->data_dir, srv->store, &n_recovered,
                                      &n_removed, err) < 0)
        goto fail;
    if (n_recovered || n_removed)
        dq_log(DQ_LOG_INFO, "http", "completed %d interrupted ingest(s), removed %d dead upload(s)",
               n_recovered, n_removed);
    srv->registry = dq_registry_new(srv->catalog, srv->store);
    srv->cache = dq_cache_new((size_t)cfg->cache_mb << 20, dq_http_cache_value_free);
    /* Compressed bodies: an eighth of the response cache (a manifest shrinks about 10x). */
    srv->gz_cache = dq_cache_new((size_t)cfg->cache_mb << 17, free);
    dq_cidr_t *trusted = dq_xcalloc(64, sizeof(dq_cidr_t));
    srv->trusted = trusted;
    if (dq_cidr_list_parse(cfg->trusted_proxy, trusted, 64, &srv->n_trusted, err) < 0)
        goto fail;
    /* Render slots: as many as worker threads (at least 2) by default; the queue holds 32 per
     * slot (--render-wait-ms bounds how long one waits there), past which a render is
     * answered 503 at once. With threads / 2 slots and 8 per slot, 32 clients asking for
     * regions got 42 answers/s and 21,000 503s/s on 2 cores (bench, issue 9). The worker
     * threads never render, so tiles and /health keep their own threads either way. */
    int slots = cfg->render_slots ? cfg->render_slots : DQ_MAX(2, cfg->threads);
    srv->renderq = dq_renderq_new(slots, cfg->render_wait_ms, cfg->render_timeout_ms, slots * 32);
    /* API writes and logins (mhd.c run_api): mostly waiting (the writer lock, a bounded
     * password hash), so a few threads whatever the cores; a job that waited 10 s in the
     * queue, or that finds 64 ahead of it, is answered 503 + Retry-After. */
    srv->apiq = dq_renderq_new(DQ_API_THREADS, 10 * 1000, 0, 64);
    /* Password checks at once: at most half the threads (and 4: each takes 64 MiB), so that
     * logins never hold every thread that tiles and /health need. */
    int max_hashing = cfg->threads / 2 < 1 ? 1 : cfg->threads / 2 > 4 ? 4 : cfg->threads / 2;
    srv->throttle = dq_throttle_new(DQ_THROTTLE_MAX, max_hashing);
    if (cfg->access_log[0]) {
        if (!(srv->alog = dq_alog_open(cfg->access_log, err)))
            goto fail;
    } else if (dq_log_get_level() <= DQ_LOG_INFO) {
        srv->alog = dq_alog_new(2);
    }
    srv->classes = dq_classes_new();
    srv->condjobs = dq_condjobs_new(srv->catalog, srv->store, cfg);
    char lib_dir[4096];
    dq_spec_default_library(lib_dir, sizeof(lib_dir));
    srv->pigments = dq_spec_table_load(lib_dir, &srv->pigments_err);
    if (!srv->pigments)
        dq_log(DQ_LOG_INFO, "http", "no pigment library: %s", srv->pigments_err.msg);
    if (dq_http_daemon_start(srv, err) < 0)
        goto fail;
    if (pthread_create(&srv->watcher, NULL, watch, srv) == 0)
        srv->watcher_running = 1;
    else /* no warm-up will come: the first search builds the index */
        atomic_store(&srv->ready, 1);
    return srv;
fail:
    dq_server_stop(srv);
    return NULL;
}

int dq_server_port(const dq_server_t *srv) { return srv->port; }

void dq_server_stop(dq_server_t *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, 1);
    if (srv->watcher_running)
        pthread_join(srv->watcher, NULL);
    dq_http_daemon_stop(srv);
    dq_condjobs_free(srv->condjobs); /* before the catalog and store it borrows */
    dq_classes_free(srv->classes);
    dq_spec_table_free(srv->pigments);
    dq_renderq_free(srv->renderq);
    dq_renderq_free(srv->apiq);
    dq_alog_free(srv->alog);
    dq_cache_free(srv->cache);
    dq_cache_free(srv->gz_cache);
    free(srv->trusted);
    dq_throttle_free(srv->throttle);
    dq_registry_free(srv->registry);
    dq_blob_close(srv->store);
    dq_catalog_close(srv->catalog);
    free(srv);
}

void dq_server_drain(dq_server_t *srv, int grace_ms)
{
    atomic_store(&srv->draining, 1);
    if (grace_ms > 0) {
        struct timespec ts = {grace_ms / 1000, (long)(grace_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void dq_http_health(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    (void)req;
    dq_cache_stats_t st;
    dq_cache_stats(srv->cache, &st);
    int draining = atomic_load(&srv->draining);
    int ready = atomic_load(&srv->ready);
    resp->content_type = "application/json";
    resp->no_etag = 1;
    /* What a balancer needs (issue 15): 200 "ready"; 503 "starting" until the search index
     * and image map are built (a search sooner would wait for them); 503 "draining" once
     * SIGTERM came (take this server out of rotation; it still finishes what it has). */
    const char *state = draining ? "draining" : ready ? "ready" : "starting";
    if (draining || !ready)
        resp->status = 503;
    dq_buf_printf(&resp->body, "{\"state\":\"%s\",\"catalog\":\"%s\",", state,
                  dq_catalog_backend_name(srv->catalog));
    if (ready)
        dq_buf_printf(&resp->body, "\"ready_ms\":%lld,", (long long)srv->ready_ms);
    dq_buf_printf(&resp->body,
                  "\"status\":\"ok\",\"uptime_s\":%.1f,\"cache\":{\"entries\":%zu,\"bytes\":%zu,"
                  "\"budget\":%zu,\"hits\":%llu,\"misses\":%llu,\"evictions\":%llu},"
                  "\"renders\":%d,\"api_jobs\":%d,\"body_bytes\":%zu,",
                  (double)(dq_now_us() - srv->started_us) / 1e6, st.n_entries, st.bytes,
                  st.budget, (unsigned long long)st.hits, (unsigned long long)st.misses,
                  (unsigned long long)st.evictions, dq_renderq_busy(srv->renderq),
                  dq_renderq_busy(srv->apiq), atomic_load(&srv->body_bytes));
    /* The blob store and, for an object store, its read-through cache (docs/deploy.md). */
    dq_blob_stats_t bs;
    dq_blob_stats(srv->store, &bs);
    dq_buf_printf(&resp->body,
                  "\"store\":{\"kind\":\"%s\",\"block_cache\":{\"hit_blocks\":%llu,\"missed_blocks\":%llu,"
                  "\"bytes\":%llu,\"evicted_blocks\":%llu,\"gets\":%llu,\"retries\":%llu}}}\n",
                  dq_blob_kind(srv->store), (unsigned long long)bs.hits,
                  (unsigned long long)bs.misses, (unsigned long long)bs.bytes,
                  (unsigned long long)bs.evictions, (unsigned long long)bs.gets,
                  (unsigned long long)bs.retries);
    dq_http_resp_header(resp, "Cache-Control", "no-store");
}
