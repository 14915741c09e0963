/*
 * api_style.c: similar works over HTTP (issue 13, docs/api.md "Similar works"):
 * GET /api/relics/{id}/similar?limit= and POST /api/similar with an uploaded image (any
 * image body (Content-Type image/...) up to 1 MiB) or a JSON body {"image_id", "region": "x,y,w,h", "limit",
 * "exclude_relic"}. Answers come from catalog/style.c (visibility, ranking, reasons); this file
 * loads and embeds the query picture and adds attribution suggestions, which are never
 * written anywhere.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"
#include "style/style.h"

/* Uploads are decoded only up to this many pixels (checked from the header first). */
#define UPLOAD_MAX_PIXELS (64u << 20)

static int parse_limit(dq_api_t *c, int *limit)
{
    int bad = 0;
    char *v = dq_api_arg(c, "limit", &bad);
    if (bad)
        return -1;
    *limit = 12;
    if (v) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > 100) {
            free(v);
            dq_api_error(c->resp, 400, "limit must be 1..100", NULL);
            return -1;
        }
        *limit = (int)n;
    }
    free(v);
    return 0;
}

/* Answers out (200) when rc is 0, else the error; frees out. */
static void answer(dq_api_t *c, int rc, dq_buf_t *out, const dq_err_t *err)
{
    if (rc < 0) {
        dq_api_error_err(c->resp, err);
    } else {
        dq_buf_putc(out, '\n');
        dq_api_json(c->resp, 200, out);
    }
    dq_buf_free(out);
}

void dq_api_style_similar(dq_api_t *c)
{
    int limit;
    if (parse_limit(c, &limit) < 0)
        return;
    dq_buf_t out = {0};
    dq_err_t err = {0};
    answer(c,
           dq_catalog_style_similar_relic(c->srv->catalog, c->seg[1], limit, &c->actor, &out, &err),
           &out, &err);
}

typedef struct {
    float *vec;
    int dim;
    char model[64];
} vec_t;

static int stored_vec(void *ud, const dq_style_row_t *row)
{
    vec_t *v = ud;
    v->dim = row->dim;
    v->vec = dq_xmalloc((size_t)row->dim * sizeof(float));
    memcpy(v->vec, row->vec, (size_t)row->dim * sizeof(float));
    snprintf(v->model, sizeof(v->model), "%s", row->model);
    return 0;
}

static int embed_px(dq_pixels_t *px, vec_t *v, dq_err_t *err)
{
    const dq_style_embedder_t *e = dq_style_default();
    dq_style_image_t im = {px->rgb, px->width, px->height, px->stride};
    v->dim = e->dim;
    v->vec = dq_xmalloc((size_t)e->dim * sizeof(float));
    snprintf(v->model, sizeof(v->model), "%s", e->name);
    return e->embed(e, &im, v->vec, err);
}

void dq_api_style_search(dq_api_t *c)
{
    dq_err_t err = {0};
    dq_buf_t out = {0}, attr = {0};
    vec_t v = {0};
    json_t *body = NULL;
    dq_pixels_t px = {0};
    char image_id[DQ_IMAGE_ID_MAX + 1] = "", exclude[128] = "";
    int limit = 12, by_stored = 0;
    if (parse_limit(c, &limit) < 0)
        return;
    const char *ct = c->req->header(c->req, "Content-Type");
    const dq_style_embedder_t *e = dq_style_default();
    if (ct && strncasecmp(ct, "image/", 6) == 0) {
        if (dq_image_pixels_buffer(c->req->body, c->req->body_len, e->side, UPLOAD_MAX_PIXELS, &px,
                                   &err) < 0 ||
            embed_px(&px, &v, &err) < 0)
            goto fail;
    } else {
        if (!(body = dq_api_body(c, 0)))
            goto out; /* 400/413/415 answered */
        const char *iid = json_string_value(json_object_get(body, "image_id"));
        const char *region = json_string_value(json_object_get(body, "region"));
        const char *ex = json_string_value(json_object_get(body, "exclude_relic"));
        json_t *lj = json_object_get(body, "limit");
        if (lj) {
            if (!json_is_integer(lj) || json_integer_value(lj) < 1 || json_integer_value(lj) > 100) {
                dq_api_error(c->resp, 400, "limit must be 1..100", NULL);
                goto out;
            }
            limit = (int)json_integer_value(lj);
        }
        if (!iid) {
            dq_api_error(c->resp, 400,
                         "send an image (Content-Type image/...) or {\"image_id\", \"region\"}", NULL);
            goto out;
        }
        if (!dq_image_id_valid(iid, &err))
            goto fail;
        snprintf(image_id, sizeof(image_id), "%s", iid);
        if (ex)
            snprintf(exclude, sizeof(exclude), "%s", ex);
        if (!dq_catalog_image_visible(c->srv->catalog, image_id, &c->actor)) {
            dq_err_set(&err, DQ_ENOTFOUND, 404, "no image '%s'", image_id);
            goto fail;
        }
        if (region) {
            int x, y, w, h;
            char tail;
            if (sscanf(region, "%d,%d,%d,%d%c", &x, &y, &w, &h, &tail) != 4 || w < 16 || h < 16) {
                dq_api_error(c->resp, 400, "region must be x,y,w,h (at least 16x16 pixels)", NULL);
                goto out;
            }
            dq_image_rec_t rec;
            if (dq_catalog_image_get(c->srv->catalog, image_id, &rec, &err) < 0)
                goto fail;
            /* pinned to the row's SHA-256: one HEAD per pyramid version, not per request */
            dq_blob_pin(c->srv->store, rec.pyramid_path, rec.pyramid_sha256);
            char *path = dq_blob_local_path(c->srv->store, rec.pyramid_path, &err);
            if (!path)
                goto fail;
            int r = dq_image_pixels_region(path, x, y, w, h, e->side, &px, &err);
            free(path);
            if (r < 0 || embed_px(&px, &v, &err) < 0)
                goto fail;
        } else {
            int r = dq_catalog_style_get(c->srv->catalog, image_id, stored_vec, &v, &err);
            if (r < 0)
                goto fail;
            if (r == 1) {
                dq_err_set(&err, DQ_ENOTFOUND, 404, "image '%s' is not indexed yet", image_id);
                goto fail;
            }
            by_stored = 1;
        }
    }
    dq_style_query_t q = {.image_id = by_stored ? image_id : NULL,
                          .vec = by_stored ? NULL : v.vec,
                          .dim = v.dim,
                          .model = v.model,
                          .exclude_relic = exclude[0] ? exclude : NULL,
                          .limit = limit};
    if (dq_catalog_style_similar(c->srv->catalog, &q, &c->actor, &out, &err) < 0)
        goto fail;
    /* Attribution suggestions of each label that has a model. */
    dq_buf_puts(&attr, "{");
    const char *labels[] = {"school", "dynasty"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        dq_buf_t one = {0};
        dq_err_t e2 = {0};
        if (dq_catalog_style_classify(c->srv->catalog, labels[i], v.vec, v.dim, v.model, 3, &one,
                                      &e2) == 0) {
            dq_buf_printf(&attr, "%s\"%s\":", n++ ? "," : "", labels[i]);
            dq_buf_append(&attr, one.data, one.len);
        }
        dq_buf_free(&one);
    }
    dq_buf_puts(&attr, "}");
    /* out is one JSON object: insert the attribution before its closing brace. */
    out.len--;
    dq_buf_puts(&out, ",\"attribution\":");
    dq_buf_append(&out, attr.data, attr.len);
    dq_buf_puts(&out, ",\"note\":\"attribution is a suggestion with calibrated probabilities; "
                      "the catalog record is not changed\"}\n");
    dq_api_json(c->resp, 200, &out);
    goto out;
fail:
    dq_api_error_err(c->resp, &err);
out:
    json_decref(body);
    dq_pixels_free(&px);
    free(v.vec);
    dq_buf_free(&out);
    dq_buf_free(&attr);
}

void dq_api_style_palette(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    answer(c, dq_catalog_style_palette_relic(c->srv->catalog, c->seg[1], &c->actor, &out, &err), &out, &err);
}

void dq_api_style_map(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    answer(c, dq_catalog_style_map(c->srv->catalog, &c->actor, &out, &err), &out, &err);
}
