/*
 * image/render.c: the renderer. Turns a planned request (level, region, size, rotation,
 * mirror, quality, format) into encoded bytes. For JPEG pyramids it decodes only the stored
 * tiles that meet the region, and of those only the rows and columns it needs, with
 * libjpeg-turbo at the smallest DCT scale (1/1..1/8) that still leaves enough pixels, into one
 * buffer; libvips then resizes, flips, rotates, converts
 * and encodes. Other pyramids (deflate, ...) go through vips' tiff loader and extract_area.
 * It does not plan (iiif/ does) or cache (http/ does). Thread-safe: no shared mutable state.
 */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
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
    for (uint32_t y = y0; y < y1; y++) {
        JSAMPROW row = rowbuf;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) {
            snprintf(je->msg, sizeof je->msg, "short tile");
            jpeg_abort_decompress(ci);
            return -1;
        }
        memcpy(dst + (size_t)(y - y0) * pitch, rowbuf + off, n);
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
    rowbuf = dq_xmalloc((size_t)stw * (size_t)bands);

    for (uint32_t row = s->ly / th; row <= (s->ly + s->lh - 1) / th; row++) {
        for (uint32_t col = s->lx / tw; col <= (s->lx + s->lw - 1) / tw; col++) {
            /* This tile in scaled pixels, and its overlap with the region. */
            uint32_t tx0 = col * stw, ty0 = row * sth;
            uint32_t ox0 = DQ_MAX(tx0, sx0), oy0 = DQ_MAX(ty0, sy0);
            uint32_t ox1 = DQ_MIN(tx0 + stw, sx1), oy1 = DQ_MIN(ty0 + sth, sy1);
            if (ox0 >= ox1 || oy0 >= oy1)
                continue;
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

    what = "encode";
    int q = s->jpeg_quality > 0 ? DQ_MIN(s->jpeg_quality, 100) : 90;
    int fail;
    switch (s->format) {
    case DQ_RF_JPG:
        /* No Huffman optimisation: it costs a second pass for ~5% fewer bytes. Chroma 4:2:0
         * always: vips' "auto" drops subsampling at Q >= 90, which doubled our bytes (51 KB vs
         * 26 KB for iipsrv's 512-px regions) and slowed the encode, for no visible gain. */
        fail = vips_jpegsave_buffer(img, &buf, &len, "Q", q, "optimize_coding", FALSE, "strip",
                                    TRUE, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON, NULL);
        break;
    case DQ_RF_PNG:
        /* zlib level 3: most of level 6's size at a third of the time. */
        fail = vips_pngsave_buffer(img, &buf, &len, "compression", 3, "strip", TRUE, NULL);
        break;
    case DQ_RF_WEBP:
        fail = vips_webpsave_buffer(img, &buf, &len, "Q", q, "strip", TRUE, NULL);
        break;
    case DQ_RF_TIF:
        fail = vips_tiffsave_buffer(img, &buf, &len, "compression",
                                    VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, "strip", TRUE, NULL);
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
    if (rc < 0)
        vips_fail(err, what);
    g_free(buf);
    VIPS_UNREF(img);
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
