/*
 * presentation.c: IIIF Presentation API 3.0 Manifests and Collections built from the
 * catalog's JSON (relic documents and search responses). Pure: text and numbers in, JSON text
 * out; no file, socket or catalog access, so it is unit-tested and could be fuzzed alone.
 * It does not decide who may see what: the HTTP layer only ever hands it what the asker may
 * see (restricted relics never reach here for an anonymous request).
 *
 * Sections cited are those of https://iiif.io/api/presentation/3.0/.
 * jansson builds the documents: objects keep insertion order (jansson >= 2.8), so
 * "@context", "id" and "type" come first, as the spec's examples and human readers expect.
 */
#include "iiif.h"

#include "catalog/catalog.h" /* dq_catalog_link_derived (header-only) */

#include <jansson.h>
#include <math.h>
#include <string.h>

#define CONTEXT "http://iiif.io/api/presentation/3/context.json"
#define PREFIX "/iiif/presentation/3"

/* ---------------------------------------------------------------- small builders */

/* The string members of a JSON object, by key (NULL when absent or not a string). */
static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A text value for a language map. §3.1 (label/metadata/summary): a value whose first
 * character is '<' (and last '>') is HTML to a client. Catalogue text is plain text, so one
 * that happens to look like HTML gets a leading space and stays text. */
static json_t *text(const char *s)
{
    if (s[0] != '<')
        return json_string(s);
    dq_buf_t b = {0};
    dq_buf_printf(&b, " %s", s);
    json_t *j = json_string(b.data);
    dq_buf_free(&b);
    return j;
}

/* {lang: [s]} (§3.1 language maps; "none" when the language is unknown). */
static json_t *lmap1(const char *lang, const char *s)
{
    json_t *m = json_object();
    json_t *a = json_array();
    json_array_append_new(a, text(s));
    json_object_set_new(m, lang, a);
    return m;
}

/* {"en": [en], "zh": [zh]}: our own fixed labels. */
static json_t *lmap2(const char *en, const char *zh)
{
    json_t *m = lmap1("en", en);
    json_t *a = json_array();
    json_array_append_new(a, text(zh));
    json_object_set_new(m, "zh", a);
    return m;
}

/* A language map from a document's {"zh": "...", "en": "..."} (only non-empty zh and en;
 * other keys such as "pinyin" are not languages), or NULL when it has neither. */
static json_t *lmap_doc(const json_t *o)
{
    json_t *m = NULL;
    static const char *const langs[] = {"zh", "en"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(langs); i++) {
        const char *s = jstr(o, langs[i]);
        if (!s || !*s)
            continue;
        if (!m)
            m = json_object();
        json_t *a = json_array();
        json_array_append_new(a, text(s));
        json_object_set_new(m, langs[i], a);
    }
    return m;
}

/* Appends s to m[lang] (creating the array). */
static void lmap_add(json_t *m, const char *lang, const char *s)
{
    json_t *a = json_object_get(m, lang);
    if (!a) {
        a = json_array();
        json_object_set_new(m, lang, a);
    }
    json_array_append_new(a, text(s));
}

/* base + printf(fmt, ...) as a JSON string. */
__attribute__((format(printf, 2, 3))) static json_t *url(const dq_iiif_pctx_t *ctx, const char *fmt,
                                                         ...)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, ctx->base_url);
    va_list ap;
    va_start(ap, fmt);
    dq_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    json_t *j = json_string(b.data);
    dq_buf_free(&b);
    return j;
}

static json_t *manifest_url(const dq_iiif_pctx_t *ctx, const char *relic_id)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s" PREFIX "/", ctx->base_url);
    dq_buf_url_segment(&b, relic_id);
    dq_buf_puts(&b, "/manifest");
    json_t *j = json_string(b.data);
    dq_buf_free(&b);
    return j;
}

/* The label of a vocabulary key from a parsed vocabulary array, else {"none": [key]}. */
static json_t *vocab_label(const json_t *vocab, const char *key)
{
    size_t i;
    const json_t *e;
    json_array_foreach(vocab, i, e)
    {
        const char *k = jstr(e, "key");
        if (k && strcmp(k, key) == 0) {
            json_t *m = lmap_doc(e);
            if (m)
                return m;
        }
    }
    return lmap1("none", key);
}

/* One label of a vocabulary entry in one language (falls back to the key). */
static const char *vocab_word(const json_t *vocab, const char *key, const char *lang)
{
    size_t i;
    const json_t *e;
    json_array_foreach(vocab, i, e)
    {
        const char *k = jstr(e, "key");
        if (k && strcmp(k, key) == 0) {
            const char *w = jstr(e, lang);
            return w && *w ? w : key;
        }
    }
    return key;
}

static json_t *image_service(const dq_iiif_pctx_t *ctx, const char *image_id)
{
    /* §3.2 service, with the Image API 3.0 type and profile (Image 3.0 §5.1). */
    json_t *svc = json_object();
    json_object_set_new(svc, "id", url(ctx, "/iiif/3/%s", image_id));
    json_object_set_new(svc, "type", json_string("ImageService3"));
    json_object_set_new(svc, "profile", json_string("level2"));
    json_t *a = json_array();
    json_array_append_new(a, svc);
    return a;
}

/* A thumbnail (§3.2 thumbnail) of an image of w x h: the image fitted in 400 x 400, never
 * enlarged ("!400,400" in Image 3.0 refuses to upscale a smaller image, so "max" then). */
static json_t *thumbnail(const dq_iiif_pctx_t *ctx, const char *image_id, uint32_t w, uint32_t h)
{
    json_t *t = json_object();
    if (w > 400 || h > 400) {
        double s = fmin(400.0 / w, 400.0 / h);
        json_object_set_new(t, "id", url(ctx, "/iiif/3/%s/full/!400,400/0/default.jpg", image_id));
        w = (uint32_t)DQ_MAX(1, lround(w * s));
        h = (uint32_t)DQ_MAX(1, lround(h * s));
    } else {
        json_object_set_new(t, "id", url(ctx, "/iiif/3/%s/full/max/0/default.jpg", image_id));
    }
    json_object_set_new(t, "type", json_string("Image"));
    json_object_set_new(t, "format", json_string("image/jpeg"));
    if (w && h) {
        json_object_set_new(t, "width", json_integer(w));
        json_object_set_new(t, "height", json_integer(h));
    }
    json_object_set_new(t, "service", image_service(ctx, image_id));
    json_t *a = json_array();
    json_array_append_new(a, t);
    return a;
}

static json_t *provider(const dq_iiif_pctx_t *ctx)
{
    const char *en = ctx->provider_en ? ctx->provider_en : "danqing";
    const char *zh = ctx->provider_zh ? ctx->provider_zh : "丹青";
    /* §3.3 provider: an Agent with a label and a homepage. */
    json_t *home = json_object();
    json_object_set_new(home, "id", url(ctx, "/"));
    json_object_set_new(home, "type", json_string("Text"));
    json_object_set_new(home, "label", lmap2(en, zh));
    json_object_set_new(home, "format", json_string("text/html"));
    json_t *homes = json_array();
    json_array_append_new(homes, home);
    json_t *agent = json_object();
    json_object_set_new(agent, "id", url(ctx, "/#provider"));
    json_object_set_new(agent, "type", json_string("Agent"));
    json_object_set_new(agent, "label", lmap2(en, zh));
    json_object_set_new(agent, "homepage", homes);
    json_t *a = json_array();
    json_array_append_new(a, agent);
    return a;
}

/* §3.3.1 rights: one URI from Creative Commons or RightsStatements.org, in its canonical
 * http form. Anything else becomes "copyright not evaluated" rather than an invalid value.
 * Public (iiif.h): downloads embed the same URI (embed.c), one source of truth. */
void dq_iiif_rights_uri(const char *r, dq_buf_t *out)
{
    static const char *const hosts[] = {"creativecommons.org/", "rightsstatements.org/"};
    if (r) {
        const char *rest = dq_str_starts(r, "https://")  ? r + 8
                           : dq_str_starts(r, "http://") ? r + 7
                                                         : NULL;
        for (size_t i = 0; rest && i < DQ_ARRAY_LEN(hosts); i++)
            if (dq_str_starts(rest, hosts[i]) && !strpbrk(rest, " \"<>\\")) {
                dq_buf_printf(out, "http://%s", rest);
                return;
            }
    }
    dq_buf_puts(out, DQ_IIIF_RIGHTS_CNE);
}

static json_t *rights(const char *r)
{
    dq_buf_t b = {0};
    dq_iiif_rights_uri(r, &b);
    json_t *j = json_string(b.data);
    dq_buf_free(&b);
    return j;
}

void dq_iiif_attribution(const dq_iiif_pctx_t *ctx, dq_buf_t *en, dq_buf_t *zh)
{
    const char *pen = ctx && ctx->provider_en ? ctx->provider_en : "danqing";
    const char *pzh = ctx && ctx->provider_zh ? ctx->provider_zh : "丹青";
    if (en)
        dq_buf_printf(en, "Provided by %s", pen);
    if (zh)
        dq_buf_printf(zh, "%s 提供", pzh);
}

/* {"label": label, "value": value} appended to md (takes both references). */
static void md_add(json_t *md, json_t *label, json_t *value)
{
    json_t *e = json_object();
    json_object_set_new(e, "label", label);
    json_object_set_new(e, "value", value);
    json_array_append_new(md, e);
}

/* ---------------------------------------------------------------- manifest */

/* §3.1 metadata: the catalogue fields a viewer shows as label/value pairs. */
static json_t *metadata(const json_t *doc, const json_t *voc_dyn, const json_t *voc_type,
                        const json_t *voc_subj)
{
    json_t *md = json_array();
    const char *s;
    char tmp[128];
    if ((s = jstr(doc, "accession")) && *s)
        md_add(md, lmap2("Accession number", "藏品编号"), lmap1("none", s));
    const json_t *title = json_object_get(doc, "title");
    if ((s = jstr(title, "pinyin")) && *s)
        md_add(md, lmap2("Title (pinyin)", "标题拼音"), lmap1("zh-Latn-pinyin", s));

    /* Creators: one value per creator, per language, "name (dates)". */
    const json_t *creators = json_object_get(doc, "creators");
    if (json_array_size(creators)) {
        json_t *v = json_object();
        size_t i;
        const json_t *c;
        json_array_foreach(creators, i, c)
        {
            const json_t *name = json_object_get(c, "name");
            const char *dates = jstr(c, "dates");
            static const char *const langs[] = {"zh", "en"};
            for (size_t k = 0; k < DQ_ARRAY_LEN(langs); k++) {
                const char *n = jstr(name, langs[k]);
                if (!n || !*n)
                    continue;
                dq_buf_t b = {0};
                dq_buf_puts(&b, n);
                if (dates && *dates)
                    dq_buf_printf(&b, " (%s)", dates);
                lmap_add(v, langs[k], b.data);
                dq_buf_free(&b);
            }
        }
        if (json_object_size(v))
            md_add(md, lmap2("Creator", "作者"), v);
        else
            json_decref(v);
    }
    if ((s = jstr(doc, "dynasty")) && *s)
        md_add(md, lmap2("Dynasty", "朝代"), vocab_label(voc_dyn, s));
    /* Date: the free text, then the machine years. */
    json_t *date = NULL;
    if ((s = jstr(doc, "date_text")) && *s)
        date = lmap1("none", s);
    const json_t *yf = json_object_get(doc, "year_from"), *yt = json_object_get(doc, "year_to");
    if (json_is_integer(yf)) {
        if (json_is_integer(yt) && json_integer_value(yt) != json_integer_value(yf))
            snprintf(tmp, sizeof(tmp), "%lld–%lld", (long long)json_integer_value(yf),
                     (long long)json_integer_value(yt));
        else
            snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(yf));
        if (!date)
            date = lmap1("none", tmp);
        else
            lmap_add(date, "none", tmp);
    }
    if (date)
        md_add(md, lmap2("Date", "年代"), date);
    if ((s = jstr(doc, "object_type")) && *s)
        md_add(md, lmap2("Object type", "类型"), vocab_label(voc_type, s));
    const json_t *subjects = json_object_get(doc, "subject");
    if (json_array_size(subjects)) {
        json_t *v = json_object();
        size_t i;
        const json_t *e;
        json_array_foreach(subjects, i, e)
        {
            if (!json_is_string(e))
                continue;
            lmap_add(v, "en", vocab_word(voc_subj, json_string_value(e), "en"));
            lmap_add(v, "zh", vocab_word(voc_subj, json_string_value(e), "zh"));
        }
        if (json_object_size(v))
            md_add(md, lmap2("Subject", "题材"), v);
        else
            json_decref(v);
    }
    json_t *medium = lmap_doc(json_object_get(doc, "medium"));
    if (medium)
        md_add(md, lmap2("Medium", "质地"), medium);
    if ((s = jstr(doc, "support")) && *s)
        md_add(md, lmap2("Support", "材质"), lmap1("none", s));
    const json_t *dim = json_object_get(doc, "dimensions_cm");
    const json_t *dh = json_object_get(dim, "height"), *dw = json_object_get(dim, "width");
    if (json_is_number(dh) && json_is_number(dw)) {
        snprintf(tmp, sizeof(tmp), "%g × %g cm", json_number_value(dh), json_number_value(dw));
        md_add(md, lmap2("Dimensions (h × w)", "尺寸（高×宽）"), lmap1("none", tmp));
    }
    if ((s = jstr(doc, "school")) && *s)
        md_add(md, lmap2("School", "画派"), lmap1("none", s));

    /* Inscriptions, seals, provenance: one value string per entry. */
    const json_t *list = json_object_get(doc, "inscriptions");
    if (json_array_size(list)) {
        json_t *v = json_object();
        size_t i;
        const json_t *e;
        json_array_foreach(list, i, e)
        {
            const char *t = jstr(e, "text"), *a = jstr(e, "author"), *p = jstr(e, "position");
            const char *lang = jstr(e, "lang");
            if (!t || !*t)
                continue;
            dq_buf_t b = {0};
            dq_buf_puts(&b, t);
            if (a && *a)
                dq_buf_printf(&b, " — %s", a);
            if (p && *p)
                dq_buf_printf(&b, " (%s)", p);
            lmap_add(v, lang && (!strcmp(lang, "zh") || !strcmp(lang, "en")) ? lang : "none",
                     b.data);
            dq_buf_free(&b);
        }
        if (json_object_size(v))
            md_add(md, lmap2("Inscriptions", "题跋"), v);
        else
            json_decref(v);
    }
    list = json_object_get(doc, "seals");
    if (json_array_size(list)) {
        json_t *v = json_object();
        size_t i;
        const json_t *e;
        json_array_foreach(list, i, e)
        {
            const char *r = jstr(e, "reading"), *o = jstr(e, "owner");
            if (!r || !*r)
                continue;
            dq_buf_t b = {0};
            dq_buf_puts(&b, r);
            if (o && *o)
                dq_buf_printf(&b, " (%s)", o);
            lmap_add(v, "none", b.data);
            dq_buf_free(&b);
        }
        if (json_object_size(v))
            md_add(md, lmap2("Seals", "印章"), v);
        else
            json_decref(v);
    }
    list = json_object_get(doc, "provenance");
    if (json_array_size(list)) {
        json_t *v = json_object();
        size_t i;
        const json_t *e;
        json_array_foreach(list, i, e)
        {
            const char *t = jstr(e, "text");
            const json_t *y = json_object_get(e, "year");
            if (!t || !*t)
                continue;
            dq_buf_t b = {0};
            if (json_is_integer(y))
                dq_buf_printf(&b, "%lld: ", (long long)json_integer_value(y));
            dq_buf_puts(&b, t);
            lmap_add(v, "none", b.data);
            dq_buf_free(&b);
        }
        if (json_object_size(v))
            md_add(md, lmap2("Provenance", "流传"), v);
        else
            json_decref(v);
    }
    return md;
}

/* The whole image with its Image API service (§3.2 service, Image 3.0), as a painting body. */
static json_t *image_body(const dq_iiif_pctx_t *ctx, const dq_iiif_pimage_t *img)
{
    json_t *body = json_object();
    json_object_set_new(body, "id", url(ctx, "/iiif/3/%s/full/max/0/default.jpg", img->image_id));
    json_object_set_new(body, "type", json_string("Image"));
    json_object_set_new(body, "format", json_string("image/jpeg"));
    json_object_set_new(body, "width", json_integer(img->width));
    json_object_set_new(body, "height", json_integer(img->height));
    json_object_set_new(body, "service", image_service(ctx, img->image_id));
    return body;
}

/* One Canvas (§5.4) painted by one Annotation (§5.6) in one AnnotationPage (§5.5), whose body
 * is the whole image; with a virtual restoration (issue 12) the body is a Choice (§5.6
 * "Choice": the first item is the default) of the original and the restoration, which is
 * labelled as a proposal so that no viewer can present it as the object's state. */
static json_t *canvas(const dq_iiif_pctx_t *ctx, const char *mbase, int n,
                      const dq_iiif_pimage_t *img, const json_t *link,
                      const dq_iiif_pimage_t *restored)
{
    char cid[64];
    snprintf(cid, sizeof(cid), "/canvas/%d", n);
    dq_buf_t b = {0};

    json_t *body = image_body(ctx, img);
    if (restored) {
        json_t *alt = image_body(ctx, restored);
        json_object_set_new(body, "label", lmap2("Original", "原件"));
        json_object_set_new(alt, "label", lmap2("Virtual restoration (a proposal, not the object's state)",
                                                "虚拟修复（建议，非文物现状）"));
        json_t *choice = json_object();
        json_object_set_new(choice, "type", json_string("Choice"));
        json_object_set_new(choice, "items", json_pack("[o,o]", body, alt));
        body = choice;
    }

    json_t *anno = json_object();
    dq_buf_printf(&b, "%s/annotation/%d", mbase, n);
    json_object_set_new(anno, "id", json_string(b.data));
    json_object_set_new(anno, "type", json_string("Annotation"));
    json_object_set_new(anno, "motivation", json_string("painting"));
    json_object_set_new(anno, "body", body);
    dq_buf_reset(&b);
    dq_buf_printf(&b, "%s%s", mbase, cid);
    json_object_set_new(anno, "target", json_string(b.data));

    json_t *page = json_object();
    dq_buf_reset(&b);
    dq_buf_printf(&b, "%s/page/%d", mbase, n);
    json_object_set_new(page, "id", json_string(b.data));
    json_object_set_new(page, "type", json_string("AnnotationPage"));
    json_t *annos = json_array();
    json_array_append_new(annos, anno);
    json_object_set_new(page, "items", annos);

    json_t *c = json_object();
    dq_buf_reset(&b);
    dq_buf_printf(&b, "%s%s", mbase, cid);
    json_object_set_new(c, "id", json_string(b.data));
    json_object_set_new(c, "type", json_string("Canvas"));
    /* §3.1 label: the image's own label, else its role, else its position. */
    json_t *label = lmap_doc(json_object_get(link, "label"));
    const char *role = jstr(link, "role");
    if (!label && role && *role)
        label = lmap1("none", role);
    if (!label) {
        char num[16];
        snprintf(num, sizeof(num), "%d", n);
        label = lmap1("none", num);
    }
    json_object_set_new(c, "label", label);
    json_object_set_new(c, "height", json_integer(img->height));
    json_object_set_new(c, "width", json_integer(img->width));
    json_object_set_new(c, "thumbnail", thumbnail(ctx, img->image_id, img->width, img->height));
    json_t *pages = json_array();
    json_array_append_new(pages, page);
    json_object_set_new(c, "items", pages);
    dq_buf_free(&b);
    return c;
}

static int ctx_ok(const dq_iiif_pctx_t *ctx, dq_err_t *err)
{
    if (!ctx || !ctx->base_url || !dq_str_starts(ctx->base_url, "http"))
        return dq_err_set(err, DQ_EINTERNAL, 500, "presentation: no base URL");
    return 0;
}

/* Parses an optional vocabulary (NULL or unparsable: an empty array). New reference. */
static json_t *load_vocab(const char *s)
{
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    if (!json_is_array(v)) {
        json_decref(v);
        v = json_array();
    }
    return v;
}

static void dump(json_t *doc, dq_buf_t *out)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    DQ_ASSERT(s != NULL); /* only fails on allocation: jansson built doc from valid parts */
    dq_buf_puts(out, s);
    free(s);
}

/* The image linked with role "restoration" as "<iid>.restoration" (danqing restore --relic),
 * when the record has one with known geometry; else NULL. */
static const dq_iiif_pimage_t *restoration_of(const json_t *links, const dq_iiif_pimage_t *images,
                                              int n_images, const char *iid)
{
    char want[300];
    snprintf(want, sizeof(want), "%s.restoration", iid);
    size_t i;
    const json_t *link;
    json_array_foreach(links, i, link)
    {
        const char *lid = jstr(link, "image_id"), *role = jstr(link, "role");
        if (!lid || !role || strcmp(role, "restoration") != 0 || strcmp(lid, want) != 0)
            continue;
        for (int k = 0; k < n_images; k++)
            if (images[k].image_id && strcmp(images[k].image_id, lid) == 0 && images[k].width &&
                images[k].height)
                return &images[k];
    }
    return NULL;
}

/* ---------------------------------------------------------------- handscrolls (issue 16) */

/* {"id": "{canvas}#xywh=x,0,w,h", "type": "Canvas"}: part of a canvas as a Range item
 * (§3.4 structures: a Range's items may be Canvases, with a media fragment for a part). */
static json_t *canvas_part(const json_t *cv, long x, long w)
{
    long h = (long)json_integer_value(json_object_get(cv, "height"));
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s#xywh=%ld,0,%ld,%ld", json_string_value(json_object_get(cv, "id")), x, w,
                  h);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_string(b.data));
    json_object_set_new(r, "type", json_string("Canvas"));
    dq_buf_free(&b);
    return r;
}

static json_t *range(const char *mbase, const char *key, const char *en, const char *zh,
                     json_t *parts)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s/range/%s", mbase, key);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_string(b.data));
    json_object_set_new(r, "type", json_string("Range"));
    json_object_set_new(r, "label", lmap2(en, zh));
    json_object_set_new(r, "items", parts);
    dq_buf_free(&b);
    return r;
}

/* Whether the record's inscriptions name a frontispiece and colophons (their position). */
static void named_sections(const json_t *doc, int *front, int *colo)
{
    *front = *colo = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(doc, "inscriptions"), i, e)
    {
        const char *pos = jstr(e, "position");
        *front |= pos && strstr(pos, "frontispiece") != NULL;
        *colo |= pos && strstr(pos, "colophon") != NULL;
    }
}

/* A handscroll is read from its right end (viewingDirection right-to-left, so the first
 * Canvas is the rightmost section). §3.4 start: a SpecificResource on the first Canvas with a
 * FragmentSelector (Media Fragments xywh) of its right end, one screen wide (16:9 of its
 * height), so that a viewer that honours `start` opens the scroll where a reader unrolls it.
 * §3.4 structures: Ranges for the conventional sections the record names. The record says that
 * a frontispiece (引首) or colophons (题跋) exist (an inscription whose position names one) but
 * not where they end, so their extents are the conventional estimate the web's scroll mode
 * uses (web/js/pages/scroll.js): the frontispiece the rightmost 10 % of the first Canvas, the
 * colophons the leftmost 14 % of the last; the painting is everything between. */
static void scroll_start_and_sections(json_t *m, const char *mbase, const json_t *doc,
                                      const json_t *items)
{
    const json_t *first = json_array_get(items, 0);
    const json_t *last = json_array_get(items, json_array_size(items) - 1);
    long fw = (long)json_integer_value(json_object_get(first, "width"));
    long fh = (long)json_integer_value(json_object_get(first, "height"));
    long lw = (long)json_integer_value(json_object_get(last, "width"));
    if (fw <= 0 || fh <= 0 || lw <= 0)
        return;
    long vw = fh * 16 / 9 < fw ? fh * 16 / 9 : fw;
    json_t *sel = json_object();
    json_object_set_new(sel, "type", json_string("FragmentSelector"));
    json_object_set_new(sel, "conformsTo", json_string("http://www.w3.org/TR/media-frags/"));
    char v[96];
    snprintf(v, sizeof(v), "xywh=%ld,0,%ld,%ld", fw - vw, vw, fh);
    json_object_set_new(sel, "value", json_string(v));
    json_t *start = json_object();
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s/start", mbase);
    json_object_set_new(start, "id", json_string(b.data));
    dq_buf_free(&b);
    json_object_set_new(start, "type", json_string("SpecificResource"));
    json_object_set_new(start, "source",
                        json_string(json_string_value(json_object_get(first, "id"))));
    json_object_set_new(start, "selector", sel);
    json_object_set_new(m, "start", start);

    int front, colo;
    named_sections(doc, &front, &colo);
    if (!front && !colo)
        return; /* no section the record names: the painting alone needs no table of contents */
    size_t n = json_array_size(items);
    long front_w = front ? fw / 10 : 0, colo_w = colo ? lw * 14 / 100 : 0;
    if (n == 1 && front_w + colo_w >= fw)
        return;
    json_t *st = json_array();
    if (front)
        json_array_append_new(st,
                              range(mbase, "frontispiece", "Frontispiece", "引首",
                                    json_pack("[o]", canvas_part(first, fw - front_w, front_w))));
    json_t *painting = json_array();
    for (size_t k = 0; k < n; k++) {
        const json_t *cv = json_array_get(items, k);
        long w = (long)json_integer_value(json_object_get(cv, "width"));
        long x0 = k == n - 1 ? colo_w : 0, x1 = k == 0 ? w - front_w : w;
        if (x0 == 0 && x1 == w) {
            json_t *whole = json_object();
            json_object_set_new(whole, "id",
                                json_string(json_string_value(json_object_get(cv, "id"))));
            json_object_set_new(whole, "type", json_string("Canvas"));
            json_array_append_new(painting, whole);
        } else if (x1 > x0) {
            json_array_append_new(painting, canvas_part(cv, x0, x1 - x0));
        }
    }
    json_array_append_new(st, range(mbase, "painting", "Painting", "画心", painting));
    if (colo)
        json_array_append_new(st, range(mbase, "colophons", "Colophons", "题跋",
                                        json_pack("[o]", canvas_part(last, 0, colo_w))));
    json_object_set_new(m, "structures", st);
}

/* -------------------------------------------------------- handscroll sections (issue 16) */

/* Mirador 4.0.0, Universal Viewer 4.4.0 and Clover 3.3.8 open a Manifest at a Canvas but
 * none of them honours a region of it in `start` (tests/web/scenarios/63-viewers.mjs; their
 * bundles: Mirador takes start.id || start.source, UV and Clover only a Canvas), and each of
 * them draws a painting body that has an image service from that service's info.json, i.e.
 * the whole image on whatever Canvas it paints, ignoring a region in the body's id or an
 * ImageApiSelector. So the sections view (…/manifest?view=sections) cuts a handscroll into
 * Canvases about one screen wide (4:3 of the height, equal widths), ordered from the right
 * end (viewingDirection right-to-left, §3.3), and paints each with an Image whose id is an
 * Image API request for that region (Image 3.0 §4.1 region x,y,w,h; §4.2 size w,h, at most
 * SECTION_MAX px on the longer side) and no service, which all three draw as a plain image.
 * `start` (§3.4) is the first Canvas itself, which they all honour. behavior "paged" (§3.3)
 * rather than "continuous": Mirador lays out every Canvas of a "continuous" Manifest at once
 * (its scroll view, the whole scroll again), while "paged" shows the first Canvas alone and
 * then neighbouring sections in pairs, edge to edge as on the scroll.
 * What it gives up: deep zoom past SECTION_MAX and the Image API service (and so IIIF Auth
 * probe services), annotations, scene and spectral layers, which stay on the single-Canvas
 * Manifest (danqing's own handscroll mode and any viewer that honours `start`). */
#define SECTION_MAX 4096

typedef struct {
    const dq_iiif_pimage_t *img;
    long x0, x1; /* the section's columns of img */
    char id[512];
} section_t;

/* An Image (no service) of a section's columns, as an Image API request scaled to ow x oh. */
static json_t *region_image(const dq_iiif_pctx_t *ctx, const section_t *s, long ow, long oh)
{
    json_t *im = json_object();
    json_object_set_new(im, "id",
                        url(ctx, "/iiif/3/%s/%ld,0,%ld,%lu/%ld,%ld/0/default.jpg", s->img->image_id,
                            s->x0, s->x1 - s->x0, (unsigned long)s->img->height, ow, oh));
    json_object_set_new(im, "type", json_string("Image"));
    json_object_set_new(im, "format", json_string("image/jpeg"));
    json_object_set_new(im, "width", json_integer(ow));
    json_object_set_new(im, "height", json_integer(oh));
    return im;
}

static json_t *section_canvas(const dq_iiif_pctx_t *ctx, const char *mbase, int n, int of,
                              const section_t *s)
{
    long w = s->x1 - s->x0, h = (long)s->img->height;
    double k = fmin(1.0, (double)SECTION_MAX / (double)(w > h ? w : h));
    long ow = DQ_MAX(1, lround(w * k)), oh = DQ_MAX(1, lround(h * k));
    dq_buf_t b = {0};

    json_t *body = region_image(ctx, s, ow, oh);

    json_t *anno = json_object();
    dq_buf_printf(&b, "%s/sections/annotation/%d", mbase, n);
    json_object_set_new(anno, "id", json_string(b.data));
    json_object_set_new(anno, "type", json_string("Annotation"));
    json_object_set_new(anno, "motivation", json_string("painting"));
    json_object_set_new(anno, "body", body);
    json_object_set_new(anno, "target", json_string(s->id));

    json_t *page = json_object();
    dq_buf_reset(&b);
    dq_buf_printf(&b, "%s/sections/page/%d", mbase, n);
    json_object_set_new(page, "id", json_string(b.data));
    json_object_set_new(page, "type", json_string("AnnotationPage"));
    json_object_set_new(page, "items", json_pack("[o]", anno));

    /* A small thumbnail of the section, without a service, so that a viewer's thumbnail strip
     * asks for 150 px high images instead of the section at full size. */
    long th = h < 150 ? h : 150, tw = DQ_MAX(1, lround((double)w * th / h));
    json_t *thumb = region_image(ctx, s, tw, th);

    json_t *c = json_object();
    json_object_set_new(c, "id", json_string(s->id));
    json_object_set_new(c, "type", json_string("Canvas"));
    char en[96], zh[96];
    snprintf(en, sizeof(en), "Section %d of %d, from the right", n, of);
    snprintf(zh, sizeof(zh), "第%d段（共%d段，自右起）", n, of);
    json_object_set_new(c, "label", lmap2(en, zh));
    json_object_set_new(c, "height", json_integer(h));
    json_object_set_new(c, "width", json_integer(w));
    json_object_set_new(c, "thumbnail", json_pack("[o]", thumb));
    json_object_set_new(c, "items", json_pack("[o]", page));
    dq_buf_free(&b);
    return c;
}

/* Appends to parts the Range items (§3.4 structures) covering columns [a, b) of img: whole
 * section Canvases, or a part of one by a media fragment. */
static void section_parts(json_t *parts, const section_t *secs, int n, const dq_iiif_pimage_t *img,
                          long a, long b)
{
    for (int i = 0; i < n; i++) {
        const section_t *s = &secs[i];
        long x0 = DQ_MAX(a, s->x0), x1 = b < s->x1 ? b : s->x1;
        if (s->img != img || x1 <= x0)
            continue;
        json_t *r = json_object();
        if (x0 == s->x0 && x1 == s->x1) {
            json_object_set_new(r, "id", json_string(s->id));
        } else {
            dq_buf_t f = {0};
            dq_buf_printf(&f, "%s#xywh=%ld,0,%ld,%lu", s->id, x0 - s->x0, x1 - x0,
                          (unsigned long)img->height);
            json_object_set_new(r, "id", json_string(f.data));
            dq_buf_free(&f);
        }
        json_object_set_new(r, "type", json_string("Canvas"));
        json_array_append_new(parts, r);
    }
}

/* Replaces m's items with the section Canvases of the scroll images imgs (in the record's
 * order, the rightmost first), sets start on the first and the sections' Ranges (the same
 * conventional extents as scroll_start_and_sections). */
static void scroll_sections(json_t *m, const dq_iiif_pctx_t *ctx, const char *mbase,
                            const json_t *doc, const dq_iiif_pimage_t **imgs, int n_imgs)
{
    int n = 0, cap = 0;
    section_t *secs = NULL;
    for (int i = 0; i < n_imgs; i++) {
        const dq_iiif_pimage_t *img = imgs[i];
        long W = (long)img->width, H = (long)img->height;
        long target = DQ_MAX(1, H * 4 / 3);
        long k = DQ_MAX(1, (W + target - 1) / target);
        for (long j = 0; j < k; j++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                secs = dq_xrealloc(secs, (size_t)cap * sizeof(*secs));
            }
            section_t *s = &secs[n++];
            s->img = img;
            s->x1 = W - W * j / k; /* from the right end: equal widths within one pixel */
            s->x0 = W - W * (j + 1) / k;
            snprintf(s->id, sizeof(s->id), "%s/sections/canvas/%d", mbase, n);
        }
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(items, section_canvas(ctx, mbase, i + 1, n, &secs[i]));
    json_object_set_new(m, "items", items);

    json_t *start = json_object();
    json_object_set_new(start, "id", json_string(secs[0].id));
    json_object_set_new(start, "type", json_string("Canvas"));
    json_object_set_new(m, "start", start);

    int front, colo;
    named_sections(doc, &front, &colo);
    const dq_iiif_pimage_t *first = imgs[0], *last = imgs[n_imgs - 1];
    long fw = (long)first->width, lw = (long)last->width;
    long front_w = front ? fw / 10 : 0, colo_w = colo ? lw * 14 / 100 : 0;
    if ((front || colo) && !(n_imgs == 1 && front_w + colo_w >= fw)) {
        json_t *st = json_array(), *parts;
        dq_buf_t b = {0};
        dq_buf_printf(&b, "%s/sections", mbase);
        if (front) {
            parts = json_array();
            section_parts(parts, secs, n, first, fw - front_w, fw);
            json_array_append_new(st, range(b.data, "frontispiece", "Frontispiece", "引首", parts));
        }
        parts = json_array();
        for (int k = 0; k < n_imgs; k++) {
            long w = (long)imgs[k]->width;
            long x0 = k == n_imgs - 1 ? colo_w : 0, x1 = k == 0 ? w - front_w : w;
            /* Right to left, as the sections are: their order is the reading order. */
            section_parts(parts, secs, n, imgs[k], x0, x1);
        }
        json_array_append_new(st, range(b.data, "painting", "Painting", "画心", parts));
        if (colo) {
            parts = json_array();
            section_parts(parts, secs, n, last, 0, colo_w);
            json_array_append_new(st, range(b.data, "colophons", "Colophons", "题跋", parts));
        }
        json_object_set_new(m, "structures", st);
        dq_buf_free(&b);
    }
    free(secs);
}

/* ---------------------------------------------------------------- manifests */

static int build_manifest(const char *relic_json, size_t len, const dq_iiif_pimage_t *images,
                          int n_images, const dq_iiif_pctx_t *ctx, int sections, dq_buf_t *out,
                          dq_err_t *err)
{
    json_t *doc = NULL, *m = NULL, *vd = NULL, *vt = NULL, *vs = NULL;
    dq_buf_t mbase = {0};
    const dq_iiif_pimage_t **scroll = NULL;
    int n_scroll = 0;
    int rc = -1;
    if (ctx_ok(ctx, err) < 0)
        goto out;
    doc = json_loadb(relic_json, len, 0, NULL);
    const char *id = jstr(doc, "id");
    if (!json_is_object(doc) || !id || !*id) {
        dq_err_set(err, DQ_EINVAL, 400, "presentation: the relic document has no id");
        goto out;
    }
    vd = load_vocab(ctx->dynasties_json);
    vt = load_vocab(ctx->object_types_json);
    vs = load_vocab(ctx->subjects_json);
    dq_buf_printf(&mbase, "%s" PREFIX "/", ctx->base_url);
    dq_buf_url_segment(&mbase, id);

    m = json_object();
    /* §4.6 @context first; §3.4 id and type. */
    json_object_set_new(m, "@context", json_string(CONTEXT));
    json_t *mid = manifest_url(ctx, id);
    if (sections) {
        dq_buf_t b = {0};
        dq_buf_printf(&b, "%s?view=sections", json_string_value(mid));
        json_decref(mid);
        mid = json_string(b.data);
        dq_buf_free(&b);
    }
    json_object_set_new(m, "id", mid);
    json_object_set_new(m, "type", json_string("Manifest"));
    /* §3.1 label (required); the accession number when the record has no title. */
    json_t *label = lmap_doc(json_object_get(doc, "title"));
    const char *acc = jstr(doc, "accession");
    json_object_set_new(m, "label", label ? label : lmap1("none", acc && *acc ? acc : id));
    json_t *summary = lmap_doc(json_object_get(doc, "description"));
    if (summary)
        json_object_set_new(m, "summary", summary);
    json_object_set_new(m, "metadata", metadata(doc, vd, vt, vs));
    /* §3.1 requiredStatement: the attribution a viewer must show. */
    json_t *req = json_object();
    json_object_set_new(req, "label", lmap2("Attribution", "来源"));
    dq_buf_t ben = {0}, bzh = {0};
    dq_iiif_attribution(ctx, &ben, &bzh);
    json_object_set_new(req, "value", lmap2(ben.data, bzh.data));
    dq_buf_free(&ben);
    dq_buf_free(&bzh);
    json_object_set_new(m, "requiredStatement", req);
    json_object_set_new(m, "rights", rights(jstr(doc, "rights")));
    json_object_set_new(m, "provider", provider(ctx));

    /* §3.2 navDate: the start of the date range, for timeline views (years 1..9999 only:
     * xsd:dateTime has no year 0 and BCE dates would need a sign viewers mishandle). */
    const json_t *yf = json_object_get(doc, "year_from");
    if (json_is_integer(yf) && json_integer_value(yf) >= 1 && json_integer_value(yf) <= 9999) {
        char nav[32];
        snprintf(nav, sizeof(nav), "%04lld-01-01T00:00:00Z", (long long)json_integer_value(yf));
        json_object_set_new(m, "navDate", json_string(nav));
    }

    /* §3.3 behavior and viewingDirection. A handscroll (手卷) is unrolled from right to left
     * and its images are sections of one continuous picture; an album (册页) is leafed from
     * right to left like a traditional book; anything else is a set of separate views. */
    const char *type = jstr(doc, "object_type");
    const char *behavior = "individuals";
    if (type && strcmp(type, "handscroll") == 0)
        behavior = sections ? "paged" : "continuous"; /* paged: see scroll_sections */
    else if (sections) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "relic '%s' is not a handscroll: no sections view", id);
        goto out;
    } else if (type && strcmp(type, "album_leaf") == 0)
        behavior = "paged";
    json_t *beh = json_array();
    json_array_append_new(beh, json_string(behavior));
    json_object_set_new(m, "behavior", beh);
    if (strcmp(behavior, "individuals") != 0)
        json_object_set_new(m, "viewingDirection", json_string("right-to-left"));

    /* §3.3 seeAlso: the machine-readable catalogue record; partOf: the collections. */
    json_t *see = json_object();
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s/api/relics/", ctx->base_url);
    dq_buf_url_segment(&b, id);
    json_object_set_new(see, "id", json_string(b.data));
    dq_buf_free(&b);
    json_object_set_new(see, "type", json_string("Dataset"));
    json_object_set_new(see, "label", lmap2("Catalogue record (JSON)", "目录数据（JSON）"));
    json_object_set_new(see, "format", json_string("application/json"));
    json_t *sees = json_array();
    json_array_append_new(sees, see);
    json_object_set_new(m, "seeAlso", sees);
    json_t *parts = json_array();
    json_t *all = json_object();
    json_object_set_new(all, "id", url(ctx, PREFIX "/collection/all"));
    json_object_set_new(all, "type", json_string("Collection"));
    json_object_set_new(all, "label", lmap2("All relics", "全部藏品"));
    json_array_append_new(parts, all);
    const char *dyn = jstr(doc, "dynasty");
    if (dyn && *dyn) {
        json_t *p = json_object();
        dq_buf_t pb = {0};
        dq_buf_printf(&pb, "%s" PREFIX "/collection/dynasty-", ctx->base_url);
        dq_buf_url_segment(&pb, dyn);
        json_object_set_new(p, "id", json_string(pb.data));
        dq_buf_free(&pb);
        json_object_set_new(p, "type", json_string("Collection"));
        json_object_set_new(p, "label", vocab_label(vd, dyn));
        json_array_append_new(parts, p);
    }
    json_object_set_new(m, "partOf", parts);

    /* §3.4 items: one Canvas per image of the record, in the record's order. */
    json_t *items = json_array();
    const json_t *links = json_object_get(doc, "images");
    const dq_iiif_pimage_t *first = NULL;
    size_t i;
    const json_t *link;
    json_array_foreach(links, i, link)
    {
        const char *iid = jstr(link, "image_id");
        const dq_iiif_pimage_t *img = NULL;
        for (int k = 0; iid && k < n_images; k++)
            if (images[k].image_id && strcmp(images[k].image_id, iid) == 0 && images[k].width &&
                images[k].height)
                img = &images[k];
        if (!img)
            continue;
        /* A restoration is not a canvas of its own: it is a Choice on its original's. Condition
         * captures and their change maps (issue 12, condrec/) are records of the object's
         * state for conservators, served as images but not pages of the work. The roles:
         * catalog.h dq_catalog_link_derived. */
        if (dq_catalog_link_derived(jstr(link, "role")))
            continue;
        if (!first)
            first = img;
        if (sections) {
            if (!scroll)
                scroll = dq_xcalloc(json_array_size(links), sizeof(*scroll));
            scroll[n_scroll++] = img;
            continue;
        }
        json_array_append_new(items, canvas(ctx, mbase.data, (int)json_array_size(items) + 1, img,
                                            link, restoration_of(links, images, n_images, iid)));
    }
    /* §3.2 thumbnail: the first image. */
    if (first)
        json_object_set_new(m, "thumbnail",
                            thumbnail(ctx, first->image_id, first->width, first->height));
    json_object_set_new(m, "items", items);
    if (strcmp(behavior, "continuous") == 0 && json_array_size(items))
        scroll_start_and_sections(m, mbase.data, doc, items);
    if (sections && n_scroll)
        scroll_sections(m, ctx, mbase.data, doc, scroll, n_scroll);
    /* §5.3: a Manifest MUST have at least one Canvas; a record without images has none. */
    if (json_array_size(json_object_get(m, "items")) == 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "relic '%s' has no images, so no manifest", id);
        goto out;
    }
    dump(m, out);
    rc = 0;
out:
    json_decref(m);
    json_decref(doc);
    json_decref(vd);
    json_decref(vt);
    json_decref(vs);
    dq_buf_free(&mbase);
    free(scroll);
    return rc;
}

int dq_iiif_manifest(const char *relic_json, size_t len, const dq_iiif_pimage_t *images,
                     int n_images, const dq_iiif_pctx_t *ctx, dq_buf_t *out, dq_err_t *err)
{
    return build_manifest(relic_json, len, images, n_images, ctx, 0, out, err);
}

int dq_iiif_manifest_sections(const char *relic_json, size_t len, const dq_iiif_pimage_t *images,
                              int n_images, const dq_iiif_pctx_t *ctx, dq_buf_t *out, dq_err_t *err)
{
    return build_manifest(relic_json, len, images, n_images, ctx, 1, out, err);
}

/* ---------------------------------------------------------------- collections */

void dq_iiif_collection_path(const dq_iiif_coll_t *c, int page, dq_buf_t *out)
{
    dq_buf_puts(out, PREFIX "/collection/");
    if (c->kind == DQ_IIIF_COLL_DYNASTY)
        dq_buf_puts(out, "dynasty-");
    else if (c->kind == DQ_IIIF_COLL_TYPE)
        dq_buf_puts(out, "type-");
    dq_buf_url_segment(out, c->kind == DQ_IIIF_COLL_ALL || !c->key ? "all" : c->key);
    if (page > 0)
        dq_buf_printf(out, "?page=%d", page);
}

static json_t *coll_url(const dq_iiif_pctx_t *ctx, const dq_iiif_coll_t *c, int page)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, ctx->base_url);
    dq_iiif_collection_path(c, page, &b);
    json_t *j = json_string(b.data);
    dq_buf_free(&b);
    return j;
}

/* "All relics" / "Dynasty: Song" / "Object type: Handscroll", with ", page k of n". */
static json_t *coll_label(const dq_iiif_coll_t *c, const json_t *vd, const json_t *vt, int page)
{
    dq_buf_t en = {0}, zh = {0};
    if (c->kind == DQ_IIIF_COLL_DYNASTY) {
        dq_buf_printf(&en, "Dynasty: %s", vocab_word(vd, c->key, "en"));
        dq_buf_printf(&zh, "朝代：%s", vocab_word(vd, c->key, "zh"));
    } else if (c->kind == DQ_IIIF_COLL_TYPE) {
        dq_buf_printf(&en, "Object type: %s", vocab_word(vt, c->key, "en"));
        dq_buf_printf(&zh, "类型：%s", vocab_word(vt, c->key, "zh"));
    } else {
        dq_buf_puts(&en, "All relics");
        dq_buf_puts(&zh, "全部藏品");
    }
    if (page > 0) {
        dq_buf_printf(&en, ", page %d of %d", page, c->n_pages);
        dq_buf_printf(&zh, "（第 %d 页，共 %d 页）", page, c->n_pages);
    }
    json_t *m = lmap2(en.data, zh.data);
    dq_buf_free(&en);
    dq_buf_free(&zh);
    return m;
}

/* Manifest references for the items of a search response. */
static int manifest_refs(const dq_iiif_pctx_t *ctx, const char *search_json, size_t len,
                         json_t *items, dq_err_t *err)
{
    json_t *res = search_json ? json_loadb(search_json, len, 0, NULL) : NULL;
    const json_t *list = json_object_get(res, "items");
    if (!json_is_array(list)) {
        json_decref(res);
        return dq_err_set(err, DQ_EINVAL, 400, "presentation: not a search response");
    }
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *id = jstr(e, "id");
        if (!id || !*id)
            continue;
        json_t *ref = json_object();
        json_object_set_new(ref, "id", manifest_url(ctx, id));
        json_object_set_new(ref, "type", json_string("Manifest"));
        json_t *label = lmap_doc(json_object_get(e, "title"));
        const char *acc = jstr(e, "accession");
        json_object_set_new(ref, "label", label ? label : lmap1("none", acc && *acc ? acc : id));
        /* The search layer's thumbnail is a server-relative Image API URL of image_id. */
        const char *th = jstr(e, "thumbnail"), *iid = jstr(e, "image_id");
        if (th && th[0] == '/' && iid && *iid) {
            json_t *t = json_object();
            json_object_set_new(t, "id", url(ctx, "%s", th));
            json_object_set_new(t, "type", json_string("Image"));
            json_object_set_new(t, "format", json_string("image/jpeg"));
            json_object_set_new(t, "service", image_service(ctx, iid));
            json_t *ta = json_array();
            json_array_append_new(ta, t);
            json_object_set_new(ref, "thumbnail", ta);
        }
        json_array_append_new(items, ref);
    }
    json_decref(res);
    return 0;
}

int dq_iiif_collection(const dq_iiif_coll_t *c, const char *search_json, size_t len,
                       const dq_iiif_pctx_t *ctx, dq_buf_t *out, dq_err_t *err)
{
    json_t *coll = NULL, *vd = NULL, *vt = NULL;
    int rc = -1;
    if (ctx_ok(ctx, err) < 0)
        goto out;
    if (!c || c->kind < DQ_IIIF_COLL_ALL || c->kind > DQ_IIIF_COLL_TYPE ||
        (c->kind != DQ_IIIF_COLL_ALL && (!c->key || !*c->key)) || c->n_pages < 1 || c->page < 0 ||
        c->page > c->n_pages) {
        dq_err_set(err, DQ_EINVAL, 400, "presentation: no such collection page");
        goto out;
    }
    vd = load_vocab(ctx->dynasties_json);
    vt = load_vocab(ctx->object_types_json);
    coll = json_object();
    json_object_set_new(coll, "@context", json_string(CONTEXT));
    json_object_set_new(coll, "id", coll_url(ctx, c, c->page));
    json_object_set_new(coll, "type", json_string("Collection"));
    json_object_set_new(coll, "label", coll_label(c, vd, vt, c->page));
    char sum[64];
    snprintf(sum, sizeof(sum), "%lld", (long long)c->total);
    dq_buf_t en = {0}, zh = {0};
    dq_buf_printf(&en, "%s relics", sum);
    dq_buf_printf(&zh, "%s 件藏品", sum);
    json_object_set_new(coll, "summary", lmap2(en.data, zh.data));
    dq_buf_free(&en);
    dq_buf_free(&zh);
    json_object_set_new(coll, "provider", provider(ctx));
    json_t *items = json_array();
    json_object_set_new(coll, "items", items);
    if (c->page == 0 && c->n_pages > 1) {
        /* §5.2: a Collection's items may be Collections; each page is one. */
        for (int p = 1; p <= c->n_pages; p++) {
            json_t *ref = json_object();
            json_object_set_new(ref, "id", coll_url(ctx, c, p));
            json_object_set_new(ref, "type", json_string("Collection"));
            json_object_set_new(ref, "label", coll_label(c, vd, vt, p));
            json_array_append_new(items, ref);
        }
    } else {
        if (manifest_refs(ctx, search_json, len, items, err) < 0)
            goto out;
    }
    if (c->page > 0) {
        /* §3.4 partOf the whole collection; next/prev (Activity Streams terms of the 3.0
         * context, as §5.5 uses them for Annotation Pages) between neighbouring pages. */
        json_t *parent = json_object();
        json_object_set_new(parent, "id", coll_url(ctx, c, 0));
        json_object_set_new(parent, "type", json_string("Collection"));
        json_object_set_new(parent, "label", coll_label(c, vd, vt, 0));
        json_t *parts = json_array();
        json_array_append_new(parts, parent);
        json_object_set_new(coll, "partOf", parts);
        if (c->page < c->n_pages)
            json_object_set_new(coll, "next", coll_url(ctx, c, c->page + 1));
        if (c->page > 1)
            json_object_set_new(coll, "prev", coll_url(ctx, c, c->page - 1));
    }
    dump(coll, out);
    rc = 0;
out:
    json_decref(coll);
    json_decref(vd);
    json_decref(vt);
    return rc;
}

int dq_iiif_collection_root(const char *search_json, size_t len, const dq_iiif_pctx_t *ctx,
                            dq_buf_t *out, dq_err_t *err)
{
    json_t *coll = NULL, *res = NULL, *vd = NULL, *vt = NULL;
    int rc = -1;
    if (ctx_ok(ctx, err) < 0)
        goto out;
    res = search_json ? json_loadb(search_json, len, 0, NULL) : NULL;
    if (!json_is_object(res)) {
        dq_err_set(err, DQ_EINVAL, 400, "presentation: not a search response");
        goto out;
    }
    vd = load_vocab(ctx->dynasties_json);
    vt = load_vocab(ctx->object_types_json);
    coll = json_object();
    json_object_set_new(coll, "@context", json_string(CONTEXT));
    json_object_set_new(coll, "id", url(ctx, PREFIX "/collection"));
    json_object_set_new(coll, "type", json_string("Collection"));
    json_object_set_new(coll, "label", lmap2("Collections", "藏品集"));
    json_object_set_new(coll, "provider", provider(ctx));
    json_t *items = json_array();
    json_object_set_new(coll, "items", items);
    dq_iiif_coll_t all = {.kind = DQ_IIIF_COLL_ALL, .n_pages = 1};
    json_t *ref = json_object();
    json_object_set_new(ref, "id", coll_url(ctx, &all, 0));
    json_object_set_new(ref, "type", json_string("Collection"));
    json_object_set_new(ref, "label", coll_label(&all, vd, vt, 0));
    json_array_append_new(items, ref);
    static const struct {
        const char *facet;
        int kind;
    } kinds[] = {{"dynasty", DQ_IIIF_COLL_DYNASTY}, {"object_type", DQ_IIIF_COLL_TYPE}};
    const json_t *facets = json_object_get(res, "facets");
    for (size_t k = 0; k < DQ_ARRAY_LEN(kinds); k++) {
        size_t i;
        const json_t *e;
        json_array_foreach(json_object_get(facets, kinds[k].facet), i, e)
        {
            const char *key = jstr(e, "key");
            const json_t *n = json_object_get(e, "count");
            if (!key || !*key || !json_is_integer(n) || json_integer_value(n) <= 0)
                continue;
            dq_iiif_coll_t c = {.kind = kinds[k].kind, .key = key, .n_pages = 1};
            ref = json_object();
            json_object_set_new(ref, "id", coll_url(ctx, &c, 0));
            json_object_set_new(ref, "type", json_string("Collection"));
            json_object_set_new(ref, "label", coll_label(&c, vd, vt, 0));
            json_array_append_new(items, ref);
        }
    }
    dump(coll, out);
    rc = 0;
out:
    json_decref(coll);
    json_decref(res);
    json_decref(vd);
    json_decref(vt);
    return rc;
}
