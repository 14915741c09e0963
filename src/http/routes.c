/*
 * routes.c: the route table. Routes are data (house style 5): a path prefix, the methods it
 * answers and one line of documentation. The longest matching prefix wins, so specific
 * routes can sit under general ones.
 */
#include "http.h"

#include <string.h>

#define GH (DQ_HTTP_GET | DQ_HTTP_HEAD)
/* What writes: offloaded to the API queue (dq_route_t.offload). */
#define WRITES (DQ_HTTP_POST | DQ_HTTP_PUT | DQ_HTTP_PATCH | DQ_HTTP_DELETE)

static const dq_route_t routes[] = {
    {GH, "/iiif/3/", dq_http_iiif3, "IIIF Image API 3.0: {id}/info.json, {id}/{region}/{size}/{rotation}/{quality}.{format}", NULL, 0},
    {GH, "/iiif/3/spectral/", dq_http_spectral_iiif,
     "IIIF Image 3.0 of multispectral layers: {capture}/{layer}/info.json and image requests "
     "(docs/spectral.md)", NULL, 0},
    {GH, "/iiif/2/", dq_http_iiif2, "IIIF Image API 2.1: the same forms, 2.1 semantics", NULL, 0},
    {GH, "/health", dq_http_health, "liveness and cache statistics (JSON)", NULL, 0},
    /* ======== JSON API and IIIF Presentation (api*.c, presentation.c) ======== */
    {GH | WRITES, "/api/", dq_http_api,
     "JSON API (docs/api.md): health, login/logout/me, relics, vocab, images, audit, users",
     dq_http_api_body_limit, WRITES},
    {GH, "/iiif/presentation/3/", dq_http_presentation,
     "IIIF Presentation 3.0: {relic}/manifest, collection[/all|dynasty-{k}|type-{k}][?page=N]", NULL, 0},
    /* ======== end JSON API ======== */
    /* ======== annotations (api_annotations.c) ======== */
    {GH, "/iiif/search/2/", dq_http_search2,
     "IIIF Content Search 2.0 over a relic's annotations: {relic}?q=&motivation=&user=", NULL, 0},
    /* ======== end annotations ======== */
    /* ======== network (linkedart.c, oai.c, discovery.c) ======== */
    {GH, "/linked-art/", dq_http_linkedart,
     "Linked Art JSON-LD: object/{relic}, person/{creator}, digital/{image}", NULL, 0},
    {GH | DQ_HTTP_POST, "/oai", dq_http_oai,
     "OAI-PMH 2.0: all six verbs, oai_dc and lido, sets dynasty:{k} and type:{k}",
     dq_http_oai_body_limit, 0},
    {GH, "/iiif/discovery/changes", dq_http_discovery,
     "IIIF Change Discovery 1.0: the OrderedCollection of relic changes", NULL, 0},
    {GH, "/iiif/discovery/changes/", dq_http_discovery,
     "IIIF Change Discovery 1.0: page/{n} (0 oldest, newest last)", NULL, 0},
    {GH, "/dumps/", dq_http_dumps,
     "bulk dumps of public records: relics.jsonl, relics.csv, linked-art.jsonl", NULL, 0},
    {GH, "/api", dq_http_api_index, "the open-data index: dumps, Linked Art, OAI-PMH, licence",
     NULL, 0},
    /* ======== end network ======== */
    /* ======== IIIF Authorization Flow 2.0 (iiif_auth.c) ======== */
    {GH | DQ_HTTP_POST, "/iiif/auth/2/", dq_http_iiif_auth,
     "IIIF Authorization Flow 2.0: access (sign-in popup; POST grants the access cookie), token, "
     "logout, probe/{image}", dq_http_iiif_auth_body_limit, DQ_HTTP_POST},
    /* ======== end IIIF Authorization Flow 2.0 ======== */
    /* web: the lowest priority (shortest prefix), so every specific route wins over it. */
    {GH, "/", dq_http_static, "web front end: index.html for / and app routes, /static/{file}", NULL, 0},
};

const dq_route_t *dq_http_route(const char *path, size_t len)
{
    const dq_route_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(routes); i++) {
        size_t n = strlen(routes[i].prefix);
        /* "/health" matches "/health" exactly; prefixes ending in '/' match below them. */
        int match = routes[i].prefix[n - 1] == '/'
                        ? (len >= n && memcmp(path, routes[i].prefix, n) == 0)
                        : (len == n && memcmp(path, routes[i].prefix, n) == 0);
        if (match && n > best_len) {
            best = &routes[i];
            best_len = n;
        }
    }
    return best;
}

const dq_route_t *dq_http_routes(size_t *n)
{
    *n = DQ_ARRAY_LEN(routes);
    return routes;
}
