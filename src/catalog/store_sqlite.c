/*
 * store_sqlite.c: the SQLite backend of the catalog: opening, migrations, the connections and
 * transactions (see store_sqlite_internal.h for the model), the helpers every
 * store_sqlite*.c file uses, and the audit trail with its change feed. One database file
 * (sqlite:DIR/catalog.sqlite) in WAL mode with foreign keys on and synchronous=FULL (an
 * archive prefers a slower commit to a lost one). The schema grows by an ordered list of
 * migrations, each applied in its own IMMEDIATE transaction together with its schema_version
 * row; re-opening applies only the missing ones, and two processes opening at once cannot
 * both apply one.
 *
 * Why a writer and a pool: one connection behind one mutex made every tile, /health and search
 * wait while a write waited (up to 10 s) for another process's write lock (issue 9). Now a
 * write waits at most write_wait_ms and then answers DQ_EBUSY, and reads use their own
 * connections, which WAL lets read a snapshot while someone writes.
 */
#define _GNU_SOURCE
#include "catalog.h"
#include "store_sqlite_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- migrations */

/* Append only: never edit a migration that has shipped; add the next one. */
typedef struct {
    int version;
    const char *what;
    const char *sql;
} migration_t;

static const migration_t migrations[] = {
    {1, "images and audit", dq_sqlite_image_schema},           /* store_sqlite_image.c */
    {2, "pending image journal", dq_sqlite_pending_schema},    /* store_sqlite_image.c */
    {3, "relics, facets, image links, full-text index", dq_sqlite_relic_schema},
    {4, "users, sessions, API tokens", dq_sqlite_account_schema}, /* store_sqlite_account.c */
    {5, "annotations, their full-text index, tours",
     dq_sqlite_annotation_schema}, /* store_sqlite_annotation.c */
    {6, "relic names for the search dictionary",
     dq_sqlite_relic_names_schema}, /* store_sqlite_relic.c */
    {7, "user names folded to lower case", dq_sqlite_account_fold_schema},
    {8, "relic full-text vocabulary", dq_sqlite_relic_vocab_schema}, /* store_sqlite_relic.c */
    {9, "spectral captures and derived layers",
     dq_sqlite_spectral_schema}, /* store_sqlite_spectral.c */
    {12, "scene layer sets", dq_sqlite_scene_schema}, /* store_sqlite_scene.c */
    {11, "style embeddings and attribution models", dq_sqlite_style_schema}, /* _style.c */
    {13, "educator role, lessons, glossary",
     dq_sqlite_lesson_schema}, /* store_sqlite_lesson.c (issue 17) */
    {10, "condition records", dq_sqlite_condition_schema}, /* store_sqlite_condition.c */
    {14, "relic tombstones, datestamp and change-feed indexes",
     dq_sqlite_network_schema}, /* store_sqlite_network.c */
    {15, "relics withdrawn from public view", dq_sqlite_withdrawal_schema}, /* _network.c */
    {17, "IIIF Authorization Flow 2.0 access cookies and tokens",
     dq_sqlite_iiif_auth_schema}, /* store_sqlite_iiif_auth.c */
    /* PostgreSQL's title and creators index (store_pg_relic.c); FTS5 filters columns by
     * itself. The version is kept in step. */
    {18, "relic title and creators full-text index (PostgreSQL only)", "SELECT 1"},
    {19, "withdrawals of relics restricted before migration 15, from the audit trail",
     dq_sqlite_withdrawal_backfill}, /* store_sqlite_network.c */
    {23, "relic search tables compressed with lz4 (PostgreSQL only)", "SELECT 1"},
    {24, "condition jobs shared by every server", dq_sqlite_condjob_schema}, /* _condjob.c */
    {25, "relic search: pair lexemes and markers (PostgreSQL only)", "SELECT 1"},
    {26, "relics without child foreign keys, unread btrees or row triggers on insert"
         " (PostgreSQL only)",
     "SELECT 1"},
    {29, "layer file checksums; condition jobs' work for the undo of a stopped job",
     dq_sqlite_layerfile_schema}, /* store_sqlite_layerfile.c */
    {32, "work journals seen by every process", dq_sqlite_journal_schema}, /* _journal.c */
    {28, "relic search table analyzed when grown by half (PostgreSQL only)", "SELECT 1"},
    {30, "relic search table without its texts (PostgreSQL only)", "SELECT 1"},
    {31, "deleted relics' seqs, for the search's posting bitmaps (PostgreSQL only)", "SELECT 1"},
    {33, "pending image journal: one row per ingest run", dq_sqlite_pending_run_schema},
};

/* ---------------------------------------------------------------- helpers */

int dq_sq_fail(dq_store_txn_t *t, dq_err_t *err, const char *what)
{
    int code = sqlite3_extended_errcode(t->db) & 0xff;
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        return dq_err_set(err, DQ_EBUSY, 503, "catalog: %s: the database is busy, try again",
                          what);
    if (sqlite3_extended_errcode(t->db) == SQLITE_CONSTRAINT_UNIQUE ||
        sqlite3_extended_errcode(t->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
        return dq_err_set(err, DQ_EEXIST, 409, "catalog: %s: %s", what, sqlite3_errmsg(t->db));
    return dq_err_set(err, DQ_EIO, 500, "catalog: %s: %s", what, sqlite3_errmsg(t->db));
}

int dq_sq_exec(dq_store_txn_t *t, const char *sql, dq_err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_extended_errcode(t->db) & 0xff;
        dq_err_set(err, code == SQLITE_BUSY ? DQ_EBUSY : DQ_EIO,
                   code == SQLITE_BUSY ? 503 : 500, "catalog: %s",
                   msg ? msg : sqlite3_errmsg(t->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int dq_sq_prepare(dq_store_txn_t *t, const char *sql, sqlite3_stmt **st, dq_err_t *err)
{
    if (sqlite3_prepare_v2(t->db, sql, -1, st, NULL) != SQLITE_OK)
        return dq_sq_fail(t, err, "prepare");
    return 0;
}

sqlite3_stmt *dq_sq_stmt(dq_store_txn_t *t, const char *sql, dq_err_t *err)
{
    sq_conn_t *c = t->conn;
    sq_cached_t *e = NULL;
    for (size_t i = 0; i < c->n_cache && !e; i++)
        if (c->cache[i].ptr == sql)
            e = &c->cache[i];
    for (size_t i = 0; i < c->n_cache && !e; i++)
        if (strcmp(c->cache[i].sql, sql) == 0) {
            e = &c->cache[i];
            e->ptr = sql;
        }
    if (e) {
        sqlite3_reset(e->st);
        sqlite3_clear_bindings(e->st);
        return e->st;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        dq_sq_fail(t, err, "prepare");
        return NULL;
    }
    if (c->n_cache == c->cap_cache) {
        c->cap_cache = c->cap_cache ? c->cap_cache * 2 : 32;
        c->cache = dq_xrealloc(c->cache, c->cap_cache * sizeof(*c->cache));
    }
    c->cache[c->n_cache++] = (sq_cached_t){.sql = dq_xstrdup(sql), .ptr = sql, .st = st};
    return st;
}

int dq_sq_step_done(dq_store_txn_t *t, sqlite3_stmt *st, dq_err_t *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return dq_sq_fail(t, err, "step");
    return 0;
}

int dq_sq_row(dq_store_txn_t *t, sqlite3_stmt *st, const char *what, dq_err_t *err)
{
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        return 0;
    if (r == SQLITE_DONE)
        return 1;
    return dq_sq_fail(t, err, what);
}

void dq_sq_bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void dq_sq_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* ---------------------------------------------------------------- connections */

/* The writer's busy handler: wait in growing steps until the transaction's deadline, then
 * give up (SQLITE_BUSY becomes DQ_EBUSY). Runs with wlock held. */
static int writer_busy(void *ud, int n)
{
    store_t *s = ud;
    int64_t left = s->w_deadline_us - dq_now_us();
    if (left <= 0)
        return 0;
    int64_t step = n < 4 ? 1000 : n < 10 ? 5000 : 20000; /* µs */
    if (step > left)
        step = left;
    struct timespec ts = {0, (long)step * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

static void conn_close(sq_conn_t *c)
{
    for (size_t i = 0; i < c->n_cache; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    free(c->cache);
    dq_sqlite_relic_cache_free(c->relic);
    dq_sqlite_relic_walk_free(c->walk);
    sqlite3_close(c->db);
    memset(c, 0, sizeof(*c));
}

static void txn_bind(store_t *s, dq_store_txn_t *t, sq_conn_t *c, int write)
{
    *t = (dq_store_txn_t){.db = c->db,
                          .relic = c->relic,
                          .search = s->search,
                          .store = s,
                          .conn = c,
                          .write = write};
}

static int conn_open(store_t *s, sq_conn_t *c, const char *path, int reader, dq_err_t *err)
{
    dq_store_txn_t t;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (reader ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK)
        return dq_err_set(err, DQ_EIO, 500, "catalog: cannot open %s: %s", path,
                          c->db ? sqlite3_errmsg(c->db) : "out of memory");
    sqlite3_extended_result_codes(c->db, 1);
    c->relic = dq_sqlite_relic_cache_new();
    txn_bind(s, &t, c, !reader);
    /* A reader waits a little for the rare lock a WAL reader can meet (recovery after a
     * crash); the writer's wait is bounded per transaction by writer_busy. The opening writer
     * waits 10 s: journal_mode=WAL and the migrations may wait for another process's open. */
    sqlite3_busy_timeout(c->db, reader ? 5000 : 10000);
    if (dq_sq_exec(&t,
                   reader ? "PRAGMA foreign_keys=ON; PRAGMA query_only=1; PRAGMA cache_size=-16384"
                          : "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
                            " PRAGMA synchronous=FULL",
                   err) < 0)
        return -1;
    /* The tokenizer before the migrations: migration 3 creates an FTS5 table that names it,
     * and every connection that reads an FTS5 table needs it. */
    if (dq_search_register(s->search, c->db, err) < 0)
        return -1;
    return dq_sqlite_relic_fts_register(c->db, err);
}

/* ---------------------------------------------------------------- transactions */

static int store_begin(void *impl, int write, dq_store_txn_t **txn, dq_err_t *err)
{
    store_t *s = impl;
    *txn = NULL;
    if (!write) {
        int i = dq_store_pool_take(&s->pool);
        dq_store_txn_t *t = &s->rtxn[i];
        txn_bind(s, t, &s->rd[i], 0);
        if (dq_sq_exec(t, "BEGIN", err) < 0) {
            dq_store_pool_give(&s->pool, i);
            return -1;
        }
        t->open = 1;
        *txn = t;
        return 0;
    }
    int64_t deadline = dq_now_us() + (int64_t)atomic_load(&s->write_wait_ms) * 1000;
    if (dq_store_lock_until(&s->wlock, deadline) < 0)
        return dq_err_set(err, DQ_EBUSY, 503,
                          "the catalog is busy with other writes; try again in a moment");
    dq_store_txn_t *t = &s->wtxn;
    txn_bind(s, t, &s->w, 1);
    s->w_deadline_us = deadline;
    /* BEGIN IMMEDIATE takes the database's write lock now, so that the wait (writer_busy,
     * bounded by the same deadline) happens here and never in the middle of the work. */
    if (dq_sq_exec(t, "BEGIN IMMEDIATE", err) < 0) {
        if (err && err->code == DQ_EBUSY)
            snprintf(err->msg, sizeof(err->msg),
                     "the catalog is locked by another writer (an import?); try again in a "
                     "moment");
        pthread_mutex_unlock(&s->wlock);
        return -1;
    }
    t->open = 1;
    *txn = t;
    return 0;
}

/* Resets every statement still stepping on t's connection (a walk a callback stopped), so
 * that COMMIT and ROLLBACK never meet a pending statement. */
static void reset_pending(dq_store_txn_t *t)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(t->db, NULL); st; st = sqlite3_next_stmt(t->db, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
}

/* Ends t after COMMIT (committed 1) or ROLLBACK: the connection goes back. */
static void txn_end(dq_store_txn_t *t, int committed)
{
    store_t *s = t->store;
    (void)committed;
    t->open = 0;
    dq_sqlite_relic_walk_clear(t->conn->walk); /* the next transaction sees another snapshot */
    if (t->write) {
        pthread_mutex_unlock(&s->wlock);
    } else {
        dq_store_pool_give(&s->pool, (int)(t->conn - s->rd));
    }
}

static void store_rollback(dq_store_txn_t *t)
{
    if (!t)
        return;
    reset_pending(t);
    if (!sqlite3_get_autocommit(t->db))
        sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    txn_end(t, 0);
}

static int store_commit(dq_store_txn_t *t, dq_err_t *err)
{
    reset_pending(t);
    if (dq_sq_exec(t, "COMMIT", err) < 0) {
        store_rollback(t);
        return -1;
    }
    txn_end(t, 1);
    return 0;
}

int dq_sq_foreign_version(store_t *s, int64_t *v, dq_err_t *err)
{
    if (pthread_mutex_trylock(&s->wlock) != 0)
        return 1;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(s->w.db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        dq_err_set(err, DQ_EIO, 500, "catalog: data_version: %s", sqlite3_errmsg(s->w.db));
        goto out;
    }
    *v = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

/* ---------------------------------------------------------------- open and migrate */

static int read_version(dq_store_txn_t *t, int *version, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT coalesce(max(version), 0) FROM schema_version", err);
    if (!st || dq_sq_row(t, st, "schema_version", err) != 0)
        return st ? dq_err_set(err, DQ_EIO, 500, "catalog: schema_version: no row") : -1;
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return 0;
}

/* 1 when migration version v has been applied, 0 when not, -1 error. */
static int applied(dq_store_txn_t *t, int v, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT 1 FROM schema_version WHERE version = ?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, v);
    int r = dq_sq_row(t, st, "schema_version", err);
    sqlite3_reset(st);
    return r < 0 ? -1 : r == 0;
}

/* Versions are assigned to issues ahead of time and land in any order (9..14 in parallel), so
 * a migration is applied when its own version is missing, not when it exceeds the largest
 * applied one: a catalog that got 13 before 9 existed still gets 9 later. */
static int migrate(store_t *s, dq_err_t *err)
{
    int newest = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++)
        newest = DQ_MAX(newest, migrations[i].version);
    dq_store_txn_t *t = &s->wtxn;
    txn_bind(s, t, &s->w, 1);
    if (dq_sq_exec(t,
                   "CREATE TABLE IF NOT EXISTS schema_version ("
                   " version INTEGER PRIMARY KEY, what TEXT NOT NULL, applied_at TEXT NOT NULL)",
                   err) < 0)
        return -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++) {
        const migration_t *m = &migrations[i];
        int have = 0;
        /* IMMEDIATE (store_begin): take the write lock before reading the version, so that
         * two processes opening a fresh catalog at once apply each migration exactly once. */
        if (store_begin(s, 1, &t, err) < 0)
            return -1;
        if (read_version(t, &have, err) < 0)
            goto fail;
        if (have > newest) {
            dq_err_set(err, DQ_EUNSUP, 0,
                       "catalog schema version %d is newer than this danqing knows (%d)", have,
                       newest);
            goto fail;
        }
        int done = applied(t, m->version, err);
        if (done < 0)
            goto fail;
        if (!done) {
            sqlite3_stmt *st;
            if (dq_sq_exec(t, m->sql, err) < 0 ||
                !(st = dq_sq_stmt(t,
                                  "INSERT INTO schema_version (version, what, applied_at)"
                                  " VALUES (?1, ?2, " DQ_SQ_NOW ")",
                                  err)))
                goto fail;
            sqlite3_bind_int(st, 1, m->version);
            sqlite3_bind_text(st, 2, m->what, -1, SQLITE_STATIC);
            if (dq_sq_step_done(t, st, err) < 0)
                goto fail;
        }
        if (store_commit(t, err) < 0)
            return -1;
        continue;
    fail:
        store_rollback(t);
        return -1;
    }
    return 0;
}

/* store.h probe: a missing file is no catalog (nothing is created); an existing one is read
 * through a read-only connection. */
static int store_probe(const char *location, int *n_applied, int *n_known, dq_err_t *err)
{
    *n_applied = 0;
    *n_known = (int)DQ_ARRAY_LEN(migrations);
    if (!dq_fs_exists(location))
        return 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open_v2(location, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        dq_err_set(err, DQ_EIO, 500, "catalog: cannot open %s: %s", location,
                   db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) != SQLITE_OK) {
        rc = 0; /* no schema_version table: no danqing schema yet */
        goto out;
    }
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int v = sqlite3_column_int(st, 0);
        for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++)
            if (migrations[i].version == v)
                (*n_applied)++;
    }
    if (r != SQLITE_DONE) {
        dq_err_set(err, DQ_EIO, 500, "catalog: %s: %s", location, sqlite3_errmsg(db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* store.h lock: an flock on "<database>-lock-<which>", which every process opening this
 * database file on this machine sees (SQLite is not shared across machines). */
static int store_lock(void *impl, int which, void **handle, dq_err_t *err)
{
    store_t *s = impl;
    const char *db = sqlite3_db_filename(s->w.db, "main");
    int shared = which & DQ_CATALOG_LOCK_SHARED, try = which & DQ_CATALOG_LOCK_TRY;
    which &= 0xff;
    char *p = dq_xasprintf("%s-lock-%d", db && *db ? db : "catalog", which);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        dq_err_set(err, DQ_EIO, 500, "cannot open %s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    free(p);
    while (flock(fd, (shared ? LOCK_SH : LOCK_EX) | (try ? LOCK_NB : 0)) < 0)
        if (errno != EINTR) {
            if (errno == EWOULDBLOCK)
                dq_err_set(err, DQ_EBUSY, 503, "catalog lock %d is taken", which);
            else
                dq_err_set(err, DQ_EIO, 500, "catalog lock: %s", strerror(errno));
            close(fd);
            return -1;
        }
    *handle = (void *)(intptr_t)(fd + 1); /* + 1: fd 0 is not NULL */
    return 0;
}

static void store_unlock(void *impl, void *handle)
{
    (void)impl;
    if (handle)
        close((int)(intptr_t)handle - 1); /* closing the last fd releases the flock */
}

static void store_close(void *impl)
{
    store_t *s = impl;
    if (!s)
        return;
    for (int i = 0; i < DQ_SQ_N_READERS; i++)
        conn_close(&s->rd[i]);
    conn_close(&s->w);
    dq_search_free(s->search);
    pthread_mutex_destroy(&s->wlock);
    dq_store_pool_destroy(&s->pool);
    free(s);
}

/* location: the path of the database file; its directory is created. */
static void *store_open(const char *location, int write_wait_ms, dq_err_t *err)
{
    store_t *s = dq_xcalloc(1, sizeof(*s));
    char *dir = dq_xstrdup(location), *slash = strrchr(dir, '/');
    pthread_mutex_init(&s->wlock, NULL);
    dq_store_pool_init(&s->pool, DQ_SQ_N_READERS);
    atomic_init(&s->write_wait_ms, write_wait_ms > 0 ? write_wait_ms : 1500);
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, strlen(dir) + 1, ".");
    if (dq_fs_mkdirs(dir, err) < 0)
        goto fail;
    /* The compiled Unihan tables are cached next to the database (milliseconds to load). */
    char *cache = dq_xasprintf("%s/search-tables.bin", dir);
    dq_search_config_t scfg = {.cache_path = cache};
    s->search = dq_search_new(&scfg, err);
    free(cache);
    if (!s->search || conn_open(s, &s->w, location, 0, err) < 0 || migrate(s, err) < 0)
        goto fail;
    txn_bind(s, &s->wtxn, &s->w, 1);
    if (dq_sqlite_relic_open(&s->wtxn, err) < 0)
        goto fail;
    /* From here on the writer's waits are bounded per transaction (store_begin). */
    sqlite3_busy_handler(s->w.db, writer_busy, s);
    for (int i = 0; i < DQ_SQ_N_READERS; i++)
        if (conn_open(s, &s->rd[i], location, 1, err) < 0)
            goto fail;
    free(dir);
    return s;
fail:
    free(dir);
    store_close(s);
    return NULL;
}

static void store_set_write_wait(void *impl, int ms)
{
    store_t *s = impl;
    atomic_store(&s->write_wait_ms, ms > 0 ? ms : 1500);
}

static int store_schema_version(void *impl, int *version, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (store_begin(impl, 0, &t, err) < 0)
        return -1;
    int rc = read_version(t, version, err);
    store_rollback(t);
    return rc;
}

/* ---------------------------------------------------------------- audit and change feed */

int dq_sq_audit(dq_store_txn_t *t, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO audit (who, at, action, object, detail)"
                                  " VALUES (?1, " DQ_SQ_NOW ", ?2, ?3, ?4)",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, who);
    dq_sq_bind_text(st, 2, action);
    dq_sq_bind_text(st, 3, object);
    sqlite3_bind_text(st, 4, detail && *detail ? detail : "{}", -1, SQLITE_STATIC);
    return dq_sq_step_done(t, st, err);
}

static int audit_max_seq(dq_store_txn_t *t, int64_t *seq, dq_err_t *err)
{
    /* max(seq) is one step down the rowid b-tree: O(1) however long the trail grows. */
    sqlite3_stmt *st = dq_sq_stmt(t, "SELECT coalesce(max(seq), 0) FROM audit", err);
    if (!st)
        return -1;
    int r = dq_sq_row(t, st, "audit max", err);
    if (r == 0)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == 0 ? 0 : -1;
}

static int audit_walk(dq_store_txn_t *t, sqlite3_stmt *st, dq_store_audit_cb cb, void *ud,
                      dq_err_t *err)
{
    int r;
    while ((r = dq_sq_row(t, st, "audit", err)) == 0) {
        dq_store_audit_row_t row = {
            .seq = sqlite3_column_int64(st, 0),
            .at = (const char *)sqlite3_column_text(st, 1),
            .who = (const char *)sqlite3_column_text(st, 2),
            .action = (const char *)sqlite3_column_text(st, 3),
            .object = (const char *)sqlite3_column_text(st, 4),
            .detail = (const char *)sqlite3_column_text(st, 5),
        };
        if (cb(ud, &row) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int audit_since(dq_store_txn_t *t, int64_t after_seq, int limit, dq_store_audit_cb cb,
                       void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT seq, at, who, action, object, detail FROM audit"
                                  " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int(st, 2, limit);
    return audit_walk(t, st, cb, ud, err);
}

static int audit_list(dq_store_txn_t *t, const char *object, int64_t before_seq, int limit,
                      dq_store_audit_cb cb, void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT seq, at, who, action, object, detail FROM audit"
                                  " WHERE (?1 IS NULL OR object = ?1) AND (?2 = 0 OR seq < ?2)"
                                  " ORDER BY seq DESC LIMIT ?3",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, object);
    sqlite3_bind_int64(st, 2, before_seq);
    sqlite3_bind_int(st, 3, limit);
    return audit_walk(t, st, cb, ud, err);
}

static const dq_store_audit_ops audit_ops = {
    .append = dq_sq_audit,
    .max_seq = audit_max_seq,
    .since = audit_since,
    .list = audit_list,
};

const dq_store_backend_t dq_store_sqlite = {
    .name = "sqlite",
    .open = store_open,
    .probe = store_probe,
    .lock = store_lock,
    .unlock = store_unlock,
    .close = store_close,
    .begin = store_begin,
    .commit = store_commit,
    .rollback = store_rollback,
    .set_write_wait = store_set_write_wait,
    .schema_version = store_schema_version,
    .images = &dq_sqlite_image_ops,
    .audit = &audit_ops,
    .accounts = &dq_sqlite_account_ops,
    .annos = &dq_sqlite_anno_ops,
    .tours = &dq_sqlite_tour_ops,
    .relics = &dq_sqlite_relic_ops,
    .spectral = &dq_sqlite_spectral_ops,
    .scenes = &dq_sqlite_scene_ops,
    .style = &dq_sqlite_style_ops,
    .lessons = &dq_sqlite_lesson_ops,
    .glossary = &dq_sqlite_gloss_ops,
    .network = &dq_sqlite_network_ops,
    .iiif_auth = &dq_sqlite_iiif_auth_ops,
    .copy = &dq_sqlite_copy_ops,
    .conditions = &dq_sqlite_condition_ops,
    .condjobs = &dq_sqlite_condjob_ops,
    .layer_files = &dq_sqlite_layerfile_ops,
    .journals = &dq_sqlite_journal_ops,
};
