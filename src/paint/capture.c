/*
 * paint/capture.c: what a real multispectral camera would deliver for a work, beside the
 * ideal bands of truth/bands/. For each band a 16-bit raw frame: the work laid on black
 * velvet inside a white reference surround, a strip of grey steps below it, lit unevenly
 * (10-30 % falloff), seen through a filter that shifts the image by 0.3-2 px, with a dark
 * offset and fixed pattern, veiling flare, shot and read noise; plus a dark frame, a visible
 * RGB frame (the registration reference), and a UV fluorescence frame with its flat frame.
 * bands.json describes the stack as the capture software would (files, wavelengths, where
 * the targets are and their certified reflectance); capture_truth.json holds what only the
 * painter knows (true shifts, falloffs, gains). docs/generate.md documents the model.
 *
 * Determinism: every number comes from this file's own xoshiro stream seeded from (seed,
 * work, "capture") and from per-pixel hashes, never from the shared scene stream, so the
 * other outputs keep their bytes. It does not calibrate anything (src/spectral/ does).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>
#include <jansson.h>
#include <vips/vips.h>

#include "paint/paint.h"

/* The reflectance bands a capture carries: those of truth/bands/. */
static const int cap_nm[] = {450, 550, 650, 750, 850, 940};
#define N_REFL ((int)DQ_ARRAY_LEN(cap_nm))

/* Certified reflectance of the surround (a PTFE board) and the grey steps (flat spectra, like
 * a sintered-PTFE grey scale); black velvet around the work. */
#define WHITE_R 0.95
static const double grey_r[] = {0.05, 0.10, 0.20, 0.40, 0.60, 0.80};
#define N_GREY ((int)DQ_ARRAY_LEN(grey_r))
#define VELVET_R 0.02
/* The UV flat frame photographs a uniform fluorescence standard of this emission. */
#define UV_STD 0.80

typedef struct {
    int fw, fh;             /* frame size */
    int wx, wy, ww, wh;     /* the work inside the frame */
    int ring;               /* white surround thickness */
    int gx, gy, gw, gh;     /* the grey strip */
    float *refl;            /* fw*fh scene radiance factor of the current channel (owned) */
    float *shifted;         /* the same after the filter's shift (owned) */
    uint16_t *dark;         /* the sensor's mean dark level per pixel (owned) */
    uint32_t seed;          /* per-pixel noise seed of the work */
} frame_t;

/* ================================================================ noise and geometry */

/* A zero-mean, unit-variance, nearly normal number from a hash: the sum of four 16-bit
 * uniforms (Irwin-Hall, variance 4/12), rescaled. Cheap and order-independent, so frames are
 * the same whatever order pixels are computed in. */
static float hnormal(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h1 = dq_paint_hash3(a, b, c), h2 = dq_paint_hash3(a ^ 0x5bd1e995u, b, c + 0x68e31da4u);
    float s = (float)(h1 & 0xffff) + (float)(h1 >> 16) + (float)(h2 & 0xffff) + (float)(h2 >> 16);
    return (s / 65535.0f - 2.0f) * 1.7320508f;
}

/* dst(x, y) = src(x - dx, y - dy): the filter moved the image by (dx, dy). The shift is
 * applied as a phase ramp on the frame's spectrum, which is exact for an image that the
 * optics band-limit, as a lens does: what a tilted filter does to the image before the
 * sensor samples it. The frame's border is the uniform white surround, so the spectrum's
 * periodic wrap-around adds no seam. FFTW's planner is not thread-safe: the painter runs it
 * from one thread (dq_paint_collection paints works one after another). */
static void shift_image(const float *src, float *dst, int w, int h, double dx, double dy)
{
    int wh = w / 2 + 1;
    double *re = fftw_alloc_real((size_t)w * h);
    fftw_complex *sp = fftw_alloc_complex((size_t)h * wh);
    fftw_plan fwd = fftw_plan_dft_r2c_2d(h, w, re, sp, FFTW_ESTIMATE);
    fftw_plan inv = fftw_plan_dft_c2r_2d(h, w, sp, re, FFTW_ESTIMATE);
    for (size_t i = 0; i < (size_t)w * h; i++)
        re[i] = src[i];
    fftw_execute(fwd);
    for (int ky = 0; ky < h; ky++) {
        int fy = ky < (h + 1) / 2 ? ky : ky - h;
        for (int kx = 0; kx < wh; kx++) {
            double ph = -2 * M_PI * ((double)kx * dx / w + (double)fy * dy / h);
            double c = cos(ph), sn = sin(ph);
            double *v = sp[(size_t)ky * wh + kx];
            double a = v[0], b = v[1];
            v[0] = a * c - b * sn;
            v[1] = a * sn + b * c;
        }
    }
    fftw_execute(inv);
    double norm = 1.0 / ((double)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++)
        dst[i] = (float)(re[i] * norm);
    fftw_destroy_plan(fwd);
    fftw_destroy_plan(inv);
    fftw_free(re);
    fftw_free(sp);
}

/* Lays out the frame around a tw x th work: ring, velvet gap, work, gap, grey strip, gap,
 * ring (top to bottom); ring, gap, work, gap, ring (left to right). */
static void layout(frame_t *f, int tw, int th)
{
    int m = DQ_MIN(tw, th);
    int gap = DQ_MAX(6, m / 40);
    f->ring = DQ_MAX(8, m / 30);
    f->gh = DQ_MAX(16, m / 10);
    f->ww = tw;
    f->wh = th;
    f->wx = f->ring + gap;
    f->wy = f->ring + gap;
    f->gx = f->wx;
    f->gy = f->wy + th + gap;
    f->gw = tw;
    f->fw = tw + 2 * (f->ring + gap);
    f->fh = th + f->gh + 3 * gap + 2 * f->ring;
}

/* The grey step i's rectangle (x, y, w, h): the strip cut in N_GREY patches with gaps. */
static void grey_rect(const frame_t *f, int i, int r[4])
{
    int pw = f->gw / N_GREY, g = DQ_MAX(2, pw / 10);
    r[0] = f->gx + i * pw + g / 2;
    r[1] = f->gy;
    r[2] = pw - g;
    r[3] = f->gh;
}

/* Fills f->refl with the scene of one channel: velvet, the white ring, the grey steps, and
 * the work's values (work[], tw x th, already in reflectance units) or, for the UV frame,
 * the targets' (lack of) fluorescence. */
static void compose(frame_t *f, const float *work, double white, double velvet,
                    const double *greys)
{
    size_t n = (size_t)f->fw * (size_t)f->fh;
    for (size_t i = 0; i < n; i++)
        f->refl[i] = (float)velvet;
    for (int y = 0; y < f->fh; y++)
        for (int x = 0; x < f->fw; x++)
            if (x < f->ring || y < f->ring || x >= f->fw - f->ring || y >= f->fh - f->ring)
                f->refl[(size_t)y * f->fw + x] = (float)white;
    for (int i = 0; i < N_GREY; i++) {
        int r[4];
        grey_rect(f, i, r);
        for (int y = r[1]; y < r[1] + r[3]; y++)
            for (int x = r[0]; x < r[0] + r[2]; x++)
                f->refl[(size_t)y * f->fw + x] = (float)greys[i];
    }
    for (int y = 0; y < f->wh; y++)
        memcpy(f->refl + (size_t)(f->wy + y) * f->fw + f->wx, work + (size_t)y * f->ww,
               (size_t)f->ww * sizeof(float));
}

/* ================================================================ the camera */

typedef struct {
    double gain;       /* DN for reflectance 1 under the brightest light */
    double falloff;    /* 0.10..0.30: the darkest corner gets (1 - falloff) of the light */
    double cx, cy;     /* the light's hot spot, in frame pixels */
    double flare;      /* veiling glare, DN added everywhere */
    double dx, dy;     /* the filter's image shift, px */
} band_cam_t;

/* Illumination at (x, y): a quadratic bowl around the hot spot, scaled so that the frame's
 * farthest corner gets exactly 1 - falloff. */
static double illum(const band_cam_t *c, const frame_t *f, double x, double y, double qmax)
{
    double ax = (x - c->cx) / f->fw, ay = (y - c->cy) / f->fh;
    return 1.0 - c->falloff * (ax * ax + 0.8 * ay * ay) / qmax;
}

static double corner_max(const band_cam_t *c, const frame_t *f)
{
    double q = 0;
    for (int k = 0; k < 4; k++) {
        double x = (k & 1) ? f->fw : 0, y = (k & 2) ? f->fh : 0;
        double ax = (x - c->cx) / f->fw, ay = (y - c->cy) / f->fh;
        q = DQ_MAX(q, ax * ax + 0.8 * ay * ay);
    }
    return q;
}

/* Read noise (DN, sigma) and conversion gain (electrons per DN): shot noise has variance
 * signal/EPD in DN^2. */
#define READ_SIGMA 6.0
#define EPD 2.0

/* One raw channel of f->refl into out (stride `bands`, channel `ch`), through camera c. */
static void expose(frame_t *f, const band_cam_t *c, uint32_t salt, uint16_t *out, int bands,
                   int ch)
{
    shift_image(f->refl, f->shifted, f->fw, f->fh, c->dx, c->dy);
    double qmax = corner_max(c, f);
    for (int y = 0; y < f->fh; y++) {
        for (int x = 0; x < f->fw; x++) {
            size_t i = (size_t)y * f->fw + x;
            double r = f->shifted[i] < 0 ? 0 : f->shifted[i];
            double sig = c->gain * illum(c, f, x + 0.5, y + 0.5, qmax) * r + c->flare;
            double dn = f->dark[i] + sig +
                        sqrt(sig / EPD + READ_SIGMA * READ_SIGMA) *
                            hnormal((uint32_t)x, (uint32_t)y, f->seed ^ salt);
            long v = lround(dn);
            out[i * (size_t)bands + (size_t)ch] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
        }
    }
}

/* The sensor's dark level: a bias, per-column fixed pattern and a few hot pixels. */
static void make_dark(frame_t *f)
{
    for (int y = 0; y < f->fh; y++)
        for (int x = 0; x < f->fw; x++) {
            uint32_t h = dq_paint_hash3((uint32_t)x, (uint32_t)y, f->seed ^ 0xda4cu);
            double v = 1000.0 + 12.0 * hnormal((uint32_t)x, 7u, f->seed ^ 0xc01u);
            if (h % 5000u == 0)
                v += 400 + (h >> 20) % 2600;
            f->dark[(size_t)y * f->fw + x] = (uint16_t)lround(v);
        }
}

/* ================================================================ files */

static int save_u16(const uint16_t *px, int w, int h, int bands, const char *dir,
                    const char *name, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s", dir, name);
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * bands * 2, w, h, bands,
                                               VIPS_FORMAT_USHORT);
    int rc = 0;
    if (!im) {
        rc = -1;
    } else {
        im->Type = bands == 3 ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_GREY16;
        /* Uncompressed strips, as multispectral cameras' capture software writes its 16-bit
         * frames (TIFF or raw, no compression: the camera cannot spend the time, and sensor
         * noise leaves deflate only 1.3x here). Deflate was our own choice until session 22;
         * decoding its 350 MB cost `spectral add` 1.5 CPU s on the benchmark scroll, more
         * than ingesting the scroll's visible image (bench/results/issue11-session22.md). */
        rc = vips_tiffsave(im, path, "compression", VIPS_FOREIGN_TIFF_COMPRESSION_NONE, "strip",
                           TRUE, NULL)
                 ? -1
                 : 0;
        g_object_unref(im);
    }
    if (rc < 0) {
        dq_err_set(err, DQ_EIO, 0, "tiffsave %s: %s", path, vips_error_buffer());
        vips_error_clear();
    }
    free(path);
    return rc;
}

/* Renders one shader output of the state to memory as floats, channel by channel into
 * out[ch] (tw*th each); sRGB outputs are linearised. */
static int shade_float(VipsImage *state, const dq_paint_scene_t *sc, const dq_paint_spectra_t *sp,
                       int mode, double nm, float **out, int n_ch, dq_err_t *err)
{
    VipsImage *im = dq_paint_shade(state, sc, sp, mode, nm, err);
    if (!im)
        return -1;
    size_t len = 0;
    uint8_t *px = vips_image_write_to_memory(im, &len);
    g_object_unref(im);
    if (!px) {
        dq_err_set(err, DQ_EIO, 0, "capture shade: %s", vips_error_buffer());
        vips_error_clear();
        return -1;
    }
    float lut[256];
    for (int i = 0; i < 256; i++) {
        double e = i / 255.0;
        lut[i] = mode == DQ_OUT_BAND ? (float)e
                 : e <= 0.04045     ? (float)(e / 12.92)
                                    : (float)pow((e + 0.055) / 1.055, 2.4);
    }
    size_t n = (size_t)state->Xsize * (size_t)state->Ysize;
    for (int ch = 0; ch < n_ch; ch++)
        for (size_t i = 0; i < n; i++)
            out[ch][i] = lut[px[i * (size_t)n_ch + (size_t)ch]];
    g_free(px);
    return 0;
}

static json_t *rect_json(int x, int y, int w, int h)
{
    return json_pack("[i,i,i,i]", x, y, w, h);
}

static int save_json_file(json_t *j, const char *dir, const char *name, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/%s", dir, name);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    int rc = -1;
    if (!text) {
        dq_err_set(err, DQ_EINTERNAL, 0, "json_dumps %s", path);
    } else {
        dq_buf_t b = {0};
        dq_buf_puts(&b, text);
        dq_buf_putc(&b, '\n');
        rc = dq_fs_write_atomic(path, dir, b.data, b.len, err);
        dq_buf_free(&b);
    }
    free(text);
    free(path);
    return rc;
}

/* ================================================================ the stack */

int dq_paint_capture(VipsImage *state, const dq_paint_scene_t *sc, const dq_paint_spectra_t *sp,
                     uint64_t seed, int work_idx, const char *tdir, dq_err_t *err)
{
    int tw = state->Xsize, th = state->Ysize, rc = -1;
    char *cdir = dq_xasprintf("%s/capture", tdir);
    frame_t f = {0};
    layout(&f, tw, th);
    size_t n = (size_t)f.fw * (size_t)f.fh, nw = (size_t)tw * (size_t)th;
    float *work[3] = {NULL};
    uint16_t *raw = NULL;
    json_t *bands = json_array(), *truth = json_object(), *tb = json_array(), *desc = NULL;
    dq_paint_rng_t rng;
    dq_paint_rng_seed(&rng, seed ^ 0x6361707475726521ull ^
                                ((uint64_t)(work_idx + 1) * 0xd1b54a32d192ed03ull));
    f.seed = (uint32_t)dq_paint_rng_next(&rng);
    f.refl = dq_xmalloc(n * sizeof(float));
    f.shifted = dq_xmalloc(n * sizeof(float));
    f.dark = dq_xmalloc(n * sizeof(uint16_t));
    for (int k = 0; k < 3; k++)
        work[k] = dq_xmalloc(nw * sizeof(float));
    raw = dq_xmalloc(n * 3 * sizeof(uint16_t));
    if (dq_fs_mkdirs(cdir, err) < 0)
        goto out;

    /* The dark frame: the mean dark level plus one exposure's read noise. */
    make_dark(&f);
    for (size_t i = 0; i < n; i++) {
        double v = f.dark[i] + READ_SIGMA * hnormal((uint32_t)(i % (size_t)f.fw),
                                                   (uint32_t)(i / (size_t)f.fw), f.seed ^ 0xd0u);
        raw[i] = (uint16_t)lround(v < 0 ? 0 : v > 65535 ? 65535 : v);
    }
    if (save_u16(raw, f.fw, f.fh, 1, cdir, "dark.tif", err) < 0)
        goto out;

    /* Channels: vis (the reference, 3 channels, never shifted), the reflectance bands, UV. */
    enum { N_CAP = 2 + N_REFL };
    for (int b = 0; b < N_CAP; b++) {
        int is_vis = b == 0, is_uv = b == N_CAP - 1, nch = (is_vis || is_uv) ? 3 : 1;
        int nm = (is_vis || is_uv) ? 0 : cap_nm[b - 1];
        char name[32];
        if (is_vis)
            snprintf(name, sizeof(name), "vis");
        else if (is_uv)
            snprintf(name, sizeof(name), "uv365");
        else
            snprintf(name, sizeof(name), "r%d", nm);
        band_cam_t cam = {0};
        /* Sensitivity falls off towards the blue and the far NIR of a silicon sensor. */
        cam.gain = is_uv ? 42000.0
                         : 52000.0 * (nm ? 0.72 + 0.28 * exp(-pow((nm - 700.0) / 260.0, 2)) : 1.0);
        cam.gain *= dq_paint_rng_range(&rng, 0.95, 1.05);
        cam.falloff = dq_paint_rng_range(&rng, 0.10, 0.30);
        cam.cx = f.fw * dq_paint_rng_range(&rng, 0.35, 0.65);
        cam.cy = f.fh * dq_paint_rng_range(&rng, 0.35, 0.65);
        cam.flare = cam.gain * dq_paint_rng_range(&rng, 0.002, 0.008);
        if (!is_vis) {
            double mag = dq_paint_rng_range(&rng, 0.3, 2.0);
            double ang = dq_paint_rng_range(&rng, 0, 2 * 3.14159265358979);
            cam.dx = mag * cos(ang);
            cam.dy = mag * sin(ang);
        }
        if (shade_float(state, sc, sp, is_vis ? DQ_OUT_RGB : is_uv ? DQ_OUT_UV : DQ_OUT_BAND, nm,
                        work, nch, err) < 0)
            goto out;
        double greys_uv[N_GREY];
        for (int i = 0; i < N_GREY; i++)
            greys_uv[i] = 0.01; /* PTFE does not fluoresce; the filter blocks the UV itself */
        for (int ch = 0; ch < nch; ch++) {
            if (is_uv)
                compose(&f, work[ch], 0.01, 0.005, greys_uv);
            else
                compose(&f, work[ch], WHITE_R, VELVET_R, grey_r);
            expose(&f, &cam, (uint32_t)(b * 8 + ch + 1) * 0x9e3779b9u, raw, nch, ch);
        }
        char *file = dq_xasprintf("%s.tif", name);
        if (save_u16(raw, f.fw, f.fh, nch, cdir, file, err) < 0) {
            free(file);
            goto out;
        }
        json_t *e = json_pack("{s:s, s:s}", "name", name, "file", file);
        free(file);
        if (is_vis) {
            json_object_set_new(e, "kind", json_string("visible"));
            json_object_set_new(e, "channels", json_integer(3));
        } else if (is_uv) {
            json_object_set_new(e, "kind", json_string("uv_fluorescence"));
            json_object_set_new(e, "excitation_nm", json_integer(365));
            json_object_set_new(e, "channels", json_integer(3));
            /* The UV lamp's light field, from a uniform fluorescence standard: the white
             * surround does not fluoresce, so it cannot flat-field this band. */
            for (int ch = 0; ch < 3; ch++) {
                for (size_t i = 0; i < nw; i++)
                    work[0][i] = (float)UV_STD;
                compose(&f, work[0], UV_STD, UV_STD, (double[N_GREY]){UV_STD, UV_STD, UV_STD,
                                                                    UV_STD, UV_STD, UV_STD});
                band_cam_t flat = cam;
                flat.dx = flat.dy = 0;
                expose(&f, &flat, (uint32_t)(200 + ch) * 0x85ebca6bu, raw, 3, ch);
            }
            if (save_u16(raw, f.fw, f.fh, 3, cdir, "uv365_flat.tif", err) < 0)
                goto out;
            json_object_set_new(e, "white", json_string("uv365_flat.tif"));
            json_object_set_new(e, "white_value", json_real(UV_STD));
        } else {
            json_object_set_new(e, "kind", json_string("reflectance"));
            json_object_set_new(e, "nm", json_integer(nm));
        }
        json_array_append_new(bands, e);
        json_array_append_new(
            tb, json_pack("{s:s, s:[f,f], s:f, s:f, s:[f,f], s:f}", "name", name, "shift_px",
                          cam.dx, cam.dy, "falloff", cam.falloff, "gain_dn", cam.gain,
                          "hot_spot_px", cam.cx, cam.cy, "flare_dn", cam.flare));
    }

    json_t *greys = json_array();
    for (int i = 0; i < N_GREY; i++) {
        int r[4];
        grey_rect(&f, i, r);
        json_array_append_new(greys, json_pack("{s:o, s:f}", "rect",
                                               rect_json(r[0], r[1], r[2], r[3]), "reflectance",
                                               grey_r[i]));
    }
    json_t *ring = json_array();
    json_array_append_new(ring, rect_json(0, 0, f.fw, f.ring));
    json_array_append_new(ring, rect_json(0, f.fh - f.ring, f.fw, f.ring));
    json_array_append_new(ring, rect_json(0, f.ring, f.ring, f.fh - 2 * f.ring));
    json_array_append_new(ring, rect_json(f.fw - f.ring, f.ring, f.ring, f.fh - 2 * f.ring));
    desc = json_pack("{s:s, s:i, s:s, s:s, s:o, s:{s:{s:f, s:o}, s:o}, s:o}", "camera",
                     "danqing simulated multispectral camera (docs/generate.md)", "bit_depth", 16,
                     "dark", "dark.tif", "reference", "vis", "work_rect",
                     rect_json(f.wx, f.wy, f.ww, f.wh), "target", "white", "reflectance",
                     WHITE_R, "rects", ring, "grey", greys, "bands", bands);
    bands = NULL;
    if (save_json_file(desc, cdir, "bands.json", err) < 0)
        goto out;
    json_object_set_new(truth, "capture", json_string("capture/bands.json"));
    json_object_set_new(truth, "shift_convention",
                        json_string("band pixel (x, y) shows what the reference (vis) shows at "
                                    "(x - dx, y - dy): the filter moved the image by (dx, dy)"));
    json_object_set_new(truth, "ideal", json_string("bands/r<nm>.png: round(255 * reflectance)"));
    json_object_set_new(truth, "read_noise_dn", json_real(READ_SIGMA));
    json_object_set_new(truth, "electrons_per_dn", json_real(EPD));
    json_object_set_new(truth, "bands", tb);
    tb = NULL;
    if (save_json_file(truth, tdir, "capture_truth.json", err) < 0)
        goto out;
    rc = 0;
out:
    json_decref(bands);
    json_decref(tb);
    json_decref(truth);
    json_decref(desc);
    for (int k = 0; k < 3; k++)
        free(work[k]);
    free(raw);
    free(f.refl);
    free(f.shifted);
    free(f.dark);
    free(cdir);
    return rc;
}
