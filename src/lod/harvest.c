/*
 * harvest.c: another institution's IIIF Presentation 3.0 Manifest as a danqing relic
 * document that references it (docs/api.md "Harvesting"): label → title, summary →
 * description, metadata pairs (Creator, Dynasty, Date, Object type, Subject, Medium, matched
 * by their English label) → fields, vocabulary labels → our keys when they name one, navDate →
 * year, rights and provider → the "remote" block (manifest, institution, source, licence).
 * Images are not copied: the remote Manifest is the way to them. The id and accession are
 * derived from the Manifest URL, so a second harvest of the same Manifest updates the same
 * record and an unchanged one is left alone by the import.
 */
#include "lod/lod.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first string of a language map for lang ("none" and any other language as fallback
 * when lang is NULL). Borrowed from map. */
static const char *lm(const json_t *map, const char *lang)
{
    if (json_is_string(map))
        return json_string_value(map);
    const json_t *a = lang ? json_object_get(map, lang) : NULL;
    if (json_is_array(a) && json_is_string(json_array_get(a, 0)))
        return json_string_value(json_array_get(a, 0));
    if (lang)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v) if (json_is_string(json_array_get(v, 0))) return
        json_string_value(json_array_get(v, 0));
    return NULL;
}

/* A language map as our {zh, en}: zh from "zh*", en from "en*" or "none". NULL when empty. */
static json_t *lang_pair(const json_t *map)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        const char *s = json_string_value(json_array_get(v, 0));
        if (!s || !*s)
            continue;
        const char *to = strncmp(k, "zh", 2) == 0 && !strstr(k, "Latn") ? "zh"
                         : strncmp(k, "en", 2) == 0 || strcmp(k, "none") == 0 ? "en"
                                                                              : NULL;
        if (to && !json_object_get(o, to))
            json_object_set_new(o, to, json_string(s));
    }
    if (!json_object_size(o)) {
        /* Real manifests carry other keys too (a language we do not show, or a broken one:
         * the Library of Congress's Hamilton letter labels every value "true"): keep the first
         * value, as zh when it is written in CJK, else as en, rather than lose the title. */
        json_object_foreach((json_t *)map, k, v)
        {
            const char *s = json_string_value(json_array_get(v, 0));
            if (!s || !*s)
                continue;
            const unsigned char *u = (const unsigned char *)s;
            int cjk = 0;
            for (; *u && !cjk; u++) /* U+3400..U+9FFF: lead bytes E3 (from 0x90) .. E9 */
                cjk = (u[0] == 0xE3 && u[1] >= 0x90) || (u[0] >= 0xE4 && u[0] <= 0xE9);
            json_object_set_new(o, cjk ? "zh" : "en", json_string(s));
            break;
        }
    }
    if (!json_object_size(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- Presentation 2.1 */

/* A Presentation 2.1 value (a string, {"@value", "@language"}, or an array of these) as a 3.0
 * language map {lang|"none": [strings]}; NULL when it holds no string. New reference. */
static json_t *v2_lmap(const json_t *v)
{
    json_t *m = json_object();
    const json_t *one = v;
    size_t i = 0, n = json_is_array(v) ? json_array_size(v) : 1;
    for (; i < n; i++) {
        if (json_is_array(v))
            one = json_array_get(v, i);
        const char *s = json_is_string(one) ? json_string_value(one)
                                           : json_string_value(json_object_get(one, "@value"));
        const char *lang = json_string_value(json_object_get(one, "@language"));
        if (!s || !*s)
            continue;
        const char *key = lang && *lang ? lang : "none";
        json_t *a = json_object_get(m, key);
        if (!a) {
            a = json_array();
            json_object_set_new(m, key, a);
        }
        json_array_append_new(a, json_string(s));
    }
    if (!json_object_size(m)) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* The first http(s) string of a 2.1 value that may be a string, an object with "@id" or an
 * array of either (license, related). Borrowed. */
static const char *v2_uri(const json_t *v)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *one = json_is_array(v) ? json_array_get(v, i) : v;
        const char *s = json_is_string(one) ? json_string_value(one)
                                           : json_string_value(json_object_get(one, "@id"));
        if (s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0))
            return s;
    }
    return NULL;
}

/* A Presentation 2.1 Manifest ("@type": "sc:Manifest") as the 3.0 properties the mapping
 * below reads (Presentation 3.0 Appendix "Changes from 2.1": label/description/metadata
 * values become language maps, description is summary, license is rights, attribution is
 * the requiredStatement, related is homepage). New reference. */
static json_t *v2_upgrade(const json_t *m2)
{
    json_t *m = json_pack("{s:s}", "type", "Manifest");
    json_t *x;
    if ((x = v2_lmap(json_object_get(m2, "label"))))
        json_object_set_new(m, "label", x);
    if ((x = v2_lmap(json_object_get(m2, "description"))))
        json_object_set_new(m, "summary", x);
    json_t *md = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(m2, "metadata"), i, e)
    {
        json_t *l = v2_lmap(json_object_get(e, "label")), *v = v2_lmap(json_object_get(e, "value"));
        if (l && v)
            json_array_append_new(md, json_pack("{s:o, s:o}", "label", l, "value", v));
        else {
            json_decref(l);
            json_decref(v);
        }
    }
    json_object_set_new(m, "metadata", md);
    const char *lic = v2_uri(json_object_get(m2, "license"));
    if (lic)
        json_object_set_new(m, "rights", json_string(lic));
    if ((x = v2_lmap(json_object_get(m2, "attribution"))))
        json_object_set_new(m, "requiredStatement", json_pack("{s:o}", "value", x));
    const char *rel = v2_uri(json_object_get(m2, "related"));
    if (rel)
        json_object_set_new(m, "homepage", json_pack("[{s:s}]", "id", rel));
    const json_t *nav = json_object_get(m2, "navDate");
    if (json_is_string(nav))
        json_object_set(m, "navDate", (json_t *)nav);
    return m;
}

const char *dq_lod_vocab_key(const json_t *vocab, const char *text)
{
    size_t i;
    json_t *e;
    if (!text)
        return NULL;
    json_array_foreach((json_t *)vocab, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        const char *en = json_string_value(json_object_get(e, "en"));
        const char *zh = json_string_value(json_object_get(e, "zh"));
        if ((k && strcasecmp(k, text) == 0) || (en && strcasecmp(en, text) == 0) ||
            (zh && strcmp(zh, text) == 0))
            return k;
    }
    return NULL;
}

/* The metadata pair whose English (else any) label is one of names. */
static const json_t *meta_value(const json_t *metadata, const char *const *names, size_t n)
{
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)metadata, i, e)
    {
        const char *l = lm(json_object_get(e, "label"), "en");
        if (!l)
            l = lm(json_object_get(e, "label"), NULL);
        for (size_t k = 0; l && k < n; k++)
            if (strcasecmp(l, names[k]) == 0)
                return json_object_get(e, "value");
    }
    return NULL;
}

void dq_lod_split_dates(const char *s, char *name, size_t ncap, char *dates, size_t dcap)
{
    const char *p = strrchr(s, '(');
    size_t n = strlen(s);
    dates[0] = '\0';
    if (p && p > s && s[n - 1] == ')') {
        size_t nl = (size_t)(p - s);
        while (nl && s[nl - 1] == ' ')
            nl--;
        snprintf(name, ncap, "%.*s", (int)nl, s);
        snprintf(dates, dcap, "%.*s", (int)(n - 1 - (size_t)(p + 1 - s)), p + 1);
    } else {
        snprintf(name, ncap, "%s", s);
    }
}

int dq_lod_manifest_to_relic(const char *manifest, size_t len, const char *manifest_url,
                             const char *source_url, const dq_lod_ctx_t *vocab, dq_buf_t *out,
                             dq_err_t *err)
{
    json_t *m = json_loadb(manifest, len, 0, NULL);
    json_t *dyn = vocab->dynasties_json ? json_loads(vocab->dynasties_json, 0, NULL) : NULL;
    json_t *types = vocab->object_types_json ? json_loads(vocab->object_types_json, 0, NULL) : NULL;
    json_t *subj = vocab->subjects_json ? json_loads(vocab->subjects_json, 0, NULL) : NULL;
    json_t *d = NULL;
    int rc = -1;
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *type2 = json_string_value(json_object_get(m, "@type"));
    if (json_is_object(m) && !type && type2 && strcmp(type2, "sc:Manifest") == 0) {
        json_t *up = v2_upgrade(m);
        json_decref(m);
        m = up;
        type = "Manifest";
    }
    if (!json_is_object(m) || !type || strcmp(type, "Manifest") != 0) {
        dq_err_set(err, DQ_EINVAL, 422, "not a IIIF Presentation 3 or 2.1 Manifest: %.200s",
                   manifest_url);
        goto out;
    }
    json_t *title = lang_pair(json_object_get(m, "label"));
    if (!title) {
        dq_err_set(err, DQ_EINVAL, 422, "the Manifest has no label: %.200s", manifest_url);
        goto out;
    }
    char hex[65], id[32], acc[40];
    dq_sha256_buf(manifest_url, strlen(manifest_url), hex);
    snprintf(id, sizeof(id), "ext-%.16s", hex);
    snprintf(acc, sizeof(acc), "ext-%.24s", hex);
    d = json_pack("{s:s, s:s, s:o}", "id", id, "accession", acc, "title", title);
    const json_t *md = json_object_get(m, "metadata");
    static const char *const creator_l[] = {"Creator", "Artist", "Author", "Maker"};
    const json_t *cv = meta_value(md, creator_l, DQ_ARRAY_LEN(creator_l));
    if (cv) {
        /* One creator per value line, zh and en paired by position. */
        const json_t *zh = json_object_get(cv, "zh"), *en = json_object_get(cv, "en");
        const json_t *any = en ? en : zh ? zh : json_object_get(cv, "none");
        json_t *creators = json_array();
        for (size_t i = 0; i < json_array_size(any) && i < 8; i++) {
            json_t *name = json_object();
            char nm[512], dates[128] = "";
            const char *zs = json_string_value(json_array_get(zh, i));
            const char *es = json_string_value(json_array_get(en ? en : json_object_get(cv, "none"), i));
            if (zs) {
                dq_lod_split_dates(zs, nm, sizeof(nm), dates, sizeof(dates));
                json_object_set_new(name, "zh", json_string(nm));
            }
            if (es) {
                dq_lod_split_dates(es, nm, sizeof(nm), dates, sizeof(dates));
                json_object_set_new(name, "en", json_string(nm));
            }
            if (!json_object_size(name)) {
                json_decref(name);
                continue;
            }
            json_t *c = json_pack("{s:o}", "name", name);
            if (dates[0])
                json_object_set_new(c, "dates", json_string(dates));
            json_array_append_new(creators, c);
        }
        if (json_array_size(creators))
            json_object_set_new(d, "creators", creators);
        else
            json_decref(creators);
    }
    static const char *const dyn_l[] = {"Dynasty", "Period"};
    const json_t *dv = meta_value(md, dyn_l, DQ_ARRAY_LEN(dyn_l));
    const char *dk = dq_lod_vocab_key(dyn, lm(dv, "en") ? lm(dv, "en") : lm(dv, NULL));
    if (dk)
        json_object_set_new(d, "dynasty", json_string(dk));
    static const char *const date_l[] = {"Date", "Dated"};
    const json_t *datev = meta_value(md, date_l, DQ_ARRAY_LEN(date_l));
    if (lm(datev, NULL))
        json_object_set_new(d, "date_text", json_string(lm(datev, NULL)));
    const char *nav = json_string_value(json_object_get(m, "navDate"));
    if (nav && strlen(nav) >= 4) {
        int y = atoi(nav[0] == '-' ? nav + 1 : nav) * (nav[0] == '-' ? -1 : 1);
        if (y >= -5000 && y <= 9999) {
            json_object_set_new(d, "year_from", json_integer(y));
            json_object_set_new(d, "year_to", json_integer(y));
        }
    }
    static const char *const type_l[] = {"Object type", "Classification", "Type"};
    const json_t *tv = meta_value(md, type_l, DQ_ARRAY_LEN(type_l));
    const char *tk = dq_lod_vocab_key(types, lm(tv, "en") ? lm(tv, "en") : lm(tv, NULL));
    json_object_set_new(d, "object_type", json_string(tk ? tk : "other"));
    static const char *const subj_l[] = {"Subject"};
    const json_t *sv = meta_value(md, subj_l, DQ_ARRAY_LEN(subj_l));
    const char *sk = dq_lod_vocab_key(subj, lm(sv, "en") ? lm(sv, "en") : lm(sv, NULL));
    if (sk)
        json_object_set_new(d, "subject", json_pack("[s]", sk));
    static const char *const med_l[] = {"Medium", "Materials"};
    json_t *med = lang_pair(meta_value(md, med_l, DQ_ARRAY_LEN(med_l)));
    if (med)
        json_object_set_new(d, "medium", med);
    json_t *sum = lang_pair(json_object_get(m, "summary"));
    if (sum)
        json_object_set_new(d, "description", sum);
    const char *rights = json_string_value(json_object_get(m, "rights"));
    if (rights)
        json_object_set_new(d, "rights", json_string(rights));
    json_t *remote = json_pack("{s:s}", "manifest", manifest_url);
    const char *inst = lm(json_object_get(json_array_get(json_object_get(m, "provider"), 0),
                                          "label"),
                          "en");
    if (!inst)
        inst = lm(json_object_get(json_object_get(m, "requiredStatement"), "value"), "en");
    if (!inst) /* any language, as a label keyed otherwise (real manifests do) */
        inst = lm(json_object_get(json_object_get(m, "requiredStatement"), "value"), NULL);
    if (inst)
        json_object_set_new(remote, "institution", json_string(inst));
    if (source_url)
        json_object_set_new(remote, "source", json_string(source_url));
    const json_t *home = json_array_get(json_object_get(json_array_get(json_object_get(m, "provider"), 0),
                                                        "homepage"),
                                        0);
    const json_t *page = json_array_get(json_object_get(m, "homepage"), 0);
    const char *url = json_string_value(json_object_get(page ? page : home, "id"));
    if (url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
        json_object_set_new(remote, "url", json_string(url));
    if (rights)
        json_object_set_new(remote, "licence", json_string(rights));
    json_object_set_new(d, "remote", remote);
    char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    dq_buf_puts(out, s);
    dq_buf_putc(out, '\n');
    free(s);
    rc = 0;
out:
    json_decref(m);
    json_decref(d);
    json_decref(dyn);
    json_decref(types);
    json_decref(subj);
    return rc;
}
