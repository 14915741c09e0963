/*
 * api_spectral.c: multispectral captures over HTTP (issue 11). Every band and derived layer of
 * a capture is a IIIF Image 3.0 image at /iiif/3/spectral/{capture}/{layer}/..., rendered on
 * demand, region by region, from the stored 16-bit band pyramids (composites and ratios are
 * computed from the bands for the requested region only, never stored full size) and cached
 * like other renders; the JSON API gives a capture's record and the spectrum at a point with
 * the nearest library pigments; the relic's manifest gets the layers as Choice bodies. The
 * layer syntax is documented in docs/spectral.md ("Serving"). No science here: spectral/.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include "blob/blob.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/spectral_stack.h"
#include "iiif/iiif.h"
#include "image/image.h"
#include "spectral/spectral.h"

#define SCALE 50000.0     /* stored uint16 = reflectance * SCALE (docs/spectral.md) */
#define DQ_STACK_NAMES 32 /* layers offered per capture in a manifest Choice */

/* ================================================================ captures and layers */

/* How to render one layer: the parsed recipe and the store keys of its files (the server's
 * blob store: the data directory, a mount or S3; src/blob). */
typedef struct {
    int mode;
    int n;
    char key[3][256];
} recipe_t;

static void band_key(const char *cap, const char *name, char *out)
{
    snprintf(out, 256, "layers/spectral/%.64s/%.127s.tif", cap, name);
}

/* Pins every file of capture cap (its bands and stored layers) to the SHA-256 its record
 * keeps (blob.h dq_blob_pin): an object store then opens them without a HEAD per request,
 * and asks again once the record names other bytes (a --replace). */
static void pin_capture(struct dq_blob *store, const char *cap, json_t *doc, json_t *layers)
{
    json_t *bands = json_object_get(doc, "bands");
    char key[256];
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *sha = json_string_value(json_object_get(b, "sha256"));
        if (name && sha) {
            band_key(cap, name, key);
            dq_blob_pin(store, key, sha);
        }
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *ld = json_object_get(json_array_get(layers, i), "doc");
        const char *file = json_string_value(json_object_get(ld, "file"));
        const char *sha = json_string_value(json_object_get(ld, "sha256"));
        if (file && sha) {
            snprintf(key, sizeof(key), "layers/spectral/%.64s/%.127s", cap, file);
            dq_blob_pin(store, key, sha);
        }
    }
}

/* Fills r for layer of capture cap (record doc, layers JSON array). 0, or -1 (404). */
static int recipe(const char *cap, json_t *doc, json_t *layers, const char *layer, recipe_t *r)
{
    dq_spectral_recipe_t p;
    memset(r, 0, sizeof(*r));
    if (dq_spectral_recipe(doc, layers, layer, &p) < 0)
        return -1;
    r->mode = p.mode;
    r->n = p.n;
    for (int i = 0; i < p.n; i++) {
        if (p.mode == DQ_SPECTRAL_STORED || p.mode == DQ_SPECTRAL_LABELS)
            snprintf(r->key[i], 256, "layers/spectral/%.64s/%.127s", cap, p.name[i]);
        else
            band_key(cap, p.name[i], r->key[i]);
    }
    return 0;
}

/* ================================================================ rendering */

static uint8_t srgb8(double v)
{
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double e = v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055;
    return (uint8_t)lround(e * 255);
}

/* A fixed palette for pigment labels (0 support: paper white, 1 ink: near black). */
static void label_rgb(int v, uint8_t *o)
{
    static const uint8_t pal[12][3] = {{230, 25, 75},  {60, 180, 75},  {255, 225, 25},
                                       {0, 130, 200},  {245, 130, 48}, {145, 30, 180},
                                       {70, 240, 240}, {240, 50, 230}, {210, 245, 60},
                                       {0, 128, 128},  {170, 110, 40}, {128, 0, 0}};
    if (v == 0) {
        o[0] = o[1] = o[2] = 245;
    } else if (v == 1) {
        o[0] = o[1] = o[2] = 30;
    } else {
        memcpy(o, pal[(v - 2) % 12], 3);
    }
}

typedef struct {
    recipe_t r;
    dq_iiif_plan_t plan;
    dq_iiif_image_t img;
    int public_img;
    char *base_id;
    int quality;
} job_t;

static void job_free(void *arg)
{
    job_t *j = arg;
    free(j->base_id);
    free(j);
}

/* Rotates (multiples of 90, clockwise) and mirrors px in place of a new buffer. */
static uint8_t *orient(uint8_t *px, int *w, int *h, int bands, int rot, int mirror)
{
    int W = *w, H = *h;
    int ow = rot % 180 ? H : W, oh = rot % 180 ? W : H;
    uint8_t *o = dq_xmalloc((size_t)ow * oh * bands);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = mirror ? W - 1 - x : x; /* IIIF: mirror first, then rotate */
            int dx, dy;
            switch (rot) {
            case 90:
                dx = H - 1 - y;
                dy = x;
                break;
            case 180:
                dx = W - 1 - x;
                dy = H - 1 - y;
                break;
            case 270:
                dx = y;
                dy = W - 1 - x;
                break;
            default:
                dx = x;
                dy = y;
            }
            memcpy(o + ((size_t)dy * ow + dx) * bands, px + ((size_t)y * W + sx) * bands,
                   (size_t)bands);
        }
    free(px);
    *w = ow;
    *h = oh;
    return o;
}

static void job_run(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us)
{
    (void)deadline_us;
    job_t *j = arg;
    const dq_iiif_plan_t *p = &j->plan;
    dq_rasterf_t in[3] = {0};
    dq_err_t err = {0};
    int ow = (int)p->out_w, oh = (int)p->out_h;
    size_t n = (size_t)ow * oh;
    uint8_t *px = NULL;
    int bands = 3;
    for (int i = 0; i < j->r.n; i++)
        if (dq_image_read_region_u16(srv->store, j->r.key[i], (int)p->x, (int)p->y, (int)p->w,
                                     (int)p->h, ow, oh, &in[i], &err) < 0) {
            dq_http_resp_error(resp, err.http_status ? err.http_status : 500, err.msg);
            goto out;
        }
    px = dq_xmalloc(n * 3);
    for (size_t k = 0; k < n; k++) {
        uint8_t *o = px + k * 3;
        switch (j->r.mode) {
        case DQ_SPECTRAL_GREY:
            o[0] = o[1] = o[2] = srgb8(in[0].px[k * in[0].bands] / SCALE);
            break;
        case DQ_SPECTRAL_COLOR:
            for (int c = 0; c < 3; c++)
                o[c] = srgb8(in[0].px[k * in[0].bands + (in[0].bands == 3 ? c : 0)] / SCALE);
            break;
        case DQ_SPECTRAL_RGB:
            for (int c = 0; c < 3; c++)
                o[c] = srgb8(in[c].px[k * in[c].bands] / SCALE);
            break;
        case DQ_SPECTRAL_RATIO: {
            /* A / B, 0..2 mapped linearly to black..white: 1 (no difference) is mid grey. */
            double a = in[0].px[k * in[0].bands], b = in[1].px[k * in[1].bands];
            double v = a / (b > 50 ? b : 50) / 2;
            o[0] = o[1] = o[2] = (uint8_t)lround(255 * (v < 0 ? 0 : v > 1 ? 1 : v));
            break;
        }
        case DQ_SPECTRAL_LABELS:
            label_rgb((int)lround(in[0].px[k * in[0].bands]), o);
            break;
        default: /* stored 8-bit layers */
            for (int c = 0; c < 3; c++) {
                float v = in[0].px[k * in[0].bands + (in[0].bands == 3 ? c : 0)];
                o[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lroundf(v));
            }
        }
    }
    if (j->quality == DQ_Q_GRAY || j->quality == DQ_Q_BITONAL) {
        for (size_t k = 0; k < n; k++) {
            double y = 0.2126 * px[k * 3] + 0.7152 * px[k * 3 + 1] + 0.0722 * px[k * 3 + 2];
            px[k] = j->quality == DQ_Q_BITONAL ? (y >= 128 ? 255 : 0) : (uint8_t)lround(y);
        }
        bands = 1;
    }
    int rot = (int)lround(p->rotation) % 360;
    if (rot || p->mirror)
        px = orient(px, &ow, &oh, bands, rot, p->mirror);
    int fmt = p->format == DQ_FMT_PNG    ? DQ_RF_PNG
              : p->format == DQ_FMT_WEBP ? DQ_RF_WEBP
              : p->format == DQ_FMT_TIF  ? DQ_RF_TIF
                                         : DQ_RF_JPG;
    if (dq_image_encode_u8(px, ow, oh, bands, fmt, srv->cfg->serve_quality, &resp->body, &err) <
        0) {
        dq_http_resp_error(resp, 500, err.msg);
        goto out;
    }
    resp->content_type = dq_iiif_format_mime(p->format);
    dq_buf_t link = {0};
    dq_buf_puts(&link, "<");
    dq_buf_puts(&link, j->base_id);
    dq_buf_putc(&link, '/');
    dq_iiif_canonical(p, &j->img, DQ_IIIF_V3, &link);
    dq_buf_puts(&link, ">;rel=\"canonical\"");
    dq_http_resp_header(resp, "Link", link.data);
    dq_buf_free(&link);
    dq_http_resp_header(resp, "Cache-Control",
                        j->public_img ? "public, max-age=3600" : "private, max-age=3600");
    resp->cacheable = j->public_img;
out:
    for (int i = 0; i < 3; i++)
        dq_rasterf_free(&in[i]);
    free(px);
}

/* ================================================================ /iiif/3/spectral/ */

/* The capture as who may see it: 1 public, 0 this caller only, -1 hidden (404). */
static int capture_for(dq_server_t *srv, const dq_http_req_t *req, const char *id,
                       dq_capture_t *cap)
{
    dq_actor_t anon = {.role = DQ_ROLE_ANON}, who = {.role = DQ_ROLE_ANON};
    dq_err_t err = {0};
    if (dq_catalog_capture_get(srv->catalog, id, &anon, cap, &err) == 0)
        return 1;
    if (dq_http_actor(srv, req, &who, NULL, &err) < 0 || who.role == DQ_ROLE_ANON)
        return -1;
    return dq_catalog_capture_get(srv->catalog, id, &who, cap, &err) == 0 ? 0 : -1;
}

static void geometry(const dq_server_t *srv, int w, int h, dq_iiif_image_t *img)
{
    memset(img, 0, sizeof(*img));
    img->width = (uint32_t)w;
    img->height = (uint32_t)h;
    img->tile_w = img->tile_h = 256;
    /* The levels of a vips pyramid: halved (rounded up) until a tile holds the image. */
    uint32_t lw = (uint32_t)w, lh = (uint32_t)h;
    img->levels[0] = (dq_iiif_level_t){lw, lh};
    img->n_levels = 1;
    while ((lw > 256 || lh > 256) && img->n_levels < 32) {
        lw = (lw + 1) / 2;
        lh = (lh + 1) / 2;
        img->levels[img->n_levels++] = (dq_iiif_level_t){lw, lh};
    }
    img->max_width = srv->cfg->max_width;
    img->max_height = srv->cfg->max_height;
    img->max_area = srv->cfg->max_area;
}

void dq_http_spectral_iiif(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    static const char prefix[] = "/iiif/3/spectral/";
    const char *p = req->path + strlen(prefix);
    size_t len = req->path_len - strlen(prefix);
    dq_capture_t cap = {0};
    json_t *doc = NULL, *layers = NULL;
    dq_buf_t base = {0}, lb = {0};
    dq_err_t err = {0};
    char cid[DQ_IIIF_ID_MAX + 1], layer[DQ_IIIF_ID_MAX + 1];
    int kind = 0;
    const char *params = NULL;
    size_t params_len = 0;
    dq_iiif_req_t ir;
    if (dq_spectral_split_path(p, len, cid, layer, &kind, &params, &params_len, &err) < 0) {
        dq_http_resp_error(resp, err.http_status, err.msg);
        goto out;
    }
    if (kind == DQ_IIIF_PATH_IMAGE &&
        dq_iiif_parse(params, params_len, DQ_IIIF_V3, &ir, &err) < 0) {
        dq_http_resp_error(resp, err.http_status ? err.http_status : 400, err.msg);
        goto out;
    }
    int vis = capture_for(srv, req, cid, &cap);
    if (vis < 0) {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    dq_actor_t who = {.role = DQ_ROLE_ADMIN};
    doc = json_loads(cap.doc, 0, NULL);
    if (dq_catalog_capture_layers(srv->catalog, cid, &who, &lb, &err) == 0)
        layers = json_loadb(lb.data, lb.len, 0, NULL);
    pin_capture(srv->store, cid, doc, layers);
    recipe_t r;
    if (recipe(cid, doc, layers, layer, &r) < 0) {
        dq_http_resp_error(resp, 404, "no such layer of this capture (docs/spectral.md)");
        goto out;
    }
    dq_http_base_url(srv, req, &base);
    dq_buf_puts(&base, prefix);
    dq_buf_puts(&base, cid);
    dq_buf_putc(&base, '/');
    dq_buf_puts(&base, layer);
    dq_iiif_image_t img;
    geometry(srv, cap.width, cap.height, &img);
    if (kind == DQ_IIIF_PATH_BASE) {
        resp->status = 303;
        dq_buf_puts(&base, "/info.json");
        dq_http_resp_header(resp, "Location", base.data);
        resp->no_etag = 1;
        goto out;
    }
    if (kind == DQ_IIIF_PATH_INFO) {
        /* The shared builder's info.json, less arbitrary rotation (multiples of 90 only). */
        dq_buf_t ib = {0};
        dq_iiif_info_json(&img, base.data, DQ_IIIF_V3, &ib);
        json_t *info = json_loadb(ib.data, ib.len, 0, NULL);
        dq_buf_free(&ib);
        json_t *feat = json_object_get(info, "extraFeatures");
        for (size_t i = json_array_size(feat); i-- > 0;)
            if (strcmp(json_string_value(json_array_get(feat, i)), "rotationArbitrary") == 0)
                json_array_remove(feat, i);
        json_array_append_new(feat, json_string("rotationBy90s"));
        char *txt = json_dumps(info, JSON_INDENT(2));
        dq_buf_puts(&resp->body, txt);
        free(txt);
        json_decref(info);
        resp->content_type = "application/json";
        dq_http_resp_header(resp, "Cache-Control",
                            vis == 1 ? "public, max-age=3600" : "private, max-age=3600");
        resp->cacheable = vis == 1;
        goto out;
    }
    job_t *j = dq_xcalloc(1, sizeof(*j));
    if (dq_iiif_plan(&ir, &img, &j->plan, &err) < 0) {
        free(j);
        dq_http_resp_error(resp, err.http_status ? err.http_status : 400, err.msg);
        goto out;
    }
    if (fmod(j->plan.rotation, 90.0) != 0) {
        free(j);
        dq_http_resp_error(resp, 400, "spectral layers rotate by multiples of 90 degrees");
        goto out;
    }
    j->r = r;
    j->img = img;
    j->public_img = vis == 1;
    j->quality = ir.quality;
    j->base_id = dq_xstrdup(base.data);
    resp->defer_fn = job_run;
    resp->defer_free = job_free;
    resp->defer_arg = j;
    resp->cache_on_second = 0;
out:
    json_decref(doc);
    json_decref(layers);
    dq_capture_free(&cap);
    dq_buf_free(&base);
    dq_buf_free(&lb);
}

/* ================================================================ JSON API */

/* GET /api/relics/{id}/captures */
void dq_api_relic_captures(dq_api_t *c)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    if (dq_catalog_capture_list(c->srv->catalog, c->seg[1], &c->actor, &b, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        dq_buf_free(&b);
        return;
    }
    dq_buf_t out = {0};
    dq_buf_puts(&out, "{\"items\":");
    dq_buf_append(&out, b.data, b.len);
    dq_buf_puts(&out, "}");
    dq_api_json(c->resp, 200, &out);
    dq_buf_free(&b);
    dq_buf_free(&out);
}

/* GET /api/captures/{id}: the record, its layers and the IIIF image of every layer. */
void dq_api_capture_get(dq_api_t *c)
{
    dq_capture_t cap = {0};
    dq_buf_t lb = {0}, out = {0};
    dq_err_t err = {0};
    json_t *o = NULL;
    if (dq_catalog_capture_get(c->srv->catalog, c->seg[1], &c->actor, &cap, &err) < 0 ||
        dq_catalog_capture_layers(c->srv->catalog, c->seg[1], &c->actor, &lb, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    char *base = dq_api_base_url(c);
    json_t *doc = json_loads(cap.doc, 0, NULL);
    json_t *layers = json_loadb(lb.data, lb.len, 0, NULL);
    json_t *images = json_array();
    json_t *bands = json_object_get(doc, "bands");
    const char *presets[] = {"visible", "irfc", "uvf"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(presets); i++) {
        recipe_t r;
        if (recipe(cap.id, doc, layers, presets[i], &r) == 0)
            json_array_append_new(images, json_pack("{s:s, s:s, s:s+++}", "name", presets[i],
                                                    "kind", "composite", "service", base,
                                                    "/iiif/3/spectral/", cap.id, "/"));
    }
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        json_t *e = json_pack("{s:O, s:O, s:s+++}", "name", json_object_get(b, "name"), "kind",
                              json_object_get(b, "kind"), "service", base, "/iiif/3/spectral/",
                              cap.id, "/");
        if (json_object_get(b, "nm"))
            json_object_set(e, "nm", json_object_get(b, "nm"));
        json_array_append_new(images, e);
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        json_array_append_new(images,
                              json_pack("{s:O, s:O, s:s+++}", "name", json_object_get(l, "name"),
                                        "kind", json_object_get(l, "kind"), "service", base,
                                        "/iiif/3/spectral/", cap.id, "/"));
    }
    /* The service URL ends in "/": append the name. */
    for (size_t i = 0; i < json_array_size(images); i++) {
        json_t *e = json_array_get(images, i);
        char *s = dq_xasprintf("%s%s", json_string_value(json_object_get(e, "service")),
                               json_string_value(json_object_get(e, "name")));
        json_object_set_new(e, "service", json_string(s));
        free(s);
    }
    free(base);
    o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:o, s:o, s:o}", "id", cap.id, "relic",
                  cap.relic_id, "width", cap.width, "height", cap.height, "created", cap.created,
                  "modified", cap.modified, "record", doc ? doc : json_object(), "layers",
                  layers ? layers : json_array(), "images", images);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(8));
    dq_buf_puts(&out, s);
    free(s);
    dq_api_json(c->resp, 200, &out);
out:
    json_decref(o);
    dq_capture_free(&cap);
    dq_buf_free(&lb);
    dq_buf_free(&out);
}

/* GET /api/captures/{id}/spectrum?x=&y=: the calibrated reflectance at (x, y) (capture
 * pixels) and the best library matches (MESMA models against the capture's support). */
void dq_api_capture_spectrum(dq_api_t *c)
{
    dq_capture_t cap = {0};
    dq_err_t err = {0};
    dq_spec_lib_t lib = {0};
    dq_buf_t lb = {0}, out = {0};
    json_t *doc = NULL, *layers = NULL, *o = NULL;
    char *xs = NULL, *ys = NULL;
    int bad = 0, x, y;
    if (dq_catalog_capture_get(c->srv->catalog, c->seg[1], &c->actor, &cap, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    xs = dq_api_arg(c, "x", &bad);
    if (bad)
        goto out;
    ys = dq_api_arg(c, "y", &bad);
    if (bad)
        goto out;
    if (dq_spectral_parse_point(xs, ys, cap.width, cap.height, &x, &y) < 0) {
        dq_api_error(c->resp, 400, "x and y must be whole pixels inside the capture", NULL);
        goto out;
    }
    doc = json_loads(cap.doc, 0, NULL);
    pin_capture(c->srv->store, cap.id, doc, NULL);
    json_t *bands = json_object_get(doc, "bands");
    double nm[DQ_SPEC_MAX_BANDS], r[DQ_SPEC_MAX_BANDS];
    int n = 0;
    json_t *vals = json_array();
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        const char *k = json_string_value(json_object_get(b, "kind")),
                   *name = json_string_value(json_object_get(b, "name"));
        if (!k || !name)
            continue;
        char key[256];
        band_key(cap.id, name, key);
        dq_rasterf_t px = {0};
        if (dq_image_read_region_u16(c->srv->store, key, x, y, 1, 1, 1, 1, &px, &err) < 0) {
            json_decref(vals);
            dq_api_error_err(c->resp, &err);
            goto out;
        }
        double v = 0;
        for (int ch = 0; ch < px.bands; ch++)
            v += px.px[ch];
        v = v / px.bands / SCALE;
        dq_rasterf_free(&px);
        json_t *e = json_pack("{s:s, s:s, s:f}", "name", name, "kind", k, "value", v);
        if (strcmp(k, "reflectance") == 0) {
            double w = json_number_value(json_object_get(b, "nm"));
            json_object_set_new(e, "nm", json_real(w));
            if (w >= 405 && w <= 996 && n < DQ_SPEC_MAX_BANDS) {
                nm[n] = w;
                r[n++] = v;
            }
        }
        json_array_append_new(vals, e);
    }
    o = json_pack("{s:s, s:i, s:i, s:o}", "capture", cap.id, "x", x, "y", y, "bands", vals);
    if (n >= 2) {
        /* The library the server parsed at start-up, sampled at this capture's bands. */
        if (!c->srv->pigments) {
            dq_api_error_err(c->resp, &c->srv->pigments_err);
            goto out;
        }
        if (dq_spec_lib_sample(&lib, c->srv->pigments, nm, n, &err) < 0) {
            dq_api_error_err(c->resp, &err);
            goto out;
        }
        /* The support of the capture's pigment map, when it has one. */
        double sup[DQ_SPEC_MAX_BANDS], *support = NULL;
        dq_actor_t admin = {.role = DQ_ROLE_ADMIN};
        if (dq_catalog_capture_layers(c->srv->catalog, cap.id, &admin, &lb, &err) == 0 &&
            (layers = json_loadb(lb.data, lb.len, 0, NULL))) {
            for (size_t i = 0; i < json_array_size(layers); i++) {
                json_t *l = json_array_get(layers, i);
                json_t *se = json_object_get(json_object_get(l, "doc"), "support_endmember");
                if ((int)json_array_size(se) == n) {
                    for (int b = 0; b < n; b++)
                        sup[b] = json_number_value(json_array_get(se, (size_t)b));
                    support = sup;
                }
            }
        }
        int idx[5];
        double rms[5], cov[5];
        int got = dq_spec_match(&lib, support, r, 5, idx, rms, cov);
        json_t *m = json_array(), *wl = json_array();
        for (int k = 0; k < lib.n_wl; k++)
            json_array_append_new(wl, json_real(lib.wl[k]));
        for (int k = 0; k < got; k++) {
            char fam[DQ_SPEC_NAME];
            dq_spec_family(lib.names[idx[k]], fam, sizeof(fam));
            json_t *curve = json_array();
            for (int q = 0; q < lib.n_wl; q++)
                json_array_append_new(curve, json_real(lib.curves[(size_t)idx[k] * lib.n_wl + q]));
            json_array_append_new(m, json_pack("{s:s, s:s, s:f, s:f, s:o}", "name",
                                               lib.names[idx[k]], "family", fam, "rms", rms[k],
                                               "cover", cov[k], "curve", curve));
        }
        json_object_set_new(o, "matches", m);
        json_object_set_new(o, "library_nm", wl);
        json_object_set_new(o, "method",
                            json_string("MESMA: support + carbon ink + one pigment, "
                                        "fully constrained least squares"));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    dq_buf_puts(&out, s);
    free(s);
    dq_api_json(c->resp, 200, &out);
out:
    free(xs);
    free(ys);
    json_decref(doc);
    json_decref(layers);
    json_decref(o);
    dq_spec_lib_free(&lib);
    dq_capture_free(&cap);
    dq_buf_free(&lb);
    dq_buf_free(&out);
}

/* ================================================================ manifest Choice */

/* IIIF Presentation 3.0 §5.5 (Choice): the first canvas's painting body becomes a Choice of
 * the original image and every band and composite of the relic's captures, each with its
 * ImageService3, so that viewers (Mirador) offer them as layers. */
void dq_api_spectral_manifest_decorate(dq_api_t *c, const char *relic, dq_buf_t *manifest)
{
    dq_buf_t lb = {0};
    dq_err_t err = {0};
    json_t *m = NULL, *caps = NULL;
    if (dq_catalog_capture_list(c->srv->catalog, relic, &c->actor, &lb, &err) < 0)
        goto out;
    caps = json_loadb(lb.data, lb.len, 0, NULL);
    if (json_array_size(caps) == 0)
        goto out;
    m = json_loadb(manifest->data, manifest->len, 0, NULL);
    json_t *canvas = json_array_get(json_object_get(m, "items"), 0);
    json_t *page = json_array_get(json_object_get(canvas, "items"), 0);
    json_t *anno = json_array_get(json_object_get(page, "items"), 0);
    json_t *body = json_object_get(anno, "body");
    if (!json_is_object(body) || !json_is_object(canvas))
        goto out;
    json_int_t cw = json_integer_value(json_object_get(canvas, "width"));
    json_int_t ch = json_integer_value(json_object_get(canvas, "height"));
    char *base = dq_api_base_url(c);
    /* A body that is already a Choice (a virtual restoration, issue 12) keeps its items and
     * order (the original first, the restoration second); the layers go after them. */
    int was_choice = json_is_string(json_object_get(body, "type")) &&
                     strcmp(json_string_value(json_object_get(body, "type")), "Choice") == 0;
    json_t *items = was_choice ? json_incref(json_object_get(body, "items")) : json_array();
    if (!json_is_array(items)) {
        json_decref(items);
        free(base);
        goto out;
    }
    if (!was_choice)
        json_array_append(items, body);
    for (size_t i = 0; i < json_array_size(caps); i++) {
        json_t *cap = json_array_get(caps, i);
        const char *cid = json_string_value(json_object_get(cap, "id"));
        json_int_t w = json_integer_value(json_object_get(cap, "width"));
        json_int_t h = json_integer_value(json_object_get(cap, "height"));
        json_t *bands = json_object_get(cap, "bands");
        const char *names[DQ_STACK_NAMES];
        char labels[DQ_STACK_NAMES][96];
        int nn = 0;
        names[nn] = "irfc";
        snprintf(labels[nn++], 96, "%s: IR false colour", cid);
        for (size_t b = 0; b < json_array_size(bands) && nn < DQ_STACK_NAMES; b++) {
            json_t *bb = json_array_get(bands, b);
            names[nn] = json_string_value(json_object_get(bb, "name"));
            if (!names[nn])
                continue;
            snprintf(labels[nn], 96, "%s: %s", cid, names[nn]);
            nn++;
        }
        for (int k = 0; k < nn; k++) {
            char *svc = dq_xasprintf("%s/iiif/3/spectral/%s/%s", base, cid, names[k]);
            char *full = dq_xasprintf("%s/full/max/0/default.jpg", svc);
            json_t *img = json_pack("{s:s, s:s, s:s, s:I, s:I, s:{s:[s]}, s:[{s:s, s:s, s:s}]}",
                                    "id", full, "type", "Image", "format", "image/jpeg", "width", w,
                                    "height", h, "label", "none", labels[k], "service", "id", svc,
                                    "type", "ImageService3", "profile", "level1");
            json_array_append_new(items, img);
            free(svc);
            free(full);
        }
    }
    free(base);
    (void)cw;
    (void)ch;
    json_object_set_new(anno, "body", json_pack("{s:s, s:o}", "type", "Choice", "items", items));
    char *s = json_dumps(m, JSON_COMPACT | JSON_REAL_PRECISION(10));
    dq_buf_reset(manifest);
    dq_buf_puts(manifest, s);
    free(s);
out:
    json_decref(m);
    json_decref(caps);
    dq_buf_free(&lb);
}

/* ================================================================ relic deletion */

json_t *dq_api_spectral_relic_files(dq_server_t *srv, const char *relic)
{
    dq_actor_t admin = {.role = DQ_ROLE_ADMIN};
    dq_buf_t lb = {0};
    dq_err_t err = {0};
    json_t *caps = NULL, *out = NULL;
    if (dq_catalog_capture_list(srv->catalog, relic, &admin, &lb, &err) < 0 ||
        !(caps = json_loadb(lb.data, lb.len, 0, NULL)) || json_array_size(caps) == 0)
        goto done;
    out = json_array();
    for (size_t i = 0; i < json_array_size(caps); i++) {
        json_t *cap = json_array_get(caps, i);
        const char *id = json_string_value(json_object_get(cap, "id"));
        if (!id)
            continue;
        dq_buf_t layers = {0};
        dq_err_t e = {0};
        dq_catalog_capture_layers(srv->catalog, id, &admin, &layers, &e);
        char *doc = json_dumps(cap, JSON_COMPACT); /* its "bands" are what the files follow */
        json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "id", id, "doc", doc, "layers",
                                             layers.data ? layers.data : "[]"));
        free(doc);
        dq_buf_free(&layers);
    }
done:
    json_decref(caps);
    dq_buf_free(&lb);
    return out;
}

void dq_api_spectral_remove_files(dq_server_t *srv, json_t *files)
{
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        dq_err_t err = {0};
        const char *id = json_string_value(json_object_get(f, "id"));
        if (dq_stack_remove_files(srv->store, id, json_string_value(json_object_get(f, "doc")),
                                  json_string_value(json_object_get(f, "layers")), &err) < 0)
            dq_log(DQ_LOG_WARN, "spectral", "capture %s of a deleted relic: %s", id, err.msg);
    }
}
