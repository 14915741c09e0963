/*
 * test_network.c: the research-platform endpoints of issue 16 on the real binary over
 * loopback: OAI-PMH 2.0 at /oai (every verb, each §3.6 error, resumption tokens walked to the
 * end of a list of 250 records, sets, from/until, a deleted record and a restricted one,
 * POST), Linked Art by content negotiation and at its stable path (profile media type,
 * CORS preflight, rel="describedby" from the relic page, restricted relics hidden) and IIIF
 * Change Discovery (Create/Update/Delete in order, newest last, paging bounds). The harvest
 * by a third-party client and the schema checks are in tests/scripts/test_oai_harvest.sh
 * and tests/scripts/test_linkedart.py.
 */
#include <jansson.h>
#include <vips/vips.h>

#include "../dq_http_test.h"

#define N_RELICS 250

typedef struct {
    char *dir, *data, *web;
    dqt_server_t srv;
    char auth[160]; /* "Authorization: Bearer ...\r\n" of a curator */
} fx_t;

static const char *const dynasties[] = {"song", "tang", "ming", "qing", "yuan"};

static void setup(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    f->web = dq_xasprintf("%s/web", f->dir);
    DQ_REQUIRE(dqt_sh("mkdir -p %s", f->web) == 0);
    char *idx = dq_xasprintf("%s/index.html", f->web);
    FILE *w = fopen(idx, "w");
    DQ_REQUIRE(w);
    fputs("<!doctype html><html><head><title>app</title></head><body></body></html>\n", w);
    fclose(w);
    free(idx);
    /* One small image for the first relic. */
    char *png = dq_xasprintf("%s/m.png", f->dir);
    VipsImage *im = NULL;
    DQ_REQUIRE(vips_black(&im, 64, 48, "bands", 3, NULL) == 0);
    DQ_REQUIRE(vips_pngsave(im, png, NULL) == 0);
    g_object_unref(im);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id img-1 --data %s >/dev/null 2>&1", dqt_bin(), png,
                      f->data) == 0);
    free(png);
    /* 250 records: dynasties in turn, every third a handscroll, r-0007 restricted, all but
     * r-0011 showing the one image (so they have Manifests). */
    char *jl = dq_xasprintf("%s/r.jsonl", f->dir);
    FILE *o = fopen(jl, "w");
    DQ_REQUIRE(o);
    for (int i = 1; i <= N_RELICS; i++)
        fprintf(o,
                "{\"id\":\"r-%04d\",\"accession\":\"ACC-%04d\",\"title\":{\"zh\":\"山水%d\","
                "\"en\":\"Landscape <%d> & co\"},\"creators\":[{\"name\":{\"zh\":\"画家%d\","
                "\"en\":\"Painter %d\"},\"dates\":\"1100-1160\"}],\"dynasty\":\"%s\","
                "\"object_type\":\"%s\",\"year_from\":1100,\"year_to\":1125%s%s%s}\n",
                i, i, i, i, i % 7, i % 7, dynasties[i % 5],
                i % 3 == 0 ? "handscroll" : "hanging_scroll",
                i == 7 ? ",\"restricted\":true" : "",
                i != 11 ? ",\"images\":[{\"image_id\":\"img-1\"}]" : "",
                i == 2 ? ",\"references\":[{\"text\":\"Cahill, {Index} 50% & more\","
                         "\"doi\":\"10.1000/abc\"}]" : "");
    fclose(o);
    DQ_REQUIRE(dqt_sh("%s --data %s import %s >/dev/null 2>&1", dqt_bin(), f->data, jl) == 0);
    free(jl);
    DQ_REQUIRE(dqt_sh("%s --data %s user add cura --role curator --password curapass1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), f->data) == 0);
    char *cmd = dq_xasprintf("%s --data %s user token cura 2>/dev/null", dqt_bin(), f->data);
    FILE *p = popen(cmd, "r");
    char tok[128] = "";
    DQ_REQUIRE(p && fgets(tok, sizeof(tok), p));
    pclose(p);
    free(cmd);
    tok[strcspn(tok, "\r\n")] = '\0';
    snprintf(f->auth, sizeof(f->auth), "Authorization: Bearer %s\r\n", tok);
    char *extra = dq_xasprintf("--web %s", f->web);
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, extra) == 0);
    free(extra);
}

static void teardown(fx_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dq_test_rm_rf(f->dir);
    free(f->dir);
    free(f->data);
    free(f->web);
    vips_shutdown();
}

/* GET path; returns the body (new string) and the status in *status. */
static char *get(fx_t *f, const char *path, const char *headers, int *status)
{
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f->srv.port, "GET", path, headers, &r) == 0);
    *status = r.status;
    char *b = dq_xstrdup(r.body.data ? r.body.data : "");
    dqt_resp_free(&r);
    return b;
}

/* The code of the OAI error in body, or "" (static buffer per call site is fine here). */
static int has_error(const char *body, const char *code)
{
    char want[80];
    snprintf(want, sizeof(want), "<error code=\"%s\">", code);
    return strstr(body, want) != NULL;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The text of the resumptionToken element, or NULL when there is none or it is empty. */
static char *token_of(const char *body)
{
    const char *p = strstr(body, "<resumptionToken");
    if (!p)
        return NULL;
    p = strchr(p, '>');
    if (!p || p[-1] == '/')
        return NULL;
    const char *e = strstr(p, "</resumptionToken>");
    return e && e > p + 1 ? dq_xstrndup(p + 1, (size_t)(e - p - 1)) : NULL;
}

/* Walks a list to its end; returns how many headers (and deleted ones) it saw, in pages. */
static int walk(fx_t *f, const char *verb, const char *first_args, int *pages, int *deleted,
                char **last_body)
{
    char *path = dq_xasprintf("/oai?verb=%s&%s", verb, first_args);
    int total = 0, st;
    *pages = 0;
    if (deleted)
        *deleted = 0;
    for (;;) {
        char *b = get(f, path, NULL, &st);
        DQ_CHECK_INT(st, 200);
        free(path);
        (*pages)++;
        total += count(b, "<header");
        if (deleted)
            *deleted += count(b, "<header status=\"deleted\">");
        char *t = token_of(b);
        if (!t || *pages > 50) {
            if (last_body)
                *last_body = b;
            else
                free(b);
            free(t);
            return total;
        }
        free(b);
        path = dq_xasprintf("/oai?verb=%s&resumptionToken=%s", verb, t);
        free(t);
    }
}

static int delete_relic(fx_t *f, const char *id)
{
    char path[64], h[256];
    snprintf(path, sizeof(path), "/api/relics/%s", id);
    snprintf(h, sizeof(h), "%sIf-Match: *\r\n", f->auth);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f->srv.port, "DELETE", path, h, &r) == 0);
    int s = r.status;
    dqt_resp_free(&r);
    return s;
}

DQ_TEST(oai_verbs_lists_and_errors)
{
    fx_t f;
    setup(&f);
    int st;
    char *b = get(&f, "/oai?verb=Identify", NULL, &st);
    DQ_CHECK_INT(st, 200);
    DQ_CHECK(strstr(b, "<protocolVersion>2.0</protocolVersion>") != NULL);
    DQ_CHECK(strstr(b, "<deletedRecord>persistent</deletedRecord>") != NULL);
    DQ_CHECK(strstr(b, "<earliestDatestamp>20") != NULL);
    free(b);
    b = get(&f, "/oai?verb=ListMetadataFormats", NULL, &st);
    DQ_CHECK(strstr(b, "<metadataPrefix>lido</metadataPrefix>") &&
             strstr(b, "<metadataPrefix>oai_dc</metadataPrefix>"));
    free(b);
    b = get(&f, "/oai?verb=ListSets", NULL, &st);
    DQ_CHECK(strstr(b, "<setSpec>dynasty:song</setSpec>") &&
             strstr(b, "<setSpec>type:handscroll</setSpec>"));
    free(b);

    /* Whole lists, by tokens: 249 public records (r-0007 is restricted). */
    int pages, del;
    char *last = NULL;
    DQ_CHECK_INT(walk(&f, "ListRecords", "metadataPrefix=lido", &pages, &del, &last), 249);
    DQ_CHECK_INT(pages, 3); /* 100 + 100 + 49 */
    DQ_CHECK(strstr(last, "completeListSize=\"249\"") != NULL);
    DQ_CHECK(strstr(last, "oai:127.0.0.1:r-0250") != NULL);
    free(last);
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc", &pages, NULL, NULL), 249);
    DQ_CHECK_INT(pages, 1);
    /* Sets: song is i % 5 == 0 (50 records); handscrolls every third (83, none restricted). */
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc&set=dynasty:song", &pages,
                      NULL, NULL),
                 50);
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc&set=type:handscroll",
                      &pages, NULL, NULL),
                 83);
    b = get(&f, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&set=dynasty:atlantis", NULL,
            &st);
    DQ_CHECK(has_error(b, "noRecordsMatch"));
    free(b);
    /* Dates: everything is from today; a future from, and an until before it, match none. */
    b = get(&f, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&from=2999-01-01", NULL, &st);
    DQ_CHECK(has_error(b, "noRecordsMatch"));
    free(b);
    b = get(&f, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&until=2000-01-01", NULL, &st);
    DQ_CHECK(has_error(b, "noRecordsMatch"));
    free(b);
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc&from=2000-01-01&until=2999-"
                      "12-31",
                      &pages, NULL, NULL),
                 249);

    /* GetRecord: Dublin Core with escaped text; the restricted record does not exist. */
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:r-0001",
            NULL, &st);
    DQ_CHECK(strstr(b, "<dc:title xml:lang=\"en\">Landscape &lt;1&gt; &amp; co</dc:title>"));
    DQ_CHECK(strstr(b, "<dc:identifier>ACC-0001</dc:identifier>"));
    free(b);
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:r-0007",
            NULL, &st);
    DQ_CHECK(has_error(b, "idDoesNotExist"));
    free(b);
    b = get(&f, "/oai?verb=ListMetadataFormats&identifier=oai:127.0.0.1:nope", NULL, &st);
    DQ_CHECK(has_error(b, "idDoesNotExist"));
    free(b);

    /* A deletion leaves a deleted record, with its sets, for ever. */
    DQ_CHECK_INT(delete_relic(&f, "r-0005"), 204);
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc", &pages, &del, NULL), 249);
    DQ_CHECK_INT(del, 1);
    DQ_CHECK_INT(walk(&f, "ListIdentifiers", "metadataPrefix=oai_dc&set=dynasty:song", &pages,
                      &del, NULL),
                 50);
    DQ_CHECK_INT(del, 1);
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=lido&identifier=oai:127.0.0.1:r-0005", NULL,
            &st);
    DQ_CHECK(strstr(b, "<record><header status=\"deleted\">") && !strstr(b, "<metadata>"));
    free(b);

    /* Errors of §3.6, each answered 200 with its code. */
    static const char *const bad[][2] = {
        {"/oai", "badVerb"},
        {"/oai?verb=Nope", "badVerb"},
        {"/oai?verb=Identify&verb=Identify", "badVerb"},
        {"/oai?verb=Identify&extra=1", "badArgument"},
        {"/oai?verb=ListRecords", "badArgument"},
        {"/oai?verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2019-01-01",
         "badArgument"},
        {"/oai?verb=ListRecords&metadataPrefix=marcxml", "cannotDisseminateFormat"},
        {"/oai?verb=ListRecords&resumptionToken=deadbeef", "badResumptionToken"},
        {"/oai?verb=ListSets&resumptionToken=31", "badResumptionToken"},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        b = get(&f, bad[i][0], NULL, &st);
        DQ_CHECK_INT(st, 200);
        if (!has_error(b, bad[i][1]))
            fprintf(stderr, "    %s -> %.300s\n", bad[i][0], b);
        DQ_CHECK(has_error(b, bad[i][1]));
        free(b);
    }

    /* POST with a form body (§3.1.1.2), and a POST that is not a form. */
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http_body(f.srv.port, "POST", "/oai",
                             "Content-Type: application/x-www-form-urlencoded\r\n",
                             "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai%3A127.0.0.1%3A"
                             "r-0002",
                             &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "<dc:identifier>ACC-0002</dc:identifier>") != NULL);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "POST", "/oai", "Content-Type: application/json\r\n",
                             "{}", &r) == 0);
    DQ_CHECK_INT(r.status, 415);
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(linked_art_protocol)
{
    fx_t f;
    setup(&f);
    const char *la = "Accept: application/ld+json;profile=\"https://linked.art/ns/v1/"
                     "linked-art.json\"\r\n";
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/api/relics/r-0001", la, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(ct && strstr(ct, "application/ld+json") && strstr(ct, "linked-art.json"));
    free(ct);
    json_t *j = json_loads(r.body.data, 0, NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(j, "type")), "HumanMadeObject");
    const char *id = json_string_value(json_object_get(j, "id"));
    DQ_CHECK(id && dq_str_starts(id, "http://127.0.0.1:") &&
             strstr(id, "/linked-art/object/r-0001"));
    json_decref(j);
    dqt_resp_free(&r);
    /* Without the profile: the API's own JSON. */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/api/relics/r-0001", NULL, &r) == 0);
    ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(ct && strcmp(ct, "application/json") == 0);
    free(ct);
    dqt_resp_free(&r);
    /* The stable path gives the same document. */
    int st;
    char *a = get(&f, "/linked-art/object/r-0001", NULL, &st);
    DQ_CHECK_INT(st, 200);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/api/relics/r-0001", la, &r) == 0);
    DQ_CHECK_STR(a, r.body.data);
    dqt_resp_free(&r);
    free(a);
    /* Person and digital object. */
    a = get(&f, "/linked-art/person/%E7%94%BB%E5%AE%B63", NULL, &st); /* 画家3 */
    DQ_CHECK_INT(st, 200);
    DQ_CHECK(strstr(a, "\"type\":\"Person\"") && strstr(a, "Painter 3"));
    free(a);
    a = get(&f, "/linked-art/digital/img-1", NULL, &st);
    DQ_CHECK_INT(st, 200);
    DQ_CHECK(strstr(a, "\"type\":\"DigitalObject\"") && strstr(a, "/iiif/3/img-1"));
    free(a);
    /* Restricted and unknown: 404 for the anonymous caller, 200 for the curator. */
    a = get(&f, "/linked-art/object/r-0007", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(a);
    a = get(&f, "/linked-art/object/r-0007", f.auth, &st);
    DQ_CHECK_INT(st, 200);
    free(a);
    a = get(&f, "/linked-art/object/nope", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(a);
    a = get(&f, "/linked-art/thing/r-0001", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(a);
    /* CORS: every answer allows any origin; the preflight names GET. */
    DQ_REQUIRE(dqt_http(f.srv.port, "OPTIONS", "/linked-art/object/r-0001",
                        "Origin: http://other.example\r\nAccess-Control-Request-Method: GET\r\n",
                        &r) == 0);
    DQ_CHECK_INT(r.status, 204);
    char *m = dqt_header(&r, "Access-Control-Allow-Methods");
    DQ_CHECK(m && strstr(m, "GET"));
    free(m);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/linked-art/object/r-0001", NULL, &r) == 0);
    char *o = dqt_header(&r, "Access-Control-Allow-Origin");
    DQ_CHECK(o && strcmp(o, "*") == 0);
    free(o);
    dqt_resp_free(&r);
    /* The relic's HTML page names its Linked Art document. */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/relic/r-0001", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *link = dqt_header(&r, "Link");
    DQ_CHECK(link && strstr(link, "/linked-art/object/r-0001>") &&
             strstr(link, "rel=\"describedby\""));
    free(link);
    dqt_resp_free(&r);
    teardown(&f);
}

/* The orderedItems of the newest Change Discovery page (new reference). */
static json_t *last_page_items(fx_t *f, const char *headers)
{
    int st;
    char *b = get(f, "/iiif/discovery/changes/page/0", headers, &st);
    DQ_CHECK_INT(st, 200);
    json_t *p = json_loads(b, 0, NULL);
    free(b);
    DQ_REQUIRE(p);
    json_t *items = json_incref(json_object_get(p, "orderedItems"));
    json_decref(p);
    return items;
}

/* The text of the first <datestamp> of body (static buffer). */
static const char *datestamp_of(const char *body)
{
    static char out[32];
    const char *p = strstr(body, "<datestamp>");
    out[0] = '\0';
    if (p)
        sscanf(p + 11, "%31[^<]", out);
    return out;
}

/* A public relic made restricted is, to anonymous harvesters, a deleted record (OAI-PMH) and
 * a Delete (Change Discovery) at the time of the restriction; curators still read it; public
 * again, it is a live record once more (and its history shows as it is). r-0007, always restricted, never appears. */
static void withdrawn_relic(fx_t *f)
{
    char h[256];
    snprintf(h, sizeof(h), "%sIf-Match: *\r\nContent-Type: application/merge-patch+json\r\n",
             f->auth);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http_body(f->srv.port, "PATCH", "/api/relics/r-0004", h,
                             "{\"restricted\":true}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    char *w_at = dq_xstrdup(json_string_value(json_object_get(doc, "updated_at")));
    json_decref(doc);
    dqt_resp_free(&r);
    int st;
    const char *one = "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:r-0004";
    char *b = get(f, one, NULL, &st);
    DQ_CHECK(strstr(b, "<header status=\"deleted\">") && !strstr(b, "<metadata>"));
    DQ_CHECK_STR(datestamp_of(b), w_at);
    DQ_CHECK(strstr(b, "<setSpec>dynasty:") != NULL); /* the set it was in while public */
    free(b);
    /* The HTTP endpoints are public (anonymous for everyone); a curator still reads it. */
    char ah[200];
    snprintf(ah, sizeof(ah), "%s", f->auth);
    b = get(f, "/api/relics/r-0004", ah, &st);
    DQ_CHECK_INT(st, 200);
    free(b);
    /* Its Linked Art URI is gone (410), as is a deleted relic's; r-0007 (never public) is 404. */
    b = get(f, "/linked-art/object/r-0004", NULL, &st);
    DQ_CHECK_INT(st, 410);
    free(b);
    b = get(f, "/linked-art/object/r-0003", NULL, &st);
    DQ_CHECK_INT(st, 410);
    free(b);
    b = get(f, "/linked-art/object/r-0007", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(b);
    /* A from= harvest at the restriction's second sees it as deleted; r-0007 never shows. */
    char *path = dq_xasprintf("/oai?verb=ListIdentifiers&metadataPrefix=oai_dc&from=%s", w_at);
    b = get(f, path, NULL, &st);
    free(path);
    DQ_CHECK(strstr(b, "<identifier>oai:127.0.0.1:r-0004</identifier>") != NULL);
    DQ_CHECK(strstr(b, "r-0007") == NULL);
    free(b);
    int pages, del;
    DQ_CHECK_INT(walk(f, "ListIdentifiers", "metadataPrefix=oai_dc", &pages, &del, NULL), 249);
    DQ_CHECK_INT(del, 2); /* r-0003 deleted, r-0004 withdrawn */
    /* Change Discovery: the restricting change is a Delete. */
    json_t *items = last_page_items(f, NULL);
    json_t *a = json_array_get(items, json_array_size(items) - 1);
    DQ_CHECK_STR(json_string_value(json_object_get(a, "type")), "Delete");
    DQ_CHECK(strstr(json_string_value(json_object_get(json_object_get(a, "object"), "id")),
                    "/r-0004/manifest") != NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(a, "endTime")), w_at);
    json_decref(items);
    /* Public again: a live record, datestamp no older than the restriction. */
    DQ_REQUIRE(dqt_http_body(f->srv.port, "PATCH", "/api/relics/r-0004", h,
                             "{\"restricted\":false}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    b = get(f, one, NULL, &st);
    DQ_CHECK(!strstr(b, "status=\"deleted\"") && strstr(b, "<metadata>"));
    DQ_CHECK(strcmp(datestamp_of(b), w_at) >= 0);
    free(b);
    b = get(f, "/linked-art/object/r-0004", NULL, &st);
    DQ_CHECK_INT(st, 200);
    free(b);
    items = last_page_items(f, NULL);
    a = json_array_get(items, json_array_size(items) - 1);
    DQ_CHECK_STR(json_string_value(json_object_get(a, "type")), "Update");
    json_decref(items);
    free(w_at);
}

DQ_TEST(change_discovery)
{
    fx_t f;
    setup(&f);
    DQ_CHECK_INT(delete_relic(&f, "r-0003"), 204);
    /* A patch is an Update. */
    char h[256];
    snprintf(h, sizeof(h), "%sIf-Match: *\r\nContent-Type: application/merge-patch+json\r\n",
             f.auth);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/r-0002", h,
                             "{\"date_text\":\"c. 1100\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    int st;
    char *b = get(&f, "/iiif/discovery/changes", NULL, &st);
    DQ_CHECK_INT(st, 200);
    json_t *c = json_loads(b, 0, NULL);
    free(b);
    DQ_CHECK_STR(json_string_value(json_object_get(c, "type")), "OrderedCollection");
    DQ_CHECK_INT(json_integer_value(json_object_get(c, "totalItems")), N_RELICS + 2);
    const char *last = json_string_value(json_object_get(json_object_get(c, "last"), "id"));
    DQ_REQUIRE(last && strstr(last, "/iiif/discovery/changes/page/0"));
    b = get(&f, strstr(last, "/iiif/"), NULL, &st);
    DQ_CHECK_INT(st, 200);
    json_t *p = json_loads(b, 0, NULL);
    free(b);
    json_t *items = json_object_get(p, "orderedItems");
    /* 250 creates minus the restricted one and the one without images (no Manifest), then
     * the delete and the update, newest last. */
    DQ_CHECK_INT((int)json_array_size(items), N_RELICS - 2 + 2);
    json_t *a0 = json_array_get(items, 0);
    DQ_CHECK_STR(json_string_value(json_object_get(a0, "type")), "Create");
    json_t *ad = json_array_get(items, json_array_size(items) - 2);
    json_t *au = json_array_get(items, json_array_size(items) - 1);
    DQ_CHECK_STR(json_string_value(json_object_get(ad, "type")), "Delete");
    DQ_CHECK(strstr(json_string_value(json_object_get(json_object_get(ad, "object"), "id")),
                    "/iiif/presentation/3/r-0003/manifest") != NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(au, "type")), "Update");
    DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(au, "object"), "type")),
                 "Manifest");
    /* endTime never decreases. */
    const char *prev = "";
    size_t i;
    json_t *it;
    int ordered = 1;
    json_array_foreach(items, i, it)
    {
        const char *t = json_string_value(json_object_get(it, "endTime"));
        ordered &= t && strcmp(t, prev) >= 0;
        prev = t ? t : prev;
        const char *oid = json_string_value(json_object_get(json_object_get(it, "object"), "id"));
        ordered &= strstr(oid, "/r-0007/") == NULL && strstr(oid, "/r-0011/") == NULL;
    }
    DQ_CHECK(ordered);
    json_decref(p);
    json_decref(c);
    b = get(&f, "/iiif/discovery/changes/page/1", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(b);
    b = get(&f, "/iiif/discovery/changes/page/x", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(b);
    withdrawn_relic(&f);
    teardown(&f);
}

DQ_TEST(citations_authorities_dumps)
{
    fx_t f;
    setup(&f);
    int st;
    /* Authority ids: validated, stored, searchable, exported. */
    char h[256];
    snprintf(h, sizeof(h), "%sIf-Match: *\r\nContent-Type: application/merge-patch+json\r\n",
             f.auth);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/r-0004", h,
                             "{\"creators\":[{\"name\":{\"en\":\"Guo Xi\"},"
                             "\"wikidata\":\"Q704682\",\"ulan\":\"500321870\"}]}",
                             &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/r-0004", h,
                             "{\"creators\":[{\"name\":{\"en\":\"Guo Xi\"},"
                             "\"wikidata\":\"704682\",\"ulan\":\"5003\"}]}",
                             &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    DQ_CHECK(strstr(r.body.data, "creators[0].wikidata") && strstr(r.body.data, "creators[0].ulan"));
    dqt_resp_free(&r);
    char *b = get(&f, "/api/relics?q=Q704682", NULL, &st);
    DQ_CHECK(strstr(b, "\"total\":1") && strstr(b, "r-0004"));
    free(b);
    /* Places with their Wikidata / TGN ids: validated, searchable, exported. */
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/r-0006", h,
                             "{\"places\":[{\"name\":{\"zh\":\"开封\",\"en\":\"Kaifeng\"},"
                             "\"role\":\"made\",\"wikidata\":\"Q197173\",\"tgn\":\"7001837\"}]}",
                             &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http_body(f.srv.port, "PATCH", "/api/relics/r-0006", h,
                             "{\"places\":[{\"name\":{\"en\":\"X\"},\"tgn\":\"70018\"}]}", &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    DQ_CHECK(strstr(r.body.data, "places[0].tgn") != NULL);
    dqt_resp_free(&r);
    b = get(&f, "/api/relics?q=7001837", NULL, &st);
    DQ_CHECK(strstr(b, "\"total\":1") && strstr(b, "r-0006"));
    free(b);
    b = get(&f, "/linked-art/object/r-0006", NULL, &st);
    DQ_CHECK(strstr(b, "\"took_place_at\"") && strstr(b, "/linked-art/object/r-0006#place-1") &&
             strstr(b, "http://www.wikidata.org/entity/Q197173") &&
             strstr(b, "http://vocab.getty.edu/tgn/7001837"));
    free(b);
    b = get(&f, "/linked-art/person/Guo%20Xi", NULL, &st);
    DQ_CHECK(strstr(b, "http://www.wikidata.org/entity/Q704682") &&
             strstr(b, "http://vocab.getty.edu/ulan/500321870"));
    free(b);
    /* Issue 16: places in OAI-PMH (oai_dc dc:coverage, LIDO eventPlace). */
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:r-0006", NULL,
            &st);
    DQ_CHECK(strstr(b, "<dc:coverage xml:lang=\"en\">Kaifeng</dc:coverage>") &&
             strstr(b, "<dc:coverage>http://vocab.getty.edu/tgn/7001837</dc:coverage>"));
    free(b);
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=lido&identifier=oai:127.0.0.1:r-0006", NULL,
            &st);
    DQ_CHECK(strstr(b, "<lido:eventPlace><lido:displayPlace>Kaifeng (made)</lido:displayPlace>") &&
             strstr(b, "<lido:placeID lido:type=\"URI\" lido:source=\"Wikidata\">"
                       "http://www.wikidata.org/entity/Q197173</lido:placeID>"));
    free(b);
    b = get(&f, "/oai?verb=GetRecord&metadataPrefix=lido&identifier=oai:127.0.0.1:r-0004", NULL,
            &st);
    DQ_CHECK(strstr(b, "<lido:actorID lido:type=\"URI\" lido:source=\"Wikidata\">"
                       "http://www.wikidata.org/entity/Q704682</lido:actorID>") != NULL);
    free(b);
    /* References: searchable, and in Dublin Core and Linked Art. */
    b = get(&f, "/api/relics?q=Cahill", NULL, &st);
    DQ_CHECK(strstr(b, "\"total\":1") && strstr(b, "r-0002"));
    free(b);
    b = get(&f, "/linked-art/object/r-0002", NULL, &st);
    DQ_CHECK(strstr(b, "Cahill, {Index} 50% & more doi:10.1000/abc") != NULL);
    free(b);

    /* Citations: BibTeX escapes its specials, RIS ends with ER, CSL is JSON. */
    b = get(&f, "/api/relics/r-0002/cite?format=bibtex", NULL, &st);
    DQ_CHECK_INT(st, 200);
    DQ_CHECK(strstr(b, "@misc{r-0002,") && strstr(b, "title = {Landscape <2> \\& co}") &&
             strstr(b, "author = {{Painter 2}}"));
    free(b);
    b = get(&f, "/api/relics/r-0002/cite?format=ris", NULL, &st);
    DQ_CHECK(strstr(b, "TY  - ART\r\n") && strstr(b, "AU  - Painter 2\r\n") &&
             strstr(b, "ER  - \r\n"));
    free(b);
    b = get(&f, "/api/relics/r-0002/cite?format=csl", NULL, &st);
    json_t *csl = json_loads(b, 0, NULL);
    DQ_CHECK_STR(json_string_value(json_object_get(json_array_get(csl, 0), "type")), "graphic");
    json_decref(csl);
    free(b);
    b = get(&f, "/api/relics/r-0002/cite?format=mla", NULL, &st);
    DQ_CHECK_INT(st, 400);
    free(b);
    b = get(&f, "/api/relics/r-0007/cite", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(b);
    /* Zotero's tags on the page of a public relic, none on a restricted one's. */
    b = get(&f, "/relic/r-0002", NULL, &st);
    DQ_CHECK(strstr(b, "<meta name=\"citation_title\" content=\"Landscape &lt;2&gt; &amp; co\">") &&
             strstr(b, "<link rel=\"schema.DC\""));
    free(b);
    b = get(&f, "/relic/r-0007", f.auth, &st);
    DQ_CHECK_INT(st, 200);
    DQ_CHECK(strstr(b, "citation_title") == NULL);
    free(b);

    /* Dumps: public records only, rebuilt after a change; the index names them. */
    b = get(&f, "/dumps/relics.jsonl", NULL, &st);
    DQ_CHECK_INT(st, 200);
    DQ_CHECK_INT(count(b, "\n"), N_RELICS - 1);
    DQ_CHECK(strstr(b, "r-0007") == NULL);
    free(b);
    b = get(&f, "/dumps/relics.csv", NULL, &st);
    DQ_CHECK_INT(count(b, "\r\n"), N_RELICS); /* header + 249 rows */
    DQ_CHECK(strstr(b, "\"Cahill, {Index} 50% & more\"") != NULL);
    DQ_CHECK(strstr(b, ",places,place_wikidata,place_tgn,") != NULL);
    DQ_CHECK(strstr(b, "\"开封 (Kaifeng) [made]\",\"Q197173\",\"7001837\"") != NULL);
    free(b);
    DQ_CHECK_INT(delete_relic(&f, "r-0010"), 204);
    b = get(&f, "/dumps/linked-art.jsonl", NULL, &st);
    DQ_CHECK_INT(count(b, "\n"), N_RELICS - 2);
    DQ_CHECK(strstr(b, "/linked-art/object/r-0010\"") == NULL);
    free(b);
    b = get(&f, "/dumps/nope.xml", NULL, &st);
    DQ_CHECK_INT(st, 404);
    free(b);
    dqt_resp_t ir;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/api", NULL, &ir) == 0);
    DQ_CHECK_INT(ir.status, 200);
    DQ_CHECK(strstr(ir.body.data, "/dumps/relics.csv") &&
             strstr(ir.body.data, "publicdomain/zero/1.0"));
    char *lic = dqt_header(&ir, "Link");
    DQ_CHECK(lic && strstr(lic, "rel=\"license\""));
    free(lic);
    dqt_resp_free(&ir);
    teardown(&f);
}
