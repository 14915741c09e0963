/*
 * api_tours.c: guided tours over HTTP (docs/api.md "Tours"): the list and creation under
 * /api/relics/{id}/tours, and GET/PUT/DELETE /api/tours/{tour_id} with ETag/If-Match. The
 * catalog (annotation.c) validates the stops against the relic's canvases and decides who
 * may see or change a tour; this file adds, per stop, the IIIF Content State 1.0 (§2.3
 * encoded) of its region, so that a stop can be shared as a link without the client
 * building one.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "iiif/iiif.h"

json_t *dq_api_region_state(const char *base, const json_t *ref, const char *relic)
{
    const char *r = json_string_value(json_object_get(ref, "relic_id"));
    const json_t *xy = json_object_get(ref, "xywh");
    if (!r)
        r = relic;
    if (!r || json_array_size(xy) != 4)
        return json_null();
    int v[4];
    for (int k = 0; k < 4; k++)
        v[k] = (int)json_integer_value(json_array_get(xy, (size_t)k));
    dq_buf_t js = {0}, enc = {0};
    dq_iiif_content_state_region(base, r, (int)json_integer_value(json_object_get(ref, "canvas")),
                                 v, &js);
    dq_iiif_content_state_encode(js.data, js.len, &enc);
    json_t *s = json_string(enc.data);
    dq_buf_free(&js);
    dq_buf_free(&enc);
    return s;
}

void dq_api_answer_versioned(dq_api_t *c, int status, dq_buf_t *doc, const char *location)
{
    json_t *t = json_loadb(doc->data, doc->len, 0, NULL);
    int64_t version = json_integer_value(json_object_get(t, "version"));
    json_decref(t);
    if (!doc->len || doc->data[doc->len - 1] != '\n')
        dq_buf_putc(doc, '\n');
    dq_api_json(c->resp, status, doc);
    dq_api_set_etag(c->resp, version);
    if (status == 201 && location)
        dq_http_resp_header(c->resp, "Location", location);
}

void dq_api_answer_deleted(dq_api_t *c)
{
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_buf_reset(&c->resp->body);
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}

/* The tour doc with "content_state": one encoded content state per stop. */
static void with_content_states(dq_api_t *c, const dq_buf_t *doc, dq_buf_t *out)
{
    json_t *t = json_loadb(doc->data, doc->len, 0, NULL);
    char *base = dq_api_base_url(c);
    const char *relic = json_string_value(json_object_get(t, "relic_id"));
    json_t *cs = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(t, "stops"), i, s)
        json_array_append_new(cs, dq_api_region_state(base, s, relic ? relic : ""));
    json_object_set_new(t, "content_state", cs);
    char *text = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
    DQ_ASSERT(text != NULL);
    dq_buf_puts(out, text);
    dq_buf_putc(out, '\n');
    free(text);
    free(base);
    json_decref(t);
}

/* Answers a tour doc with its ETag (and Location for 201). */
static void answer_tour(dq_api_t *c, int status, const dq_buf_t *doc)
{
    dq_buf_t out = {0};
    json_t *t = json_loadb(doc->data, doc->len, 0, NULL);
    const char *id = json_string_value(json_object_get(t, "id"));
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/tours/%s", id ? id : "");
    json_decref(t);
    with_content_states(c, doc, &out);
    dq_api_answer_versioned(c, status, &out, loc);
}

void dq_api_write_error(dq_api_t *c, const dq_err_t *err, const dq_buf_t *fields)
{
    if (err->http_status == 422) {
        dq_api_error(c->resp, 422, err->msg, fields->len ? fields->data : NULL);
        return;
    }
    dq_api_error_err(c->resp, err);
}

int dq_api_check_body(dq_api_t *c)
{
    json_t *j = dq_api_body(c, 0);
    if (!j)
        return -1;
    json_decref(j);
    return 0;
}

void dq_api_tours_list(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_tour_list(c->srv->catalog, c->seg[1], &c->actor, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        dq_buf_free(&out);
        return;
    }
    dq_buf_putc(&out, '\n');
    dq_api_json(c->resp, 200, &out);
}

void dq_api_tour_create(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_tour_create(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len,
                               &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    answer_tour(c, 201, &out);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_tour_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_tour_get(c->srv->catalog, c->seg[1], &c->actor, &out, NULL, &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        answer_tour(c, 200, &out);
    dq_buf_free(&out);
}

void dq_api_tour_replace(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0 || dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_tour_replace(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len, ver,
                                &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    answer_tour(c, 200, &out);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_tour_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    if (dq_catalog_tour_delete(c->srv->catalog, c->seg[1], ver, &c->actor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_answer_deleted(c);
}
