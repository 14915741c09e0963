/*
 * cmd_harvest.c: `danqing harvest URL`: adds another institution's works as linked records
 * (docs/api.md "Harvesting"). URL is a IIIF Change Discovery 1.0 OrderedCollection (followed
 * from its last page back to what the previous run saw, so a second run fetches only what
 * changed), a IIIF Presentation 3.0 Collection (walked, nested collections and pages
 * included) or one Manifest. Each Manifest becomes a relic document that references it
 * (lod/harvest.c) and goes through the catalog's import, which inserts new records, updates
 * changed ones and leaves identical ones alone; a Delete activity deletes the linked record.
 * Per-source state (the newest activity time seen, and the objects seen at that second) is
 * a small JSON file under DATA/harvest/.
 *
 * An OAI-PMH 2.0 endpoint (recognised by its answer) is harvested with ListRecords in LIDO
 * when the repository offers it, else oai_dc (or --format), following resumption tokens; the
 * next run asks from= the previous complete run's responseDate (in the repository's
 * granularity), and a deleted record deletes its linked record. lod/oai_read.c maps each
 * record, keeping every source field it does not map in "remote.fields".
 */
#define _GNU_SOURCE
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lod/lod.h"
#include "net/net.h"

#define MAX_DOC (64u << 20)    /* one fetched document */
#define MAX_PAGES 100000       /* Change Discovery pages walked back in one run */
#define MAX_MANIFESTS 1000000  /* manifests gathered from one Collection */
#define MAX_DEPTH 8            /* nested Collections */

static void usage(FILE *f)
{
    fputs("usage: danqing harvest URL [--format oai_dc|lido]\n\n"
          "Adds another institution's works as linked records: their Manifests are referenced,\n"
          "not copied, and marked as remote (institution, source, licence). URL is a IIIF\n"
          "Change Discovery stream (incremental: a second run fetches only what changed), a\n"
          "IIIF Collection, one Manifest, or an OAI-PMH 2.0 endpoint (ListRecords in LIDO when\n"
          "offered, else oai_dc, or --format; incremental by from=; deleted records removed).\n",
          f);
}

typedef struct {
    dq_net_t *net;
    dq_catalog_t *cat;
    const char *source;
    dq_lod_ctx_t vocab;
    dq_buf_t jsonl;   /* documents to import */
    char **seen;      /* manifest URLs queued this run (dedupe) */
    size_t n_seen;
    int64_t fetched, failed, deleted;
} run_t;

static json_t *get_json(run_t *r, const char *url, dq_err_t *err)
{
    dq_buf_t b = {0};
    long status = 0;
    json_t *j = NULL;
    if (dq_net_get(r->net, url, "application/ld+json, application/json", &b, &status, NULL, 0,
                   err) < 0)
        goto out;
    if (status != 200) {
        dq_err_set(err, DQ_EIO, 502, "%.200s: HTTP %ld", url, status);
        goto out;
    }
    json_error_t je;
    j = json_loadb(b.data ? b.data : "", b.len, 0, &je);
    if (!j)
        dq_err_set(err, DQ_EINVAL, 422, "%.200s: not JSON (%s)", url, je.text);
out:
    dq_buf_free(&b);
    return j;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

/* The local id of a remote Manifest (as lod/harvest.c derives it). */
static void local_id(const char *manifest_url, char id[32])
{
    char hex[65];
    dq_sha256_buf(manifest_url, strlen(manifest_url), hex);
    snprintf(id, 32, "ext-%.16s", hex);
}

/* Fetches a Manifest and queues its document (once per run). */
static void manifest(run_t *r, const char *url)
{
    for (size_t i = 0; i < r->n_seen; i++)
        if (strcmp(r->seen[i], url) == 0)
            return;
    r->seen = dq_xrealloc(r->seen, (r->n_seen + 1) * sizeof(*r->seen));
    r->seen[r->n_seen++] = dq_xstrdup(url);
    dq_err_t err = {0};
    dq_buf_t b = {0};
    long status = 0;
    r->fetched++;
    if (dq_net_get(r->net, url, "application/ld+json, application/json", &b, &status, NULL, 0,
                   &err) == 0 &&
        (status == 404 || status == 410)) {
        /* Gone (or never had images): its linked record, if any, goes too. */
        char id[32];
        dq_err_t derr = {0};
        dq_actor_t who = {.user = "harvest", .role = DQ_ROLE_ADMIN};
        local_id(url, id);
        if (dq_catalog_relic_delete(r->cat, id, -1, &who, &derr) == 0)
            r->deleted++;
        dq_buf_free(&b);
        return;
    }
    if (err.msg[0] ||
        (status != 200 && dq_err_set(&err, DQ_EIO, 502, "%.200s: HTTP %ld", url, status) < 0) ||
        dq_lod_manifest_to_relic(b.data ? b.data : "", b.len, url, r->source, &r->vocab,
                                 &r->jsonl, &err) < 0) {
        fprintf(stderr, "danqing harvest: %s\n", err.msg);
        r->failed++;
    }
    dq_buf_free(&b);
}


/* ---------------------------------------------------------------- Collections */

static int collection_list(run_t *r, json_t *list, int depth, dq_err_t *err);

/* A Collection's members: 3.0 "items"; 2.1 "manifests", "collections" and "members" (with
 * "@id" and "@type" sc:Manifest / sc:Collection), which real aggregators still publish. */
static int collection(run_t *r, json_t *c, int depth, dq_err_t *err)
{
    static const char *const lists[] = {"items", "manifests", "collections", "members"};
    for (size_t li = 0; li < DQ_ARRAY_LEN(lists); li++) {
        if (collection_list(r, json_object_get(c, lists[li]), depth, err) < 0)
            return -1;
    }
    return 0;
}

static int collection_list(run_t *r, json_t *list, int depth, dq_err_t *err)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *t = jstr(it, "type") ? jstr(it, "type") : jstr(it, "@type");
        const char *id = jstr(it, "id") ? jstr(it, "id") : jstr(it, "@id");
        if (!t || !id)
            continue;
        if (strncmp(t, "sc:", 3) == 0)
            t += 3;
        if (strcmp(t, "Manifest") == 0) {
            if (r->n_seen >= MAX_MANIFESTS)
                return dq_err_set(err, DQ_ELIMIT, 0, "more than %d manifests", MAX_MANIFESTS);
            manifest(r, id);
        } else if (strcmp(t, "Collection") == 0) {
            if (depth >= MAX_DEPTH)
                return dq_err_set(err, DQ_ELIMIT, 0, "collections nested deeper than %d",
                                  MAX_DEPTH);
            json_t *sub = get_json(r, id, err);
            if (!sub)
                return -1;
            int rc = collection(r, sub, depth + 1, err);
            json_decref(sub);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- Change Discovery */

typedef struct {
    char *object, *kind, *end;
} act_t;

/* Walks from the last page back (prev) while pages hold activities at or after since;
 * returns them oldest first in *acts. */
static int discovery(run_t *r, json_t *coll, const char *since, act_t **acts, size_t *n,
                     char *newest, size_t newest_cap, dq_err_t *err)
{
    const char *last = jstr(json_object_get(coll, "last"), "id");
    if (!last)
        return dq_err_set(err, DQ_EINVAL, 422, "the OrderedCollection has no last page");
    char *url = dq_xstrdup(last);
    int pages = 0;
    newest[0] = '\0';
    while (url && pages++ < MAX_PAGES) {
        json_t *p = get_json(r, url, err);
        free(url);
        url = NULL;
        if (!p)
            return -1;
        json_t *items = json_object_get(p, "orderedItems");
        int older = 0;
        /* Newest last within a page: walk backwards, prepend to keep the order. */
        for (size_t i = json_array_size(items); i-- > 0;) {
            json_t *a = json_array_get(items, i);
            const char *end = jstr(a, "endTime"), *kind = jstr(a, "type");
            const char *obj = jstr(json_object_get(a, "object"), "id");
            const char *otype = jstr(json_object_get(a, "object"), "type");
            if (!end || !kind || !obj || (otype && strcmp(otype, "Manifest") != 0))
                continue;
            if (since && strcmp(end, since) < 0) {
                older = 1;
                continue;
            }
            if (strcmp(end, newest) > 0)
                snprintf(newest, newest_cap, "%s", end);
            *acts = dq_xrealloc(*acts, (*n + 1) * sizeof(**acts));
            memmove(*acts + 1, *acts, *n * sizeof(**acts));
            (*acts)[0] = (act_t){dq_xstrdup(obj), dq_xstrdup(kind), dq_xstrdup(end)};
            (*n)++;
        }
        const char *prev = jstr(json_object_get(p, "prev"), "id");
        if (prev && !older)
            url = dq_xstrdup(prev);
        json_decref(p);
    }
    free(url);
    return 0;
}

/* ---------------------------------------------------------------- OAI-PMH */

/* GETs url into b (replaced); 0 when the answer is 200. */
static int get_raw(run_t *r, const char *url, const char *accept, dq_buf_t *b, dq_err_t *err)
{
    long status = 0;
    dq_buf_reset(b);
    if (dq_net_get(r->net, url, accept, b, &status, NULL, 0, err) < 0)
        return -1;
    if (status != 200)
        return dq_err_set(err, DQ_EIO, 502, "%.200s: HTTP %ld", url, status);
    return 0;
}

/* One OAI-PMH request (base?query) read into *p. */
static int oai_get(run_t *r, const char *base, const char *query, const char *prefix,
                   dq_oai_page_t *p, dq_err_t *err)
{
    dq_buf_t b = {0};
    char *url = dq_xasprintf("%s?%s", base, query);
    int rc = get_raw(r, url, "text/xml, application/xml", &b, err);
    if (rc == 0)
        rc = dq_lod_oai_read(b.data ? b.data : "", b.len, base, prefix, &r->vocab, p, err);
    if (rc == 0 && p->error_code[0] && strcmp(p->error_code, "noRecordsMatch") != 0)
        rc = dq_err_set(err, DQ_EIO, 502, "%.200s: OAI-PMH error %s: %s", url, p->error_code,
                        p->error_msg);
    free(url);
    dq_buf_free(&b);
    return rc;
}

typedef struct {
    int64_t records, deleted_seen;
    char response_date[40];
    char prefix[16];
} oai_run_t;

/* Harvests the OAI-PMH endpoint base into r (documents to r->jsonl, deletions at once).
 * from: the previous run's responseDate, or NULL for everything. */
static int oai_harvest(run_t *r, const char *base, const char *want_prefix, const char *from,
                       oai_run_t *o, dq_err_t *err)
{
    dq_oai_page_t p = {0};
    int rc = -1;
    char gran[32] = "";
    if (oai_get(r, base, "verb=Identify", NULL, &p, err) < 0)
        goto out;
    snprintf(gran, sizeof(gran), "%s", p.granularity);
    dq_lod_oai_page_free(&p);
    if (oai_get(r, base, "verb=ListMetadataFormats", NULL, &p, err) < 0)
        goto out;
    int has_lido = 0, has_dc = 0;
    for (size_t i = 0; i < p.n_formats; i++) {
        has_lido |= strcmp(p.formats[i], "lido") == 0;
        has_dc |= strcmp(p.formats[i], "oai_dc") == 0;
    }
    dq_lod_oai_page_free(&p);
    if (want_prefix) {
        if (!(strcmp(want_prefix, "lido") == 0 ? has_lido : has_dc)) {
            dq_err_set(err, DQ_EINVAL, 0, "%s does not offer %s", base, want_prefix);
            goto out;
        }
        snprintf(o->prefix, sizeof(o->prefix), "%s", want_prefix);
    } else if (has_lido || has_dc) {
        snprintf(o->prefix, sizeof(o->prefix), "%s", has_lido ? "lido" : "oai_dc");
    } else {
        dq_err_set(err, DQ_EINVAL, 0, "%s offers neither lido nor oai_dc", base);
        goto out;
    }
    dq_buf_t q = {0};
    dq_buf_printf(&q, "verb=ListRecords&metadataPrefix=%s", o->prefix);
    if (from && from[0]) {
        /* In the repository's granularity: a day-granular one refuses seconds. */
        size_t n = strcmp(gran, "YYYY-MM-DD") == 0 ? 10 : strlen(from);
        dq_buf_puts(&q, "&from=");
        dq_buf_pct_encode(&q, from, n < strlen(from) ? n : strlen(from), DQ_PCT_RFC3986);
    }
    for (int page = 0; page < MAX_PAGES; page++) {
        int g = oai_get(r, base, q.data, o->prefix, &p, err);
        if (g < 0) {
            dq_buf_free(&q);
            goto out;
        }
        if (page == 0)
            snprintf(o->response_date, sizeof(o->response_date), "%s", p.response_date);
        for (size_t i = 0; i < p.n_recs; i++) {
            const dq_oai_rec_t *rec = &p.recs[i];
            o->records++;
            if (rec->deleted) {
                char id[32], acc[40];
                dq_err_t derr = {0};
                dq_actor_t who = {.user = "harvest", .role = DQ_ROLE_ADMIN};
                o->deleted_seen++;
                dq_lod_oai_local_id(base, rec->identifier, id, acc);
                if (dq_catalog_relic_delete(r->cat, id, -1, &who, &derr) == 0)
                    r->deleted++;
            } else if (rec->doc) {
                dq_buf_puts(&r->jsonl, rec->doc);
                dq_buf_putc(&r->jsonl, '\n');
            } else {
                fprintf(stderr, "danqing harvest: %s\n", rec->error ? rec->error : "?");
                r->failed++;
            }
        }
        dq_buf_reset(&q);
        if (!p.token) {
            dq_lod_oai_page_free(&p);
            break;
        }
        dq_buf_puts(&q, "verb=ListRecords&resumptionToken=");
        dq_buf_pct_encode(&q, p.token, strlen(p.token), DQ_PCT_RFC3986);
        dq_lod_oai_page_free(&p);
    }
    dq_buf_free(&q);
    rc = 0;
out:
    dq_lod_oai_page_free(&p);
    return rc;
}

/* 1 when body is an OAI-PMH answer (any verb, or the badVerb of a bare endpoint URL). */
static int is_oai(const dq_buf_t *b)
{
    return b->data && memmem(b->data, b->len, "http://www.openarchives.org/OAI/2.0/", 36) &&
           memmem(b->data, b->len, "OAI-PMH", 7);
}

/* ---------------------------------------------------------------- state */

static char *state_path(const dq_config_t *cfg, const char *url)
{
    char hex[65];
    dq_sha256_buf(url, strlen(url), hex);
    return dq_xasprintf("%s/harvest/%.24s.json", cfg->data_dir, hex);
}

/* Writes state (stolen) to spath atomically. */
static int write_state(const dq_config_t *cfg, const char *spath, json_t *state, dq_err_t *err)
{
    char *dir = dq_xasprintf("%s/harvest", cfg->data_dir);
    char *text = json_dumps(state, JSON_COMPACT);
    json_decref(state);
    int wr = dq_fs_mkdirs(dir, err) < 0 ? -1
             : dq_fs_write_atomic(spath, dir, text, strlen(text), err);
    free(dir);
    free(text);
    return wr;
}

int dq_cmd_harvest(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *want_prefix = NULL;
    if (argc == 4 && strcmp(argv[2], "--format") == 0 &&
        (strcmp(argv[3], "oai_dc") == 0 || strcmp(argv[3], "lido") == 0))
        want_prefix = argv[3];
    else if (argc != 2) {
        usage(stderr);
        return 2;
    }
    if (argv[1][0] == '-') {
        usage(stderr);
        return 2;
    }
    const char *url = argv[1];
    dq_err_t err = {0};
    run_t r = {.source = url};
    dq_buf_t dyn = {0}, types = {0}, subj = {0}, state = {0};
    json_t *top = NULL, *st = NULL;
    act_t *acts = NULL;
    size_t n_acts = 0;
    int rc = 1;
    char *spath = state_path(cfg, url);
    int64_t t0 = dq_now_us();
    dq_import_stats_t is = {0};
    dq_actor_t who = {.user = "harvest", .role = DQ_ROLE_ADMIN};
    char newest[40] = "";
    oai_run_t oai = {0};
    char *oai_base = NULL;
    /* Harvest imports through dq_catalog_import like `danqing import` (read-ahead on a second
     * thread): the same one arena, and the catalog --catalog names (not always DATA's). */
    dq_cli_import_arena();
    if (!(r.cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(r.net = dq_net_new(MAX_DOC, 120000, &err)))
        goto out;
    dq_catalog_vocab(r.cat, "dynasties", &dyn, &err);
    dq_catalog_vocab(r.cat, "object_types", &types, &err);
    dq_catalog_vocab(r.cat, "subjects", &subj, &err);
    r.vocab = (dq_lod_ctx_t){.dynasties_json = dyn.data, .object_types_json = types.data,
                             .subjects_json = subj.data};
    /* What URL is: a JSON document (IIIF), or an OAI-PMH endpoint (any of its answers). */
    {
        dq_buf_t b = {0};
        int g = get_raw(&r, url, "application/ld+json, application/json, text/xml;q=0.5", &b,
                        &err);
        if (g == 0 && is_oai(&b) && !(b.len && b.data[0] == '{')) {
            oai_base = dq_xstrndup(url, strcspn(url, "?"));
        } else if (g == 0) {
            json_error_t je;
            top = json_loadb(b.data ? b.data : "", b.len, 0, &je);
            if (!top)
                dq_err_set(&err, DQ_EINVAL, 422, "%.200s: neither JSON (%s) nor OAI-PMH", url,
                           je.text);
        }
        dq_buf_free(&b);
        if (!top && !oai_base)
            goto out;
    }
    if (!oai_base && want_prefix) {
        dq_err_set(&err, DQ_EINVAL, 0, "--format is for OAI-PMH sources");
        goto out;
    }
    const char *type = jstr(top, "type");
    if (!type && jstr(top, "@type")) /* Presentation 2.1: sc:Collection, sc:Manifest */
        type = strncmp(jstr(top, "@type"), "sc:", 3) == 0 ? jstr(top, "@type") + 3 : NULL;
    if (oai_base) {
        free(spath);
        spath = state_path(cfg, oai_base);
        const char *from = NULL;
        if (dq_fs_read_file(spath, MAX_DOC, &state, &err) == 0 &&
            (st = json_loadb(state.data, state.len, 0, NULL))) {
            /* A run in another format starts over: its records map differently. */
            const char *sf = jstr(st, "format");
            if (!want_prefix || (sf && strcmp(sf, want_prefix) == 0))
                from = jstr(st, "oai_from");
            if (from && !want_prefix && sf)
                want_prefix = sf;
        }
        dq_err_clear(&err);
        if (oai_harvest(&r, oai_base, want_prefix, from, &oai, &err) < 0)
            goto out;
        n_acts = 0;
    } else if (type && strcmp(type, "OrderedCollection") == 0) {
        /* The state holds every object seen at the newest second: an import of thousands
         * in one second makes it large, so it is read with the document limit. */
        const char *since = NULL;
        if (dq_fs_read_file(spath, MAX_DOC, &state, &err) == 0 &&
            (st = json_loadb(state.data, state.len, 0, NULL)))
            since = jstr(st, "newest");
        dq_err_clear(&err);
        if (discovery(&r, top, since, &acts, &n_acts, newest, sizeof(newest), &err) < 0)
            goto out;
        /* Activities at exactly the previous run's newest time were read then, unless they
         * arrived later in that same second: the state lists the ones it saw. */
        json_t *seen_at = json_object_get(st, "at_newest");
        /* Only the last activity of each object matters: a later Delete undoes a Create. */
        for (size_t i = 0; i < n_acts; i++) {
            int later = 0;
            for (size_t k = i + 1; k < n_acts && !later; k++)
                later = strcmp(acts[k].object, acts[i].object) == 0;
            if (later)
                continue;
            if (since && strcmp(acts[i].end, since) == 0) {
                size_t x;
                json_t *v;
                int old = 0;
                json_array_foreach(seen_at, x, v) old |=
                    json_is_string(v) && strcmp(json_string_value(v), acts[i].object) == 0;
                if (old)
                    continue;
            }
            if (strcmp(acts[i].kind, "Delete") == 0) {
                char id[32];
                dq_err_t derr = {0};
                local_id(acts[i].object, id);
                if (dq_catalog_relic_delete(r.cat, id, -1, &who, &derr) == 0)
                    r.deleted++;
            } else {
                manifest(&r, acts[i].object);
            }
        }
    } else if (type && strcmp(type, "Collection") == 0) {
        if (collection(&r, top, 0, &err) < 0)
            goto out;
    } else if (type && strcmp(type, "Manifest") == 0) {
        manifest(&r, url);
    } else {
        dq_err_set(&err, DQ_EINVAL, 0,
                   "%s is not a IIIF Change Discovery OrderedCollection, Collection or Manifest, "
                   "nor an OAI-PMH endpoint",
                   url);
        goto out;
    }
    if (r.jsonl.len) {
        FILE *in = fmemopen(r.jsonl.data, r.jsonl.len, "r");
        if (!in) {
            dq_err_set(&err, DQ_EIO, 0, "fmemopen failed");
            goto out;
        }
        dq_import_opts_t o = {.format = DQ_IMPORT_JSONL};
        int ir = dq_catalog_import(r.cat, in, &o, &who, &is, &err);
        fclose(in);
        if (ir < 0)
            goto out;
    }
    /* The state moves only after a run that imported everything it fetched. */
    if (oai_base && oai.response_date[0] && r.failed == 0 && is.failed == 0 &&
        write_state(cfg, spath,
                    json_pack("{s:s, s:s, s:s}", "url", oai_base, "oai_from", oai.response_date,
                              "format", oai.prefix),
                    &err) < 0)
        goto out;
    if (newest[0] && r.failed == 0 && is.failed == 0) {
        json_t *sj = json_pack("{s:s, s:s, s:[]}", "url", url, "newest", newest, "at_newest");
        for (size_t i = 0; i < n_acts; i++)
            if (strcmp(acts[i].end, newest) == 0)
                json_array_append_new(json_object_get(sj, "at_newest"),
                                      json_string(acts[i].object));
        if (write_state(cfg, spath, sj, &err) < 0)
            goto out;
    }
    if (oai_base)
        printf("OAI-PMH %s: %lld records (%lld deleted); ", oai.prefix, (long long)oai.records,
               (long long)oai.deleted_seen);
    else
        printf("%zu activities, %lld manifests fetched; ", n_acts, (long long)r.fetched);
    printf("%lld inserted, %lld updated, %lld unchanged, %lld deleted, %lld failed; %.2f s\n",
           (long long)is.inserted, (long long)is.updated, (long long)is.unchanged, (long long)r.deleted, (long long)(r.failed + is.failed),
           (double)(dq_now_us() - t0) / 1e6);
    rc = r.failed || is.failed ? 1 : 0;
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing harvest: %s\n", err.msg);
    for (size_t i = 0; i < n_acts; i++) {
        free(acts[i].object);
        free(acts[i].kind);
        free(acts[i].end);
    }
    free(acts);
    for (size_t i = 0; i < r.n_seen; i++)
        free(r.seen[i]);
    free(r.seen);
    json_decref(top);
    json_decref(st);
    free(oai_base);
    dq_buf_free(&r.jsonl);
    dq_buf_free(&dyn);
    dq_buf_free(&types);
    dq_buf_free(&subj);
    dq_buf_free(&state);
    dq_net_free(r.net);
    dq_catalog_close(r.cat);
    free(spath);
    return rc;
}
