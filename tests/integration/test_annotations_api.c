/*
 * Integration tests of annotations, Content Search and tours on the real binary: accounts
 * and tokens from `danqing user`, an image from `danqing ingest`, real HTTP on loopback.
 * The W3C Web Annotation Protocol (401/403 for anonymous and viewer writes, the CSRF header,
 * 201 + Location + ETag, If-Match 428/412, container headers, paging, Prefer), the IIIF
 * AnnotationPage per canvas and its reference from the manifest, Content Search 2.0 (shape,
 * hits for "boat", 船 and pinyin, "ignored"), restricted relics, tours (roles, play order,
 * versions) and IIIF Content State links (encode here by the rule in docs/api.md, decode on
 * the server, Chinese text included).
 */
#include <ctype.h>
#include <jansson.h>
#include <vips/vips.h>

#include "../dq_fixture.h"

__attribute__((unused)) static void *unused_dqt_http = (void *)dqt_http;

typedef struct {
    char *dir, *data;
    dqt_server_t srv;
    char *cur_token, *cons_token; /* "Authorization: Bearer dq_...\r\n" */
    char base[64];
    char *relic, *hidden; /* a public relic with two canvases, a restricted one */
} fx_t;

static char *token_of(fx_t *f, const char *user)
{
    char *tok = dqt_token(f->data, user);
    DQ_REQUIRE(tok && dq_str_starts(tok, "dq_"));
    char *h = dq_xasprintf("Authorization: Bearer %s\r\n", tok);
    free(tok);
    return h;
}

/* One request with an optional body, Connection: close. */
static int req(fx_t *f, const char *method, const char *path, const char *headers, const char *body,
               dqt_resp_t *r)
{
    /* bodies here are always JSON */
    char *h = dq_xasprintf("%s%s", body ? "Content-Type: application/json\r\n" : "",
                           headers ? headers : "");
    int rc = dqt_http_body(f->srv.port, method, path, h, body, r);
    free(h);
    return rc;
}

static int status_of(fx_t *f, const char *method, const char *path, const char *headers,
                     const char *body)
{
    dqt_resp_t r;
    int st = req(f, method, path, headers, body, &r) == 0 ? r.status : -1;
    if (st >= 400 && getenv("DQ_TEST_VERBOSE"))
        fprintf(stderr, "    %s %s -> %d %s\n", method, path, st, r.body.data);
    dqt_resp_free(&r);
    return st;
}

static json_t *body_json(const dqt_resp_t *r)
{
    json_t *j = r->body.data ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    if (!j)
        fprintf(stderr, "    not JSON (%d): %s\n", r->status, r->body.data ? r->body.data : "");
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *cat2(const char *a, const char *b)
{
    return dq_xasprintf("%s%s", a, b);
}

static char *login(fx_t *f, const char *user, const char *pw, int csrf)
{
    char *body = dq_xasprintf("{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "POST", "/api/login", NULL, body, &r) == 0);
    free(body);
    DQ_REQUIRE(r.status == 200);
    char *sc = dqt_header(&r, "Set-Cookie");
    DQ_REQUIRE(sc && dq_str_starts(sc, "dq_session="));
    char *val = dq_xstrndup(sc, strcspn(sc, ";"));
    char *h = dq_xasprintf("Cookie: %s\r\n%s", val, csrf ? "X-Requested-With: danqing\r\n" : "");
    free(val);
    free(sc);
    dqt_resp_free(&r);
    return h;
}

static char *create_relic(fx_t *f, const char *json)
{
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "POST", "/api/relics", f->cur_token, json, &r) == 0);
    if (r.status != 201)
        fprintf(stderr, "create: %d %s\n", r.status, r.body.data);
    DQ_REQUIRE(r.status == 201);
    json_t *j = body_json(&r);
    char *id = dq_xstrdup(jstr(j, "id"));
    json_decref(j);
    dqt_resp_free(&r);
    return id;
}

static void setup(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    char *m1 = dq_xasprintf("%s/a.png", f->dir), *m2 = dq_xasprintf("%s/b.png", f->dir);
    DQ_REQUIRE(dqt_make_master(m1, 1200, 400, DQT_MASTER_BYTES) == 0 && dqt_make_master(m2, 300, 200, DQT_MASTER_BYTES) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id scroll-a --data %s >/dev/null 2>&1", dqt_bin(), m1,
                      f->data) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id scroll-b --data %s >/dev/null 2>&1", dqt_bin(), m2,
                      f->data) == 0);
    static const char *const users[][3] = {{"admin", "admin", "adminpass1"},
                                           {"cura", "curator", "curapass1"},
                                           {"cons", "conservator", "conspass1"},
                                           {"vier", "viewer", "vierpass1"}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(users); i++)
        DQ_REQUIRE(dqt_sh("%s --data %s user add %s --role %s --password %s >/dev/null 2>&1",
                          dqt_bin(), f->data, users[i][0], users[i][1], users[i][2]) == 0);
    f->cur_token = token_of(f, "cura");
    f->cons_token = token_of(f, "cons");
    free(m1);
    free(m2);
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, NULL) == 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
    f->relic = create_relic(
        f, "{\"accession\":\"R-1\",\"title\":{\"zh\":\"江行图\",\"en\":\"River journey\"},"
           "\"object_type\":\"handscroll\",\"images\":[{\"image_id\":\"scroll-a\",\"role\":"
           "\"main\"},{\"image_id\":\"scroll-b\",\"role\":\"detail\"}]}");
    f->hidden = create_relic(f, "{\"accession\":\"R-2\",\"title\":{\"en\":\"Secret\"},"
                                "\"restricted\":true,\"images\":[{\"image_id\":\"scroll-b\","
                                "\"role\":\"main\"}]}");
}

static void teardown(fx_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->cur_token);
    free(f->cons_token);
    free(f->relic);
    free(f->hidden);
}

static char *path_of(const char *fmt, const char *relic)
{
    return dq_xasprintf(fmt, relic);
}

/* A W3C annotation on canvas n of relic at xywh with one body per (text, lang) pair. */
static char *w3c(fx_t *f, const char *relic, int canvas, const char *xywh, const char *motivation,
                 const char *zh, const char *en)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b,
                  "{\"@context\":\"http://www.w3.org/ns/anno.jsonld\",\"type\":\"Annotation\","
                  "\"motivation\":\"%s\",\"body\":[",
                  motivation);
    if (zh)
        dq_buf_printf(&b,
                      "{\"type\":\"TextualBody\",\"value\":\"%s\",\"language\":\"zh\","
                      "\"format\":\"text/plain\"}%s",
                      zh, en ? "," : "");
    if (en)
        dq_buf_printf(&b, "{\"type\":\"TextualBody\",\"value\":\"%s\",\"language\":\"en\"}", en);
    dq_buf_printf(&b,
                  "],\"target\":{\"source\":\"%s/iiif/presentation/3/%s/canvas/%d\","
                  "\"selector\":{\"type\":\"FragmentSelector\",\"conformsTo\":"
                  "\"http://www.w3.org/TR/media-frags/\",\"value\":\"xywh=%s\"}}}",
                  f->base, relic, canvas, xywh);
    return dq_buf_steal(&b, NULL);
}

/* POSTs an annotation as the curator; returns its absolute id (new string). */
static char *post_anno(fx_t *f, const char *relic, const char *json)
{
    char *p = path_of("/api/relics/%s/annotations/", relic);
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "POST", p, f->cur_token, json, &r) == 0);
    if (r.status != 201)
        fprintf(stderr, "    post: %d %s\n", r.status, r.body.data);
    DQ_REQUIRE(r.status == 201);
    char *loc = dqt_header(&r, "Location");
    dqt_resp_free(&r);
    free(p);
    return loc;
}

/* ---------------------------------------------------------------- the protocol */

DQ_TEST(web_annotation_protocol)
{
    fx_t f;
    setup(&f);
    char *cont = path_of("/api/relics/%s/annotations/", f.relic);
    char *a = w3c(&f, f.relic, 1, "100,50,200,100", "commenting", "一叶扁舟", "a small boat");
    /* who may write */
    DQ_CHECK_INT(status_of(&f, "POST", cont, NULL, a), 401);
    char *viewer = login(&f, "vier", "vierpass1", 1);
    DQ_CHECK_INT(status_of(&f, "POST", cont, viewer, a), 403);
    char *cur_nocsrf = login(&f, "cura", "curapass1", 0);
    DQ_CHECK_INT(status_of(&f, "POST", cont, cur_nocsrf, a), 403); /* CSRF header missing */
    /* create */
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "POST", cont, f.cur_token, a, &r) == 0);
    DQ_REQUIRE(r.status == 201);
    char *loc = dqt_header(&r, "Location"), *etag = dqt_header(&r, "ETag"),
         *ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(loc && dq_str_starts(loc, f.base) && strstr(loc, "/annotations/"));
    DQ_CHECK_STR(etag, "\"v1\"");
    DQ_CHECK_STR(ct, "application/ld+json; profile=\"http://www.w3.org/ns/anno.jsonld\"");
    json_t *j = body_json(&r);
    DQ_CHECK_STR(jstr(j, "@context"), "http://www.w3.org/ns/anno.jsonld");
    DQ_CHECK_STR(jstr(j, "id"), loc);
    DQ_CHECK_STR(jstr(j, "type"), "Annotation");
    DQ_CHECK_STR(jstr(j, "motivation"), "commenting");
    json_t *body = json_object_get(j, "body");
    DQ_CHECK_INT(json_array_size(body), 2);
    DQ_CHECK_STR(jstr(json_array_get(body, 0), "type"), "TextualBody");
    DQ_CHECK_STR(jstr(json_array_get(body, 0), "value"), "一叶扁舟");
    DQ_CHECK_STR(jstr(json_array_get(body, 1), "format"), "text/plain");
    json_t *tg = json_object_get(j, "target");
    char *canvas1 = dq_xasprintf("%s/iiif/presentation/3/%s/canvas/1", f.base, f.relic);
    DQ_CHECK_STR(jstr(tg, "source"), canvas1);
    DQ_CHECK_STR(jstr(json_object_get(tg, "selector"), "value"), "xywh=100,50,200,100");
    DQ_CHECK_STR(jstr(json_object_get(j, "creator"), "nickname"), "cura");
    DQ_CHECK(jstr(j, "created") && jstr(j, "modified"));
    json_decref(j);
    dqt_resp_free(&r);
    const char *item = loc + strlen(f.base);
    /* read */
    DQ_REQUIRE(req(&f, "GET", item, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *link = dqt_header(&r, "Link"), *e2 = dqt_header(&r, "ETag");
    DQ_CHECK(link && strstr(link, "ldp#Resource"));
    DQ_CHECK_STR(e2, "\"v1\"");
    free(link);
    free(e2);
    dqt_resp_free(&r);
    /* replace: 428 without If-Match, 412 stale, 200 with v1 */
    char *a2 = w3c(&f, f.relic, 2, "0,0,300,200", "describing", NULL, "the whole leaf");
    DQ_CHECK_INT(status_of(&f, "PUT", item, f.cur_token, a2), 428);
    char *h = cat2(f.cur_token, "If-Match: \"v7\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", item, h, a2), 412);
    free(h);
    h = cat2(f.cur_token, "If-Match: \"v1\"\r\n");
    DQ_REQUIRE(req(&f, "PUT", item, h, a2, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    free(etag);
    etag = dqt_header(&r, "ETag");
    DQ_CHECK_STR(etag, "\"v2\"");
    dqt_resp_free(&r);
    /* a conservator may not change the curator's annotation, but may add and edit their own */
    char *ch = cat2(f.cons_token, "If-Match: \"v2\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", item, ch, a2), 403);
    free(ch);
    char *own = post_anno(&f, f.relic, a);
    ch = cat2(f.cons_token, "If-Match: \"v1\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", own + strlen(f.base), ch, a2), 403); /* curator's */
    free(ch);
    dqt_resp_t rc;
    DQ_REQUIRE(req(&f, "POST", cont, f.cons_token, a, &rc) == 0);
    DQ_CHECK_INT(rc.status, 201);
    char *cons_loc = dqt_header(&rc, "Location");
    dqt_resp_free(&rc);
    ch = cat2(f.cons_token, "If-Match: \"v1\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", cons_loc + strlen(f.base), ch, a2), 200);
    free(ch);
    /* validation: beyond the canvas, unknown canvas, another relic's canvas, bad body */
    char *bad = w3c(&f, f.relic, 2, "200,0,101,10", "commenting", "x", NULL);
    DQ_REQUIRE(req(&f, "POST", cont, f.cur_token, bad, &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    j = body_json(&r);
    DQ_CHECK(json_object_get(json_object_get(json_object_get(j, "error"), "fields"), "target"));
    json_decref(j);
    dqt_resp_free(&r);
    free(bad);
    bad = w3c(&f, f.hidden, 1, "0,0,1,1", "commenting", "x", NULL);
    DQ_CHECK_INT(status_of(&f, "POST", cont, f.cur_token, bad), 422);
    free(bad);
    bad = w3c(&f, f.relic, 1, "0,0,1,1", "painting", "x", NULL);
    DQ_CHECK_INT(status_of(&f, "POST", cont, f.cur_token, bad), 422);
    free(bad);
    DQ_CHECK_INT(status_of(&f, "POST", cont, f.cur_token, "{\"body\":"), 400);
    /* the short target form and a tag */
    char *tag =
        dq_xasprintf("{\"motivation\":\"tagging\",\"body\":{\"type\":\"TextualBody\","
                     "\"value\":\"船\",\"language\":\"zh\"},\"target\":\"%s#xywh=1,2,3,4\"}",
                     canvas1);
    DQ_REQUIRE(req(&f, "POST", cont, f.cur_token, tag, &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    j = body_json(&r);
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(j, "body"), 0), "purpose"), "tagging");
    json_decref(j);
    dqt_resp_free(&r);
    free(tag);
    /* delete: 428, 412, 204, then 404 */
    DQ_CHECK_INT(status_of(&f, "DELETE", item, f.cur_token, NULL), 428);
    DQ_CHECK_INT(status_of(&f, "DELETE", item, h, NULL), 412);
    free(h);
    h = cat2(f.cur_token, "If-Match: \"v2\"\r\n");
    DQ_CHECK_INT(status_of(&f, "DELETE", item, h, NULL), 204);
    DQ_CHECK_INT(status_of(&f, "GET", item, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/relics/nope/annotations/1", NULL, NULL), 404);
    free(h);
    free(own);
    free(cons_loc);
    free(a2);
    free(canvas1);
    free(loc);
    free(etag);
    free(ct);
    free(viewer);
    free(cur_nocsrf);
    free(a);
    free(cont);
    teardown(&f);
}

DQ_TEST(container_paging_and_prefer)
{
    fx_t f;
    setup(&f);
    char *cont = path_of("/api/relics/%s/annotations/", f.relic);
    char *a = w3c(&f, f.relic, 1, "1,1,10,10", "commenting", NULL, "note");
    for (int i = 0; i < 101; i++)
        free(post_anno(&f, f.relic, a));
    char *b = w3c(&f, f.relic, 2, "1,1,10,10", "commenting", NULL, "note two");
    free(post_anno(&f, f.relic, b));
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", cont, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *link = dqt_header(&r, "Link"), *allow = dqt_header(&r, "Allow"),
         *ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(link && strstr(link, "<http://www.w3.org/ns/ldp#BasicContainer>; rel=\"type\""));
    DQ_CHECK(allow && strstr(allow, "POST") && strstr(allow, "GET"));
    DQ_CHECK(ct && strstr(ct, "application/ld+json") && strstr(ct, "anno.jsonld"));
    json_t *j = body_json(&r);
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(j, "@context"), 0)),
                 "http://www.w3.org/ns/anno.jsonld");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(j, "type"), 0)),
                 "BasicContainer");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(j, "type"), 1)),
                 "AnnotationCollection");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 102);
    json_t *first = json_object_get(j, "first");
    DQ_CHECK_STR(jstr(first, "type"), "AnnotationPage");
    DQ_CHECK_INT(json_array_size(json_object_get(first, "items")), 100);
    DQ_CHECK(jstr(first, "next") && strstr(jstr(first, "next"), "page=1"));
    DQ_CHECK(jstr(j, "last") && strstr(jstr(j, "last"), "page=1"));
    json_decref(j);
    dqt_resp_free(&r);
    /* page 1 alone: partOf with total, prev, 2 items, no next */
    char *p1 = dq_xasprintf("%s?page=1", cont);
    DQ_REQUIRE(req(&f, "GET", p1, NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_STR(jstr(j, "type"), "AnnotationPage");
    DQ_CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "partOf"), "total")), 102);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "startIndex")), 100);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 2);
    DQ_CHECK(jstr(j, "prev") && !json_object_get(j, "next"));
    json_decref(j);
    dqt_resp_free(&r);
    char *p2 = dq_xasprintf("%s?page=2", cont);
    DQ_CHECK_INT(status_of(&f, "GET", p2, NULL, NULL), 404);
    /* one canvas */
    char *pc = dq_xasprintf("%s?canvas=2", cont);
    DQ_REQUIRE(req(&f, "GET", pc, NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);
    dqt_resp_free(&r);
    /* Prefer contained IRIs: ids only */
    DQ_REQUIRE(req(&f, "GET", cont,
                   "Prefer: return=representation;include=\"http://www.w3.org/ns/"
                   "oa#PreferContainedIRIs\"\r\n",
                   NULL, &r) == 0);
    j = body_json(&r);
    json_t *it0 = json_array_get(json_object_get(json_object_get(j, "first"), "items"), 0);
    DQ_CHECK(json_is_string(it0) && strstr(json_string_value(it0), "/annotations/"));
    json_decref(j);
    dqt_resp_free(&r);
    /* restricted relic: anonymous 404, viewer 200 */
    char *hc = path_of("/api/relics/%s/annotations/", f.hidden);
    DQ_CHECK_INT(status_of(&f, "GET", hc, NULL, NULL), 404);
    char *viewer = login(&f, "vier", "vierpass1", 1);
    DQ_CHECK_INT(status_of(&f, "GET", hc, viewer, NULL), 200);
    free(viewer);
    free(hc);
    free(pc);
    free(p1);
    free(p2);
    free(link);
    free(allow);
    free(ct);
    free(a);
    free(b);
    free(cont);
    teardown(&f);
}

/* ---------------------------------------------------------------- IIIF */

DQ_TEST(iiif_pages_and_content_search)
{
    fx_t f;
    setup(&f);
    char *boat = w3c(&f, f.relic, 1, "100,50,200,100", "commenting", "一叶扁舟，船在桥下",
                     "a small boat moored under the bridge");
    char *id1 = post_anno(&f, f.relic, boat);
    char *tag = w3c(&f, f.relic, 2, "0,0,30,20", "tagging", "船", NULL);
    char *id2 = post_anno(&f, f.relic, tag);
    char *other = w3c(&f, f.relic, 1, "0,0,5,5", "identifying", "虹桥", "Rainbow Bridge");
    free(post_anno(&f, f.relic, other));
    /* the manifest references a page per canvas and the search service */
    char *mp = path_of("/iiif/presentation/3/%s/manifest", f.relic);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", mp, NULL, NULL, &r) == 0);
    DQ_REQUIRE(r.status == 200);
    json_t *m = body_json(&r);
    json_t *items = json_object_get(m, "items");
    DQ_CHECK_INT(json_array_size(items), 2);
    char *page1 = dq_xasprintf("%s/iiif/presentation/3/%s/annotations/1", f.base, f.relic);
    json_t *ref = json_array_get(json_object_get(json_array_get(items, 0), "annotations"), 0);
    DQ_CHECK_STR(jstr(ref, "id"), page1);
    DQ_CHECK_STR(jstr(ref, "type"), "AnnotationPage");
    json_t *svc = json_object_get(m, "service");
    int found = 0;
    size_t i;
    json_t *s;
    json_array_foreach(svc, i, s) found |= jstr(s, "type") &&
                                           strcmp(jstr(s, "type"), "SearchService2") == 0 &&
                                           strstr(jstr(s, "id"), "/iiif/search/2/");
    DQ_CHECK(found);
    const char *canvas1 = jstr(json_array_get(items, 0), "id");
    dqt_resp_free(&r); /* m keeps what is still needed */
    /* the page resolves and holds the canvas's annotations in the Presentation 3.0 form */
    DQ_REQUIRE(req(&f, "GET", page1 + strlen(f.base), NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *pg = body_json(&r);
    DQ_CHECK_STR(jstr(pg, "@context"), "http://iiif.io/api/presentation/3/context.json");
    DQ_CHECK_STR(jstr(pg, "id"), page1);
    DQ_CHECK_STR(jstr(pg, "type"), "AnnotationPage");
    DQ_CHECK_INT(json_array_size(json_object_get(pg, "items")), 2);
    json_t *an = json_array_get(json_object_get(pg, "items"), 0);
    DQ_CHECK_STR(jstr(an, "type"), "Annotation");
    DQ_CHECK_STR(jstr(an, "id"), id1);
    char *t1 = dq_xasprintf("%s#xywh=100,50,200,100", canvas1);
    DQ_CHECK_STR(jstr(an, "target"), t1);
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(an, "body"), 0), "language"), "zh");
    json_decref(pg);
    dqt_resp_free(&r);
    char *page3 = path_of("/iiif/presentation/3/%s/annotations/3", f.relic);
    DQ_CHECK_INT(status_of(&f, "GET", page3, NULL, NULL), 404);
    /* Content Search 2.0 */
    char *sq = dq_xasprintf("/iiif/search/2/%s?q=boat&date=2020", f.relic);
    DQ_REQUIRE(req(&f, "GET", sq, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *res = body_json(&r);
    DQ_CHECK_STR(jstr(res, "@context"), "http://iiif.io/api/search/2/context.json");
    DQ_CHECK_STR(jstr(res, "type"), "AnnotationPage");
    DQ_CHECK(jstr(res, "id") && strstr(jstr(res, "id"), "q=boat"));
    DQ_CHECK_INT(json_array_size(json_object_get(res, "items")), 1);
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(res, "items"), 0), "id"), id1);
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(res, "items"), 0), "target"), t1);
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(res, "ignored"), 0)), "date");
    json_t *hits = json_object_get(json_array_get(json_object_get(res, "annotations"), 0), "items");
    json_t *hit = json_array_get(hits, 0);
    DQ_CHECK_STR(jstr(hit, "motivation"), "highlighting");
    DQ_CHECK_STR(jstr(json_object_get(hit, "target"), "source"), id1);
    json_t *sel = json_array_get(json_object_get(json_object_get(hit, "target"), "selector"), 0);
    DQ_CHECK_STR(jstr(sel, "type"), "TextQuoteSelector");
    DQ_CHECK_STR(jstr(sel, "exact"), "boat");
    DQ_CHECK_STR(jstr(sel, "prefix"), "a small ");
    json_decref(res);
    dqt_resp_free(&r);
    /* 船 (percent-encoded), pinyin, motivation filter, user filter */
    char *q2 = dq_xasprintf("/iiif/search/2/%s?q=%%E8%%88%%B9", f.relic);
    DQ_REQUIRE(req(&f, "GET", q2, NULL, NULL, &r) == 0);
    res = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(res, "items")), 2);
    DQ_CHECK(!json_object_get(res, "ignored"));
    json_decref(res);
    dqt_resp_free(&r);
    char *q3 = dq_xasprintf("/iiif/search/2/%s?q=chuan&motivation=tagging", f.relic);
    DQ_REQUIRE(req(&f, "GET", q3, NULL, NULL, &r) == 0);
    res = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(res, "items")), 1);
    DQ_CHECK_STR(jstr(json_array_get(json_object_get(res, "items"), 0), "id"), id2);
    json_decref(res);
    dqt_resp_free(&r);
    char *q4 = dq_xasprintf("/iiif/search/2/%s?q=hongqiao&user=nobody", f.relic);
    DQ_REQUIRE(req(&f, "GET", q4, NULL, NULL, &r) == 0);
    res = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(res, "items")), 0);
    json_decref(res);
    dqt_resp_free(&r);
    char *q5 = dq_xasprintf("/iiif/search/2/%s", f.relic);
    DQ_CHECK_INT(status_of(&f, "GET", q5, NULL, NULL), 400);
    /* restricted: anonymous gets 404 for the page, the search and the manifest */
    char *hs = dq_xasprintf("/iiif/search/2/%s?q=boat", f.hidden);
    DQ_CHECK_INT(status_of(&f, "GET", hs, NULL, NULL), 404);
    char *hp = path_of("/iiif/presentation/3/%s/annotations/1", f.hidden);
    DQ_CHECK_INT(status_of(&f, "GET", hp, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", hp, f.cur_token, NULL), 200);
    free(hs);
    free(hp);
    free(q2);
    free(q3);
    free(q4);
    free(q5);
    free(sq);
    free(page3);
    free(t1);
    free(page1);
    json_decref(m);
    free(mp);
    free(boat);
    free(tag);
    free(other);
    free(id1);
    free(id2);
    teardown(&f);
}

/* ---------------------------------------------------------------- content state */

/* docs/api.md's rule, written independently of the server's: encodeURIComponent, then
 * base64url without padding. */
static char *cs_encode(const char *json)
{
    dq_buf_t u = {0}, out = {0};
    for (const unsigned char *p = (const unsigned char *)json; *p; p++)
        if (isalnum(*p) || strchr("-_.!~*'()", *p))
            dq_buf_putc(&u, (char)*p);
        else
            dq_buf_printf(&u, "%%%02X", *p);
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned bits = 0, acc = 0;
    for (size_t i = 0; i < u.len; i++) {
        acc = (acc << 8) | (unsigned char)u.data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            dq_buf_putc(&out, al[(acc >> bits) & 63]);
        }
    }
    if (bits)
        dq_buf_putc(&out, al[(acc << (6 - bits)) & 63]);
    dq_buf_free(&u);
    return dq_buf_steal(&out, NULL);
}

DQ_TEST(content_state_round_trip)
{
    fx_t f;
    setup(&f);
    char *cs = dq_xasprintf(
        "{\"@context\":\"http://iiif.io/api/presentation/3/context.json\",\"id\":\"%s/cs/1\","
        "\"type\":\"Annotation\",\"motivation\":[\"contentState\"],\"label\":{\"zh\":"
        "[\"虹桥下的船\"]},\"target\":{\"id\":\"%s/iiif/presentation/3/%s/canvas/1#xywh=10,20,"
        "300,200\",\"type\":\"Canvas\",\"partOf\":[{\"id\":\"%s/iiif/presentation/3/%s/"
        "manifest\",\"type\":\"Manifest\"}]}}",
        f.base, f.base, f.relic, f.base, f.relic);
    char *enc = cs_encode(cs);
    DQ_CHECK(!strchr(enc, '=') && !strchr(enc, '+') && !strchr(enc, '/'));
    char *p = dq_xasprintf("/api/content-state?iiif-content=%s", enc);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", p, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    DQ_CHECK_STR(jstr(j, "relic_id"), f.relic);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "canvas")), 1);
    DQ_CHECK_INT(json_integer_value(json_array_get(json_object_get(j, "xywh"), 3)), 200);
    json_t *label = json_object_get(json_object_get(j, "content_state"), "label");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(label, "zh"), 0)), "虹桥下的船");
    json_decref(j);
    dqt_resp_free(&r);
    /* the server's own encoding (a tour stop's content_state) decodes to the same stop */
    const char *tour =
        "{\"title\":{\"zh\":\"江上\",\"en\":\"On the river\"},\"public\":true,\"stops\":["
        "{\"canvas\":2,\"xywh\":[5,6,70,80],\"text\":{\"zh\":\"第一站\"},\"zoom\":3},"
        "{\"canvas\":1,\"xywh\":[1,2,3,4],\"text\":{\"en\":\"second\"}}]}";
    char *tp = path_of("/api/relics/%s/tours", f.relic);
    DQ_REQUIRE(req(&f, "POST", tp, f.cur_token, tour, &r) == 0);
    DQ_REQUIRE(r.status == 201);
    j = body_json(&r);
    const char *enc0 = json_string_value(json_array_get(json_object_get(j, "content_state"), 0));
    DQ_REQUIRE(enc0);
    char *p2 = dq_xasprintf("/api/content-state?iiif-content=%s", enc0);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "GET", p2, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "canvas")), 2);
    DQ_CHECK_INT(json_integer_value(json_array_get(json_object_get(j, "xywh"), 2)), 70);
    json_t *st = json_object_get(j, "content_state");
    DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(st, "motivation"), 0)),
                 "contentState");
    DQ_CHECK_STR(
        jstr(json_array_get(json_object_get(json_object_get(st, "target"), "partOf"), 0), "type"),
        "Manifest");
    json_decref(j);
    dqt_resp_free(&r);
    /* errors: bad base64, not a region, canvas the relic lacks, hidden relic */
    DQ_CHECK_INT(status_of(&f, "GET", "/api/content-state?iiif-content=%25%25", NULL, NULL), 400);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/content-state", NULL, NULL), 400);
    char *e1 = cs_encode("{\"type\":\"Annotation\",\"motivation\":\"painting\",\"target\":\"x\"}");
    char *p3 = dq_xasprintf("/api/content-state?iiif-content=%s", e1);
    DQ_CHECK_INT(status_of(&f, "GET", p3, NULL, NULL), 422);
    char *raw9 = dq_xasprintf("%s/iiif/presentation/3/%s/canvas/9#xywh=0,0,1,1", f.base, f.relic);
    char *e2 = cs_encode(raw9);
    char *p4 = dq_xasprintf("/api/content-state?iiif-content=%s", e2);
    DQ_CHECK_INT(status_of(&f, "GET", p4, NULL, NULL), 422);
    char *rawh = dq_xasprintf("%s/iiif/presentation/3/%s/canvas/1#xywh=0,0,1,1", f.base, f.hidden);
    char *e3 = cs_encode(rawh);
    char *p5 = dq_xasprintf("/api/content-state?iiif-content=%s", e3);
    DQ_CHECK_INT(status_of(&f, "GET", p5, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", p5, f.cur_token, NULL), 200);
    free(rawh);
    free(e3);
    free(p5);
    free(raw9);
    free(e2);
    free(p4);
    free(e1);
    free(p3);
    free(p2);
    free(tp);
    free(p);
    free(enc);
    free(cs);
    teardown(&f);
}

/* ---------------------------------------------------------------- tours */

DQ_TEST(tours_crud_and_play_order)
{
    fx_t f;
    setup(&f);
    const char *tour = "{\"title\":{\"zh\":\"汴河上的船\"},\"public\":true,\"stops\":["
                       "{\"canvas\":1,\"xywh\":[900,0,300,400],\"text\":{\"zh\":\"甲\"}},"
                       "{\"canvas\":2,\"xywh\":[0,0,10,10],\"text\":{\"zh\":\"乙\"},\"zoom\":2},"
                       "{\"canvas\":1,\"xywh\":[0,0,10,10],\"text\":{\"zh\":\"丙\"}}]}";
    char *tp = path_of("/api/relics/%s/tours", f.relic);
    DQ_CHECK_INT(status_of(&f, "POST", tp, NULL, tour), 401);
    /* a viewer may not author tours (educators and above may: issue 17) */
    char *viewer = login(&f, "vier", "vierpass1", 1);
    DQ_CHECK_INT(status_of(&f, "POST", tp, viewer, tour), 403);
    free(viewer);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "POST", tp, f.cur_token, tour, &r) == 0);
    DQ_REQUIRE(r.status == 201);
    char *loc = dqt_header(&r, "Location"), *etag = dqt_header(&r, "ETag");
    DQ_CHECK(loc && dq_str_starts(loc, "/api/tours/t"));
    DQ_CHECK_STR(etag, "\"v1\"");
    dqt_resp_free(&r);
    /* anyone plays it, in order */
    DQ_REQUIRE(req(&f, "GET", loc, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    json_t *stops = json_object_get(j, "stops");
    DQ_CHECK_INT(json_array_size(stops), 3);
    const char *want[] = {"甲", "乙", "丙"};
    for (size_t i = 0; i < 3; i++)
        DQ_CHECK_STR(jstr(json_object_get(json_array_get(stops, i), "text"), "zh"), want[i]);
    DQ_CHECK(json_number_value(json_object_get(json_array_get(stops, 1), "zoom")) == 2.0);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "content_state")), 3);
    DQ_CHECK_STR(jstr(j, "author"), "cura");
    json_decref(j);
    dqt_resp_free(&r);
    /* list */
    DQ_REQUIRE(req(&f, "GET", tp, NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 1);
    DQ_CHECK_INT(json_integer_value(
                     json_object_get(json_array_get(json_object_get(j, "items"), 0), "n_stops")),
                 3);
    json_decref(j);
    dqt_resp_free(&r);
    /* replace: 428, 412, 200; reversed order stays reversed; private hides it */
    const char *rev = "{\"title\":{\"en\":\"Reversed\"},\"public\":false,\"stops\":["
                      "{\"canvas\":1,\"xywh\":[0,0,10,10],\"text\":{\"zh\":\"丙\"}},"
                      "{\"canvas\":1,\"xywh\":[900,0,300,400],\"text\":{\"zh\":\"甲\"}}]}";
    DQ_CHECK_INT(status_of(&f, "PUT", loc, f.cur_token, rev), 428);
    char *h = cat2(f.cur_token, "If-Match: \"v3\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", loc, h, rev), 412);
    free(h);
    h = cat2(f.cur_token, "If-Match: \"v1\"\r\n");
    DQ_REQUIRE(req(&f, "PUT", loc, h, rev, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    DQ_CHECK_STR(
        jstr(json_object_get(json_array_get(json_object_get(j, "stops"), 0), "text"), "zh"), "丙");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 2);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", loc, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", loc, f.cur_token, NULL), 200);
    /* 422 with fields */
    DQ_REQUIRE(req(&f, "POST", tp, f.cur_token,
                   "{\"title\":{\"en\":\"x\"},\"stops\":[{\"canvas\":2,\"xywh\":[0,0,301,1]}]}",
                   &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    j = body_json(&r);
    DQ_CHECK(
        json_object_get(json_object_get(json_object_get(j, "error"), "fields"), "stops[0].xywh"));
    json_decref(j);
    dqt_resp_free(&r);
    /* delete */
    char *h2 = cat2(f.cur_token, "If-Match: \"v2\"\r\n");
    /* a conservator passes the role gate (educator and above author tours) but this private
     * tour is not theirs: as absent as to anyone else */
    char *h3 = cat2(f.cons_token, "If-Match: \"v2\"\r\n");
    DQ_CHECK_INT(status_of(&f, "DELETE", loc, h3, NULL), 404);
    free(h3);
    DQ_CHECK_INT(status_of(&f, "DELETE", loc, f.cur_token, NULL), 428);
    DQ_CHECK_INT(status_of(&f, "DELETE", loc, h2, NULL), 204);
    DQ_CHECK_INT(status_of(&f, "GET", loc, f.cur_token, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/tours/zz", NULL, NULL), 404);
    free(h2);
    free(h);
    free(loc);
    free(etag);
    free(tp);
    teardown(&f);
}

/* ---------------------------------------------------------------- lessons, glossary (issue 17) */

/* A lesson step on a condition record over HTTP: the educator names records by date, the
 * anonymous learner gets the published record's photograph and summary, and of the unpublished
 * one nothing at all. */
DQ_TEST(lesson_condition_step_http)
{
    fx_t f;
    setup(&f);
    DQ_REQUIRE(dqt_sh("%s --data %s user add eddie --role educator --password eddiepass1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), f.data) == 0);
    char *ed = token_of(&f, "eddie");
    char *recs = dq_xasprintf("/api/relics/%s/condition", f.relic);
    DQ_CHECK_INT(status_of(&f, "POST", recs, f.cons_token,
                           "{\"date\":\"2016-05-17\",\"examiner\":\"Wang Li\",\"overall\":\"fair\","
                           "\"published\":true,\"images\":[\"scroll-a\"],\"note\":\"old losses\"}"),
                 201);
    DQ_CHECK_INT(status_of(&f, "POST", recs, f.cons_token,
                           "{\"date\":\"2026-04-09\",\"examiner\":\"Li Na\",\"overall\":\"poor\","
                           "\"images\":[\"scroll-b\"],\"note\":\"not for learners yet\"}"),
                 201);
    char *lesson = dq_xasprintf(
        "{\"title\":{\"en\":\"Then and now\"},\"public\":true,\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"2016-05-17\"},"
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"condition_date\":\"2026\"}]}",
        f.relic, f.relic);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "POST", "/api/lessons", ed, lesson, &r) == 0);
    DQ_REQUIRE(r.status == 201);
    char *loc = dqt_header(&r, "Location");
    json_t *j = body_json(&r);
    json_t *s1 = json_array_get(json_object_get(j, "steps"), 1);
    DQ_CHECK_STR(jstr(s1, "condition_date"), "2026-04-09");
    DQ_CHECK_STR(jstr(json_object_get(s1, "condition_record"), "image"), "scroll-b");
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "GET", loc, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    json_t *rec = json_object_get(json_array_get(json_object_get(j, "steps"), 0),
                                  "condition_record");
    DQ_CHECK_STR(jstr(rec, "image"), "scroll-a");
    DQ_CHECK_STR(jstr(rec, "overall"), "fair");
    DQ_CHECK_STR(jstr(rec, "note"), "old losses");
    DQ_CHECK(strstr(r.body.data, "2026-04-09") == NULL && strstr(r.body.data, "scroll-b") == NULL &&
             strstr(r.body.data, "not for learners") == NULL);
    json_decref(j);
    dqt_resp_free(&r);
    /* a date with no record is a field error */
    char *bad = dq_xasprintf("{\"title\":{\"en\":\"x\"},\"steps\":[{\"kind\":\"view\","
                             "\"relic_id\":\"%s\",\"condition_date\":\"1999-01-01\"}]}",
                             f.relic);
    DQ_REQUIRE(req(&f, "POST", "/api/lessons", ed, bad, &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    j = body_json(&r);
    DQ_CHECK(json_object_get(json_object_get(json_object_get(j, "error"), "fields"),
                             "steps[0].condition_date"));
    json_decref(j);
    dqt_resp_free(&r);
    free(bad);
    free(loc);
    free(lesson);
    free(recs);
    free(ed);
    teardown(&f);
}


DQ_TEST(lessons_and_glossary_http)
{
    fx_t f;
    setup(&f);
    DQ_REQUIRE(dqt_sh("%s --data %s user add eddie --role educator --password eddiepass1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), f.data) == 0);
    char *ed = token_of(&f, "eddie");
    char *lesson = dq_xasprintf(
        "{\"title\":{\"zh\":\"看船\",\"en\":\"Boats\"},\"public\":true,\"steps\":["
        "{\"kind\":\"view\",\"relic_id\":\"%s\",\"canvas\":1,\"xywh\":[100,50,200,100],"
        " \"question\":{\"type\":\"find\",\"prompt\":{\"en\":\"Find the boat\"},"
        " \"target\":{\"xywh\":[120,60,40,30]}}},"
        "{\"kind\":\"compare\",\"a\":{\"relic_id\":\"%s\",\"canvas\":1,\"xywh\":[0,0,10,10]},"
        " \"b\":{\"relic_id\":\"%s\",\"canvas\":2,\"xywh\":[0,0,10,10]}}]}",
        f.relic, f.relic, f.relic);
    /* who may write: anonymous 401, viewer 403, educator 201 */
    DQ_CHECK_INT(status_of(&f, "POST", "/api/lessons", NULL, lesson), 401);
    char *viewer = login(&f, "vier", "vierpass1", 1);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/lessons", viewer, lesson), 403);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "POST", "/api/lessons", ed, lesson, &r) == 0);
    DQ_REQUIRE(r.status == 201);
    char *loc = dqt_header(&r, "Location"), *etag = dqt_header(&r, "ETag");
    DQ_CHECK(loc && dq_str_starts(loc, "/api/lessons/l"));
    DQ_CHECK_STR(etag, "\"v1\"");
    json_t *j = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "content_state")), 2);
    json_decref(j);
    dqt_resp_free(&r);
    /* a learner reads it without the answer, and checks a point on the server */
    DQ_REQUIRE(req(&f, "GET", loc, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "[120,60,40,30]") == NULL);
    dqt_resp_free(&r);
    char *check = dq_xasprintf("%s/check", loc);
    DQ_REQUIRE(req(&f, "POST", check, NULL, "{\"step\":0,\"point\":[130,70]}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    DQ_CHECK(json_is_true(json_object_get(j, "correct")));
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", check, NULL, "{\"step\":1,\"point\":[1,1]}"), 404);
    DQ_CHECK_INT(status_of(&f, "POST", check, NULL, "{\"point\":[1,1]}"), 400);
    /* lists, replace with If-Match, 422 with fields, delete */
    DQ_REQUIRE(req(&f, "GET", "/api/lessons", NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "PUT", loc, ed, lesson), 428);
    char *h = cat2(ed, "If-Match: \"v1\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", loc, h, lesson), 200);
    DQ_CHECK_INT(status_of(&f, "PUT", loc, h, lesson), 412);
    DQ_REQUIRE(req(&f, "POST", "/api/lessons", ed,
                   "{\"title\":{\"en\":\"x\"},\"steps\":[{\"kind\":\"view\","
                   "\"relic_id\":\"nope\"}]}",
                   &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    j = body_json(&r);
    DQ_CHECK(json_object_get(json_object_get(json_object_get(j, "error"), "fields"),
                             "steps[0].relic_id"));
    json_decref(j);
    dqt_resp_free(&r);
    char *h2 = cat2(ed, "If-Match: \"v2\"\r\n");
    DQ_CHECK_INT(status_of(&f, "DELETE", loc, f.cons_token, NULL), 428);
    DQ_CHECK_INT(status_of(&f, "DELETE", loc, h2, NULL), 204);
    DQ_CHECK_INT(status_of(&f, "GET", loc, NULL, NULL), 404);
    /* glossary: educators create, anyone searches and reads with examples */
    const char *entry = "{\"key\":\"boat\",\"category\":\"motif\",\"term\":{\"zh\":\"舟\","
                        "\"en\":\"boat\"},\"definition\":{\"en\":\"A small boat.\"}}";
    DQ_CHECK_INT(status_of(&f, "POST", "/api/glossary", viewer, entry), 403);
    DQ_REQUIRE(req(&f, "POST", "/api/glossary", ed, entry, &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    char *gl = dqt_header(&r, "Location");
    DQ_CHECK_STR(gl, "/api/glossary/boat");
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/glossary", ed, entry), 409);
    DQ_REQUIRE(req(&f, "GET", "/api/glossary?q=%E8%88%9F", NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/glossary?limit=0", NULL, NULL), 400);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/glossary/nope", NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", gl, NULL, NULL), 200);
    free(gl);
    free(h2);
    free(h);
    free(check);
    free(loc);
    free(etag);
    free(viewer);
    free(lesson);
    free(ed);
    teardown(&f);
}
