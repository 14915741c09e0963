/*
 * ingest.c: master file -> kept master + tiled pyramidal JPEG TIFF + catalog row.
 *
 * Order of work, chosen so that a failure or a crash at any instant leaves the old state or
 * the new one:
 *   1. validate everything cheap first (id, existing row, file size, magic bytes, header,
 *      pixel limit): a refused file costs no copy, no decode and no file in data_dir;
 *   2. in a private work dir data_dir/tmp/ingest.XXXXXX (held by an flock, so a later run can
 *      tell a dead run's leftovers from a live one's): copy and hash the master on one thread
 *      while vips decodes it and writes the pyramid, streaming (sequential access: memory does
 *      not grow with the image); a source that changes meanwhile (stat before/after) fails;
 *   3. upload, WITHOUT the catalog-wide lock (issue 15, session 25: ingests on several nodes, or
 *      one master of GBs to S3, no longer wait for each other's uploads): holding the catalog's
 *      DQ_CATALOG_LOCK_UPLOAD shared, write a journal (pending) row naming what is uploaded,
 *      then the master under masters/ab/<sha256> (skipped when present) and the pyramid under
 *      its content-addressed key pyramids/<id>.<first 16 hex of its SHA-256>.tif, a new key
 *      that no reader uses yet;
 *   4. commit phase, serialized across processes by an flock on data_dir/ingest.lock and
 *      across servers sharing the catalog by its DQ_CATALOG_LOCK_INGEST (catalog.h): re-check
 *      the id and the master, then one catalog transaction: the image row (which now names the
 *      new pyramid key), the journal row's removal and the audit row; then remove the replaced
 *      row's old pyramid key.
 * A crash before the commit leaves the old row naming the old pyramid, untouched, and an orphan:
 * the journal row and what was uploaded. The next ingest (when the ingest lock is free) or
 * `danqing fixity` REMOVES it, once it holds DQ_CATALOG_LOCK_UPLOAD exclusively (no ingest
 * anywhere is uploading, so the row's run is dead): the uploaded pyramid unless a row names it,
 * the master unless a row or another journal row names its SHA-256, and the journal row. A crash
 * after the commit leaves at most the replaced pyramid key, which no row names (fixity does not
 * look for it). Journal rows of the old layout (pyramid pyramids/<id>.tif, renamed over the old
 * one under the lock) are still rolled forward or dropped as before.
 * Not here: EXIF orientation is kept in the master but not applied to the pyramid.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vips/vips.h>

#include "blob/blob.h"
#include "image/image.h"

#define TILE_SIZE 256

/* ---------------------------------------------------------------- small helpers */

/* Moves vips' (global, thread-local-ish) error text into err. */
static int vips_fail(dq_err_t *err, int code, const char *what)
{
    char *m = vips_error_buffer_copy();
    size_t n = m ? strlen(m) : 0;
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    /* vips may report several lines; the first is the most specific. */
    char *nl = m ? strchr(m, '\n') : NULL;
    if (nl)
        *nl = '\0';
    dq_err_set(err, code, 0, "%s: %s", what, n ? m : "unknown libvips error");
    g_free(m);
    return -1;
}

typedef enum { FMT_UNKNOWN, FMT_JPEG, FMT_TIFF, FMT_PNG, FMT_WEBP, FMT_JP2 } fmt_t;
static const char *const fmt_names[] = {"unknown", "jpeg", "tiff", "png", "webp", "jp2"};

/* Magic bytes (never the extension): JPEG SOI + marker; TIFF and BigTIFF "II*\0" "MM\0*"
 * "II+\0" "MM\0+"; PNG's 8-byte signature; WebP "RIFF" size "WEBP"; JPEG 2000 either the JP2
 * signature box (12 bytes: length 12, "jP  ", CR LF 0x87 LF) or a raw codestream (SOC FF4F
 * followed by SIZ FF51). */
static fmt_t sniff(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return FMT_JPEG;
    if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                   (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43))))
        return FMT_TIFF;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return FMT_PNG;
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return FMT_WEBP;
    if (n >= 12 && memcmp(b, "\0\0\0\x0cjP  \r\n\x87\n", 12) == 0)
        return FMT_JP2;
    if (n >= 4 && b[0] == 0xff && b[1] == 0x4f && b[2] == 0xff && b[3] == 0x51)
        return FMT_JP2;
    return FMT_UNKNOWN;
}

static int sniff_file(const char *path, fmt_t *fmt, uint64_t *size, dq_err_t *err)
{
    unsigned char head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, 0, "cannot open %s: %s",
                          path, strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        dq_err_set(err, DQ_EINVAL, 0, "%s is not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        dq_err_set(err, DQ_EINVAL, 0, "%s is empty", path);
        goto out;
    }
    ssize_t n = pread(fd, head, sizeof(head), 0);
    if (n < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    *fmt = sniff(head, (size_t)n);
    if (*fmt == FMT_UNKNOWN) {
        dq_err_set(err, DQ_EINVAL, 0,
                   "%s is not a known image format (JPEG, TIFF, PNG, WebP, JPEG 2000)", path);
        goto out;
    }
    *size = (uint64_t)st.st_size;
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Opens path with the loader of fmt, sequential and strict (fail_on error: a truncated or
 * corrupt file is an error, not grey fill), reading only the header, and checks the pixel
 * count against max_pixels before any pixel is decoded. Returns a new image in *out. */
static int open_checked(const char *path, fmt_t fmt, uint64_t max_pixels, VipsImage **out,
                        dq_err_t *err)
{
    VipsImage *im = NULL;
    int r = -1;
    /* Every loader takes the same two options; the TIFF loader reads page 0 (full res). */
    switch (fmt) {
    case FMT_JPEG:
        r = vips_jpegload(path, &im, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                          VIPS_FAIL_ON_ERROR, NULL);
        break;
    case FMT_TIFF:
        r = vips_tiffload(path, &im, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                          VIPS_FAIL_ON_ERROR, NULL);
        break;
    case FMT_PNG:
        r = vips_pngload(path, &im, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR,
                         NULL);
        break;
    case FMT_WEBP:
        r = vips_webpload(path, &im, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                          VIPS_FAIL_ON_ERROR, NULL);
        break;
    case FMT_JP2:
        r = vips_jp2kload(path, &im, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                          VIPS_FAIL_ON_ERROR, NULL);
        break;
    default:
        DQ_ASSERT(0);
    }
    if (r != 0) {
        char *what = dq_xasprintf("cannot read %s as %s", path, fmt_names[fmt]);
        vips_fail(err, DQ_EINVAL, what);
        free(what);
        return -1;
    }
    uint64_t w = (uint64_t)im->Xsize, h = (uint64_t)im->Ysize;
    if (w == 0 || h == 0 || w * h > max_pixels) {
        dq_err_set(err, DQ_ELIMIT, 0,
                   "%s is %llu x %llu = %llu pixels, more than the limit of %llu (--max-pixels)",
                   path, (unsigned long long)w, (unsigned long long)h, (unsigned long long)(w * h),
                   (unsigned long long)max_pixels);
        g_object_unref(im);
        return -1;
    }
    *out = im;
    return 0;
}

/* ---------------------------------------------------------------- pixel conversion */

/* in -> 8-bit sRGB (3 bands) or 8-bit grey (1 band): embedded ICC or CMYK converted to sRGB,
 * 16-bit scaled (>> 8, so 65535 -> 255), alpha flattened on white, extra bands dropped, and the
 * profile removed from the result (the pyramid is sRGB by contract). All lazy: nothing is
 * computed until the save pulls pixels. Returns a new image in *out. */
static int to_srgb8(VipsImage *in, VipsImage **out, int *icc_converted, dq_err_t *err)
{
    VipsImage *t[10] = {NULL};
    VipsImage *x = in;
    VipsArrayDouble *white = NULL;
    int n = 0, rc = -1;
    int alpha = vips_image_hasalpha(in);
    int cmyk = in->Type == VIPS_INTERPRETATION_CMYK;
    int grey = !cmyk && in->Bands - alpha < 3;
    *icc_converted = 0;

    if (cmyk || vips_image_get_typeof(in, VIPS_META_ICC_NAME)) {
        /* "srgb" and "cmyk" are profiles built into libvips; a CMYK file without a profile is
         * imported with the built-in CMYK one. Relative intent, 8-bit output. */
        if (vips_icc_transform(x, &t[n], "srgb", "embedded", TRUE, "input_profile",
                               cmyk ? "cmyk" : "srgb", "intent", VIPS_INTENT_RELATIVE, "depth", 8,
                               NULL))
            goto verr;
        x = t[n++];
        *icc_converted = 1;
        if (grey) { /* a grey profile comes out as 3 equal bands: back to one */
            if (vips_colourspace(x, &t[n], VIPS_INTERPRETATION_B_W, NULL))
                goto verr;
            x = t[n++];
        }
    }
    if (x->BandFmt == VIPS_FORMAT_USHORT || x->BandFmt == VIPS_FORMAT_SHORT) {
        if (vips_rshift_const1(x, &t[n], 8, NULL))
            goto verr;
        x = t[n++];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(x, &t[n], VIPS_FORMAT_UCHAR, NULL))
            goto verr;
        x = t[n++];
    }
    /* 8-bit from here on: say so, or flatten would take 65535 as opaque for RGB16/GREY16. */
    if (vips_copy(x, &t[n], "interpretation",
                  x->Bands < 3 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL))
        goto verr;
    x = t[n++];
    if (vips_image_hasalpha(x) || (alpha && (x->Bands == 2 || x->Bands == 4))) {
        white = vips_array_double_newv(1, 255.0);
        if (vips_flatten(x, &t[n], "background", white, "max_alpha", 255.0, NULL))
            goto verr;
        x = t[n++];
    }
    if (x->Bands != 1 && x->Bands != 3) {
        if (vips_extract_band(x, &t[n], 0, "n", x->Bands >= 3 ? 3 : 1, NULL))
            goto verr;
        x = t[n++];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) { /* flatten may widen */
        if (vips_cast(x, &t[n], VIPS_FORMAT_UCHAR, NULL))
            goto verr;
        x = t[n++];
    }
    DQ_ASSERT(n < (int)DQ_ARRAY_LEN(t));
    if (vips_copy(x, out, "interpretation",
                  x->Bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL))
        goto verr;
    vips_image_remove(*out, VIPS_META_ICC_NAME);
    rc = 0;
    goto out;
verr:
    vips_fail(err, DQ_EINVAL, "cannot convert the image to sRGB");
out:
    for (int i = 0; i < (int)DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    if (white)
        vips_area_unref(VIPS_AREA(white));
    return rc;
}

/* ---------------------------------------------------------------- progress */

typedef struct {
    dq_ingest_progress_fn fn;
    void *ud;
    int last; /* last percent reported; only touched by the signalling thread */
} progress_t;

static void on_eval(VipsImage *im, VipsProgress *p, void *ud)
{
    (void)im;
    progress_t *pr = ud;
    if (p->percent != pr->last) {
        pr->last = p->percent;
        pr->fn(pr->ud, p->percent, p->eta);
    }
}

/* ---------------------------------------------------------------- error guard */

/* libvips 8.14.1 crashes when a pyramid tiffsave fails midway (libvips issue 3411, fixed in
 * 8.14.2: TIFFClose touches the target after it was unreffed). So a decode error (truncated or
 * corrupt master) must never reach tiffsave: this pass-through records the first error and
 * hands black pixels downstream instead; the save then completes, and the caller checks
 * guard_t.failed and throws the output away. Pixels are not copied (vips_region_region). */
typedef struct {
    GMutex lock; /* guards failed (set once) and msg */
    int failed;
    char msg[400];
} guard_t;

static int guard_gen(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    (void)a;
    (void)stop;
    VipsRegion *ir = seq;
    guard_t *g = b;
    VipsRect *r = &out->valid;
    if (!g_atomic_int_get(&g->failed) && vips_region_prepare(ir, r) == 0)
        return vips_region_region(out, ir, r, r->left, r->top);
    g_mutex_lock(&g->lock);
    if (!g->failed) {
        char *m = vips_error_buffer_copy();
        char *nl = m ? strchr(m, '\n') : NULL;
        if (nl)
            *nl = '\0';
        snprintf(g->msg, sizeof(g->msg), "%s", m && *m ? m : "decode error");
        g_free(m);
        g_atomic_int_set(&g->failed, 1);
    }
    g_mutex_unlock(&g->lock);
    vips_region_black(out);
    return 0;
}

/* Wraps in (a new reference in *out) with the guard g, which must outlive *out. */
static int guard_wrap(VipsImage *in, guard_t *g, VipsImage **out, dq_err_t *err)
{
    VipsImage *o = vips_image_new();
    if (vips_image_pipelinev(o, VIPS_DEMAND_STYLE_THINSTRIP, in, NULL) ||
        vips_image_generate(o, vips_start_one, guard_gen, vips_stop_one, in, g)) {
        g_object_unref(o);
        return vips_fail(err, DQ_EINTERNAL, "cannot build the pipeline");
    }
    *out = o;
    return 0;
}

/* ---------------------------------------------------------------- work dirs and locks */

/* Removes the files of a work dir (it has no subdirectories) and the dir. */
static void remove_work_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = dq_xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Removes every tmp/ingest.* dir that no live process holds (flock is released by the
 * kernel when its holder dies, SIGKILL included). Other files in tmp/ are not ours. */
static void clean_stale(const char *tmp_dir)
{
    DIR *d = opendir(tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "ingest.", 7) != 0)
            continue;
        char *p = dq_xasprintf("%s/%s", tmp_dir, e->d_name);
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            remove_work_dir(p);
        if (fd >= 0)
            close(fd);
        free(p);
    }
    closedir(d);
}

/* Creates and locks a fresh work dir in tmp_dir. Returns its path (free()) and the fd that
 * holds the lock in *lock_fd, or NULL with err. */
static char *make_work_dir(const char *tmp_dir, int *lock_fd, dq_err_t *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        char *dir = dq_xasprintf("%s/ingest.XXXXXX", tmp_dir);
        if (!mkdtemp(dir)) {
            dq_err_set(err, DQ_EIO, 0, "cannot create a work dir in %s: %s", tmp_dir,
                       strerror(errno));
            free(dir);
            return NULL;
        }
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        /* A cleaner may have taken the dir between mkdtemp and flock: then it is gone
         * (st_nlink 0) and we try again with a new name. */
        if (fd >= 0 && flock(fd, LOCK_EX) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
            *lock_fd = fd;
            return dir;
        }
        if (fd >= 0)
            close(fd);
        free(dir);
    }
    dq_err_set(err, DQ_EIO, 0, "cannot lock a work dir in %s", tmp_dir);
    return NULL;
}

/* The commit lock: data_dir/ingest.lock, exclusive, blocking. Returns the fd or -1. */
static int commit_lock(const char *data_dir, dq_err_t *err)
{
    char *p = dq_xasprintf("%s/ingest.lock", data_dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot open %s: %s", p, strerror(errno));
    } else {
        while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
            ;
    }
    free(p);
    return fd;
}

static void commit_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing the last fd releases the flock */
}

/* ---------------------------------------------------------------- recovery */

typedef struct {
    dq_image_rec_t *recs;
    int n, cap;
} rec_vec_t;

static int collect(void *ud, const dq_image_rec_t *rec)
{
    rec_vec_t *v = ud;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 8;
        v->recs = dq_xrealloc(v->recs, (size_t)v->cap * sizeof(*v->recs));
    }
    v->recs[v->n++] = *rec;
    return 0;
}

/* 1 when r is a journal row of the old layout: its pyramid was renamed over pyramids/<id>.tif
 * under the ingest lock, so under that lock the row is always a dead run's. */
static int legacy_row(const dq_image_rec_t *r)
{
    size_t n = strlen(r->id);
    return strncmp(r->pyramid_path, "pyramids/", 9) == 0 &&
           strncmp(r->pyramid_path + 9, r->id, n) == 0 && strcmp(r->pyramid_path + 9 + n, ".tif") == 0;
}

static int any_row(void *ud, const dq_image_rec_t *rec)
{
    (void)rec;
    *(int *)ud = 1;
    return 1;
}

/* A fresh run name for this ingest's pending row: 128 random bits (several nodes ingest into
 * one catalog, so neither a pid nor a work dir name is unique). */
static int new_run(char *run, size_t cap, dq_err_t *err)
{
    unsigned char rnd[16];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return dq_err_set(err, DQ_EIO, 0, "no randomness for an ingest run's name");
        got += (size_t)n;
    }
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(run, cap, "ingest.%s", hex);
    return 0;
}

typedef struct {
    const dq_image_rec_t *r;
    int named;
} named_t;

static int names_pyramid(void *ud, const dq_image_rec_t *rec)
{
    named_t *n = ud;
    if (strcmp(rec->pyramid_path, n->r->pyramid_path) != 0 || strcmp(rec->run, n->r->run) == 0)
        return 0;
    n->named = 1;
    return 1;
}

/* 1 when a row other than r's own pending row names r's pyramid: the image row of its id, or
 * another run's pending row (or when that cannot be read: then the pyramid stays). */
static int pyramid_named(dq_catalog_t *cat, const dq_image_rec_t *r)
{
    dq_image_rec_t cur;
    dq_err_t e = {0};
    if (dq_catalog_image_get(cat, r->id, &cur, &e) == 0) {
        if (strcmp(cur.pyramid_path, r->pyramid_path) == 0)
            return 1;
    } else if (e.code != DQ_ENOTFOUND) {
        return 1;
    }
    named_t n = {.r = r};
    dq_err_clear(&e);
    return dq_catalog_pending_list(cat, names_pyramid, &n, &e) < 0 || n.named;
}

/* Removes a dead upload (a journal row of the new layout whose run died before its commit):
 * its pyramid unless the image row names it, its master unless any row names that SHA-256,
 * then the row. The caller holds the ingest lock and DQ_CATALOG_LOCK_UPLOAD exclusively. */
static int remove_dead_upload(dq_catalog_t *cat, dq_blob_t *store, const dq_image_rec_t *r,
                              dq_err_t *err)
{
    dq_image_rec_t cur;
    dq_err_t e = {0};
    int named = dq_catalog_image_get(cat, r->id, &cur, &e) == 0 &&
                strcmp(cur.pyramid_path, r->pyramid_path) == 0;
    if (!named && e.code && e.code != DQ_ENOTFOUND) {
        *err = e;
        return -1;
    }
    if (dq_catalog_pending_drop(cat, r->run, err) < 0 ||
        (!named && dq_blob_remove(store, r->pyramid_path, err) < 0))
        return -1;
    int master_named = 0;
    if (dq_catalog_image_by_master(cat, r->master_sha256, any_row, &master_named, err) < 0)
        return -1;
    return master_named ? 0 : dq_blob_remove(store, r->master_path, err);
}

/* With the commit lock held: a journal row of the old layout belongs to a dead run; one of
 * the new layout only when *upload_free (DQ_CATALOG_LOCK_UPLOAD held exclusively). */
static int recover_locked(dq_catalog_t *cat, dq_blob_t *store, int upload_free, int *n_recovered,
                          int *n_removed, dq_err_t *err)
{
    rec_vec_t v = {0};
    int rc = -1;
    if (dq_catalog_pending_list(cat, collect, &v, err) < 0)
        goto out;
    for (int i = 0; i < v.n; i++) {
        const dq_image_rec_t *r = &v.recs[i];
        if (!legacy_row(r)) {
            if (!upload_free)
                continue; /* may be a live upload of another process */
            if (remove_dead_upload(cat, store, r, err) < 0)
                goto out;
            if (n_removed)
                (*n_removed)++;
            continue;
        }
        char hex[65] = "";
        dq_err_t ignore = {0};
        int in_place = dq_blob_sha256(store, r->pyramid_path, hex, NULL, &ignore) == 0 &&
                       strcmp(hex, r->pyramid_sha256) == 0 &&
                       dq_blob_exists(store, r->master_path, &ignore) == 1;
        if (in_place) {
            if (dq_catalog_image_put(cat, r, DQ_CATALOG_REPLACE, "recovery", err) < 0)
                goto out;
            if (n_recovered)
                (*n_recovered)++;
        } else if (dq_catalog_pending_drop(cat, r->run, err) < 0) {
            goto out;
        }
    }
    rc = 0;
out:
    free(v.recs);
    return rc;
}

/* Recovery; with wait 0 it gives up (returns 0, nothing done) when another process holds the
 * ingest lock: that process is committing and recovers itself next time. */
static int recover(dq_catalog_t *cat, const char *data_dir, dq_blob_t *store, int wait,
                   int *n_recovered, int *n_removed, dq_err_t *err)
{
    char *tmp_dir = dq_xasprintf("%s/tmp", data_dir);
    int lock = -1, rc = -1;
    dq_blob_t *own = store ? NULL : dq_blob_open_local(data_dir);
    if (n_recovered)
        *n_recovered = 0;
    if (n_removed)
        *n_removed = 0;
    dq_catalog_lock_t *clk = NULL, *ulk = NULL;
    /* Both locks: this data directory's (its tmp/), and the catalog's, without which a
     * pending row may be a live ingest of another server sharing the catalog. */
    if (dq_fs_mkdirs(tmp_dir, err) < 0 || (lock = commit_lock(data_dir, err)) < 0)
        goto out;
    if (dq_catalog_lock(cat, DQ_CATALOG_LOCK_INGEST | (wait ? 0 : DQ_CATALOG_LOCK_TRY), &clk,
                        err) < 0) {
        if (!wait && err->code == DQ_EBUSY) {
            dq_err_clear(err);
            rc = 0;
        }
        goto out;
    }
    clean_stale(tmp_dir);
    /* Never waits here: an ingest holds the upload lock shared until it commits, and its commit
     * needs the ingest lock we hold. */
    dq_err_t busy = {0};
    int upload_free =
        dq_catalog_lock(cat, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_TRY, &ulk, &busy) == 0;
    if (!upload_free && busy.code != DQ_EBUSY) {
        *err = busy;
        goto out;
    }
    rc = recover_locked(cat, store ? store : own, upload_free, n_recovered, n_removed, err);
out:
    dq_catalog_unlock(ulk);
    dq_catalog_unlock(clk);
    commit_unlock(lock);
    dq_blob_close(own);
    free(tmp_dir);
    return rc;
}

int dq_image_ingest_recover(dq_catalog_t *cat, const char *data_dir, int *n_recovered,
                            dq_err_t *err)
{
    return recover(cat, data_dir, NULL, 1, n_recovered, NULL, err);
}

int dq_image_ingest_recover_store(dq_catalog_t *cat, const char *data_dir, dq_blob_t *store,
                                  int *n_recovered, int *n_removed, dq_err_t *err)
{
    return recover(cat, data_dir, store, 1, n_recovered, n_removed, err);
}

/* ---------------------------------------------------------------- ingest */

/* The master copier: copy (fsynced) then hash the copy. Runs on its own thread; touches only
 * its job and rec's master fields, which the caller reads after pthread_join. */
typedef struct {
    const char *src, *dst;
    dq_image_rec_t *rec;
    int rc;
    dq_err_t err;
} copy_job_t;

static void *copy_main(void *arg)
{
    copy_job_t *j = arg;
    j->rc = dq_fs_copy(j->src, j->dst, &j->err) < 0 ||
                    dq_sha256_file(j->dst, j->rec->master_sha256, &j->rec->master_size, &j->err) < 0
                ? -1
                : 0;
    return NULL;
}

/* Builds the pyramid of master (in the work dir) into pyr_path. */
static int write_pyramid(const char *master, fmt_t fmt, const dq_ingest_opts_t *o,
                         const char *pyr_path, dq_image_rec_t *rec, dq_err_t *err)
{
    VipsImage *in = NULL, *conv = NULL, *rgb = NULL, *check = NULL;
    int rc = -1;
    progress_t pr = {o->progress, o->progress_ud, -1};
    guard_t guard = {.failed = 0};
    g_mutex_init(&guard.lock);
    if (open_checked(master, fmt, o->max_pixels, &in, err) < 0)
        goto out;
    if (to_srgb8(in, &conv, &rec->icc_converted, err) < 0 ||
        guard_wrap(conv, &guard, &rgb, err) < 0)
        goto out;
    if (o->progress) {
        vips_image_set_progress(rgb, TRUE);
        g_signal_connect(rgb, "eval", G_CALLBACK(on_eval), &pr);
    }
    /* Plain TIFF stops at 4 GiB. JPEG tiles are rarely above half the raw size, but noise at
     * Q 100 comes close, so any pyramid whose raw size (4/3 of level 0) passes 3 GiB is
     * written as BigTIFF; libtiff reads both the same way. */
    uint64_t raw = (uint64_t)rgb->Xsize * (uint64_t)rgb->Ysize * (uint64_t)rgb->Bands * 4 / 3;
    gboolean bigtiff = raw > (3ULL << 30);
    /* The same options as `vips tiffsave --tile --pyramid --compression jpeg --Q q
     * --tile-width 256 --tile-height 256`: one directory per level (no SubIFDs), which is
     * what the pyramid reader expects. */
    if (vips_tiffsave(rgb, pyr_path, "tile", TRUE, "pyramid", TRUE, "compression",
                      VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", o->quality, "tile_width", TILE_SIZE,
                      "tile_height", TILE_SIZE, "bigtiff", bigtiff, NULL)) {
        char *what = dq_xasprintf("cannot convert %s", o->src_path);
        vips_fail(err, DQ_EINVAL, what);
        free(what);
        goto out;
    }
    if (g_atomic_int_get(&guard.failed)) {
        dq_err_set(err, DQ_EINVAL, 0, "cannot decode %s (truncated or corrupt): %s", o->src_path,
                   guard.msg);
        goto out;
    }
    rec->width = rgb->Xsize;
    rec->height = rgb->Ysize;
    rec->bands = rgb->Bands;
    rec->tile_size = TILE_SIZE;
    /* Count the levels as written: n-pages of the output is the number of directories. */
    if (vips_tiffload(pyr_path, &check, NULL)) {
        vips_fail(err, DQ_EIO, "cannot read back the pyramid");
        goto out;
    }
    rec->levels = vips_image_get_n_pages(check);
    rc = 0;
out:
    VIPS_UNREF(check);
    VIPS_UNREF(rgb);
    VIPS_UNREF(conv);
    VIPS_UNREF(in);
    g_mutex_clear(&guard.lock);
    return rc;
}

int dq_image_ingest(dq_catalog_t *cat, const dq_ingest_opts_t *o, dq_image_rec_t *out,
                    dq_err_t *err)
{
    char *tmp_dir = NULL, *work = NULL, *w_master = NULL, *w_pyr = NULL;
    dq_blob_t *own = NULL, *store = o->store;
    int work_fd = -1, lock = -1, rc = -1, copier_running = 0;
    int journaled = 0, uploaded_pyr = 0, committed = 0;
    dq_catalog_lock_t *clk = NULL, *ulk = NULL;
    pthread_t copier;
    VipsImage *hdr = NULL;
    dq_image_rec_t rec, old;
    memset(&rec, 0, sizeof(rec));
    fmt_t fmt = FMT_UNKNOWN;
    uint64_t src_size = 0;

    /* 1. cheap validation, before any file is created */
    if (!dq_image_id_valid(o->id, err))
        goto out;
    if (o->quality < 1 || o->quality > 100) {
        dq_err_set(err, DQ_EINVAL, 0, "quality %d is not in 1..100", o->quality);
        goto out;
    }
    if (dq_catalog_image_get(cat, o->id, &old, err) == 0) {
        if (!o->replace) {
            dq_err_set(err, DQ_EEXIST, 0, "image '%s' already exists (use --replace)", o->id);
            goto out;
        }
    } else if (err->code != DQ_ENOTFOUND) {
        goto out;
    }
    dq_err_clear(err);
    if (sniff_file(o->src_path, &fmt, &src_size, err) < 0 ||
        open_checked(o->src_path, fmt, o->max_pixels, &hdr, err) < 0)
        goto out;
    VIPS_UNREF(hdr);

    /* 2. work in a private, locked dir */
    tmp_dir = dq_xasprintf("%s/tmp", o->data_dir);
    if (!store)
        store = own = dq_blob_open_local(o->data_dir);
    if (recover(cat, o->data_dir, store, 0, NULL, NULL, err) < 0 ||
        !(work = make_work_dir(tmp_dir, &work_fd, err)))
        goto out;
    w_master = dq_xasprintf("%s/master", work);
    w_pyr = dq_xasprintf("%s/pyramid.tif", work);
    /* The master is copied and hashed on a second thread while vips decodes the source on
     * the others: vips' JPEG decode leaves a core mostly idle, and this keeps ingest within
     * ~1.2x of a bare `vips tiffsave`. The source is stat'ed before and after; a change in
     * between fails the ingest, so the kept master is the file the pyramid was made from. */
    struct stat st0, st1;
    if (stat(o->src_path, &st0) < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot stat %s: %s", o->src_path, strerror(errno));
        goto out;
    }
    copy_job_t job = {.src = o->src_path, .dst = w_master, .rec = &rec};
    if (pthread_create(&copier, NULL, copy_main, &job) != 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot start a thread");
        goto out;
    }
    copier_running = 1;
    int pr = write_pyramid(o->src_path, fmt, o, w_pyr, &rec, err);
    pthread_join(copier, NULL);
    copier_running = 0;
    if (pr < 0)
        goto out;
    if (job.rc < 0) {
        *err = job.err;
        goto out;
    }
    /* The copy is what we keep: it must be the bytes we decoded. */
    fmt_t fmt2 = FMT_UNKNOWN;
    if (stat(o->src_path, &st1) < 0 || st0.st_size != st1.st_size || st0.st_ino != st1.st_ino ||
        st0.st_mtim.tv_sec != st1.st_mtim.tv_sec || st0.st_mtim.tv_nsec != st1.st_mtim.tv_nsec ||
        rec.master_size != (uint64_t)st0.st_size ||
        sniff_file(w_master, &fmt2, &src_size, err) < 0 || fmt2 != fmt) {
        dq_err_set(err, DQ_EINVAL, 0, "%s changed while it was being ingested", o->src_path);
        goto out;
    }
    /* Edge tiles cropped once here rather than on every request (pyramid.c, "edge tiles");
     * before the checksum, which covers them as part of the file. */
    if (dq_pyramid_write_edges(w_pyr, err) < 0 ||
        dq_sha256_file(w_pyr, rec.pyramid_sha256, &rec.pyramid_size, err) < 0)
        goto out;

    snprintf(rec.id, sizeof(rec.id), "%s", o->id);
    snprintf(rec.master_format, sizeof(rec.master_format), "%s", fmt_names[fmt]);
    snprintf(rec.master_path, sizeof(rec.master_path), "masters/%.2s/%s", rec.master_sha256,
             rec.master_sha256);
    /* A new key per content: uploaded before the commit, it replaces nothing a reader uses. */
    snprintf(rec.pyramid_path, sizeof(rec.pyramid_path), "pyramids/%s.%.16s.tif", o->id,
             rec.pyramid_sha256);
    const char *base = strrchr(o->src_path, '/');
    snprintf(rec.orig_filename, sizeof(rec.orig_filename), "%s", base ? base + 1 : o->src_path);

    /* 3. upload, without the ingest lock. The journal row comes first: it names the master for
     * anyone deciding whether a master is still wanted (condrec's undo), and the uploads for a
     * recovery after our death, which waits for the upload lock we hold shared. The row is this
     * run's own (migration 33): another ingest of the same id, on any node, writes a row of its
     * own, so whichever of them dies, its upload stays named until a recovery takes it back. */
    if (new_run(rec.run, sizeof(rec.run), err) < 0)
        goto out;
    if (dq_catalog_lock(cat, DQ_CATALOG_LOCK_UPLOAD | DQ_CATALOG_LOCK_SHARED, &ulk, err) < 0 ||
        dq_catalog_pending_put(cat, &rec, err) < 0)
        goto out;
    journaled = 1;
    /* Identical masters share one file; an existing one is never rewritten. For the data
     * directory, dq_blob_put_file is the same mkdir + fsync + rename as always; an object
     * store uploads (multipart above one part) and verifies the checksums. */
    int have = dq_blob_exists(store, rec.master_path, err);
    if (have < 0 || (!have && dq_blob_put_file(store, rec.master_path, w_master, err) < 0))
        goto out;
    if ((have = dq_blob_exists(store, rec.pyramid_path, err)) < 0 ||
        (!have && dq_blob_put_file(store, rec.pyramid_path, w_pyr, err) < 0))
        goto out;
    uploaded_pyr = !have;

    /* 4. commit, one process at a time: this data directory's flock, and the catalog's lock
     * that spans servers with data directories of their own (docs/deploy.md "Several
     * servers"): without it two servers could both find an id free, or an undo on one could
     * remove a master the other found present just before its rows named it. */
    if ((lock = commit_lock(o->data_dir, err)) < 0 ||
        dq_catalog_lock(cat, DQ_CATALOG_LOCK_INGEST, &clk, err) < 0)
        goto out;
    /* Re-check under the lock: another ingest may have taken the id meanwhile. */
    int had_old = dq_catalog_image_get(cat, o->id, &old, err) == 0;
    if (!had_old && err->code != DQ_ENOTFOUND)
        goto out;
    if (had_old && !o->replace) {
        dq_err_set(err, DQ_EEXIST, 0, "image '%s' already exists (use --replace)", o->id);
        goto out;
    }
    dq_err_clear(err);
    /* A master found present before our journal row existed may have been removed since by an
     * undo that saw no row naming it; under the lock nothing removes it any more. */
    if ((have = dq_blob_exists(store, rec.master_path, err)) < 0 ||
        (!have && dq_blob_put_file(store, rec.master_path, w_master, err) < 0))
        goto out;
    /* The same for the pyramid: one found present (an ingest of the same content) may have
     * been taken back since by that ingest's failure (see out:). */
    if ((have = dq_blob_exists(store, rec.pyramid_path, err)) < 0 ||
        (!have && dq_blob_put_file(store, rec.pyramid_path, w_pyr, err) < 0))
        goto out;
    uploaded_pyr |= !have;
    if (dq_catalog_image_put(cat, &rec, o->replace ? DQ_CATALOG_REPLACE : 0,
                             o->who ? o->who : "cli", err) < 0)
        goto out;
    committed = 1;
    /* The replaced pyramid: no row names it any more. A failure leaves a file nobody reads. */
    if (had_old && strcmp(old.pyramid_path, rec.pyramid_path) != 0) {
        dq_err_t e = {0};
        dq_blob_remove(store, old.pyramid_path, &e);
    }
    if (dq_catalog_image_get(cat, o->id, out, err) < 0)
        goto out;
    rc = 0;
out:
    if (copier_running)
        pthread_join(copier, NULL);
    VIPS_UNREF(hdr);
    if (journaled && !committed) {
        /* Failed (not died) before the commit: take back our journal row and our pyramid
         * unless another row names it (an ingest of the same content, which re-checks it under
         * the commit lock); the master stays, like any master no row names (harmless,
         * content-addressed). */
        dq_err_t e = {0};
        dq_catalog_pending_drop(cat, rec.run, &e);
        if (uploaded_pyr && !pyramid_named(cat, &rec))
            dq_blob_remove(store, rec.pyramid_path, &e);
    }
    dq_catalog_unlock(clk);
    dq_catalog_unlock(ulk);
    commit_unlock(lock);
    if (work)
        remove_work_dir(work);
    if (work_fd >= 0)
        close(work_fd);
    free(tmp_dir);
    free(work);
    free(w_master);
    free(w_pyr);
    dq_blob_close(own);
    return rc;
}
