/*
 * api_annotations.c: annotations over HTTP, in the three shapes clients ask for
 * (docs/api.md "Annotations, search, tours"):
 *   - the W3C Web Annotation Protocol under /api/relics/{id}/annotations/ (a container with
 *     paging, POST to create, GET/PUT/DELETE one annotation with ETag/If-Match);
 *   - IIIF Presentation 3.0 AnnotationPages /iiif/presentation/3/{id}/annotations/{n}, one
 *     per canvas, and their references (and the search service) added to the manifest;
 *   - IIIF Content Search 2.0 at /iiif/search/2/{id};
 * and GET /api/content-state, which decodes and checks a IIIF Content State 1.0 link.
 * The catalog (annotation.c) validates, checks access and stores the neutral form; this file
 * maps W3C/IIIF JSON onto it and back, because every id here is a URL on the address the
 * client used. Authentication, CSRF and roles at the door are api.c's; error bodies are
 * dq_api_error's. Nothing here is cacheable: what an asker sees depends on who asks.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "iiif/iiif.h"

#define ANNO_CONTEXT "http://www.w3.org/ns/anno.jsonld"
#define LDP_CONTEXT "http://www.w3.org/ns/ldp.jsonld"
#define PRES_CONTEXT "http://iiif.io/api/presentation/3/context.json"
#define SEARCH_CONTEXT "http://iiif.io/api/search/2/context.json"
/* Web Annotation Protocol §4: the media type with the profile of the annotation context. */
#define ANNO_TYPE "application/ld+json; profile=\"http://www.w3.org/ns/anno.jsonld\""
#define PAGE_SIZE 100
#define SEARCH_LIMIT 100

/* ---------------------------------------------------------------- URLs */

/* "{base}/api/relics/{relic}/annotations/" (+ id when id > 0) as a new string. */
static char *anno_url(const char *base, const char *relic, int64_t id)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s/api/relics/", base);
    dq_buf_url_segment(&b, relic);
    dq_buf_puts(&b, "/annotations/");
    if (id > 0)
        dq_buf_printf(&b, "%lld", (long long)id);
    return dq_buf_steal(&b, NULL);
}

static char *canvas_url(const char *base, const char *relic, int canvas)
{
    dq_buf_t b = {0};
    dq_iiif_canvas_id(base, relic, canvas, &b);
    return dq_buf_steal(&b, NULL);
}

static char *pres_url(const char *base, const char *relic, const char *tail)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s/iiif/presentation/3/", base);
    dq_buf_url_segment(&b, relic);
    dq_buf_puts(&b, tail);
    return dq_buf_steal(&b, NULL);
}

/* ---------------------------------------------------------------- neutral -> W3C / IIIF */

/* One annotation from the catalog's anno doc. iiif 0: the W3C form (Web Annotation Data
 * Model §3: @context, bodies with format, a SpecificResource target with a FragmentSelector
 * §4.2.1, creator, created, modified); iiif 1: the Presentation 3.0 form (§5.6: target
 * "{canvas}#xywh=", no @context: it sits inside a page that has one). New reference. */
static json_t *anno_json(const json_t *doc, const char *base, int iiif)
{
    const char *relic = json_string_value(json_object_get(doc, "relic_id"));
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    int canvas = (int)json_integer_value(json_object_get(doc, "canvas"));
    const json_t *xy = json_object_get(doc, "xywh");
    const char *motivation = json_string_value(json_object_get(doc, "motivation"));
    char frag[96];
    snprintf(frag, sizeof(frag), "xywh=%lld,%lld,%lld,%lld",
             (long long)json_integer_value(json_array_get(xy, 0)),
             (long long)json_integer_value(json_array_get(xy, 1)),
             (long long)json_integer_value(json_array_get(xy, 2)),
             (long long)json_integer_value(json_array_get(xy, 3)));
    char *aid = anno_url(base, relic ? relic : "", id);
    char *cid = canvas_url(base, relic ? relic : "", canvas);
    json_t *a = json_object();
    if (!iiif)
        json_object_set_new(a, "@context", json_string(ANNO_CONTEXT));
    json_object_set_new(a, "id", json_string(aid));
    json_object_set_new(a, "type", json_string("Annotation"));
    json_object_set_new(a, "motivation", json_string(motivation ? motivation : "commenting"));
    json_t *bodies = json_array();
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(doc, "bodies"), i, b)
    {
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string("TextualBody"));
        json_object_set(o, "value", json_object_get(b, "value"));
        json_object_set(o, "language", json_object_get(b, "language"));
        json_object_set_new(o, "format", json_string("text/plain"));
        /* Data Model §3.3.5: a tag is a body with purpose tagging. */
        if (motivation && strcmp(motivation, "tagging") == 0)
            json_object_set_new(o, "purpose", json_string("tagging"));
        json_array_append_new(bodies, o);
    }
    json_object_set_new(a, "body", bodies);
    if (iiif) {
        dq_buf_t t = {0};
        dq_buf_printf(&t, "%s#%s", cid, frag);
        json_object_set_new(a, "target", json_string(t.data));
        dq_buf_free(&t);
    } else {
        json_object_set_new(a, "target",
                            json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "source", cid, "type",
                                      "SpecificResource", "selector", "type", "FragmentSelector",
                                      "conformsTo", "http://www.w3.org/TR/media-frags/", "value",
                                      frag));
        json_object_set_new(a, "creator",
                            json_pack("{s:s, s:s}", "type", "Person", "nickname",
                                      json_string_value(json_object_get(doc, "creator"))
                                          ? json_string_value(json_object_get(doc, "creator"))
                                          : ""));
        json_object_set(a, "created", json_object_get(doc, "created"));
        json_object_set(a, "modified", json_object_get(doc, "modified"));
    }
    free(aid);
    free(cid);
    return a;
}

static void dump_to(dq_buf_t *out, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(out, s);
    dq_buf_putc(out, '\n');
    free(s);
}

/* ---------------------------------------------------------------- W3C -> neutral */

/* Reads a W3C annotation (the client's body) into the neutral form for relic; fields gets
 * {"target": "..."} style errors. New reference, or NULL when fields is non-empty. */
static json_t *anno_from_w3c(const json_t *in, const char *base, const char *relic, json_t *fields)
{
    json_t *doc = json_object();
    /* motivation: a string, or an array of one (Data Model §3.3.5 allows several; we keep one) */
    const json_t *m = json_object_get(in, "motivation");
    if (json_is_array(m) && json_array_size(m) == 1)
        m = json_array_get(m, 0);
    if (json_is_string(m))
        json_object_set(doc, "motivation", (json_t *)m);
    else
        json_object_set_new(fields, "motivation", json_string("required: one motivation"));
    /* body: one TextualBody or an array of them (§3.2.4 embedded textual body) */
    const json_t *body = json_object_get(in, "body");
    json_t *bodies = json_array();
    json_t *one = NULL;
    if (json_is_object(body)) {
        one = json_array();
        json_array_append(one, (json_t *)body);
        body = one;
    }
    if (!json_is_array(body))
        json_object_set_new(fields, "body", json_string("required: TextualBody or an array"));
    size_t i;
    const json_t *b;
    json_array_foreach(body, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *format = json_string_value(json_object_get(b, "format"));
        char key[32];
        if ((type && strcmp(type, "TextualBody") != 0) ||
            (format && strcmp(format, "text/plain") != 0)) {
            snprintf(key, sizeof(key), "body[%d]", (int)i % 1000);
            json_object_set_new(fields, key,
                                json_string("only TextualBody with format text/plain"));
            continue;
        }
        json_t *o = json_object();
        if (json_object_get(b, "value"))
            json_object_set(o, "value", json_object_get(b, "value"));
        if (json_object_get(b, "language"))
            json_object_set(o, "language", json_object_get(b, "language"));
        json_array_append_new(bodies, o);
    }
    json_decref(one);
    json_object_set_new(doc, "bodies", bodies);
    /* target: "{canvas}#xywh=…", or {"source": canvas, "selector": FragmentSelector} (§4.2.1) */
    const json_t *t = json_object_get(in, "target");
    if (json_is_array(t) && json_array_size(t) == 1)
        t = json_array_get(t, 0);
    const char *src =
        json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "source"));
    const char *frag = NULL;
    if (json_is_object(t)) {
        const json_t *sel = json_object_get(t, "selector");
        if (json_is_array(sel))
            sel = json_array_get(sel, 0);
        const char *st = json_string_value(json_object_get(sel, "type"));
        frag = json_string_value(json_object_get(sel, "value"));
        if (!st || strcmp(st, "FragmentSelector") != 0)
            frag = NULL;
    }
    dq_buf_t ref = {0};
    if (src && strncmp(src, "canvas/", 7) == 0) { /* relative to the relic's manifest */
        char *cbase = pres_url(base, relic, "/");
        dq_buf_puts(&ref, cbase);
        free(cbase);
    }
    if (src)
        dq_buf_puts(&ref, src);
    if (frag)
        dq_buf_printf(&ref, "#%s", frag);
    dq_iiif_region_ref_t r;
    dq_err_t err = {0};
    if (!src || (json_is_object(t) && !frag) ||
        dq_iiif_content_state_read(ref.data, ref.len, &r, &err) < 0) {
        json_object_set_new(fields, "target",
                            json_string("must be {canvas_id}#xywh=x,y,w,h or a SpecificResource "
                                        "with a FragmentSelector xywh="));
    } else if (strcmp(r.relic_id, relic) != 0) {
        json_object_set_new(fields, "target", json_string("the canvas belongs to another relic"));
    } else {
        json_object_set_new(doc, "canvas", json_integer(r.canvas));
        json_object_set_new(doc, "xywh",
                            json_pack("[iiii]", r.xywh[0], r.xywh[1], r.xywh[2], r.xywh[3]));
    }
    dq_buf_free(&ref);
    if (json_object_size(fields)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Catalog field names -> W3C ones in a 422 (bodies[0].language -> body[0].language). */
static char *w3c_fields(const char *catalog_fields)
{
    json_t *in = json_loads(catalog_fields, 0, NULL), *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        dq_buf_t key = {0};
        if (strncmp(k, "bodies", 6) == 0)
            dq_buf_printf(&key, "body%s", k + 6);
        else if (strcmp(k, "canvas") == 0 || strcmp(k, "xywh") == 0)
            dq_buf_puts(&key, "target");
        else
            dq_buf_puts(&key, k);
        if (!json_object_get(out, key.data))
            json_object_set(out, key.data, v);
        dq_buf_free(&key);
    }
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(in);
    json_decref(out);
    return s;
}

/* ---------------------------------------------------------------- helpers */

/* The annotation number of segment s (decimal, > 0), or 0. */
static int64_t anno_num(const char *s)
{
    uint64_t v = 0;
    if (!s || !*s || dq_str_to_u64(s, strlen(s), &v) < 0 || v == 0 || v > INT64_MAX / 2)
        return 0;
    return (int64_t)v;
}

/* If-Match (RFC 9110 §13.1.1, strong comparison) for our "v{n}" tags: 0 with *ver (-1 for
 * "*"), or -1 with 428 (absent, RFC 6585 §3), 400 (malformed) or 412 (weak or foreign tags
 * only) answered. One tag is the usual case; with several, the first of ours is used and the
 * catalog's version check inside its transaction decides. */
int dq_api_if_match_version(dq_api_t *c, int64_t *ver)
{
    const char *h = c->req->header(c->req, "If-Match");
    if (!h) {
        dq_api_error(c->resp, 428, "If-Match is required: send the ETag you read", NULL);
        return -1;
    }
    for (const char *p = h;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*') {
            *ver = -1;
            return 0;
        }
        int weak = p[0] == 'W' && p[1] == '/';
        p += weak ? 2 : 0;
        const char *e = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!e) {
            dq_api_error(c->resp, 400, "malformed If-Match", NULL);
            return -1;
        }
        uint64_t u;
        if (!weak && p[1] == 'v' && e - p > 2 &&
            dq_str_to_u64(p + 2, (size_t)(e - p - 2), &u) == 0 && u < INT64_MAX / 2) {
            *ver = (int64_t)u;
            return 0;
        }
        p = e + 1;
    }
    dq_api_error(c->resp, 412, "the annotation has changed since you read it (If-Match)", NULL);
    return -1;
}

void dq_api_set_etag(dq_http_resp_t *resp, int64_t version)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "\"v%lld\"", (long long)version);
    resp->no_etag = 1; /* our validator (RFC 9110 §8.8.3), not mhd.c's body hash */
    dq_http_resp_header(resp, "ETag", tag);
}

/* A W3C protocol answer: JSON-LD with the annotation profile (§4) and Vary on what changes
 * the representation (Accept, Prefer; dq_api_json adds Cookie, Authorization). */
static void w3c_answer(dq_api_t *c, int status, dq_buf_t *body)
{
    dq_api_json(c->resp, status, body);
    c->resp->content_type = ANNO_TYPE;
    dq_http_resp_header(c->resp, "Vary", "Accept, Prefer");
}

/* The catalog error of a write, 422 with its fields renamed to the W3C ones. */
static void write_error(dq_api_t *c, const dq_err_t *err, const dq_buf_t *fields)
{
    if (err->http_status == 422 && fields->len) {
        char *f = w3c_fields(fields->data);
        dq_api_error(c->resp, 422, err->msg, f);
        free(f);
        return;
    }
    dq_api_error_err(c->resp, err);
}

/* Parses a catalog anno doc and answers it in the W3C form with its ETag. */
static void answer_anno(dq_api_t *c, int status, const dq_buf_t *doc, const char *base)
{
    json_t *d = json_loadb(doc->data, doc->len, 0, NULL);
    json_t *a = anno_json(d, base, 0);
    dq_buf_t out = {0};
    dump_to(&out, a);
    int64_t version = json_integer_value(json_object_get(d, "version"));
    w3c_answer(c, status, &out);
    dq_api_set_etag(c->resp, version);
    /* Protocol §4.1: an annotation is an LDP Resource. */
    dq_http_resp_header(c->resp, "Link", "<http://www.w3.org/ns/ldp#Resource>; rel=\"type\"");
    dq_http_resp_header(c->resp, "Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
    if (status == 201) {
        const char *id = json_string_value(json_object_get(a, "id"));
        dq_http_resp_header(c->resp, "Location", id ? id : "");
    }
    json_decref(a);
    json_decref(d);
}

/* ---------------------------------------------------------------- the container */

void dq_api_anno_container(dq_api_t *c)
{
    const char *relic = c->seg[1];
    char *base = dq_api_base_url(c), *page_s = NULL, *canvas_s = NULL, *cont = NULL;
    dq_buf_t items = {0}, out = {0};
    dq_err_t err = {0};
    json_t *list = NULL, *body = NULL;
    int bad = 0;
    page_s = dq_api_arg(c, "page", &bad);
    canvas_s = bad ? NULL : dq_api_arg(c, "canvas", &bad);
    if (bad)
        goto out;
    uint64_t page = 0, canvas = 0;
    if ((page_s && (dq_str_to_u64(page_s, strlen(page_s), &page) < 0 || page > 1000000)) ||
        (canvas_s && (dq_str_to_u64(canvas_s, strlen(canvas_s), &canvas) < 0 || canvas < 1 ||
                      canvas > 100000))) {
        dq_api_error(c->resp, 400, "page must be an integer >= 0 and canvas >= 1", NULL);
        goto out;
    }
    int64_t total = 0;
    if (dq_catalog_anno_list(c->srv->catalog, relic, (int)canvas, (int64_t)page * PAGE_SIZE,
                             PAGE_SIZE, &c->actor, &items, &total, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    int64_t n_pages = total ? (total + PAGE_SIZE - 1) / PAGE_SIZE : 1;
    if ((int64_t)page >= n_pages) {
        dq_api_error(c->resp, 404, "no such annotation page", NULL);
        goto out;
    }
    /* Protocol §5.3 Prefer: include=PreferContainedIRIs lists ids instead of annotations;
     * PreferMinimalContainer leaves the pages out of the container. */
    const char *prefer = c->req->header(c->req, "Prefer");
    int iris = prefer && strstr(prefer, "PreferContainedIRIs");
    int minimal = prefer && strstr(prefer, "PreferMinimalContainer");
    cont = anno_url(base, relic, 0);
    dq_buf_t q = {0}; /* the query of page URLs, keeping the canvas filter */
    if (canvas)
        dq_buf_printf(&q, "canvas=%llu&", (unsigned long long)canvas);
    char *pq = q.data ? q.data : "";
    list = json_loadb(items.data, items.len, 0, NULL);
    json_t *pg = json_object();
    dq_buf_t u = {0};
    dq_buf_printf(&u, "%s?%spage=%llu", cont, pq, (unsigned long long)page);
    json_object_set_new(pg, "id", json_string(u.data));
    json_object_set_new(pg, "type", json_string("AnnotationPage"));
    json_object_set_new(pg, "startIndex", json_integer((json_int_t)page * PAGE_SIZE));
    if (page_s)
        json_object_set_new(pg, "partOf",
                            json_pack("{s:s, s:I}", "id", cont, "total", (json_int_t)total));
    else
        json_object_set_new(pg, "partOf", json_string(cont));
    if ((int64_t)page + 1 < n_pages) {
        dq_buf_reset(&u);
        dq_buf_printf(&u, "%s?%spage=%llu", cont, pq, (unsigned long long)page + 1);
        json_object_set_new(pg, "next", json_string(u.data));
    }
    if (page > 0) {
        dq_buf_reset(&u);
        dq_buf_printf(&u, "%s?%spage=%llu", cont, pq, (unsigned long long)page - 1);
        json_object_set_new(pg, "prev", json_string(u.data));
    }
    json_t *arr = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        json_t *a = anno_json(d, base, 0);
        json_object_del(a, "@context"); /* the page's context covers it */
        if (iris) {
            json_array_append(arr, json_object_get(a, "id"));
            json_decref(a);
        } else {
            json_array_append_new(arr, a);
        }
    }
    json_object_set_new(pg, "items", arr);
    if (page_s) {
        /* Protocol §5.4: a page on its own. */
        body = pg;
        json_object_set_new(body, "@context", json_string(ANNO_CONTEXT));
    } else {
        /* Protocol §5.3: the container, an ldp:BasicContainer and an AnnotationCollection,
         * with its first page embedded. */
        body = json_object();
        json_object_set_new(body, "@context", json_pack("[s, s]", ANNO_CONTEXT, LDP_CONTEXT));
        json_object_set_new(body, "id", json_string(cont));
        json_object_set_new(body, "type",
                            json_pack("[s, s]", "BasicContainer", "AnnotationCollection"));
        json_object_set_new(body, "total", json_integer((json_int_t)total));
        dq_buf_reset(&u);
        dq_buf_printf(&u, "Annotations on %s", relic);
        json_object_set_new(body, "label", json_string(u.data));
        if (minimal) {
            json_object_set(body, "first", json_object_get(pg, "id"));
            json_decref(pg);
        } else {
            json_object_set_new(body, "first", pg);
        }
        dq_buf_reset(&u);
        dq_buf_printf(&u, "%s?%spage=%lld", cont, pq, (long long)(n_pages - 1));
        json_object_set_new(body, "last", json_string(u.data));
    }
    dq_buf_free(&u);
    dq_buf_free(&q);
    dump_to(&out, body);
    w3c_answer(c, 200, &out);
    c->resp->no_etag = 0; /* a body hash is a fine validator for a listing */
    dq_http_resp_header(c->resp, "Link",
                        "<http://www.w3.org/ns/ldp#BasicContainer>; rel=\"type\", "
                        "<http://www.w3.org/TR/annotation-protocol/>; "
                        "rel=\"http://www.w3.org/ns/ldp#constrainedBy\"");
    dq_http_resp_header(c->resp, "Allow", "GET, HEAD, POST, OPTIONS");
    dq_http_resp_header(c->resp, "Accept-Post", ANNO_TYPE ", application/json");
    if (prefer && (iris || minimal))
        dq_http_resp_header(c->resp, "Preference-Applied", "return=representation");
out:
    json_decref(list);
    json_decref(body);
    free(base);
    free(page_s);
    free(canvas_s);
    free(cont);
    dq_buf_free(&items);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- one annotation */

/* The neutral document text of the request body, or NULL with an answer (400/413/422). */
static char *body_doc(dq_api_t *c, const char *base)
{
    json_t *in = dq_api_body(c, 0), *fields = json_object(), *doc = NULL;
    char *text = NULL;
    if (!in)
        goto out;
    doc = anno_from_w3c(in, base, c->seg[1], fields);
    if (!doc) {
        char *f = json_dumps(fields, JSON_COMPACT);
        dq_api_error(c->resp, 422, "invalid annotation", f);
        free(f);
        goto out;
    }
    text = json_dumps(doc, JSON_COMPACT);
out:
    json_decref(in);
    json_decref(fields);
    json_decref(doc);
    return text;
}

void dq_api_anno_create(dq_api_t *c)
{
    char *base = dq_api_base_url(c);
    char *doc = body_doc(c, base);
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (!doc)
        goto out;
    if (dq_catalog_anno_create(c->srv->catalog, c->seg[1], doc, strlen(doc), &c->actor, &out,
                               &fields, &err) < 0) {
        write_error(c, &err, &fields);
        goto out;
    }
    answer_anno(c, 201, &out, base);
out:
    free(base);
    free(doc);
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_anno_get(dq_api_t *c)
{
    char *base = dq_api_base_url(c);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    int64_t id = anno_num(c->seg[3]);
    if (!id) {
        dq_api_error(c->resp, 404, "no such annotation", NULL);
        goto out;
    }
    if (dq_catalog_anno_get(c->srv->catalog, c->seg[1], id, &c->actor, &out, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer_anno(c, 200, &out, base);
out:
    free(base);
    dq_buf_free(&out);
}

void dq_api_anno_replace(dq_api_t *c)
{
    char *base = dq_api_base_url(c), *doc = NULL;
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t id = anno_num(c->seg[3]), ver = -1;
    if (!id) {
        dq_api_error(c->resp, 404, "no such annotation", NULL);
        goto out;
    }
    if (dq_api_if_match_version(c, &ver) < 0 || !(doc = body_doc(c, base)))
        goto out;
    if (dq_catalog_anno_replace(c->srv->catalog, c->seg[1], id, doc, strlen(doc), ver, &c->actor,
                                &out, &fields, &err) < 0) {
        write_error(c, &err, &fields);
        goto out;
    }
    answer_anno(c, 200, &out, base);
out:
    free(base);
    free(doc);
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_anno_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t id = anno_num(c->seg[3]), ver = -1;
    if (!id) {
        dq_api_error(c->resp, 404, "no such annotation", NULL);
        return;
    }
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    if (dq_catalog_anno_delete(c->srv->catalog, c->seg[1], id, ver, &c->actor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_answer_deleted(c);
}

/* ---------------------------------------------------------------- IIIF Presentation 3.0 */

/* Presentation 3.0 §6.1: JSON-LD with the context as profile when asked for, else JSON. */
static void iiif_answer(dq_api_t *c, dq_buf_t *body, const char *profile)
{
    const char *accept = c->req->header(c->req, "Accept");
    dq_api_json(c->resp, 200, body);
    if (accept && strstr(accept, "application/ld+json"))
        c->resp->content_type = profile;
    dq_http_resp_header(c->resp, "Vary", "Accept");
}

void dq_api_anno_iiif_page(dq_api_t *c, const char *relic, const char *page)
{
    char *base = dq_api_base_url(c), *pid = NULL;
    dq_buf_t canv = {0}, items = {0}, out = {0};
    dq_err_t err = {0};
    json_t *cv = NULL, *list = NULL, *pg = NULL;
    uint64_t n = 0;
    if (dq_str_to_u64(page, strlen(page), &n) < 0 || n < 1 || n > 100000) {
        dq_api_error(c->resp, 404, "no such annotation page", NULL);
        goto out;
    }
    /* §3.4 annotations: page n holds the annotations of canvas n. */
    if (dq_catalog_relic_canvases(c->srv->catalog, relic, &c->actor, &canv, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    cv = json_loadb(canv.data, canv.len, 0, NULL);
    if (n > json_array_size(cv)) {
        dq_api_error(c->resp, 404, "no such canvas", NULL);
        goto out;
    }
    if (dq_catalog_anno_list(c->srv->catalog, relic, (int)n, 0, 1000, &c->actor, &items, NULL,
                             &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    list = json_loadb(items.data, items.len, 0, NULL);
    char tail[48];
    snprintf(tail, sizeof(tail), "/annotations/%llu", (unsigned long long)n);
    pid = pres_url(base, relic, tail);
    pg =
        json_pack("{s:s, s:s, s:s}", "@context", PRES_CONTEXT, "id", pid, "type", "AnnotationPage");
    json_t *arr = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) json_array_append_new(arr, anno_json(d, base, 1));
    json_object_set_new(pg, "items", arr);
    dump_to(&out, pg);
    iiif_answer(c, &out, "application/ld+json;profile=\"" PRES_CONTEXT "\"");
out:
    json_decref(cv);
    json_decref(list);
    json_decref(pg);
    free(base);
    free(pid);
    dq_buf_free(&canv);
    dq_buf_free(&items);
    dq_buf_free(&out);
}

void dq_api_anno_manifest_decorate(dq_api_t *c, const char *relic, dq_buf_t *manifest)
{
    json_t *m = json_loadb(manifest->data, manifest->len, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    char *base = dq_api_base_url(c);
    size_t i;
    json_t *cv;
    /* Presentation 3.0 §3.4 annotations: each Canvas references its AnnotationPage. */
    json_array_foreach(json_object_get(m, "items"), i, cv)
    {
        char tail[48];
        snprintf(tail, sizeof(tail), "/annotations/%zu", i + 1);
        char *pid = pres_url(base, relic, tail);
        json_object_set_new(cv, "annotations",
                            json_pack("[{s:s, s:s}]", "id", pid, "type", "AnnotationPage"));
        free(pid);
    }
    /* Content Search 2.0 §4.1 (discovery): a service of type SearchService2 on the Manifest. */
    dq_buf_t sid = {0};
    dq_buf_printf(&sid, "%s/iiif/search/2/", base);
    dq_buf_url_segment(&sid, relic);
    json_t *svc = json_object_get(m, "service");
    if (!json_is_array(svc)) {
        svc = json_array();
        json_object_set_new(m, "service", svc);
    }
    json_array_append_new(svc, json_pack("{s:s, s:s}", "id", sid.data, "type", "SearchService2"));
    dq_buf_reset(manifest);
    char *s = json_dumps(m, JSON_COMPACT);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(manifest, s);
    free(s);
    json_decref(m);
    dq_buf_free(&sid);
    free(base);
}

/* ---------------------------------------------------------------- Content Search 2.0 */

/* Content Search 2.0 §3.2 parameters, in the order the response id repeats them. date is
 * defined by the spec but not supported here, so it is reported in "ignored". (The request
 * API exposes arguments by name only, so non-standard parameters are neither repeated nor
 * reported; the spec asks only about the ones it defines.) */
static const char *const search_params[] = {"q", "motivation", "date", "user"};

void dq_http_search2(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    dq_err_t err = {0};
    char *relic = NULL, *q = NULL, *motivation = NULL, *user = NULL, *base = NULL;
    dq_buf_t res = {0}, out = {0}, idb = {0};
    json_t *list = NULL, *page = NULL;
    const char *prefix = "/iiif/search/2/";
    size_t plen = strlen(prefix);
    int bad = 0;
    if (dq_http_actor(srv, req, &c.actor, NULL, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    if (req->path_len <= plen || memchr(req->path + plen, '/', req->path_len - plen)) {
        dq_api_error(resp, 404, "no such search service", NULL);
        goto out;
    }
    relic = dq_str_pct_decode(req->path + plen, req->path_len - plen, &err);
    if (!relic) {
        dq_api_error(resp, 400, err.msg, NULL);
        goto out;
    }
    q = dq_api_arg(&c, "q", &bad);
    motivation = bad ? NULL : dq_api_arg(&c, "motivation", &bad);
    user = bad ? NULL : dq_api_arg(&c, "user", &bad);
    if (bad)
        goto out;
    if (!q || !*q) {
        dq_api_error(resp, 400, "q is required", NULL);
        goto out;
    }
    if (dq_catalog_anno_search(srv->catalog, relic, q, motivation, user, SEARCH_LIMIT, &c.actor,
                               &res, &err) < 0) {
        dq_api_error_err(resp, &err);
        goto out;
    }
    base = dq_api_base_url(&c);
    list = json_loadb(res.data, res.len, 0, NULL);
    dq_buf_printf(&idb, "%s%s", base, prefix);
    dq_buf_url_segment(&idb, relic);
    size_t sbase_len = idb.len;
    /* The id is the request URI (§3.3): the service and the parameters given. */
    for (size_t k = 0, n = 0; k < DQ_ARRAY_LEN(search_params); k++) {
        const char *v = req->arg(req, search_params[k]);
        if (v)
            dq_buf_printf(&idb, "%c%s=%s", n++ ? '&' : '?', search_params[k], v);
    }
    page = json_pack("{s:s, s:s, s:s}", "@context", SEARCH_CONTEXT, "id", idb.data, "type",
                     "AnnotationPage");
    json_t *items = json_array(), *hits = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *a = anno_json(json_object_get(r, "annotation"), base, 1);
        const char *aid = json_string_value(json_object_get(a, "id"));
        size_t k;
        json_t *h;
        /* §3.3: a hit is a highlighting Annotation whose target selects the matched text of the
         * result with a TextQuoteSelector (Web Annotation Data Model §4.2.4). */
        json_array_foreach(json_object_get(r, "hits"), k, h)
        {
            dq_buf_t hid = {0};
            dq_buf_append(&hid, idb.data, sbase_len);
            dq_buf_printf(&hid, "/hit/%lld-%zu",
                          (long long)json_integer_value(
                              json_object_get(json_object_get(r, "annotation"), "id")),
                          k);
            json_t *sel =
                json_pack("{s:s, s:O, s:O, s:O}", "type", "TextQuoteSelector", "prefix",
                          json_object_get(h, "prefix"), "exact", json_object_get(h, "exact"),
                          "suffix", json_object_get(h, "suffix"));
            json_array_append_new(
                hits, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:[o]}}", "id", hid.data, "type",
                                "Annotation", "motivation", "highlighting", "target", "type",
                                "SpecificResource", "source", aid ? aid : "", "selector", sel));
            dq_buf_free(&hid);
        }
        json_array_append_new(items, a);
    }
    json_object_set_new(page, "items", items);
    if (json_array_size(hits))
        json_object_set_new(page, "annotations",
                            json_pack("[{s:s, s:o}]", "type", "AnnotationPage", "items", hits));
    else
        json_decref(hits);
    /* §3.2: parameters the service does not support are listed in "ignored". */
    json_t *ignored = json_array();
    if (req->arg(req, "date"))
        json_array_append_new(ignored, json_string("date"));
    if (json_array_size(ignored))
        json_object_set_new(page, "ignored", ignored);
    else
        json_decref(ignored);
    dump_to(&out, page);
    iiif_answer(&c, &out, "application/ld+json;profile=\"" SEARCH_CONTEXT "\"");
out:
    json_decref(list);
    json_decref(page);
    free(relic);
    free(q);
    free(motivation);
    free(user);
    free(base);
    dq_buf_free(&res);
    dq_buf_free(&out);
    dq_buf_free(&idb);
}

/* ---------------------------------------------------------------- Content State 1.0 */

void dq_api_content_state(dq_api_t *c)
{
    int bad = 0;
    char *enc = dq_api_arg(c, "iiif-content", &bad), *json = NULL;
    dq_buf_t canv = {0}, out = {0};
    dq_err_t err = {0};
    json_t *cv = NULL, *decoded = NULL;
    if (bad)
        goto out;
    if (!enc || !*enc) {
        dq_api_error(c->resp, 400, "iiif-content is required", NULL);
        goto out;
    }
    size_t len = 0;
    dq_iiif_region_ref_t r;
    /* §2.3 encoded; a plain canvas URI (§2.2) is read as is. */
    if (strncmp(enc, "http", 4) == 0) {
        json = dq_xstrdup(enc);
        len = strlen(json);
    } else if (!(json = dq_iiif_content_state_decode(enc, strlen(enc), &len, &err))) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    if (dq_iiif_content_state_read(json, len, &r, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    if (dq_catalog_relic_canvases(c->srv->catalog, r.relic_id, &c->actor, &canv, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    cv = json_loadb(canv.data, canv.len, 0, NULL);
    const json_t *g = json_array_get(cv, (size_t)r.canvas - 1);
    if (!g) {
        dq_api_error(c->resp, 422, "the content state names a canvas the relic does not have",
                     NULL);
        goto out;
    }
    if ((int64_t)r.xywh[0] + r.xywh[2] > json_integer_value(json_object_get(g, "width")) ||
        (int64_t)r.xywh[1] + r.xywh[3] > json_integer_value(json_object_get(g, "height"))) {
        dq_api_error(c->resp, 422, "the region extends beyond the canvas", NULL);
        goto out;
    }
    char *base = dq_api_base_url(c);
    char *cid = canvas_url(base, r.relic_id, r.canvas);
    char *mid = pres_url(base, r.relic_id, "/manifest");
    decoded = json_loadb(json, len, 0, NULL);
    json_t *o = json_pack("{s:s, s:i, s:[iiii], s:s, s:s}", "relic_id", r.relic_id, "canvas",
                          r.canvas, "xywh", r.xywh[0], r.xywh[1], r.xywh[2], r.xywh[3], "manifest",
                          mid, "canvas_id", cid);
    json_object_set_new(o, "content_state", decoded ? decoded : json_string(json));
    decoded = NULL;
    dump_to(&out, o);
    json_decref(o);
    free(base);
    free(cid);
    free(mid);
    dq_api_json(c->resp, 200, &out);
out:
    json_decref(cv);
    json_decref(decoded);
    free(enc);
    free(json);
    dq_buf_free(&canv);
    dq_buf_free(&out);
}
