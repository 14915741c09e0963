/*
 * linkedart.c (http): Linked Art (linked.art API 1.0) documents at stable URIs, as the asker
 * may see them:
 *   /linked-art/object/{relic}    HumanMadeObject   (also GET /api/relics/{id} with the
 *                                                    Linked Art profile in Accept)
 *   /linked-art/person/{name}     Person, the creator named so in relic records
 *   /linked-art/digital/{image}   DigitalObject, the IIIF image
 * Protocol (Linked Art API 1.0 "Protocol"): the JSON-LD profile media type, GET/HEAD and
 * OPTIONS with CORS (mhd.c adds Access-Control-Allow-Origin to every answer and answers the
 * preflight for every route), and a rel="describedby" Link from each relic's HTML page
 * (dq_http_la_describedby, called by static.c). The documents come from lod/linkedart.c.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lod/lod.h"

#define PREFIX "/linked-art/"

/* What every builder call shares: base URL and vocabularies (api.c), and the builder's view. */
typedef struct {
    dq_api_vocabs_t v;
    dq_lod_ctx_t ctx;
} lctx_t;

static void lctx_init(dq_api_t *c, lctx_t *l)
{
    dq_api_vocabs_load(c, &l->v);
    memset(&l->ctx, 0, sizeof(l->ctx));
    l->ctx.base_url = l->v.base;
    l->ctx.dynasties_json = l->v.dyn.data;
    l->ctx.object_types_json = l->v.type.data;
    l->ctx.subjects_json = l->v.subj.data;
}

static void lctx_free(lctx_t *l)
{
    dq_api_vocabs_free(&l->v);
}

/* A Linked Art answer: the profile media type; private because what exists depends on the
 * asker's role (restricted relics). */
static void answer(dq_api_t *c, dq_buf_t *body)
{
    dq_api_json(c->resp, 200, body);
    c->resp->content_type = DQ_LOD_LA_TYPE;
    dq_http_resp_header(c->resp, "Vary", "Accept");
    dq_http_resp_header(c->resp, "Link",
                        "<" DQ_LOD_LA_PROFILE ">; rel=\"profile\"");
}

static int gone_cb(void *ud, const dq_net_record_t *rec)
{
    *(int *)ud = rec->deleted;
    return 1;
}

void dq_api_relic_linkedart(dq_api_t *c, const char *id)
{
    dq_buf_t doc = {0}, out = {0};
    dq_err_t err = {0};
    lctx_t l = {0};
    if (dq_catalog_relic_get(c->srv->catalog, id, &c->actor, &doc, NULL, &err) < 0) {
        /* A stable URI that once answered says it is gone (deleted, or restricted after it
         * was public), as OAI-PMH lists it deleted, so a linked-data crawler drops its copy;
         * a relic this caller never could see stays a plain 404. */
        int gone = 0;
        dq_err_t e2 = {0};
        dq_net_query_t q = {.id = id, .limit = 1};
        if (err.http_status == 404 &&
            dq_catalog_net_records(c->srv->catalog, &q, &c->actor, gone_cb, &gone, &e2) == 0 &&
            gone)
            dq_api_error(c->resp, 410, "this record was deleted or withdrawn", NULL);
        else
            dq_api_error_err(c->resp, &err);
        goto out;
    }
    lctx_init(c, &l);
    if (dq_lod_la_object(doc.data, doc.len, &l.ctx, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer(c, &out);
out:
    lctx_free(&l);
    dq_buf_free(&doc);
    dq_buf_free(&out);
}

/* The relics that name key as a creator (the search's creator facet value: the zh name,
 * else the en name, as dq_lod_la_person_key keys a person), as a JSON array of documents.
 * At most 100: enough to read the person's names and authority ids. */
static int person_relics(dq_api_t *c, const char *key, dq_buf_t *out, dq_err_t *err)
{
    dq_buf_t res = {0}, doc = {0};
    dq_relic_query_t q = {
        .creator = key, .has_images = -1, .year_from = INT_MIN, .year_to = INT_MAX,
        .sort = "accession", .limit = 100};
    int rc = dq_catalog_relic_search(c->srv->catalog, &q, &c->actor, &res, err);
    json_t *j = rc == 0 ? json_loadb(res.data, res.len, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    int n = 0;
    dq_buf_putc(out, '[');
    json_array_foreach(json_object_get(j, "items"), i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        dq_err_t e2 = {0};
        dq_buf_reset(&doc);
        if (!id || dq_catalog_relic_get(c->srv->catalog, id, &c->actor, &doc, NULL, &e2) < 0)
            continue; /* deleted since the search */
        if (n++)
            dq_buf_putc(out, ',');
        dq_buf_append(out, doc.data, doc.len);
    }
    dq_buf_putc(out, ']');
    json_decref(j);
    dq_buf_free(&res);
    dq_buf_free(&doc);
    return rc;
}

static void person(dq_api_t *c, const char *key)
{
    dq_buf_t relics = {0}, out = {0};
    dq_err_t err = {0};
    lctx_t l = {0};
    if (person_relics(c, key, &relics, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    lctx_init(c, &l);
    if (dq_lod_la_person(key, relics.data, relics.len, &l.ctx, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer(c, &out);
out:
    lctx_free(&l);
    dq_buf_free(&relics);
    dq_buf_free(&out);
}

static void digital(dq_api_t *c, const char *image_id)
{
    dq_image_rec_t rec;
    dq_buf_t out = {0};
    dq_err_t err = {0};
    lctx_t l = {0};
    /* An image only restricted relics show is as hidden as they are (404 alike). */
    if (dq_catalog_image_get(c->srv->catalog, image_id, &rec, &err) < 0 ||
        !dq_catalog_image_visible(c->srv->catalog, image_id, &c->actor)) {
        dq_api_error(c->resp, 404, "no such image", NULL);
        goto out;
    }
    lctx_init(c, &l);
    dq_lod_image_t img = {.image_id = rec.id, .width = rec.width, .height = rec.height};
    if (dq_lod_la_digital(&img, &l.ctx, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer(c, &out);
out:
    lctx_free(&l);
    dq_buf_free(&out);
}

void dq_http_linkedart(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    dq_err_t err = {0};
    char *kind = NULL, *key = NULL;
    const char *p = req->path + strlen(PREFIX);
    size_t len = req->path_len - strlen(PREFIX);
    if (dq_http_actor(srv, req, &c.actor, NULL, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    const char *slash = memchr(p, '/', len);
    if (!slash || memchr(slash + 1, '/', len - (size_t)(slash + 1 - p)) || slash + 1 == p + len) {
        dq_api_error(resp, 404, "no such Linked Art document (object|person|digital/{key})",
                     NULL);
        goto out;
    }
    kind = dq_str_pct_decode(p, (size_t)(slash - p), &err);
    key = kind ? dq_str_pct_decode(slash + 1, len - (size_t)(slash + 1 - p), &err) : NULL;
    if (!kind || !key) {
        dq_api_error(resp, 400, err.msg, NULL);
        goto out;
    }
    if (strcmp(kind, "object") == 0)
        dq_api_relic_linkedart(&c, key);
    else if (strcmp(kind, "person") == 0)
        person(&c, key);
    else if (strcmp(kind, "digital") == 0)
        digital(&c, key);
    else
        dq_api_error(resp, 404, "no such Linked Art document (object|person|digital/{key})",
                     NULL);
out:
    free(kind);
    free(key);
}

/* ---------------------------------------------------------------- citations and the page */

void dq_api_relic_cite(dq_api_t *c)
{
    dq_buf_t doc = {0}, out = {0};
    dq_err_t err = {0};
    lctx_t l = {0};
    int bad = 0;
    char *format = dq_api_arg(c, "format", &bad);
    const char *ctype = NULL;
    char today[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(today, sizeof(today), "%Y-%m-%d", &tm);
    if (bad)
        goto out;
    if (dq_catalog_relic_get(c->srv->catalog, c->seg[1], &c->actor, &doc, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    lctx_init(c, &l);
    if (dq_lod_cite(doc.data, doc.len, format, today, &l.ctx, &out, &ctype, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_api_json(c->resp, 200, &out);
    c->resp->content_type = ctype;
out:
    free(format);
    lctx_free(&l);
    dq_buf_free(&doc);
    dq_buf_free(&out);
}

void dq_http_relic_page(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp,
                        const char *relic_id)
{
    dq_buf_t b = {0}, v = {0}, doc = {0}, tags = {0};
    dq_err_t err = {0};
    dq_http_base_url(srv, req, &b);
    dq_buf_printf(&v, "<%s", b.data);
    dq_lod_la_path(&v, "object", relic_id);
    dq_buf_puts(&v, ">; rel=\"describedby\"; type=\"application/ld+json\"; profile=\""
                    DQ_LOD_LA_PROFILE "\"");
    dq_http_resp_header(resp, "Link", v.data);
    /* The reference-manager tags, for a public record only: the page is the same for every
     * asker, so it must not carry what only a signed-in curator may see. */
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    dq_lod_ctx_t ctx = {.base_url = b.data};
    const char *head = resp->body.data ? strstr(resp->body.data, "</head>") : NULL;
    if (head && dq_catalog_relic_get(srv->catalog, relic_id, &anon, &doc, NULL, &err) == 0 &&
        dq_lod_page_meta(doc.data, doc.len, &ctx, &tags, &err) == 0) {
        size_t at = (size_t)(head - resp->body.data);
        dq_buf_t page = {0};
        dq_buf_append(&page, resp->body.data, at);
        dq_buf_append(&page, tags.data, tags.len);
        dq_buf_append(&page, resp->body.data + at, resp->body.len - at);
        dq_buf_free(&resp->body);
        resp->body = page;
        resp->cacheable = 0; /* the record changes without the file changing */
        /* The file's validator no longer names this body: suffix it with a hash of the tags
         * (FNV-1a), so that a changed record gives a changed ETag. */
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < tags.len; i++)
            h = (h ^ (unsigned char)tags.data[i]) * 1099511628211ULL;
        for (int i = 0; i < resp->n_headers; i++) {
            size_t n = strlen(resp->header_values[i]);
            if (strcasecmp(resp->header_names[i], "ETag") != 0 || n < 2)
                continue;
            char *e = dq_xasprintf("%.*s-%016llx\"", (int)(n - 1), resp->header_values[i],
                                   (unsigned long long)h);
            free(resp->header_values[i]);
            resp->header_values[i] = e;
        }
    }
    dq_buf_free(&b);
    dq_buf_free(&v);
    dq_buf_free(&doc);
    dq_buf_free(&tags);
}
