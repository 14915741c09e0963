/*
 * api_classes.c: classroom sessions over HTTP (docs/api.md "Classroom"; issue 17). The
 * teacher opens a session for a lesson (POST /api/classes), leads it (POST .../state) and
 * watches the anonymous dashboard (GET /api/classes/{code}, or its event stream); learners
 * join with the code and no account (POST .../join), follow the teacher's event stream
 * (GET .../events?learner=), report their step and view (POST .../progress) and have their
 * answers checked against the lesson (POST .../answer), which is counted, never attributed.
 * The sessions themselves live in classroom.c; lessons and answers come from the catalog.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* [x, y, w, h] of non-negative integers (w, h >= 1) into v; 0, or -1 when malformed. */
static int view_of(const json_t *a, int v[4])
{
    if (!json_is_array(a) || json_array_size(a) != 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        const json_t *e = json_array_get(a, (size_t)i);
        json_int_t k = json_is_integer(e) ? json_integer_value(e) : json_is_real(e) ? (json_int_t)json_real_value(e) : -1;
        if (k < (i < 2 ? 0 : 1) || k > 1000000000)
            return -1;
        v[i] = (int)k;
    }
    return 0;
}

static int is_admin(const dq_api_t *c) { return c->actor.role >= DQ_ROLE_ADMIN; }

static void answer_json(dq_api_t *c, int status, dq_buf_t *b)
{
    dq_buf_putc(b, '\n');
    dq_api_json(c->resp, status, b);
}

void dq_api_class_open(dq_api_t *c)
{
    json_t *in = dq_api_body(c, 0);
    dq_buf_t doc = {0}, out = {0};
    dq_err_t err = {0};
    if (!in)
        return;
    const char *lesson = json_string_value(json_object_get(in, "lesson"));
    const char *mode = json_string_value(json_object_get(in, "mode"));
    if (!lesson || (mode && strcmp(mode, "teacher") && strcmp(mode, "student"))) {
        dq_api_error(c->resp, 400, "the body is {\"lesson\": \"l3\", \"mode\": \"teacher\"|\"student\"}",
                     NULL);
        goto out;
    }
    /* The teacher must be able to see the lesson; its step count bounds the session. */
    if (dq_catalog_lesson_get(c->srv->catalog, lesson, &c->actor, &doc, NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    json_t *l = json_loadb(doc.data, doc.len, 0, NULL);
    int n_steps = (int)json_array_size(json_object_get(l, "steps"));
    json_decref(l);
    char code[8];
    int m = mode && strcmp(mode, "student") == 0 ? DQ_CLASS_STUDENT_PACED : DQ_CLASS_TEACHER_PACED;
    if (dq_classes_open(c->srv->classes, lesson, n_steps, c->actor.user, m, code, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_printf(&out, "{\"code\":\"%s\",\"lesson\":\"", code);
    dq_buf_json_str(&out, lesson, strlen(lesson));
    dq_buf_printf(&out, "\",\"mode\":\"%s\",\"steps\":%d}", m ? "student" : "teacher", n_steps);
    answer_json(c, 201, &out);
    char loc[48];
    snprintf(loc, sizeof(loc), "/api/classes/%s", code);
    dq_http_resp_header(c->resp, "Location", loc);
out:
    json_decref(in);
    dq_buf_free(&doc);
    dq_buf_free(&out);
}

void dq_api_class_dashboard(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_classes_dashboard(c->srv->classes, c->seg[1], c->actor.user, is_admin(c), &out, &err) <
        0)
        dq_api_error_err(c->resp, &err);
    else
        answer_json(c, 200, &out);
    dq_buf_free(&out);
}

void dq_api_class_join(dq_api_t *c)
{
    dq_buf_t state = {0}, out = {0};
    dq_err_t err = {0};
    char token[33];
    if (dq_classes_join(c->srv->classes, c->seg[1], token, &state, &err) < 0) {
        dq_api_error_err(c->resp, &err);
    } else {
        dq_buf_printf(&out, "{\"learner\":\"%s\",\"state\":%s}", token, state.data);
        answer_json(c, 200, &out);
    }
    dq_buf_free(&state);
    dq_buf_free(&out);
}


/* 204, never cached: what a classroom command answers when it took effect. */
static void no_content(dq_api_t *c)
{
    c->resp->status = 204;
    c->resp->no_etag = 1;
    dq_buf_reset(&c->resp->body);
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
}

void dq_api_class_state(dq_api_t *c)
{
    json_t *in = dq_api_body(c, 0);
    dq_err_t err = {0};
    if (!in)
        return;
    const json_t *st = json_object_get(in, "step"), *vw = json_object_get(in, "view");
    const char *mode = json_string_value(json_object_get(in, "mode"));
    int view[4], step = -1, m = -1;
    if ((st && (!json_is_integer(st) || json_integer_value(st) < 0 ||
                json_integer_value(st) > 1000)) ||
        (vw && !json_is_null(vw) && view_of(vw, view) < 0) ||
        (mode && strcmp(mode, "teacher") && strcmp(mode, "student"))) {
        dq_api_error(c->resp, 400,
                     "the body is {\"step\": n, \"view\": [x, y, w, h], \"mode\": "
                     "\"teacher\"|\"student\", \"end\": true} (each optional)",
                     NULL);
        goto out;
    }
    if (st)
        step = (int)json_integer_value(st);
    if (mode)
        m = strcmp(mode, "student") == 0 ? DQ_CLASS_STUDENT_PACED : DQ_CLASS_TEACHER_PACED;
    if (dq_classes_set(c->srv->classes, c->seg[1], c->actor.user, is_admin(c), step,
                       vw && !json_is_null(vw) ? view : NULL, m,
                       json_is_true(json_object_get(in, "end")), &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    no_content(c);
out:
    json_decref(in);
}

void dq_api_class_progress(dq_api_t *c)
{
    json_t *in = dq_api_body(c, 0);
    dq_err_t err = {0};
    if (!in)
        return;
    const char *learner = json_string_value(json_object_get(in, "learner"));
    const json_t *st = json_object_get(in, "step"), *vw = json_object_get(in, "view");
    int view[4];
    if (!learner || !json_is_integer(st) || (vw && !json_is_null(vw) && view_of(vw, view) < 0)) {
        dq_api_error(c->resp, 400,
                     "the body is {\"learner\": token, \"step\": n, \"view\": [x, y, w, h]}", NULL);
        goto out;
    }
    json_int_t s = json_integer_value(st);
    if (dq_classes_progress(c->srv->classes, c->seg[1], learner, s > 1000 || s < 0 ? -1 : (int)s,
                            vw && !json_is_null(vw) ? view : NULL, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    no_content(c);
out:
    json_decref(in);
}

void dq_api_class_answer(dq_api_t *c)
{
    json_t *in = dq_api_body(c, 0);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    char lesson[32];
    int correct = 0;
    if (!in)
        return;
    const char *learner = json_string_value(json_object_get(in, "learner"));
    const json_t *st = json_object_get(in, "step");
    if (!learner || !json_is_integer(st) || json_integer_value(st) < 0 ||
        json_integer_value(st) > 1000) {
        dq_api_error(c->resp, 400,
                     "the body is {\"learner\": token, \"step\": n, \"choice\": k | \"point\": [x, y]}",
                     NULL);
        goto out;
    }
    int step = (int)json_integer_value(st);
    if (dq_classes_lesson(c->srv->classes, c->seg[1], lesson, &err) < 0 ||
        dq_catalog_lesson_check(c->srv->catalog, lesson, step, c->req->body, c->req->body_len,
                                &c->actor, &out, &correct, &err) < 0 ||
        dq_classes_answer(c->srv->classes, c->seg[1], learner, step, correct, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    answer_json(c, 200, &out);
out:
    json_decref(in);
    dq_buf_free(&out);
}

void dq_api_class_events(dq_api_t *c)
{
    int bad = 0;
    char *learner = dq_api_arg(c, "learner", &bad);
    dq_err_t err = {0};
    if (bad)
        return;
    if (!learner && c->actor.role == DQ_ROLE_ANON) {
        dq_api_error(c->resp, 401, "a learner's stream needs ?learner=; the teacher's a sign-in",
                     NULL);
        free(learner);
        return;
    }
    dq_http_stream_t *s = dq_classes_subscribe(c->srv->classes, c->seg[1], learner,
                                               c->actor.user, is_admin(c), &err);
    free(learner);
    if (!s) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    c->resp->status = 200;
    c->resp->content_type = "text/event-stream";
    c->resp->stream = s;
    c->resp->no_etag = 1;
    dq_buf_reset(&c->resp->body);
    dq_http_resp_header(c->resp, "Cache-Control", "no-store");
    /* A proxy must pass each event on at once (nginx's convention; harmless elsewhere). */
    dq_http_resp_header(c->resp, "X-Accel-Buffering", "no");
}
