/*
 * image: everything that touches pixels or image files. The pyramid reader (raw stored
 * tiles by pread, no decode), the renderer (decode only the needed tiles of one level, then
 * crop/scale/rotate/quality/encode) and ingest (master -> tiled pyramidal JPEG TIFF).
 * Only this module includes vips, tiff and jpeg headers (house style 3).
 */
#ifndef DQ_IMAGE_H
#define DQ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ process set-up */

/* Starts libvips once per process (src/image/vips.c): vips_init(argv0), untrusted loaders
 * blocked, then every loader blocked except an allow-list (jpeg, png, webp, tiff, jp2k and vips'
 * own .v), operation cache limited to vips_cache_mb MiB, and vips worker threads per pipeline set
 * to concurrency (0 keeps vips' default). Call from main before any thread uses vips; a second
 * call is a no-op that returns 0. Returns 0, or -1 with err filled (DQ_EINVAL for bad numbers,
 * DQ_EIO when vips fails to start). */
int dq_image_init(const char *argv0, int vips_cache_mb, int concurrency, dq_err_t *err);
/* Stops libvips (vips_shutdown). Call once at exit, after every vips-using thread is done. */
void dq_image_shutdown(void);
/* A thread that used vips (rendered anything) calls this before it exits, so that vips frees its
 * per-thread buffers (vips_thread_shutdown). Harmless on a thread that never used vips. */
void dq_image_thread_done(void);

/* ================================================================ pyramid reader */

/* An open tiled pyramidal TIFF (src/image/pyramid.c): geometry, per-level tile offsets and byte
 * counts and the JPEGTables, all read once at open, plus one file descriptor. Immutable after
 * open, so any number of threads may read tiles from one pyramid at once. Reference counted. */
typedef struct dq_pyramid dq_pyramid_t;

typedef struct {
    uint32_t width, height;
} dq_level_dim_t;

typedef struct {
    uint32_t width, height, tile_w, tile_h; /* full resolution; every level has the same tiles */
    int n_levels;
    dq_level_dim_t levels[32]; /* [0] full resolution, each next one smaller */
    int bands;                 /* 1 or 3 */
    int jpeg_tiles;            /* 1 when tiles are JPEG-compressed (dq_pyramid_tile_jpeg works) */
} dq_pyramid_info_t;

/* Opens a tiled pyramidal TIFF as `vips tiffsave --tile --pyramid` writes it: levels as
 * successive directories, or as SubIFDs of the first (--subifd); both are detected. Reads every
 * level's geometry, tile offsets and byte counts and the JPEGTables once and keeps one fd.
 * Returns a new pyramid (refcount 1; release with dq_pyramid_unref), or NULL with err filled:
 * DQ_ENOTFOUND when the file is missing, DQ_EUNSUP for a TIFF that is not a tiled 8-bit 1- or
 * 3-band pyramid, DQ_EIO for a corrupt or truncated file. */
dq_pyramid_t *dq_pyramid_open(const char *path, dq_err_t *err);
/* Opens the pyramid stored under key in store b (src/blob/blob.h). For a file store this is
 * dq_pyramid_open of the key's file: the same fd and one pread per tile. For an object store
 * the directories are read with ranged GETs and every tile read goes through the store's
 * read-through cache; the object's version (ETag) is fixed at open, and dq_pyramid_path then
 * answers "store:KEY". Errors as dq_pyramid_open (DQ_ENOTFOUND for a missing object). */
struct dq_blob;
dq_pyramid_t *dq_pyramid_open_blob(struct dq_blob *b, const char *key, dq_err_t *err);
/* The version (ETag) of the object an object-store pyramid was opened at (borrowed, valid while
 * a reference is held), or NULL for a file. */
const char *dq_pyramid_obj_tag(const dq_pyramid_t *p);
/* For an object-store pyramid whose read failed: 1 when the object now holds another version
 * or is gone (blob.h dq_blob_obj_replaced: one HEAD), so the caller should open it again and
 * retry once; 0 otherwise and always for a file (files are re-stat'ed by the registry); -1
 * with err when the store did not answer. Thread-safe. */
int dq_pyramid_replaced(dq_pyramid_t *p, dq_err_t *err);
/* Takes one more reference. Thread-safe (atomic). */
void dq_pyramid_ref(dq_pyramid_t *p);
/* Drops one reference; the last one closes the fd and frees. NULL is ok. Thread-safe (atomic). */
void dq_pyramid_unref(dq_pyramid_t *p);
/* Borrowed, valid while the caller holds a reference. */
const dq_pyramid_info_t *dq_pyramid_info(const dq_pyramid_t *p);
/* The path it was opened from; borrowed, valid while the caller holds a reference. */
const char *dq_pyramid_path(const dq_pyramid_t *p);
/* Appends to out a complete, standalone JPEG for stored tile (col,row) of level, without decoding
 * it: one pread() of the tile, spliced with the JPEGTables. Stored tiles are always tile_w x
 * tile_h, padded at the right and bottom edges; with crop_w/crop_h smaller than that (edge tiles)
 * the JPEG is cropped to exactly crop_w x crop_h, losslessly (turbojpeg transform, no decode)
 * when the libjpeg-turbo crop gives that size, else by decode + crop + re-encode at Q90; a file
 * with a trailer from dq_pyramid_write_edges holds that crop already and it is read as stored.
 * crop_w/crop_h of 0 mean the full stored tile. Thread-safe; out is caller-owned and appended
 * to. Errors: DQ_EINVAL for a bad level/col/row/crop, DQ_EUNSUP when tiles are not JPEG,
 * DQ_EIO for read errors or a corrupt tile. */
int dq_pyramid_tile_jpeg(dq_pyramid_t *p, int level, uint32_t col, uint32_t row, uint32_t crop_w,
                         uint32_t crop_h, dq_buf_t *out, dq_err_t *err);

/* When dq_pyramid_tile_jpeg with these arguments answers bytes stored in the file (a whole
 * tile, or an edge crop from the trailer) rather than a crop made now, sets *tag to a value
 * that names those bytes: the same for the same file (device, inode, size, mtime) and tile,
 * in every process, and different for a replaced file. Returns 1 then, else 0 (the caller
 * hashes the answer instead). Thread-safe, no I/O. */
int dq_pyramid_tile_tag(const dq_pyramid_t *p, int level, uint32_t col, uint32_t row,
                        uint32_t crop_w, uint32_t crop_h, uint64_t *tag);

/* Crops every edge tile of the pyramid at path once (as dq_pyramid_tile_jpeg would) and appends
 * the crops, an index and a footer to the file, after everything its TIFF structure points at;
 * dq_pyramid_tile_jpeg then answers edge tiles with one pread. A no-op for a file that already
 * has a valid trailer, has no edge tiles, or whose tiles are not JPEG. Not safe while another
 * thread or process writes the file; readers that opened it before keep cropping. Returns 0,
 * or -1 with err filled (the file may then end in a partial trailer, which readers ignore). */
int dq_pyramid_write_edges(const char *path, dq_err_t *err);

/* ================================================================ renderer */

enum { DQ_RQ_DEFAULT, DQ_RQ_COLOR, DQ_RQ_GRAY, DQ_RQ_BITONAL };
enum { DQ_RF_JPG, DQ_RF_PNG, DQ_RF_WEBP, DQ_RF_TIF };

/* What to render (src/image/render.c); the IIIF planner fills it. */
typedef struct {
    int level;               /* pyramid level to read */
    uint32_t lx, ly, lw, lh; /* region in that level's pixels (already clipped) */
    uint32_t out_w, out_h;   /* size after scaling, before rotation; may exceed lw,lh (upscale) */
    double rotation;         /* degrees clockwise, 0 <= r <= 360, any angle; other than right
                              * angles give a bigger canvas: white for jpg, transparent for
                              * png/webp/tif (IIIF Image 3.0 §4.3) */
    int mirror;              /* flip horizontally BEFORE rotating (IIIF Image 3.0 §4.3) */
    int quality, format;     /* DQ_RQ_*, DQ_RF_*; bitonal = only 0 and 255; gray = luminance */
    int jpeg_quality;        /* 1..100 for jpg/webp output; 0 means 90 */
    int64_t deadline_us;     /* dq_now_us() past which the render gives up; 0 = none */
    const _Atomic int *cancel; /* when non-NULL and set, the render gives up (like the
                                * deadline); the server's stop flag */
    /* Metadata written into the file (downloads, issue 16), borrowed; NULL/0 = none, and the
     * output is stripped of all metadata as before. xmp: an XMP packet (JPEG APP1, PNG iTXt,
     * TIFF XMLPacket, WebP XMP chunk); iptc: a Photoshop image resource block with IPTC-IIM
     * (JPEG APP13, TIFF tag 33723). Either one keeps the encoder's own small EXIF/ICC. */
    const void *xmp, *iptc;
    size_t xmp_len, iptc_len;
} dq_render_spec_t;

/* Renders spec from p and appends the encoded image to out (caller-owned). Decodes only the
 * stored tiles of spec->level that intersect the region, at the smallest libjpeg DCT scale
 * (1/2, 1/4, 1/8) that still leaves at least out_w x out_h pixels; non-JPEG pyramids go through
 * vips' tiff loader. Memory is proportional to the region, never to the image. Thread-safe.
 * Errors: DQ_EINVAL for a spec outside the level, DQ_ELIMIT for a region too large to decode
 * (more than 2^28 decoded pixels), DQ_ELIMIT with http_status 503 when the deadline passed
 * (checked between tiles, rows and vips tiles, so the render stops within ~a tile's work),
 * DQ_EIO for unreadable tiles or a vips failure. */
int dq_image_render(dq_pyramid_t *p, const dq_render_spec_t *spec, dq_buf_t *out, dq_err_t *err);

/* ================================================================ raster I/O for analysis */
/* src/image/rasterf.c: whole images as floats for modules that compute in memory (spectral/)
 * and must not include vips. Needs dq_image_init first. Thread-safe. */

typedef struct {
    int w, h, bands, bits; /* bands 1 or 3; bits 8 or 16: what the file held */
    float *px;             /* w*h*bands, interleaved, in the file's units (owned, malloc) */
} dq_rasterf_t;

/* Loads an 8- or 16-bit, 1- or 3-band image (alpha dropped) through the loader allow-list.
 * Refuses more than max_pixels (DQ_ELIMIT) before decoding. Errors: DQ_ENOTFOUND, DQ_EINVAL
 * (unreadable or corrupt), DQ_EUNSUP (other formats or band counts). Free with dq_rasterf_free. */
int dq_image_load_float(const char *path, uint64_t max_pixels, dq_rasterf_t *out, dq_err_t *err);
/* Like dq_image_load_float, from key of store b (src/blob/blob.h): a file store reads the
 * file, an object store reads through its block cache (no whole copy on disk). */
int dq_image_load_float_blob(struct dq_blob *b, const char *key, uint64_t max_pixels,
                             dq_rasterf_t *out, dq_err_t *err);
/* Frees r->px; NULL-safe. */
void dq_rasterf_free(dq_rasterf_t *r);

/* The same pixels as 16-bit integers without a float copy: what a per-row pipeline (spectral
 * add) wants, at half the memory of floats and no second copy of the frame. */
typedef struct {
    int w, h, bands, bits; /* bands 1 or 3; bits 8 or 16: what the file held */
    uint16_t *px;          /* w*h*bands, interleaved, in the file's units (8-bit: 0..255); owned,
                            * free with dq_raster16_free (it comes from vips' allocator, or is
                            * the mapped file: read-only then) */
    void *map;             /* the mapping px lies in, or NULL (private to rasterf.c) */
    size_t map_len;
} dq_raster16_t;

/* Like dq_image_load_float, into a dq_raster16_t. Same errors. Thread-safe. An uncompressed
 * 16-bit TIFF with its strips back to back in native byte order (what cameras write) is
 * mapped, not read: px is then read-only. */
int dq_image_load_u16(const char *path, uint64_t max_pixels, dq_raster16_t *out, dq_err_t *err);
/* Frees r->px; NULL-safe. */
void dq_raster16_free(dq_raster16_t *r);
/* Writes px (w*h*bands uint16, borrowed) as a tiled (256) pyramidal uncompressed TIFF at path
 * (why uncompressed: rasterf.c, save_u16). */
int dq_image_save_u16_pyramid(const char *path, const uint16_t *px, int w, int h, int bands,
                              dq_err_t *err);
/* Like dq_image_save_u16_pyramid (the same file, byte for byte), with the pixels made on demand:
 * fill(ud, y0, n, px, stride) writes rows y0 .. y0 + n (w*bands uint16 each, interleaved) at
 * px, row k at px + k * stride elements. vips asks for the rows in strips, from several of its
 * threads at once, in any order: fill must be thread-safe and depend on (y0, n) only. No copy
 * of the whole image exists, so a large band costs no memory beyond a few strips. */
typedef void (*dq_image_fill16_fn)(void *ud, int y0, int n, uint16_t *px, size_t stride);
int dq_image_save_u16_pyramid_gen(const char *path, int w, int h, int bands,
                                  dq_image_fill16_fn fill, void *ud, dq_err_t *err);
/* Writes px (w*h*bands uint8, borrowed) as PNG. */
int dq_image_save_png8(const char *path, const uint8_t *px, int w, int h, int bands,
                       dq_err_t *err);
/* Reads the region (x, y, w, h) of full-resolution pixels of a pyramid written by
 * dq_image_save_u16_pyramid (or of an 8-bit PNG), stored under key in store b (src/blob: a
 * file store reads the file, an object store reads through its block cache), from the
 * smallest level that still has out_w x out_h for it, scaled (linear) to out_w x out_h, as
 * floats in stored units. Errors: DQ_ENOTFOUND, DQ_EINVAL (400) for a region outside the
 * image, DQ_EIO. Free with dq_rasterf_free. Thread-safe. */
int dq_image_read_region_u16(struct dq_blob *b, const char *key, int x, int y, int w, int h,
                             int out_w, int out_h, dq_rasterf_t *out, dq_err_t *err);
/* Encodes px (w*h*bands uint8, borrowed; bands 1 or 3) as format (DQ_RF_*) with JPEG/WebP
 * quality (0 = 90) and appends it to out. */
int dq_image_encode_u8(const uint8_t *px, int w, int h, int bands, int format, int quality,
                       dq_buf_t *out, dq_err_t *err);
/* ================================================================ pixels for analysis */
/* (src/image/pixels.c, issue 13) Plain 8-bit sRGB pixels for style analysis. */

/* rgb is owned (free with dq_pixels_free); rows are stride bytes apart, 3 bytes a pixel. */
typedef struct {
    uint8_t *rgb;
    int width, height;
    size_t stride;
} dq_pixels_t;
/* A file (a master or a pyramid) shrunk on load so that its long side is at most side. */
int dq_image_pixels_file(const char *path, int side, dq_pixels_t *out, dq_err_t *err);
/* An image in memory (an upload: untrusted). The header is checked first: DQ_EINVAL (400) for
 * what is not an allowed image format, DQ_ELIMIT (413) above max_pixels (0: no limit). */
int dq_image_pixels_buffer(const void *buf, size_t len, int side, uint64_t max_pixels,
                           dq_pixels_t *out, dq_err_t *err);
/* The region x,y,w,h (full-resolution pixels, clipped to the image) of a pyramid, read from the
 * smallest level that still has side pixels across it. DQ_EINVAL (400) when it lies outside. */
int dq_image_pixels_region(const char *pyramid_path, int x, int y, int w, int h, int side,
                           dq_pixels_t *out, dq_err_t *err);
/* NULL-safe; frees p->rgb. */
void dq_pixels_free(dq_pixels_t *p);

/* ================================================================ ingest */
/* (owned by the ingest author) src/image/ingest.c. Needs dq_image_init first. */

#include "catalog/catalog.h"

/* Progress of the pyramid write: percent 0..100 and an estimate of the seconds left. Called
 * from a vips thread, at most once per percent; must not call back into vips. */
typedef void (*dq_ingest_progress_fn)(void *ud, int percent, int eta_s);

/* What to ingest. Strings are borrowed for the duration of the call. */
typedef struct {
    const char *src_path; /* the master to ingest; never modified */
    const char *id;       /* the image id, see dq_image_id_valid */
    const char *data_dir; /* the data directory (catalog.sqlite, masters/, pyramids/, tmp/) */
    const char *who;      /* actor for the audit row; NULL means "cli" */
    int replace;          /* 1: an existing id is replaced; 0: an existing id is DQ_EEXIST */
    int quality;          /* JPEG quality of the stored tiles, 1..100 */
    uint64_t max_pixels;  /* width*height above this is refused (DQ_ELIMIT) before any decode */
    dq_ingest_progress_fn progress; /* may be NULL */
    void *progress_ud;
    /* Where the master and pyramid go (src/blob/blob.h); NULL = data_dir itself, as before.
     * data_dir still holds tmp/ and the commit lock. Borrowed. */
    struct dq_blob *store;
} dq_ingest_opts_t;

/* Ingests one master: validates it (size, magic bytes, header, pixel limit) before any work,
 * copies it byte for byte to masters/ab/<sha256> (shared by identical masters), writes a tiled
 * (256 px) pyramidal JPEG TIFF in sRGB 8-bit (1 band for grey) to the content-addressed key
 * pyramids/<id>.<first 16 hex of its SHA-256>.tif, and records both in the catalog with an audit
 * row. Streams: memory does not grow with the image size. Everything is written in data_dir/tmp/
 * first; both files are uploaded under a journal row BEFORE the catalog-wide ingest lock is
 * taken, which is held only for the commit (one transaction) and the removal of a replaced
 * pyramid (ingest.c's header says why and what a crash leaves). On any failure before the
 * commit, the catalog and the store keep the old state (an uploaded master may stay: no row
 * names it). Fills *out (caller-owned) with the stored record.
 * Errors: DQ_EINVAL (bad id, empty/unknown/corrupt/truncated file), DQ_ELIMIT (too many pixels),
 * DQ_EEXIST (id exists, no replace), DQ_ENOTFOUND (no such file), DQ_EIO. One ingest per call;
 * several processes and nodes may ingest at once. */
int dq_image_ingest(dq_catalog_t *cat, const dq_ingest_opts_t *opts, dq_image_rec_t *out,
                    dq_err_t *err);

/* Brings data_dir back to a consistent state after a crash: removes work directories in tmp/
 * that no live ingest holds; journal rows of the old layout (pyramids/<id>.tif) are completed
 * when their pyramid is in place, otherwise dropped; uploads of ingests that died before their
 * commit are removed (journal row, pyramid, and a master no row names) when no ingest anywhere
 * is uploading (DQ_CATALOG_LOCK_UPLOAD free), otherwise left for a later call. Ingest (when the
 * ingest lock is free), fixity and serve call it at start. *n_recovered (may be NULL) counts
 * completed rows. Takes the commit locks, so it waits for an ingest in its commit phase. */
int dq_image_ingest_recover(dq_catalog_t *cat, const char *data_dir, int *n_recovered,
                            dq_err_t *err);
/* The same with the files in store (NULL = data_dir); *n_removed (may be NULL) counts removed
 * dead uploads. */
int dq_image_ingest_recover_store(dq_catalog_t *cat, const char *data_dir, struct dq_blob *store,
                                  int *n_recovered, int *n_removed, dq_err_t *err);

/* ================================================================ rasters */
/* (owned by the conserve author) src/image/raster.c: a whole image as interleaved 8-bit pixels,
 * for the analysis modules, which must not include vips. */
typedef struct {
    int w, h, bands; /* bands 1 (grey) or 3 (sRGB) */
    uint8_t *px;     /* w*h*bands bytes, row-major; owned, free with dq_raster_free */
} dq_raster_t;

/* Loads any allowed image file (jpeg, png, webp, tiff, jp2k, .v) into *out as sRGB with 3 bands
 * or its luminance with 1 band, 8 bits, alpha flattened. max_pixels (0 = no limit) is checked
 * from the header before decoding. Needs dq_image_init. Returns 0, or -1 with err: DQ_ENOTFOUND,
 * DQ_ELIMIT, DQ_EINVAL (not an image / corrupt), DQ_EUNSUP. *out is zeroed on failure. */
int dq_raster_load(const char *path, int bands, uint64_t max_pixels, dq_raster_t *out,
                   dq_err_t *err);
/* Writes r as a PNG at path (no metadata, so equal pixels give equal bytes). Returns 0 or -1
 * (DQ_EINVAL for an empty raster, DQ_EIO). The caller still owns r. */
int dq_raster_save_png(const char *path, const dq_raster_t *r, dq_err_t *err);
/* Frees r's pixels and zeroes it; NULL is ok. */
void dq_raster_free(dq_raster_t *r);

/* (issue 14) src/image/raster_fit.c: loads path shrunk to fit max_w x max_h (never enlarged,
 * aspect kept; a pyramidal TIFF from the smallest level covering the box, so the cost follows
 * the box, not the image) into *out as raster_load does. Returns 0, or -1 with err (DQ_EINVAL
 * bad arguments or file, DQ_ENOTFOUND); *out zeroed on failure. Needs dq_image_init. */
int dq_raster_load_fit(const char *path, int bands, int max_w, int max_h, dq_raster_t *out,
                       dq_err_t *err);

#endif
