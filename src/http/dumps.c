/*
 * dumps.c (http): bulk downloads of every public relic record, and the /api index that links
 * them with the other open-data endpoints.
 *   /dumps/relics.jsonl       one stored document per line (docs/api.md "The relic document")
 *   /dumps/relics.csv         one row per record, the columns of CSV_HEADER (RFC 4180)
 *   /dumps/linked-art.jsonl   one Linked Art HumanMadeObject per line
 *   /api                      what is open here, with the licence of the metadata
 * A dump is a file under DATA/dumps/, rebuilt when the relic change feed has moved since it
 * was written (its stamp is the number of relic changes and the base URL its links use), so
 * a quiet catalog serves the same bytes, with the same ETag, until something changes. Files
 * are replaced atomically, so a reader never sees half a dump; two requests that find it
 * stale at once both rebuild it and the last rename wins, which is harmless.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lod/lod.h"

/* The metadata licence, stated on /api, in dump headers and on the home page: catalogue
 * records are facts about objects, given to the public domain as aggregators ask (the
 * images keep each record's own rights statement). */
#define METADATA_LICENCE "http://creativecommons.org/publicdomain/zero/1.0/"
#define DUMP_MAX (512u << 20) /* a dump read back for serving */
#define CSV_HEADER                                                                                 \
    "id,accession,title_zh,title_en,creators,creator_wikidata,dynasty,object_type,date_text,"     \
    "year_from,year_to,medium_en,dimensions_cm,places,place_wikidata,place_tgn,rights,"            \
    "references,url,manifest\r\n"

static const struct {
    const char *name, *type;
} dumps[] = {
    {"relics.jsonl", "application/jsonl; charset=utf-8"},
    {"relics.csv", "text/csv; charset=utf-8; header=present"},
    {"linked-art.jsonl", "application/jsonl; charset=utf-8"},
};

/* ---------------------------------------------------------------- building */

typedef struct {
    dq_buf_t jsonl, csv, la;
    dq_lod_ctx_t ctx;
    char last[128];
    int n;
    int failed;
} build_t;

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

/* One CSV field (RFC 4180 §2.6-2.7): quoted, inner quotes doubled. */
static void csv_field(dq_buf_t *b, const char *s, int last)
{
    dq_buf_putc(b, '"');
    for (; s && *s; s++) {
        if (*s == '"')
            dq_buf_putc(b, '"');
        dq_buf_putc(b, *s);
    }
    dq_buf_puts(b, last ? "\"\r\n" : "\",");
}

static void csv_row(build_t *b, const json_t *d)
{
    dq_buf_t cr = {0}, wd = {0}, refs = {0}, dims = {0}, u = {0}, m = {0};
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d, "creators"), i, e)
    {
        const json_t *nm = json_object_get(e, "name");
        dq_buf_printf(&cr, "%s%s", cr.len ? "; " : "",
                      jstr(nm, "zh") ? jstr(nm, "zh") : jstr(nm, "en") ? jstr(nm, "en") : "");
        if (jstr(nm, "zh") && jstr(nm, "en"))
            dq_buf_printf(&cr, " (%s)", jstr(nm, "en"));
        if (jstr(e, "wikidata"))
            dq_buf_printf(&wd, "%s%s", wd.len ? "; " : "", jstr(e, "wikidata"));
    }
    /* Places: "zh (en) [role]" joined by "; ", and their authority ids in the same order, an
     * empty id where a place has none, so the columns line up. */
    dq_buf_t pl = {0}, pwd = {0}, ptgn = {0};
    json_array_foreach(json_object_get(d, "places"), i, e)
    {
        const json_t *nm = json_object_get(e, "name");
        const char *sep = i ? "; " : "";
        dq_buf_printf(&pl, "%s%s", sep,
                      jstr(nm, "zh") ? jstr(nm, "zh") : jstr(nm, "en") ? jstr(nm, "en") : "");
        if (jstr(nm, "zh") && jstr(nm, "en"))
            dq_buf_printf(&pl, " (%s)", jstr(nm, "en"));
        if (jstr(e, "role"))
            dq_buf_printf(&pl, " [%s]", jstr(e, "role"));
        dq_buf_printf(&pwd, "%s%s", sep, jstr(e, "wikidata") ? jstr(e, "wikidata") : "");
        dq_buf_printf(&ptgn, "%s%s", sep, jstr(e, "tgn") ? jstr(e, "tgn") : "");
    }
    json_array_foreach(json_object_get(d, "references"), i, e) if (jstr(e, "text"))
        dq_buf_printf(&refs, "%s%s", refs.len ? " | " : "", jstr(e, "text"));
    const json_t *dc = json_object_get(d, "dimensions_cm");
    if (json_is_number(json_object_get(dc, "height")) && json_is_number(json_object_get(dc, "width")))
        dq_buf_printf(&dims, "%g x %g", json_number_value(json_object_get(dc, "height")),
                      json_number_value(json_object_get(dc, "width")));
    char yf[24] = "", yt[24] = "";
    if (json_is_integer(json_object_get(d, "year_from")))
        snprintf(yf, sizeof(yf), "%lld", (long long)json_integer_value(json_object_get(d, "year_from")));
    if (json_is_integer(json_object_get(d, "year_to")))
        snprintf(yt, sizeof(yt), "%lld", (long long)json_integer_value(json_object_get(d, "year_to")));
    const char *id = jstr(d, "id");
    dq_buf_printf(&u, "%s/relic/", b->ctx.base_url);
    dq_buf_url_segment(&u, id);
    if (json_array_size(json_object_get(d, "images"))) {
        dq_buf_printf(&m, "%s/iiif/presentation/3/", b->ctx.base_url);
        dq_buf_url_segment(&m, id);
        dq_buf_puts(&m, "/manifest");
    }
    const json_t *t = json_object_get(d, "title");
    csv_field(&b->csv, id, 0);
    csv_field(&b->csv, jstr(d, "accession"), 0);
    csv_field(&b->csv, jstr(t, "zh"), 0);
    csv_field(&b->csv, jstr(t, "en"), 0);
    csv_field(&b->csv, cr.data, 0);
    csv_field(&b->csv, wd.data, 0);
    csv_field(&b->csv, jstr(d, "dynasty"), 0);
    csv_field(&b->csv, jstr(d, "object_type"), 0);
    csv_field(&b->csv, jstr(d, "date_text"), 0);
    csv_field(&b->csv, yf, 0);
    csv_field(&b->csv, yt, 0);
    csv_field(&b->csv, jstr(json_object_get(d, "medium"), "en"), 0);
    csv_field(&b->csv, dims.data, 0);
    csv_field(&b->csv, pl.data, 0);
    csv_field(&b->csv, pwd.data, 0);
    csv_field(&b->csv, ptgn.data, 0);
    csv_field(&b->csv, jstr(d, "rights"), 0);
    csv_field(&b->csv, refs.data, 0);
    csv_field(&b->csv, u.data, 0);
    csv_field(&b->csv, m.data, 1);
    dq_buf_free(&cr);
    dq_buf_free(&wd);
    dq_buf_free(&refs);
    dq_buf_free(&dims);
    dq_buf_free(&pl);
    dq_buf_free(&pwd);
    dq_buf_free(&ptgn);
    dq_buf_free(&u);
    dq_buf_free(&m);
}

static int record_cb(void *ud, const dq_net_record_t *rec)
{
    build_t *b = ud;
    snprintf(b->last, sizeof(b->last), "%s", rec->id);
    if (rec->deleted || !rec->doc)
        return 0;
    b->n++;
    dq_buf_append(&b->jsonl, rec->doc, rec->doc_len);
    dq_buf_putc(&b->jsonl, '\n');
    json_t *d = json_loadb(rec->doc, rec->doc_len, 0, NULL);
    if (d)
        csv_row(b, d);
    json_decref(d);
    dq_err_t err = {0};
    if (dq_lod_la_object(rec->doc, rec->doc_len, &b->ctx, &b->la, &err) < 0)
        b->failed = 1;
    dq_buf_putc(&b->la, '\n');
    return 0;
}

/* Writes the three dumps and the stamp under dir. */
static int build(dq_server_t *srv, const char *dir, const dq_lod_ctx_t *ctx, const char *stamp,
                 dq_err_t *err)
{
    build_t b = {.ctx = *ctx};
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    int rc = -1;
    dq_buf_puts(&b.csv, CSV_HEADER);
    for (;;) {
        char after[128];
        snprintf(after, sizeof(after), "%s", b.last);
        dq_net_query_t q = {.after = after[0] ? after : NULL, .limit = 1000, .with_docs = 1};
        b.last[0] = '\0';
        if (dq_catalog_net_records(srv->catalog, &q, &anon, record_cb, &b, err) < 0)
            goto out;
        if (!b.last[0])
            break; /* no row at all: the end */
    }
    if (b.failed) {
        dq_err_set(err, DQ_EINTERNAL, 500, "dumps: a record did not convert to Linked Art");
        goto out;
    }
    char *tmp = dq_xasprintf("%s/tmp", dir);
    const dq_buf_t *bufs[] = {&b.jsonl, &b.csv, &b.la};
    rc = dq_fs_mkdirs(tmp, err);
    for (size_t i = 0; rc == 0 && i < DQ_ARRAY_LEN(dumps); i++) {
        char *path = dq_xasprintf("%s/%s", dir, dumps[i].name);
        rc = dq_fs_write_atomic(path, tmp, bufs[i]->data ? bufs[i]->data : "", bufs[i]->len,
                                err);
        free(path);
    }
    if (rc == 0) { /* the stamp last: a crash before it only means a rebuild */
        char *path = dq_xasprintf("%s/stamp", dir);
        rc = dq_fs_write_atomic(path, tmp, stamp, strlen(stamp), err);
        free(path);
    }
    free(tmp);
out:
    dq_buf_free(&b.jsonl);
    dq_buf_free(&b.csv);
    dq_buf_free(&b.la);
    return rc;
}

/* ---------------------------------------------------------------- serving */

void dq_http_dumps(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    dq_err_t err = {0};
    dq_buf_t have = {0}, body = {0};
    char *base = dq_api_base_url(&c), *dir = NULL, *path = NULL, *stamp = NULL;
    const char *name = req->path + strlen("/dumps/");
    size_t k;
    for (k = 0; k < DQ_ARRAY_LEN(dumps); k++)
        if (strlen(dumps[k].name) == req->path_len - strlen("/dumps/") &&
            memcmp(dumps[k].name, name, strlen(dumps[k].name)) == 0)
            break;
    if (k == DQ_ARRAY_LEN(dumps)) {
        dq_api_error(resp, 404, "no such dump (relics.jsonl, relics.csv, linked-art.jsonl)", NULL);
        goto out;
    }
    int64_t n_changes = 0;
    dq_actor_t anon = {.role = DQ_ROLE_ANON};
    if (dq_catalog_net_changes(srv->catalog, 0, 1, &anon, NULL, NULL, &n_changes, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    stamp = dq_xasprintf("%lld %s\n", (long long)n_changes, base);
    dir = dq_xasprintf("%s/dumps", srv->cfg->data_dir);
    char *sp = dq_xasprintf("%s/stamp", dir);
    int fresh = dq_fs_read_file(sp, 4096, &have, &err) == 0 && have.data &&
                strcmp(have.data, stamp) == 0;
    free(sp);
    dq_err_clear(&err);
    if (!fresh) {
        dq_lod_ctx_t ctx = {.base_url = base};
        if (build(srv, dir, &ctx, stamp, &err) < 0) {
            dq_api_error_err(resp, &err);
            goto out;
        }
    }
    path = dq_xasprintf("%s/%s", dir, dumps[k].name);
    if (dq_fs_read_file(path, DUMP_MAX, &body, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    resp->status = 200;
    resp->content_type = dumps[k].type;
    dq_buf_free(&resp->body);
    resp->body = body;
    memset(&body, 0, sizeof(body));
    dq_http_resp_header(resp, "Cache-Control", "no-cache");
    dq_http_resp_header(resp, "Link", "<" METADATA_LICENCE ">; rel=\"license\"");
    char *disp = dq_xasprintf("attachment; filename=\"danqing-%s\"", dumps[k].name);
    dq_http_resp_header(resp, "Content-Disposition", disp);
    free(disp);
out:
    dq_buf_free(&have);
    dq_buf_free(&body);
    free(base);
    free(dir);
    free(path);
    free(stamp);
}

void dq_http_api_index(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    char *base = dq_api_base_url(&c);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s}",
        "name", "danqing", "documentation", "docs/api.md", "metadata_licence", METADATA_LICENCE,
        "dumps", "jsonl", "/dumps/relics.jsonl", "csv", "/dumps/relics.csv", "linked_art",
        "/dumps/linked-art.jsonl", "linked_art", "object", "/linked-art/object/{relic_id}",
        "person", "/linked-art/person/{name}", "digital", "/linked-art/digital/{image_id}",
        "negotiate", "/api/relics/{relic_id} with Accept: " DQ_LOD_LA_TYPE, "oai_pmh", "/oai",
        "iiif_change_discovery", "/iiif/discovery/changes", "iiif_collection",
        "/iiif/presentation/3/collection", "search", "/api/relics?q=");
    /* Relative links become absolute under the base the client used. */
    const char *k;
    json_t *v;
    json_t *dumps_j = json_object_get(j, "dumps"), *la = json_object_get(j, "linked_art");
    json_t *objs[] = {j, dumps_j, la};
    for (size_t i = 0; i < DQ_ARRAY_LEN(objs); i++) {
        json_object_foreach(objs[i], k, v)
        {
            const char *s = json_string_value(v);
            if (s && s[0] == '/') {
                char *a = dq_xasprintf("%s%s", base, s);
                json_object_set_new(objs[i], k, json_string(a));
                free(a);
            }
        }
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    dq_buf_t out = {0};
    dq_buf_puts(&out, s);
    dq_buf_putc(&out, '\n');
    free(s);
    json_decref(j);
    dq_api_json(resp, 200, &out);
    dq_http_resp_header(resp, "Link", "<" METADATA_LICENCE ">; rel=\"license\"");
    free(base);
}
