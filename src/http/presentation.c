/*
 * presentation.c (http): the IIIF Presentation 3.0 endpoints under /iiif/presentation/3/.
 * It gathers what the pure builders in iiif/presentation.c need, as the asker may see it
 * (relic documents, image geometry, vocabularies, search pages), and answers with their JSON.
 *   {relic}/manifest                              Manifest (404: unknown, hidden, no images)
 *   {relic}/manifest?view=sections                a handscroll in screen-wide Canvases (issue 16)
 *   collection                                    the root Collection (all, dynasties, types)
 *   collection/{all|dynasty-{k}|type-{k}}[?page=N] a Collection, pages of 100 Manifests
 * Nothing here is cacheable in the shared response cache: what a collection lists, and
 * whether a manifest exists, depend on the asker's role, and the cache key holds no user and
 * no query string (mhd.c).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "iiif/iiif.h"

#define PREFIX "/iiif/presentation/3/"

/* What every builder call shares: base URL and vocabularies (api.c), and the builder's view. */
typedef struct {
    dq_api_vocabs_t v;
    dq_iiif_pctx_t ctx;
} pctx_t;

static void pctx_init(dq_api_t *c, pctx_t *p)
{
    dq_api_vocabs_load(c, &p->v);
    memset(&p->ctx, 0, sizeof(p->ctx));
    p->ctx.base_url = p->v.base;
    p->ctx.dynasties_json = p->v.dyn.data;
    p->ctx.object_types_json = p->v.type.data;
    p->ctx.subjects_json = p->v.subj.data;
}

static void pctx_free(pctx_t *p)
{
    dq_api_vocabs_free(&p->v);
}

/* Presentation 3.0 §6.1: JSON-LD with the context as profile when the client asks for it,
 * plain JSON otherwise. */
static void answer(dq_api_t *c, dq_buf_t *body)
{
    const char *accept = c->req->header(c->req, "Accept");
    dq_api_json(c->resp, 200, body);
    if (accept && strstr(accept, "application/ld+json"))
        c->resp->content_type =
            "application/ld+json;profile=\"http://iiif.io/api/presentation/3/context.json\"";
    dq_http_resp_header(c->resp, "Vary", "Accept");
}

/* ---------------------------------------------------------------- manifest */

static void manifest(dq_api_t *c, const char *id)
{
    dq_buf_t doc = {0}, out = {0};
    dq_err_t err = {0};
    json_t *j = NULL;
    dq_iiif_pimage_t *imgs = NULL;
    dq_image_rec_t *recs = NULL;
    pctx_t p = {0};
    int n = 0, bad = 0;
    char *view = dq_api_arg(c, "view", &bad);
    if (bad)
        goto out;
    int sections = view && strcmp(view, "sections") == 0;
    if (view && !sections) {
        dq_api_error(c->resp, 400, "view: 'sections' or nothing", NULL);
        goto out;
    }
    if (dq_catalog_relic_get(c->srv->catalog, id, &c->actor, &doc, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    j = json_loadb(doc.data, doc.len, 0, NULL);
    const json_t *links = json_object_get(j, "images");
    size_t n_links = json_array_size(links);
    imgs = dq_xcalloc(n_links + 1, sizeof(*imgs));
    recs = dq_xcalloc(n_links + 1, sizeof(*recs));
    for (size_t i = 0; i < n_links; i++) {
        const char *iid = json_string_value(json_object_get(json_array_get(links, i), "image_id"));
        dq_err_t ierr = {0};
        /* An image linked to a visible record is visible; one deleted since is skipped. */
        if (!iid || dq_catalog_image_get(c->srv->catalog, iid, &recs[n], &ierr) < 0)
            continue;
        imgs[n].image_id = recs[n].id;
        imgs[n].width = (uint32_t)recs[n].width;
        imgs[n].height = (uint32_t)recs[n].height;
        n++;
    }
    pctx_init(c, &p);
    if (sections) {
        /* The sections view paints plain region images: the layers below decorate the
         * single-Canvas Manifest only (iiif/presentation.c, scroll_sections). */
        if (dq_iiif_manifest_sections(doc.data, doc.len, imgs, n, &p.ctx, &out, &err) < 0)
            dq_api_error_err(c->resp, &err);
        else
            answer(c, &out);
        goto out;
    }
    if (dq_iiif_manifest(doc.data, doc.len, imgs, n, &p.ctx, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    /* ======== annotations (api_annotations.c): AnnotationPage refs, SearchService2 ======== */
    dq_api_anno_manifest_decorate(c, id, &out);
    /* ======== scene layers (api_scene.c): supplementing annotations per canvas ======== */
    dq_api_scene_manifest_decorate(c, &out);
    /* ======== spectral captures (api_spectral.c): layers as Choice bodies ======== */
    /* Last: it turns the first canvas's body into a Choice, and the scene layers find their
     * image by that body's id. */
    dq_api_spectral_manifest_decorate(c, id, &out);
    /* ======== IIIF Auth 2.0 (iiif_auth.c): probe services of restricted images, last ======== */
    dq_api_iiif_auth_manifest_decorate(c, &out);
    answer(c, &out);
out:
    free(view);
    json_decref(j);
    free(imgs);
    free(recs);
    pctx_free(&p);
    dq_buf_free(&doc);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- collections */

/* 1 when key is a key of the vocabulary array text. */
static int vocab_has(const char *vocab_json, const char *key)
{
    json_t *v = vocab_json ? json_loads(vocab_json, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    int found = 0;
    json_array_foreach(v, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        found |= k && strcmp(k, key) == 0;
    }
    json_decref(v);
    return found;
}

/* One search page of a collection, sorted by accession; out receives the response and
 * *next the next cursor (new string, NULL at the end). */
static int search_page(dq_api_t *c, const dq_iiif_coll_t *coll, const char *cursor, dq_buf_t *out,
                       int64_t *total, char **next, dq_err_t *err)
{
    dq_relic_query_t q = {
        .dynasty = coll->kind == DQ_IIIF_COLL_DYNASTY ? coll->key : NULL,
        .object_type = coll->kind == DQ_IIIF_COLL_TYPE ? coll->key : NULL,
        .has_images = 1, /* a Manifest needs a Canvas (§5.3), so imageless records are out */
        .year_from = INT_MIN,
        .year_to = INT_MAX,
        .sort = "accession",
        .limit = DQ_IIIF_COLL_PAGE,
        .cursor = cursor,
    };
    dq_buf_reset(out);
    if (dq_catalog_relic_search(c->srv->catalog, &q, &c->actor, out, err) < 0)
        return -1;
    json_t *j = json_loadb(out->data, out->len, 0, NULL);
    *total = json_integer_value(json_object_get(j, "total"));
    const char *nc = json_string_value(json_object_get(j, "next_cursor"));
    *next = nc && *nc ? dq_xstrdup(nc) : NULL;
    json_decref(j);
    return 0;
}

static void collection(dq_api_t *c, const char *name)
{
    dq_iiif_coll_t coll = {0};
    pctx_t p = {0};
    dq_buf_t res = {0}, out = {0};
    dq_err_t err = {0};
    char *page_s = NULL, *cursor = NULL;
    int bad = 0;
    pctx_init(c, &p);
    if (strcmp(name, "all") == 0) {
        coll.kind = DQ_IIIF_COLL_ALL;
    } else if (dq_str_starts(name, "dynasty-") && vocab_has(p.v.dyn.data, name + 8)) {
        coll.kind = DQ_IIIF_COLL_DYNASTY;
        coll.key = name + 8;
    } else if (dq_str_starts(name, "type-") && vocab_has(p.v.type.data, name + 5)) {
        coll.kind = DQ_IIIF_COLL_TYPE;
        coll.key = name + 5;
    } else {
        dq_api_error(c->resp, 404, "no such collection", NULL);
        goto out;
    }
    page_s = dq_api_arg(c, "page", &bad);
    if (bad)
        goto out;
    uint64_t page = 0;
    if (page_s &&
        (dq_str_to_u64(page_s, strlen(page_s), &page) < 0 || page < 1 || page > 1000000)) {
        dq_api_error(c->resp, 400, "page must be a positive integer", NULL);
        goto out;
    }
    /* Pages are reached by following the search's keyset cursors from the first: a page
     * number stays a stable, readable URL while the search keeps its cursor paging. */
    int64_t total = 0;
    if (search_page(c, &coll, NULL, &res, &total, &cursor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    coll.total = total;
    coll.n_pages = (int)DQ_MAX(1, (total + DQ_IIIF_COLL_PAGE - 1) / DQ_IIIF_COLL_PAGE);
    coll.page = (int)page;
    if (coll.page > coll.n_pages) {
        dq_api_error(c->resp, 404, "no such collection page", NULL);
        goto out;
    }
    for (int k = 1; k < coll.page; k++) {
        char *next = NULL;
        int64_t t;
        if (!cursor) { /* the collection shrank while we walked */
            dq_api_error(c->resp, 404, "no such collection page", NULL);
            goto out;
        }
        if (search_page(c, &coll, cursor, &res, &t, &next, &err) < 0) {
            dq_api_error_err(c->resp, &err);
            goto out;
        }
        free(cursor);
        cursor = next;
    }
    int need_items = coll.page > 0 || coll.n_pages == 1;
    if (dq_iiif_collection(&coll, need_items ? res.data : NULL, need_items ? res.len : 0, &p.ctx,
                           &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer(c, &out);
out:
    free(page_s);
    free(cursor);
    pctx_free(&p);
    dq_buf_free(&res);
    dq_buf_free(&out);
}

static void collection_root(dq_api_t *c)
{
    pctx_t p = {0};
    dq_buf_t res = {0}, out = {0};
    dq_err_t err = {0};
    dq_relic_query_t q = {
        .has_images = 1, .year_from = INT_MIN, .year_to = INT_MAX, .limit = 1, .facets = 1};
    if (dq_catalog_relic_search(c->srv->catalog, &q, &c->actor, &res, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    pctx_init(c, &p);
    if (dq_iiif_collection_root(res.data, res.len, &p.ctx, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer(c, &out);
out:
    pctx_free(&p);
    dq_buf_free(&res);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- dispatch */

void dq_http_presentation(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    dq_err_t err = {0};
    char *a = NULL, *b = NULL;
    const char *p = req->path + strlen(PREFIX);
    size_t len = req->path_len - strlen(PREFIX);
    if (dq_http_actor(srv, req, &c.actor, NULL, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    /* Two segments at most: "{relic}/manifest", "collection/{name}", or "collection". */
    const char *slash = memchr(p, '/', len);
    a = dq_str_pct_decode(p, slash ? (size_t)(slash - p) : len, &err);
    if (slash)
        b = dq_str_pct_decode(slash + 1, len - (size_t)(slash + 1 - p), &err);
    if (!a || (slash && !b)) {
        dq_api_error(resp, 400, err.msg, NULL);
        goto out;
    }
    if (b && strchr(b, '/') == NULL && strcmp(b, "manifest") == 0 && strcmp(a, "collection"))
        manifest(&c, a);
    /* ======== annotations (api_annotations.c): {relic}/annotations/{n} ======== */
    else if (b && dq_str_starts(b, "annotations/") && strcmp(a, "collection") &&
             !strchr(b + 12, '/'))
        dq_api_anno_iiif_page(&c, a, b + 12);
    else if (strcmp(a, "collection") == 0 && !b)
        collection_root(&c);
    else if (strcmp(a, "collection") == 0 && b && *b && !strchr(b, '/'))
        collection(&c, b);
    else
        dq_api_error(resp, 404, "no such IIIF Presentation resource", NULL);
out:
    free(a);
    free(b);
}
