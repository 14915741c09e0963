/*
 * relic_import.c: bulk import of relic records (dq_catalog_import). It reads JSON Lines
 * (documents as in docs/api.md, or the flat form the sample collection's metadata.jsonl
 * uses), CSV (RFC 4180) through a mapping file (docs/import.md), and The Met's MetObjects.csv
 * through a built-in mapping; each row becomes a relic document that relic_doc.c validates
 * and relic_write.c upserts by accession in transactional batches. A bad row is reported with
 * its line number and skipped; it never stops the rest. It does not open files or print (the CLI does).
 */
#include "catalog/relic_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CSV_FIELD_MAX (1024 * 1024) /* one field; beyond this the row is refused */
#define CSV_FIELDS_MAX 512
#define LINE_MAX_BYTES (4 * 1024 * 1024) /* one JSONL line or one CSV record */
#define SNIFF_MAX 4096                   /* bytes looked at to tell JSON Lines from CSV */

/* ---------------------------------------------------------------- the byte source */

/* Every reader takes its bytes from here, so that memory stays bounded whatever the input:
 * nothing below holds more than LINE_MAX_BYTES of one row (plus SNIFF_MAX of look-ahead),
 * and a row over the limit is read to its end, reported and dropped. Line breaks are LF,
 * CRLF or a lone CR (old Mac exports); `line` counts them the same way in every format.
 * The look-ahead buffer serves the format detection, which cannot rewind a pipe. */
typedef struct {
    FILE *in;
    unsigned char ahead[SNIFF_MAX]; /* bytes read before the reader started, served first */
    size_t n_ahead, pos_ahead;
    int last_ahead; /* the last byte came from ahead[] (for src_unget) */
    long line;      /* line of the next byte, 1-based */
    int64_t bytes;  /* consumed */
} src_t;

static int src_raw(src_t *s)
{
    if (s->pos_ahead < s->n_ahead) {
        s->last_ahead = 1;
        return s->ahead[s->pos_ahead++];
    }
    s->last_ahead = 0;
    return getc_unlocked(s->in); /* this thread owns the FILE for the whole import */
}

/* Gives back the byte src_raw just returned (one byte, as ungetc). */
static void src_unget(src_t *s, int ch)
{
    if (ch == EOF)
        return;
    if (s->last_ahead)
        s->pos_ahead--;
    else
        ungetc(ch, s->in);
}

/* The next byte; counts a line at LF and at a CR that no LF follows. */
static int src_getc(src_t *s)
{
    int ch = src_raw(s);
    if (ch == EOF)
        return EOF;
    s->bytes++;
    if (ch == '\n') {
        s->line++;
    } else if (ch == '\r') {
        int nx = src_raw(s);
        if (nx != '\n')
            s->line++;
        src_unget(s, nx);
    }
    return ch;
}

/* After a CR: swallows the LF of a CRLF. */
static void src_crlf(src_t *s)
{
    int nx = src_raw(s);
    if (nx == '\n') {
        s->bytes++;
        s->line++;
    } else {
        src_unget(s, nx);
    }
}

/* Skips a UTF-8 byte-order mark at the start. Returns 0, or -1 for the start of a BOM that
 * is not one (EF not followed by BB BF): that input is not UTF-8. */
static int src_skip_bom(src_t *s)
{
    int a = src_raw(s);
    if (a != 0xEF) {
        src_unget(s, a);
        return 0;
    }
    int b = src_raw(s), c = b == 0xBB ? src_raw(s) : EOF;
    s->bytes += 1 + (b != EOF) + (c != EOF);
    return b == 0xBB && c == 0xBF ? 0 : -1;
}

/* Auto-detection: JSON Lines when the first byte that is not blank (after a BOM) is '{',
 * else CSV. Reads at most SNIFF_MAX bytes into ahead[]; all of them are served again. */
static int src_sniff_jsonl(src_t *s)
{
    while (s->n_ahead < sizeof(s->ahead)) {
        int ch = getc_unlocked(s->in);
        if (ch == EOF)
            return 0;
        s->ahead[s->n_ahead++] = (unsigned char)ch;
        if (s->n_ahead <= 3 && memcmp(s->ahead, "\xEF\xBB\xBF", s->n_ahead) == 0)
            continue;
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        return ch == '{';
    }
    return 0;
}

/* ---------------------------------------------------------------- JSON Lines */

/* One line of a JSON Lines file, without its line break, NUL-terminated in l->buf. */
typedef struct {
    dq_buf_t buf;
    long no;       /* its line number */
    int too_long;  /* more than LINE_MAX_BYTES: buf holds only the start */
    size_t nul_at; /* 1-based offset of the first NUL byte, 0 if none */
} line_t;

/* Reads the next line. Returns 1 (a line), 0 at EOF. */
static int line_next(src_t *s, line_t *l)
{
    dq_buf_reset(&l->buf);
    l->no = s->line;
    l->too_long = 0;
    l->nul_at = 0;
    int ch = src_getc(s);
    if (ch == EOF)
        return 0;
    size_t n = 0;
    for (; ch != EOF && ch != '\n'; ch = src_getc(s)) {
        if (ch == '\r') {
            src_crlf(s);
            break;
        }
        n++;
        if (ch == '\0' && !l->nul_at)
            l->nul_at = n;
        if (n > LINE_MAX_BYTES)
            l->too_long = 1; /* read on to the end of the line, keep nothing more */
        else
            dq_buf_putc(&l->buf, (char)ch);
    }
    return 1;
}

/* ---------------------------------------------------------------- CSV (RFC 4180) */

/* A reader over a src_t: fields of the current record, its first line. RFC 4180 §2: records
 * end with CRLF (we also take LF and a lone CR), fields may be quoted with '"', a quoted field
 * may hold commas, line breaks and doubled quotes (""). A UTF-8 BOM before the header is
 * skipped (spreadsheet exports write one). A NUL byte makes its record bad (C strings would
 * cut the field short), and a record over LINE_MAX_BYTES is read to its end and refused. */
typedef struct {
    src_t *src;
    long rec_line; /* line where the current record started */
    dq_buf_t pool; /* field bytes, NUL-separated */
    size_t off[CSV_FIELDS_MAX];
    int n;         /* fields in the current record */
    int first;     /* before the first byte (BOM check) */
    char err[128]; /* why the current record is bad ("" when fine) */
} csv_t;

/* Keeps one byte of the current field unless the record is already over a limit. */
static void csv_put(csv_t *c, size_t start, int ch)
{
    if (c->pool.len >= LINE_MAX_BYTES) {
        if (!c->err[0])
            snprintf(c->err, sizeof(c->err), "record longer than %d bytes", LINE_MAX_BYTES);
        return;
    }
    if (c->pool.len - start >= CSV_FIELD_MAX) {
        if (!c->err[0])
            snprintf(c->err, sizeof(c->err), "field %d longer than %d bytes", c->n + 1,
                     CSV_FIELD_MAX);
        return;
    }
    if (ch == '\0' && !c->err[0])
        snprintf(c->err, sizeof(c->err), "NUL byte in field %d", c->n + 1);
    dq_buf_putc(&c->pool, (char)ch);
}

/* Reads one record. Returns 1 (a record; c->err says if it is malformed), 0 at EOF. */
static int csv_next(csv_t *c)
{
    int ch;
    c->n = 0;
    c->err[0] = '\0';
    dq_buf_reset(&c->pool);
    if (c->first) {
        c->first = 0;
        if (src_skip_bom(c->src) < 0)
            snprintf(c->err, sizeof(c->err), "a byte-order mark that is not UTF-8");
    }
    c->rec_line = c->src->line;
    ch = src_getc(c->src);
    if (ch == EOF)
        return 0;
    size_t start = 0;
    int quoted = 0, after_quote = 0;
    for (;;) {
        if (quoted) {
            if (ch == EOF) {
                snprintf(c->err, sizeof(c->err),
                         "unterminated quoted field (it runs to the end of the input)");
                break;
            }
            if (ch == '"') {
                int nx = src_getc(c->src);
                if (nx == '"') {
                    csv_put(c, start, '"');
                } else {
                    quoted = 0;
                    after_quote = 1;
                    ch = nx;
                    continue;
                }
            } else {
                csv_put(c, start, ch); /* line breaks in quotes are data, CRs included */
            }
        } else if (ch == ',' || ch == '\n' || ch == EOF || ch == '\r') {
            if (ch == '\r')
                src_crlf(c->src);
            if (c->n < CSV_FIELDS_MAX)
                c->off[c->n] = start;
            else if (!c->err[0])
                snprintf(c->err, sizeof(c->err), "more than %d fields", CSV_FIELDS_MAX);
            if (c->pool.len < LINE_MAX_BYTES) {
                c->n++;
                dq_buf_putc(&c->pool, '\0');
            } else if (!c->err[0]) {
                snprintf(c->err, sizeof(c->err), "record longer than %d bytes", LINE_MAX_BYTES);
            }
            start = c->pool.len;
            after_quote = 0;
            if (ch != ',')
                break;
        } else if (ch == '"' && c->pool.len == start && !after_quote) {
            quoted = 1;
        } else if (after_quote) {
            if (!c->err[0])
                snprintf(c->err, sizeof(c->err), "text after a closing quote");
            csv_put(c, start, ch);
        } else {
            csv_put(c, start, ch);
        }
        ch = src_getc(c->src);
    }
    if (c->n > CSV_FIELDS_MAX)
        c->n = CSV_FIELDS_MAX;
    return 1;
}

static const char *csv_field(const csv_t *c, int i)
{
    return i >= 0 && i < c->n ? c->pool.data + c->off[i] : "";
}

/* ---------------------------------------------------------------- small text helpers */

static char *trim_dup(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return dq_xstrndup(s, n);
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* Years in free text: "1085–1145", "ca. 1100", "206 B.C.", "12th century". first: the first
 * number, else the last. BCE/B.C. makes the year negative. Returns 0 when found. */
static int parse_year(const char *s, int first, int *year)
{
    int found = 0, y = 0;
    for (const char *p = s; *p;) {
        if (isdigit((unsigned char)*p)) {
            long v = strtol(p, (char **)&p, 10);
            if (v > 9999)
                continue;
            int yy = (int)v;
            const char *q = p;
            while (*q == ' ')
                q++;
            if (strncasecmp(q, "th century", 10) == 0 || strncasecmp(q, "st century", 10) == 0 ||
                strncasecmp(q, "nd century", 10) == 0 || strncasecmp(q, "rd century", 10) == 0)
                yy = first ? (yy - 1) * 100 : yy * 100 - 1;
            if (strncasecmp(q, "B.C", 3) == 0 || strncasecmp(q, "BC", 2) == 0)
                yy = -yy;
            y = yy;
            found = 1;
            if (first)
                break;
        } else {
            p++;
        }
    }
    if (!found)
        return -1;
    *year = y;
    return 0;
}

/* ---------------------------------------------------------------- JSON paths */

/* Sets the value at a dotted path ("title.zh", "dimensions_cm.height", "creators[].name.en")
 * in doc. A segment "x[]" is an array; idx picks the element (created as needed). Takes v. */
static int path_set(json_t *doc, const char *path, int idx, json_t *v)
{
    char seg[64];
    json_t *cur = doc;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof(seg)) {
            json_decref(v);
            return -1;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        int arr = n > 2 && strcmp(seg + n - 2, "[]") == 0;
        if (arr)
            seg[n - 2] = '\0';
        if (!dot) {
            if (arr) {
                json_t *a = json_object_get(cur, seg);
                if (!json_is_array(a)) {
                    a = json_array();
                    json_object_set_new(cur, seg, a);
                }
                json_array_append_new(a, v);
            } else {
                json_object_set_new(cur, seg, v);
            }
            return 0;
        }
        json_t *next;
        if (arr) {
            json_t *a = json_object_get(cur, seg);
            if (!json_is_array(a)) {
                a = json_array();
                json_object_set_new(cur, seg, a);
            }
            while ((int)json_array_size(a) <= idx)
                json_array_append_new(a, json_object());
            next = json_array_get(a, (size_t)idx);
        } else {
            next = json_object_get(cur, seg);
            if (!json_is_object(next)) {
                next = json_object();
                json_object_set_new(cur, seg, next);
            }
        }
        cur = next;
        p = dot + 1;
    }
}

/* ---------------------------------------------------------------- mapping files */

/* One target of a column (docs/import.md). */
typedef struct {
    int col;            /* CSV column index */
    char *path;         /* field path */
    char split;         /* 0: one value; else the separator */
    char transform[16]; /* "", "year", "year_from", "year_to", "int", "number", "bool",
                           "dynasty" */
    json_t *map;        /* value -> value, or NULL (borrowed from the mapping document) */
} target_t;

typedef struct {
    target_t *t;
    int n;
    json_t *defaults; /* path -> value, applied when the row leaves the field empty */
    json_t *mapping;  /* owned */
} mapping_t;

static void mapping_free(mapping_t *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->t[i].path);
    free(m->t);
    json_decref(m->mapping);
    memset(m, 0, sizeof(*m));
}

static int add_target(mapping_t *m, int col, json_t *spec, dq_err_t *err)
{
    target_t t = {.col = col};
    const char *path = NULL;
    if (json_is_string(spec)) {
        path = json_string_value(spec);
    } else if (json_is_object(spec)) {
        path = json_string_value(json_object_get(spec, "field"));
        const char *sp = json_string_value(json_object_get(spec, "split"));
        const char *tr = json_string_value(json_object_get(spec, "transform"));
        if (sp && strlen(sp) != 1)
            return dq_err_set(err, DQ_EINVAL, 400, "mapping: split must be one character");
        t.split = sp ? sp[0] : 0;
        if (tr) {
            static const char *const ok[] = {"year",   "year_from", "year_to", "int",
                                             "number", "bool",      "dynasty", "trim"};
            size_t i;
            for (i = 0; i < DQ_ARRAY_LEN(ok) && strcmp(ok[i], tr) != 0; i++)
                ;
            if (i == DQ_ARRAY_LEN(ok))
                return dq_err_set(err, DQ_EINVAL, 400, "mapping: unknown transform '%.40s'", tr);
            snprintf(t.transform, sizeof(t.transform), "%s", tr);
        }
        t.map = json_object_get(spec, "map");
        if (t.map && !json_is_object(t.map))
            return dq_err_set(err, DQ_EINVAL, 400, "mapping: map must be an object");
    }
    if (!path || !*path || strlen(path) > 120)
        return dq_err_set(err, DQ_EINVAL, 400, "mapping: each column needs a field path");
    if (strstr(path, "[]") && !t.split && !strchr(path, '.'))
        t.split = 0; /* "subject[]" without split: one element */
    t.path = dq_xstrdup(path);
    m->t = dq_xrealloc(m->t, (size_t)(m->n + 1) * sizeof(*m->t));
    m->t[m->n++] = t;
    return 0;
}

/* Builds the mapping for a CSV header. Without a mapping file the header names field paths,
 * and array paths split on ';'. */
static int mapping_build(mapping_t *m, const csv_t *hdr, const char *text, size_t len,
                         dq_err_t *err)
{
    memset(m, 0, sizeof(*m));
    if (!text) {
        for (int i = 0; i < hdr->n; i++) {
            char *h = trim_dup(csv_field(hdr, i));
            json_t *spec = strstr(h, "[]") ? json_pack("{s:s, s:s}", "field", h, "split", ";")
                                           : json_string(h);
            int r = *h ? add_target(m, i, spec, err) : 0;
            json_decref(spec);
            free(h);
            if (r < 0)
                return -1;
        }
        return 0;
    }
    json_error_t je;
    m->mapping = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!m->mapping || !json_is_object(json_object_get(m->mapping, "columns")))
        return dq_err_set(err, DQ_EINVAL, 400, "mapping: %s",
                          m->mapping ? "needs an object \"columns\"" : je.text);
    m->defaults = json_object_get(m->mapping, "defaults");
    const char *col;
    json_t *spec;
    json_object_foreach(json_object_get(m->mapping, "columns"), col, spec)
    {
        int idx = -1;
        for (int i = 0; i < hdr->n && idx < 0; i++) {
            char *h = trim_dup(csv_field(hdr, i));
            if (strcmp(h, col) == 0)
                idx = i;
            free(h);
        }
        if (idx < 0)
            return dq_err_set(err, DQ_EINVAL, 400, "mapping: no column '%.80s' in the header", col);
        if (json_is_array(spec)) { /* one column, several targets */
            size_t i;
            json_t *x;
            json_array_foreach(spec, i, x) if (add_target(m, idx, x, err) < 0) return -1;
        } else if (add_target(m, idx, spec, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One value through a target's map and transform; NULL to leave the field out. */
static json_t *transform(const target_t *t, const char *raw, char *why, size_t why_len)
{
    char *v = trim_dup(raw);
    json_t *out = NULL;
    if (!*v)
        goto out;
    if (t->map) {
        json_t *m = json_object_get(t->map, v);
        if (json_is_string(m)) {
            free(v);
            v = dq_xstrdup(json_string_value(m));
        } else if (m) {
            out = json_incref(m);
            goto out;
        }
    }
    const char *tr = t->transform;
    if (!*tr || strcmp(tr, "trim") == 0) {
        out = json_string(v);
    } else if (strcmp(tr, "year") == 0 || strcmp(tr, "year_from") == 0 ||
               strcmp(tr, "year_to") == 0) {
        int y;
        if (parse_year(v, strcmp(tr, "year_to") != 0, &y) == 0)
            out = json_integer(y);
        else
            snprintf(why, why_len, "%s: no year in '%.40s'", t->path, v);
    } else if (strcmp(tr, "int") == 0) {
        char *end;
        long x = strtol(v, &end, 10);
        if (*end)
            snprintf(why, why_len, "%s: not an integer: '%.40s'", t->path, v);
        else
            out = json_integer(x);
    } else if (strcmp(tr, "number") == 0) {
        char *end;
        double x = strtod(v, &end);
        if (*end)
            snprintf(why, why_len, "%s: not a number: '%.40s'", t->path, v);
        else
            out = json_real(x);
    } else if (strcmp(tr, "bool") == 0) {
        out = json_boolean(strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
                           strcmp(v, "1") == 0 || strcmp(v, "是") == 0);
    } else if (strcmp(tr, "dynasty") == 0) {
        const char *k = relic_dynasty_from_text(v);
        if (k)
            out = json_string(k);
        else
            snprintf(why, why_len, "%s: unknown period '%.60s'", t->path, v);
    }
out:
    free(v);
    return out;
}

/* A CSV row through a mapping into a new document; NULL with why on a row error. */
static json_t *map_row(const mapping_t *m, const csv_t *c, char *why, size_t why_len)
{
    json_t *doc = json_object();
    for (int i = 0; i < m->n && !why[0]; i++) {
        const target_t *t = &m->t[i];
        const char *raw = csv_field(c, t->col);
        if (!t->split) {
            json_t *v = transform(t, raw, why, why_len);
            if (v)
                path_set(doc, t->path, 0, v);
            continue;
        }
        char *copy = dq_xstrdup(raw), *save = NULL, sep[2] = {t->split, 0};
        int idx = 0;
        for (char *piece = strtok_r(copy, sep, &save); piece && !why[0];
             piece = strtok_r(NULL, sep, &save)) {
            json_t *v = transform(t, piece, why, why_len);
            if (!v)
                continue;
            /* "subject" with split: the field itself is the array */
            if (!strstr(t->path, "[]")) {
                json_t *a = json_object_get(doc, t->path);
                if (!json_is_array(a)) {
                    a = json_array();
                    path_set(doc, t->path, 0, a);
                }
                json_array_append_new(a, v);
            } else {
                path_set(doc, t->path, idx, v);
            }
            idx++;
        }
        free(copy);
    }
    if (why[0]) {
        json_decref(doc);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m->defaults, k, v) if (!json_object_get(doc, k))
        path_set(doc, k, 0, json_deep_copy(v));
    return doc;
}

/* ---------------------------------------------------------------- The Met (MetObjects.csv) */

enum {
    MET_NUMBER,
    MET_PUBLIC,
    MET_OBJECT_NAME,
    MET_TITLE,
    MET_CULTURE,
    MET_PERIOD,
    MET_DYNASTY,
    MET_ARTIST_ROLE,
    MET_ARTIST,
    MET_ARTIST_BEGIN,
    MET_ARTIST_END,
    MET_DATE,
    MET_BEGIN,
    MET_END,
    MET_MEDIUM,
    MET_DIMENSIONS,
    MET_CREDIT,
    MET_CLASSIFICATION,
    MET_TAGS,
    MET_N
};

static const char *const met_cols[MET_N] = {
    "Object Number",
    "Is Public Domain",
    "Object Name",
    "Title",
    "Culture",
    "Period",
    "Dynasty",
    "Artist Role",
    "Artist Display Name",
    "Artist Begin Date",
    "Artist End Date",
    "Object Date",
    "Object Begin Date",
    "Object End Date",
    "Medium",
    "Dimensions",
    "Credit Line",
    "Classification",
    "Tags",
};

/* The Met writes several artists as "A|B" in each artist column. */
static char *met_piece(const char *s, int k)
{
    for (int i = 0; i < k && s; i++) {
        s = strchr(s, '|');
        if (s)
            s++;
    }
    if (!s)
        return dq_xstrdup("");
    const char *e = strchr(s, '|');
    char *raw = e ? dq_xstrndup(s, (size_t)(e - s)) : dq_xstrdup(s);
    char *t = trim_dup(raw);
    free(raw);
    return t;
}

/* Classification (+ title, medium, object name) to our object types. */
static const char *met_object_type(const char *cls, const char *title, const char *medium,
                                   const char *oname)
{
    /* The object name says the format most reliably, then the title, then the medium
     * ("Folding fan mounted as an album leaf" is a fan). */
    const char *txt[] = {oname, title, medium};
    static const struct {
        const char *needle, *key;
    } forms[] = {{"handscroll", "handscroll"},
                 {"hanging scroll", "hanging_scroll"},
                 {"fan", "fan"},
                 {"album leaf", "album_leaf"},
                 {"album", "album_leaf"}};
    if (ci_contains(cls, "calligraphy"))
        return "calligraphy";
    if (ci_contains(cls, "painting") || !*cls)
        for (size_t i = 0; i < DQ_ARRAY_LEN(txt); i++)
            for (size_t f = 0; f < DQ_ARRAY_LEN(forms); f++)
                if (ci_contains(txt[i], forms[f].needle))
                    return forms[f].key;
    if (ci_contains(cls, "painting"))
        return "other"; /* a painting whose format the record does not say */
    if (ci_contains(cls, "ceramic") || ci_contains(cls, "porcelain"))
        return "ceramic";
    if (ci_contains(cls, "jade"))
        return "jade";
    if (ci_contains(cls, "textile"))
        return "textile";
    if (ci_contains(cls, "metalwork") && ci_contains(medium, "bronze"))
        return "bronze";
    return "other";
}

/* "H. 10 1/4 in. (26 cm); W. 9 in. (22.9 cm)" or "Image: 10 × 20 in. (25.4 × 50.8 cm)": the
 * centimetre figures in parentheses. The first pair (or H./W. singles) wins. */
static void met_dimensions(json_t *doc, const char *s)
{
    double h = 0, w = 0;
    for (const char *p = s; (p = strchr(p, '(')) != NULL; p++) {
        const char *cm = strstr(p, "cm)");
        const char *close = strchr(p, ')');
        if (!cm || !close || cm > close)
            continue;
        double a = 0, b = 0;
        char *end;
        a = strtod(p + 1, &end);
        while (*end == ' ')
            end++;
        if (strncmp(end, "\xc3\x97", 2) == 0 || *end == 'x') { /* U+00D7 × or x */
            end += *end == 'x' ? 1 : 2;
            b = strtod(end, &end);
            if (h == 0 && w == 0 && a > 0 && b > 0) {
                h = a;
                w = b;
            }
            continue;
        }
        /* a single figure: the label before it says which */
        const char *lab = p;
        while (lab > s && lab[-1] != ';' && lab[-1] != '\n')
            lab--;
        while (*lab == ' ')
            lab++;
        if (a > 0 && (strncmp(lab, "H.", 2) == 0 || strncmp(lab, "H ", 2) == 0) && h == 0)
            h = a;
        else if (a > 0 && (strncmp(lab, "W.", 2) == 0 || strncmp(lab, "W ", 2) == 0) && w == 0)
            w = a;
    }
    if (h > 0 || w > 0) {
        json_t *d = json_object();
        if (h > 0)
            json_object_set_new(d, "height", json_real(h));
        if (w > 0)
            json_object_set_new(d, "width", json_real(w));
        json_object_set_new(doc, "dimensions_cm", d);
    }
}

static json_t *met_row(const int *col, const csv_t *c, char *why, size_t why_len)
{
#define F(k) csv_field(c, col[k])
    json_t *doc = json_object();
    char *acc = trim_dup(F(MET_NUMBER));
    if (!*acc) {
        snprintf(why, why_len, "Object Number is empty");
        free(acc);
        json_decref(doc);
        return NULL;
    }
    json_object_set_new(doc, "accession", json_string(acc));
    free(acc);
    char *title = trim_dup(F(MET_TITLE));
    if (*title)
        json_object_set_new(doc, "title", json_pack("{s:s}", "en", title));
    const char *dyn = relic_dynasty_from_text(F(MET_DYNASTY));
    if (!dyn)
        dyn = relic_dynasty_from_text(F(MET_PERIOD));
    if (!dyn && *F(MET_PERIOD) == '\0')
        dyn = relic_dynasty_from_text(F(MET_CULTURE));
    if (dyn)
        json_object_set_new(doc, "dynasty", json_string(dyn));
    json_t *creators = json_array();
    int n_artists = 1;
    for (const char *p = F(MET_ARTIST); *p; p++)
        n_artists += *p == '|';
    for (int k = 0; k < DQ_MIN(n_artists, 16); k++) {
        char *name = met_piece(F(MET_ARTIST), k);
        if (!*name) {
            free(name);
            continue;
        }
        char *b = met_piece(F(MET_ARTIST_BEGIN), k), *e = met_piece(F(MET_ARTIST_END), k),
             *role = met_piece(F(MET_ARTIST_ROLE), k);
        json_t *cr = json_pack("{s:{s:s}}", "name", "en", name);
        if (*b || *e) {
            char *dates = dq_xasprintf("%s–%s", b, e);
            json_object_set_new(cr, "dates", json_string(dates));
            free(dates);
        }
        if (*role)
            json_object_set_new(cr, "role", json_string(role));
        json_array_append_new(creators, cr);
        free(name);
        free(b);
        free(e);
        free(role);
    }
    if (json_array_size(creators))
        json_object_set_new(doc, "creators", creators);
    else
        json_decref(creators);
    char *date = trim_dup(F(MET_DATE));
    if (*date)
        json_object_set_new(doc, "date_text", json_string(date));
    free(date);
    char *end;
    long yb = strtol(F(MET_BEGIN), &end, 10);
    int has_b = *F(MET_BEGIN) && !*end;
    long ye = strtol(F(MET_END), &end, 10);
    int has_e = *F(MET_END) && !*end;
    if (has_b && has_e && yb <= ye) {
        json_object_set_new(doc, "year_from", json_integer(yb));
        json_object_set_new(doc, "year_to", json_integer(ye));
    }
    char *medium = trim_dup(F(MET_MEDIUM));
    if (*medium)
        json_object_set_new(doc, "medium", json_pack("{s:s}", "en", medium));
    json_object_set_new(
        doc, "object_type",
        json_string(met_object_type(F(MET_CLASSIFICATION), title, medium, F(MET_OBJECT_NAME))));
    free(title);
    free(medium);
    met_dimensions(doc, F(MET_DIMENSIONS));
    /* Tags are "|"-separated AAT-ish words; the ones that say what a picture shows. */
    static const struct {
        const char *tag, *subject;
    } tags[] = {{"Landscapes", "landscape"},
                {"Mountains", "landscape"},
                {"Birds", "bird_and_flower"},
                {"Flowers", "bird_and_flower"},
                {"Men", "figure"},
                {"Women", "figure"},
                {"Portraits", "figure"},
                {"Horses", "animals"},
                {"Animals", "animals"},
                {"Buddhism", "religious"},
                {"Buddha", "religious"},
                {"Architecture", "architecture"}};
    json_t *subj = json_array();
    for (size_t i = 0; i < DQ_ARRAY_LEN(tags); i++) {
        if (!ci_contains(F(MET_TAGS), tags[i].tag))
            continue;
        int dup = 0;
        size_t k;
        json_t *x;
        json_array_foreach(subj, k, x) dup |= strcmp(json_string_value(x), tags[i].subject) == 0;
        if (!dup)
            json_array_append_new(subj, json_string(tags[i].subject));
    }
    if (json_array_size(subj))
        json_object_set_new(doc, "subject", subj);
    else
        json_decref(subj);
    /* Every tag is also a keyword, so that "horse" finds a work tagged "Horses". */
    json_t *kw = json_array();
    int n_tags = 1;
    for (const char *p = F(MET_TAGS); *p; p++)
        n_tags += *p == '|';
    for (int k = 0; k < DQ_MIN(n_tags, RELIC_SMALL_ARRAY_MAX); k++) {
        char *tag = met_piece(F(MET_TAGS), k);
        int ok = *tag && strlen(tag) <= 128; /* what a keyword may be (relic_doc.c) */
        for (const unsigned char *p = (const unsigned char *)tag; ok && *p; p++)
            ok = *p >= 0x20 && *p != 0x7f;
        if (ok)
            json_array_append_new(kw, json_string(tag));
        free(tag);
    }
    if (json_array_size(kw))
        json_object_set_new(doc, "keywords", kw);
    else
        json_decref(kw);
    char *credit = trim_dup(F(MET_CREDIT));
    if (*credit)
        json_object_set_new(doc, "provenance", json_pack("[{s:s}]", "text", credit));
    free(credit);
    json_object_set_new(doc, "rights",
                        json_string(strcasecmp(F(MET_PUBLIC), "true") == 0
                                        ? "http://creativecommons.org/publicdomain/zero/1.0/"
                                        : "http://rightsstatements.org/vocab/InC/1.0/"));
    return doc;
#undef F
}

/* ---------------------------------------------------------------- JSON Lines, flat form */

/* The sample collection's metadata.jsonl (src/paint/collection.c) writes flat keys
 * (title_zh, medium_en, creators[].name_zh, subject as a string, images[].file); this turns
 * such a record into a document. Keys it does not know are copied, so that validation names
 * them. Images: the main image's id is its work directory (scripts/demo.sh ingests it so);
 * links to images that are not in the catalog are dropped (lenient). */
static json_t *from_flat(json_t *in, int *lenient)
{
    json_t *d = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        static const char *const pairs[][2] = {
            {"title_zh", "title.zh"},
            {"title_en", "title.en"},
            {"title_pinyin", "title.pinyin"},
            {"medium_zh", "medium.zh"},
            {"medium_en", "medium.en"},
            {"description_zh", "description.zh"},
            {"description_en", "description.en"},
        };
        size_t i;
        for (i = 0; i < DQ_ARRAY_LEN(pairs) && strcmp(pairs[i][0], k) != 0; i++)
            ;
        if (i < DQ_ARRAY_LEN(pairs)) {
            path_set(d, pairs[i][1], 0, json_incref(v));
        } else if (strcmp(k, "date_text_en") == 0 || strcmp(k, "pixels") == 0) {
            /* no field for these: the Chinese date_text is kept, pixel size is the image's */
        } else if (strcmp(k, "subject") == 0 && json_is_string(v)) {
            json_object_set_new(d, "subject", json_pack("[O]", v));
        } else if (strcmp(k, "creators") == 0 && json_is_array(v)) {
            json_t *a = json_array(), *c;
            json_array_foreach(v, i, c)
            {
                json_t *o = json_object(), *x;
                const char *ck;
                json_object_foreach(c, ck, x)
                {
                    if (strcmp(ck, "name_zh") == 0)
                        path_set(o, "name.zh", 0, json_incref(x));
                    else if (strcmp(ck, "name_en") == 0)
                        path_set(o, "name.en", 0, json_incref(x));
                    else
                        json_object_set(o, ck, x);
                }
                json_array_append_new(a, o);
            }
            json_object_set_new(d, "creators", a);
        } else if (strcmp(k, "images") == 0 && json_is_array(v)) {
            json_t *a = json_array(), *im;
            json_array_foreach(v, i, im)
            {
                const char *file = json_string_value(json_object_get(im, "file"));
                const char *role = json_string_value(json_object_get(im, "role"));
                if (!file || !role || strcmp(role, "main") != 0) {
                    if (json_object_get(im, "image_id"))
                        json_array_append(a, im);
                    continue;
                }
                const char *slash = strchr(file, '/');
                char *iid = slash ? dq_xstrndup(file, (size_t)(slash - file)) : dq_xstrdup(file);
                json_array_append_new(a, json_pack("{s:s, s:s}", "image_id", iid, "role", role));
                free(iid);
            }
            *lenient = 1;
            if (json_array_size(a))
                json_object_set_new(d, "images", a);
            else
                json_decref(a);
        } else {
            json_object_set(d, k, v);
        }
    }
    return d;
}

/* ---------------------------------------------------------------- the driver */

/* The reader and the writer overlap (issue 15): while one batch is validated against the
 * catalog and written (relic_import_batch, on a thread of its own), the next is read, parsed
 * and validated here. On PostgreSQL the server writes the rows while the client works, and
 * before this the parsing left the server idle for a third of an import. The outcome is that
 * of one batch after the other: what the reader finds wrong in batch k + 1 (bad lines,
 * invalid documents) is held and reported only once batch k is done, in the order it was
 * found (bad lines as read, then invalid documents in row order, as relic_import_batch
 * reports them), so every callback comes from one thread at a time and in the same order;
 * a failed batch stops the import, with the next batch's rows unwritten. */

/* A bad row held for reporting (why owned). */
typedef struct {
    long line;
    char *why;
} held_t;

/* A batch on its way to the catalog: what the writer thread reads and fills. */
typedef struct {
    dq_catalog_t *cat;
    const dq_import_opts_t *o;
    const dq_actor_t *who;
    dq_import_stats_t *st;
    relic_import_row_t *rows;
    json_t **norm;
    int *written; /* per row: 1 when inserted or updated (relic_import_batch) */
    int n;
    int64_t seen, bytes; /* progress once it is written */
    int rc;
    dq_err_t err;
} wbatch_t;

typedef struct {
    dq_catalog_t *cat;
    const dq_import_opts_t *o;
    const dq_actor_t *who;
    dq_import_stats_t *st;
    relic_import_row_t *rows; /* the batch being read */
    json_t **norm;
    int *written; /* all 0 (the writer's array of the batch before, once released) */
    int n, cap;
    int64_t seen;
    held_t *held; /* bad rows of the batch being read, not yet reported */
    int n_held, cap_held;
    wbatch_t w; /* the batch being written, while busy */
    pthread_t writer;
    int busy;
} run_t;

static void hold(run_t *r, long line, char *why)
{
    if (r->n_held == r->cap_held) {
        r->cap_held = r->cap_held ? 2 * r->cap_held : 64;
        r->held = dq_xrealloc(r->held, (size_t)r->cap_held * sizeof(*r->held));
    }
    r->held[r->n_held++] = (held_t){line, why};
}

static void row_error(run_t *r, long line, const char *why)
{
    hold(r, line, dq_xstrdup(why));
}

static void *writer_main(void *arg)
{
    wbatch_t *w = arg;
    w->rc = relic_import_batch(w->cat, w->rows, w->norm, w->written, w->n, w->who,
                               w->o->dry_run, w->o->on_error, w->o->ud, w->st, &w->err);
    return NULL;
}

/* What a written batch leaves (rows[0..n), its norm and written arrays): the search dictionary
 * learns the names of the rows it wrote (ok: the batch committed; relic_dict_add), and its
 * documents are freed, by the thread that parsed them. The arrays are left empty for the next
 * batch read into them. Runs after the next batch went to the writer (flush): until then
 * both server backends would wait for it, ~7 us per row (dictionary adds, JSON frees), a few
 * per cent of a PostgreSQL import; nothing the writer does reads the dictionary (only query
 * plans do). */
static void batch_release(run_t *r, relic_import_row_t *rows, json_t **norm, int *written, int n,
                          int ok)
{
    for (int i = 0; i < n; i++) {
        if (ok && written[i] && !r->o->dry_run)
            relic_dict_add(r->cat, norm[i]);
        json_decref(rows[i].doc);
        json_decref(norm[i]);
        rows[i].doc = NULL;
        norm[i] = NULL;
        written[i] = 0;
    }
}

/* After the batch was written: 0, or -1 with its error; reports its progress. Its rows are
 * still held (batch_release). */
static int writer_done(run_t *r, dq_err_t *err)
{
    if (r->w.rc < 0) {
        *err = r->w.err;
        return -1;
    }
    if (r->o->on_progress)
        r->o->on_progress(r->o->ud, r->w.seen, r->w.bytes);
    return 0;
}

/* Waits for the batch being written (writer_done's answer; 0 when none). Its rows stay held
 * (batch_release). */
static int writer_wait(run_t *r, dq_err_t *err)
{
    if (!r->busy)
        return 0;
    pthread_join(r->writer, NULL);
    r->busy = 0;
    return writer_done(r, err);
}

/* batch_release of the writer's batch, where it is (after writer_wait). */
static void writer_release(run_t *r)
{
    batch_release(r, r->w.rows, r->w.norm, r->w.written, r->w.n, r->w.rc == 0);
    r->w.n = 0;
}

/* Hands the rows read so far to the writer: validates them here, waits for the batch before,
 * reports what this one's reading found, and starts writing it. */
static int flush(run_t *r, int64_t bytes, dq_err_t *err)
{
    for (int i = 0; i < r->n; i++) {
        char *why = NULL;
        r->norm[i] = relic_import_norm(r->rows[i].doc, &why);
        if (!r->norm[i])
            hold(r, r->rows[i].line, why);
    }
    int rc = writer_wait(r, err);
    for (int k = 0; k < r->n_held; k++) {
        if (rc == 0) {
            if (r->o->on_error)
                r->o->on_error(r->o->ud, r->held[k].line, r->held[k].why);
            r->st->failed++;
        }
        free(r->held[k].why);
    }
    r->n_held = 0;
    if (rc < 0 || r->n == 0) {
        writer_release(r);
        if (rc == 0 && r->o->on_progress)
            r->o->on_progress(r->o->ud, r->seen, bytes);
        return rc;
    }
    /* the batch goes to the writer; the reader takes the writer's old arrays, and releases
     * the batch they hold once the writer has started on this one */
    relic_import_row_t *rows = r->w.rows;
    json_t **norm = r->w.norm;
    int *written = r->w.written, old_n = r->w.n, old_ok = r->w.rc == 0;
    r->w = (wbatch_t){.cat = r->cat,
                      .o = r->o,
                      .who = r->who,
                      .st = r->st,
                      .rows = r->rows,
                      .norm = r->norm,
                      .written = r->written,
                      .n = r->n,
                      .seen = r->seen,
                      .bytes = bytes};
    r->rows = rows;
    r->norm = norm;
    r->written = written;
    r->n = 0;
    if (pthread_create(&r->writer, NULL, writer_main, &r->w) == 0) {
        r->busy = 1;
        batch_release(r, r->rows, r->norm, r->written, old_n, old_ok);
        return 0;
    }
    batch_release(r, r->rows, r->norm, r->written, old_n, old_ok);
    writer_main(&r->w); /* no thread: write it here */
    rc = writer_done(r, err);
    writer_release(r);
    return rc;
}

static int push(run_t *r, json_t *doc, long line, int lenient, int64_t bytes, dq_err_t *err)
{
    r->rows[r->n++] = (relic_import_row_t){.doc = doc, .line = line, .lenient_images = lenient};
    r->seen++;
    return r->n == r->cap ? flush(r, bytes, err) : 0;
}

static int import_jsonl(run_t *r, src_t *in, dq_err_t *err)
{
    line_t l = {0};
    int rc = -1;
    if (src_skip_bom(in) < 0) {
        dq_err_set(err, DQ_EINVAL, 400, "import: a byte-order mark that is not UTF-8");
        goto out;
    }
    while (line_next(in, &l)) {
        const char *p = l.buf.data ? l.buf.data : "";
        char why[200];
        if (l.too_long) {
            snprintf(why, sizeof(why), "line longer than %d bytes", LINE_MAX_BYTES);
        } else if (l.nul_at) {
            /* JSON has no raw NUL; C strings would also hide whatever follows it */
            snprintf(why, sizeof(why), "NUL byte at column %zu", l.nul_at);
        } else {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p)
                continue; /* blank lines are allowed (and a final line break) */
            json_error_t je;
            json_t *j = json_loads(p, JSON_REJECT_DUPLICATES, &je);
            if (json_is_object(j)) {
                int lenient = 0;
                if (!json_object_get(j, "title") &&
                    (json_object_get(j, "title_zh") || json_object_get(j, "title_en"))) {
                    json_t *d = from_flat(j, &lenient);
                    json_decref(j);
                    j = d;
                }
                if (push(r, j, l.no, lenient, in->bytes, err) < 0)
                    goto out;
                continue;
            }
            snprintf(why, sizeof(why), "not a JSON object: %s", j ? "another JSON value" : je.text);
            json_decref(j);
        }
        r->seen++;
        row_error(r, l.no, why);
    }
    if (ferror(in->in)) {
        dq_err_set(err, DQ_EIO, 500, "import: read error");
        goto out;
    }
    rc = flush(r, in->bytes, err);
out:
    dq_buf_free(&l.buf);
    return rc;
}

/* The columns of The Met's layout in a CSV header; 0 when it has them all that met_row
 * requires (Object Number and Title), else -1. */
static int met_columns(const csv_t *c, int col[MET_N])
{
    for (int k = 0; k < MET_N; k++) {
        col[k] = -1;
        for (int i = 0; i < c->n; i++) {
            char *h = trim_dup(csv_field(c, i));
            if (strcmp(h, met_cols[k]) == 0)
                col[k] = i;
            free(h);
        }
    }
    return col[MET_NUMBER] >= 0 && col[MET_TITLE] >= 0 ? 0 : -1;
}

static int import_csv(run_t *r, src_t *in, int met, dq_err_t *err)
{
    csv_t c = {.src = in, .first = 1};
    mapping_t m = {0};
    int col[MET_N];
    int rc = -1;
    if (!csv_next(&c)) {
        dq_err_set(err, DQ_EINVAL, 400, "import: empty CSV (a header line is required)");
        goto out;
    }
    if (c.err[0]) {
        dq_err_set(err, DQ_EINVAL, 400, "import: header: %s", c.err);
        goto out;
    }
    int n_cols = c.n;
    /* A header that is The Met's is read as The Met's whatever the format said, unless a
     * mapping names its columns: without one its cells ("Object Number") would be taken for
     * field paths and every row refused. */
    if (!met && !r->o->mapping_json && met_columns(&c, col) == 0)
        met = 1;
    if (met) {
        if (met_columns(&c, col) < 0) {
            dq_err_set(err, DQ_EINVAL, 400,
                       "import: not a MetObjects.csv header (needs Object Number and Title)");
            goto out;
        }
    } else if (mapping_build(&m, &c, r->o->mapping_json, r->o->mapping_len, err) < 0) {
        goto out;
    }
    while (csv_next(&c)) {
        char why[256] = "";
        if (c.n == 1 && c.pool.data[0] == '\0' && !c.err[0])
            continue; /* an empty line */
        if (c.err[0]) {
            snprintf(why, sizeof(why), "%s", c.err);
        } else if (c.n != n_cols) {
            snprintf(why, sizeof(why), "%d fields where the header has %d", c.n, n_cols);
        }
        json_t *doc = NULL;
        if (!why[0])
            doc = met ? met_row(col, &c, why, sizeof(why)) : map_row(&m, &c, why, sizeof(why));
        if (!doc) {
            r->seen++;
            row_error(r, c.rec_line, why[0] ? why : "cannot map the row");
            continue;
        }
        if (push(r, doc, c.rec_line, 0, in->bytes, err) < 0)
            goto out;
    }
    if (ferror(in->in)) {
        dq_err_set(err, DQ_EIO, 500, "import: read error");
        goto out;
    }
    rc = flush(r, in->bytes, err);
out:
    mapping_free(&m);
    dq_buf_free(&c.pool);
    return rc;
}

int dq_catalog_import(dq_catalog_t *cat, FILE *in, const dq_import_opts_t *opts,
                      const dq_actor_t *who, dq_import_stats_t *st, dq_err_t *err)
{
    run_t r = {.cat = cat, .o = opts, .who = who, .st = st};
    int rc = -1;
    memset(st, 0, sizeof(*st));
    if (!who || who->role < DQ_ROLE_CURATOR)
        return dq_err_set(err, DQ_EINVAL, 403, "importing records needs the curator role");
    r.cap = opts->batch_rows > 0 ? DQ_MIN(opts->batch_rows, 100000) : 10000;
    r.rows = dq_xcalloc((size_t)r.cap, sizeof(*r.rows));
    r.norm = dq_xcalloc((size_t)r.cap, sizeof(*r.norm));
    r.w.rows = dq_xcalloc((size_t)r.cap, sizeof(*r.w.rows));
    r.w.norm = dq_xcalloc((size_t)r.cap, sizeof(*r.w.norm));
    r.written = dq_xcalloc((size_t)r.cap, sizeof(*r.written));
    r.w.written = dq_xcalloc((size_t)r.cap, sizeof(*r.w.written));
    src_t *src = dq_xcalloc(1, sizeof(*src));
    src->in = in;
    src->line = 1;
    int format = opts->format;
    if (format == DQ_IMPORT_AUTO)
        format = src_sniff_jsonl(src) ? DQ_IMPORT_JSONL : DQ_IMPORT_CSV;
    switch (format) {
    case DQ_IMPORT_JSONL:
        rc = import_jsonl(&r, src, err);
        break;
    case DQ_IMPORT_CSV:
        rc = import_csv(&r, src, 0, err);
        break;
    case DQ_IMPORT_MET:
        rc = import_csv(&r, src, 1, err);
        break;
    default:
        dq_err_set(err, DQ_EINVAL, 400, "import: unknown format");
    }
    /* the last batch (after a failure too: its thread must end before its rows go) */
    dq_err_t werr = {0};
    if (writer_wait(&r, &werr) < 0 && rc == 0) {
        *err = werr;
        rc = -1;
    }
    writer_release(&r);
    /* The searches right after an import should cost what later ones do (store.h: settle).
     * Its failure loses nothing (autovacuum folds the buffer later): the import stands. */
    const dq_store_backend_t *b = dq_catalog_backend(cat);
    if (rc == 0 && !opts->dry_run && st->inserted + st->updated > 0 && b->relics->settle) {
        int64_t t0 = dq_now_us();
        dq_err_t serr = {0};
        if (b->relics->settle(dq_catalog_impl(cat), &st->settled_pages, &serr) == 0)
            st->settle_us = dq_now_us() - t0;
    }
    for (int k = 0; k < r.n_held; k++) /* unreported only when the import failed */
        free(r.held[k].why);
    free(r.held);
    for (int i = 0; i < r.n; i++) {
        json_decref(r.rows[i].doc);
        json_decref(r.norm[i]);
    }
    free(r.rows);
    free(r.norm);
    free(r.w.rows);
    free(r.w.norm);
    free(r.written);
    free(r.w.written);
    free(src);
    return rc;
}
