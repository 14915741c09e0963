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

#include "blob/blob.h"
#include "condrec/condrec.h"

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

/* The store key of a record's change files (a new string), or NULL when it has none or names
 * any other key than its own capture's (condrec.h dq_condrec_changes_key_ok). */
static char *record_layers(const json_t *rec)
{
    json_t *ch = json_object_get(rec, "changes");
    const char *key = json_string_value(json_object_get(ch, "layers"));
    const char *cap = json_string_value(json_object_get(ch, "capture_image"));
    return dq_condrec_changes_key_ok(key, cap) ? dq_xstrdup(key) : NULL;
}

json_t *dq_api_condition_relic_files(dq_server_t *srv, const char *relic, const char *record)
{
    dq_actor_t admin = {.role = DQ_ROLE_ADMIN};
    dq_buf_t d = {0};
    dq_err_t err = {0};
    json_t *keys = json_array(), *doc = NULL, *r;
    size_t i;
    if (record ? dq_catalog_condition_get(srv->catalog, relic, record, &admin, &d, NULL, &err)
               : dq_catalog_condition_list(srv->catalog, relic, &admin, &d, &err))
        goto out;
    if (!(doc = json_loadb(d.data, d.len, 0, NULL)))
        goto out;
    json_t *items = record ? NULL : json_object_get(doc, "items");
    if (record) {
        items = json_array();
        json_array_append(items, doc);
    } else {
        json_incref(items);
    }
    json_array_foreach(items, i, r)
    {
        char *k = record_layers(r);
        if (k)
            json_array_append_new(keys, json_string(k));
        free(k);
    }
    json_decref(items);
out:
    json_decref(doc);
    dq_buf_free(&d);
    return keys;
}

void dq_api_condition_remove_files(dq_server_t *srv, json_t *keys)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        dq_err_t err = {0};
        if (dq_condrec_changes_remove(srv->catalog, srv->store, json_string_value(k), &err) < 0)
            dq_log(DQ_LOG_WARN, "condition", "%s of a deleted record: %s", json_string_value(k),
                   err.msg);
    }
}

void dq_api_condition_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    /* Its change files go with it: their keys are read first, removed once the delete
     * committed (a failed delete keeps them). */
    json_t *files = dq_api_condition_relic_files(c->srv, c->seg[1], c->seg[3]);
    if (dq_catalog_condition_delete(c->srv->catalog, c->seg[1], c->seg[3], ver, &c->actor,
                                    &err) < 0) {
        json_decref(files);
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_condition_remove_files(c->srv, files);
    json_decref(files);
    retire_cache(c);
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_buf_reset(&c->resp->body);
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}

/* GET /api/relics/{id}/condition/{record}/changes/{file}: one of the record's change files
 * from the store (any server of a cluster answers alike), as visible as the record itself. */
void dq_api_condition_changes_file(dq_api_t *c)
{
    dq_buf_t d = {0}, body = {0};
    dq_err_t err = {0};
    json_t *rec = NULL;
    char *key = NULL, *path = NULL, *layers = NULL;
    const char *file = c->seg[5];
    if (!dq_condrec_changes_file_ok(file)) {
        dq_api_error(c->resp, 404, "no such change file", NULL);
        goto out;
    }
    if (dq_catalog_condition_get(c->srv->catalog, c->seg[1], c->seg[3], &c->actor, &d, NULL,
                                 &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    rec = json_loadb(d.data, d.len, 0, NULL);
    if (!(layers = record_layers(rec))) {
        dq_api_error(c->resp, 404, "this record has no change files", NULL);
        goto out;
    }
    key = dq_xasprintf("%s/%s", layers, file);
    /* under its content's key (a new key per content: no cache holds an older one), through
     * the store's local copy (cached for an object store, revalidated by its tag) */
    char *stored = dq_condrec_layer_find(c->srv->catalog, c->srv->store, key, &err);
    free(key);
    key = stored;
    if (!key || !(path = dq_blob_local_path(c->srv->store, key, &err)) ||
        dq_fs_read_file(path, (size_t)1 << 30, &body, &err) < 0) {
        if (err.code == DQ_ENOTFOUND)
            dq_api_error(c->resp, 404, "this record's change files are missing", NULL);
        else
            dq_api_error_err(c->resp, &err);
        goto out;
    }
    c->resp->status = 200;
    c->resp->content_type = strstr(file, ".json") ? "application/json" : "image/png";
    dq_buf_free(&c->resp->body);
    c->resp->body = body;
    memset(&body, 0, sizeof(body));
    dq_http_resp_header(c->resp, "Cache-Control", "private, no-cache");
    dq_http_resp_header(c->resp, "Vary", "Cookie, Authorization");
out:
    json_decref(rec);
    dq_buf_free(&d);
    dq_buf_free(&body);
    free(key);
    free(path);
    free(layers);
}
