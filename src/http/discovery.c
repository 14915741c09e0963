/*
 * discovery.c (http): IIIF Change Discovery API 1.0 at /iiif/discovery/changes, built from
 * the catalog's relic change feed (dq_catalog_net_changes over the audit trail):
 *   /iiif/discovery/changes              the OrderedCollection (first, last, totalItems)
 *   /iiif/discovery/changes/page/{n}     page n (0 oldest; the last page is the newest)
 * Page n holds the relic changes n*1000 .. n*1000+999 of the trail, so a full page never
 * changes and the last page grows until full. Changes to relics the public may not see
 * (restricted) are left out, so a page may hold fewer than 1000 activities. Public and the
 * same for everyone (anonymous view), so a shared cache could keep it; it is marked
 * no-cache because the last page grows.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lod/lod.h"

#define PREFIX "/iiif/discovery/changes"

typedef struct {
    dq_lod_activity_t *items;
    size_t n;
} acts_t;

static int act_cb(void *ud, const char *kind, const char *relic_id, const char *at)
{
    acts_t *a = ud;
    a->items = dq_xrealloc(a->items, (a->n + 1) * sizeof(*a->items));
    a->items[a->n++] = (dq_lod_activity_t){.kind = kind, .relic_id = dq_xstrdup(relic_id),
                                           .end_time = dq_xstrdup(at)};
    return 0;
}

void dq_http_discovery(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    dq_err_t err = {0};
    dq_buf_t out = {0};
    acts_t a = {0};
    char *base = dq_api_base_url(&c);
    dq_lod_ctx_t ctx = {.base_url = base};
    const char *rest = req->path + strlen(PREFIX);
    size_t rest_len = req->path_len - strlen(PREFIX);
    int64_t page = -1;
    if (rest_len > 0) {
        uint64_t v;
        if (rest_len <= 6 || memcmp(rest, "/page/", 6) != 0 ||
            dq_str_to_u64(rest + 6, rest_len - 6, &v) < 0 || v > 1000000000) {
            dq_api_error(resp, 404, "no such Change Discovery resource (page/{n})", NULL);
            goto out;
        }
        page = (int64_t)v;
    }
    int64_t total = 0;
    /* The count first (one row is enough to learn it), then the page asked for. */
    if (dq_catalog_net_changes(srv->catalog, page < 0 ? 0 : page * DQ_LOD_CD_PAGE,
                               page < 0 ? 1 : DQ_LOD_CD_PAGE, &anon,
                               page < 0 ? NULL : act_cb, &a, &total, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    int64_t n_pages = total ? (total + DQ_LOD_CD_PAGE - 1) / DQ_LOD_CD_PAGE : 1;
    if (page < 0) {
        dq_lod_cd_collection(&out, &ctx, total, n_pages);
    } else if (page >= n_pages) {
        dq_api_error(resp, 404, "no such Change Discovery page", NULL);
        goto out;
    } else {
        dq_lod_cd_page(&out, &ctx, page, n_pages, a.items, a.n);
    }
    resp->status = 200;
    resp->content_type =
        "application/ld+json;profile=\"http://iiif.io/api/discovery/1/context.json\"";
    dq_buf_free(&resp->body);
    resp->body = out;
    memset(&out, 0, sizeof(out));
    dq_http_resp_header(resp, "Cache-Control", "no-cache");
out:
    for (size_t i = 0; i < a.n; i++) {
        free((char *)a.items[i].relic_id);
        free((char *)a.items[i].end_time);
    }
    free(a.items);
    dq_buf_free(&out);
    free(base);
}
