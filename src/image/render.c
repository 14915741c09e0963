/*
 * image/render.c: the renderer. Turns a planned request (level, region, size, rotation,
 * mirror, quality, format) into encoded bytes. For JPEG pyramids it decodes only the stored
 * tiles that meet the region, and of those only the rows and columns it needs, with
 * libjpeg-turbo at the smallest DCT scale (1/1..1/8) that still leaves enough pixels, into one
 * buffer. The common request (scaled down, colour, no rotation, JPEG) is then resampled and
 * encoded here without vips (see "fast path"); everything else goes through libvips, which
 * resizes, flips, rotates, converts and encodes. Other pyramids (deflate, ...) go through vips' tiff loader and extract_area.
 * It does not plan (iiif/ does) or cache (http/ does). Thread-safe: no shared mutable state.
 */
#include <math.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <turbojpeg.h>
#include <vips/vips.h>

#include "image/image.h"
#include "image/pyramid_internal.h"

/* The most pixels one render may decode (at the chosen DCT scale): 256 Mpx, 768 MiB of RGB.
 * The planner bounds requests far below this; this is the last line of defence. */
#define MAX_DECODED_PIXELS (1u << 28)
/* The largest output side we render, before rotation. */
#define MAX_OUT_SIDE 65000u

/* Copies vips' error text into err and clears vips' (process-wide, locked) buffer. Under many
 * threads the text may carry another thread's message too; the code is what callers act on. */
static int vips_fail(dq_err_t *err, const char *what)
{
    char *msg = vips_error_buffer_copy();
    dq_err_set(err, DQ_EIO, 500, "%s: %s", what, msg ? msg : "vips error");
    g_free(msg);
    return -1;
}

/* ---------------------------------------------------------------- deadline */

/* 1 when the spec's deadline has passed or its owner cancelled it (issue 10: a render may not
 * hold a thread forever; a stopping server does not wait for renders nobody will get).
 * Checked between tiles, between resample rows and, inside vips, on every "eval" signal. */
static int past_deadline(const dq_render_spec_t *s)
{
    return (s->cancel && atomic_load(s->cancel)) ||
           (s->deadline_us && dq_now_us() > s->deadline_us);
}

static int deadline_err(dq_err_t *err)
{
    return dq_err_set(err, DQ_ELIMIT, 503,
                      "render stopped: past its deadline, or the server is stopping");
}

/* vips' progress signal: kill the computation when the deadline has passed. The kill makes
 * the running save fail, which finish() reports as the deadline. */
static void on_eval(VipsImage *image, VipsProgress *progress, void *data)
{
    (void)progress;
    if (past_deadline(data))
        vips_image_set_kill(image, TRUE);
}

/* ---------------------------------------------------------------- tile decode */

/* A decoded region: pixels of the level at 1/scale, covering at least the requested region. */
typedef struct {
    uint8_t *pix; /* rows of w * bands bytes; owned, free() */
    uint32_t w, h;
    int bands;
} region_t;

/* The largest DCT scale denominator s in {8, 4, 2, 1} such that the region decoded at 1/s still
 * has at least out_w x out_h pixels (so vips only ever reduces, which keeps quality) and the
 * stored tile divides by s (so that scaled tiles abut exactly). libjpeg-turbo scales in the
 * IDCT: an 8x8 block becomes 8/s x 8/s pixels at a fraction of the cost of a full decode. */
static int pick_dct_scale(const dq_render_spec_t *s, uint32_t tw, uint32_t th)
{
    for (int d = 8; d > 1; d /= 2) {
        if (tw % (uint32_t)d || th % (uint32_t)d)
            continue;
        if (s->lw / (uint32_t)d >= s->out_w && s->lh / (uint32_t)d >= s->out_h)
            return d;
    }
    return 1;
}

/* Rows decode_tile reads per jpeg_read_scanlines call at most: libjpeg's rec_outbuf_height is
 * the largest vertical sampling factor, at most 4 (JPEG's limit). */
#define ROWBUF_ROWS 4

/* libjpeg reports fatal errors through error_exit, which by default calls exit(). The
 * documented way to get control back (libjpeg.txt, "Error handling"; turbojpeg does the same
 * inside) is a setjmp in the caller and a longjmp from error_exit. The jump only unwinds
 * libjpeg's own frames back to decode_tile, which holds no resources of its own. Warnings
 * (corrupt data libjpeg can work around) are counted and otherwise ignored. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void jerr_exit(j_common_ptr cinfo)
{
    jerr_t *e = (jerr_t *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jerr_output(j_common_ptr cinfo) { (void)cinfo; }

/* Decodes, at 1/scale, only rows [y0, y1) and columns [x0, x1) (scaled pixels, relative to the
 * tile) of one tile and writes them to dst (row pitch `pitch`). libjpeg-turbo's partial decode
 * (libjpeg.txt, "Partial image decompression"): jpeg_crop_scanline skips IDCT, upsampling and
 * colour conversion outside the columns (widening them to an iMCU boundary, so we copy out of
 * a row buffer); jpeg_skip_scanlines skips the IDCT of the rows above; the rows below are
 * never decoded because we abort after the last one. Huffman decoding of the skipped parts
 * cannot be avoided: entropy-coded data has no random access without restart markers. */
static int decode_tile(struct jpeg_decompress_struct *ci, jerr_t *je, const uint8_t *jpg,
                       size_t len, int scale, int bands, uint32_t x0, uint32_t x1, uint32_t y0,
                       uint32_t y1, uint8_t *dst, size_t pitch, uint8_t *rowbuf)
{
    if (setjmp(je->jump)) {
        jpeg_abort_decompress(ci);
        return -1;
    }
    jpeg_mem_src(ci, jpg, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    ci->scale_num = 1;
    ci->scale_denom = (unsigned)scale;
    ci->out_color_space = bands == 1 ? JCS_GRAYSCALE : JCS_RGB;
    ci->do_fancy_upsampling = FALSE; /* like TJFLAG_FASTUPSAMPLE: cheaper chroma upsampling */
    ci->dct_method = JDCT_ISLOW;
    jpeg_start_decompress(ci);
    if ((int)ci->output_components != bands || ci->output_width < x1 || ci->output_height < y1) {
        snprintf(je->msg, sizeof je->msg, "tile is %ux%ux%d, not as the directory says",
                 ci->output_width, ci->output_height, ci->output_components);
        jpeg_abort_decompress(ci);
        return -1;
    }
    JDIMENSION cx = x0, cw = x1 - x0;
    if (cx > 0 || cw < ci->output_width)
        jpeg_crop_scanline(ci, &cx, &cw); /* cx <= x0 and cx + cw >= x1 afterwards */
    if (y0 > 0)
        jpeg_skip_scanlines(ci, y0);
    const size_t off = (size_t)(x0 - cx) * (size_t)bands, n = (size_t)(x1 - x0) * (size_t)bands;
    /* As many rows per call as the upsampler makes at once (2 for 4:2:0): asked for one,
     * libjpeg-turbo's merged upsampler decodes two and copies the spare one aside. */
    /* When the decoded columns are exactly the wanted ones (every tile but the region's first
     * and last column), rows decode straight into dst; only rows past y1 go to rowbuf. */
    const int exact = cx == x0 && cw == x1 - x0;
    JSAMPROW rows[ROWBUF_ROWS];
    int per = DQ_MIN(DQ_MAX(ci->rec_outbuf_height, 1), ROWBUF_ROWS);
    for (uint32_t y = y0; y < y1;) {
        for (int i = 0; i < per; i++)
            rows[i] = exact && y + (uint32_t)i < y1
                          ? dst + (size_t)(y + (uint32_t)i - y0) * pitch
                          : rowbuf + (size_t)i * ci->output_width * (size_t)bands;
        JDIMENSION got = jpeg_read_scanlines(ci, rows, (JDIMENSION)per);
        if (got == 0) {
            snprintf(je->msg, sizeof je->msg, "short tile");
            jpeg_abort_decompress(ci);
            return -1;
        }
        for (JDIMENSION i = 0; i < got && y < y1; i++, y++)
            if (!exact)
                memcpy(dst + (size_t)(y - y0) * pitch, rows[i] + off, n);
    }
    jpeg_abort_decompress(ci); /* the rows below y1 are not needed: stop here */
    return 0;
}

/* Decodes the tiles of level that meet [lx, lx+lw) x [ly, ly+lh) at 1/scale into r. The region
 * in scaled pixels is widened to whole pixels (floor of the start, ceiling of the end), so it
 * can be up to one scaled pixel larger than the exact region. */
static int decode_region(const dq_pyramid_t *p, const dq_render_spec_t *s, int scale, region_t *r,
                         dq_err_t *err)
{
    int rc = -1;
    const dq_pyr_level_t *lv = &p->levels[s->level];
    const uint32_t tw = lv->tile_w, th = lv->tile_h;
    const uint32_t stw = tw / (uint32_t)scale, sth = th / (uint32_t)scale;
    const int bands = lv->bands;
    dq_buf_t jpg = {0};
    uint8_t *rowbuf = NULL;
    struct jpeg_decompress_struct ci;
    jerr_t je;
    int ci_made = 0;

    uint32_t sx0 = s->lx / (uint32_t)scale, sy0 = s->ly / (uint32_t)scale;
    uint32_t sx1 = (s->lx + s->lw + (uint32_t)scale - 1) / (uint32_t)scale;
    uint32_t sy1 = (s->ly + s->lh + (uint32_t)scale - 1) / (uint32_t)scale;
    r->w = sx1 - sx0;
    r->h = sy1 - sy0;
    r->bands = bands;
    if ((uint64_t)r->w * r->h > MAX_DECODED_PIXELS)
        return dq_err_set(err, DQ_ELIMIT, 403, "region of %ux%u px is too large to decode", r->w,
                          r->h);
    r->pix = dq_trymalloc((size_t)r->w * r->h * (size_t)bands, err);
    if (!r->pix)
        return -1;
    const size_t pitch = (size_t)r->w * (size_t)bands;

    memset(&je, 0, sizeof je);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jerr_exit;
    je.pub.output_message = jerr_output;
    jpeg_create_decompress(&ci);
    ci_made = 1;
    rowbuf = dq_xmalloc((size_t)stw * (size_t)bands * ROWBUF_ROWS);

    for (uint32_t row = s->ly / th; row <= (s->ly + s->lh - 1) / th; row++) {
        for (uint32_t col = s->lx / tw; col <= (s->lx + s->lw - 1) / tw; col++) {
            /* This tile in scaled pixels, and its overlap with the region. */
            uint32_t tx0 = col * stw, ty0 = row * sth;
            uint32_t ox0 = DQ_MAX(tx0, sx0), oy0 = DQ_MAX(ty0, sy0);
            uint32_t ox1 = DQ_MIN(tx0 + stw, sx1), oy1 = DQ_MIN(ty0 + sth, sy1);
            if (ox0 >= ox1 || oy0 >= oy1)
                continue;
            if (past_deadline(s)) {
                deadline_err(err);
                goto out;
            }
            jpg.len = 0;
            if (dq_pyr_read_tile(p, s->level, col, row, &jpg, err) < 0)
                goto out;
            uint8_t *dst =
                r->pix + (size_t)(oy0 - sy0) * pitch + (size_t)(ox0 - sx0) * (size_t)bands;
            if (decode_tile(&ci, &je, (const uint8_t *)jpg.data, jpg.len, scale, bands, ox0 - tx0,
                            ox1 - tx0, oy0 - ty0, oy1 - ty0, dst, pitch, rowbuf) < 0) {
                dq_err_set(err, DQ_EIO, 500, "%s: tile %u,%u of level %d: %s", p->path, col, row,
                           s->level, je.msg);
                goto out;
            }
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        free(r->pix);
        r->pix = NULL;
    }
    if (ci_made)
        jpeg_destroy_decompress(&ci);
    free(rowbuf);
    dq_buf_free(&jpg);
    return rc;
}

/* ---------------------------------------------------------------- vips pipeline */

/* Resizes in to exactly w x h. vips_resize rounds each axis on its own and may land one pixel
 * off; the rare remainder is trimmed or edge-extended, which moves nothing by more than a
 * pixel. */
static int resize_exact(VipsImage *in, VipsImage **out, uint32_t w, uint32_t h)
{
    VipsImage *t[2] = {0};
    int rc = -1;
    double hs = (double)w / in->Xsize, vs = (double)h / in->Ysize;
    if ((uint32_t)in->Xsize == w && (uint32_t)in->Ysize == h) {
        g_object_ref(in);
        *out = in;
        return 0;
    }
    /* Linear (triangle) kernel: vips' reduce widens it by the shrink factor, so it is a proper
     * area filter with no aliasing; it measured faster than lanczos3 at the same visual
     * quality for our 1x-2x residual reductions. Upscaling uses vips' default interpolator. */
    if (vips_resize(in, &t[0], hs, "vscale", vs, "kernel", VIPS_KERNEL_LINEAR, NULL))
        goto out;
    if ((uint32_t)t[0]->Xsize == w && (uint32_t)t[0]->Ysize == h) {
        *out = t[0];
        t[0] = NULL;
        rc = 0;
        goto out;
    }
    if (vips_embed(t[0], &t[1], 0, 0, (int)w, (int)h, "extend", VIPS_EXTEND_COPY, NULL))
        goto out;
    *out = t[1];
    t[1] = NULL;
    rc = 0;
out:
    VIPS_UNREF(t[0]);
    VIPS_UNREF(t[1]);
    return rc;
}

/* Replaces *img by op's result, dropping the old reference. Returns op's 0/-1. */
#define STEP(img, call)                                                                            \
    do {                                                                                           \
        VipsImage *in_ = (img), *o_ = NULL;                                                        \
        (void)in_;                                                                                 \
        if (call)                                                                                  \
            goto out;                                                                              \
        g_object_unref(img);                                                                       \
        (img) = o_;                                                                                \
    } while (0)

/* Runs scale -> mirror -> rotate -> quality -> encode on img (a reference the caller gives up)
 * and appends the encoded bytes to out. */
static int finish(VipsImage *img, const dq_render_spec_t *s, dq_buf_t *out, dq_err_t *err)
{
    int rc = -1;
    void *buf = NULL;
    size_t len = 0;
    const char *what = "resize";
    int alpha_ok = s->format != DQ_RF_JPG;

    STEP(img, resize_exact(in_, &o_, s->out_w, s->out_h));

    /* IIIF Image 3.0 §4.3: "!" mirrors horizontally, and the mirror comes before rotation. */
    what = "flip";
    if (s->mirror)
        STEP(img, vips_flip(in_, &o_, VIPS_DIRECTION_HORIZONTAL, NULL));

    what = "rotate";
    double r = fmod(s->rotation, 360.0);
    if (r < 0)
        r += 360.0;
    if (r == 90.0 || r == 180.0 || r == 270.0) {
        VipsAngle a = r == 90.0 ? VIPS_ANGLE_D90 : r == 180.0 ? VIPS_ANGLE_D180 : VIPS_ANGLE_D270;
        STEP(img, vips_rot(in_, &o_, a, NULL));
    } else if (r != 0.0) {
        /* IIIF Image 3.0 §4.3: other angles give the bounding box of the rotated image; the
         * uncovered corners are transparent where the format has alpha, else white. vips
         * measures angles clockwise with y down, like IIIF. */
        double bg[4] = {255, 255, 255, 255};
        if (alpha_ok) {
            STEP(img, vips_bandjoin_const1(in_, &o_, 255.0, NULL));
            bg[0] = bg[1] = bg[2] = bg[3] = 0;
        }
        VipsArrayDouble *bga = vips_array_double_new(bg, img->Bands);
        VipsImage *rot = NULL;
        int fail = vips_rotate(img, &rot, r, "background", bga, NULL) != 0;
        vips_area_unref(VIPS_AREA(bga));
        if (fail)
            goto out;
        g_object_unref(img);
        img = rot;
    }

    /* IIIF Image 3.0 §4.4. gray: luminance via vips' colourspace (linear-light weights, back to
     * sRGB gamma); bitonal: that luminance thresholded, so pixels are only 0 or 255. Alpha, when
     * present, stays as it is. */
    what = "quality";
    int has_alpha = img->Bands == 2 || img->Bands == 4;
    if ((s->quality == DQ_RQ_GRAY || s->quality == DQ_RQ_BITONAL) && img->Bands >= 3)
        STEP(img, vips_colourspace(in_, &o_, VIPS_INTERPRETATION_B_W, NULL));
    if (s->quality == DQ_RQ_BITONAL) {
        VipsImage *t[4] = {0};
        int fail = vips_extract_band(img, &t[0], 0, NULL) ||
                   vips_moreeq_const1(t[0], &t[1], 128.0, NULL) ||
                   (has_alpha && (vips_extract_band(img, &t[2], img->Bands - 1, NULL) ||
                                  vips_bandjoin2(t[1], t[2], &t[3], NULL)));
        VipsImage *res = fail ? NULL : has_alpha ? t[3] : t[1];
        if (res)
            g_object_ref(res);
        for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
            VIPS_UNREF(t[i]);
        if (!res)
            goto out;
        g_object_unref(img);
        img = res;
    }

    /* Downloads carry their rights (issue 16): the blobs go on a copy (img may be shared with
     * vips' operation cache), and the savers write them when not told to strip. */
    what = "metadata";
    int strip = !(s->xmp || s->iptc);
    if (!strip) {
        STEP(img, vips_copy(in_, &o_, NULL));
        if (s->xmp)
            vips_image_set_blob_copy(img, VIPS_META_XMP_NAME, s->xmp, s->xmp_len);
        if (s->iptc)
            vips_image_set_blob_copy(img, VIPS_META_IPTC_NAME, s->iptc, s->iptc_len);
    }

    what = "encode";
    int q = s->jpeg_quality > 0 ? DQ_MIN(s->jpeg_quality, 100) : 90;
    int fail;
    /* Everything above is lazy: the pixels are computed by the save below, tile by tile, and
     * vips signals "eval" on img as it goes (vips_image_set_progress). */
    if (s->deadline_us || s->cancel) {
        vips_image_set_progress(img, TRUE);
        g_signal_connect(img, "eval", G_CALLBACK(on_eval), (gpointer)s);
    }
    switch (s->format) {
    case DQ_RF_JPG:
        /* No Huffman optimisation: it costs a second pass for ~5% fewer bytes. Chroma 4:2:0
         * always: vips' "auto" drops subsampling at Q >= 90, which doubled our bytes (51 KB vs
         * 26 KB for iipsrv's 512-px regions) and slowed the encode, for no visible gain. */
        fail = vips_jpegsave_buffer(img, &buf, &len, "Q", q, "optimize_coding", FALSE, "strip",
                                    strip, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON, NULL);
        break;
    case DQ_RF_PNG:
        /* zlib level 3: most of level 6's size at a third of the time. */
        fail = vips_pngsave_buffer(img, &buf, &len, "compression", 3, "strip", strip, NULL);
        break;
    case DQ_RF_WEBP:
        fail = vips_webpsave_buffer(img, &buf, &len, "Q", q, "strip", strip, NULL);
        break;
    case DQ_RF_TIF:
        fail = vips_tiffsave_buffer(img, &buf, &len, "compression",
                                    VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, "strip", strip, NULL);
        break;
    default:
        fail = 1;
        vips_error("danqing", "unknown format %d", s->format);
    }
    if (fail) {
        buf = NULL;
        goto out;
    }
    dq_buf_append(out, buf, len);
    rc = 0;
out:
    if (rc < 0 && past_deadline(s)) {
        vips_error_clear();
        deadline_err(err);
    } else if (rc < 0) {
        vips_fail(err, what);
    }
    g_free(buf);
    VIPS_UNREF(img);
    return rc;
}

/* ---------------------------------------------------------------- fast path */

/*
 * The common IIIF request (a region scaled down, no rotation, colour, JPEG) skips vips: an
 * area-averaging resample of our decoded buffer and one turbojpeg encode. Profiling the vips
 * route showed a quarter of the time in vips and another tenth in handing work to vips'
 * worker thread and back; this path does the same arithmetic on the calling thread.
 *
 * Resampling is a box filter with exact fractional coverage (each output pixel averages the
 * source area it covers), separable, in fixed point. The vertical pass runs first, on the
 * decoded bytes: 8-bit weights (summing to exactly 1 << V_BITS) times 8-bit samples fit in
 * 16 bits, so it runs eight samples per SIMD instruction, and it leaves only the output's
 * rows for the horizontal pass, whose taps differ per pixel and so run scalar, with 14-bit
 * weights and 32-bit sums in registers. Profiled under wrk (bench/profile.sh regions), the
 * old order (horizontal over every source row, then vertical, both scalar with accumulators
 * in memory) was half of all CPU time of the region path. For the 1x-2x reductions left
 * after DCT scaling this is a proper anti-aliasing filter.
 */
#define W_BITS 14      /* horizontal weights sum to 1 << W_BITS */
#define V_BITS 8       /* vertical weights sum to 1 << V_BITS: 255 << 8 fits in uint16 */
#define MAX_V_RATIO 62 /* the largest vertical reduction the fast path takes */

typedef struct {
    uint32_t *first; /* first source index per output index */
    uint32_t *n;     /* taps per output index */
    uint32_t *off;   /* offset of its weights in w */
    uint16_t *w;
} taps_t;

static void taps_free(taps_t *t)
{
    free(t->first);
    free(t->n);
    free(t->off);
    free(t->w);
}

/* Taps mapping in source samples onto out samples (out <= in), weights summing to 1 << bits. */
static void taps_make(uint32_t in, uint32_t out, int bits, taps_t *t)
{
    double s = (double)in / out;
    uint32_t max_taps = (uint32_t)ceil(s) + 1;
    t->first = dq_xmalloc(out * sizeof(uint32_t));
    t->n = dq_xmalloc(out * sizeof(uint32_t));
    t->off = dq_xmalloc(out * sizeof(uint32_t));
    t->w = dq_xmalloc((size_t)out * max_taps * sizeof(uint16_t));
    uint32_t k = 0;
    for (uint32_t o = 0; o < out; o++) {
        double a = o * s, b = (o + 1) * s;
        uint32_t i0 = (uint32_t)a, i1 = (uint32_t)ceil(b);
        if (i1 > in)
            i1 = in;
        if (i1 <= i0)
            i1 = i0 + 1;
        t->first[o] = i0;
        t->n[o] = i1 - i0;
        t->off[o] = k;
        uint32_t sum = 0, big = k;
        for (uint32_t i = i0; i < i1; i++) {
            double lo = a > i ? a : i, hi = b < i + 1 ? b : i + 1;
            double cov = hi > lo ? (hi - lo) / s : 0;
            uint16_t w = (uint16_t)(cov * (1 << bits) + 0.5);
            t->w[k] = w;
            if (w > t->w[big])
                big = k;
            sum += w;
            k++;
        }
        /* Put the rounding residue on the largest weight so every pixel's weights sum to
         * exactly 1 << bits: flat areas stay exactly flat. */
        t->w[big] = (uint16_t)(t->w[big] + ((1 << bits) - (int)sum));
    }
}

/* GCC and Clang vector extensions: plain C arithmetic on 8 lanes, SSE2 (or NEON) code. */
typedef uint16_t u16x8_t __attribute__((vector_size(16)));
typedef uint8_t u8x8_t __attribute__((vector_size(8)));

/* Vertical pass: d[i] = sum over k of rows[k][i] * w[k], for len samples; exact (no
 * rounding), at most 255 << V_BITS. */
static void vpass(const uint8_t *const *rows, const uint16_t *w, uint32_t n, size_t len,
                  uint16_t *d)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        u16x8_t acc = {0};
        for (uint32_t k = 0; k < n; k++) {
            u8x8_t s8;
            memcpy(&s8, rows[k] + i, sizeof s8);
            acc += __builtin_convertvector(s8, u16x8_t) * w[k];
        }
        memcpy(d + i, &acc, sizeof acc);
    }
    for (; i < len; i++) {
        uint32_t acc = 0;
        for (uint32_t k = 0; k < n; k++)
            acc += rows[k][i] * (uint32_t)w[k];
        d[i] = (uint16_t)acc;
    }
}

/* Horizontal pass of one vertically filtered row (uint16, V_BITS extra bits) into ow output
 * pixels of NB bands. NB is a constant in each caller, so the sums stay in registers. Sums
 * are at most (255 << V_BITS) << W_BITS < 2^30. */
#define HPASS(NB)                                                                                  \
    const uint32_t half = 1u << (W_BITS + V_BITS - 1);                                             \
    for (uint32_t o = 0; o < ow; o++) {                                                            \
        uint32_t a0 = half, a1 = half, a2 = half;                                                  \
        const uint16_t *w = t->w + t->off[o];                                                      \
        const uint16_t *p = src + (size_t)t->first[o] * (NB);                                      \
        for (uint32_t k = 0; k < t->n[o]; k++, p += (NB)) {                                        \
            a0 += p[0] * (uint32_t)w[k];                                                           \
            if ((NB) == 3) {                                                                       \
                a1 += p[1] * (uint32_t)w[k];                                                       \
                a2 += p[2] * (uint32_t)w[k];                                                       \
            }                                                                                      \
        }                                                                                          \
        uint8_t *d = dst + (size_t)(mirror ? ow - 1 - o : o) * (NB);                               \
        d[0] = (uint8_t)(a0 >> (W_BITS + V_BITS));                                                 \
        if ((NB) == 3) {                                                                           \
            d[1] = (uint8_t)(a1 >> (W_BITS + V_BITS));                                             \
            d[2] = (uint8_t)(a2 >> (W_BITS + V_BITS));                                             \
        }                                                                                          \
    }

static void hpass3(const uint16_t *src, uint8_t *dst, const taps_t *t, uint32_t ow, int mirror)
{
    HPASS(3)
}

static void hpass1(const uint16_t *src, uint8_t *dst, const taps_t *t, uint32_t ow, int mirror)
{
    HPASS(1)
}
#undef HPASS

/* The horizontal taps as exactly three per output pixel (zero weights pad the shorter ones,
 * and a window that would run off the end starts earlier), for hpass3_t3. Returns 0 when
 * some pixel needs more than three taps (reductions of 2x and more) or the row is shorter. */
static int taps_fixed3(const taps_t *t, uint32_t in, uint32_t out, uint32_t *first, uint16_t *w)
{
    if (in < 3)
        return 0;
    for (uint32_t o = 0; o < out; o++) {
        if (t->n[o] > 3)
            return 0;
        uint32_t f = DQ_MIN(t->first[o], in - 3);
        first[o] = f;
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t i = f + k; /* source index; its weight, if it is one of o's taps */
            w[o * 3 + k] = i >= t->first[o] && i < t->first[o] + t->n[o]
                               ? t->w[t->off[o] + (i - t->first[o])]
                               : 0;
        }
    }
    return 1;
}

/* hpass3 with three taps per pixel: straight-line code, no inner loop (the horizontal pass
 * was the larger half of resample's time with the loop). */
static void hpass3_t3(const uint16_t *src, uint8_t *dst, const uint32_t *first, const uint16_t *w,
                      uint32_t ow, int mirror)
{
    const uint32_t half = 1u << (W_BITS + V_BITS - 1);
    for (uint32_t o = 0; o < ow; o++) {
        const uint16_t *p = src + (size_t)first[o] * 3;
        const uint32_t w0 = w[o * 3], w1 = w[o * 3 + 1], w2 = w[o * 3 + 2];
        uint32_t a0 = half + p[0] * w0 + p[3] * w1 + p[6] * w2;
        uint32_t a1 = half + p[1] * w0 + p[4] * w1 + p[7] * w2;
        uint32_t a2 = half + p[2] * w0 + p[5] * w1 + p[8] * w2;
        uint8_t *d = dst + (size_t)(mirror ? ow - 1 - o : o) * 3;
        d[0] = (uint8_t)(a0 >> (W_BITS + V_BITS));
        d[1] = (uint8_t)(a1 >> (W_BITS + V_BITS));
        d[2] = (uint8_t)(a2 >> (W_BITS + V_BITS));
    }
}

/* Resamples r (w x h x bands, bands 1 or 3) to ow x oh, mirroring horizontally when asked.
 * New buffer, or NULL when s's deadline passed (checked every 64 output rows). */
static uint8_t *resample(const region_t *r, uint32_t ow, uint32_t oh, int mirror,
                         const dq_render_spec_t *s)
{
    const int nb = r->bands;
    const size_t in_row = (size_t)r->w * nb, out_row = (size_t)ow * nb;
    taps_t tx = {0}, ty = {0};
    taps_make(r->w, ow, W_BITS, &tx);
    taps_make(r->h, oh, V_BITS, &ty);
    uint32_t *first3 = dq_xmalloc(ow * sizeof(uint32_t));
    uint16_t *w3 = dq_xmalloc((size_t)ow * 3 * sizeof(uint16_t));
    int t3 = nb == 3 && taps_fixed3(&tx, r->w, ow, first3, w3);
    uint16_t *mid = dq_xmalloc(in_row * sizeof(uint16_t)); /* one vertically filtered row */
    uint8_t *outp = dq_xmalloc(out_row * oh);
    const uint8_t *rows[MAX_V_RATIO + 2];
    for (uint32_t o = 0; o < oh; o++) {
        if (o % 64 == 0 && past_deadline(s)) {
            free(outp);
            outp = NULL;
            break;
        }
        /* Taps per row are at most ceil(r->h / oh) + 1, and fast_path_ok keeps that ratio
         * under MAX_V_RATIO (the planner and pick_dct_scale keep it below 2 in practice). */
        uint32_t n = ty.n[o];
        DQ_ASSERT(n <= DQ_ARRAY_LEN(rows));
        for (uint32_t k = 0; k < n; k++)
            rows[k] = r->pix + (size_t)(ty.first[o] + k) * in_row;
        vpass(rows, ty.w + ty.off[o], n, in_row, mid);
        if (t3)
            hpass3_t3(mid, outp + (size_t)o * out_row, first3, w3, ow, mirror);
        else if (nb == 3)
            hpass3(mid, outp + (size_t)o * out_row, &tx, ow, mirror);
        else
            hpass1(mid, outp + (size_t)o * out_row, &tx, ow, mirror);
    }
    free(mid);
    free(first3);
    free(w3);
    taps_free(&tx);
    taps_free(&ty);
    return outp;
}

/* 1 when spec can take the fast path from a decoded buffer r. */
static int fast_path_ok(const dq_render_spec_t *s, const region_t *r)
{
    /* metadata (downloads) goes through vips' savers, which write it */
    return s->format == DQ_RF_JPG && !s->xmp && !s->iptc &&
           (s->quality == DQ_RQ_DEFAULT || s->quality == DQ_RQ_COLOR) &&
           s->rotation == 0.0 && (r->bands == 3 || r->bands == 1) && s->out_w <= r->w &&
           s->out_h <= r->h && (uint64_t)s->out_h * MAX_V_RATIO >= r->h;
}

static int render_fast(const region_t *r, const dq_render_spec_t *s, dq_buf_t *out, dq_err_t *err)
{
    uint8_t *pix = resample(r, s->out_w, s->out_h, s->mirror, s);
    if (!pix)
        return deadline_err(err);
    tjhandle tj = tjInitCompress();
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    int rc = -1;
    int q = s->jpeg_quality ? s->jpeg_quality : 90;
    /* 4:2:0 like the vips path (smaller, cheaper), grey stays grey. */
    if (!tj ||
        tjCompress2(tj, pix, (int)s->out_w, 0, (int)s->out_h, r->bands == 3 ? TJPF_RGB : TJPF_GRAY,
                    &jpg, &len, r->bands == 3 ? TJSAMP_420 : TJSAMP_GRAY, q, TJFLAG_FASTDCT) != 0) {
        dq_err_set(err, DQ_EIO, 500, "jpeg encode: %s", tj ? tjGetErrorStr2(tj) : "no encoder");
        goto out;
    }
    dq_buf_append(out, jpg, len);
    rc = 0;
out:
    tjFree(jpg);
    if (tj)
        tjDestroy(tj);
    free(pix);
    return rc;
}

/* ---------------------------------------------------------------- entry */

static int check_spec(const dq_pyramid_t *p, const dq_render_spec_t *s, dq_err_t *err)
{
    if (s->level < 0 || s->level >= p->n_levels)
        return dq_err_set(err, DQ_EINVAL, 400, "level %d out of range 0..%d", s->level,
                          p->n_levels - 1);
    const dq_pyr_level_t *lv = &p->levels[s->level];
    if (s->lw == 0 || s->lh == 0 || s->lx >= lv->width || s->ly >= lv->height ||
        s->lw > lv->width - s->lx || s->lh > lv->height - s->ly)
        return dq_err_set(err, DQ_EINVAL, 400, "region %u,%u,%u,%u outside level %d (%ux%u)", s->lx,
                          s->ly, s->lw, s->lh, s->level, lv->width, lv->height);
    if (s->out_w == 0 || s->out_h == 0 || s->out_w > MAX_OUT_SIDE || s->out_h > MAX_OUT_SIDE)
        return dq_err_set(err, DQ_EINVAL, 400, "output size %ux%u out of range", s->out_w,
                          s->out_h);
    if (!(s->rotation >= 0.0 && s->rotation <= 360.0))
        return dq_err_set(err, DQ_EINVAL, 400, "rotation %g out of range", s->rotation);
    if (s->quality < DQ_RQ_DEFAULT || s->quality > DQ_RQ_BITONAL || s->format < DQ_RF_JPG ||
        s->format > DQ_RF_TIF || s->jpeg_quality < 0 || s->jpeg_quality > 100)
        return dq_err_set(err, DQ_EINVAL, 400, "bad quality, format or jpeg quality");
    return 0;
}

/* The general path for pyramids whose tiles we do not decode ourselves: vips' tiff loader on
 * the level's page (or SubIFD), then extract_area. vips reads only the tiles it needs. */
static int render_via_tiffload(dq_pyramid_t *p, const dq_render_spec_t *s, dq_buf_t *out,
                               dq_err_t *err)
{
    VipsImage *t[2] = {0};
    const dq_pyr_level_t *lv = &p->levels[s->level];
    int fail = p->subifd && s->level > 0
                   ? vips_tiffload(p->path, &t[0], "subifd", lv->page - 1, NULL)
                   : vips_tiffload(p->path, &t[0], "page", lv->page, NULL);
    if (fail ||
        vips_extract_area(t[0], &t[1], (int)s->lx, (int)s->ly, (int)s->lw, (int)s->lh, NULL)) {
        VIPS_UNREF(t[0]);
        VIPS_UNREF(t[1]);
        return vips_fail(err, "tiffload");
    }
    VIPS_UNREF(t[0]);
    return finish(t[1], s, out, err);
}

int dq_image_render(dq_pyramid_t *p, const dq_render_spec_t *spec, dq_buf_t *out, dq_err_t *err)
{
    if (check_spec(p, spec, err) < 0)
        return -1;
    const dq_pyr_level_t *lv = &p->levels[spec->level];
    if (lv->compression != DQ_TIFF_COMPRESSION_JPEG)
        return render_via_tiffload(p, spec, out, err);

    region_t r = {0};
    int scale = pick_dct_scale(spec, lv->tile_w, lv->tile_h);
    if (decode_region(p, spec, scale, &r, err) < 0)
        return -1;
    if (fast_path_ok(spec, &r)) {
        int frc = render_fast(&r, spec, out, err);
        free(r.pix);
        return frc;
    }
    /* The vips image borrows r.pix; finish() has encoded (and so finished reading it) before it
     * returns, so freeing afterwards is safe. */
    VipsImage *img = vips_image_new_from_memory(r.pix, (size_t)r.w * r.h * (size_t)r.bands,
                                                (int)r.w, (int)r.h, r.bands, VIPS_FORMAT_UCHAR);
    int rc = -1;
    if (!img) {
        vips_fail(err, "new_from_memory");
        goto out;
    }
    /* Tell vips what the bytes are, so colourspace conversions (gray) start from sRGB. */
    img->Type = r.bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    /* At scale > 1 the buffer may be up to one scaled pixel wider than the exact region (see
     * decode_region); resizing it to out_w x out_h shifts nothing by more than one output px. */
    rc = finish(img, spec, out, err);
out:
    free(r.pix);
    return rc;
}
