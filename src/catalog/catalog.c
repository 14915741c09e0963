/*
 * catalog.c: the backend-neutral core of the catalog: opening by URL, the transaction helpers
 * every neutral file uses (dq_catalog_write / dq_catalog_read), images (argument checks, the
 * audit row, the in-memory image map), the audit trail as JSON, counts, and the change feed
 * that keeps this process's in-memory views coherent with writes made by any process. It
 * never includes a database header: the backends (store.h) do.
 *
 * The change feed: every committed write adds audit rows with increasing seq. After each of
 * this process's commits, and when a server's watcher calls dq_catalog_refresh (about once a
 * second), apply_feed reads the rows after the last seq it applied and updates the image map:
 * an image row re-read, a relic's links and restricted flag re-read; the relic facet/sort index
 * (relic_index.c) applies the same rows, a bounded number per call. A write by another
 * process therefore reaches the map within one poll; this process's own writes before the
 * write call returns.
 */
#define _GNU_SOURCE
#include "catalog.h"
#include "image_map.h"
#include "relic_internal.h"
#include "store.h"
#include "style_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Feeds longer than this since the last apply are not replayed row by row: the map is rebuilt
 * from the tables in one pass (a bulk import in another process). */
#define FEED_REBUILD_ROWS 20000
#define FEED_BATCH 512
#define FEED_STALE_US 2000000
/* Feed rows the relic index applies per apply_feed (each re-reads one relic, ~50 us): a bulk
 * import elsewhere costs a watcher tick at most ~0.1 s, and a search that comes while the index
 * is still behind catches up itself (relic_index_sync). */
#define FEED_INDEX_ROWS 2000

struct dq_catalog {
    const dq_store_backend_t *be; /* read-only after open */
    void *impl;                   /* owned; the backend guards its own state */
    dq_image_map_t *imap;         /* owned; its own rwlock */
    relic_index_t *rindex;        /* owned; its own rwlock (relic_index.c) */
    /* Serializes apply_feed and the map's build and miss fills; guards feed_seq. Never taken
     * on the tile path (which reads imap only). */
    pthread_mutex_t feed_lock;
    int64_t feed_seq;         /* the last audit seq applied to imap */
    atomic_int map_ready;     /* 1 once imap was built (lazily: a CLI import never needs it) */
    atomic_int content_changed; /* 1 when a change to served content was applied since the
                                   last dq_catalog_refresh */
    _Atomic int64_t fed_us;     /* when apply_feed last caught up (dq_now_us) */
    style_cache_t *style;       /* owned; its own lock (style.c, issue 13) */
};

int dq_image_id_valid(const char *id, dq_err_t *err)
{
    if (!id || !*id)
        return dq_err_set(err, DQ_EINVAL, 0, "an image id must not be empty"), 0;
    size_t n = strlen(id);
    if (n > DQ_IMAGE_ID_MAX)
        return dq_err_set(err, DQ_EINVAL, 0, "image id is longer than %d characters",
                          DQ_IMAGE_ID_MAX),
               0;
    if (id[0] == '.')
        return dq_err_set(err, DQ_EINVAL, 0, "image id '%s' must not start with '.'", id), 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return dq_err_set(err, DQ_EINVAL, 0,
                              "image id '%.*s' has a character outside [A-Za-z0-9._-]",
                              (int)DQ_MIN(n, 200), id),
                   0;
    }
    return 1;
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* A stored path is relative, has no "..", no empty component and no NUL trickery: the
 * catalog is trusted by the server, so a row must never point outside the data dir. */
static int rel_path_ok(const char *p)
{
    if (!*p || p[0] == '/')
        return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        s += n + (e ? 1 : 0);
        if (e && !*s)
            return 0;
    }
    return 1;
}

static int check_rec(const dq_image_rec_t *r, dq_err_t *err)
{
    if (!dq_image_id_valid(r->id, err))
        return -1;
    if (!is_hex64(r->master_sha256) || !is_hex64(r->pyramid_sha256))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: checksums must be 64 hex digits", r->id);
    if (!rel_path_ok(r->master_path) || !rel_path_ok(r->pyramid_path))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: paths must be relative to the data dir",
                          r->id);
    if (r->width <= 0 || r->height <= 0 || r->levels <= 0 || r->tile_size <= 0 ||
        (r->bands != 1 && r->bands != 3))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: bad geometry", r->id);
    return 0;
}


/* ---------------------------------------------------------------- open and close */

/* DQ_CATALOG_WRITE_WAIT_MS, else 1500 ms; -1 with err for a value out of range. */
static int write_wait_ms(dq_err_t *err)
{
    const char *v = getenv("DQ_CATALOG_WRITE_WAIT_MS");
    uint64_t ms = 1500; /* the issue 9 budget is 2 s for the whole request */
    if (v && *v && (dq_str_to_u64(v, strlen(v), &ms) < 0 || ms < 1 || ms > 600000))
        return dq_err_set(err, DQ_EINVAL, 400,
                          "DQ_CATALOG_WRITE_WAIT_MS must be 1..600000 (milliseconds), not '%.40s'",
                          v);
    return (int)ms;
}

/* The backend and its location (new string) for url_or_dir, or NULL with err. */
static char *pick_backend(const char *url_or_dir, const dq_store_backend_t **be, dq_err_t *err)
{
    *be = &dq_store_sqlite;
    if (!url_or_dir || !*url_or_dir) {
        dq_err_set(err, DQ_EINVAL, 400, "no catalog given (a data directory or sqlite:PATH)");
        return NULL;
    }
    if (strncmp(url_or_dir, "postgres://", 11) == 0 ||
        strncmp(url_or_dir, "postgresql://", 13) == 0) {
        /* libpq reads the whole URI (host, port, database, user, options=-csearch_path=...) */
        *be = &dq_store_pg;
        return dq_xstrdup(url_or_dir);
    }
    if (strncmp(url_or_dir, "sqlite:", 7) == 0) {
        if (!url_or_dir[7]) {
            dq_err_set(err, DQ_EINVAL, 400, "sqlite: needs a path (sqlite:DIR/catalog.sqlite)");
            return NULL;
        }
        return dq_xstrdup(url_or_dir + 7);
    }
    if (strstr(url_or_dir, "://")) {
        dq_err_set(err, DQ_EUNSUP, 400,
                   "unknown catalog URL '%.100s' (sqlite:PATH, postgres://... or a directory)",
                   url_or_dir);
        return NULL;
    }
    return dq_xasprintf("%s/catalog.sqlite", url_or_dir);
}

int dq_catalog_probe(const char *url_or_dir, int *n_applied, int *n_known, dq_err_t *err)
{
    const dq_store_backend_t *be;
    char *location = pick_backend(url_or_dir, &be, err);
    if (!location)
        return -1;
    int rc = be->probe(location, n_applied, n_known, err);
    free(location);
    return rc;
}

dq_catalog_t *dq_catalog_open(const char *url_or_dir, dq_err_t *err)
{
    const dq_store_backend_t *be;
    char *location = pick_backend(url_or_dir, &be, err);
    if (!location)
        return NULL;
    int ms = write_wait_ms(err);
    void *impl = ms < 0 ? NULL : be->open(location, ms, err);
    free(location);
    if (!impl)
        return NULL;
    dq_catalog_t *cat = dq_xcalloc(1, sizeof(*cat));
    cat->be = be;
    cat->impl = impl;
    cat->imap = dq_image_map_new();
    cat->rindex = relic_index_new();
    cat->style = style_cache_new();
    pthread_mutex_init(&cat->feed_lock, NULL);
    atomic_init(&cat->map_ready, 0);
    atomic_init(&cat->content_changed, 0);
    atomic_init(&cat->fed_us, 0);
    return cat;
}

void dq_catalog_close(dq_catalog_t *cat)
{
    if (!cat)
        return;
    cat->be->close(cat->impl);
    dq_image_map_free(cat->imap);
    relic_index_free(cat->rindex);
    style_cache_free(cat->style);
    pthread_mutex_destroy(&cat->feed_lock);
    free(cat);
}

struct dq_catalog_lock {
    const dq_store_backend_t *be;
    void *impl, *handle;
};

int dq_catalog_lock(dq_catalog_t *cat, int which, dq_catalog_lock_t **out, dq_err_t *err)
{
    void *h = NULL;
    *out = NULL;
    if (cat->be->lock(cat->impl, which, &h, err) < 0)
        return -1;
    dq_catalog_lock_t *lk = dq_xmalloc(sizeof(*lk));
    *lk = (dq_catalog_lock_t){cat->be, cat->impl, h};
    *out = lk;
    return 0;
}

void dq_catalog_unlock(dq_catalog_lock_t *lk)
{
    if (!lk)
        return;
    lk->be->unlock(lk->impl, lk->handle);
    free(lk);
}

void dq_catalog_set_write_wait(dq_catalog_t *cat, int ms)
{
    cat->be->set_write_wait(cat->impl, ms);
}

const dq_store_backend_t *dq_catalog_backend(dq_catalog_t *cat) { return cat->be; }
void *dq_catalog_impl(dq_catalog_t *cat) { return cat->impl; }
relic_index_t *relic_index_of(dq_catalog_t *cat) { return cat->rindex; }
style_cache_t *style_cache_of(dq_catalog_t *cat) { return cat->style; }

int dq_catalog_schema_version(dq_catalog_t *cat, int *version, dq_err_t *err)
{
    return cat->be->schema_version(cat->impl, version, err);
}

/* ---------------------------------------------------------------- transactions */

static int apply_feed(dq_catalog_t *cat, int build, dq_err_t *err);

int dq_catalog_write(dq_catalog_t *cat, dq_catalog_txn_fn fn, void *ud, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (cat->be->begin(cat->impl, 1, &t, err) < 0)
        return -1;
    if (fn(ud, t, err) < 0) {
        cat->be->rollback(t);
        return -1;
    }
    if (cat->be->commit(t, err) < 0)
        return -1;
    /* This process's views learn the write before the caller does. A failure here leaves
     * them for the next refresh; the write itself stands. */
    dq_err_t ferr = {0};
    apply_feed(cat, 0, &ferr);
    return 0;
}

int dq_catalog_read(dq_catalog_t *cat, dq_catalog_txn_fn fn, void *ud, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (cat->be->begin(cat->impl, 0, &t, err) < 0)
        return -1;
    int rc = fn(ud, t, err);
    cat->be->rollback(t);
    return rc;
}

/* ---------------------------------------------------------------- the image map */

typedef struct {
    dq_catalog_t *cat;
    int restricted;
    char **ids;
    int n;
} links_t;

static int map_put_cb(void *ud, const dq_image_rec_t *rec)
{
    dq_image_map_put(ud, rec);
    return 0;
}

static int map_link_cb(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    if (relic_id && image_id)
        dq_image_map_link(ud, relic_id, restricted, image_id);
    return 0;
}

/* feed_lock held. Builds the map from the tables at one snapshot, aside, and swaps it in:
 * tiles asked meanwhile see the old map, never a half-built one (where an image not yet
 * linked would look public). */
static int map_build(dq_catalog_t *cat, dq_store_txn_t *t, dq_err_t *err)
{
    int64_t seq = 0;
    dq_image_map_t *fresh = dq_image_map_new();
    int rc = -1;
    if (cat->be->audit->max_seq(t, &seq, err) < 0 ||
        cat->be->images->list(t, map_put_cb, fresh, err) < 0 ||
        cat->be->images->links(t, NULL, map_link_cb, fresh, err) < 0 ||
        dq_condition_gate_load(cat->be, t, fresh, NULL, err) < 0) {
        atomic_store(&cat->map_ready, 0);
        goto out;
    }
    dq_image_map_swap(cat->imap, fresh);
    cat->feed_seq = seq;
    atomic_store(&cat->map_ready, 1);
    rc = 0;
out:
    dq_image_map_free(fresh);
    return rc;
}

static int collect_link(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    (void)relic_id;
    links_t *l = ud;
    l->restricted = restricted;
    if (image_id) {
        l->ids = dq_xrealloc(l->ids, (size_t)(l->n + 1) * sizeof(char *));
        l->ids[l->n++] = dq_xstrdup(image_id);
    }
    return 0;
}

typedef struct {
    char **action, **object;
    int64_t last;
    int n;
} feed_t;

static int collect_feed(void *ud, const dq_store_audit_row_t *row)
{
    feed_t *f = ud;
    f->action[f->n] = dq_xstrdup(row->action ? row->action : "");
    f->object[f->n] = dq_xstrdup(row->object ? row->object : "");
    f->last = row->seq;
    f->n++;
    return 0;
}

/* feed_lock held, inside read transaction t: applies one audit row to the map. */
static int apply_row(dq_catalog_t *cat, dq_store_txn_t *t, const char *action, const char *object,
                     dq_err_t *err)
{
    if (strncmp(action, "image.", 6) == 0) {
        dq_image_rec_t rec;
        int r = strcmp(action, "image.delete") == 0 ? 1 : cat->be->images->get(t, object, &rec,
                                                                              err);
        if (r < 0)
            return -1;
        if (r == 0)
            dq_image_map_put(cat->imap, &rec);
        else
            dq_image_map_drop(cat->imap, object);
    } else if (strncmp(action, "relic.", 6) == 0) {
        links_t l = {0};
        int rc = cat->be->images->links(t, object, collect_link, &l, err);
        if (rc == 0)
            dq_image_map_relic(cat->imap, object, l.restricted, (const char *const *)l.ids, l.n);
        /* Its condition gates follow its links (a relic without links has none: no query). */
        if (rc == 0 && l.n > 0)
            rc = dq_condition_gate_load(cat->be, t, cat->imap, object, err);
        else if (rc == 0)
            dq_image_map_gate_relic(cat->imap, object, NULL, NULL, 0);
        for (int i = 0; i < l.n; i++)
            free(l.ids[i]);
        free(l.ids);
        return rc;
    } else if (strncmp(action, "condition.", 10) == 0) {
        /* object "relic/<relic id>/condition/c<n>": a record published, unpublished or
         * deleted opens or closes the gates of the images it refers to. */
        char relic[64]; /* relic ids are at most 63 bytes (the schema checks) */
        if (!dq_catalog_condition_object_relic(object, relic, sizeof(relic)))
            return 0;
        return dq_condition_gate_load(cat->be, t, cat->imap, relic, err);
    }
    return 0;
}

/* 1 for the audit actions that change what the server answers (and so retire cached
 * responses): not logins, sessions or accounts, which a client can cause at will. */
static int content_action(const char *a)
{
    return strncmp(a, "image.", 6) == 0 || strncmp(a, "relic.", 6) == 0 ||
           strncmp(a, "annotation.", 11) == 0 || strncmp(a, "tour.", 5) == 0 ||
           strncmp(a, "condition.", 10) == 0;
}

/* Brings the map up to the newest audit row and notes in content_changed whether a row changed
 * served content. Before the map is first needed it does nothing, unless build is 1. */
static int apply_feed(dq_catalog_t *cat, int build, dq_err_t *err)
{
    dq_store_txn_t *t = NULL;
    char *action[FEED_BATCH], *object[FEED_BATCH];
    int rc = -1;
    pthread_mutex_lock(&cat->feed_lock);
    if (!atomic_load(&cat->map_ready) && !build) {
        rc = 0;
        goto out;
    }
    if (cat->be->begin(cat->impl, 0, &t, err) < 0)
        goto out;
    if (!atomic_load(&cat->map_ready)) {
        rc = map_build(cat, t, err);
        goto out;
    }
    int64_t top = 0;
    if (cat->be->audit->max_seq(t, &top, err) < 0)
        goto out;
    if (top == cat->feed_seq) {
        rc = 0;
        goto out;
    }
    if (top - cat->feed_seq > FEED_REBUILD_ROWS || top < cat->feed_seq) {
        atomic_store(&cat->content_changed, 1);
        rc = map_build(cat, t, err);
        goto out;
    }
    for (;;) {
        feed_t f = {.action = action, .object = object};
        int r = cat->be->audit->since(t, cat->feed_seq, FEED_BATCH, collect_feed, &f, err);
        for (int i = 0; i < f.n; i++) {
            if (content_action(action[i]))
                atomic_store(&cat->content_changed, 1);
            if (r == 0 && apply_row(cat, t, action[i], object[i], err) < 0)
                r = -1;
            free(action[i]);
            free(object[i]);
        }
        if (r < 0) {
            /* The map may have missed a change: rebuild it at the next use. */
            atomic_store(&cat->map_ready, 0);
            goto out;
        }
        if (f.n)
            cat->feed_seq = f.last;
        if (f.n < FEED_BATCH)
            break;
    }
    rc = 0;
out:
    if (rc == 0)
        atomic_store(&cat->fed_us, dq_now_us());
    if (rc == 0 && t) {
        /* The relic facet/sort index follows the same feed here, so that a search after a
         * write (of this process or another) finds it current instead of catching up then.
         * Its failure is its own: the next search rebuilds it, the map stands. */
        dq_err_t ierr = {0};
        relic_index_follow(cat->rindex, cat->be, t, FEED_INDEX_ROWS, &ierr);
    }
    if (t)
        cat->be->rollback(t);
    pthread_mutex_unlock(&cat->feed_lock);
    return rc;
}

/* The map, built on first use. 0, or -1 with err (the caller then fails closed). */
static int map_ready(dq_catalog_t *cat, dq_err_t *err)
{
    if (atomic_load(&cat->map_ready))
        return 0;
    return apply_feed(cat, 1, err);
}

int dq_catalog_wait_change(dq_catalog_t *cat, int timeout_ms, dq_err_t *err)
{
    if (!cat->be->wait_change)
        return -2;
    return cat->be->wait_change(cat->impl, timeout_ms, err);
}

const char *dq_catalog_backend_name(dq_catalog_t *cat)
{
    return cat->be->name;
}

int dq_catalog_refresh(dq_catalog_t *cat, dq_err_t *err)
{
    if (apply_feed(cat, 1, err) < 0)
        return -1;
    return atomic_exchange(&cat->content_changed, 0) ? 1 : 0;
}

/* ---------------------------------------------------------------- images */

static char *put_detail(const dq_image_rec_t *r, int replaced)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, "{\"master_sha256\":\"");
    dq_buf_json_str(&b, r->master_sha256, strlen(r->master_sha256));
    dq_buf_puts(&b, "\",\"pyramid_sha256\":\"");
    dq_buf_json_str(&b, r->pyramid_sha256, strlen(r->pyramid_sha256));
    dq_buf_puts(&b, "\",\"orig_filename\":\"");
    dq_buf_json_str(&b, r->orig_filename, strlen(r->orig_filename));
    dq_buf_printf(&b, "\",\"width\":%d,\"height\":%d,\"replaced\":%s}", r->width, r->height,
                  replaced ? "true" : "false");
    return dq_buf_steal(&b, NULL);
}

typedef struct {
    dq_catalog_t *cat;
    const dq_image_rec_t *rec;
    const char *id, *who;
    const char *run; /* pending_drop */
    unsigned flags;
} image_w_t;

static int image_put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_w_t *w = ud;
    const dq_store_backend_t *be = w->cat->be;
    int replaced = 0, rc = -1;
    char *detail = NULL;
    if (be->images->put(t, w->rec, (w->flags & DQ_CATALOG_REPLACE) != 0, &replaced, err) < 0)
        goto out;
    detail = put_detail(w->rec, replaced);
    rc = be->audit->append(t, w->who, replaced ? "image.replace" : "image.create", w->rec->id,
                           detail, err);
out:
    free(detail);
    return rc;
}

int dq_catalog_image_put(dq_catalog_t *cat, const dq_image_rec_t *rec, unsigned flags,
                         const char *who, dq_err_t *err)
{
    if (check_rec(rec, err) < 0)
        return -1;
    image_w_t w = {.cat = cat, .rec = rec, .who = who ? who : "unknown", .flags = flags};
    return dq_catalog_write(cat, image_put_txn, &w, err);
}

typedef struct {
    dq_catalog_t *cat;
    const char *id;
    dq_image_rec_t *out;
} image_r_t;

static int image_get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_r_t *r = ud;
    return r->cat->be->images->get(t, r->id, r->out, err);
}

int dq_catalog_image_get(dq_catalog_t *cat, const char *id, dq_image_rec_t *out, dq_err_t *err)
{
    if (!dq_image_id_valid(id, err))
        return -1;
    if (map_ready(cat, err) < 0)
        return -1;
    /* A process without a watcher (a CLI command) catches up with other processes' writes
     * itself, at most every 2 s; a server's watcher keeps fed_us fresh, so tiles never do. */
    if (dq_now_us() - atomic_load(&cat->fed_us) > FEED_STALE_US &&
        pthread_mutex_trylock(&cat->feed_lock) == 0) {
        /* (only when no feed is being applied right now: never queue behind one) */
        pthread_mutex_unlock(&cat->feed_lock);
        dq_err_t ferr = {0};
        apply_feed(cat, 0, &ferr);
    }
    if (dq_image_map_get(cat->imap, id, out))
        return 0;
    /* A miss: unknown, or written by another process since the last refresh. Asked under
     * feed_lock, so that a concurrent apply_feed cannot be undone by this fill. */
    pthread_mutex_lock(&cat->feed_lock);
    image_r_t r = {.cat = cat, .id = id, .out = out};
    int rc = dq_catalog_read(cat, image_get_txn, &r, err);
    if (rc == 0)
        dq_image_map_put(cat->imap, out);
    pthread_mutex_unlock(&cat->feed_lock);
    if (rc == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", id);
    return rc;
}

typedef struct {
    dq_catalog_t *cat;
    dq_image_cb cb;
    void *ud;
    int pending;
    const char *master; /* by_master: this SHA-256 */
} image_l_t;

static int image_list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_l_t *l = ud;
    if (l->master)
        return l->cat->be->images->by_master(t, l->master, l->cb, l->ud, err);
    return (l->pending ? l->cat->be->images->pending_list : l->cat->be->images->list)(t, l->cb,
                                                                                      l->ud, err);
}

int dq_catalog_image_by_master(dq_catalog_t *cat, const char *sha256, dq_image_cb cb, void *ud,
                               dq_err_t *err)
{
    image_l_t l = {.cat = cat, .cb = cb, .ud = ud, .master = sha256};
    return dq_catalog_read(cat, image_list_txn, &l, err);
}

int dq_catalog_image_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err)
{
    image_l_t l = {.cat = cat, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, image_list_txn, &l, err);
}

static int image_delete_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_w_t *w = ud;
    int r = w->cat->be->images->remove(t, w->id, err);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", w->id);
    return r < 0 ? -1 : w->cat->be->audit->append(t, w->who, "image.delete", w->id, "{}", err);
}

int dq_catalog_image_delete(dq_catalog_t *cat, const char *id, const char *who, dq_err_t *err)
{
    if (!dq_image_id_valid(id, err))
        return -1;
    image_w_t w = {.cat = cat, .id = id, .who = who ? who : "unknown"};
    return dq_catalog_write(cat, image_delete_txn, &w, err);
}

static int pending_put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_w_t *w = ud;
    return w->cat->be->images->pending_put(t, w->rec, err);
}

int dq_catalog_pending_put(dq_catalog_t *cat, const dq_image_rec_t *rec, dq_err_t *err)
{
    if (check_rec(rec, err) < 0)
        return -1;
    if (!rec->run[0] || !memchr(rec->run, '\0', sizeof(rec->run)))
        return dq_err_set(err, DQ_EINVAL, 400, "a pending row of '%s' names no run", rec->id);
    image_w_t w = {.cat = cat, .rec = rec};
    return dq_catalog_write(cat, pending_put_txn, &w, err);
}

int dq_catalog_pending_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err)
{
    image_l_t l = {.cat = cat, .cb = cb, .ud = ud, .pending = 1};
    return dq_catalog_read(cat, image_list_txn, &l, err);
}

static int pending_drop_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    image_w_t *w = ud;
    return w->cat->be->images->pending_drop(t, w->run, err);
}

int dq_catalog_pending_drop(dq_catalog_t *cat, const char *run, dq_err_t *err)
{
    if (!run || !*run)
        return 0; /* never written */
    image_w_t w = {.cat = cat, .run = run};
    return dq_catalog_write(cat, pending_drop_txn, &w, err);
}

int dq_catalog_image_visible(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who)
{
    if (who && who->role >= DQ_ROLE_VIEWER)
        return 1;
    dq_err_t err = {0};
    if (map_ready(cat, &err) < 0)
        return 0; /* fail closed */
    /* A scene layer (scene.c) is linked to no relic; it is as visible as its base image. */
    char base[DQ_IMAGE_ID_MAX + 1];
    if (dq_catalog_scene_layer_base(image_id, base, sizeof(base)))
        return dq_image_map_visible(cat->imap, base);
    return dq_image_map_visible(cat->imap, image_id);
}

/* ---------------------------------------------------------------- audit and counts */

typedef struct {
    dq_catalog_t *cat;
    int64_t *n;
} seq_r_t;

static int max_seq_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    seq_r_t *r = ud;
    return r->cat->be->audit->max_seq(t, r->n, err);
}

int dq_catalog_audit_count(dq_catalog_t *cat, int64_t *n, dq_err_t *err)
{
    /* The largest seq equals the count: audit rows are never deleted, and a rolled-back
     * insert rolls its sqlite_sequence step back with it. */
    seq_r_t r = {.cat = cat, .n = n};
    return dq_catalog_read(cat, max_seq_txn, &r, err);
}

int dq_catalog_counts(dq_catalog_t *cat, const dq_actor_t *who, int64_t *relics, int64_t *images,
                      dq_err_t *err)
{
    int show = who && who->role >= DQ_ROLE_VIEWER;
    int64_t r = 0, all = 0, visible = 0;
    if (relics && cat->be->relics->counts(cat->impl, show, &r, err) < 0)
        return -1;
    if (images) {
        /* The same rule as /api/images: an anonymous caller does not count the images that
         * only restricted relics link (issue 10 item 8). */
        if (map_ready(cat, err) < 0)
            return -1;
        dq_image_map_counts(cat->imap, &all, &visible);
        *images = show ? all : visible;
    }
    if (relics)
        *relics = r;
    return 0;
}

typedef struct {
    dq_catalog_t *cat;
    const char *object;
    int64_t before;
    int limit, n;
    int64_t last;
    dq_buf_t *out;
} audit_l_t;

static int audit_row_out(void *ud, const dq_store_audit_row_t *row)
{
    audit_l_t *l = ud;
    if (l->n == l->limit) {
        l->n++; /* one more exists: the cursor points after the last shown */
        return 1;
    }
    l->last = row->seq;
    dq_buf_puts(l->out, l->n ? ",{" : "{");
    const char *v[] = {row->at, row->who, row->action, row->object};
    static const char *const names[] = {"at", "who", "action", "object"};
    for (int c = 0; c < 4; c++) {
        const char *t = v[c] ? v[c] : "";
        dq_buf_printf(l->out, "\"%s\":\"", names[c]);
        dq_buf_json_str(l->out, t, strlen(t));
        dq_buf_puts(l->out, "\",");
    }
    dq_buf_puts(l->out, "\"detail\":");
    dq_buf_puts(l->out, row->detail && *row->detail ? row->detail : "{}"); /* valid JSON */
    dq_buf_putc(l->out, '}');
    l->n++;
    return 0;
}

static int audit_list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    audit_l_t *l = ud;
    return l->cat->be->audit->list(t, l->object, l->before, l->limit + 1, audit_row_out, l, err);
}

int dq_catalog_audit_list(dq_catalog_t *cat, const char *object, int limit, const char *cursor,
                          dq_buf_t *out, dq_err_t *err)
{
    uint64_t before = 0;
    if (limit == 0)
        limit = 50;
    if (limit < 1 || limit > 500)
        return dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..500");
    if (cursor && *cursor &&
        (dq_str_to_u64(cursor, strlen(cursor), &before) < 0 || before > INT64_MAX))
        return dq_err_set(err, DQ_EINVAL, 400, "bad cursor");
    dq_buf_t b = {0};
    audit_l_t l = {.cat = cat,
                   .object = object && *object ? object : NULL,
                   .before = (int64_t)before,
                   .limit = limit,
                   .out = &b};
    dq_buf_puts(&b, "{\"items\":[");
    if (dq_catalog_read(cat, audit_list_txn, &l, err) < 0) {
        dq_buf_free(&b);
        return -1;
    }
    if (l.n > limit)
        dq_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)l.last);
    else
        dq_buf_puts(&b, "],\"next_cursor\":null}");
    dq_buf_append(out, b.data, b.len);
    dq_buf_free(&b);
    return 0;
}
