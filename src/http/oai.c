/*
 * oai.c (http): the OAI-PMH 2.0 repository at /oai. GET with query arguments or POST with an
 * application/x-www-form-urlencoded body (§3.1.1.1, §3.1.1.2); every answer is 200 text/xml,
 * errors included (§3.6). Records are the public relics (a harvester is anonymous, and a
 * restricted relic is not published) in oai_dc or LIDO 1.0, with sets per dynasty and per
 * object type, from/until on the record's datestamp (its last change, or its deletion),
 * deleted records kept for ever (deletedRecord "persistent") and stateless resumption tokens
 * (lod/oai.c). It reads the catalog through dq_catalog_net_* and writes nothing.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lod/lod.h"

/* Records per ListRecords page and headers per ListIdentifiers page: a page of records is
 * about 300 KB of LIDO, which a harvester fetches in well under a second. */
#define RECORDS_PAGE 100
#define IDENTIFIERS_PAGE 500
/* A form body is a handful of short arguments. */
#define OAI_MAX_BODY 8192

typedef struct {
    dq_api_t c;
    dq_lod_ctx_t ctx;
    char *base;
    dq_buf_t dyn, type, subj;
    dq_buf_t out;
    char now[32];
} oai_t;

static void now_utc(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- the request text */

static void add_arg(void *ud, const char *key, const char *value)
{
    dq_buf_t *q = ud;
    if (q->len)
        dq_buf_putc(q, '&');
    dq_buf_puts(q, key);
    if (value) {
        dq_buf_putc(q, '=');
        dq_buf_puts(q, value);
    }
}

size_t dq_http_oai_body_limit(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    (void)srv;
    const char *ct = req->header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        dq_http_resp_error(resp, 415, "OAI-PMH POST needs application/x-www-form-urlencoded");
        return 0;
    }
    return OAI_MAX_BODY;
}

/* ---------------------------------------------------------------- verbs */

static void identify(oai_t *o)
{
    char earliest[32] = "";
    dq_err_t err = {0};
    if (dq_catalog_net_earliest(o->c.srv->catalog, earliest, &err) < 0 || !earliest[0])
        snprintf(earliest, sizeof(earliest), "%s", o->now);
    /* adminEmail is required (§4.2); the server knows no mailbox, so it names the
     * conventional one at its own host (an address under .invalid when the host has no
     * domain, which the schema's pattern also needs). */
    const char *h = strstr(o->base, "://");
    h = h ? h + 3 : o->base;
    size_t hn = strcspn(h, ":/");
    int has_dot = memchr(h, '.', hn) != NULL;
    dq_buf_puts(&o->out, "<Identify><repositoryName>danqing</repositoryName><baseURL>");
    dq_lod_xml_text(&o->out, o->base, strlen(o->base));
    dq_buf_puts(&o->out, "/oai</baseURL><protocolVersion>2.0</protocolVersion><adminEmail>"
                         "webmaster@");
    dq_lod_xml_text(&o->out, h, hn);
    dq_buf_printf(&o->out,
                  "%s</adminEmail><earliestDatestamp>%s</earliestDatestamp>"
                  "<deletedRecord>persistent</deletedRecord>"
                  "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>\n",
                  has_dot ? "" : ".invalid", earliest);
}

/* GetRecord and ListMetadataFormats: the record an identifier names, if visible. */
typedef struct {
    oai_t *o;
    int prefix;  /* 0: only check it exists */
    int found;
    int failed;
} one_t;

static void record(oai_t *o, const dq_net_record_t *rec, int prefix, int headers_only,
                   int *failed)
{
    if (!headers_only)
        dq_buf_puts(&o->out, "<record>");
    dq_oai_header(&o->out, o->base, rec->id, rec->datestamp, rec->dynasty, rec->object_type,
                  rec->deleted);
    if (!headers_only && !rec->deleted) {
        dq_err_t err = {0};
        if (dq_oai_metadata(&o->out, prefix, rec->doc, rec->doc_len, &o->ctx, &err) < 0) {
            dq_log(DQ_LOG_ERROR, "oai", "record %s: %s", rec->id, err.msg);
            *failed = 1;
        }
    }
    if (!headers_only)
        dq_buf_puts(&o->out, "</record>");
    dq_buf_putc(&o->out, '\n');
}

static int one_cb(void *ud, const dq_net_record_t *rec)
{
    one_t *w = ud;
    w->found = 1;
    if (w->prefix) {
        dq_buf_puts(&w->o->out, "<GetRecord>");
        record(w->o, rec, w->prefix, 0, &w->failed);
        dq_buf_puts(&w->o->out, "</GetRecord>\n");
    }
    return 1;
}

/* Looks the record up; answers idDoesNotExist itself. 0 found, -1 answered. */
static int one_record(oai_t *o, const dq_oai_req_t *r, int prefix)
{
    char id[128];
    dq_err_t err = {0};
    one_t w = {.o = o, .prefix = prefix};
    if (dq_oai_identifier_parse(o->base, r->identifier, id, sizeof(id)) == 0) {
        dq_net_query_t q = {.id = id, .limit = 1, .with_docs = prefix != 0};
        if (dq_catalog_net_records(o->c.srv->catalog, &q, &o->c.actor, one_cb, &w, &err) < 0) {
            dq_api_error_err(o->c.resp, &err);
            return -2;
        }
    }
    if (!w.found) {
        dq_oai_error(&o->out, DQ_OAI_ID_DOES_NOT_EXIST, "no such record in this repository");
        return -1;
    }
    return 0;
}

/* ListIdentifiers and ListRecords. */
typedef struct {
    oai_t *o;
    int prefix, headers_only, page;
    int n;
    char last[DQ_OAI_KEY_MAX];
    int more, failed;
} list_t;

static int list_cb(void *ud, const dq_net_record_t *rec)
{
    list_t *l = ud;
    if (l->n == l->page) { /* the one past the page: there is more */
        l->more = 1;
        return 1;
    }
    record(l->o, rec, l->prefix, l->headers_only, &l->failed);
    snprintf(l->last, sizeof(l->last), "%s", rec->id);
    l->n++;
    return 0;
}

/* 1 when key is a key of the vocabulary array text. */
static int vocab_has(const char *vocab_json, const char *key)
{
    const char *p = vocab_json;
    size_t n = strlen(key);
    while (p && (p = strstr(p, "\"key\":\""))) {
        p += 7;
        if (strncmp(p, key, n) == 0 && p[n] == '"')
            return 1;
    }
    return 0;
}

/* -1 with the answer written (an error), -2 with an HTTP error answered, 0 written. */
static int list(oai_t *o, const dq_oai_req_t *r)
{
    int ids = r->verb == DQ_OAI_LIST_IDENTIFIERS;
    list_t l = {.o = o, .prefix = r->prefix, .headers_only = ids,
                .page = ids ? IDENTIFIERS_PAGE : RECORDS_PAGE};
    dq_net_query_t q = {
        .from = r->from[0] ? r->from : NULL,
        .until = r->until[0] ? r->until : NULL,
        .after = r->resumed ? r->after : NULL,
        .limit = l.page + 1,
        .with_docs = !ids,
    };
    int no_set = r->set_kind < 0;
    switch (r->set_kind) {
    case DQ_OAI_SET_DYNASTY_ALL:
        q.dynasty = "";
        break;
    case DQ_OAI_SET_DYNASTY:
        q.dynasty = r->set_key;
        no_set = !vocab_has(o->ctx.dynasties_json, r->set_key);
        break;
    case DQ_OAI_SET_TYPE_ALL:
        q.object_type = "";
        break;
    case DQ_OAI_SET_TYPE:
        q.object_type = r->set_key;
        no_set = !vocab_has(o->ctx.object_types_json, r->set_key);
        break;
    }
    if (no_set) {
        dq_oai_error(&o->out, DQ_OAI_NO_RECORDS_MATCH, "no such set in this repository");
        return -1;
    }
    dq_buf_t body = o->out; /* records go after the verb's opening tag */
    memset(&o->out, 0, sizeof(o->out));
    dq_err_t err = {0};
    int rc = dq_catalog_net_records(o->c.srv->catalog, &q, &o->c.actor, list_cb, &l, &err);
    dq_buf_t recs = o->out;
    o->out = body;
    if (rc < 0) {
        dq_buf_free(&recs);
        dq_api_error_err(o->c.resp, &err);
        return -2;
    }
    if (l.n == 0 && !r->resumed) {
        dq_buf_free(&recs);
        dq_oai_error(&o->out, DQ_OAI_NO_RECORDS_MATCH, "no records match the request");
        return -1;
    }
    const char *tag = ids ? "ListIdentifiers" : "ListRecords";
    dq_buf_printf(&o->out, "<%s>\n", tag);
    dq_buf_append(&o->out, recs.data, recs.len);
    dq_buf_free(&recs);
    /* §3.5: a token for more; an empty one ends a list that used tokens. */
    int64_t sent = r->cursor + l.n;
    if (l.more) {
        dq_buf_printf(&o->out, "<resumptionToken cursor=\"%lld\">", (long long)r->cursor);
        dq_oai_token(r, l.last, sent, &o->out);
        dq_buf_puts(&o->out, "</resumptionToken>\n");
    } else if (r->resumed) {
        dq_buf_printf(&o->out, "<resumptionToken completeListSize=\"%lld\" cursor=\"%lld\"/>\n",
                      (long long)sent, (long long)r->cursor);
    }
    dq_buf_printf(&o->out, "</%s>\n", tag);
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

void dq_http_oai(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    oai_t o = {.c = {.srv = srv, .req = req, .resp = resp}};
    dq_buf_t query = {0};
    dq_err_t err = {0};
    /* Harvesters are anonymous; a signed-in curator sees no more here than anyone, so that an
     * aggregator never receives a restricted record through a shared token. */
    o.c.actor.role = DQ_ROLE_ANON;
    if (req->method == DQ_HTTP_POST)
        dq_buf_append(&query, req->body ? req->body : "", req->body_len);
    else if (req->args)
        req->args(req, add_arg, &query);
    o.base = dq_api_base_url(&o.c);
    if (dq_catalog_vocab(srv->catalog, "dynasties", &o.dyn, &err) < 0)
        dq_buf_reset(&o.dyn);
    if (dq_catalog_vocab(srv->catalog, "object_types", &o.type, &err) < 0)
        dq_buf_reset(&o.type);
    if (dq_catalog_vocab(srv->catalog, "subjects", &o.subj, &err) < 0)
        dq_buf_reset(&o.subj);
    o.ctx = (dq_lod_ctx_t){.base_url = o.base, .dynasties_json = o.dyn.data,
                           .object_types_json = o.type.data, .subjects_json = o.subj.data};
    now_utc(o.now);

    dq_oai_req_t r;
    char msg[256];
    int code = dq_oai_parse(query.data ? query.data : "", query.len, &r, msg, sizeof(msg));
    dq_buf_t head = {0};
    int rc = 0;
    if (code != DQ_OAI_OK) {
        dq_oai_error(&o.out, code, msg);
        rc = -1;
    } else {
        switch (r.verb) {
        case DQ_OAI_IDENTIFY:
            identify(&o);
            break;
        case DQ_OAI_LIST_METADATA_FORMATS:
            rc = r.identifier[0] ? one_record(&o, &r, 0) : 0;
            if (rc == 0)
                dq_oai_formats(&o.out);
            break;
        case DQ_OAI_LIST_SETS:
            dq_oai_sets(&o.out, &o.ctx);
            break;
        case DQ_OAI_GET_RECORD:
            rc = one_record(&o, &r, r.prefix);
            break;
        default:
            rc = list(&o, &r);
            break;
        }
    }
    if (rc == -2) /* the catalog failed: an HTTP error is already answered */
        goto out;
    /* Error answers echo only what §3.2 allows: the envelope knows which. */
    dq_oai_open(&head, o.base, o.now, &r, code);
    dq_buf_append(&head, o.out.data, o.out.len);
    dq_oai_close(&head);
    resp->status = 200;
    resp->content_type = "text/xml; charset=utf-8";
    dq_buf_free(&resp->body);
    resp->body = head;
    memset(&head, 0, sizeof(head));
    dq_http_resp_header(resp, "Cache-Control", "no-cache");
out:
    dq_buf_free(&head);
    dq_buf_free(&query);
    dq_buf_free(&o.out);
    dq_buf_free(&o.dyn);
    dq_buf_free(&o.type);
    dq_buf_free(&o.subj);
    free(o.base);
}
