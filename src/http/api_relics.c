/*
 * api_relics.c: /api/relics, the relic records over HTTP (docs/api.md "Endpoints"). The
 * catalog validates documents, checks roles and versions and writes the audit rows; this file
 * maps HTTP onto that: query arguments to a dq_relic_query_t, JSON bodies, versions to
 * ETag/If-Match (RFC 9110 §8.8.3, §13.1.1) and If-None-Match (§13.1.2), and errors to the
 * JSON error format. After a write that can change which images anonymous callers may see,
 * it retires the shared response cache (see retire_cache).
 */
#define _GNU_SOURCE
#include "api_internal.h"
#include "lod/lod.h"

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* Reads "id" and "version" of a stored document (what the catalog's writes return). */
static void doc_meta(const dq_buf_t *doc, char *id, size_t id_cap, int64_t *version)
{
    json_t *j = json_loadb(doc->data ? doc->data : "", doc->len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "id"));
    snprintf(id, id_cap, "%s", s ? s : "");
    *version = json_integer_value(json_object_get(j, "version"));
    json_decref(j);
}

static void set_etag(dq_http_resp_t *resp, int64_t version)
{
    char tag[32];
    snprintf(tag, sizeof(tag), "\"v%lld\"", (long long)version);
    /* Our own validator (a version, RFC 9110 §8.8.3), not mhd.c's body hash. */
    resp->no_etag = 1;
    dq_http_resp_header(resp, "ETag", tag);
}

/* Parses one entity-tag list (RFC 9110 §8.8.3: `"v3", W/"v4"` or `*`). For each tag calls
 * back with its version (-1: not one of ours) and whether it was weak. Returns 1 for "*",
 * 0 otherwise, -1 when malformed. */
#define MAX_TAGS 16
typedef struct {
    int64_t v[MAX_TAGS];
    int weak[MAX_TAGS];
    int n;
    int any;
} tags_t;

static int parse_tags(const char *h, tags_t *t)
{
    memset(t, 0, sizeof(*t));
    const char *p = h;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*') {
            t->any = 1;
            p++;
            continue;
        }
        int weak = 0;
        if (p[0] == 'W' && p[1] == '/') {
            weak = 1;
            p += 2;
        }
        if (*p != '"')
            return -1;
        const char *e = strchr(p + 1, '"');
        if (!e)
            return -1;
        int64_t v = -1;
        if (p[1] == 'v' && e - p > 2) {
            uint64_t u;
            if (dq_str_to_u64(p + 2, (size_t)(e - p - 2), &u) == 0 && u < INT64_MAX)
                v = (int64_t)u;
        }
        if (t->n < MAX_TAGS) {
            t->v[t->n] = v;
            t->weak[t->n] = weak;
            t->n++;
        }
        p = e + 1;
    }
    return 0;
}

/* The version an If-Match asks for (RFC 9110 §13.1.1, strong comparison: weak tags never
 * match): 0 with *ver (-1 for "*"), or -1 with 428 (absent: docs/api.md makes it required,
 * RFC 6585 §3) or 412 (nothing can match) answered. A list of several tags is resolved
 * against the current version; the catalog checks it again inside its transaction. */
static int if_match(dq_api_t *c, const char *id, int64_t *ver)
{
    const char *h = c->req->header(c->req, "If-Match");
    if (!h) {
        dq_api_error(c->resp, 428, "If-Match is required: send the ETag you read", NULL);
        return -1;
    }
    tags_t t;
    if (parse_tags(h, &t) < 0) {
        dq_api_error(c->resp, 400, "malformed If-Match", NULL);
        return -1;
    }
    if (t.any) {
        *ver = -1;
        return 0;
    }
    int64_t cand[MAX_TAGS];
    int n = 0;
    for (int i = 0; i < t.n; i++)
        if (!t.weak[i] && t.v[i] >= 0)
            cand[n++] = t.v[i];
    if (n == 1) {
        *ver = cand[0];
        return 0;
    }
    if (n > 1) {
        int64_t cur = 0;
        dq_err_t err = {0};
        if (dq_catalog_relic_get(c->srv->catalog, id, &c->actor, NULL, &cur, &err) < 0) {
            dq_api_error_err(c->resp, &err);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (cand[i] == cur) {
                *ver = cur;
                return 0;
            }
    }
    dq_api_error(c->resp, 412, "the record has changed since you read it (If-Match)", NULL);
    return -1;
}

/* The shared response cache holds IIIF answers only for images anonymous callers may see
 * (iiif_image.c), keyed without any user. A relic write can hide an image that was visible
 * (a record turns restricted, is deleted, or drops an image another, restricted, record also
 * shows), so such writes retire every cached answer by bumping the epoch that is part of
 * every key (the same mechanism as a replaced pyramid, server.c). Creating a public record
 * can only make images more visible and keeps the cache. */
static void retire_cache(dq_api_t *c)
{
    atomic_fetch_add(&c->srv->epoch, 1);
}

static void write_error(dq_api_t *c, const dq_err_t *err, const dq_buf_t *fields)
{
    if (err->http_status == 422) {
        dq_api_error(c->resp, 422, err->msg[0] ? err->msg : "invalid record",
                     fields->len ? fields->data : NULL);
        return;
    }
    dq_api_error_err(c->resp, err);
}

/* Answers a stored document: status, ETag, and Location for a creation. */
static void answer_doc(dq_api_t *c, int status, dq_buf_t *doc)
{
    char id[128];
    int64_t version = 0;
    doc_meta(doc, id, sizeof(id), &version);
    dq_api_json(c->resp, status, doc);
    set_etag(c->resp, version);
    if (status == 201) {
        dq_buf_t loc = {0};
        dq_buf_puts(&loc, "/api/relics/");
        /* Ids are slugs, but percent-encode anything else rather than trust that. */
        dq_buf_url_segment(&loc, id);
        dq_http_resp_header(c->resp, "Location", loc.data);
        dq_buf_free(&loc);
    }
}

/* ---------------------------------------------------------------- search */

/* Parses a signed decimal year; 0 or -1 (400 answered). */
static int parse_int(dq_api_t *c, const char *name, const char *s, int *out)
{
    char *end = NULL;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || v < -100000 || v > 100000) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be an integer", name);
        dq_api_error(c->resp, 400, msg, NULL);
        return -1;
    }
    *out = (int)v;
    return 0;
}

void dq_api_relic_search(dq_api_t *c)
{
    static const char *const names[] = {"q",      "dynasty",    "object_type", "subject", "creator",
                                        "medium", "has_images", "year_from",   "year_to", "sort",
                                        "limit",  "cursor",     "facets",      "lang",    "colour"};
    enum { Q, DYN, TYPE, SUBJ, CREATOR, MEDIUM, HAS, YF, YT, SORT, LIMIT, CURSOR, FACETS, LANG,
           COLOUR };
    char *a[DQ_ARRAY_LEN(names)] = {0};
    dq_buf_t b = {0};
    dq_err_t err = {0};
    int bad = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(names) && !bad; i++)
        a[i] = dq_api_arg(c, names[i], &bad);
    if (bad)
        goto out;
    dq_relic_query_t q = {
        .q = a[Q] && *a[Q] ? a[Q] : NULL,
        .dynasty = a[DYN] && *a[DYN] ? a[DYN] : NULL,
        .object_type = a[TYPE] && *a[TYPE] ? a[TYPE] : NULL,
        .subject = a[SUBJ] && *a[SUBJ] ? a[SUBJ] : NULL,
        .creator = a[CREATOR] && *a[CREATOR] ? a[CREATOR] : NULL,
        .medium = a[MEDIUM] && *a[MEDIUM] ? a[MEDIUM] : NULL,
        .has_images = -1,
        .year_from = INT_MIN,
        .year_to = INT_MAX,
        .sort = a[SORT] && *a[SORT] ? a[SORT] : NULL,
        .cursor = a[CURSOR] && *a[CURSOR] ? a[CURSOR] : NULL,
        .lang = a[LANG] && *a[LANG] ? a[LANG] : NULL,
        .colour = a[COLOUR] && *a[COLOUR] ? a[COLOUR] : NULL, /* issue 13 */
    };
    if (a[HAS] && *a[HAS]) {
        if (strcmp(a[HAS], "1") != 0 && strcmp(a[HAS], "0") != 0) {
            dq_api_error(c->resp, 400, "has_images must be 0 or 1", NULL);
            goto out;
        }
        q.has_images = a[HAS][0] - '0';
    }
    if (a[FACETS] && *a[FACETS])
        q.facets = strcmp(a[FACETS], "0") != 0 && strcmp(a[FACETS], "false") != 0;
    if ((a[YF] && *a[YF] && parse_int(c, "year_from", a[YF], &q.year_from) < 0) ||
        (a[YT] && *a[YT] && parse_int(c, "year_to", a[YT], &q.year_to) < 0) ||
        (a[LIMIT] && *a[LIMIT] && parse_int(c, "limit", a[LIMIT], &q.limit) < 0))
        goto out;
    if (a[LIMIT] && *a[LIMIT] && (q.limit < 1 || q.limit > 100)) {
        dq_api_error(c->resp, 400, "limit must be 1..100", NULL);
        goto out;
    }
    if (dq_catalog_relic_search(c->srv->catalog, &q, &c->actor, &b, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_api_json(c->resp, 200, &b);
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(names); i++)
        free(a[i]);
    dq_buf_free(&b);
}

/* ---------------------------------------------------------------- one record */

void dq_api_relic_create(dq_api_t *c)
{
    json_t *body = dq_api_body(c, 0);
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (!body)
        goto out;
    if (dq_catalog_relic_create(c->srv->catalog, c->req->body, c->req->body_len, &c->actor, &out,
                                &fields, &err) < 0) {
        write_error(c, &err, &fields);
        goto out;
    }
    if (json_is_true(json_object_get(body, "restricted")))
        retire_cache(c);
    answer_doc(c, 201, &out);
out:
    json_decref(body);
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_relic_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    int64_t version = 0;
    /* ======== network: Linked Art by content negotiation (linkedart.c) ======== */
    if (dq_lod_la_accepts(c->req->header(c->req, "Accept"))) {
        dq_api_relic_linkedart(c, c->seg[1]);
        return;
    }
    dq_http_resp_header(c->resp, "Vary", "Accept");
    /* ======== end network ======== */
    if (dq_catalog_relic_get(c->srv->catalog, c->seg[1], &c->actor, &out, &version, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    /* RFC 9110 §13.1.2: If-None-Match uses weak comparison; a match is a 304. */
    const char *inm = c->req->header(c->req, "If-None-Match");
    tags_t t;
    if (inm && parse_tags(inm, &t) == 0) {
        int hit = t.any;
        for (int i = 0; i < t.n; i++)
            hit |= t.v[i] == version;
        if (hit) {
            c->resp->status = 304;
            set_etag(c->resp, version);
            dq_http_resp_header(c->resp, "Cache-Control", "private, no-cache");
            goto out;
        }
    }
    dq_api_json(c->resp, 200, &out);
    set_etag(c->resp, version);
out:
    dq_buf_free(&out);
}

/* PUT and PATCH: the same shape, a different catalog call. */
static void update(dq_api_t *c, int patch)
{
    json_t *body = dq_api_body(c, 0);
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver;
    if (!body || if_match(c, c->seg[1], &ver) < 0)
        goto out;
    int rc = patch
                 ? dq_catalog_relic_patch(c->srv->catalog, c->seg[1], c->req->body,
                                          c->req->body_len, ver, &c->actor, &out, &fields, &err)
                 : dq_catalog_relic_replace(c->srv->catalog, c->seg[1], c->req->body,
                                            c->req->body_len, ver, &c->actor, &out, &fields, &err);
    if (rc < 0) {
        write_error(c, &err, &fields);
        goto out;
    }
    retire_cache(c);
    answer_doc(c, 200, &out);
out:
    json_decref(body);
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_relic_replace(dq_api_t *c)
{
    update(c, 0);
}
void dq_api_relic_patch(dq_api_t *c)
{
    update(c, 1);
}

void dq_api_relic_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver;
    if (if_match(c, c->seg[1], &ver) < 0)
        return;
    /* The relic's spectral captures go with it (catalog cascade); their files in the store
     * are gathered first and removed once the delete committed. */
    json_t *spectral = dq_api_spectral_relic_files(c->srv, c->seg[1]);
    json_t *changes = dq_api_condition_relic_files(c->srv, c->seg[1], NULL);
    if (dq_catalog_relic_delete(c->srv->catalog, c->seg[1], ver, &c->actor, &err) < 0) {
        json_decref(spectral);
        json_decref(changes);
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_spectral_remove_files(c->srv, spectral);
    json_decref(spectral);
    dq_api_condition_remove_files(c->srv, changes);
    json_decref(changes);
    retire_cache(c);
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}

void dq_api_relic_images(dq_api_t *c)
{
    json_t *body = dq_api_body(c, 1);
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver = -1;
    /* If-Match is optional here (the catalog takes -1: any); when sent, it is honoured. */
    if (!body || (c->req->header(c->req, "If-Match") && if_match(c, c->seg[1], &ver) < 0))
        goto out;
    if (dq_catalog_relic_set_images(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len, ver,
                                    &c->actor, &out, &fields, &err) < 0) {
        write_error(c, &err, &fields);
        goto out;
    }
    retire_cache(c);
    answer_doc(c, 200, &out);
out:
    json_decref(body);
    dq_buf_free(&out);
    dq_buf_free(&fields);
}
