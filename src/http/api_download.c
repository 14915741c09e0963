/*
 * api_download.c: GET /api/relics/{id}/download (issue 16, for scholars): a whole image of a
 * relic or a region of it, up to the served maximum, as a file that carries the record's
 * rights and credit inside it (XMP and IPTC-IIM, iiif/embed.c). It is the Image API's render
 * with metadata: the request is turned into IIIF Image 3.0 parameters and parsed, planned
 * (the same max width/height/area: 403 beyond) and rendered by the same code as
 * /iiif/3/{id}/..., on the render queue (bounded slots, deadline), so a download costs what the
 * equivalent IIIF request costs and its memory is bounded the same way. Who may download is
 * who may see: the relic must be visible to the caller (404 otherwise, as the API answers) and
 * the image must be one of its images and visible to the caller as the Image API decides.
 */
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A render with its metadata, handed to the render queue. */
typedef struct {
    dq_pyramid_t *pyr; /* a reference */
    dq_render_spec_t spec;
    dq_buf_t xmp, iptc; /* spec.xmp / spec.iptc point into these */
    char *filename;     /* Content-Disposition */
    char *rights;       /* the rights URI (Link rel="license") */
    int format;
} job_t;

static void job_free(void *arg)
{
    job_t *j = arg;
    dq_pyramid_unref(j->pyr);
    dq_buf_free(&j->xmp);
    dq_buf_free(&j->iptc);
    free(j->filename);
    free(j->rights);
    free(j);
}

static void job_run(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us)
{
    job_t *j = arg;
    dq_err_t err = {0};
    j->spec.deadline_us = deadline_us;
    j->spec.cancel = &srv->stopping;
    if (dq_image_render(j->pyr, &j->spec, &resp->body, &err) < 0) {
        dq_api_error_err(resp, &err);
        if (err.http_status == 503)
            dq_http_resp_header(resp, "Retry-After", "5");
        return;
    }
    resp->status = 200;
    resp->content_type = dq_iiif_format_mime(j->format);
    dq_buf_t b = {0};
    dq_buf_printf(&b, "attachment; filename=\"%s\"", j->filename);
    dq_http_resp_header(resp, "Content-Disposition", b.data);
    dq_buf_reset(&b);
    dq_buf_printf(&b, "<%s>; rel=\"license\"", j->rights);
    dq_http_resp_header(resp, "Link", b.data);
    dq_buf_free(&b);
    /* A download is asked for once and may be restricted: no shared cache keeps it. */
    dq_http_resp_header(resp, "Cache-Control", "private, max-age=3600");
    resp->cacheable = 0;
}

/* The image the download is of: `image`, which must be one of the relic's images, else the
 * relic's main image (role "main", else the first), as the relic page picks it. Returns a
 * borrowed string of doc, or NULL. */
static const char *pick_image(const json_t *doc, const char *want)
{
    const json_t *imgs = json_object_get(doc, "images");
    const char *first = NULL, *main_img = NULL;
    size_t i;
    const json_t *im;
    json_array_foreach(imgs, i, im)
    {
        const char *iid = json_string_value(json_object_get(im, "image_id"));
        const char *role = json_string_value(json_object_get(im, "role"));
        if (!iid)
            continue;
        if (want && strcmp(want, iid) == 0)
            return iid;
        if (!first)
            first = iid;
        if (!main_img && role && strcmp(role, "main") == 0)
            main_img = iid;
    }
    return want ? NULL : main_img ? main_img : first;
}

/* A file name of safe characters only: the accession (or id), the image, the size. */
static void safe_name(dq_buf_t *b, const char *s)
{
    for (; *s; s++) {
        char ch = *s;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        dq_buf_putc(b, ok ? ch : '_');
    }
}

void dq_api_relic_download(dq_api_t *c)
{
    dq_buf_t doc = {0}, params = {0}, page = {0}, name = {0}, rights = {0};
    dq_err_t err = {0};
    json_t *d = NULL;
    dq_pyramid_t *pyr = NULL;
    int bad = 0;
    char *want = dq_api_arg(c, "image", &bad);
    char *region = bad ? NULL : dq_api_arg(c, "region", &bad);
    char *width = bad ? NULL : dq_api_arg(c, "width", &bad);
    char *format = bad ? NULL : dq_api_arg(c, "format", &bad);
    char *base = NULL;
    if (bad)
        goto out;
    if (dq_catalog_relic_get(c->srv->catalog, c->seg[1], &c->actor, &doc, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    d = json_loadb(doc.data, doc.len, 0, NULL);
    const char *iid = pick_image(d, want);
    if (!iid) {
        dq_api_error(c->resp, 404, want ? "no such image of this relic" : "the relic has no image",
                     NULL);
        goto out;
    }
    /* Exactly the Image API's rule (iiif_image.c): an image of only restricted relics is
     * hidden from anonymous callers. The relic being visible already implies it; this keeps
     * the two answers the same should the rules ever diverge. */
    if (!dq_catalog_image_visible(c->srv->catalog, iid, &c->actor)) {
        dq_api_error(c->resp, 404, "not found", NULL);
        goto out;
    }
    const char *fmt = format ? format : "jpg";
    if (strcmp(fmt, "jpg") != 0 && strcmp(fmt, "png") != 0 && strcmp(fmt, "tif") != 0) {
        dq_api_error(c->resp, 400, "format must be jpg, png or tif (formats that carry XMP)", NULL);
        goto out;
    }
    /* width: decimal pixels or "max" (the largest the server allows for the region). */
    if (width && strcmp(width, "max") != 0 &&
        (strspn(width, "0123456789") != strlen(width) || !*width || strlen(width) > 9)) {
        dq_api_error(c->resp, 400, "width must be a number of pixels or max", NULL);
        goto out;
    }
    if (region && (strchr(region, '/') || !*region)) {
        dq_api_error(c->resp, 400,
                     "region is a IIIF Image 3.0 region (full, square, x,y,w,h, pct:...)", NULL);
        goto out;
    }
    dq_buf_printf(&params, "%s/%s%s/0/default.%s", region ? region : "full",
                  width && strcmp(width, "max") != 0 ? width : "max",
                  width && strcmp(width, "max") != 0 ? "," : "", fmt);
    dq_iiif_req_t ir;
    if (dq_iiif_parse(params.data, params.len, DQ_IIIF_V3, &ir, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    pyr = dq_registry_get(c->srv->registry, iid, &err);
    if (!pyr) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_iiif_image_t img;
    dq_http_iiif_geometry(c->srv, dq_pyramid_info(pyr), &img);
    dq_iiif_plan_t plan;
    if (dq_iiif_plan(&ir, &img, &plan, &err) < 0) { /* 403 past the served maximum */
        dq_api_error_err(c->resp, &err);
        goto out;
    }

    base = dq_api_base_url(c);
    dq_buf_printf(&page, "%s/relic/", base);
    dq_buf_url_segment(&page, c->seg[1]);
    dq_iiif_pctx_t pctx = {.base_url = base};
    job_t *j = dq_xcalloc(1, sizeof(*j));
    if (dq_iiif_embed_meta(doc.data, doc.len, &pctx, page.data, &j->xmp, &j->iptc, &err) < 0) {
        job_free(j);
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_iiif_rights_uri(json_string_value(json_object_get(d, "rights")), &rights);
    const char *acc = json_string_value(json_object_get(d, "accession"));
    safe_name(&name, acc ? acc : c->seg[1]);
    if (strcmp(iid, acc ? acc : c->seg[1]) != 0) {
        dq_buf_putc(&name, '-');
        safe_name(&name, iid);
    }
    dq_buf_printf(&name, "-%ux%u.%s", plan.out_w, plan.out_h, fmt);
    dq_pyramid_ref(pyr);
    j->pyr = pyr;
    j->format = plan.format;
    j->filename = dq_buf_steal(&name, NULL);
    j->rights = dq_buf_steal(&rights, NULL);
    j->spec = (dq_render_spec_t){
        .level = plan.level,
        .lx = plan.lx,
        .ly = plan.ly,
        .lw = plan.lw,
        .lh = plan.lh,
        .out_w = plan.out_w,
        .out_h = plan.out_h,
        .format = plan.format == DQ_FMT_PNG   ? DQ_RF_PNG
                  : plan.format == DQ_FMT_TIF ? DQ_RF_TIF
                                              : DQ_RF_JPG,
        .jpeg_quality = c->srv->cfg->serve_quality,
        .xmp = j->xmp.data,
        .xmp_len = j->xmp.len,
        .iptc = j->iptc.data,
        .iptc_len = j->iptc.len,
    };
    c->resp->defer_fn = job_run;
    c->resp->defer_free = job_free;
    c->resp->defer_arg = j;
out:
    free(want);
    free(region);
    free(width);
    free(format);
    free(base);
    json_decref(d);
    dq_pyramid_unref(pyr);
    dq_buf_free(&doc);
    dq_buf_free(&params);
    dq_buf_free(&page);
    dq_buf_free(&name);
    dq_buf_free(&rights);
}
