/*
 * api_condition.c: condition records over HTTP (docs/api.md "Condition records"; issue 12):
 * /api/relics/{id}/condition (list in date order, create) and
 * /api/relics/{id}/condition/{record} (get, replace and delete with ETag "v{n}"/If-Match).
 * The catalog (condition.c) validates, decides who may see and change what, and stores;
 * these handlers only move JSON and headers. Nothing is cacheable; a write retires the
 * response cache (retire_cache).
 */
#include "api_internal.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A record written can open or close the condition gates of its images (catalog image_map.c:
 * drafts' captures and change maps are hidden from anonymous callers, published ones are
 * not). The catalog's map already follows the write when it returns; the shared response
 * cache holds anonymous 200s keyed without the record, so retire it all (the epoch, as a relic
 * write does in api_relics.c): the next anonymous tile after an unpublish is a 401, not a
 * cached 200. */
static void retire_cache(dq_api_t *c)
{
    atomic_fetch_add(&c->srv->epoch, 1);
}

static void answer_record(dq_api_t *c, int status, const dq_buf_t *doc)
{
    dq_buf_t out = {0};
    json_t *t = json_loadb(doc->data, doc->len, 0, NULL);
    int64_t version = json_integer_value(json_object_get(t, "version"));
    dq_buf_append(&out, doc->data, doc->len);
    dq_buf_putc(&out, '\n');
    dq_api_json(c->resp, status, &out);
    dq_api_set_etag(c->resp, version);
    if (status == 201) {
        dq_buf_t loc = {0};
        dq_buf_puts(&loc, "/api/relics/");
        dq_buf_url_segment(&loc, c->seg[1]);
        dq_buf_puts(&loc, "/condition/");
        dq_buf_puts(&loc, json_string_value(json_object_get(t, "id")));
        dq_http_resp_header(c->resp, "Location", loc.data);
        dq_buf_free(&loc);
    }
    json_decref(t);
    dq_buf_free(&out);
}

void dq_api_condition_list(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_condition_list(c->srv->catalog, c->seg[1], &c->actor, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
    } else {
        dq_buf_putc(&out, '\n');
        dq_api_json(c->resp, 200, &out);
    }
    dq_buf_free(&out);
}

void dq_api_condition_create(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_condition_create(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len,
                                    &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    retire_cache(c);
    answer_record(c, 201, &out);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_condition_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_condition_get(c->srv->catalog, c->seg[1], c->seg[3], &c->actor, &out, NULL,
                                 &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        answer_record(c, 200, &out);
    dq_buf_free(&out);
}

void dq_api_condition_replace(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0 || dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_condition_replace(c->srv->catalog, c->seg[1], c->seg[3], c->req->body,
                                     c->req->body_len, ver, &c->actor, &out, &fields,
                                     &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    retire_cache(c);
    answer_record(c, 200, &out);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_condition_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    if (dq_catalog_condition_delete(c->srv->catalog, c->seg[1], c->seg[3], ver, &c->actor,
                                    &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    retire_cache(c);
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_buf_reset(&c->resp->body);
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}
