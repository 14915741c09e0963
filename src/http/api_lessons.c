/*
 * api_lessons.c: lessons and the glossary over HTTP (docs/api.md "Lessons", "Glossary";
 * issue 17): /api/lessons (list, create), /api/lessons/{id} (get, replace, delete with
 * ETag/If-Match), /api/lessons/{id}/check (a learner's answer, checked on the server), and
 * /api/glossary[?q=] with /api/glossary/{key}. The catalog (lesson.c, glossary.c) validates,
 * decides who may see and change what, and stores; this file adds to each lesson step its
 * IIIF Content State 1.0 link (§2.3 encoded), which needs the address the client used, and
 * tells a classroom session (classroom.c) about answers given in one. Nothing is cacheable.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "iiif/iiif.h"

/* ---------------------------------------------------------------- helpers */

/* The lesson doc with "content_state": per step the encoded view (a comparison: its first
 * detail; a hidden step: null), so that every step can be opened in any IIIF viewer. */
static void with_content_states(dq_api_t *c, const dq_buf_t *doc, dq_buf_t *out)
{
    json_t *t = json_loadb(doc->data, doc->len, 0, NULL);
    char *base = dq_api_base_url(c);
    json_t *cs = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(t, "steps"), i, s)
    {
        const json_t *ref = json_object_get(s, "a") ? json_object_get(s, "a") : s;
        json_array_append_new(cs, dq_api_region_state(base, ref, NULL));
    }
    json_object_set_new(t, "content_state", cs);
    char *text = json_dumps(t, JSON_COMPACT | JSON_PRESERVE_ORDER);
    DQ_ASSERT(text != NULL);
    dq_buf_puts(out, text);
    dq_buf_putc(out, '\n');
    free(text);
    free(base);
    json_decref(t);
}

/* Answers a stored document (a lesson with its content states) with its ETag "v{version}"
 * (and Location for 201). */
static void answer_doc(dq_api_t *c, int status, const dq_buf_t *doc, const char *location,
                       int lesson)
{
    dq_buf_t out = {0};
    if (lesson)
        with_content_states(c, doc, &out);
    else
        dq_buf_append(&out, doc->data, doc->len);
    dq_api_answer_versioned(c, status, &out, location);
}

/* ---------------------------------------------------------------- lessons */

void dq_api_lessons_list(dq_api_t *c)
{
    int bad = 0;
    char *relic = dq_api_arg(c, "relic", &bad);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (bad)
        goto out;
    if (dq_catalog_lesson_list(c->srv->catalog, relic, &c->actor, &out, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_putc(&out, '\n');
    dq_api_json(c->resp, 200, &out);
out:
    free(relic);
    dq_buf_free(&out);
}

void dq_api_lesson_create(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_lesson_create(c->srv->catalog, c->req->body, c->req->body_len, &c->actor,
                                 &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    json_t *t = json_loadb(out.data, out.len, 0, NULL);
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/lessons/%s", json_string_value(json_object_get(t, "id")));
    json_decref(t);
    answer_doc(c, 201, &out, loc, 1);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_lesson_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_lesson_get(c->srv->catalog, c->seg[1], &c->actor, &out, NULL, &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        answer_doc(c, 200, &out, NULL, 1);
    dq_buf_free(&out);
}

void dq_api_lesson_replace(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0 || dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_lesson_replace(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len, ver,
                                  &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    answer_doc(c, 200, &out, NULL, 1);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_lesson_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    if (dq_catalog_lesson_delete(c->srv->catalog, c->seg[1], ver, &c->actor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_answer_deleted(c);
}

void dq_api_lesson_check(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    json_t *in = dq_api_body(c, 0);
    int correct = 0;
    if (!in)
        goto out;
    const json_t *step = json_object_get(in, "step");
    if (!json_is_integer(step) || json_integer_value(step) < 0 ||
        json_integer_value(step) > 1000) {
        dq_api_error(c->resp, 400, "the body needs \"step\": the step's index (0, 1, ...)", NULL);
        goto out;
    }
    int k = (int)json_integer_value(step);
    if (dq_catalog_lesson_check(c->srv->catalog, c->seg[1], k, c->req->body, c->req->body_len,
                                &c->actor, &out, &correct, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_putc(&out, '\n');
    dq_api_json(c->resp, 200, &out);
out:
    json_decref(in);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- glossary */

void dq_api_glossary_search(dq_api_t *c)
{
    int bad = 0;
    char *q = dq_api_arg(c, "q", &bad);
    char *limit_s = bad ? NULL : dq_api_arg(c, "limit", &bad);
    char *offset_s = bad ? NULL : dq_api_arg(c, "offset", &bad);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    uint64_t limit = 100, offset = 0;
    if (bad)
        goto out;
    if ((limit_s && (dq_str_to_u64(limit_s, strlen(limit_s), &limit) < 0 || limit < 1 ||
                     limit > 500)) ||
        (offset_s && (dq_str_to_u64(offset_s, strlen(offset_s), &offset) < 0 ||
                      offset > 1000000))) {
        dq_api_error(c->resp, 400, "limit must be 1..500 and offset a number", NULL);
        goto out;
    }
    if (dq_catalog_gloss_search(c->srv->catalog, q, (int64_t)offset, (int)limit, &out, &err) <
        0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_putc(&out, '\n');
    dq_api_json(c->resp, 200, &out);
out:
    free(q);
    free(limit_s);
    free(offset_s);
    dq_buf_free(&out);
}

void dq_api_glossary_create(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    if (dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_gloss_create(c->srv->catalog, c->req->body, c->req->body_len, &c->actor, &out,
                                &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    json_t *t = json_loadb(out.data, out.len, 0, NULL);
    dq_buf_t loc = {0};
    dq_buf_puts(&loc, "/api/glossary/");
    dq_buf_url_segment(&loc, json_string_value(json_object_get(t, "key")));
    json_decref(t);
    answer_doc(c, 201, &out, loc.data, 0);
    dq_buf_free(&loc);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_glossary_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_gloss_get(c->srv->catalog, c->seg[1], &c->actor, &out, NULL, &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        answer_doc(c, 200, &out, NULL, 0);
    dq_buf_free(&out);
}

void dq_api_glossary_replace(dq_api_t *c)
{
    dq_buf_t out = {0}, fields = {0};
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0 || dq_api_check_body(c) < 0)
        goto out;
    if (dq_catalog_gloss_replace(c->srv->catalog, c->seg[1], c->req->body, c->req->body_len, ver,
                                 &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    answer_doc(c, 200, &out, NULL, 0);
out:
    dq_buf_free(&out);
    dq_buf_free(&fields);
}

void dq_api_glossary_delete(dq_api_t *c)
{
    dq_err_t err = {0};
    int64_t ver = -1;
    if (dq_api_if_match_version(c, &ver) < 0)
        return;
    if (dq_catalog_gloss_delete(c->srv->catalog, c->seg[1], ver, &c->actor, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_api_answer_deleted(c);
}
