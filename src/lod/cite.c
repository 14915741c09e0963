/*
 * cite.c: citations of a relic record for reference managers: CSL-JSON (the Citation Style
 * Language's input schema, csl-data.json: item type "graphic", as Zotero maps its "Artwork"),
 * BibTeX (@misc with howpublished/url/urldate, what biblatex and BibTeX both read) and RIS
 * (TY ART), plus the HTML <meta> tags Zotero's embedded-metadata translator reads from a page
 * (Highwire citation_* and Dublin Core DC.*). One source of truth: the stored document; the
 * permanent URI of a relic is {base}/relic/{id}. It builds text only.
 */
#include "lod/lod.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

/* The en text of a language map, else zh (CSL and BibTeX have one title). */
static const char *pick(const json_t *map, const char *first)
{
    const char *a = jstr(map, first), *b = jstr(map, strcmp(first, "en") ? "en" : "zh");
    return a ? a : b;
}

static void page_url(dq_buf_t *out, const char *base, const char *id)
{
    dq_buf_printf(out, "%s/relic/", base);
    dq_buf_url_segment(out, id);
}

/* ---------------------------------------------------------------- CSL-JSON */

static void csl(const json_t *doc, const dq_lod_ctx_t *ctx, const char *accessed, dq_buf_t *out)
{
    const char *id = jstr(doc, "id");
    json_t *it = json_pack("{s:s, s:s}", "id", id, "type", "graphic");
    const json_t *title = json_object_get(doc, "title");
    if (pick(title, "en"))
        json_object_set_new(it, "title", json_string(pick(title, "en")));
    if (jstr(title, "zh") && jstr(title, "en"))
        json_object_set_new(it, "original-title", json_string(jstr(title, "zh")));
    json_t *authors = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "creators"), i, c)
    {
        const char *n = pick(json_object_get(c, "name"), "en");
        /* A Chinese name is not "family, given" in the CSL sense: a literal keeps it whole. */
        if (n)
            json_array_append_new(authors, json_pack("{s:s}", "literal", n));
    }
    if (json_array_size(authors))
        json_object_set_new(it, "author", authors);
    else
        json_decref(authors);
    const json_t *yf = json_object_get(doc, "year_from"), *yt = json_object_get(doc, "year_to");
    if (json_is_integer(yf)) {
        json_t *parts = json_pack("[[I]]", (json_int_t)json_integer_value(yf));
        if (json_is_integer(yt) && json_integer_value(yt) != json_integer_value(yf))
            json_array_append_new(parts, json_pack("[I]", (json_int_t)json_integer_value(yt)));
        json_object_set_new(it, "issued", json_pack("{s:o}", "date-parts", parts));
    } else if (jstr(doc, "date_text")) {
        json_object_set_new(it, "issued", json_pack("{s:s}", "literal", jstr(doc, "date_text")));
    }
    if (pick(json_object_get(doc, "medium"), "en"))
        json_object_set_new(it, "medium", json_string(pick(json_object_get(doc, "medium"), "en")));
    if (jstr(doc, "accession"))
        json_object_set_new(it, "number", json_string(jstr(doc, "accession")));
    const json_t *dims = json_object_get(doc, "dimensions_cm");
    if (json_is_number(json_object_get(dims, "height")) &&
        json_is_number(json_object_get(dims, "width"))) {
        char d[64];
        snprintf(d, sizeof(d), "%g × %g cm", json_number_value(json_object_get(dims, "height")),
                 json_number_value(json_object_get(dims, "width")));
        json_object_set_new(it, "dimensions", json_string(d));
    }
    json_object_set_new(it, "archive", json_string("danqing"));
    dq_buf_t u = {0};
    page_url(&u, ctx->base_url, id);
    json_object_set_new(it, "URL", json_string(u.data));
    dq_buf_free(&u);
    if (accessed && strlen(accessed) >= 10) {
        char y[5] = {0}, m[3] = {0}, d[3] = {0};
        memcpy(y, accessed, 4);
        memcpy(m, accessed + 5, 2);
        memcpy(d, accessed + 8, 2);
        json_object_set_new(it, "accessed",
                            json_pack("{s:[[i,i,i]]}", "date-parts", atoi(y), atoi(m), atoi(d)));
    }
    if (jstr(doc, "rights"))
        json_object_set_new(it, "license", json_string(jstr(doc, "rights")));
    json_t *arr = json_pack("[o]", it); /* takes it */
    char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    dq_buf_puts(out, s);
    dq_buf_putc(out, '\n');
    free(s);
    json_decref(arr);
}

/* ---------------------------------------------------------------- BibTeX */

/* A BibTeX field value in braces: braces balanced by escaping, and the characters BibTeX
 * treats specially (\ { } % # & $ _ ^ ~) escaped, so any text is a literal. */
static void bib_text(dq_buf_t *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '{':
        case '}':
        case '%':
        case '#':
        case '&':
        case '$':
        case '_':
            dq_buf_putc(out, '\\');
            dq_buf_putc(out, *s);
            break;
        case '\\':
            dq_buf_puts(out, "\\textbackslash{}");
            break;
        case '^':
            dq_buf_puts(out, "\\textasciicircum{}");
            break;
        case '~':
            dq_buf_puts(out, "\\textasciitilde{}");
            break;
        case '\n':
        case '\r':
            dq_buf_putc(out, ' ');
            break;
        default:
            dq_buf_putc(out, *s);
        }
    }
}

static void bib_field(dq_buf_t *out, const char *name, const char *v)
{
    if (!v)
        return;
    dq_buf_printf(out, ",\n  %s = {", name);
    bib_text(out, v);
    dq_buf_putc(out, '}');
}

static void bibtex(const json_t *doc, const dq_lod_ctx_t *ctx, const char *accessed, dq_buf_t *out)
{
    const char *id = jstr(doc, "id");
    /* The key: the id with anything but [A-Za-z0-9-_:] dropped (BibTeX keys are bare). */
    dq_buf_puts(out, "@misc{");
    for (const char *p = id; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == ':')
            dq_buf_putc(out, *p);
    dq_buf_t authors = {0};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "creators"), i, c)
    {
        const char *n = pick(json_object_get(c, "name"), "en");
        if (!n)
            continue;
        /* Double braces: a whole name, never split into first and last. */
        dq_buf_printf(&authors, "%s{", authors.len ? " and " : "");
        bib_text(&authors, n);
        dq_buf_putc(&authors, '}');
    }
    if (authors.len)
        dq_buf_printf(out, ",\n  author = {%s}", authors.data);
    dq_buf_free(&authors);
    bib_field(out, "title", pick(json_object_get(doc, "title"), "en"));
    const json_t *yf = json_object_get(doc, "year_from");
    char y[32];
    if (json_is_integer(yf)) {
        snprintf(y, sizeof(y), "%lld", (long long)json_integer_value(yf));
        bib_field(out, "year", y);
    }
    bib_field(out, "note", jstr(doc, "date_text"));
    bib_field(out, "howpublished", pick(json_object_get(doc, "medium"), "en"));
    bib_field(out, "number", jstr(doc, "accession"));
    bib_field(out, "organization", "danqing");
    dq_buf_t u = {0};
    page_url(&u, ctx->base_url, id);
    bib_field(out, "url", u.data);
    dq_buf_free(&u);
    if (accessed && strlen(accessed) >= 10) {
        char d[11];
        memcpy(d, accessed, 10);
        d[10] = '\0';
        bib_field(out, "urldate", d);
    }
    dq_buf_puts(out, "\n}\n");
}

/* ---------------------------------------------------------------- RIS */

static void ris_line(dq_buf_t *out, const char *tag, const char *v)
{
    if (!v)
        return;
    dq_buf_printf(out, "%s  - ", tag);
    for (; *v; v++)
        dq_buf_putc(out, *v == '\n' || *v == '\r' ? ' ' : *v);
    dq_buf_puts(out, "\r\n");
}

static void ris(const json_t *doc, const dq_lod_ctx_t *ctx, const char *accessed, dq_buf_t *out)
{
    ris_line(out, "TY", "ART");
    ris_line(out, "TI", pick(json_object_get(doc, "title"), "en"));
    const json_t *title = json_object_get(doc, "title");
    if (jstr(title, "zh") && jstr(title, "en"))
        ris_line(out, "TT", jstr(title, "zh"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "creators"), i, c)
        ris_line(out, "AU", pick(json_object_get(c, "name"), "en"));
    const json_t *yf = json_object_get(doc, "year_from");
    char y[32];
    if (json_is_integer(yf)) {
        snprintf(y, sizeof(y), "%lld", (long long)json_integer_value(yf));
        ris_line(out, "PY", y);
    }
    ris_line(out, "M1", jstr(doc, "date_text"));
    ris_line(out, "M3", pick(json_object_get(doc, "medium"), "en"));
    ris_line(out, "AN", jstr(doc, "accession"));
    ris_line(out, "DB", "danqing");
    dq_buf_t u = {0};
    page_url(&u, ctx->base_url, jstr(doc, "id"));
    ris_line(out, "UR", u.data);
    dq_buf_free(&u);
    if (accessed && strlen(accessed) >= 10) {
        char d[11];
        memcpy(d, accessed, 10);
        d[10] = '\0';
        ris_line(out, "Y2", d);
    }
    ris_line(out, "ER", "");
}

int dq_lod_cite(const char *relic_json, size_t len, const char *format, const char *accessed,
                const dq_lod_ctx_t *ctx, dq_buf_t *out, const char **content_type,
                dq_err_t *err)
{
    json_t *doc = json_loadb(relic_json, len, 0, NULL);
    if (!json_is_object(doc) || !jstr(doc, "id")) {
        json_decref(doc);
        return dq_err_set(err, DQ_EINVAL, 400, "cite: not a relic document");
    }
    int rc = 0;
    if (!format || strcmp(format, "csl") == 0) {
        csl(doc, ctx, accessed, out);
        *content_type = "application/vnd.citationstyles.csl+json";
    } else if (strcmp(format, "bibtex") == 0) {
        bibtex(doc, ctx, accessed, out);
        *content_type = "application/x-bibtex; charset=utf-8";
    } else if (strcmp(format, "ris") == 0) {
        ris(doc, ctx, accessed, out);
        *content_type = "application/x-research-info-systems; charset=utf-8";
    } else {
        rc = dq_err_set(err, DQ_EINVAL, 400, "format must be csl, bibtex or ris");
    }
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------- page metadata */

static void meta(dq_buf_t *out, const char *name, const char *v)
{
    if (!v)
        return;
    dq_buf_printf(out, "<meta name=\"%s\" content=\"", name);
    dq_lod_xml_text(out, v, strlen(v));
    dq_buf_puts(out, "\">\n");
}

int dq_lod_page_meta(const char *relic_json, size_t len, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                     dq_err_t *err)
{
    json_t *doc = json_loadb(relic_json, len, 0, NULL);
    const char *id = jstr(doc, "id");
    if (!json_is_object(doc) || !id) {
        json_decref(doc);
        return dq_err_set(err, DQ_EINVAL, 400, "page meta: not a relic document");
    }
    const json_t *title = json_object_get(doc, "title");
    dq_buf_t u = {0};
    page_url(&u, ctx->base_url, id);
    /* Highwire Press tags (Zotero, Google Scholar), then Dublin Core. */
    meta(out, "citation_title", pick(title, "en"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "creators"), i, c)
        meta(out, "citation_author", pick(json_object_get(c, "name"), "en"));
    const json_t *yf = json_object_get(doc, "year_from");
    char y[32] = "";
    if (json_is_integer(yf))
        snprintf(y, sizeof(y), "%lld", (long long)json_integer_value(yf));
    meta(out, "citation_date", y[0] ? y : NULL);
    meta(out, "citation_publisher", "danqing");
    meta(out, "citation_public_url", u.data);
    /* DC.* names are read as Dublin Core only under this schema link (DC-HTML). */
    dq_buf_puts(out, "<link rel=\"schema.DC\" href=\"http://purl.org/dc/elements/1.1/\">\n");
    meta(out, "DC.title", pick(title, "en"));
    if (jstr(title, "zh") && jstr(title, "en"))
        meta(out, "DC.title.alternative", jstr(title, "zh"));
    json_array_foreach(json_object_get(doc, "creators"), i, c)
        meta(out, "DC.creator", pick(json_object_get(c, "name"), "en"));
    meta(out, "DC.date", jstr(doc, "date_text") ? jstr(doc, "date_text") : y[0] ? y : NULL);
    meta(out, "DC.type", "Image");
    meta(out, "DC.format", pick(json_object_get(doc, "medium"), "en"));
    meta(out, "DC.identifier", u.data);
    meta(out, "DC.source", jstr(doc, "accession"));
    meta(out, "DC.rights", jstr(doc, "rights"));
    meta(out, "DC.publisher", "danqing");
    dq_buf_free(&u);
    json_decref(doc);
    return 0;
}
