/*
 * iiif_image.c: the IIIF Image API handlers (3.0 at /iiif/3/, 2.1 at /iiif/2/). The order of
 * work is the order of cost: split and validate the path, parse the parameters (both pure,
 * no I/O), then look the image up, plan against its stored geometry (limits are enforced
 * here, before any pixel), and only then read: a stored tile as its raw JPEG bytes, anything
 * else through the renderer from the nearest pyramid level.
 */
#define _GNU_SOURCE
#include "http.h"
#include "api_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "iiif/iiif.h"
#include "image/image.h"

static const char *profile_link(int version)
{
    return version == DQ_IIIF_V3 ? "<http://iiif.io/api/image/3/level2.json>;rel=\"profile\""
                                 : "<http://iiif.io/api/image/2/level2.json>;rel=\"profile\"";
}

void dq_http_iiif_geometry(const dq_server_t *srv, const dq_pyramid_info_t *pi,
                           dq_iiif_image_t *img)
{
    memset(img, 0, sizeof(*img));
    img->width = pi->width;
    img->height = pi->height;
    img->tile_w = pi->tile_w;
    img->tile_h = pi->tile_h;
    img->n_levels = pi->n_levels;
    for (int i = 0; i < pi->n_levels && i < 32; i++) {
        img->levels[i].width = pi->levels[i].width;
        img->levels[i].height = pi->levels[i].height;
    }
    img->max_width = srv->cfg->max_width;
    img->max_height = srv->cfg->max_height;
    img->max_area = srv->cfg->max_area;
}

/* ======== restricted images (JSON API engineer) ======== */
/* docs/api.md Roles: an image that belongs only to restricted relics is access-controlled:
 * without a session or IIIF access cookie its pixels answer 401 and its info.json declares
 * the IIIF Auth 2.0 services (iiif_auth.c; issue 16, before which both were 404). The shared response cache is asked before any
 * handler runs and its key holds no user (mhd.c), so only answers anyone may see go into it:
 * a hidden image's answers are never cached, and the fast path for public tiles stays one
 * lookup. Relic writes that could hide an image bump the epoch (api_relics.c), which retires
 * what was cached while it was public. Returns 1 public, 0 visible to this caller only, -1
 * hidden from this caller. */
static int visibility(dq_server_t *srv, const dq_http_req_t *req, const char *id)
{
    dq_actor_t who = {.role = DQ_ROLE_ANON};
    if (dq_catalog_image_visible(srv->catalog, id, &who))
        return 1;
    dq_err_t err = {0};
    if (dq_http_actor(srv, req, &who, NULL, &err) < 0)
        return -1;
    /* IIIF Auth 2.0 (iiif_auth.c): a viewer on another site cannot send the session cookie,
     * only the access cookie the access service granted. */
    if (who.role == DQ_ROLE_ANON && !dq_http_iiif_access_actor(srv, req, &who))
        return -1;
    return dq_catalog_image_visible(srv->catalog, id, &who) ? 0 : -1;
}

/* Cache-Control of an image answer (docs/deploy.md, CDN). Browsers may keep a public answer
 * an hour; a restricted image is "private", so no shared cache (proxy, CDN) ever stores it,
 * and "no-cache": the browser asks again (If-None-Match) at every use, so that after a sign-out
 * (IIIF Auth 2.0 logout, issue 16) the next person at the same browser gets the 401, not the
 * pixels from the browser's cache; a browser that still has access gets a bodiless 304. A
 * public one may stay in a shared cache for --cdn-max-age seconds without asking again
 * (s-maxage); past that, and always with the default 0, the cache revalidates with the ETag
 * (a stored tile's comes from the pyramid file's identity, so it changes when the pyramid is
 * replaced) and gets a bodiless 304, or the 404 of an image that became restricted: the
 * bytes stay at the edge, the decision who may see them stays here. */
static void cache_control(const dq_server_t *srv, int public_img, char *out, size_t size)
{
    if (!public_img)
        snprintf(out, size, "private, no-cache");
    else
        snprintf(out, size, "public, max-age=3600, s-maxage=%d", srv->cfg->cdn_max_age);
}
/* ======== end restricted images ======== */

static void answer_err(dq_http_resp_t *resp, const dq_err_t *err)
{
    dq_http_resp_error(resp, err->http_status ? err->http_status : 500, err->msg);
}

static int render_quality(int q)
{
    switch (q) {
    case DQ_Q_GRAY:
        return DQ_RQ_GRAY;
    case DQ_Q_BITONAL:
        return DQ_RQ_BITONAL;
    case DQ_Q_COLOR:
        return DQ_RQ_COLOR;
    default:
        return DQ_RQ_DEFAULT;
    }
}

static int render_format(int f)
{
    switch (f) {
    case DQ_FMT_PNG:
        return DQ_RF_PNG;
    case DQ_FMT_WEBP:
        return DQ_RF_WEBP;
    case DQ_FMT_TIF:
        return DQ_RF_TIF;
    default:
        return DQ_RF_JPG;
    }
}

static void info(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp, int version,
                 const dq_iiif_image_t *img, const char *base_id, int public_img)
{
    dq_iiif_info_json(img, base_id, version, &resp->body);
    const char *accept = req->header(req, "Accept");
    int ld = accept && strstr(accept, "application/ld+json");
    const char *ctx = version == DQ_IIIF_V3 ? "http://iiif.io/api/image/3/context.json"
                                            : "http://iiif.io/api/image/2/context.json";
    char buf[256];
    if (ld) {
        snprintf(buf, sizeof(buf), "application/ld+json;profile=\"%s\"", ctx);
        dq_http_resp_header(resp, "Content-Type", buf);
    } else {
        resp->content_type = "application/json";
        /* JSON-LD 1.1 §6.1: plain JSON points at its context with a Link header. */
        snprintf(buf, sizeof(buf),
                 "<%s>;rel=\"http://www.w3.org/ns/json-ld#context\";type=\"application/ld+json\"",
                 ctx);
        dq_http_resp_header(resp, "Link", buf);
    }
    dq_http_resp_header(resp, "Link", profile_link(version));
    char cc[96];
    cache_control(srv, public_img, cc, sizeof(cc));
    dq_http_resp_header(resp, "Cache-Control", cc);
    dq_http_resp_header(resp, "Vary", "Accept");
    resp->cacheable = public_img;
}

/* What an image answer says besides its bytes: type, canonical Link, caching. */
static void image_headers(const dq_server_t *srv, dq_http_resp_t *resp, int version,
                          const dq_iiif_plan_t *plan,
                          const dq_iiif_image_t *img, const char *base_id, int public_img)
{
    resp->content_type = dq_iiif_format_mime(plan->format);
    dq_buf_t link = {0};
    dq_buf_reserve(&link, 256);
    dq_buf_putc(&link, '<');
    dq_buf_puts(&link, base_id);
    dq_buf_putc(&link, '/');
    dq_iiif_canonical(plan, img, version, &link);
    dq_buf_puts(&link, ">;rel=\"canonical\",");
    dq_buf_puts(&link, profile_link(version));
    dq_http_resp_header(resp, "Link", link.data);
    dq_buf_free(&link);
    char cc[96];
    cache_control(srv, public_img, cc, sizeof(cc));
    dq_http_resp_header(resp, "Cache-Control", cc);
    resp->cacheable = public_img;
    /* A stored tile is small and asked for again and again; a rendered region is bigger and
     * often asked for once (a random crop, a one-off size): it waits for a second request
     * before it may take a cache slot. Measured: caching every render let one wrk run of
     * 4,000 random regions grow the cache by 170 MB of answers nobody asked for again. */
    resp->cache_on_second = !plan->exact_tile;
}

/* A read of an object-store pyramid failed: if the object was replaced or removed outside
 * danqing (nothing in the catalog moved, so the watcher cannot know), the registry has asked
 * the store once and dropped the old handle; the response cache is retired (an answer of the
 * old version may sit there) and the request retries once on the pyramid opened anew. Returns
 * that pyramid (a new reference), or NULL: the error stands. Never mixes versions: a retry
 * starts over with the new pyramid's geometry and plan. */
static dq_pyramid_t *reopen_replaced(dq_server_t *srv, const char *id, dq_pyramid_t *pyr,
                                     dq_err_t *err)
{
    if (err->code != DQ_EIO || dq_registry_recheck(srv->registry, id, pyr) != 1)
        return NULL;
    atomic_fetch_add(&srv->epoch, 1);
    dq_log(DQ_LOG_INFO, "http", "image %s changed in the store; reopened, cache retired", id);
    dq_err_t e = {0};
    dq_pyramid_t *p = dq_registry_get(srv->registry, id, &e);
    if (!p)
        *err = e; /* removed: its 404, not the read error */
    return p;
}

/* A render handed to the render queue (mhd.c runs it through resp->defer_fn). */
typedef struct {
    dq_pyramid_t *pyr; /* a reference */
    dq_render_spec_t spec;
    dq_iiif_plan_t plan;
    dq_iiif_image_t img;
    dq_iiif_req_t ir;
    int version, public_img;
    int retried; /* 1: already reopened once for a replaced object */
    char id[DQ_IIIF_ID_MAX + 1];
    char *base_id;
} render_job_t;

static void render_job_free(void *arg)
{
    render_job_t *j = arg;
    dq_pyramid_unref(j->pyr);
    free(j->base_id);
    free(j);
}

static void render_spec(dq_server_t *srv, render_job_t *j)
{
    const dq_iiif_plan_t *plan = &j->plan;
    j->spec = (dq_render_spec_t){
        .level = plan->level,
        .lx = plan->lx,
        .ly = plan->ly,
        .lw = plan->lw,
        .lh = plan->lh,
        .out_w = plan->out_w,
        .out_h = plan->out_h,
        .rotation = plan->rotation,
        .mirror = plan->mirror,
        .quality = render_quality(plan->quality),
        .format = render_format(plan->format),
        .jpeg_quality = srv->cfg->serve_quality,
    };
}

static void render_job_run(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us)
{
    render_job_t *j = arg;
    dq_err_t err = {0};
    for (;;) {
        j->spec.deadline_us = deadline_us;
        j->spec.cancel = &srv->stopping; /* SIGTERM: stop now, answer 503 */
        if (dq_image_render(j->pyr, &j->spec, &resp->body, &err) == 0)
            break;
        dq_pyramid_t *fresh = j->retried ? NULL : reopen_replaced(srv, j->id, j->pyr, &err);
        if (!fresh) {
            answer_err(resp, &err);
            if (err.http_status == 503) /* past its deadline */
                dq_http_resp_header(resp, "Retry-After", "5");
            return;
        }
        j->retried = 1;
        dq_pyramid_unref(j->pyr);
        j->pyr = fresh;
        dq_http_iiif_geometry(srv, dq_pyramid_info(fresh), &j->img);
        dq_buf_reset(&resp->body);
        err = (dq_err_t){0};
        if (dq_iiif_plan(&j->ir, &j->img, &j->plan, &err) < 0) {
            answer_err(resp, &err);
            return;
        }
        render_spec(srv, j);
    }
    image_headers(srv, resp, j->version, &j->plan, &j->img, j->base_id, j->public_img);
}

static void image(dq_server_t *srv, dq_http_resp_t *resp, int version, dq_pyramid_t *pyr,
                  const dq_iiif_image_t *img_in, const dq_iiif_req_t *ir, const char *id,
                  const char *base_id, int public_img)
{
    dq_err_t err = {0};
    dq_iiif_plan_t plan;
    dq_iiif_image_t img = *img_in;
    dq_pyramid_t *fresh = NULL; /* the pyramid reopened after a replacement (a reference) */
    for (;;) {
        if (dq_iiif_plan(ir, &img, &plan, &err) < 0) {
            answer_err(resp, &err);
            goto out;
        }
        if (!plan.exact_tile)
            break;
        /* A stored tile: its bytes as stored, here on the connection's thread (fast). */
        if (dq_pyramid_tile_jpeg(pyr, plan.level, plan.tile_col, plan.tile_row, plan.lw, plan.lh,
                                 &resp->body, &err) == 0) {
            image_headers(srv, resp, version, &plan, &img, base_id, public_img);
            resp->has_etag_id = dq_pyramid_tile_tag(pyr, plan.level, plan.tile_col, plan.tile_row,
                                                    plan.lw, plan.lh, &resp->etag_id);
            goto out;
        }
        dq_buf_reset(&resp->body);
        if (err.code == DQ_EUNSUP) /* tiles not JPEG: render instead */
            break;
        if (fresh || !(fresh = reopen_replaced(srv, id, pyr, &err))) {
            answer_err(resp, &err);
            goto out;
        }
        pyr = fresh;
        dq_http_iiif_geometry(srv, dq_pyramid_info(pyr), &img);
        err = (dq_err_t){0};
    }
    /* Anything else is a render: it goes to the render queue, bounded in number and time. */
    render_job_t *j = dq_xcalloc(1, sizeof(*j));
    dq_pyramid_ref(pyr);
    j->pyr = pyr;
    j->plan = plan;
    render_spec(srv, j);
    j->img = img;
    j->ir = *ir;
    j->version = version;
    j->public_img = public_img;
    j->retried = fresh != NULL;
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->base_id = dq_xstrdup(base_id);
    resp->defer_fn = render_job_run;
    resp->defer_free = render_job_free;
    resp->defer_arg = j;
out:
    dq_pyramid_unref(fresh);
}

static void handle(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp, int version)
{
    size_t plen = strlen(version == DQ_IIIF_V3 ? "/iiif/3/" : "/iiif/2/");
    dq_err_t err = {0};
    char id[DQ_IIIF_ID_MAX + 1];
    int kind = 0;
    const char *params = NULL;
    size_t params_len = 0;
    dq_iiif_req_t ir;
    dq_pyramid_t *pyr = NULL;
    dq_buf_t base = {0}, auth = {0};

    if (dq_iiif_split_path(req->path + plen, req->path_len - plen, id, &kind, &params,
                           &params_len, &err) < 0) {
        answer_err(resp, &err);
        goto out;
    }
    /* Syntax first: a malformed request is a 400 without touching the catalog or a file. */
    if (kind == DQ_IIIF_PATH_IMAGE && dq_iiif_parse(params, params_len, version, &ir, &err) < 0) {
        answer_err(resp, &err);
        goto out;
    }
    dq_http_base_url(srv, req, &base);
    dq_buf_puts(&base, version == DQ_IIIF_V3 ? "/iiif/3/" : "/iiif/2/");
    dq_buf_puts(&base, id);
    if (kind == DQ_IIIF_PATH_BASE) {
        /* IIIF Image 3.0 §2.2: the base URI redirects (303) to the image information. */
        resp->status = 303;
        dq_buf_puts(&base, "/info.json");
        dq_http_resp_header(resp, "Location", base.data);
        resp->no_etag = 1;
        goto out;
    }
    int vis = visibility(srv, req, id);
    /* IIIF Auth 2.0: the image information of a restricted image is an IIIF API resource
     * that anyone may read, since it declares the probe service a viewer needs (§2.1); its
     * pixels are access-controlled: 401 without access, never a byte of the image. */
    if (vis < 0 && kind != DQ_IIIF_PATH_INFO) {
        dq_http_resp_error(resp, 401, "this image is restricted: sign in through its IIIF "
                                      "access service (see its info.json)");
        dq_http_resp_header(resp, "Cache-Control", "no-store");
        goto out;
    }
    pyr = dq_registry_get(srv->registry, id, &err);
    if (!pyr) {
        answer_err(resp, &err);
        goto out;
    }
    dq_iiif_image_t img;
    dq_http_iiif_geometry(srv, dq_pyramid_info(pyr), &img);
    if (kind == DQ_IIIF_PATH_INFO && vis != 1) {
        dq_buf_t root = {0};
        dq_http_base_url(srv, req, &root);
        dq_iiif_auth_services(root.data, id, version == DQ_IIIF_V2, &auth);
        img.auth_services = auth.data;
        dq_buf_free(&root);
    }
    if (kind == DQ_IIIF_PATH_INFO)
        info(srv, req, resp, version, &img, base.data, vis == 1);
    else
        image(srv, resp, version, pyr, &img, &ir, id, base.data, vis == 1);
out:
    dq_pyramid_unref(pyr);
    dq_buf_free(&base);
    dq_buf_free(&auth);
}

void dq_http_iiif3(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    handle(srv, req, resp, DQ_IIIF_V3);
}

void dq_http_iiif2(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    handle(srv, req, resp, DQ_IIIF_V2);
}
