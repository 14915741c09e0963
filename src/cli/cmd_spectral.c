/*
 * cmd_spectral.c: `danqing spectral add|list|pigments|reveal|decompose` (issue 11). add reads
 * a band stack, calibrates and registers it (spectral_stack.c), stores every band as a 16-bit
 * pyramid in the blob store (src/blob: the data directory, a mount or S3) under
 * layers/spectral/<capture>/<band>.tif and the record in the catalog, atomically: nothing is
 * in place until every band is written, and a failed catalog write puts the old files back
 * (see place_t). The analysis commands read the stored bands through the store, run
 * src/spectral/, write their outputs and record them as derived layers (also in the store,
 * layers/spectral/<capture>/<layer>.png); bands and layers carry their SHA-256 in the
 * catalog for `danqing fixity`. A progress bar goes to stderr on a terminal; --json prints one JSON
 * object on stdout. Nothing here computes science itself.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "cli/spectral_stack.h"
#include "image/image.h"
#include "spectral/spectral.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing spectral add RELIC_ID DIR [--id CAPTURE_ID] [--replace] [--json]\n"
            "       danqing spectral list RELIC_ID [--json]\n"
            "       danqing spectral pigments CAPTURE_ID --out MAP.png [--legend LEGEND.json]\n"
            "                        [--confidence CONF.png] [--min-cover F] [--pigments DIR] "
            "[--json]\n"
            "       danqing spectral reveal CAPTURE_ID --what underdrawing|retouching --out "
            "FILE.png [--json]\n"
            "       danqing spectral decompose CAPTURE_ID --method pca|mnf|ica\n"
            "                        [--region x,y,w,h] [--noise x,y,w,h] [--json]\n\n"
            "Multispectral captures of a relic (docs/spectral.md).\n"
            "  add        reads a band stack (bands.json, or files r450.png, uv365.tif, vis.tif,\n"
            "             ...), calibrates raw frames (dark, flat field from the white target or\n"
            "             a white frame, reflectance from the grey steps), registers every band\n"
            "             to the visible image at subpixel accuracy, stores each band as a 16-bit\n"
            "             pyramid and the capture in the catalog. Atomic: on any error nothing\n"
            "             changes. Default CAPTURE_ID: RELIC_ID-ms.\n"
            "  list       the relic's captures\n"
            "  pigments   per-pixel pigment map (8-bit labels), legend and confidence image, by\n"
            "             mixture models against the pigment library (MESMA with fully\n"
            "             constrained least squares)\n"
            "  reveal     brighter = more likely underdrawing (NIR) or retouching (UV\n"
            "             fluorescence against reflectance)\n"
            "  decompose  PCA, MNF (ordered by signal-to-noise, reported) or ICA components,\n"
            "             stored as derived layers\n\n"
            "  --json          one JSON object on stdout\n"
            "  --pigments DIR  the spectral library (hyppigments_selected_mean.csv); default\n"
            "                  data-src/pigments\n"
            "  --min-cover F   pigment fraction from which a pixel is labelled (default 0.3)\n");
}

/* ================================================================ small helpers */

typedef struct {
    int tty;
    const char *what;
} progress_t;

static void bar(progress_t *p, int pct, const char *label)
{
    if (!p->tty)
        return;
    char b[31];
    int full = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        b[i] = i < full ? '#' : '.';
    b[30] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %-12s", p->what, b, pct, label ? label : "");
    fflush(stderr);
}

static void bar_done(progress_t *p)
{
    if (p->tty)
        fprintf(stderr, "\r%70s\r", "");
}

static void bar_cb(void *ud, int pct)
{
    bar(ud, pct, NULL);
}

static int parse_rect(const char *s, dq_spec_rect_t *r)
{
    int n = 0;
    if (sscanf(s, "%d,%d,%d,%d%n", &r->x, &r->y, &r->w, &r->h, &n) != 4 || s[n] || r->x < 0 ||
        r->y < 0 || r->w < 1 || r->h < 1)
        return -1;
    return 0;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    if (s)
        puts(s);
    free(s);
}

/* Removes a directory of plain files (our capture directories are flat). */
static void rm_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = dq_xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ================================================================ add */

/* Bands of one `add` run on a few threads: each worker takes the next band, calibrates,
 * registers and encodes it (dq_stack_band reads the prepared stack only) and writes its
 * pyramid. The record's entries are kept per band index and assembled in order afterwards. */
typedef struct {
    const dq_stack_t *st;
    const char *tmp;
    int order[DQ_STACK_MAX]; /* band indices, largest first (the longest jobs start first) */
    pthread_mutex_t lock;    /* guards next, failed, err and the progress bar */
    int next, done, failed;
    dq_err_t err;
    progress_t *pg;
    dq_stack_band_t res[DQ_STACK_MAX]; /* per band: the record (no pixels: written as made) */
    char sha[DQ_STACK_MAX][65];        /* per band: SHA-256 of the file, for `danqing fixity` */
    uint64_t size[DQ_STACK_MAX];
} add_job_t;

/* Writes band i and hashes the file while it is still in the page cache, on this worker. */
static int add_band(add_job_t *j, int i, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s.tif", j->tmp, j->st->b[i].name);
    int sr = dq_stack_band_save(j->st, i, path, &j->res[i], err);
    if (sr == 0)
        sr = dq_sha256_file(path, j->sha[i], &j->size[i], err);
    free(path);
    return sr;
}

static void *add_worker(void *ud)
{
    add_job_t *j = ud;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int i = j->failed || j->next >= j->st->n ? -1 : j->order[j->next++];
        pthread_mutex_unlock(&j->lock);
        if (i < 0)
            break;
        dq_err_t e = {0};
        int r = add_band(j, i, &e);
        pthread_mutex_lock(&j->lock);
        if (r < 0 && !j->failed) {
            j->failed = 1;
            j->err = e;
        }
        j->done++;
        bar(j->pg, 100 * j->done / j->st->n, j->st->b[i].name);
        pthread_mutex_unlock(&j->lock);
    }
    dq_image_thread_done();
    return NULL;
}

/* How many bands at once: one per core, as long as the largest bands together stay within
 * ~640 MiB beside what the stack holds (the bound is 1 GiB peak RSS). */
static int add_workers(const dq_stack_t *st, const int *order)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t budget = (size_t)640 << 20, used = 0;
    int k = 0;
    while (k < st->n && k < (cpus > 0 ? cpus : 1) && k < 8) {
        size_t b = dq_stack_band_bytes(st, order[k]);
        if (k > 0 && used + b > budget)
            break;
        used += b;
        k++;
    }
    return k > 0 ? k : 1;
}

static int run_bands(add_job_t *j, dq_err_t *err)
{
    const dq_stack_t *st = j->st;
    size_t bytes[DQ_STACK_MAX];
    for (int i = 0; i < st->n; i++) {
        j->order[i] = i;
        bytes[i] = dq_stack_band_bytes(st, i);
    }
    for (int a = 1; a < st->n; a++) /* insertion sort, largest first */
        for (int b = a; b > 0 && bytes[j->order[b]] > bytes[j->order[b - 1]]; b--) {
            int t = j->order[b];
            j->order[b] = j->order[b - 1];
            j->order[b - 1] = t;
        }
    int k = add_workers(st, j->order);
    pthread_t th[8];
    int started = 0;
    pthread_mutex_init(&j->lock, NULL);
    for (int t = 0; t < k; t++)
        if (pthread_create(&th[t], NULL, add_worker, j) == 0)
            started++;
    if (started == 0)
        add_worker(j); /* no thread to be had: this one does it all */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j->lock);
    if (j->failed) {
        *err = j->err;
        return -1;
    }
    return 0;
}

/* How add puts a capture's files in place. A file store (the data directory, a mount) gets
 * the bands in a directory beside the capture's and swaps the directories by rename (the old
 * one is kept until the catalog row commits). An object store gets every band uploaded under
 * its key (each upload atomic); on --replace the old bands that a new one overwrites are first
 * copied aside, so that a failed upload or catalog write can put them back. */
typedef struct {
    dq_blob_t *store;
    const char *cap;
    char *tmp;   /* where the bands are written (owned) */
    char *final; /* file store: the capture's directory (owned); NULL for an object store */
    char *old;   /* file store: the previous directory while moved aside (owned) */
    int moved_old, moved_new;
    /* object store: */
    int n_put;                  /* bands uploaded so far (in record order) */
    char *backup[DQ_STACK_MAX]; /* per band: a local copy of the object it replaced, or NULL */
    int existed[DQ_STACK_MAX];  /* per band: its key held an object before */
    /* flocks held while this run lives (on tmp, and on old once moved aside): a later run or
     * fixity takes what is left by a run that died (dq_cli_spectral_recover) and never what
     * a live one holds */
    int tmp_fd, old_fd;
    int old_empty; /* old is the stand-in of a capture that had no directory */
    /* object store: the run's journal is a catalog row (every node sees it), named run
     * ("<cap>.<tmp's suffix>"), and its copies of replaced objects are store keys under
     * tmp/spectral/<run>/, so that another node can take back a run that died; held from the
     * journal to its removal: DQ_CATALOG_LOCK_SPECTRAL shared */
    dq_catalog_t *cat;
    char *run;
    dq_catalog_lock_t *lk;
    int journaled;
} place_t;

/* Live object-store adds hold DQ_CATALOG_LOCK_SPECTRAL shared; recovery takes it exclusively
 * (never waiting), and then every journal row of kind JOURNAL_KIND is a dead run's. */
#define JOURNAL_KIND "spectral-add"

/* The store key of a run's copy of band name's replaced object (new string). */
static char *backup_key(const char *run, const char *name)
{
    return dq_xasprintf("tmp/spectral/%s/old-%s.tif", run, name);
}

/* Opens dir and takes its flock (blocking: it is ours, new). The fd, or -1. */
static int lock_dir(const char *dir, int wait)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int place_begin(dq_config_t *cfg, place_t *pl, dq_err_t *err)
{
    char *key = dq_xasprintf("layers/spectral/%s", pl->cap);
    pl->final = dq_blob_file_path(pl->store, key);
    free(key);
    /* Beside the capture's directory for a file store (a rename must not cross file
     * systems), DATA/tmp for an object store. */
    char *parent = pl->final
                       ? dq_xasprintf("%.*s", (int)(strrchr(pl->final, '/') - pl->final), pl->final)
                       : dq_xasprintf("%s/tmp", cfg->data_dir);
    int rc = dq_fs_mkdirs(parent, err);
    if (rc == 0) {
        pl->tmp = pl->final ? dq_xasprintf("%s/.new-%s.XXXXXX", parent, pl->cap)
                            : dq_xasprintf("%s/spectral.XXXXXX", parent);
        if (!mkdtemp(pl->tmp)) {
            rc = dq_err_set(err, DQ_EIO, 0, "mkdtemp %s: %s", pl->tmp, strerror(errno));
            free(pl->tmp);
            pl->tmp = NULL;
        } else if ((pl->tmp_fd = lock_dir(pl->tmp, 1)) < 0) {
            rc = dq_err_set(err, DQ_EIO, 0, "cannot lock %s: %s", pl->tmp, strerror(errno));
        }
    }
    free(parent);
    return rc;
}

typedef struct {
    const dq_stack_t *st;
    const char *cap;
    dq_blob_t *store;
    json_t *keys; /* journal: collects the old capture's keys the new one does not have */
} stale_t;

static int is_new_band(const stale_t *s, const char *key)
{
    for (int i = 0; i < s->st->n; i++) {
        char *k = dq_stack_band_key(s->cap, s->st->b[i].name);
        int same = strcmp(k, key) == 0;
        free(k);
        if (same)
            return 1;
    }
    return 0;
}

static int collect_stale(void *ud, const char *key, const char *sha256, uint64_t size)
{
    (void)sha256;
    (void)size;
    stale_t *s = ud;
    if (!is_new_band(s, key))
        json_array_append_new(s->keys, json_string(key));
    return 0;
}

/* The object store's journal, a catalog row of kind JOURNAL_KIND (session 25; before, the file
 * DATA/tmp/spectral.XXXXXX/journal.json, which only the node that ran the add could read),
 * written before the first upload: each band's key, whether it held an object before and the
 * store key of its copy, the new record's SHA-256 per band (the catalog holding those means the
 * run committed), and the old capture's keys that go after the commit.
 * dq_cli_spectral_recover reads it. */
static int write_journal(place_t *pl, const dq_stack_t *st, const char *new_doc,
                         const dq_capture_t *existing, const char *old_layers, dq_err_t *err)
{
    json_t *put = json_array(), *nd = json_loads(new_doc, 0, NULL);
    for (int i = 0; i < st->n; i++) {
        char *key = dq_stack_band_key(pl->cap, st->b[i].name);
        char *bk = backup_key(pl->run, st->b[i].name);
        json_t *b = json_array_get(json_object_get(nd, "bands"), (size_t)i);
        json_array_append_new(put, json_pack("{s:s, s:b, s:s, s:O?}", "key", key, "existed",
                                             pl->existed[i], "backup_key", bk, "sha256",
                                             json_object_get(b, "sha256")));
        free(key);
        free(bk);
    }
    stale_t s = {st, pl->cap, pl->store, json_array()};
    if (existing->doc)
        dq_stack_each_file(pl->cap, existing->doc, old_layers, collect_stale, &s);
    json_t *j = json_pack("{s:s, s:o, s:o}", "capture", pl->cap, "put", put, "stale", s.keys);
    char *text = json_dumps(j, JSON_COMPACT);
    int rc = dq_catalog_journal_put(pl->cat, pl->run, JOURNAL_KIND, text, err);
    pl->journaled = rc == 0;
    free(text);
    json_decref(j);
    json_decref(nd);
    return rc;
}

/* Puts the written bands in place (before the catalog row). */
static int place_files(place_t *pl, const dq_stack_t *st, int have_old, const char *new_doc,
                       const dq_capture_t *existing, const char *old_layers, dq_err_t *err)
{
    if (pl->final) {
        if (dq_fs_exists(pl->final)) {
            pl->old = dq_xasprintf("%s.old", pl->tmp);
            if (rename(pl->final, pl->old) < 0)
                return dq_err_set(err, DQ_EIO, 0, "rename %s: %s", pl->final, strerror(errno));
            pl->moved_old = 1;
            /* locked before the new one leaves tmp's name: a run found dead later has one
             * of the two names unlocked and both of ours are never so */
            pl->old_fd = lock_dir(pl->old, 1);
        } else {
            /* a new capture: an empty stand-in for the old directory, locked the same way,
             * so that a run found dead after its rename is taken back too (recover_dirs) */
            pl->old = dq_xasprintf("%s.old", pl->tmp);
            if (mkdir(pl->old, 0755) < 0)
                return dq_err_set(err, DQ_EIO, 0, "mkdir %s: %s", pl->old, strerror(errno));
            pl->old_fd = lock_dir(pl->old, 1);
            pl->old_empty = 1;
        }
        if (rename(pl->tmp, pl->final) < 0)
            return dq_err_set(err, DQ_EIO, 0, "rename %s: %s", pl->tmp, strerror(errno));
        pl->moved_new = 1;
        return 0;
    }
    for (int i = 0; i < st->n; i++) {
        char *key = dq_stack_band_key(pl->cap, st->b[i].name);
        int ex = have_old ? dq_blob_exists(pl->store, key, err) : 0;
        free(key);
        if (ex < 0)
            return -1;
        pl->existed[i] = ex;
    }
    /* the run's name: its capture and its local work dir's unique suffix */
    pl->run = dq_xasprintf("%s.%s", pl->cap, strrchr(pl->tmp, '.') + 1);
    if (dq_catalog_lock(pl->cat, DQ_CATALOG_LOCK_SPECTRAL | DQ_CATALOG_LOCK_SHARED, &pl->lk,
                        err) < 0 ||
        write_journal(pl, st, new_doc, existing, old_layers, err) < 0)
        return -1;
    for (int i = 0; i < st->n; i++) {
        char *key = dq_stack_band_key(pl->cap, st->b[i].name);
        char *src = dq_xasprintf("%s/%s.tif", pl->tmp, st->b[i].name);
        int rc = 0;
        if (pl->existed[i]) {
            /* An old object that cannot be read back intact (a corrupt one, the very reason
             * to replace a capture) is replaced without a copy: undo leaves the new one. */
            pl->backup[i] = dq_xasprintf("%s/old-%s.tif", pl->tmp, st->b[i].name);
            dq_err_t e = {0};
            if (dq_blob_fetch_file(pl->store, key, pl->backup[i], &e) < 0) {
                free(pl->backup[i]);
                pl->backup[i] = NULL;
            } else {
                /* the copy where any node finds it: the journal names this key */
                char *bk = backup_key(pl->run, st->b[i].name);
                rc = dq_blob_put_file(pl->store, bk, pl->backup[i], err);
                free(bk);
            }
        }
        if (rc == 0)
            rc = dq_blob_put_file(pl->store, key, src, err);
        if (rc == 0)
            pl->n_put = i + 1;
        free(key);
        free(src);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* After a failure: the store as it was before place_files. */
static void place_undo(place_t *pl, const dq_stack_t *st)
{
    dq_err_t ignore = {0};
    if (pl->final) {
        if (pl->moved_new)
            rename(pl->final, pl->tmp);
        if (pl->moved_old)
            rename(pl->old, pl->final);
        else if (pl->old_empty)
            rmdir(pl->old);
        pl->moved_new = pl->moved_old = 0;
        return;
    }
    for (int i = 0; i < pl->n_put; i++) {
        char *key = dq_stack_band_key(pl->cap, st->b[i].name);
        if (pl->backup[i])
            dq_blob_put_file(pl->store, key, pl->backup[i], &ignore);
        else if (!pl->existed[i])
            dq_blob_remove(pl->store, key, &ignore);
        free(key);
    }
    pl->n_put = 0;
}

/* An object of the replaced capture that the new one does not have: removed after commit. */
static int remove_stale(void *ud, const char *key, const char *sha256, uint64_t size)
{
    (void)sha256;
    (void)size;
    const stale_t *s = ud;
    if (is_new_band(s, key))
        return 0;
    dq_err_t ignore = {0};
    dq_blob_remove(s->store, key, &ignore);
    return 0;
}

/* After the catalog row committed: the old files go. */
static void place_done(place_t *pl, const dq_stack_t *st, const dq_capture_t *existing,
                       const char *old_layers)
{
    if (pl->final) {
        if (pl->moved_old || pl->old_empty)
            rm_flat_dir(pl->old);
    } else if (existing->doc) {
        stale_t s = {st, pl->cap, pl->store, NULL};
        dq_stack_each_file(pl->cap, existing->doc, old_layers, remove_stale, &s);
    }
    pl->moved_old = pl->moved_new = 0;
    pl->n_put = 0;
}

/* The end of an object-store run, committed or undone: its copies and its journal go, then
 * its lock. */
static void drop_journal(dq_catalog_t *cat, dq_blob_t *store, const char *run, json_t *put)
{
    dq_err_t e = {0};
    json_t *x;
    size_t i;
    json_array_foreach(put, i, x)
    {
        const char *bk = json_string_value(json_object_get(x, "backup_key"));
        if (bk)
            dq_blob_remove(store, bk, &e);
    }
    dq_catalog_journal_remove(cat, run, &e);
}

static void place_free(place_t *pl, const dq_stack_t *st)
{
    if (pl->journaled) {
        json_t *put = json_array();
        for (int i = 0; i < st->n; i++) {
            char *bk = backup_key(pl->run, st->b[i].name);
            json_array_append_new(put, json_pack("{s:s}", "backup_key", bk));
            free(bk);
        }
        drop_journal(pl->cat, pl->store, pl->run, put);
        json_decref(put);
    }
    dq_catalog_unlock(pl->lk);
    free(pl->run);
    if (pl->tmp)
        rm_flat_dir(pl->tmp);
    if (pl->old_fd >= 0)
        close(pl->old_fd);
    if (pl->tmp_fd >= 0)
        close(pl->tmp_fd); /* the locks go last: nothing of ours is left to take */
    for (int i = 0; i < DQ_STACK_MAX; i++)
        free(pl->backup[i]);
    free(pl->tmp);
    free(pl->final);
    free(pl->old);
}

/* ---------------------------------------------------------------- what a dead run left */

/* 1 when the catalog's record of capture cap names exactly the band SHA-256s of put[] (the
 * journal's): the run committed. 0 when it does not (or there is no record), -1 on an error. */
static int journal_committed(dq_catalog_t *cat, const char *cap, json_t *put, dq_err_t *err)
{
    const dq_actor_t admin = {.user = "cli", .role = DQ_ROLE_ADMIN};
    dq_capture_t c = {0};
    dq_err_t e = {0};
    if (dq_catalog_capture_get(cat, cap, &admin, &c, &e) < 0) {
        if (e.code == DQ_ENOTFOUND)
            return 0;
        *err = e;
        return -1;
    }
    json_t *doc = json_loads(c.doc, 0, NULL), *bands = json_object_get(doc, "bands");
    int same = json_array_size(bands) == json_array_size(put);
    for (size_t i = 0; same && i < json_array_size(put); i++) {
        const char *a = json_string_value(json_object_get(json_array_get(bands, i), "sha256"));
        const char *b = json_string_value(json_object_get(json_array_get(put, i), "sha256"));
        same = a && b && strcmp(a, b) == 0;
    }
    json_decref(doc);
    dq_capture_free(&c);
    return same;
}

/* The SHA-256 the catalog's record of cap keeps for key, or NULL (new string). */
typedef struct {
    const char *key;
    char *sha;
} sha_of_t;

static int find_sha(void *ud, const char *key, const char *sha256, uint64_t size)
{
    (void)size;
    sha_of_t *f = ud;
    if (strcmp(key, f->key) != 0 || !sha256)
        return 0;
    f->sha = dq_xstrdup(sha256);
    return 1;
}

/* An object store run's journal j (a catalog row, or DATA/tmp/spectral.XXXXXX/journal.json
 * written before session 25, in dir): committed, the old capture's leftover keys go; not
 * committed, each band key is put back as the catalog still names it (its copy, when the copy's
 * SHA-256 is the record's: a store key of the journal's, or a file in dir for an old journal)
 * or removed when it held nothing before. tmp_dir holds a fetched copy for a moment. */
static int recover_journal(dq_catalog_t *cat, dq_blob_t *store, json_t *j, const char *dir,
                           const char *tmp_dir, dq_err_t *err)
{
    const dq_actor_t admin = {.user = "cli", .role = DQ_ROLE_ADMIN};
    const char *cap = json_string_value(json_object_get(j, "capture"));
    json_t *put = json_object_get(j, "put"), *x;
    size_t i;
    int rc = 0;
    if (!cap) /* died before its journal: nothing was uploaded */
        return 0;
    int done = journal_committed(cat, cap, put, err);
    dq_err_t e = {0};
    if (done < 0) {
        rc = -1;
    } else if (done) {
        json_array_foreach(json_object_get(j, "stale"), i, x)
            dq_blob_remove(store, json_string_value(x), &e);
    } else {
        dq_capture_t c = {0};
        dq_buf_t layers = {0};
        int have = dq_catalog_capture_get(cat, cap, &admin, &c, &e) == 0 &&
                   dq_catalog_capture_layers(cat, cap, &admin, &layers, &e) == 0;
        json_array_foreach(put, i, x)
        {
            const char *key = json_string_value(json_object_get(x, "key"));
            const char *bkey = json_string_value(json_object_get(x, "backup_key"));
            const char *bname = json_string_value(json_object_get(x, "backup"));
            char *bk = bkey ? dq_xasprintf("%s/recover-%zu.tif", tmp_dir, i)
                            : dq_xasprintf("%s/%s", dir ? dir : "", bname ? bname : "");
            sha_of_t f = {key, NULL};
            if (have)
                dq_stack_each_file(cap, c.doc, layers.data, find_sha, &f);
            char hex[65];
            uint64_t sz;
            if (!json_is_true(json_object_get(x, "existed"))) {
                if (!f.sha) /* a key the catalog does not name: this run's alone */
                    dq_blob_remove(store, key, &e);
            } else if (f.sha && (bkey ? dq_blob_fetch_file(store, bkey, bk, &e) == 0
                                      : dq_fs_exists(bk)) &&
                       dq_sha256_file(bk, hex, &sz, &e) == 0 && strcmp(hex, f.sha) == 0) {
                char have_hex[65] = "";
                if (dq_blob_sha256(store, key, have_hex, NULL, &e) < 0 ||
                    strcmp(have_hex, hex) != 0)
                    if (dq_blob_put_file(store, key, bk, err) < 0)
                        rc = -1;
            }
            if (bkey)
                unlink(bk);
            free(f.sha);
            free(bk);
        }
        dq_capture_free(&c);
        dq_buf_free(&layers);
    }
    return rc;
}

/* A journal row, copied out of the catalog's read transaction. */
typedef struct {
    char **runs, **docs;
    size_t n;
} rows_t;

static int collect_journal(void *ud, const dq_journal_row_t *row)
{
    rows_t *r = ud;
    r->runs = dq_xrealloc(r->runs, (r->n + 1) * sizeof(*r->runs));
    r->docs = dq_xrealloc(r->docs, (r->n + 1) * sizeof(*r->docs));
    r->runs[r->n] = dq_xstrdup(row->run);
    r->docs[r->n++] = dq_xstrdup(row->doc);
    return 0;
}

/* The catalog's journals of object-store adds, when no add anywhere is running (the lock
 * taken exclusively without waiting; otherwise nothing is done now: a later add or fixity
 * does it). Each is a dead run's: taken back, its copies and its row removed. */
static int recover_catalog_journals(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store,
                                    int *n, dq_err_t *err)
{
    dq_catalog_lock_t *lk = NULL;
    dq_err_t busy = {0};
    if (dq_catalog_lock(cat, DQ_CATALOG_LOCK_SPECTRAL | DQ_CATALOG_LOCK_TRY, &lk, &busy) < 0) {
        if (busy.code == DQ_EBUSY)
            return 0;
        *err = busy;
        return -1;
    }
    rows_t r = {0};
    int rc = dq_catalog_journal_list(cat, JOURNAL_KIND, collect_journal, &r, err);
    char *tmp_dir = dq_xasprintf("%s/tmp", cfg->data_dir);
    if (rc == 0)
        rc = dq_fs_mkdirs(tmp_dir, err);
    for (size_t i = 0; i < r.n; i++) {
        json_t *j = json_loads(r.docs[i], 0, NULL);
        if (rc == 0 && recover_journal(cat, store, j, NULL, tmp_dir, err) < 0)
            rc = -1;
        if (rc == 0) {
            drop_journal(cat, store, r.runs[i], json_object_get(j, "put"));
            (*n)++;
        }
        json_decref(j);
        free(r.runs[i]);
        free(r.docs[i]);
    }
    free(r.runs);
    free(r.docs);
    free(tmp_dir);
    dq_catalog_unlock(lk);
    return rc;
}

/* A file store run: layers/spectral/.new-<cap>.XXXXXX (its bands, not yet in place) and/or
 * .new-<cap>.XXXXXX.old (the replaced capture's directory, moved aside). Committed (the
 * catalog names the bands in the capture's directory) the old one goes; not, the capture's
 * directory is the old one again. 1 when it took something back, 0 when nothing (or a live
 * run holds it), -1 on an error. */
static int recover_dirs(dq_catalog_t *cat, const char *root, const char *name, dq_err_t *err)
{
    const dq_actor_t admin = {.user = "cli", .role = DQ_ROLE_ADMIN};
    size_t nl = strlen(name);
    int is_old = nl > 4 && strcmp(name + nl - 4, ".old") == 0;
    char *base = dq_xasprintf("%s/%.*s", root, (int)(is_old ? nl - 4 : nl), name);
    char *old = dq_xasprintf("%s.old", base);
    /* the capture id: ".new-<cap>.XXXXXX" */
    const char *c0 = strrchr(base, '/') + 6, *c1 = strrchr(c0, '.');
    char *cap = c1 ? dq_xstrndup(c0, (size_t)(c1 - c0)) : NULL;
    char *final = cap ? dq_xasprintf("%s/%s", root, cap) : NULL;
    int rc = 0;
    if (!cap || !dq_capture_id_valid(cap, err)) {
        dq_err_clear(err); /* not a name of ours */
        goto out;
    }
    int fa = lock_dir(base, 0), fb = lock_dir(old, 0);
    int busy = (dq_fs_exists(base) && fa < 0) || (dq_fs_exists(old) && fb < 0);
    if (!busy && (dq_fs_exists(base) || dq_fs_exists(old)))
        rc = 1;
    if (!busy) {
        if (dq_fs_exists(base)) { /* the new bands never reached the capture's place */
            rm_flat_dir(base);
            if (dq_fs_exists(old) && !dq_fs_exists(final) && rename(old, final) < 0)
                rc = dq_err_set(err, DQ_EIO, 0, "rename %s: %s", old, strerror(errno));
            else if (dq_fs_exists(old)) /* the stand-in beside a directory that stayed */
                rmdir(old);
            rmdir(final); /* only when it is an empty stand-in */
        } else if (dq_fs_exists(old)) { /* the new bands in place: did the row commit? */
            dq_capture_t c = {0};
            dq_err_t e = {0};
            int committed = 0;
            if (dq_catalog_capture_get(cat, cap, &admin, &c, &e) == 0) {
                json_t *doc = json_loads(c.doc, 0, NULL);
                json_t *b0 = json_array_get(json_object_get(doc, "bands"), 0);
                const char *want = json_string_value(json_object_get(b0, "sha256"));
                const char *bn = json_string_value(json_object_get(b0, "name"));
                char *f = bn ? dq_xasprintf("%s/%s.tif", final, bn) : NULL;
                char hex[65];
                uint64_t sz;
                committed = want && f && dq_sha256_file(f, hex, &sz, &e) == 0 &&
                            strcmp(hex, want) == 0;
                free(f);
                json_decref(doc);
                dq_capture_free(&c);
            }
            if (committed) {
                rm_flat_dir(old);
            } else {
                rm_flat_dir(final);
                if (rename(old, final) < 0)
                    rc = dq_err_set(err, DQ_EIO, 0, "rename %s: %s", old, strerror(errno));
                rmdir(final); /* the stand-in of a capture that had none: gone */
            }
        }
    }
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
out:
    free(cap);
    free(final);
    free(base);
    free(old);
    return rc;
}

int dq_cli_spectral_recover(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, int *n,
                            dq_err_t *err)
{
    char *root = dq_blob_file_path(store, "layers/spectral");
    char *dir = root ? root : dq_xasprintf("%s/tmp", cfg->data_dir);
    const char *prefix = root ? ".new-" : "spectral.";
    int rc = 0;
    *n = 0;
    DIR *d = opendir(dir); /* none: no capture was ever added from here */
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            names = dq_xrealloc(names, (nn + 1) * sizeof(*names));
            names[nn++] = dq_xstrdup(e->d_name);
        }
    if (d)
        closedir(d);
    for (size_t i = 0; i < nn; i++) {
        char *p = dq_xasprintf("%s/%s", dir, names[i]);
        if (root) {
            int r = dq_fs_exists(p) ? recover_dirs(cat, dir, names[i], err) : 0;
            if (r < 0)
                rc = -1;
            *n += r > 0;
        } else {
            int fd = lock_dir(p, 0); /* held by a live run: not ours to take */
            if (fd >= 0) {
                /* a journal file is an add from before session 25; today's runs keep theirs in
                 * the catalog (below) and leave only their work files here */
                char *jp = dq_xasprintf("%s/journal.json", p);
                json_t *j = json_load_file(jp, 0, NULL);
                free(jp);
                if (j && recover_journal(cat, store, j, p, dir, err) < 0) {
                    rc = -1;
                } else {
                    rm_flat_dir(p);
                    *n += j != NULL;
                }
                json_decref(j);
                close(fd);
            }
        }
        free(p);
        free(names[i]);
    }
    free(names);
    free(dir);
    if (rc == 0 && !root && recover_catalog_journals(cfg, cat, store, n, err) < 0)
        rc = -1;
    return rc;
}

static int cmd_add(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const char *relic,
                   const char *dir, const char *cap_id, int replace, int json_out, dq_err_t *err)
{
    const dq_actor_t cli = {.user = "cli", .role = DQ_ROLE_ADMIN};
    dq_stack_t st;
    place_t pl = {.store = store, .cat = cat, .cap = cap_id, .tmp_fd = -1, .old_fd = -1};
    json_t *bands = json_array(), *rec = NULL;
    dq_buf_t lb = {0}, old_layers = {0};
    dq_capture_t existing = {0}, stored = {0};
    progress_t pg = {isatty(STDERR_FILENO), "add"};
    int rc = -1, w = 0, h = 0, have_old = 0;
    int64_t t0 = dq_now_us();
    memset(&st, 0, sizeof(st));
    if (!dq_capture_id_valid(cap_id, err))
        goto out;
    /* Cheap checks before any pixel: the relic exists, the capture does not (or --replace). */
    if (dq_catalog_capture_list(cat, relic, &cli, &lb, err) < 0)
        goto out;
    dq_err_t e2 = {0};
    if (dq_catalog_capture_get(cat, cap_id, &cli, &existing, &e2) == 0) {
        if (!replace) {
            dq_err_set(err, DQ_EEXIST, 409, "capture %s exists (use --replace)", cap_id);
            goto out;
        }
        have_old = 1;
        if (dq_catalog_capture_layers(cat, cap_id, &cli, &old_layers, err) < 0)
            goto out;
    }
    if (dq_stack_open(dir, cfg->max_pixels, &st, err) < 0 || dq_stack_prepare(&st, err) < 0 ||
        place_begin(cfg, &pl, err) < 0)
        goto out;
    add_job_t *job = dq_xcalloc(1, sizeof(*job));
    job->st = &st;
    job->tmp = pl.tmp;
    job->pg = &pg;
    bar(&pg, 0, "bands");
    int br = run_bands(job, err);
    for (int i = 0; br == 0 && i < st.n; i++) {
        const dq_stack_spec_t *s = &st.b[i];
        const dq_stack_band_t *b = &job->res[i];
        w = b->w;
        h = b->h;
        json_t *cal = json_array();
        for (int c = 0; c < b->channels; c++)
            json_array_append_new(cal, json_pack("{s:f, s:f, s:f, s:f, s:f, s:i}", "flat_rms",
                                                 b->cal[c].flat_rms, "grey_rms", b->cal[c].grey_rms,
                                                 "gain", b->cal[c].gain, "offset", b->cal[c].offset,
                                                 "falloff", b->cal[c].falloff, "grey_steps",
                                                 b->cal[c].n_steps));
        json_t *e = json_pack("{s:s, s:s, s:s, s:i, s:i, s:[f,f], s:f, s:o, s:b, s:s, s:I}", "name",
                              s->name, "kind", s->kind, "file", s->file, "channels", b->channels,
                              "input_bits", b->bits, "shift_px", b->dx, b->dy, "registration_peak",
                              b->peak, "calibration", cal, "reference", i == st.reference, "sha256",
                              job->sha[i], "size", (json_int_t)job->size[i]);
        if (strcmp(s->kind, "uv_fluorescence") == 0)
            json_object_set_new(e, "excitation_nm", json_real(s->nm));
        else if (strcmp(s->kind, "reflectance") == 0)
            json_object_set_new(e, "nm", json_real(s->nm));
        json_array_append_new(bands, e);
    }
    free(job);
    if (br < 0)
        goto out;
    bar(&pg, 100, "commit");
    rec = json_pack("{s:O, s:s, s:b, s:f, s:s}", "bands", bands, "source", dir, "raw", st.raw,
                    "scale", DQ_STACK_SCALE, "encoding",
                    "uint16 = round(reflectance * scale); colour bands linear RGB");
    char *doc = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(10));
    /* The files in place, then the catalog row; the files are undone when the row fails. */
    if (place_files(&pl, &st, have_old, doc, &existing, old_layers.data, err) < 0) {
        free(doc);
        goto out;
    }
    int pr2 = dq_catalog_capture_put(cat, relic, cap_id, w, h, doc, replace, &cli, &stored, err);
    free(doc);
    if (pr2 < 0)
        goto out;
    place_done(&pl, &st, &existing, old_layers.data);
    bar_done(&pg);
    double secs = (double)(dq_now_us() - t0) / 1e6;
    if (json_out) {
        json_t *o =
            json_pack("{s:s, s:s, s:i, s:i, s:O, s:f}", "id", stored.id, "relic", stored.relic_id,
                      "width", w, "height", h, "bands", bands, "seconds", secs);
        print_json(o);
        json_decref(o);
    } else {
        printf("capture %s of %s: %d bands, %dx%d, %.2f s\n", stored.id, stored.relic_id, st.n, w,
               h, secs);
        for (size_t i = 0; i < json_array_size(bands); i++) {
            json_t *e = json_array_get(bands, i);
            json_t *sh = json_object_get(e, "shift_px");
            json_t *c0 = json_array_get(json_object_get(e, "calibration"), 0);
            printf("  %-8s %-16s shift %+6.2f %+6.2f px  grey rms %.4f  falloff %.0f%%\n",
                   json_string_value(json_object_get(e, "name")),
                   json_string_value(json_object_get(e, "kind")),
                   json_real_value(json_array_get(sh, 0)), json_real_value(json_array_get(sh, 1)),
                   json_real_value(json_object_get(c0, "grey_rms")),
                   100 * json_real_value(json_object_get(c0, "falloff")));
        }
    }
    rc = 0;
out:
    bar_done(&pg);
    if (rc < 0)
        place_undo(&pl, &st);
    place_free(&pl, &st);
    json_decref(bands);
    json_decref(rec);
    dq_buf_free(&lb);
    dq_buf_free(&old_layers);
    dq_capture_free(&existing);
    dq_capture_free(&stored);
    dq_stack_close(&st);
    return rc;
}

/* ================================================================ reading a stored capture */

typedef struct {
    dq_capture_t cap;
    json_t *doc;
    int n_refl;
    const char *refl[DQ_STACK_MAX];
    double nm[DQ_STACK_MAX];
    double dx[DQ_STACK_MAX], dy[DQ_STACK_MAX]; /* the reflectance bands' registration shifts */
    const char *uv; /* the UV fluorescence band or NULL */
    float **planes; /* n_refl reflectance planes, then uv if any */
    int w, h;
} stored_t;

static void stored_free(stored_t *s)
{
    if (s->planes)
        for (int i = 0; i < s->n_refl + (s->uv ? 1 : 0); i++)
            free(s->planes[i]);
    free(s->planes);
    json_decref(s->doc);
    dq_capture_free(&s->cap);
}

/* Loads the capture's reflectance bands inside the library's range (405..996 nm), and the UV
 * band when with_uv. */
static int stored_load(dq_blob_t *store, dq_catalog_t *cat, const char *id, int with_uv,
                       stored_t *s, dq_err_t *err)
{
    const dq_actor_t cli = {.user = "cli", .role = DQ_ROLE_ADMIN};
    memset(s, 0, sizeof(*s));
    if (dq_catalog_capture_get(cat, id, &cli, &s->cap, err) < 0)
        return -1;
    s->doc = json_loads(s->cap.doc, 0, NULL);
    json_t *bands = json_object_get(s->doc, "bands");
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *e = json_array_get(bands, i);
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!kind || !name)
            continue;
        if (strcmp(kind, "reflectance") == 0) {
            double nm = json_number_value(json_object_get(e, "nm"));
            if (nm >= 405 && nm <= 996 && s->n_refl < DQ_SPEC_MAX_BANDS) {
                json_t *sh = json_object_get(e, "shift_px");
                s->dx[s->n_refl] = json_number_value(json_array_get(sh, 0));
                s->dy[s->n_refl] = json_number_value(json_array_get(sh, 1));
                s->nm[s->n_refl] = nm;
                s->refl[s->n_refl++] = name;
            }
        } else if (strcmp(kind, "uv_fluorescence") == 0 && !s->uv) {
            s->uv = name;
        }
    }
    if (s->n_refl < 2)
        return dq_err_set(err, DQ_EINVAL, 0,
                          "capture %s has %d reflectance bands in 405..996 nm (2 needed)", id,
                          s->n_refl);
    if (!with_uv)
        s->uv = NULL;
    const char *names[DQ_STACK_MAX + 1];
    int n = 0;
    for (int i = 0; i < s->n_refl; i++)
        names[n++] = s->refl[i];
    if (s->uv)
        names[n++] = s->uv;
    return dq_stack_load_stored(store, id, names, n, &s->planes, &s->w, &s->h, err);
}

static int load_lib(const char *pig_dir, const stored_t *s, dq_spec_lib_t *lib, dq_err_t *err)
{
    char def[PATH_MAX];
    if (!pig_dir) {
        dq_cli_default_pigments(def, sizeof(def));
        pig_dir = def;
    }
    return dq_spec_lib_load(lib, pig_dir, s->nm, s->n_refl, err);
}

/* Records a derived layer: its file goes into the store under the capture's key
 * (layers/spectral/<cap>/<name>.png) through a copy in DATA/tmp, with its SHA-256 and size in
 * the layer's doc (what `danqing fixity` checks), then the catalog row. */
static int record_layer(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const char *cap,
                        const char *name, const char *kind, const char *src_file, json_t *doc,
                        dq_err_t *err)
{
    const dq_actor_t cli = {.user = "cli", .role = DQ_ROLE_ADMIN};
    char *fn = dq_xasprintf("%s.png", name);
    char *key = dq_stack_key(cap, fn);
    char *tdir = dq_xasprintf("%s/tmp", cfg->data_dir);
    char *tmpf = dq_xasprintf("%s/layer-%d-%s", tdir, (int)getpid(), fn);
    char hex[65];
    uint64_t size = 0;
    int rc = -1;
    if (dq_fs_mkdirs(tdir, err) < 0 || dq_fs_copy(src_file, tmpf, err) < 0 ||
        dq_sha256_file(tmpf, hex, &size, err) < 0 || dq_blob_put_file(store, key, tmpf, err) < 0)
        goto out;
    json_object_set_new(doc, "file", json_string(fn));
    json_object_set_new(doc, "sha256", json_string(hex));
    json_object_set_new(doc, "size", json_integer((json_int_t)size));
    char *d = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
    rc = dq_catalog_capture_layer_put(cat, cap, name, kind, d, &cli, err);
    free(d);
out:
    unlink(tmpf); /* still there when the store copied it, or on failure */
    free(fn);
    free(key);
    free(tdir);
    free(tmpf);
    return rc;
}

/* ================================================================ pigments */

static int cmd_pigments(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const char *id,
                        const char *out, const char *legend, const char *conf_out,
                        const char *pig_dir, double min_cover, int json_out, dq_err_t *err)
{
    stored_t s;
    dq_spec_lib_t lib = {0};
    dq_spec_map_t map = {0};
    progress_t pg = {isatty(STDERR_FILENO), "pigments"};
    json_t *labels = json_array(), *leg = NULL;
    char *conf_path = NULL;
    int rc = -1;
    if (stored_load(store, cat, id, 0, &s, err) < 0 || load_lib(pig_dir, &s, &lib, err) < 0)
        goto out;
    /* Bands that registration resampled by different sub-pixel shifts: one resolution first
     * (docs/spectral.md "Pigments", raw captures). */
    double psf = dq_spec_resampled_sigma(s.dx, s.dy, s.n_refl);
    dq_spec_psf_match(s.planes, s.n_refl, s.w, s.h, psf);
    if (dq_spec_pigments((const float *const *)s.planes, s.w, s.h, &lib, min_cover, bar_cb, &pg,
                         &map, err) < 0)
        goto out;
    bar_done(&pg);
    size_t npx = (size_t)s.w * s.h;
    size_t *count = dq_xcalloc(256, sizeof(size_t));
    for (size_t i = 0; i < npx; i++)
        count[map.label[i]]++;
    for (int v = 0; v < 256; v++) {
        if (!count[v])
            continue;
        char fam[DQ_SPEC_NAME];
        const char *name = v == DQ_SPEC_LABEL_SUPPORT ? "support"
                           : v == DQ_SPEC_LABEL_INK   ? "carbon_ink"
                                                      : lib.names[v - DQ_SPEC_LABEL_PIGMENT0];
        dq_spec_family(name, fam, sizeof(fam));
        json_array_append_new(labels, json_pack("{s:i, s:s, s:s, s:I, s:f}", "value", v, "name",
                                                name, "family", fam, "pixels", (json_int_t)count[v],
                                                "fraction", (double)count[v] / npx));
    }
    free(count);
    leg = json_pack(
        "{s:O, s:s, s:s, s:f, s:[f,f,f,f,f,f,f,f,f,f,f,f,f,f,f,f]}", "labels", labels, "method",
        "MESMA (Roberts et al. 1998): per pixel the best of the fully constrained "
        "models support + carbon ink + one library pigment (Heinz and Chang 2001), "
        "or + two pigments of the scene (pigment over pigment)",
        "library", "Hyperspectral Pigments Dataset (H. Deborah, CC BY 4.0)", "min_cover", min_cover,
        "support_endmember", map.support[0], map.support[1], map.support[2], map.support[3],
        map.support[4], map.support[5], map.support[6], map.support[7], map.support[8],
        map.support[9], map.support[10], map.support[11], map.support[12], map.support[13],
        map.support[14], map.support[15]);
    json_t *sup = json_array();
    for (int b = 0; b < lib.n_bands; b++)
        json_array_append_new(sup, json_real(map.support[b]));
    json_object_set_new(leg, "support_endmember", sup);
    json_object_set_new(leg, "support_lead_white_angle", json_real(map.support_lw_angle));
    json_object_set_new(leg, "support_mode_angle", json_real(map.support_mode_angle));
    json_object_set_new(leg, "support_moved", json_boolean(map.support_moved));
    json_object_set_new(leg, "psf_sigma_px", json_real(psf));
    if (dq_image_save_png8(out, map.label, s.w, s.h, 1, err) < 0)
        goto out;
    if (conf_out) {
        conf_path = dq_xstrdup(conf_out);
    } else {
        const char *dot = strrchr(out, '.');
        size_t stem = dot ? (size_t)(dot - out) : strlen(out);
        conf_path = dq_xasprintf("%.*s_confidence.png", (int)stem, out);
    }
    if (dq_image_save_png8(conf_path, map.conf, s.w, s.h, 1, err) < 0)
        goto out;
    if (legend) {
        char *t = json_dumps(leg, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
        size_t tl = strlen(t);
        int wr = dq_fs_write_atomic(legend, ".", t, tl, err);
        free(t);
        if (wr < 0)
            goto out;
    }
    json_t *ldoc = json_deep_copy(leg);
    int lr = record_layer(cfg, cat, store, id, "pigments", "pigments", out, ldoc, err);
    json_decref(ldoc);
    if (lr < 0)
        goto out;
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "capture", id, "map", out, "confidence",
                              conf_path, "legend", leg);
        print_json(o);
        json_decref(o);
    } else {
        printf("pigment map of %s: %dx%d -> %s (confidence %s)\n", id, s.w, s.h, out, conf_path);
        for (size_t i = 0; i < json_array_size(labels); i++) {
            json_t *e = json_array_get(labels, i);
            printf("  %3d %-32s %6.2f%%\n", (int)json_integer_value(json_object_get(e, "value")),
                   json_string_value(json_object_get(e, "name")),
                   100 * json_real_value(json_object_get(e, "fraction")));
        }
    }
    rc = 0;
out:
    bar_done(&pg);
    free(conf_path);
    json_decref(labels);
    json_decref(leg);
    dq_spec_map_free(&map);
    dq_spec_lib_free(&lib);
    stored_free(&s);
    return rc;
}

/* ================================================================ reveal */

static int cmd_reveal(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const char *id,
                      const char *what, const char *out, const char *pig_dir, int json_out,
                      dq_err_t *err)
{
    stored_t s;
    dq_spec_lib_t lib = {0};
    dq_spec_map_t map = {0};
    progress_t pg = {isatty(STDERR_FILENO), "reveal"};
    float *score = NULL;
    uint8_t *u8 = NULL;
    int rc = -1, retouch = strcmp(what, "retouching") == 0;
    if (!retouch && strcmp(what, "underdrawing") != 0)
        return dq_err_set(err, DQ_EINVAL, 0, "--what must be underdrawing or retouching");
    if (stored_load(store, cat, id, retouch, &s, err) < 0 || load_lib(pig_dir, &s, &lib, err) < 0)
        goto out;
    if (retouch && !s.uv) {
        dq_err_set(err, DQ_EINVAL, 0, "capture %s has no UV fluorescence band", id);
        goto out;
    }
    if (dq_spec_pigments((const float *const *)s.planes, s.w, s.h, &lib, 0.3, bar_cb, &pg, &map,
                         err) < 0)
        goto out;
    bar_done(&pg);
    size_t npx = (size_t)s.w * s.h;
    score = dq_xmalloc(npx * sizeof(float));
    int r = retouch ? dq_spec_reveal_retouching((const float *const *)s.planes, s.n_refl, s.w, s.h,
                                                s.planes[s.n_refl], &map, score, err)
                    : dq_spec_reveal_underdrawing((const float *const *)s.planes, s.w, s.h, &lib,
                                                  &map, score, err);
    if (r < 0)
        goto out;
    u8 = dq_xmalloc(npx);
    for (size_t i = 0; i < npx; i++)
        u8[i] = (uint8_t)lround(255.0 * (score[i] < 0 ? 0 : score[i] > 1 ? 1 : score[i]));
    if (dq_image_save_png8(out, u8, s.w, s.h, 1, err) < 0)
        goto out;
    json_t *doc = json_pack("{s:s, s:s}", "what", what, "method",
                            retouch ? "UV fluorescence deficit against a least-squares prediction "
                                      "from reflectance and ink/pigment fractions"
                                    : "NIR deficit against the visible-band mixture model");
    int lr =
        record_layer(cfg, cat, store, id, retouch ? "reveal-retouching" : "reveal-underdrawing",
                     "reveal", out, doc, err);
    json_decref(doc);
    if (lr < 0)
        goto out;
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i}", "capture", id, "what", what, "out", out,
                              "width", s.w, "height", s.h);
        print_json(o);
        json_decref(o);
    } else {
        printf("%s of %s -> %s (%dx%d; brighter = more likely)\n", what, id, out, s.w, s.h);
    }
    rc = 0;
out:
    bar_done(&pg);
    free(score);
    free(u8);
    dq_spec_map_free(&map);
    dq_spec_lib_free(&lib);
    stored_free(&s);
    return rc;
}

/* ================================================================ decompose */

static int cmd_decompose(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const char *id,
                         const char *method, dq_spec_rect_t region, dq_spec_rect_t noise,
                         int json_out, dq_err_t *err)
{
    stored_t s;
    dq_spec_decomp_t d = {0};
    int m = strcmp(method, "pca") == 0   ? DQ_SPEC_PCA
            : strcmp(method, "mnf") == 0 ? DQ_SPEC_MNF
            : strcmp(method, "ica") == 0 ? DQ_SPEC_ICA
                                         : -1;
    float *comp = NULL;
    uint8_t *u8 = NULL;
    char *tmpf = NULL;
    json_t *comps = json_array();
    int rc = -1;
    progress_t pg = {isatty(STDERR_FILENO), method};
    if (m < 0)
        return json_decref(comps),
               dq_err_set(err, DQ_EINVAL, 0, "--method must be pca, mnf or ica");
    if (stored_load(store, cat, id, 1, &s, err) < 0)
        goto out;
    int n_in = s.n_refl + (s.uv ? 1 : 0);
    bar(&pg, 5, "fit");
    if (dq_spec_decompose((const float *const *)s.planes, n_in, s.w, s.h, m, region, noise, &d,
                          err) < 0)
        goto out;
    size_t npx = (size_t)s.w * s.h;
    comp = dq_xmalloc(npx * sizeof(float));
    u8 = dq_xmalloc(npx);
    tmpf = dq_xasprintf("%s/tmp/spectral-%d.png", cfg->data_dir, (int)getpid());
    char *tdir = dq_xasprintf("%s/tmp", cfg->data_dir);
    int mk = dq_fs_mkdirs(tdir, err);
    free(tdir);
    if (mk < 0)
        goto out;
    json_t *inputs = json_array();
    for (int i = 0; i < s.n_refl; i++)
        json_array_append_new(inputs, json_string(s.refl[i]));
    if (s.uv)
        json_array_append_new(inputs, json_string(s.uv));
    for (int k = 0; k < d.n_comp; k++) {
        bar(&pg, 10 + 90 * k / d.n_comp, "components");
        dq_spec_component(&d, (const float *const *)s.planes, s.w, s.h, k, comp);
        dq_spec_stretch(comp, npx, 1, 99, u8);
        if (dq_image_save_png8(tmpf, u8, s.w, s.h, 1, err) < 0) {
            json_decref(inputs);
            goto out;
        }
        json_t *vec = json_array();
        for (int j = 0; j < d.n_in; j++)
            json_array_append_new(vec, json_real(d.vectors[(size_t)k * d.n_in + j]));
        char name[32];
        snprintf(name, sizeof(name), "%s-%d", method, k + 1);
        json_t *c = json_pack("{s:s, s:i, s:f, s:o, s:O}", "name", name, "order", k + 1,
                              m == DQ_SPEC_MNF   ? "snr"
                              : m == DQ_SPEC_PCA ? "eigenvalue"
                                                 : "abs_excess_kurtosis",
                              d.values[k], "vector", vec, "inputs", inputs);
        json_t *doc = json_deep_copy(c);
        json_object_set_new(doc, "method", json_string(method));
        int lr = record_layer(cfg, cat, store, id, name, "component", tmpf, doc, err);
        json_decref(doc);
        if (lr < 0) {
            json_decref(c);
            json_decref(inputs);
            goto out;
        }
        json_array_append_new(comps, c);
    }
    bar_done(&pg);
    json_t *mean = json_array();
    for (int j = 0; j < d.n_in; j++)
        json_array_append_new(mean, json_real(d.mean[j]));
    if (json_out) {
        json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:O, s:[i,i,i,i], s:[i,i,i,i]}", "capture", id,
                              "method", method, "components", comps, "mean", mean, "inputs", inputs,
                              "region", region.x, region.y, region.w, region.h, "noise", noise.x,
                              noise.y, noise.w, noise.h);
        comps = NULL;
        print_json(o);
        json_decref(o);
    } else {
        json_decref(mean);
        printf("%s of %s (%d inputs), components in order:\n", method, id, d.n_in);
        for (size_t k = 0; k < json_array_size(comps); k++) {
            json_t *c = json_array_get(comps, k);
            printf("  %-8s %s %.6g\n", json_string_value(json_object_get(c, "name")),
                   m == DQ_SPEC_MNF   ? "SNR"
                   : m == DQ_SPEC_PCA ? "eigenvalue"
                                      : "|kurtosis|",
                   d.values[k]);
        }
    }
    json_decref(inputs);
    rc = 0;
out:
    bar_done(&pg);
    if (tmpf)
        unlink(tmpf);
    free(tmpf);
    free(comp);
    free(u8);
    json_decref(comps);
    dq_spec_decomp_free(&d);
    stored_free(&s);
    return rc;
}

/* ================================================================ list */

static int cmd_list(dq_catalog_t *cat, const char *relic, int json_out, dq_err_t *err)
{
    const dq_actor_t cli = {.user = "cli", .role = DQ_ROLE_ADMIN};
    dq_buf_t b = {0};
    if (dq_catalog_capture_list(cat, relic, &cli, &b, err) < 0) {
        dq_buf_free(&b);
        return -1;
    }
    if (json_out) {
        printf("%.*s\n", (int)b.len, b.data);
    } else {
        json_t *a = json_loadb(b.data, b.len, 0, NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *e = json_array_get(a, i);
            printf("%s  %dx%d  %zu bands  %s\n", json_string_value(json_object_get(e, "id")),
                   (int)json_integer_value(json_object_get(e, "width")),
                   (int)json_integer_value(json_object_get(e, "height")),
                   json_array_size(json_object_get(e, "bands")),
                   json_string_value(json_object_get(e, "created")));
        }
        json_decref(a);
    }
    dq_buf_free(&b);
    return 0;
}

/* ================================================================ dispatch */

int dq_cmd_spectral(dq_config_t *cfg, int argc, char **argv)
{
    if (argc < 2 || dq_cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    const char *pos[2] = {NULL, NULL};
    const char *id = NULL, *out = NULL, *legend = NULL, *conf = NULL, *pig = NULL, *what = NULL,
               *method = NULL;
    int replace = 0, json_out = 0, n_pos = 0;
    double min_cover = 0.3;
    dq_spec_rect_t region = {0}, noise = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--replace") == 0) {
            replace = 1;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            json_out = 1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;
            if (!v) {
                fprintf(stderr, "danqing spectral: %s needs a value (see --help)\n", a);
                return 2;
            }
            i++;
            if (strcmp(a, "--id") == 0)
                id = v;
            else if (strcmp(a, "--out") == 0)
                out = v;
            else if (strcmp(a, "--legend") == 0)
                legend = v;
            else if (strcmp(a, "--confidence") == 0)
                conf = v;
            else if (strcmp(a, "--pigments") == 0)
                pig = v;
            else if (strcmp(a, "--what") == 0)
                what = v;
            else if (strcmp(a, "--method") == 0)
                method = v;
            else if (strcmp(a, "--min-cover") == 0) {
                char *end;
                min_cover = strtod(v, &end);
                if (*end || !(min_cover > 0 && min_cover < 1)) {
                    fprintf(stderr, "danqing spectral: --min-cover must be in (0, 1)\n");
                    return 2;
                }
            } else if (strcmp(a, "--region") == 0 || strcmp(a, "--noise") == 0) {
                if (parse_rect(v, a[2] == 'r' ? &region : &noise) < 0) {
                    fprintf(stderr, "danqing spectral: %s must be x,y,w,h (w, h >= 1)\n", a);
                    return 2;
                }
            } else {
                fprintf(stderr, "danqing spectral: unknown option %s (see --help)\n", a);
                return 2;
            }
            continue;
        }
        if (n_pos >= 2) {
            fprintf(stderr, "danqing spectral: unexpected argument '%s'\n", a);
            return 2;
        }
        pos[n_pos++] = a;
    }
    int need = strcmp(sub, "add") == 0 ? 2 : 1;
    if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "pigments") &&
        strcmp(sub, "reveal") && strcmp(sub, "decompose")) {
        fprintf(stderr, "danqing spectral: unknown command '%s' (see --help)\n", sub);
        return 2;
    }
    if (n_pos != need) {
        fprintf(stderr, "danqing spectral %s: %s\n", sub,
                need == 2 ? "needs RELIC_ID and DIR" : "needs one id");
        return 2;
    }
    if ((strcmp(sub, "pigments") == 0 || strcmp(sub, "reveal") == 0) && !out) {
        fprintf(stderr, "danqing spectral %s: --out FILE.png is required\n", sub);
        return 2;
    }
    if (strcmp(sub, "reveal") == 0 && !what) {
        fprintf(stderr, "danqing spectral reveal: --what underdrawing|retouching is required\n");
        return 2;
    }
    if (strcmp(sub, "decompose") == 0 && !method) {
        fprintf(stderr, "danqing spectral decompose: --method pca|mnf|ica is required\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    dq_blob_t *store = NULL;
    int rc = 1, vips_up = 0;
    char defid[80];
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0)
        goto out;
    vips_up = 1;
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(store = dq_blob_open(cfg, &err)))
        goto out;
    int r;
    if (strcmp(sub, "add") == 0) {
        /* first what an add that died left (a --replace cut off mid-way) */
        int n_rec = 0;
        if (dq_cli_spectral_recover(cfg, cat, store, &n_rec, &err) < 0)
            goto out;
        if (n_rec)
            fprintf(stderr, "danqing spectral: took back %d interrupted add%s\n", n_rec,
                    n_rec == 1 ? "" : "s");
        snprintf(defid, sizeof(defid), "%s-ms", pos[0]);
        r = cmd_add(cfg, cat, store, pos[0], pos[1], id ? id : defid, replace, json_out, &err);
    } else if (strcmp(sub, "list") == 0) {
        r = cmd_list(cat, pos[0], json_out, &err);
    } else if (strcmp(sub, "pigments") == 0) {
        r = cmd_pigments(cfg, cat, store, pos[0], out, legend, conf, pig, min_cover, json_out,
                         &err);
    } else if (strcmp(sub, "reveal") == 0) {
        r = cmd_reveal(cfg, cat, store, pos[0], what, out, pig, json_out, &err);
    } else {
        r = cmd_decompose(cfg, cat, store, pos[0], method, region, noise, json_out, &err);
    }
    rc = r < 0 ? 1 : 0;
out:
    if (rc)
        fprintf(stderr, "danqing spectral %s: %s\n", sub, err.msg);
    dq_catalog_close(cat);
    dq_blob_close(store);
    if (vips_up)
        dq_image_shutdown();
    return rc;
}
