/*
 * image/pyramid.c: the pyramid reader. Opens a tiled pyramidal TIFF once with libtiff, copies
 * each level's geometry, tile offsets, byte counts and JPEGTables into plain arrays, closes the
 * libtiff handle and keeps one fd. A stored JPEG tile is then answered by one pread() and a
 * splice with the tables: no libtiff, no decode, no lock, so many threads read at once.
 * It does not scale or re-encode pixels (render.c does), except to crop edge tiles, which ingest
 * does once (dq_pyramid_write_edges) for files it writes.
 * Thread safety: a pyramid is immutable after open; the refcount is atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>
#include <turbojpeg.h>

#include "image/image.h"
#include "image/pyramid_internal.h"

/* ---------------------------------------------------------------- libtiff errors */

/* libtiff reports through a per-open handler (libtiff >= 4.5, TIFFOpenOptions), so messages go
 * into the dq_err_t of the thread that opened the file, not into a process-wide handler, and we
 * never longjmp out of libtiff (house style 12). The first error wins; warnings are ignored. */
static int tiff_on_error(TIFF *tif, void *user_data, const char *module, const char *fmt,
                         va_list ap)
{
    (void)tif;
    dq_err_t *err = user_data;
    if (err && err->code == DQ_OK) {
        char msg[400];
        vsnprintf(msg, sizeof msg, fmt, ap);
        dq_err_set(err, DQ_EIO, 500, "libtiff %s: %s", module ? module : "", msg);
    }
    return 1; /* handled: do not call the global handler too */
}

static int tiff_on_warning(TIFF *tif, void *user_data, const char *module, const char *fmt,
                           va_list ap)
{
    (void)tif, (void)user_data, (void)module, (void)fmt, (void)ap;
    return 1;
}

/* ---------------------------------------------------------------- open */

/* Reads the current directory of tif into lv. prev is the previous level (NULL for level 0):
 * every level must have the same tiles, bands and compression, and be smaller. */
static int read_level(TIFF *tif, const char *path, uint64_t file_size, dq_pyr_level_t *lv,
                      const dq_pyr_level_t *prev, dq_err_t *err)
{
    uint32_t w = 0, h = 0, tw = 0, th = 0;
    uint16_t bps = 0, spp = 0, comp = 0, planar = PLANARCONFIG_CONTIG, photometric = 0;
    if (!TIFFIsTiled(tif))
        return dq_err_set(err, DQ_EUNSUP, 500, "%s: not a tiled TIFF", path);
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) ||
        !TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th))
        return dq_err_set(err, DQ_EIO, 500, "%s: missing size or tile tags", path);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    if (w == 0 || h == 0 || w > 1u << 24 || h > 1u << 24 || tw < 16 || th < 16 || tw > 4096 ||
        th > 4096 || tw % 16 || th % 16)
        return dq_err_set(err, DQ_EUNSUP, 500, "%s: unsupported geometry %ux%u tiles %ux%u", path,
                          w, h, tw, th);
    if (bps != 8 || (spp != 1 && spp != 3) || planar != PLANARCONFIG_CONTIG)
        return dq_err_set(err, DQ_EUNSUP, 500, "%s: want 8-bit 1 or 3 band contiguous, got %u/%u",
                          path, bps, spp);
    if (prev && (tw != prev->tile_w || th != prev->tile_h || spp != prev->bands ||
                 comp != prev->compression || w >= prev->width || h > prev->height))
        return 1; /* not a level of this pyramid: the caller stops here */

    uint32_t across = (w + tw - 1) / tw, down = (h + th - 1) / th;
    uint32_t n_tiles = TIFFNumberOfTiles(tif);
    if ((uint64_t)across * down != n_tiles)
        return dq_err_set(err, DQ_EIO, 500, "%s: %u tiles, expected %ux%u", path, n_tiles, across,
                          down);
    uint64_t *offsets = NULL, *counts = NULL;
    if (!TIFFGetField(tif, TIFFTAG_TILEOFFSETS, &offsets) ||
        !TIFFGetField(tif, TIFFTAG_TILEBYTECOUNTS, &counts) || !offsets || !counts)
        return dq_err_set(err, DQ_EIO, 500, "%s: missing tile offsets", path);

    *lv = (dq_pyr_level_t){.width = w,
                           .height = h,
                           .tile_w = tw,
                           .tile_h = th,
                           .across = across,
                           .down = down,
                           .bands = spp,
                           .compression = comp,
                           .photometric = photometric};
    lv->offsets = dq_xmalloc(sizeof(uint64_t) * n_tiles);
    lv->counts = dq_xmalloc(sizeof(uint32_t) * n_tiles);
    for (uint32_t i = 0; i < n_tiles; i++) {
        /* A tile that points past the end of the file means a truncated copy: refuse it now
         * rather than answer short reads later. Tiles over 64 MiB are not something we wrote. */
        if (counts[i] > (64u << 20) || offsets[i] > file_size || counts[i] > file_size - offsets[i])
            return dq_err_set(err, DQ_EIO, 500, "%s: tile %u lies outside the file (truncated?)",
                              path, i);
        lv->offsets[i] = offsets[i];
        lv->counts[i] = (uint32_t)counts[i];
    }

    if (comp == COMPRESSION_JPEG) {
        /* TIFF Technical Note 2: with JPEGTables, every tile is an "abbreviated" JPEG stream
         * (SOI, SOF, SOS, data, EOI) and the quantisation and Huffman tables sit once in the
         * JPEGTables tag as an "abbreviated table specification" (SOI, DQT, DHT, EOI). */
        uint32_t n = 0;
        void *tables = NULL;
        if (TIFFGetField(tif, TIFFTAG_JPEGTABLES, &n, &tables) && n > 0 && tables) {
            const uint8_t *t = tables;
            if (n < 4 || t[0] != 0xFF || t[1] != 0xD8 || t[n - 2] != 0xFF || t[n - 1] != 0xD9)
                return dq_err_set(err, DQ_EIO, 500, "%s: malformed JPEGTables", path);
            lv->tables = dq_xmalloc(n);
            memcpy(lv->tables, tables, n);
            lv->tables_len = n;
        }
    }
    return 0;
}

/* Frees every level slot, also one that read_level filled in part before it failed. */
static void free_levels(dq_pyramid_t *p)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(p->levels); i++) {
        free(p->levels[i].offsets);
        free(p->levels[i].counts);
        free(p->levels[i].tables);
        free(p->levels[i].edge_off);
        free(p->levels[i].edge_len);
    }
}

static void load_edges(dq_pyramid_t *p, int fd);

/* ---------------------------------------------------------------- object-store reads */

/* libtiff client procedures over an object-store handle (TIFFClientOpenExt): directories are
 * read through the store's block cache like tiles. Read-only; no memory mapping. */
typedef struct {
    dq_blob_obj_t *obj;
    uint64_t pos;
} tclient_t;

static tmsize_t tc_read(thandle_t h, void *buf, tmsize_t n)
{
    tclient_t *c = (tclient_t *)h;
    uint64_t size = dq_blob_obj_size(c->obj);
    if (n <= 0 || c->pos >= size)
        return 0;
    size_t want = (size_t)DQ_MIN((uint64_t)n, size - c->pos);
    dq_err_t e = {0};
    if (dq_blob_obj_read(c->obj, buf, want, c->pos, &e) < 0)
        return -1;
    c->pos += want;
    return (tmsize_t)want;
}

static tmsize_t tc_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t tc_seek(thandle_t h, toff_t off, int whence)
{
    tclient_t *c = (tclient_t *)h;
    uint64_t base = whence == SEEK_CUR ? c->pos : whence == SEEK_END ? dq_blob_obj_size(c->obj) : 0;
    c->pos = base + off;
    return c->pos;
}

static int tc_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t tc_size(thandle_t h) { return dq_blob_obj_size(((tclient_t *)h)->obj); }

static int tc_map(thandle_t h, void **base, toff_t *size)
{
    (void)h, (void)base, (void)size;
    return 0;
}

static void tc_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Reads exactly n bytes at off from the pyramid's file or object; 0, or -1 with errno set. For
 * a file this is pread_full on fd, as before the store existed: one branch, no copy. */
static int pyr_read(const dq_pyramid_t *p, int fd, void *buf, size_t n, uint64_t off)
{
    if (p->obj) {
        dq_err_t e = {0};
        if (dq_blob_obj_read(p->obj, buf, n, off, &e) == 0)
            return 0;
        errno = EIO;
        return -1;
    }
    return pread_full(fd, buf, n, off);
}

/* ---------------------------------------------------------------- open (continued) */

/* Opens a pyramid from either a file (path, fd: TIFFOpenExt as always) or an object (obj, then
 * fd is -1 and path is the name reported). Takes fd and obj: they are closed/freed on failure. */
static dq_pyramid_t *open_pyramid(const char *path, int fd, dq_blob_obj_t *obj,
                                  uint64_t file_size, uint64_t ident, dq_err_t *err)
{
    dq_pyramid_t *p = NULL;
    TIFFOpenOptions *opts = NULL;
    TIFF *tif = NULL;
    dq_err_t terr = {0}; /* libtiff's first error message, if any */
    tclient_t tc = {obj, 0};

    opts = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, &terr);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, NULL);
    /* "m": no memory mapping; we only read directories here, tiles come later by pread. */
    tif = obj ? TIFFClientOpenExt(path, "rm", (thandle_t)&tc, tc_read, tc_write, tc_seek,
                                  tc_close, tc_size, tc_map, tc_unmap, opts)
              : TIFFOpenExt(path, "rm", opts);
    if (!tif) {
        dq_err_set(err, DQ_EIO, 500, "%s: not a readable TIFF (%s)", path, terr.msg);
        goto out;
    }

    p = dq_xcalloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    p->fd = -1;
    p->obj = obj; /* p owns it from here on success only (see out:) */
    p->path = dq_xstrdup(path);
    p->file_size = file_size;
    p->ident = ident;

    if (read_level(tif, path, p->file_size, &p->levels[0], NULL, err) != 0)
        goto fail_levels;
    p->n_levels = 1;

    /* vips writes reduced levels either as further top-level directories (the default; each
     * with NewSubfileType = reduced image) or, with --subifd, as SubIFDs of directory 0
     * (TIFF 6.0 supplement / Adobe TIFF tech note 1). Detect the second by the SubIFD tag. */
    uint16_t n_sub = 0;
    uint64_t *sub_offsets = NULL;
    if (TIFFGetField(tif, TIFFTAG_SUBIFD, &n_sub, &sub_offsets) && n_sub > 0 && sub_offsets) {
        uint64_t subs[DQ_ARRAY_LEN(p->levels)];
        int n = DQ_MIN((int)n_sub, (int)DQ_ARRAY_LEN(p->levels) - 1);
        memcpy(subs, sub_offsets, sizeof(uint64_t) * (size_t)n); /* TIFFSetSubDirectory frees */
        p->subifd = 1;
        for (int i = 0; i < n; i++) {
            if (!TIFFSetSubDirectory(tif, subs[i])) {
                dq_err_set(err, DQ_EIO, 500, "%s: bad SubIFD %d (%s)", path, i, terr.msg);
                goto fail_levels;
            }
            dq_pyr_level_t *lv = &p->levels[p->n_levels];
            int rc = read_level(tif, path, p->file_size, lv, lv - 1, err);
            if (rc < 0)
                goto fail_levels;
            if (rc > 0)
                break;
            lv->page = i + 1; /* vips_tiffload "subifd" index is page - 1 */
            p->n_levels++;
        }
    } else {
        int page = 0;
        while (p->n_levels < (int)DQ_ARRAY_LEN(p->levels)) {
            page++;
            if (!TIFFReadDirectory(tif)) {
                if (terr.code != DQ_OK) { /* an error, not just the end of the chain */
                    dq_err_set(err, DQ_EIO, 500, "%s: %s", path, terr.msg);
                    goto fail_levels;
                }
                break;
            }
            dq_pyr_level_t *lv = &p->levels[p->n_levels];
            int rc = read_level(tif, path, p->file_size, lv, lv - 1, err);
            if (rc < 0)
                goto fail_levels;
            if (rc > 0)
                break;
            lv->page = page;
            p->n_levels++;
        }
    }
    if (terr.code != DQ_OK) {
        dq_err_set(err, DQ_EIO, 500, "%s: %s", path, terr.msg);
        goto fail_levels;
    }

    dq_pyr_level_t *l0 = &p->levels[0];
    p->info.width = l0->width;
    p->info.height = l0->height;
    p->info.tile_w = l0->tile_w;
    p->info.tile_h = l0->tile_h;
    p->info.n_levels = p->n_levels;
    p->info.bands = l0->bands;
    p->info.jpeg_tiles = l0->compression == COMPRESSION_JPEG;
    for (int i = 0; i < p->n_levels; i++)
        p->info.levels[i] = (dq_level_dim_t){p->levels[i].width, p->levels[i].height};
    if (p->info.jpeg_tiles)
        load_edges(p, fd);
    p->fd = fd;
    fd = -1;
    obj = NULL;
    goto out;

fail_levels:
    free_levels(p);
    free(p->path);
    free(p);
    p = NULL;
out:
    if (tif)
        TIFFClose(tif);
    TIFFOpenOptionsFree(opts);
    if (fd >= 0)
        close(fd);
    dq_blob_obj_free(obj);
    return p;
}

dq_pyramid_t *dq_pyramid_open(const char *path, dq_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, errno == ENOENT ? 404 : 500,
                   "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        dq_err_set(err, DQ_EIO, 500, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    /* A new pyramid is renamed into place (ingest), so it is a new inode: what was answered
     * from the old file never shares a tag with the new one. */
    uint64_t id[5] = {(uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
                      (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec};
    return open_pyramid(path, fd, NULL, (uint64_t)st.st_size, dq_hash64(id, sizeof id), err);
}

dq_pyramid_t *dq_pyramid_open_blob(struct dq_blob *b, const char *key, dq_err_t *err)
{
    char *path = dq_blob_file_path(b, key);
    if (path) {
        dq_pyramid_t *p = dq_pyramid_open(path, err);
        free(path);
        return p;
    }
    if (!dq_blob_key_ok(key)) {
        dq_err_set(err, DQ_EINVAL, 400, "'%s' is not a valid store key", key);
        return NULL;
    }
    dq_blob_obj_t *obj = dq_blob_obj_open(b, key, err);
    if (!obj)
        return NULL;
    /* The object's version names its bytes: a replaced object has another ETag. */
    dq_buf_t id = {0};
    dq_buf_printf(&id, "%s\n%s\n%llu", key, dq_blob_obj_tag(obj),
                  (unsigned long long)dq_blob_obj_size(obj));
    uint64_t ident = dq_hash64(id.data, id.len);
    dq_buf_free(&id);
    char *name = dq_xasprintf("store:%s", key);
    dq_pyramid_t *p = open_pyramid(name, -1, obj, dq_blob_obj_size(obj), ident, err);
    free(name);
    return p;
}

void dq_pyramid_ref(dq_pyramid_t *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void dq_pyramid_unref(dq_pyramid_t *p)
{
    if (!p)
        return;
    /* acq_rel: the last owner must see every other owner's writes before it frees. */
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    free_levels(p);
    if (p->fd >= 0)
        close(p->fd);
    dq_blob_obj_free(p->obj);
    free(p->path);
    free(p);
}

const dq_pyramid_info_t *dq_pyramid_info(const dq_pyramid_t *p) { return &p->info; }

const char *dq_pyramid_path(const dq_pyramid_t *p) { return p->path; }

const char *dq_pyramid_obj_tag(const dq_pyramid_t *p)
{
    return p->obj ? dq_blob_obj_tag(p->obj) : NULL;
}

int dq_pyramid_replaced(dq_pyramid_t *p, dq_err_t *err)
{
    return p->obj ? dq_blob_obj_replaced(p->obj, err) : 0;
}

/* ---------------------------------------------------------------- raw tiles */

/* Reads exactly n bytes at off; 0, or -1 with errno set (0 for an unexpected end of file). */
static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int dq_pyr_read_tile(const dq_pyramid_t *p, int level, uint32_t col, uint32_t row, dq_buf_t *out,
                     dq_err_t *err)
{
    if (level < 0 || level >= p->n_levels)
        return dq_err_set(err, DQ_EINVAL, 400, "level %d out of range 0..%d", level,
                          p->n_levels - 1);
    const dq_pyr_level_t *lv = &p->levels[level];
    if (col >= lv->across || row >= lv->down)
        return dq_err_set(err, DQ_EINVAL, 400, "tile %u,%u outside level %d (%ux%u tiles)", col,
                          row, level, lv->across, lv->down);
    if (lv->compression != COMPRESSION_JPEG)
        return dq_err_set(err, DQ_EUNSUP, 500, "%s: tiles are not JPEG", p->path);
    size_t idx = (size_t)row * lv->across + col;
    uint64_t off = lv->offsets[idx];
    size_t n = lv->counts[idx];
    if (n < 4)
        return dq_err_set(err, DQ_EIO, 500, "%s: tile %zu of level %d is empty", p->path, idx,
                          level);

    /* The splice, done in place. A tile stream is FFD8 (SOI) + frame + scan + FFD9 (EOI); the
     * tables are FFD8 + DQT/DHT segments + FFD9. A decoder wants one stream: SOI, tables,
     * frame, scan, EOI, so we keep the tables without their EOI (tl - 2 bytes) and the tile
     * without its SOI. Worked layout, with tl = tables_len and base = out->data + out->len:
     *   1. pread the whole tile to base + tl - 4: its SOI lands on [tl-4, tl-2);
     *   2. check those two bytes are FF D8;
     *   3. copy tables[0, tl-2) to base: this overwrites the tile's SOI, and the tile's frame
     *      header starts exactly at base + tl - 2, right after the last table segment.
     * Length: (tl - 2) + (n - 2). No temporary buffer, no memmove. Without a tables tag the
     * tile is already a complete stream and is appended as it is. */
    size_t tl = lv->tables_len;
    size_t pre = tl >= 4 ? tl - 4 : 0;
    dq_buf_reserve(out, pre + n);
    uint8_t *base = (uint8_t *)out->data + out->len;
    if (pyr_read(p, p->fd, base + pre, n, off) < 0)
        return dq_err_set(err, DQ_EIO, 500, "%s: reading tile %zu of level %d: %s", p->path, idx,
                          level, errno ? strerror(errno) : "unexpected end of file");
    if (base[pre] != 0xFF || base[pre + 1] != 0xD8)
        return dq_err_set(err, DQ_EIO, 500, "%s: tile %zu of level %d is not a JPEG stream",
                          p->path, idx, level);
    if (tl >= 4)
        memcpy(base, lv->tables, tl - 2);
    out->len += pre + n;
    out->data[out->len] = '\0'; /* dq_buf_t keeps a NUL after len */
    return 0;
}

/* Crops a complete JPEG at (0,0) to crop_w x crop_h and appends the result to out. libjpeg-
 * turbo's lossless crop (jpegtran -crop) needs only the origin on an MCU boundary, and (0,0)
 * always is; the right and bottom edges may fall inside an MCU, and the output header then
 * carries exactly the requested size. If that ever yields another size, or the stream is one
 * the transformer refuses, we decode, crop and re-encode at Q90 with the same subsampling. */
static int crop_jpeg(const uint8_t *jpg, size_t len, uint32_t crop_w, uint32_t crop_h,
                     dq_buf_t *out, dq_err_t *err)
{
    int rc = -1;
    tjhandle tx = NULL, dec = NULL, enc = NULL;
    unsigned char *dst = NULL, *pix = NULL;
    unsigned long dst_len = 0;

    tx = tjInitTransform();
    if (!tx) {
        dq_err_set(err, DQ_EINTERNAL, 500, "tjInitTransform: %s", tjGetErrorStr2(NULL));
        goto out;
    }
    tjtransform xf = {.r = {.x = 0, .y = 0, .w = (int)crop_w, .h = (int)crop_h},
                      .op = TJXOP_NONE,
                      .options = TJXOPT_CROP | TJXOPT_COPYNONE};
    if (tjTransform(tx, jpg, len, 1, &dst, &dst_len, &xf, 0) == 0) {
        int w = 0, h = 0, ss = 0, cs = 0;
        if (tjDecompressHeader3(tx, dst, dst_len, &w, &h, &ss, &cs) == 0 && w == (int)crop_w &&
            h == (int)crop_h) {
            dq_buf_append(out, dst, dst_len);
            rc = 0;
            goto out;
        }
    }

    /* Fallback: decode, crop by pitch, encode. */
    dec = tjInitDecompress();
    enc = tjInitCompress();
    int w = 0, h = 0, ss = 0, cs = 0;
    if (!dec || !enc || tjDecompressHeader3(dec, jpg, len, &w, &h, &ss, &cs) != 0) {
        dq_err_set(err, DQ_EIO, 500, "corrupt tile: %s", tjGetErrorStr2(dec));
        goto out;
    }
    if ((int)crop_w > w || (int)crop_h > h) {
        dq_err_set(err, DQ_EINVAL, 400, "crop %ux%u larger than tile %dx%d", crop_w, crop_h, w, h);
        goto out;
    }
    int gray = cs == TJCS_GRAY;
    int pf = gray ? TJPF_GRAY : TJPF_RGB, ps = gray ? 1 : 3;
    pix = dq_xmalloc((size_t)w * (size_t)h * (size_t)ps);
    if (tjDecompress2(dec, jpg, len, pix, w, w * ps, h, pf, 0) != 0) {
        dq_err_set(err, DQ_EIO, 500, "corrupt tile: %s", tjGetErrorStr2(dec));
        goto out;
    }
    tjFree(dst);
    dst = NULL;
    dst_len = 0;
    if (tjCompress2(enc, pix, (int)crop_w, w * ps, (int)crop_h, pf, &dst, &dst_len,
                    gray ? TJSAMP_GRAY : ss, 90, 0) != 0) {
        dq_err_set(err, DQ_EIO, 500, "re-encoding tile: %s", tjGetErrorStr2(enc));
        goto out;
    }
    dq_buf_append(out, dst, dst_len);
    rc = 0;
out:
    tjFree(dst);
    free(pix);
    if (tx)
        tjDestroy(tx);
    if (dec)
        tjDestroy(dec);
    if (enc)
        tjDestroy(enc);
    return rc;
}

/* ---------------------------------------------------------------- edge tiles */

/* A stored tile is always tile_w x tile_h; at the right and bottom edges of a level only part of
 * it is image, and the answer must be exactly that part. Cropping it per request (crop_jpeg: a
 * Huffman decode and re-encode inside libjpeg-turbo's transformer, 0.13 ms against 0.004 ms for
 * a whole tile) cost 17 % of the cache-off tile path while edge tiles were 6.4 % of the
 * requests. So ingest crops each edge tile once, with the same crop_jpeg, and appends the
 * results to the pyramid file itself, after everything the TIFF structure points at: TIFF 6.0
 * finds IFDs and tiles only through offsets, so trailing bytes are invisible to every TIFF
 * reader (libtiff, libvips, iipsrv). One file keeps the crops under the same atomic rename and
 * the same SHA-256 as the tiles they were made from. Layout, integers little-endian:
 *   crops    complete JPEG streams, byte for byte what crop_jpeg returns
 *   index    n entries of 24 bytes: u32 level, u32 col, u32 row, u32 len, u64 offset
 *   footer   40 bytes, the end of the file: "DQEDGES1", u64 index offset, u32 n, u32 0,
 *            u64 dq_hash64(index), u64 tiles_hash() of the TIFF's tile tables
 * The last field ties the crops to the tiles: a file whose tiles were rewritten, or a footer
 * whose index does not check out (hash, bounds, an entry that is not an edge tile), is ignored
 * as a whole and edge tiles are cropped per request as before. A bad trailer costs speed, not
 * pixels. (The tile tables are hashed as this machine holds them, so a file moved to a machine
 * of the other byte order is cropped per request too.) */

#define EDGE_MAGIC "DQEDGES1"
#define EDGE_ENTRY 24
#define EDGE_FOOTER 40

static void put_le32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_le64(const uint8_t *b)
{
    return (uint64_t)get_le32(b) | (uint64_t)get_le32(b + 4) << 32;
}

/* The part of tile (col,row) that lies inside its level. */
static void tile_extent(const dq_pyr_level_t *lv, uint32_t col, uint32_t row, uint32_t *w,
                        uint32_t *h)
{
    *w = DQ_MIN(lv->tile_w, lv->width - col * lv->tile_w);
    *h = DQ_MIN(lv->tile_h, lv->height - row * lv->tile_h);
}

/* The slot of tile (col,row) in edge_off/edge_len, or -1 for a tile that is whole image. */
static long edge_slot(const dq_pyr_level_t *lv, uint32_t col, uint32_t row)
{
    if (col == lv->across - 1 && lv->width % lv->tile_w)
        return (long)row;
    if (row == lv->down - 1 && lv->height % lv->tile_h)
        return (long)lv->down + (long)col;
    return -1;
}

static uint64_t tiles_hash(const dq_pyramid_t *p)
{
    uint64_t h = 0;
    for (int l = 0; l < p->n_levels; l++) {
        const dq_pyr_level_t *lv = &p->levels[l];
        size_t n = (size_t)lv->across * lv->down;
        h = (h ^ dq_hash64(lv->offsets, n * sizeof(uint64_t))) * 0x100000001b3ULL;
        h = (h ^ dq_hash64(lv->counts, n * sizeof(uint32_t))) * 0x100000001b3ULL;
        h = (h ^ dq_hash64(lv->tables ? lv->tables : (uint8_t *)"", lv->tables_len)) *
            0x100000001b3ULL;
    }
    return h;
}

static void drop_edges(dq_pyramid_t *p)
{
    for (int l = 0; l < p->n_levels; l++) {
        free(p->levels[l].edge_off);
        free(p->levels[l].edge_len);
        p->levels[l].edge_off = NULL;
        p->levels[l].edge_len = NULL;
    }
}

/* Reads the trailer, if the file has a valid one, into the levels' edge slots. */
static void load_edges(dq_pyramid_t *p, int fd)
{
    uint8_t f[EDGE_FOOTER], *index = NULL;
    if (p->file_size < EDGE_FOOTER || pyr_read(p, fd, f, EDGE_FOOTER, p->file_size - EDGE_FOOTER) < 0 ||
        memcmp(f, EDGE_MAGIC, 8) != 0)
        return;
    uint64_t index_off = get_le64(f + 8);
    uint32_t n = get_le32(f + 16);
    uint64_t end = p->file_size - EDGE_FOOTER;
    if (n == 0 || index_off > end || end - index_off != (uint64_t)n * EDGE_ENTRY ||
        get_le64(f + 32) != tiles_hash(p))
        return;
    index = dq_xmalloc((size_t)n * EDGE_ENTRY);
    if (pyr_read(p, fd, index, (size_t)n * EDGE_ENTRY, index_off) < 0 ||
        dq_hash64(index, (size_t)n * EDGE_ENTRY) != get_le64(f + 24))
        goto bad;
    for (int l = 0; l < p->n_levels; l++) {
        dq_pyr_level_t *lv = &p->levels[l];
        if (lv->width % lv->tile_w || lv->height % lv->tile_h) {
            lv->edge_off = dq_xcalloc((size_t)lv->across + lv->down, sizeof(uint64_t));
            lv->edge_len = dq_xcalloc((size_t)lv->across + lv->down, sizeof(uint32_t));
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = index + (size_t)i * EDGE_ENTRY;
        uint32_t level = get_le32(e), col = get_le32(e + 4), row = get_le32(e + 8);
        uint32_t len = get_le32(e + 12);
        uint64_t off = get_le64(e + 16);
        if (level >= (uint32_t)p->n_levels)
            goto bad;
        dq_pyr_level_t *lv = &p->levels[level];
        long s = col < lv->across && row < lv->down ? edge_slot(lv, col, row) : -1;
        if (s < 0 || len < 4 || off > index_off || len > index_off - off)
            goto bad;
        lv->edge_off[s] = off;
        lv->edge_len[s] = len;
    }
    free(index);
    return;
bad:
    drop_edges(p);
    free(index);
}

/* Answers an edge tile from the trailer: 0 when appended to out, -1 on a read error, 1 when the
 * file holds no crop of exactly crop_w x crop_h for this tile (the caller crops). */
static int read_stored_edge(const dq_pyramid_t *p, int level, uint32_t col, uint32_t row,
                            uint32_t crop_w, uint32_t crop_h, dq_buf_t *out, dq_err_t *err)
{
    if (level < 0 || level >= p->n_levels)
        return 1;
    const dq_pyr_level_t *lv = &p->levels[level];
    if (!lv->edge_len || col >= lv->across || row >= lv->down)
        return 1;
    long s = edge_slot(lv, col, row);
    uint32_t w, h;
    tile_extent(lv, col, row, &w, &h);
    if (s < 0 || !lv->edge_len[s] || w != crop_w || h != crop_h)
        return 1;
    size_t n = lv->edge_len[s];
    dq_buf_reserve(out, n);
    uint8_t *base = (uint8_t *)out->data + out->len;
    if (pyr_read(p, p->fd, base, n, lv->edge_off[s]) < 0)
        return dq_err_set(err, DQ_EIO, 500, "%s: reading edge tile %u,%u of level %d: %s",
                          p->path, col, row, level, errno ? strerror(errno) : "unexpected end of file");
    if (base[0] != 0xFF || base[1] != 0xD8)
        return dq_err_set(err, DQ_EIO, 500, "%s: edge tile %u,%u of level %d is not a JPEG stream",
                          p->path, col, row, level);
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

static int write_full(int fd, const void *data, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const uint8_t *)data + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

int dq_pyramid_write_edges(const char *path, dq_err_t *err)
{
    int rc = -1, fd = -1;
    dq_buf_t crops = {0}, tile = {0};
    uint8_t *index = NULL;
    dq_pyramid_t *p = dq_pyramid_open(path, err);
    if (!p)
        return -1;
    uint32_t n = 0;
    for (int l = 0; l < p->n_levels; l++) {
        const dq_pyr_level_t *lv = &p->levels[l];
        if (lv->edge_len) { /* a valid trailer is there already */
            rc = 0;
            goto out;
        }
        for (uint32_t row = 0; row < lv->down; row++)
            for (uint32_t col = 0; col < lv->across; col++)
                n += edge_slot(lv, col, row) >= 0;
    }
    if (!p->info.jpeg_tiles || n == 0) { /* nothing to crop */
        rc = 0;
        goto out;
    }
    index = dq_xmalloc((size_t)n * EDGE_ENTRY);
    uint32_t i = 0;
    for (int l = 0; l < p->n_levels; l++) {
        const dq_pyr_level_t *lv = &p->levels[l];
        for (uint32_t row = 0; row < lv->down; row++)
            for (uint32_t col = 0; col < lv->across; col++) {
                if (edge_slot(lv, col, row) < 0)
                    continue;
                uint32_t w, h;
                tile_extent(lv, col, row, &w, &h);
                size_t before = crops.len;
                tile.len = 0;
                if (dq_pyr_read_tile(p, l, col, row, &tile, err) < 0 ||
                    crop_jpeg((const uint8_t *)tile.data, tile.len, w, h, &crops, err) < 0)
                    goto out;
                uint8_t *e = index + (size_t)i++ * EDGE_ENTRY;
                put_le32(e, (uint32_t)l);
                put_le32(e + 4, col);
                put_le32(e + 8, row);
                put_le32(e + 12, (uint32_t)(crops.len - before));
                put_le64(e + 16, p->file_size + before);
            }
    }
    uint8_t f[EDGE_FOOTER];
    memcpy(f, EDGE_MAGIC, 8);
    put_le64(f + 8, p->file_size + crops.len);
    put_le32(f + 16, n);
    put_le32(f + 20, 0);
    put_le64(f + 24, dq_hash64(index, (size_t)n * EDGE_ENTRY));
    put_le64(f + 32, tiles_hash(p));
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || write_full(fd, crops.data, crops.len) < 0 ||
        write_full(fd, index, (size_t)n * EDGE_ENTRY) < 0 || write_full(fd, f, sizeof f) < 0 ||
        fsync(fd) < 0) {
        dq_err_set(err, DQ_EIO, 500, "%s: appending edge tiles: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(index);
    dq_buf_free(&crops);
    dq_buf_free(&tile);
    dq_pyramid_unref(p);
    return rc;
}

int dq_pyramid_tile_tag(const dq_pyramid_t *p, int level, uint32_t col, uint32_t row,
                        uint32_t crop_w, uint32_t crop_h, uint64_t *tag)
{
    if (level < 0 || level >= p->n_levels || !p->info.jpeg_tiles)
        return 0;
    const dq_pyr_level_t *lv = &p->levels[level];
    if (col >= lv->across || row >= lv->down)
        return 0;
    crop_w = crop_w ? crop_w : lv->tile_w;
    crop_h = crop_h ? crop_h : lv->tile_h;
    if (crop_w != lv->tile_w || crop_h != lv->tile_h) { /* only a crop the trailer holds */
        long s = edge_slot(lv, col, row);
        uint32_t w, h;
        tile_extent(lv, col, row, &w, &h);
        if (s < 0 || !lv->edge_len || !lv->edge_len[s] || w != crop_w || h != crop_h)
            return 0;
    }
    uint64_t key[6] = {p->ident, (uint64_t)level, col, row, crop_w, crop_h};
    *tag = dq_hash64(key, sizeof key);
    return 1;
}

int dq_pyramid_tile_jpeg(dq_pyramid_t *p, int level, uint32_t col, uint32_t row, uint32_t crop_w,
                         uint32_t crop_h, dq_buf_t *out, dq_err_t *err)
{
    const uint32_t tw = p->info.tile_w, th = p->info.tile_h;
    if (crop_w == 0)
        crop_w = tw;
    if (crop_h == 0)
        crop_h = th;
    if (crop_w > tw || crop_h > th)
        return dq_err_set(err, DQ_EINVAL, 400, "crop %ux%u larger than tile %ux%u", crop_w, crop_h,
                          tw, th);
    if (crop_w == tw && crop_h == th)
        return dq_pyr_read_tile(p, level, col, row, out, err);
    int stored = read_stored_edge(p, level, col, row, crop_w, crop_h, out, err);
    if (stored <= 0) /* answered from the trailer, or a read error */
        return stored;

    /* Edge tile: read into a scratch buffer, then crop into out. */
    dq_buf_t raw = {0};
    int rc = dq_pyr_read_tile(p, level, col, row, &raw, err);
    if (rc == 0)
        rc = crop_jpeg((const uint8_t *)raw.data, raw.len, crop_w, crop_h, out, err);
    dq_buf_free(&raw);
    return rc;
}
