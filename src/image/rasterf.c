/*
 * image/rasterf.c: whole images as numbers, for the analysis modules (src/spectral/ and the
 * like) that compute on pixels in memory and must not include vips themselves (house style
 * 3). Loads a file (8- or 16-bit, 1 or 3 bands, through the loader allow-list) into floats,
 * saves 16-bit tiled pyramids and 8-bit PNGs, and reads a scaled region of a stored pyramid
 * for rendering. It does not interpret values (reflectance scaling belongs to the caller).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>
#include <vips/vips.h>

#include "blob/blob.h"
#include "image/image.h"

static int vfail(dq_err_t *err, int code, const char *what, const char *path)
{
    dq_err_set(err, code, 0, "%s %s: %s", what, path, vips_error_buffer());
    vips_error_clear();
    return -1;
}

/* ---------------------------------------------------------------- stored files (src/blob) */

/* A libvips source over an object of an object store: every read goes through the store's
 * read-through block cache (dq_blob_obj_read), so a tile of a band costs the blocks that hold
 * its bytes, not a download of the band. The handle is the source's own, freed with it. */
typedef struct {
    dq_blob_obj_t *obj;
    uint64_t pos;
} obj_src_t;

static void obj_src_free(void *p)
{
    obj_src_t *s = p;
    dq_blob_obj_free(s->obj);
    free(s);
}

static gint64 obj_src_read(VipsSourceCustom *sc, void *buf, gint64 len, void *ud)
{
    (void)sc;
    obj_src_t *s = ud;
    uint64_t size = dq_blob_obj_size(s->obj);
    if (len <= 0 || s->pos >= size)
        return 0;
    size_t n = (size_t)DQ_MIN((uint64_t)len, size - s->pos);
    dq_err_t e = {0};
    if (dq_blob_obj_read(s->obj, buf, n, s->pos, &e) < 0)
        return -1;
    s->pos += n;
    return (gint64)n;
}

static gint64 obj_src_seek(VipsSourceCustom *sc, gint64 off, int whence, void *ud)
{
    (void)sc;
    obj_src_t *s = ud;
    gint64 base = whence == SEEK_CUR   ? (gint64)s->pos
                  : whence == SEEK_END ? (gint64)dq_blob_obj_size(s->obj)
                                       : 0;
    if (base + off < 0)
        return -1;
    s->pos = (uint64_t)(base + off);
    return (gint64)s->pos;
}

/* Opens key of store b as a vips image (page > 0: that page of a TIFF). A file store opens the
 * file itself (one pread per tile, as before the store existed); an object store reads through
 * obj_src_t. New reference (the caller unrefs), or NULL with err (DQ_ENOTFOUND, DQ_EIO). */
static VipsImage *open_key(dq_blob_t *b, const char *key, int page, VipsAccess access,
                           dq_err_t *err)
{
    VipsImage *im = NULL;
    char *path = dq_blob_file_path(b, key);
    if (path) {
        if (!dq_fs_exists(path))
            dq_err_set(err, DQ_ENOTFOUND, 404, "%s: no such file", key);
        else if (!(im = page > 0
                            ? vips_image_new_from_file(path, "page", page, "access", access, NULL)
                            : vips_image_new_from_file(path, "access", access, NULL)))
            vfail(err, DQ_EIO, "cannot read image", key);
        free(path);
        return im;
    }
    dq_blob_obj_t *obj = dq_blob_obj_open(b, key, err);
    if (!obj)
        return NULL;
    VipsSourceCustom *sc = vips_source_custom_new();
    obj_src_t *s = dq_xcalloc(1, sizeof(*s));
    s->obj = obj;
    g_object_set_data_full(G_OBJECT(sc), "dq-blob-obj", s, obj_src_free);
    g_signal_connect(sc, "read", G_CALLBACK(obj_src_read), s);
    g_signal_connect(sc, "seek", G_CALLBACK(obj_src_seek), s);
    im = page > 0
             ? vips_image_new_from_source(VIPS_SOURCE(sc), "", "page", page, "access", access, NULL)
             : vips_image_new_from_source(VIPS_SOURCE(sc), "", "access", access, NULL);
    g_object_unref(sc); /* the image's loader keeps its own reference */
    if (!im)
        vfail(err, DQ_EIO, "cannot read image", key);
    return im;
}

/* Checks t[0] (opened from `what`) for size, bands and format, and leaves in t[2] the 1- or
 * 3-band image cast to `to`; *bits gets the file's depth. t[0..2] are the caller's to unref. */
static int check_cast(const char *what, uint64_t max_pixels, VipsBandFormat to, VipsImage *t[3],
                      int *bits, dq_err_t *err)
{
    const char *path = what;
    int w = t[0]->Xsize, h = t[0]->Ysize, bands = t[0]->Bands;
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        return dq_err_set(err, DQ_ELIMIT, 0, "%s: %dx%d is more than %llu pixels", path, w, h,
                          (unsigned long long)max_pixels);
    }
    if (bands == 2 || bands == 4) /* drop alpha */
        bands--;
    if (bands != 1 && bands != 3) {
        return dq_err_set(err, DQ_EUNSUP, 0, "%s: %d bands (1 or 3 expected)", path, t[0]->Bands);
    }
    VipsBandFormat f = t[0]->BandFmt;
    if (f != VIPS_FORMAT_UCHAR && f != VIPS_FORMAT_USHORT) {
        return dq_err_set(err, DQ_EUNSUP, 0, "%s: %s pixels (8- or 16-bit unsigned expected)", path,
                          vips_enum_nick(VIPS_TYPE_BAND_FORMAT, f));
    }
    if (vips_extract_band(t[0], &t[1], 0, "n", bands, NULL) || vips_cast(t[1], &t[2], to, NULL))
        return vfail(err, DQ_EIO, "decode", path);
    *bits = f == VIPS_FORMAT_USHORT ? 16 : 8;
    return 0;
}

/* Opens path and check_cast()s it. */
static int open_cast(const char *path, uint64_t max_pixels, VipsBandFormat to, VipsImage *t[3],
                     int *bits, dq_err_t *err)
{
    if (!dq_fs_exists(path))
        return dq_err_set(err, DQ_ENOTFOUND, 0, "%s: no such file", path);
    if (!(t[0] = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL))) {
        return vfail(err, DQ_EINVAL, "cannot read image", path);
    }
    return check_cast(path, max_pixels, to, t, bits, err);
}

/* Decodes t[2] (from check_cast) into a buffer from vips' allocator (g_free). */
static void *decode_cast(VipsImage *t[3], const char *what, size_t elem, int *w, int *h, int *bands,
                         dq_err_t *err)
{
    *w = t[2]->Xsize;
    *h = t[2]->Ysize;
    *bands = t[2]->Bands;
    size_t len = 0;
    void *px = vips_image_write_to_memory(t[2], &len);
    if (!px || len != (size_t)*w * *h * *bands * elem) {
        g_free(px);
        px = NULL;
        vfail(err, DQ_EINVAL, "decode (truncated or corrupt?)", what);
    }
    return px;
}

/* Decodes path as `to` pixels (elem bytes each) into a buffer from vips' allocator (g_free). */
static void *load_as(const char *path, uint64_t max_pixels, VipsBandFormat to, size_t elem, int *w,
                     int *h, int *bands, int *bits, dq_err_t *err)
{
    VipsImage *t[3] = {NULL};
    void *px = NULL;
    if (open_cast(path, max_pixels, to, t, bits, err) == 0)
        px = decode_cast(t, path, elem, w, h, bands, err);
    for (int i = 0; i < 3; i++)
        VIPS_UNREF(t[i]);
    return px;
}

/* Hands floats from vips' allocator over in malloc'd memory, so that callers free() them. */
static void to_malloc(float *px, dq_rasterf_t *out)
{
    size_t len = (size_t)out->w * out->h * out->bands * sizeof(float);
    out->px = dq_xmalloc(len);
    memcpy(out->px, px, len);
    g_free(px);
}

int dq_image_load_float(const char *path, uint64_t max_pixels, dq_rasterf_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    float *px = load_as(path, max_pixels, VIPS_FORMAT_FLOAT, sizeof(float), &out->w, &out->h,
                        &out->bands, &out->bits, err);
    if (!px)
        return -1;
    to_malloc(px, out);
    return 0;
}

int dq_image_load_float_blob(struct dq_blob *b, const char *key, uint64_t max_pixels,
                             dq_rasterf_t *out, dq_err_t *err)
{
    VipsImage *t[3] = {NULL};
    float *px = NULL;
    memset(out, 0, sizeof(*out));
    if ((t[0] = open_key(b, key, 0, VIPS_ACCESS_SEQUENTIAL, err)) &&
        check_cast(key, max_pixels, VIPS_FORMAT_FLOAT, t, &out->bits, err) == 0)
        px = decode_cast(t, key, sizeof(float), &out->w, &out->h, &out->bands, err);
    for (int i = 0; i < 3; i++)
        VIPS_UNREF(t[i]);
    if (!px)
        return -1;
    to_malloc(px, out);
    return 0;
}

void dq_rasterf_free(dq_rasterf_t *r)
{
    if (!r)
        return;
    free(r->px);
    r->px = NULL;
}

/* ---------------------------------------------------------------- uncompressed frames, mapped */

/* libtiff's messages while we only look at a file's layout: nothing to report (a file we do not
 * map goes to vips, which says what is wrong with it). */
static int tiff_quiet(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)ud, (void)module, (void)fmt, (void)ap;
    return 1;
}

/* The pixels of an uncompressed 16-bit TIFF whose strips lie back to back in the file, in this
 * machine's byte order (what multispectral cameras write, and `danqing generate`'s raw
 * frames): the file mapped read-only, px pointing at its first strip. Such a frame needs no
 * decoding, and mapping it skips what loading costs otherwise (perf, `spectral add` of the
 * scroll: read() copies, fresh pages zeroed by the kernel, vips' copy into the buffer). 1 when
 * mapped, 0 when the file is not of that kind (the caller decodes it with vips), never an
 * error. A file truncated while mapped would fault on access: frames are inputs that `add`
 * reads once, not files anyone rewrites meanwhile. */
static int map_u16(const char *path, uint64_t max_pixels, dq_raster16_t *out)
{
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_quiet, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_quiet, NULL);
    TIFF *tif = TIFFOpenExt(path, "rm", opts); /* m: libtiff maps nothing itself */
    TIFFOpenOptionsFree(opts);
    if (!tif)
        return 0;
    uint32_t w = 0, h = 0;
    uint16_t bps = 0, spp = 1, comp = 0, planar = PLANARCONFIG_CONTIG, fmt = SAMPLEFORMAT_UINT;
    uint64_t *offs = NULL, *counts = NULL, start = 0, total = 0;
    int ok = !TIFFIsTiled(tif) && !TIFFIsByteSwapped(tif) &&
             TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) && TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) &&
             TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps) && bps == 16 &&
             TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp) && comp == COMPRESSION_NONE &&
             TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp) && (spp == 1 || spp == 3) &&
             TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar) &&
             planar == PLANARCONFIG_CONTIG &&
             TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt) && fmt == SAMPLEFORMAT_UINT &&
             w > 0 && h > 0 && (uint64_t)w * h <= max_pixels &&
             TIFFGetField(tif, TIFFTAG_STRIPOFFSETS, &offs) &&
             TIFFGetField(tif, TIFFTAG_STRIPBYTECOUNTS, &counts) && offs && counts;
    uint32_t n = ok ? TIFFNumberOfStrips(tif) : 0;
    if (ok && n > 0) {
        start = offs[0];
        for (uint32_t i = 0; i < n && ok; i++) {
            ok = offs[i] == start + total; /* back to back, in order */
            total += counts[i];
        }
    }
    TIFFClose(tif);
    uint64_t want = (uint64_t)w * h * spp * 2;
    if (!ok || n == 0 || total < want || start % 2)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        return 0;
    void *base = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size >= start + want)
        base = mmap(NULL, (size_t)(start + want), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return 0;
    /* Rows are read in order, a few strips at a time, by one thread per band. */
    madvise(base, (size_t)(start + want), MADV_SEQUENTIAL);
    out->w = (int)w;
    out->h = (int)h;
    out->bands = spp;
    out->bits = 16;
    out->px = (uint16_t *)((char *)base + start);
    out->map = base;
    out->map_len = (size_t)(start + want);
    return 1;
}

int dq_image_load_u16(const char *path, uint64_t max_pixels, dq_raster16_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (map_u16(path, max_pixels, out))
        return 0;
    /* vips decodes straight into this buffer (in parallel); it is handed over as it is, so the
     * frame exists once in memory, and freed with g_free in dq_raster16_free. */
    out->px = load_as(path, max_pixels, VIPS_FORMAT_USHORT, sizeof(uint16_t), &out->w, &out->h,
                      &out->bands, &out->bits, err);
    return out->px ? 0 : -1;
}

void dq_raster16_free(dq_raster16_t *r)
{
    if (!r)
        return;
    if (r->map)
        munmap(r->map, r->map_len);
    else
        g_free(r->px);
    r->px = NULL;
    r->map = NULL;
    r->map_len = 0;
}

static int save_u16(VipsImage *im, const char *path, int bands, dq_err_t *err)
{
    im->Type = bands == 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16;
    /* Tiled pyramid (256 px tiles like every other pyramid here), uncompressed. Measured on
     * the benchmark scroll (bench/results/issue11-session22.md): calibrated 16-bit bands are
     * mostly sensor noise in their low bits, so the best cheap lossless coding, zstd level 1
     * with the horizontal predictor (what was stored until session 22), made them only 1.28x
     * smaller (302 against 386 MB) for 0.4-0.6 CPU s of `spectral add`'s ~3 (zstd and the
     * predictor: 20 % of its profile), and every tile served had to be decoded; deflate and
     * LZW cost 3.5-5x zstd's time for no better ratio. The decoded pixels are the same either
     * way (bands written before read as before: libtiff decodes what the file says). */
    int r = vips_tiffsave(im, path, "tile", TRUE, "tile_width", 256, "tile_height", 256, "pyramid",
                          TRUE, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_NONE, "strip", TRUE,
                          NULL);
    return r ? vfail(err, DQ_EIO, "tiffsave", path) : 0;
}

int dq_image_save_u16_pyramid(const char *path, const uint16_t *px, int w, int h, int bands,
                              dq_err_t *err)
{
    VipsImage *im =
        vips_image_new_from_memory(px, (size_t)w * h * bands * 2, w, h, bands, VIPS_FORMAT_USHORT);
    if (!im)
        return vfail(err, DQ_EIO, "image", path);
    int r = save_u16(im, path, bands, err);
    g_object_unref(im);
    return r;
}

typedef struct {
    dq_image_fill16_fn fill;
    void *ud;
    int w, bands;
} gen16_t;

static int gen16(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    (void)seq;
    (void)b;
    (void)stop;
    const gen16_t *g = a;
    const VipsRect *r = &out->valid;
    if (r->left == 0 && r->width == g->w) {
        g->fill(g->ud, r->top, r->height, (uint16_t *)VIPS_REGION_ADDR(out, 0, r->top),
                VIPS_REGION_LSKIP(out) / sizeof(uint16_t));
        return 0;
    }
    /* A part of the width (vips asks for whole strips when it writes TIFF; any other caller
     * still gets the right pixels): whole rows, then the requested columns. */
    size_t row = (size_t)g->w * g->bands;
    uint16_t *tmp = dq_xmalloc(row * r->height * sizeof(uint16_t));
    g->fill(g->ud, r->top, r->height, tmp, row);
    for (int y = 0; y < r->height; y++)
        memcpy(VIPS_REGION_ADDR(out, r->left, r->top + y),
               tmp + y * row + (size_t)r->left * g->bands,
               (size_t)r->width * g->bands * sizeof(uint16_t));
    free(tmp);
    return 0;
}

int dq_image_save_u16_pyramid_gen(const char *path, int w, int h, int bands,
                                  dq_image_fill16_fn fill, void *ud, dq_err_t *err)
{
    VipsImage *im = vips_image_new();
    vips_image_init_fields(im, w, h, bands, VIPS_FORMAT_USHORT, VIPS_CODING_NONE,
                           bands == 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16, 1.0,
                           1.0);
    gen16_t *g = vips_malloc(VIPS_OBJECT(im), sizeof(*g));
    *g = (gen16_t){fill, ud, w, bands};
    /* tiffsave asks for one row at a time; a line cache turns that into full-width strips of
     * 128 rows for fill (a strip costs the resampling kernel's 5 extra source rows, a row
     * alone would cost 6 source rows per output row). */
    VipsImage *cached = NULL;
    if (vips_image_pipelinev(im, VIPS_DEMAND_STYLE_THINSTRIP, NULL) ||
        vips_image_generate(im, NULL, gen16, NULL, g, NULL) ||
        vips_linecache(im, &cached, "tile_height", 128, "access", VIPS_ACCESS_SEQUENTIAL,
                       "threaded", TRUE, NULL)) {
        g_object_unref(im);
        return vfail(err, DQ_EIO, "image", path);
    }
    int r = save_u16(cached, path, bands, err);
    g_object_unref(cached);
    g_object_unref(im);
    return r;
}

int dq_image_save_png8(const char *path, const uint8_t *px, int w, int h, int bands, dq_err_t *err)
{
    VipsImage *im =
        vips_image_new_from_memory(px, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    if (!im)
        return vfail(err, DQ_EIO, "image", path);
    im->Type = bands == 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    int r = vips_pngsave(im, path, "compression", 6, "strip", TRUE, NULL);
    g_object_unref(im);
    return r ? vfail(err, DQ_EIO, "pngsave", path) : 0;
}

int dq_image_read_region_u16(struct dq_blob *b, const char *key, int x, int y, int w, int h,
                             int out_w, int out_h, dq_rasterf_t *out, dq_err_t *err)
{
    VipsImage *t[5] = {NULL};
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!(t[0] = open_key(b, key, 0, VIPS_ACCESS_RANDOM, err)))
        goto out;
    int W = t[0]->Xsize, H = t[0]->Ysize;
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + w > W || y + h > H || out_w <= 0 || out_h <= 0) {
        dq_err_set(err, DQ_EINVAL, 400, "region %d,%d,%d,%d outside the %dx%d image", x, y, w, h, W,
                   H);
        goto out;
    }
    /* The smallest pyramid page that still has at least out_w x out_h for the region. */
    int page = 0, n_pages = vips_image_get_n_pages(t[0]);
    double f = 1;
    while (page + 1 < n_pages && (double)w / (f * 2) >= out_w && (double)h / (f * 2) >= out_h) {
        page++;
        f *= 2;
    }
    if (page > 0) {
        VIPS_UNREF(t[0]);
        if (!(t[0] = open_key(b, key, page, VIPS_ACCESS_RANDOM, err)))
            goto out;
    }
    int lx = (int)(x / f), ly = (int)(y / f);
    int lw = DQ_MAX(1, DQ_MIN(t[0]->Xsize - lx, (int)((x + w) / f + 0.999) - lx));
    int lh = DQ_MAX(1, DQ_MIN(t[0]->Ysize - ly, (int)((y + h) / f + 0.999) - ly));
    if (vips_extract_area(t[0], &t[1], lx, ly, lw, lh, NULL) ||
        vips_cast(t[1], &t[2], VIPS_FORMAT_FLOAT, NULL) ||
        vips_resize(t[2], &t[3], (double)out_w / lw, "vscale", (double)out_h / lh, "kernel",
                    VIPS_KERNEL_LINEAR, NULL)) {
        vfail(err, DQ_EIO, "region", key);
        goto out;
    }
    size_t len = 0;
    float *px = vips_image_write_to_memory(t[3], &len);
    if (!px) {
        vfail(err, DQ_EIO, "region", key);
        goto out;
    }
    out->w = t[3]->Xsize;
    out->h = t[3]->Ysize;
    out->bands = t[3]->Bands;
    out->bits = 16;
    out->px = dq_xmalloc(len);
    memcpy(out->px, px, len);
    g_free(px);
    rc = 0;
out:
    for (int i = 0; i < 5; i++)
        VIPS_UNREF(t[i]);
    return rc;
}

int dq_image_encode_u8(const uint8_t *px, int w, int h, int bands, int format, int quality,
                       dq_buf_t *out, dq_err_t *err)
{
    VipsImage *im =
        vips_image_new_from_memory(px, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    if (!im)
        return vfail(err, DQ_EIO, "image", "encode");
    im->Type = bands == 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
    void *buf = NULL;
    size_t len = 0;
    int q = quality > 0 && quality <= 100 ? quality : 90;
    int r;
    switch (format) {
    case DQ_RF_PNG:
        r = vips_pngsave_buffer(im, &buf, &len, "compression", 3, "strip", TRUE, NULL);
        break;
    case DQ_RF_WEBP:
        r = vips_webpsave_buffer(im, &buf, &len, "Q", q, "strip", TRUE, NULL);
        break;
    case DQ_RF_TIF:
        r = vips_tiffsave_buffer(im, &buf, &len, "strip", TRUE, NULL);
        break;
    default:
        r = vips_jpegsave_buffer(im, &buf, &len, "Q", q, "strip", TRUE, NULL);
        break;
    }
    g_object_unref(im);
    if (r)
        return vfail(err, DQ_EIO, "encode", "region");
    dq_buf_append(out, buf, len);
    g_free(buf);
    return 0;
}
