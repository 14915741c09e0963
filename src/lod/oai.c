/*
 * oai.c: OAI-PMH 2.0 (openarchives.org, protocol version 2.0 of 2002-06-14, 2015 update) as
 * pure functions: the request parser with the argument rules of §3.1 and §4 and the error
 * codes of §3.6, resumption tokens (§3.5), and the XML of responses, record headers, Dublin
 * Core (§6.2, oai_dc) and LIDO 1.0 records (lido-schema.org, the harvesting format Europeana
 * ingests). It reads no catalog: http/oai.c asks the catalog and calls these.
 *
 * Resumption tokens are stateless: the hex text of the list request's own arguments plus the
 * last id sent and the count so far, so a harvester may resume a list any time later, on any
 * server process, and a token that was tampered with decodes to a badResumptionToken or to
 * another valid list request (never to anything a plain request could not ask for).
 */
#include "lod/lod.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

const char *dq_oai_error_code(int code)
{
    static const char *const names[] = {
        "",
        "badArgument",
        "badResumptionToken",
        "badVerb",
        "cannotDisseminateFormat",
        "idDoesNotExist",
        "noRecordsMatch",
        "noMetadataFormats",
        "noSetHierarchy",
    };
    return code >= 0 && (size_t)code < DQ_ARRAY_LEN(names) ? names[code] : "badArgument";
}

/* ---------------------------------------------------------------- request parsing */

static const struct {
    const char *name;
    int verb;
} verbs[] = {
    {"Identify", DQ_OAI_IDENTIFY},
    {"ListMetadataFormats", DQ_OAI_LIST_METADATA_FORMATS},
    {"ListSets", DQ_OAI_LIST_SETS},
    {"ListIdentifiers", DQ_OAI_LIST_IDENTIFIERS},
    {"ListRecords", DQ_OAI_LIST_RECORDS},
    {"GetRecord", DQ_OAI_GET_RECORD},
};

/* The arguments of §3.1.1; a bit each, to tell repeats and illegal combinations. */
enum {
    A_VERB = 1,
    A_IDENTIFIER = 2,
    A_PREFIX = 4,
    A_FROM = 8,
    A_UNTIL = 16,
    A_SET = 32,
    A_TOKEN = 64,
};
static const struct {
    const char *name;
    int bit;
} args[] = {
    {"verb", A_VERB},   {"identifier", A_IDENTIFIER}, {"metadataPrefix", A_PREFIX},
    {"from", A_FROM},   {"until", A_UNTIL},           {"set", A_SET},
    {"resumptionToken", A_TOKEN},
};

/* Per verb (§4): the arguments it requires and those it allows. A resumptionToken is
 * exclusive: it allows only the verb beside it. */
static void verb_rules(int verb, int *required, int *allowed)
{
    switch (verb) {
    case DQ_OAI_IDENTIFY:
        *required = A_VERB, *allowed = A_VERB;
        break;
    case DQ_OAI_LIST_METADATA_FORMATS:
        *required = A_VERB, *allowed = A_VERB | A_IDENTIFIER;
        break;
    case DQ_OAI_LIST_SETS:
        *required = A_VERB, *allowed = A_VERB | A_TOKEN;
        break;
    case DQ_OAI_LIST_IDENTIFIERS:
    case DQ_OAI_LIST_RECORDS:
        *required = A_VERB | A_PREFIX,
        *allowed = A_VERB | A_PREFIX | A_FROM | A_UNTIL | A_SET | A_TOKEN;
        break;
    default: /* GetRecord */
        *required = A_VERB | A_IDENTIFIER | A_PREFIX, *allowed = A_VERB | A_IDENTIFIER | A_PREFIX;
        break;
    }
}

/* Copies s into d (cap bytes), cut to fit; callers check lengths where a cut would matter. */
static void cpy(char *d, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    memcpy(d, s, n);
    d[n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Form-decodes s[0..n) ('+' is a space, %XX a byte) into out (cap bytes, NUL-terminated).
 * -1 when it does not fit, has a bad escape or decodes to a NUL or control byte. */
static int form_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* A UTCdatetime of §3.3.1 in either granularity, normalized into out (21 bytes):
 * "YYYY-MM-DD" widens to the day's first (until: last) second. Returns the granularity (1
 * day, 2 seconds) or 0 when malformed. */
static int parse_date(const char *s, int until, char out[24])
{
    size_t n = strlen(s);
    if (n != 10 && n != 20)
        return 0;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return 0;
    int mo = num(s + 5, 2), d = num(s + 8, 2);
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    if (n == 10) {
        snprintf(out, 24, "%.10s%s", s, until ? "T23:59:59Z" : "T00:00:00Z");
        return 1;
    }
    if (s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2) || s[19] != 'Z')
        return 0;
    if (num(s + 11, 2) > 23 || num(s + 14, 2) > 59 || num(s + 17, 2) > 59)
        return 0;
    memcpy(out, s, 20);
    out[20] = '\0';
    return 2;
}

/* A vocabulary-like key: [a-z0-9_]{1,63}. */
static int key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n >= DQ_OAI_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return 0;
    return 1;
}

/* setSpec (§2.7.2): "dynasty", "dynasty:{key}", "type", "type:{key}". 0 ok, -1 not one of
 * ours (then r->set_kind is -1: no record can match). */
static int parse_set(const char *s, dq_oai_req_t *r)
{
    static const struct {
        const char *top;
        int all, one;
    } sets[] = {{"dynasty", DQ_OAI_SET_DYNASTY_ALL, DQ_OAI_SET_DYNASTY},
                {"type", DQ_OAI_SET_TYPE_ALL, DQ_OAI_SET_TYPE}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(sets); i++) {
        size_t n = strlen(sets[i].top);
        if (strncmp(s, sets[i].top, n) != 0)
            continue;
        if (s[n] == '\0') {
            r->set_kind = sets[i].all;
            return 0;
        }
        if (s[n] == ':' && key_ok(s + n + 1)) {
            r->set_kind = sets[i].one;
            cpy(r->set_key, sizeof(r->set_key), s + n + 1);
            return 0;
        }
    }
    r->set_kind = -1;
    return -1;
}

static int parse_prefix(const char *s)
{
    if (strcmp(s, "oai_dc") == 0)
        return DQ_OAI_DC;
    if (strcmp(s, "lido") == 0)
        return DQ_OAI_LIDO;
    return 0;
}

/* Token payload (before hex): "1|prefix|set_kind|set_key|from|until|cursor|after". */
static int token_decode(const char *tok, dq_oai_req_t *r)
{
    size_t n = strlen(tok);
    char raw[512];
    if (n == 0 || n % 2 || n / 2 >= sizeof(raw))
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval(tok[2 * i]), l = hexval(tok[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        raw[i] = (char)(h * 16 + l);
        if ((unsigned char)raw[i] < 0x20)
            return -1;
    }
    raw[n / 2] = '\0';
    char *f[8];
    int nf = 0;
    char *p = raw;
    while (nf < 8) {
        f[nf++] = p;
        char *bar = strchr(p, '|');
        if (!bar)
            break;
        *bar = '\0';
        p = bar + 1;
    }
    if (nf != 8 || strcmp(f[0], "1") != 0)
        return -1;
    r->prefix = parse_prefix(f[1]);
    if (!r->prefix)
        return -1;
    if (!digits(f[2], 1) || strlen(f[2]) != 1)
        return -1;
    r->set_kind = f[2][0] - '0';
    if (r->set_kind > DQ_OAI_SET_TYPE)
        return -1;
    int keyed = r->set_kind == DQ_OAI_SET_DYNASTY || r->set_kind == DQ_OAI_SET_TYPE;
    if (keyed ? !key_ok(f[3]) : f[3][0] != '\0')
        return -1;
    cpy(r->set_key, sizeof(r->set_key), f[3]);
    char tmp[24];
    if (*f[4] && (strlen(f[4]) != 20 || parse_date(f[4], 0, tmp) != 2))
        return -1;
    if (*f[5] && (strlen(f[5]) != 20 || parse_date(f[5], 1, tmp) != 2))
        return -1;
    cpy(r->from, sizeof(r->from), f[4]);
    cpy(r->until, sizeof(r->until), f[5]);
    size_t cl = strlen(f[6]);
    if (cl == 0 || cl > 12 || !digits(f[6], (int)cl))
        return -1;
    r->cursor = 0;
    for (size_t i = 0; i < cl; i++)
        r->cursor = r->cursor * 10 + (f[6][i] - '0');
    if (strlen(f[7]) == 0 || strlen(f[7]) >= sizeof(r->after))
        return -1;
    cpy(r->after, sizeof(r->after), f[7]);
    r->resumed = 1;
    return 0;
}

void dq_oai_token(const dq_oai_req_t *r, const char *last, int64_t cursor, dq_buf_t *out)
{
    dq_buf_t raw = {0};
    dq_buf_printf(&raw, "1|%s|%d|%s|%s|%s|%lld|%s", r->prefix == DQ_OAI_LIDO ? "lido" : "oai_dc",
                  r->set_kind < 0 ? 0 : r->set_kind, r->set_key, r->from, r->until,
                  (long long)cursor, last);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < raw.len; i++) {
        dq_buf_putc(out, hex[(unsigned char)raw.data[i] >> 4]);
        dq_buf_putc(out, hex[(unsigned char)raw.data[i] & 15]);
    }
    dq_buf_free(&raw);
}

#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(msg, msg_cap, __VA_ARGS__);                                                       \
        return (code);                                                                             \
    } while (0)

int dq_oai_parse(const char *query, size_t len, dq_oai_req_t *r, char *msg, size_t msg_cap)
{
    memset(r, 0, sizeof(*r));
    if (msg_cap)
        msg[0] = '\0';
    char val[7][512];
    int seen = 0, repeated = 0, unknown = 0, bad_value = 0;
    char unknown_name[48] = "";
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && query[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && query[eq] != '=')
                eq++;
            char key[48];
            if (form_decode(query + i, eq - i, key, sizeof(key)) < 0) {
                unknown = 1;
                snprintf(unknown_name, sizeof(unknown_name), "?");
            } else {
                size_t a;
                for (a = 0; a < DQ_ARRAY_LEN(args) && strcmp(args[a].name, key) != 0; a++)
                    ;
                if (a == DQ_ARRAY_LEN(args)) {
                    unknown = 1;
                    cpy(unknown_name, sizeof(unknown_name), key);
                } else {
                    if (seen & args[a].bit)
                        repeated |= args[a].bit;
                    seen |= args[a].bit;
                    size_t vs = eq < end ? eq + 1 : end;
                    if (form_decode(query + vs, end - vs, val[a], sizeof(val[a])) < 0 ||
                        (eq == end))
                        bad_value |= args[a].bit;
                }
            }
        }
        i = end + 1;
    }
    /* §3.6: a missing, repeated or illegal verb is badVerb, whatever else is wrong. */
    if (!(seen & A_VERB) || (repeated & A_VERB) || (bad_value & A_VERB))
        FAIL(DQ_OAI_BAD_VERB, (seen & A_VERB) ? "the verb argument is repeated or malformed"
                                              : "the verb argument is missing");
    for (size_t v = 0; v < DQ_ARRAY_LEN(verbs); v++)
        if (strcmp(verbs[v].name, val[0]) == 0)
            r->verb = verbs[v].verb;
    if (!r->verb)
        FAIL(DQ_OAI_BAD_VERB, "'%.60s' is not an OAI-PMH verb", val[0]);
    cpy(r->echo_verb, sizeof(r->echo_verb), val[0]);
    if (unknown)
        FAIL(DQ_OAI_BAD_ARGUMENT, "'%s' is not an argument of OAI-PMH", unknown_name);
    if (repeated)
        FAIL(DQ_OAI_BAD_ARGUMENT, "an argument is repeated");
    /* A token that is not even text we could have written is a bad token (§3.5). */
    if (bad_value == A_TOKEN && seen == (A_VERB | A_TOKEN))
        FAIL(DQ_OAI_BAD_RESUMPTION_TOKEN, "the resumptionToken is invalid");
    if (bad_value)
        FAIL(DQ_OAI_BAD_ARGUMENT, "an argument has an empty or malformed value");
    int required, allowed;
    verb_rules(r->verb, &required, &allowed);
    if (seen & ~allowed)
        FAIL(DQ_OAI_BAD_ARGUMENT, "%s does not take that argument", val[0]);
    if (seen & A_TOKEN) {
        if (seen != (A_VERB | A_TOKEN))
            FAIL(DQ_OAI_BAD_ARGUMENT, "resumptionToken is an exclusive argument");
        /* ListSets never hands out tokens, so none can be valid for it. */
        if (r->verb == DQ_OAI_LIST_SETS || token_decode(val[6], r) < 0)
            FAIL(DQ_OAI_BAD_RESUMPTION_TOKEN, "the resumptionToken is invalid");
        return DQ_OAI_OK;
    }
    if ((seen & required) != required)
        FAIL(DQ_OAI_BAD_ARGUMENT, "%s needs %s", val[0],
             (required & ~seen & A_IDENTIFIER) ? "an identifier" : "a metadataPrefix");
    if (seen & A_IDENTIFIER)
        cpy(r->identifier, sizeof(r->identifier), val[1]);
    if ((seen & A_IDENTIFIER) && strlen(val[1]) >= sizeof(r->identifier))
        FAIL(DQ_OAI_ID_DOES_NOT_EXIST, "no such identifier");
    int gf = 0, gu = 0;
    if (seen & A_FROM) {
        gf = parse_date(val[3], 0, r->from);
        if (!gf)
            FAIL(DQ_OAI_BAD_ARGUMENT, "from is not a UTC date (YYYY-MM-DD[Thh:mm:ssZ])");
    }
    if (seen & A_UNTIL) {
        gu = parse_date(val[4], 1, r->until);
        if (!gu)
            FAIL(DQ_OAI_BAD_ARGUMENT, "until is not a UTC date (YYYY-MM-DD[Thh:mm:ssZ])");
    }
    if (gf && gu && gf != gu)
        FAIL(DQ_OAI_BAD_ARGUMENT, "from and until must have the same granularity");
    if (gf && gu && strcmp(r->from, r->until) > 0)
        FAIL(DQ_OAI_BAD_ARGUMENT, "from is later than until");
    if (seen & A_SET)
        parse_set(val[5], r); /* an unknown set matches nothing (noRecordsMatch) */
    if (seen & A_PREFIX) {
        r->prefix = parse_prefix(val[2]);
        if (!r->prefix)
            FAIL(DQ_OAI_CANNOT_DISSEMINATE_FORMAT, "metadataPrefix must be oai_dc or lido");
    }
    return DQ_OAI_OK;
}

/* ---------------------------------------------------------------- identifiers */

/* The host part of base_url ("http://h:p/x" -> "h:p" without the port: §2.4 wants a domain
 * name; a port is not part of it). */
static void host_of(const char *base_url, char *out, size_t cap)
{
    const char *h = strstr(base_url, "://");
    h = h ? h + 3 : base_url;
    size_t n = strcspn(h, ":/");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

void dq_oai_identifier(const char *base_url, const char *relic_id, dq_buf_t *out)
{
    char host[256];
    host_of(base_url, host, sizeof(host));
    dq_buf_printf(out, "oai:%s:%s", host, relic_id);
}

int dq_oai_identifier_parse(const char *base_url, const char *oai_id, char *out, size_t cap)
{
    char host[256];
    host_of(base_url, host, sizeof(host));
    size_t hl = strlen(host);
    if (strncmp(oai_id, "oai:", 4) != 0 || strncmp(oai_id + 4, host, hl) != 0 ||
        oai_id[4 + hl] != ':')
        return -1;
    const char *id = oai_id + 5 + hl;
    if (!*id || strlen(id) >= cap)
        return -1;
    snprintf(out, cap, "%s", id);
    return 0;
}

/* ---------------------------------------------------------------- XML */

void dq_lod_xml_text(dq_buf_t *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            dq_buf_puts(out, "&amp;");
            break;
        case '<':
            dq_buf_puts(out, "&lt;");
            break;
        case '>':
            dq_buf_puts(out, "&gt;");
            break;
        case '"':
            dq_buf_puts(out, "&quot;");
            break;
        case '\'':
            dq_buf_puts(out, "&apos;");
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                break; /* not allowed in XML 1.0 */
            dq_buf_putc(out, (char)c);
        }
    }
}

static void xs(dq_buf_t *out, const char *s)
{
    if (s)
        dq_lod_xml_text(out, s, strlen(s));
}

void dq_oai_open(dq_buf_t *out, const char *base_url, const char *now_utc, const dq_oai_req_t *r,
                 int error_code)
{
    dq_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\""
                     " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                     " xsi:schemaLocation=\"http://www.openarchives.org/OAI/2.0/"
                     " http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd\">\n");
    dq_buf_printf(out, "<responseDate>%s</responseDate>\n<request", now_utc);
    /* §3.2: badVerb and badArgument answers echo no attributes. */
    if (r && r->verb && error_code != DQ_OAI_BAD_VERB && error_code != DQ_OAI_BAD_ARGUMENT) {
        dq_buf_printf(out, " verb=\"%s\"", r->echo_verb);
        if (r->resumed) {
            dq_buf_puts(out, " resumptionToken=\"");
            dq_oai_token(r, r->after, r->cursor, out);
            dq_buf_putc(out, '"');
        } else {
            if (r->identifier[0]) {
                dq_buf_puts(out, " identifier=\"");
                xs(out, r->identifier);
                dq_buf_putc(out, '"');
            }
            if (r->prefix)
                dq_buf_printf(out, " metadataPrefix=\"%s\"",
                              r->prefix == DQ_OAI_LIDO ? "lido" : "oai_dc");
            if (r->from[0])
                dq_buf_printf(out, " from=\"%s\"", r->from);
            if (r->until[0])
                dq_buf_printf(out, " until=\"%s\"", r->until);
            if (r->set_kind > 0)
                dq_buf_printf(out, " set=\"%s%s%s\"",
                              r->set_kind <= DQ_OAI_SET_DYNASTY ? "dynasty" : "type",
                              r->set_key[0] ? ":" : "", r->set_key);
        }
    }
    dq_buf_putc(out, '>');
    xs(out, base_url);
    dq_buf_puts(out, "/oai</request>\n");
}

void dq_oai_close(dq_buf_t *out) { dq_buf_puts(out, "</OAI-PMH>\n"); }

void dq_oai_error(dq_buf_t *out, int code, const char *msg)
{
    dq_buf_printf(out, "<error code=\"%s\">", dq_oai_error_code(code));
    xs(out, msg);
    dq_buf_puts(out, "</error>\n");
}

void dq_oai_header(dq_buf_t *out, const char *base_url, const char *relic_id,
                   const char *datestamp, const char *dynasty, const char *object_type,
                   int deleted)
{
    dq_buf_puts(out, deleted ? "<header status=\"deleted\"><identifier>" : "<header><identifier>");
    dq_buf_t id = {0};
    dq_oai_identifier(base_url, relic_id, &id);
    xs(out, id.data);
    dq_buf_free(&id);
    dq_buf_printf(out, "</identifier><datestamp>%s</datestamp>", datestamp);
    if (dynasty && *dynasty) {
        dq_buf_puts(out, "<setSpec>dynasty</setSpec><setSpec>dynasty:");
        xs(out, dynasty);
        dq_buf_puts(out, "</setSpec>");
    }
    if (object_type && *object_type) {
        dq_buf_puts(out, "<setSpec>type</setSpec><setSpec>type:");
        xs(out, object_type);
        dq_buf_puts(out, "</setSpec>");
    }
    dq_buf_puts(out, "</header>");
}

void dq_oai_formats(dq_buf_t *out)
{
    dq_buf_puts(out,
                "<ListMetadataFormats>"
                "<metadataFormat><metadataPrefix>oai_dc</metadataPrefix>"
                "<schema>http://www.openarchives.org/OAI/2.0/oai_dc.xsd</schema>"
                "<metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/"
                "</metadataNamespace></metadataFormat>"
                "<metadataFormat><metadataPrefix>lido</metadataPrefix>"
                "<schema>http://www.lido-schema.org/schema/v1.0/lido-v1.0.xsd</schema>"
                "<metadataNamespace>http://www.lido-schema.org</metadataNamespace>"
                "</metadataFormat></ListMetadataFormats>\n");
}

static void set_entries(dq_buf_t *out, const char *vocab_json, const char *top, const char *what)
{
    json_t *v = vocab_json ? json_loads(vocab_json, 0, NULL) : NULL;
    dq_buf_printf(out, "<set><setSpec>%s</setSpec><setName>%s</setName></set>", top, what);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        const char *en = json_string_value(json_object_get(e, "en"));
        const char *zh = json_string_value(json_object_get(e, "zh"));
        if (!k)
            continue;
        dq_buf_printf(out, "<set><setSpec>%s:", top);
        xs(out, k);
        dq_buf_puts(out, "</setSpec><setName>");
        xs(out, en ? en : k);
        if (zh) {
            dq_buf_puts(out, " ");
            xs(out, zh);
        }
        dq_buf_puts(out, "</setName></set>");
    }
    json_decref(v);
}

void dq_oai_sets(dq_buf_t *out, const dq_lod_ctx_t *ctx)
{
    dq_buf_puts(out, "<ListSets>");
    set_entries(out, ctx->dynasties_json, "dynasty", "Dynasties");
    set_entries(out, ctx->object_types_json, "type", "Object types");
    dq_buf_puts(out, "</ListSets>\n");
}

/* ---------------------------------------------------------------- records */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

/* The en label of a vocabulary key (else the key); *hold keeps the parsed vocabulary. */
static const char *vocab_en(const char *vocab_json, const char *key, json_t **hold)
{
    if (!*hold && vocab_json)
        *hold = json_loads(vocab_json, 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(*hold, i, e)
    {
        const char *k = jstr(e, "key");
        if (k && strcmp(k, key) == 0)
            return jstr(e, "en") ? jstr(e, "en") : key;
    }
    return key;
}

/* <tag xml:lang="l">text</tag> for each language of a map. */
static void lang_elems(dq_buf_t *out, const json_t *map, const char *tag, const char *attr)
{
    static const char *const langs[] = {"zh", "en"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(langs); i++) {
        const char *s = jstr(map, langs[i]);
        if (!s)
            continue;
        dq_buf_printf(out, "<%s%s xml:lang=\"%s\">", tag, attr ? attr : "", langs[i]);
        xs(out, s);
        dq_buf_printf(out, "</%s>", tag);
    }
}

static void elem(dq_buf_t *out, const char *tag, const char *s)
{
    if (!s)
        return;
    dq_buf_printf(out, "<%s>", tag);
    xs(out, s);
    dq_buf_printf(out, "</%s>", tag);
}

static void page_url(dq_buf_t *out, const dq_lod_ctx_t *ctx, const char *id)
{
    dq_buf_printf(out, "%s/relic/", ctx->base_url);
    dq_buf_url_segment(out, id);
}

/* The authority URIs of one place of a relic document (Wikidata entity, Getty TGN), each as
 * an element named tag. */
static void place_uris(dq_buf_t *out, const json_t *place, const char *tag)
{
    if (jstr(place, "wikidata")) {
        dq_buf_printf(out, "<%s>http://www.wikidata.org/entity/", tag);
        xs(out, jstr(place, "wikidata"));
        dq_buf_printf(out, "</%s>", tag);
    }
    if (jstr(place, "tgn")) {
        dq_buf_printf(out, "<%s>http://vocab.getty.edu/tgn/", tag);
        xs(out, jstr(place, "tgn"));
        dq_buf_printf(out, "</%s>", tag);
    }
}

/* Dublin Core (§6.2; DCMI element set): what a general aggregator shows. */
static void dc_record(dq_buf_t *out, const json_t *doc, const dq_lod_ctx_t *ctx)
{
    json_t *hd = NULL, *ht = NULL, *hs = NULL;
    dq_buf_puts(out, "<oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\""
                     " xmlns:dc=\"http://purl.org/dc/elements/1.1/\""
                     " xsi:schemaLocation=\"http://www.openarchives.org/OAI/2.0/oai_dc/"
                     " http://www.openarchives.org/OAI/2.0/oai_dc.xsd\">");
    lang_elems(out, json_object_get(doc, "title"), "dc:title", NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "creators"), i, e)
        lang_elems(out, json_object_get(e, "name"), "dc:creator", NULL);
    json_array_foreach(json_object_get(doc, "subject"), i, e) if (json_is_string(e))
        elem(out, "dc:subject", vocab_en(ctx->subjects_json, json_string_value(e), &hs));
    json_array_foreach(json_object_get(doc, "keywords"), i, e) if (json_is_string(e))
        elem(out, "dc:subject", json_string_value(e));
    lang_elems(out, json_object_get(doc, "description"), "dc:description", NULL);
    elem(out, "dc:date", jstr(doc, "date_text"));
    const json_t *yf = json_object_get(doc, "year_from"), *yt = json_object_get(doc, "year_to");
    if (json_is_integer(yf) && !jstr(doc, "date_text")) {
        char b[48];
        snprintf(b, sizeof(b), "%lld/%lld", (long long)json_integer_value(yf),
                 (long long)json_integer_value(json_is_integer(yt) ? yt : yf));
        elem(out, "dc:date", b);
    }
    elem(out, "dc:type", "PhysicalObject");
    if (jstr(doc, "object_type"))
        elem(out, "dc:type", vocab_en(ctx->object_types_json, jstr(doc, "object_type"), &ht));
    lang_elems(out, json_object_get(doc, "medium"), "dc:format", NULL);
    elem(out, "dc:identifier", jstr(doc, "accession"));
    dq_buf_t u = {0};
    page_url(&u, ctx, jstr(doc, "id"));
    elem(out, "dc:identifier", u.data);
    dq_buf_free(&u);
    if (jstr(doc, "dynasty"))
        elem(out, "dc:coverage", vocab_en(ctx->dynasties_json, jstr(doc, "dynasty"), &hd));
    /* Places (DCMI: coverage is "the spatial or temporal topic"): each name in its languages,
     * then its authority URIs, which aggregators (Europeana) resolve as contextual places. */
    json_array_foreach(json_object_get(doc, "places"), i, e)
    {
        lang_elems(out, json_object_get(e, "name"), "dc:coverage", NULL);
        place_uris(out, e, "dc:coverage");
    }
    elem(out, "dc:rights", jstr(doc, "rights"));
    json_array_foreach(json_object_get(doc, "references"), i, e)
        elem(out, "dc:relation", jstr(e, "text"));
    dq_buf_puts(out, "</oai_dc:dc>");
    json_decref(hd);
    json_decref(ht);
    json_decref(hs);
}

/* LIDO 1.0: element order follows lido-v1.0.xsd's sequences (descriptiveMetadata:
 * objectClassificationWrap, objectIdentificationWrap, eventWrap, objectRelationWrap;
 * administrativeMetadata: rightsWorkWrap, recordWrap, resourceWrap). */
static void lido_term(dq_buf_t *out, const char *wrap, const char *term)
{
    dq_buf_printf(out, "<lido:%s><lido:term>", wrap);
    xs(out, term);
    dq_buf_printf(out, "</lido:term></lido:%s>", wrap);
}

/* An authority id as a LIDO URI identifier (actorID, placeID): <lido:{tag} lido:type="URI"
 * lido:source="{source}">{prefix}{id}</lido:{tag}>; nothing when id is NULL. */
static void lido_id(dq_buf_t *out, const char *tag, const char *source, const char *prefix,
                    const char *id)
{
    if (!id)
        return;
    dq_buf_printf(out, "<lido:%s lido:type=\"URI\" lido:source=\"%s\">%s", tag, source, prefix);
    xs(out, id);
    dq_buf_printf(out, "</lido:%s>", tag);
}

static void lido_record(dq_buf_t *out, const json_t *doc, const dq_lod_ctx_t *ctx)
{
    json_t *hd = NULL, *ht = NULL, *hs = NULL;
    const char *id = jstr(doc, "id");
    size_t i;
    json_t *e;
    dq_buf_puts(out, "<lido:lido xmlns:lido=\"http://www.lido-schema.org\""
                     " xsi:schemaLocation=\"http://www.lido-schema.org"
                     " http://www.lido-schema.org/schema/v1.0/lido-v1.0.xsd\">");
    dq_buf_puts(out, "<lido:lidoRecID lido:type=\"local\">");
    xs(out, id);
    dq_buf_puts(out, "</lido:lidoRecID>");
    const json_t *title = json_object_get(doc, "title");
    dq_buf_printf(out, "<lido:descriptiveMetadata xml:lang=\"%s\">",
                  jstr(title, "zh") ? "zh" : "en");

    /* What it is. */
    dq_buf_puts(out, "<lido:objectClassificationWrap><lido:objectWorkTypeWrap>");
    lido_term(out, "objectWorkType",
              jstr(doc, "object_type")
                  ? vocab_en(ctx->object_types_json, jstr(doc, "object_type"), &ht)
                  : "work of art");
    dq_buf_puts(out, "</lido:objectWorkTypeWrap>");
    if (json_array_size(json_object_get(doc, "subject"))) {
        dq_buf_puts(out, "<lido:classificationWrap>");
        json_array_foreach(json_object_get(doc, "subject"), i, e) if (json_is_string(e))
            lido_term(out, "classification",
                      vocab_en(ctx->subjects_json, json_string_value(e), &hs));
        dq_buf_puts(out, "</lido:classificationWrap>");
    }
    dq_buf_puts(out, "</lido:objectClassificationWrap>");

    /* Which one it is: titles, inscriptions, the inventory number, description, size. */
    dq_buf_puts(out, "<lido:objectIdentificationWrap><lido:titleWrap><lido:titleSet>");
    lang_elems(out, title, "lido:appellationValue", NULL);
    if (!jstr(title, "zh") && !jstr(title, "en"))
        elem(out, "lido:appellationValue", id);
    dq_buf_puts(out, "</lido:titleSet></lido:titleWrap>");
    if (json_array_size(json_object_get(doc, "inscriptions"))) {
        dq_buf_puts(out, "<lido:inscriptionsWrap>");
        json_array_foreach(json_object_get(doc, "inscriptions"), i, e)
        {
            dq_buf_puts(out, "<lido:inscriptions><lido:inscriptionTranscription>");
            xs(out, jstr(e, "text"));
            dq_buf_puts(out, "</lido:inscriptionTranscription></lido:inscriptions>");
        }
        dq_buf_puts(out, "</lido:inscriptionsWrap>");
    }
    dq_buf_puts(out, "<lido:repositoryWrap><lido:repositorySet lido:type=\"current\">"
                     "<lido:workID lido:type=\"inventory number\">");
    xs(out, jstr(doc, "accession") ? jstr(doc, "accession") : id);
    dq_buf_puts(out, "</lido:workID></lido:repositorySet></lido:repositoryWrap>");
    const json_t *desc = json_object_get(doc, "description");
    if (jstr(desc, "zh") || jstr(desc, "en")) {
        dq_buf_puts(out, "<lido:objectDescriptionWrap><lido:objectDescriptionSet>");
        lang_elems(out, desc, "lido:descriptiveNoteValue", NULL);
        dq_buf_puts(out, "</lido:objectDescriptionSet></lido:objectDescriptionWrap>");
    }
    const json_t *dims = json_object_get(doc, "dimensions_cm");
    if (json_object_size(dims)) {
        dq_buf_puts(out, "<lido:objectMeasurementsWrap><lido:objectMeasurementsSet>"
                         "<lido:objectMeasurements>");
        static const char *const k[] = {"height", "width"};
        for (size_t d = 0; d < 2; d++) {
            const json_t *v = json_object_get(dims, k[d]);
            if (!json_is_number(v))
                continue;
            dq_buf_printf(out,
                          "<lido:measurementsSet><lido:measurementType>%s</lido:measurementType>"
                          "<lido:measurementUnit>cm</lido:measurementUnit>"
                          "<lido:measurementValue>%g</lido:measurementValue>"
                          "</lido:measurementsSet>",
                          k[d], json_number_value(v));
        }
        dq_buf_puts(out, "</lido:objectMeasurements></lido:objectMeasurementsSet>"
                         "</lido:objectMeasurementsWrap>");
    }
    dq_buf_puts(out, "</lido:objectIdentificationWrap>");

    /* How it came to be: the production event. */
    dq_buf_puts(out, "<lido:eventWrap><lido:eventSet><lido:event>");
    lido_term(out, "eventType", "Production");
    json_array_foreach(json_object_get(doc, "creators"), i, e)
    {
        dq_buf_puts(out, "<lido:eventActor><lido:actorInRole><lido:actor>");
        /* Authority ids first (LIDO actorComplexType: actorID*, nameActorSet+, ...). */
        lido_id(out, "actorID", "Wikidata", "http://www.wikidata.org/entity/", jstr(e, "wikidata"));
        lido_id(out, "actorID", "ULAN", "http://vocab.getty.edu/ulan/", jstr(e, "ulan"));
        dq_buf_puts(out, "<lido:nameActorSet>");
        lang_elems(out, json_object_get(e, "name"), "lido:appellationValue", NULL);
        dq_buf_puts(out, "</lido:nameActorSet>");
        if (jstr(e, "dates")) {
            dq_buf_puts(out, "<lido:vitalDatesActor><lido:earliestDate>");
            xs(out, jstr(e, "dates"));
            dq_buf_puts(out, "</lido:earliestDate></lido:vitalDatesActor>");
        }
        dq_buf_puts(out, "</lido:actor>");
        if (jstr(e, "role"))
            lido_term(out, "roleActor", jstr(e, "role"));
        dq_buf_puts(out, "</lido:actorInRole></lido:eventActor>");
    }
    const json_t *yf = json_object_get(doc, "year_from"), *yt = json_object_get(doc, "year_to");
    if (jstr(doc, "date_text") || json_is_integer(yf)) {
        dq_buf_puts(out, "<lido:eventDate>");
        if (jstr(doc, "date_text"))
            elem(out, "lido:displayDate", jstr(doc, "date_text"));
        if (json_is_integer(yf))
            dq_buf_printf(out,
                          "<lido:date><lido:earliestDate>%lld</lido:earliestDate>"
                          "<lido:latestDate>%lld</lido:latestDate></lido:date>",
                          (long long)json_integer_value(yf),
                          (long long)json_integer_value(json_is_integer(yt) ? yt : yf));
        dq_buf_puts(out, "</lido:eventDate>");
    }
    if (jstr(doc, "dynasty"))
        lido_term(out, "periodName", vocab_en(ctx->dynasties_json, jstr(doc, "dynasty"), &hd));
    /* eventPlace (after periodName in eventComplexType): the record's places, each with its
     * role in displayPlace and its authority ids as placeID (placeComplexType: placeID*,
     * namePlaceSet*). The record does not say which event a role belongs to, so every place
     * sits on the production event, its role named. */
    json_array_foreach(json_object_get(doc, "places"), i, e)
    {
        const json_t *nm = json_object_get(e, "name");
        dq_buf_puts(out, "<lido:eventPlace>");
        const char *shown = jstr(nm, "en") ? jstr(nm, "en") : jstr(nm, "zh");
        if (shown) {
            dq_buf_puts(out, "<lido:displayPlace>");
            xs(out, shown);
            if (jstr(e, "role")) {
                dq_buf_puts(out, " (");
                xs(out, jstr(e, "role"));
                dq_buf_putc(out, ')');
            }
            dq_buf_puts(out, "</lido:displayPlace>");
        }
        dq_buf_puts(out, "<lido:place>");
        lido_id(out, "placeID", "Wikidata", "http://www.wikidata.org/entity/", jstr(e, "wikidata"));
        lido_id(out, "placeID", "TGN", "http://vocab.getty.edu/tgn/", jstr(e, "tgn"));
        if (jstr(nm, "zh") || jstr(nm, "en")) {
            dq_buf_puts(out, "<lido:namePlaceSet>");
            lang_elems(out, nm, "lido:appellationValue", NULL);
            dq_buf_puts(out, "</lido:namePlaceSet>");
        }
        dq_buf_puts(out, "</lido:place></lido:eventPlace>");
    }
    const json_t *medium = json_object_get(doc, "medium");
    if (jstr(medium, "en") || jstr(medium, "zh")) {
        dq_buf_puts(out, "<lido:eventMaterialsTech>");
        lang_elems(out, medium, "lido:displayMaterialsTech", NULL);
        dq_buf_puts(out, "</lido:eventMaterialsTech>");
    }
    dq_buf_puts(out, "</lido:event></lido:eventSet></lido:eventWrap>");

    /* What it shows. */
    if (json_array_size(json_object_get(doc, "subject"))) {
        dq_buf_puts(out, "<lido:objectRelationWrap><lido:subjectWrap><lido:subjectSet>"
                         "<lido:subject>");
        json_array_foreach(json_object_get(doc, "subject"), i, e) if (json_is_string(e))
            lido_term(out, "subjectConcept",
                      vocab_en(ctx->subjects_json, json_string_value(e), &hs));
        dq_buf_puts(out, "</lido:subject></lido:subjectSet></lido:subjectWrap>"
                         "</lido:objectRelationWrap>");
    }
    dq_buf_puts(out, "</lido:descriptiveMetadata>");

    /* Rights, the record itself, and the images. */
    dq_buf_puts(out, "<lido:administrativeMetadata xml:lang=\"en\">");
    if (jstr(doc, "rights")) {
        dq_buf_puts(out, "<lido:rightsWorkWrap><lido:rightsWorkSet><lido:rightsType>"
                         "<lido:conceptID lido:type=\"URI\">");
        xs(out, jstr(doc, "rights"));
        dq_buf_puts(out, "</lido:conceptID></lido:rightsType></lido:rightsWorkSet>"
                         "</lido:rightsWorkWrap>");
    }
    dq_buf_puts(out, "<lido:recordWrap><lido:recordID lido:type=\"local\">");
    xs(out, id);
    dq_buf_puts(out, "</lido:recordID>");
    lido_term(out, "recordType", "item");
    dq_buf_puts(out, "<lido:recordSource><lido:legalBodyName><lido:appellationValue>danqing"
                     "</lido:appellationValue></lido:legalBodyName></lido:recordSource>"
                     "<lido:recordInfoSet><lido:recordInfoLink>");
    dq_buf_t u = {0};
    page_url(&u, ctx, id);
    xs(out, u.data);
    dq_buf_free(&u);
    dq_buf_puts(out, "</lido:recordInfoLink></lido:recordInfoSet></lido:recordWrap>");
    const json_t *images = json_object_get(doc, "images");
    if (json_array_size(images)) {
        dq_buf_puts(out, "<lido:resourceWrap>");
        json_array_foreach(images, i, e)
        {
            const char *iid = jstr(e, "image_id");
            if (!iid)
                continue;
            dq_buf_t t = {0}, f = {0};
            dq_buf_printf(&t, "%s/iiif/3/", ctx->base_url);
            dq_buf_url_segment(&t, iid);
            dq_buf_append(&f, t.data, t.len);
            dq_buf_puts(&t, "/full/!400,400/0/default.jpg");
            dq_buf_puts(&f, "/full/max/0/default.jpg");
            dq_buf_puts(out, "<lido:resourceSet><lido:resourceRepresentation"
                             " lido:type=\"image_thumb\"><lido:linkResource>");
            xs(out, t.data);
            dq_buf_puts(out, "</lido:linkResource></lido:resourceRepresentation>"
                             "<lido:resourceRepresentation lido:type=\"image_master\">"
                             "<lido:linkResource>");
            xs(out, f.data);
            dq_buf_puts(out, "</lido:linkResource></lido:resourceRepresentation>");
            if (jstr(doc, "rights")) {
                dq_buf_puts(out, "<lido:rightsResource><lido:rightsType>"
                                 "<lido:conceptID lido:type=\"URI\">");
                xs(out, jstr(doc, "rights"));
                dq_buf_puts(out, "</lido:conceptID></lido:rightsType></lido:rightsResource>");
            }
            dq_buf_puts(out, "</lido:resourceSet>");
            dq_buf_free(&t);
            dq_buf_free(&f);
        }
        dq_buf_puts(out, "</lido:resourceWrap>");
    }
    dq_buf_puts(out, "</lido:administrativeMetadata></lido:lido>");
    json_decref(hd);
    json_decref(ht);
    json_decref(hs);
}

int dq_oai_metadata(dq_buf_t *out, int prefix, const char *relic_json, size_t len,
                    const dq_lod_ctx_t *ctx, dq_err_t *err)
{
    json_t *doc = json_loadb(relic_json, len, 0, NULL);
    if (!json_is_object(doc) || !jstr(doc, "id")) {
        json_decref(doc);
        return dq_err_set(err, DQ_EINVAL, 400, "oai: not a relic document");
    }
    dq_buf_puts(out, "<metadata>");
    if (prefix == DQ_OAI_LIDO)
        lido_record(out, doc, ctx);
    else
        dc_record(out, doc, ctx);
    dq_buf_puts(out, "</metadata>");
    json_decref(doc);
    return 0;
}
