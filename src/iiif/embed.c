/*
 * embed.c: the rights and credit a downloaded image carries inside the file (issue 16), as an
 * XMP packet and as IPTC-IIM in a Photoshop image resource block. Both are built from the
 * relic document with the manifest's own rights URI and attribution (presentation.c), so the
 * page, the manifest and the file state one thing. Pure: text in, bytes out; the encoder
 * (image/render.c) attaches them, this file never sees pixels.
 *
 * Specs: XMP Specification Part 1 (2012) §7 (packet wrapper, RDF), Part 2 (dc, xmpRights,
 * photoshop namespaces); IPTC-NAA IIM 4.2 §1.5 (datasets) and the IPTC Photo Metadata
 * Standard's mapping of IIM to XMP; Adobe Photoshop File Formats, "Image resource blocks"
 * (the 8BIM wrapper, resource ID 0x0404 = IPTC-NAA record).
 */
#include "iiif.h"

#include <jansson.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* ---------------------------------------------------------------- rights names */

int dq_iiif_rights_label(const char *uri, dq_buf_t *out)
{
    static const struct {
        const char *path, *label;
    } fixed[] = {
        {"creativecommons.org/publicdomain/zero/", "CC0 public domain dedication"},
        {"creativecommons.org/publicdomain/mark/", "Public Domain Mark"},
        {"rightsstatements.org/vocab/InC-EDU/", "In copyright, educational use permitted"},
        {"rightsstatements.org/vocab/InC/", "In copyright"},
        {"rightsstatements.org/vocab/NoC-US/", "No copyright in the United States"},
        {"rightsstatements.org/vocab/CNE/", "Copyright not evaluated"},
        {"rightsstatements.org/vocab/UND/", "Copyright undetermined"},
    };
    if (!uri)
        return 0;
    const char *rest = dq_str_starts(uri, "https://")  ? uri + 8
                       : dq_str_starts(uri, "http://") ? uri + 7
                                                       : uri;
    for (size_t i = 0; i < DQ_ARRAY_LEN(fixed); i++)
        if (dq_str_starts(rest, fixed[i].path)) {
            dq_buf_puts(out, fixed[i].label);
            return 1;
        }
    /* creativecommons.org/licenses/{by-nc-sa}/{4.0}/ -> "CC BY-NC-SA 4.0 licence" */
    static const char lic[] = "creativecommons.org/licenses/";
    if (dq_str_starts(rest, lic)) {
        const char *k = rest + strlen(lic), *slash = strchr(k, '/');
        if (!slash || slash == k)
            return 0;
        const char *v = slash + 1, *vend = v;
        while ((*vend >= '0' && *vend <= '9') || *vend == '.')
            vend++;
        dq_buf_puts(out, "CC ");
        for (const char *p = k; p < slash; p++)
            dq_buf_putc(out, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
        if (vend > v) {
            dq_buf_putc(out, ' ');
            dq_buf_append(out, v, (size_t)(vend - v));
        }
        dq_buf_puts(out, " licence");
        return 1;
    }
    return 0;
}

/* Public domain statements: the file is not "marked" as rights-managed (xmpRights:Marked
 * False, as the XMP spec's "public domain" reading of the property). */
static int public_domain(const char *uri)
{
    return strstr(uri, "creativecommons.org/publicdomain/") != NULL ||
           strstr(uri, "rightsstatements.org/vocab/NoC") != NULL;
}

/* ---------------------------------------------------------------- XMP */

/* XML character data: & < > " escaped; control characters other than tab/newline dropped
 * (XML 1.0 §2.2 does not allow them). */
static void xesc(dq_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '&')
            dq_buf_puts(b, "&amp;");
        else if (ch == '<')
            dq_buf_puts(b, "&lt;");
        else if (ch == '>')
            dq_buf_puts(b, "&gt;");
        else if (ch == '"')
            dq_buf_puts(b, "&quot;");
        else if (ch >= 0x20 || ch == '\t' || ch == '\n')
            dq_buf_putc(b, (char)ch);
    }
}

/* A language alternative (XMP Part 1 §8.2.2.4): x-default first (readers that know one
 * language show it), then each language. */
static void lang_alt(dq_buf_t *b, const char *prop, const char *dflt, const char *zh,
                     const char *en)
{
    dq_buf_printf(b, "   <%s><rdf:Alt>\n    <rdf:li xml:lang=\"x-default\">", prop);
    xesc(b, dflt);
    dq_buf_puts(b, "</rdf:li>\n");
    if (zh) {
        dq_buf_puts(b, "    <rdf:li xml:lang=\"zh\">");
        xesc(b, zh);
        dq_buf_puts(b, "</rdf:li>\n");
    }
    if (en) {
        dq_buf_puts(b, "    <rdf:li xml:lang=\"en\">");
        xesc(b, en);
        dq_buf_puts(b, "</rdf:li>\n");
    }
    dq_buf_printf(b, "   </rdf:Alt></%s>\n", prop);
}

static void simple(dq_buf_t *b, const char *prop, const char *v)
{
    dq_buf_printf(b, "   <%s>", prop);
    xesc(b, v);
    dq_buf_printf(b, "</%s>\n", prop);
}

/* ---------------------------------------------------------------- IPTC-IIM */

/* One IIM dataset (IIM 4.2 §1.5.1): tag marker 0x1C, record, dataset, 2-byte big-endian
 * length, data. */
static void iim_raw(dq_buf_t *b, int rec, int ds, const void *data, size_t n)
{
    unsigned char h[5] = {0x1C, (unsigned char)rec, (unsigned char)ds, (unsigned char)(n >> 8),
                          (unsigned char)(n & 0xFF)};
    dq_buf_append(b, h, sizeof(h));
    dq_buf_append(b, data, n);
}

/* A text dataset of at most max bytes, cut on a UTF-8 character boundary (a reader that
 * meets half a character shows garbage). */
static void iim(dq_buf_t *b, int rec, int ds, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    iim_raw(b, rec, ds, s, n);
}

/* The Photoshop "image resource block" around IIM data: "Photoshop 3.0\0", then "8BIM",
 * resource id 0x0404 (IPTC-NAA), an empty Pascal name padded to even length (0x00 0x00),
 * the 4-byte big-endian size and the data padded to even length. This is what a JPEG APP13
 * segment holds and what every IPTC reader looks for. */
static void photoshop_block(dq_buf_t *out, const dq_buf_t *iim_data)
{
    static const char sig[] = "Photoshop 3.0"; /* written with its NUL */
    dq_buf_append(out, sig, sizeof(sig));
    size_t n = iim_data->len;
    unsigned char h[12] = {'8',
                           'B',
                           'I',
                           'M',
                           0x04,
                           0x04,
                           0,
                           0,
                           (unsigned char)(n >> 24),
                           (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8),
                           (unsigned char)n};
    dq_buf_append(out, h, sizeof(h));
    dq_buf_append(out, iim_data->data, n);
    if (n & 1)
        dq_buf_putc(out, 0);
}

/* ---------------------------------------------------------------- entry */

int dq_iiif_embed_meta(const char *relic_json, size_t len, const dq_iiif_pctx_t *ctx,
                       const char *page_url, dq_buf_t *xmp, dq_buf_t *iptc, dq_err_t *err)
{
    json_t *doc = json_loadb(relic_json, len, 0, NULL);
    const char *id = jstr(doc, "id");
    if (!json_is_object(doc) || !id) {
        json_decref(doc);
        return dq_err_set(err, DQ_EINVAL, 400, "embed: the relic document has no id");
    }
    const json_t *title = json_object_get(doc, "title");
    const char *tzh = jstr(title, "zh"), *ten = jstr(title, "en");
    const char *acc = jstr(doc, "accession");
    const char *tdef = tzh ? tzh : ten ? ten : acc ? acc : id;
    dq_buf_t uri = {0}, label = {0}, credit = {0}, notice = {0}, terms = {0}, by = {0};
    dq_iiif_rights_uri(jstr(doc, "rights"), &uri);
    if (!dq_iiif_rights_label(uri.data, &label))
        dq_buf_puts(&label, uri.data);
    dq_iiif_attribution(ctx, &credit, NULL);
    /* dc:rights and IIM 2:116: the statement and where it is defined. */
    dq_buf_printf(&notice, "%s: %s", label.data, uri.data);
    dq_buf_printf(&terms, "%s (%s). %s%s%s. %s", label.data, uri.data, credit.data, acc ? ", " : "",
                  acc ? acc : "", page_url ? page_url : "");

    /* Creators: the zh name, else the en name, as the page writes them. */
    const json_t *creators = json_object_get(doc, "creators");
    size_t i;
    const json_t *c;
    json_array_foreach(creators, i, c)
    {
        const json_t *nm = json_object_get(c, "name");
        const char *n = jstr(nm, "zh") ? jstr(nm, "zh") : jstr(nm, "en");
        if (!n)
            continue;
        if (by.len)
            dq_buf_puts(&by, "; ");
        dq_buf_puts(&by, n);
    }

    /* XMP Part 1 §7.3: the packet wrapper, with the UTF-8 BOM in begin and the fixed id. */
    dq_buf_puts(xmp, "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
                     "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
                     " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
                     "  <rdf:Description rdf:about=\"\"\n"
                     "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
                     "    xmlns:xmpRights=\"http://ns.adobe.com/xap/1.0/rights/\"\n"
                     "    xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\">\n");
    lang_alt(xmp, "dc:title", tdef, tzh, ten);
    if (by.len) {
        dq_buf_puts(xmp, "   <dc:creator><rdf:Seq>\n");
        json_array_foreach(creators, i, c)
        {
            const json_t *nm = json_object_get(c, "name");
            const char *n = jstr(nm, "zh") ? jstr(nm, "zh") : jstr(nm, "en");
            if (!n)
                continue;
            dq_buf_puts(xmp, "    <rdf:li>");
            xesc(xmp, n);
            if (jstr(nm, "zh") && jstr(nm, "en")) {
                dq_buf_puts(xmp, " (");
                xesc(xmp, jstr(nm, "en"));
                dq_buf_putc(xmp, ')');
            }
            dq_buf_puts(xmp, "</rdf:li>\n");
        }
        dq_buf_puts(xmp, "   </rdf:Seq></dc:creator>\n");
    }
    lang_alt(xmp, "dc:rights", notice.data, NULL, NULL);
    if (acc)
        simple(xmp, "dc:identifier", acc);
    if (page_url)
        simple(xmp, "dc:source", page_url);
    simple(xmp, "xmpRights:Marked", public_domain(uri.data) ? "False" : "True");
    simple(xmp, "xmpRights:WebStatement", uri.data);
    lang_alt(xmp, "xmpRights:UsageTerms", terms.data, NULL, NULL);
    simple(xmp, "photoshop:Credit", credit.data);
    if (page_url)
        simple(xmp, "photoshop:Source", page_url);
    /* §7.3: trailing padding lets an editor grow the packet in place; 'w' = writable. */
    dq_buf_puts(xmp, "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n");
    for (int k = 0; k < 20; k++)
        dq_buf_puts(xmp, "                                                                   \n");
    dq_buf_puts(xmp, "<?xpacket end=\"w\"?>");

    /* IIM: record 1 before record 2 (§1.5.2); 1:90 ESC % G declares UTF-8; lengths are the
     * IIM maxima so that strict readers accept them. */
    dq_buf_t d = {0};
    iim(&d, 1, 90, "\x1B%G", 3);
    static const unsigned char version[2] = {0, 4}; /* 2:00 record version 4 */
    iim_raw(&d, 2, 0, version, sizeof(version));
    iim(&d, 2, 5, tdef, 64);
    if (by.len)
        iim(&d, 2, 80, by.data, 32);
    iim(&d, 2, 110, credit.data, 32);
    if (acc)
        iim(&d, 2, 115, acc, 32);
    iim(&d, 2, 116, notice.data, 128);
    if (ten && tzh) {
        dq_buf_t cap = {0};
        dq_buf_printf(&cap, "%s / %s", tzh, ten);
        iim(&d, 2, 120, cap.data, 2000);
        dq_buf_free(&cap);
    }
    photoshop_block(iptc, &d);
    dq_buf_free(&d);
    dq_buf_free(&uri);
    dq_buf_free(&label);
    dq_buf_free(&credit);
    dq_buf_free(&notice);
    dq_buf_free(&terms);
    dq_buf_free(&by);
    json_decref(doc);
    return 0;
}
