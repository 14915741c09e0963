/*
 * paint/scene.c: the scene ground truth of a landscape (issue 14, the living painting). The
 * painter knows what every pixel depicts, so it can say how far away it is and whether mist,
 * leaves or water may move there: a depth map and masks for mist, foliage, water, figures and
 * boats, written beside the other truth rasters in truth/scene/. docs/generate.md "Scene
 * layers" defines them; docs/living.md says how the viewer and `danqing scene` use them.
 *
 * The model is the painter's own: each ridge layer is a flat at its depth (0 near .. 1 far),
 * the sky above every ridge is 1, and strokes (trees, figures, boats) stand at the depth of
 * the layer they were planted on, in front of whatever lies behind them. It draws no random
 * numbers: everything follows from the scene, so the other outputs are unchanged by it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <vips/vips.h>

#include "paint/paint.h"

/* Bands of the truth image, in this order. */
enum { SB_DEPTH = 0, SB_MIST, SB_FOLIAGE, SB_WATER, SB_FIGURE, SB_BOAT, SB_N };
static const char *const band_file[SB_N] = {"depth.png", "mist.png",    "foliage.png",
                                            "water.png", "figures.png", "boats.png"};
static const char *const band_name[SB_N] = {"depth", "mist", "foliage", "water", "figure", "boat"};

/* A stroke counts as present where it covers at least this much of a pixel. */
#define SOLID 0.3f
/* The band where landscape.c looks for open water (v), and how far below a ridge (in units
 * of the layer's fade) a point must be for it to count as open (landscape.c covered()). */
#define WATER_V0 0.72f
#define WATER_V1 0.97f
#define WATER_FADES 2.5f
/* Band mist at least this strong, or a layer's wash faded below this, is mist. */
#define MIST_BAND 0.3f
#define MIST_FOOT 0.15f

void dq_paint_tag(dq_paint_scene_t *sc, size_t first, int cls, int layer)
{
    if (first >= sc->n_prims)
        return;
    if (sc->n_spans == sc->cap_spans) {
        sc->cap_spans = sc->cap_spans ? sc->cap_spans * 2 : 64;
        sc->spans = dq_xrealloc(sc->spans, sc->cap_spans * sizeof(*sc->spans));
    }
    sc->spans[sc->n_spans++] = (dq_paint_span_t){first, sc->n_prims, cls, layer};
}

static float layer_depth(const dq_paint_scene_t *sc, int k)
{
    return k < sc->n_layers ? sc->layers[k].depth : 1.0f;
}

typedef struct {
    const dq_paint_scene_t *sc;
    float px;
} scene_ctx_t;

typedef struct {
    float cov[DQ_SPAN_N]; /* strongest coverage per class */
    float near;           /* depth of the nearest solid stroke, 2 when none */
} hit_t;

static int scene_gen(VipsRegion *out, void *seq, void *a, void *b, gboolean *stop)
{
    (void)seq;
    (void)b;
    (void)stop;
    const scene_ctx_t *ctx = a;
    const dq_paint_scene_t *sc = ctx->sc;
    const VipsRect *r = &out->valid;
    float px = ctx->px;
    int nl = sc->n_layers;
    size_t stride = (size_t)nl + DQ_PAINT_COL_EXTRA;
    size_t n = (size_t)r->width * (size_t)r->height;
    hit_t *hits = dq_xcalloc(n, sizeof(*hits));
    float *col = dq_xcalloc((size_t)r->width * stride, sizeof(float));
    for (size_t i = 0; i < n; i++)
        hits[i].near = 2.0f;
    for (int x = 0; x < r->width; x++)
        dq_paint_landscape_columns(sc, ((float)(r->left + x) + 0.5f) * px,
                                   col + (size_t)x * stride);

    /* Strokes: the same coverage the picture uses, per class. */
    for (size_t si = 0; si < sc->n_spans; si++) {
        const dq_paint_span_t *sp = &sc->spans[si];
        float d = layer_depth(sc, sp->layer);
        for (size_t i = sp->first; i < sp->end; i++) {
            const dq_paint_prim_t *p = &sc->prims[i];
            int xa, xb, ya, yb;
            if (!dq_paint_prim_box(p, r->left, r->top, r->width, r->height, px, &xa, &xb, &ya, &yb))
                continue;
            for (int y = ya; y < yb; y++) {
                float v = ((float)(r->top + y) + 0.5f) * px;
                for (int x = xa; x < xb; x++) {
                    float u = ((float)(r->left + x) + 0.5f) * px;
                    float c = dq_paint_prim_cover(sc, p, u, v, px);
                    hit_t *h = &hits[(size_t)y * (size_t)r->width + (size_t)x];
                    h->cov[sp->cls] = DQ_MAX(h->cov[sp->cls], c);
                    if (c >= SOLID && sp->cls != DQ_SPAN_WATER)
                        h->near = DQ_MIN(h->near, d);
                }
            }
        }
    }

    for (int y = 0; y < r->height; y++) {
        uint8_t *q = VIPS_REGION_ADDR(out, r->left, r->top + y);
        float v = ((float)(r->top + y) + 0.5f) * px;
        for (int x = 0; x < r->width; x++, q += SB_N) {
            const hit_t *h = &hits[(size_t)y * (size_t)r->width + (size_t)x];
            const float *c = col + (size_t)x * stride;
            float u = ((float)(r->left + x) + 0.5f) * px;
            memset(q, 0, SB_N);
            if (sc->fan) {
                /* Outside the fan leaf lies the album mount: the frame, nearest of all. */
                float dx = u - sc->fan_geom[0], dy = v - sc->fan_geom[1];
                float rr = sqrtf(dx * dx + dy * dy), th = atan2f(dx, -dy);
                if (rr < sc->fan_geom[2] || rr > sc->fan_geom[3] || fabsf(th) > sc->fan_half)
                    continue;
            }
            int k = 0;
            while (k < nl && v < c[k])
                k++;
            float depth = layer_depth(sc, k);
            float s = k < nl ? v - c[k] : 0.0f;
            float fade = k < nl ? expf(-s / sc->layers[k].fade) : 1.0f;
            int open = k == nl || s >= WATER_FADES * sc->layers[k].fade;
            int water = v >= WATER_V0 && v <= WATER_V1 && open;
            if (sc->waterfall && k == 2 && fade >= 0.01f && v > sc->wf[1] && v < sc->wf[2]) {
                /* The fall of landscape.c: a ribbon left blank down the main peak. */
                float wu = sc->wf[0] + 0.004f * sinf(v * 40.0f),
                      half = 0.006f + 0.01f * (v - sc->wf[1]);
                if (fabsf(u - wu) < half * 0.8f)
                    water = 1;
            }
            water |= h->cov[DQ_SPAN_WATER] >= SOLID;
            int mist = k < nl && (dq_paint_landscape_mist(sc, c, v) >= MIST_BAND ||
                                  (fade < MIST_FOOT && !water));
            int solid = h->cov[DQ_SPAN_FOLIAGE] >= SOLID || h->cov[DQ_SPAN_FIGURE] >= SOLID ||
                        h->cov[DQ_SPAN_BOAT] >= SOLID || h->cov[DQ_SPAN_BUILDING] >= SOLID;
            depth = DQ_MIN(depth, h->near);
            q[SB_DEPTH] = (uint8_t)lroundf(255.0f * depth);
            q[SB_MIST] = mist && !solid ? 255 : 0;
            q[SB_FOLIAGE] = h->cov[DQ_SPAN_FOLIAGE] >= SOLID ? 255 : 0;
            q[SB_WATER] = water && !solid ? 255 : 0;
            q[SB_FIGURE] = h->cov[DQ_SPAN_FIGURE] >= SOLID ? 255 : 0;
            q[SB_BOAT] = h->cov[DQ_SPAN_BOAT] >= SOLID ? 255 : 0;
        }
    }
    free(col);
    free(hits);
    return 0;
}

static int vfail(dq_err_t *err, const char *what)
{
    dq_err_set(err, DQ_EIO, 0, "scene truth %s: %s", what, vips_error_buffer());
    vips_error_clear();
    return -1;
}

/* Saves a PNG without going through vips' operation cache: a cached saver would keep a
 * reference to im, whose pixels are borrowed and freed right after. Non-zero on failure. */
static int save_png(VipsImage *im, const char *path)
{
    VipsOperation *op = vips_operation_new("pngsave");
    if (!op)
        return -1;
    vips_object_set(VIPS_OBJECT(op), "in", im, "filename", path, "compression", 1, "strip", TRUE,
                    NULL);
    int rc = vips_object_build(VIPS_OBJECT(op));
    vips_object_unref_outputs(VIPS_OBJECT(op));
    g_object_unref(op);
    return rc;
}

int dq_paint_scene_truth(const dq_paint_scene_t *sc, int w, int h, const char *tdir, dq_err_t *err)
{
    if (sc->kind != DQ_SCENE_LANDSCAPE)
        return dq_err_set(err, DQ_EINVAL, 0, "scene truth: not a landscape");
    char *dir = dq_xasprintf("%s/scene", tdir), *text = NULL;
    VipsImage *gen = vips_image_new();
    uint8_t *all = NULL;
    json_t *j = NULL;
    int rc = -1;
    if (dq_fs_mkdirs(dir, err) < 0)
        goto out;
    vips_image_init_fields(gen, w, h, SB_N, VIPS_FORMAT_UCHAR, VIPS_CODING_NONE,
                           VIPS_INTERPRETATION_MULTIBAND, 1.0, 1.0);
    scene_ctx_t *ctx = vips_malloc(VIPS_OBJECT(gen), sizeof(*ctx));
    ctx->sc = sc;
    ctx->px = 1.0f / (float)h;
    if (vips_image_pipelinev(gen, VIPS_DEMAND_STYLE_SMALLTILE, NULL) ||
        vips_image_generate(gen, NULL, scene_gen, NULL, ctx, NULL)) {
        vfail(err, "generate");
        goto out;
    }
    /* Evaluated once into memory, then each band saved: six passes over the strokes
     * would cost six times as much. */
    size_t all_len = 0;
    if (!(all = vips_image_write_to_memory(gen, &all_len))) {
        vfail(err, "render");
        goto out;
    }
    j = json_pack("{s:s, s:{s:i, s:i}, s:s}", "generator", DQ_PAINT_VERSION, "size", "width", w,
                  "height", h, "depth_encoding",
                  "value = round(255 * depth); depth 0 = nearest, 1 = farthest (the sky)");
    json_t *files = json_object(), *cover = json_object(), *layers = json_array();
    json_object_set_new(j, "files", files);
    json_object_set_new(j, "mask_fraction", cover);
    json_object_set_new(j, "layers", layers);
    /* Bands are split here and saved outside the operation cache (save_png). */
    size_t n = (size_t)w * (size_t)h;
    uint8_t *plane = dq_xmalloc(n);
    for (int b = 0; b < SB_N; b++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += plane[i] = all[i * SB_N + (size_t)b];
        char *path = dq_xasprintf("%s/%s", dir, band_file[b]);
        VipsImage *band = vips_image_new_from_memory(plane, n, w, h, 1, VIPS_FORMAT_UCHAR);
        int bad = !band || save_png(band, path);
        VIPS_UNREF(band);
        free(path);
        if (bad) {
            free(plane);
            vfail(err, band_file[b]);
            goto out;
        }
        json_object_set_new(files, band_name[b], json_string(band_file[b]));
        if (b != SB_DEPTH)
            json_object_set_new(cover, band_name[b],
                                json_real(round((double)sum / 255.0 / (double)n * 1e4) / 1e4));
    }
    free(plane);
    for (int k = 0; k < sc->n_layers; k++)
        json_array_append_new(layers, json_pack("{s:i, s:f, s:f}", "index", k, "depth",
                                                (double)sc->layers[k].depth, "horizon_v",
                                                (double)sc->layers[k].horizon));
    json_object_set_new(j, "masks", json_string("255 = present, 0 = absent"));
    if (!(text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6)))) {
        dq_err_set(err, DQ_EINTERNAL, 0, "scene.json");
        goto out;
    }
    char *jpath = dq_xasprintf("%s/scene.json", dir);
    dq_buf_t buf = {0};
    dq_buf_puts(&buf, text);
    dq_buf_putc(&buf, '\n');
    rc = dq_fs_write_atomic(jpath, dir, buf.data, buf.len, err);
    dq_buf_free(&buf);
    free(jpath);
out:
    free(text);
    json_decref(j);
    g_free(all);
    VIPS_UNREF(gen);
    free(dir);
    return rc;
}
