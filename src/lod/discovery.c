/*
 * discovery.c: IIIF Change Discovery API 1.0 documents (iiif.io/api/discovery/1.0): the
 * OrderedCollection that names the first and last page (§2.1), and OrderedCollectionPages of
 * Create, Update and Delete activities (§2.2, §3.1) whose objects are the relics' IIIF
 * Manifests, oldest first so that the newest activity is last on the last page. The pages
 * are numbered from 0 and never change once full, so a harvester reads the last page, walks
 * back through `prev` until it reaches activities it has seen, and stops (§4 "Processing").
 * http/discovery.c decides which activities exist; this file writes them.
 */
#include "lod/lod.h"

#include <string.h>

#define CD_CONTEXT "http://iiif.io/api/discovery/1/context.json"
#define CD_PATH "/iiif/discovery/changes"

static void page_id(dq_buf_t *out, const dq_lod_ctx_t *ctx, int64_t page)
{
    dq_buf_puts(out, "\"");
    dq_buf_json_str(out, ctx->base_url, strlen(ctx->base_url));
    dq_buf_printf(out, CD_PATH "/page/%lld\"", (long long)page);
}

void dq_lod_cd_collection(dq_buf_t *out, const dq_lod_ctx_t *ctx, int64_t total, int64_t n_pages)
{
    if (n_pages < 1)
        n_pages = 1;
    dq_buf_puts(out, "{\"@context\":\"" CD_CONTEXT "\",\"id\":\"");
    dq_buf_json_str(out, ctx->base_url, strlen(ctx->base_url));
    dq_buf_printf(out, CD_PATH "\",\"type\":\"OrderedCollection\",\"totalItems\":%lld,",
                  (long long)total);
    dq_buf_puts(out, "\"rights\":\"http://creativecommons.org/publicdomain/zero/1.0/\",");
    dq_buf_puts(out, "\"first\":{\"id\":");
    page_id(out, ctx, 0);
    dq_buf_puts(out, ",\"type\":\"OrderedCollectionPage\"},\"last\":{\"id\":");
    page_id(out, ctx, n_pages - 1);
    dq_buf_puts(out, ",\"type\":\"OrderedCollectionPage\"}}");
}

void dq_lod_cd_page(dq_buf_t *out, const dq_lod_ctx_t *ctx, int64_t page, int64_t n_pages,
                    const dq_lod_activity_t *items, size_t n_items)
{
    dq_buf_puts(out, "{\"@context\":\"" CD_CONTEXT "\",\"id\":");
    page_id(out, ctx, page);
    dq_buf_puts(out, ",\"type\":\"OrderedCollectionPage\",\"partOf\":{\"id\":\"");
    dq_buf_json_str(out, ctx->base_url, strlen(ctx->base_url));
    dq_buf_puts(out, CD_PATH "\",\"type\":\"OrderedCollection\"},");
    dq_buf_printf(out, "\"startIndex\":%lld,", (long long)(page * DQ_LOD_CD_PAGE));
    if (page > 0) {
        dq_buf_puts(out, "\"prev\":{\"id\":");
        page_id(out, ctx, page - 1);
        dq_buf_puts(out, ",\"type\":\"OrderedCollectionPage\"},");
    }
    if (page + 1 < n_pages) {
        dq_buf_puts(out, "\"next\":{\"id\":");
        page_id(out, ctx, page + 1);
        dq_buf_puts(out, ",\"type\":\"OrderedCollectionPage\"},");
    }
    dq_buf_puts(out, "\"orderedItems\":[");
    for (size_t i = 0; i < n_items; i++) {
        const dq_lod_activity_t *a = &items[i];
        dq_buf_printf(out, "%s{\"type\":\"%s\",\"object\":{\"id\":\"", i ? "," : "", a->kind);
        dq_buf_t u = {0};
        dq_buf_printf(&u, "%s/iiif/presentation/3/", ctx->base_url);
        dq_buf_url_segment(&u, a->relic_id);
        dq_buf_puts(&u, "/manifest");
        dq_buf_json_str(out, u.data, u.len);
        dq_buf_free(&u);
        dq_buf_puts(out, "\",\"type\":\"Manifest\"},\"endTime\":\"");
        dq_buf_json_str(out, a->end_time, strlen(a->end_time));
        dq_buf_puts(out, "\"}");
    }
    dq_buf_puts(out, "]}");
}
