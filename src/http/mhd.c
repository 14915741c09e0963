/*
 * mhd.c: the libmicrohttpd wrapper, the only file that includes microhttpd.h.
 *
 * Threading: MHD runs a pool of cfg->threads epoll threads; each handles its connections
 * start to finish, so handlers run on those threads and must be thread-safe. Work that may
 * block runs elsewhere while its connection is suspended: renders on the render queue, API
 * writes and logins (which may wait for the catalog's writer lock or a password hash) on the
 * API queue (run_api), so a worker's other connections never wait for them.
 *
 * The fast path: a finished 200 response is kept in the response cache as the MHD_Response
 * object itself, headers and all. MHD responses are reference counted and may be queued on
 * any number of connections at once, so a cache hit costs one hash lookup and one
 * MHD_queue_response: no parsing, no allocation, no copying of the body. The cache key is
 * the server epoch (bumped whenever an image is replaced, see registry.c) + the
 * content-negotiation variant (Accept, Accept-Encoding) + the base URL the answer's links
 * are built from (unless --public-url fixes it) + the raw path, so a replaced image never
 * answers from stale entries and no request header can change what another client gets
 * (issue 10, cache poisoning).
 *
 * Hardening (issue 10, docs/security.md): the framing of every request is checked on its
 * headers (RFC 9112 §6); a body is read only after routing and authentication, against the
 * route's limit and a cap on all buffered bodies; expensive renders run on the render queue
 * (renderq.c) while their connection is suspended; text answers are gzipped when accepted.
 */
#define _GNU_SOURCE
#include "api_internal.h" /* dq_api_error: early answers under /api/ keep its JSON format */

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- responses */

void dq_http_resp_header(dq_http_resp_t *r, const char *name, const char *value)
{
    DQ_ASSERT(r->n_headers < DQ_HTTP_MAX_HEADERS);
    r->header_names[r->n_headers] = dq_xstrdup(name);
    r->header_values[r->n_headers] = dq_xstrdup(value);
    r->n_headers++;
}

void dq_http_resp_error(dq_http_resp_t *r, int status, const char *msg)
{
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    dq_buf_reset(&r->body);
    dq_buf_puts(&r->body, msg);
    dq_buf_putc(&r->body, '\n');
    r->cacheable = 0;
}

void dq_http_resp_free(dq_http_resp_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_headers; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    r->n_headers = 0;
    dq_buf_free(&r->body);
}

/* ---------------------------------------------------------------- requests */

static const char *req_header(const dq_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND,
                                       name);
}

static const char *req_arg(const dq_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
                                       MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    void (*cb)(void *ud, const char *key, const char *value);
    void *ud;
} args_walk_t;

static enum MHD_Result args_walk(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    const args_walk_t *w = cls;
    w->cb(w->ud, key ? key : "", value);
    return MHD_YES;
}

static void req_args(const dq_http_req_t *req,
                     void (*cb)(void *ud, const char *key, const char *value), void *ud)
{
    args_walk_t w = {cb, ud};
    MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
                              args_walk, &w);
}

/* The client's address (fill_req worked it out: the peer, or the client a trusted proxy
 * names). */
static void req_peer(const dq_http_req_t *req, char *out, size_t cap)
{
    snprintf(out, cap, "%s", req->client_ip ? req->client_ip : "");
}

static int method_of(const char *m)
{
    static const struct {
        const char *name;
        int bit;
    } t[] = {{"GET", DQ_HTTP_GET},     {"HEAD", DQ_HTTP_HEAD},     {"POST", DQ_HTTP_POST},
             {"PUT", DQ_HTTP_PUT},     {"PATCH", DQ_HTTP_PATCH},   {"DELETE", DQ_HTTP_DELETE},
             {"OPTIONS", DQ_HTTP_OPTIONS}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        if (strcmp(m, t[i].name) == 0)
            return t[i].bit;
    return 0;
}

/* ---------------------------------------------------------------- who is asking */

/* The peer's address: returns AF_INET/AF_INET6 with the bytes in addr and the text in txt, or
 * 0 when unknown. */
static int peer_addr(struct MHD_Connection *conn, uint8_t addr[16], char *txt, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    txt[0] = '\0';
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return 0;
    }
    inet_ntop(sa->sa_family, addr, txt, (socklen_t)cap);
    return sa->sa_family;
}

/* Parses an address as X-Forwarded-For or Forwarded for= write it: "a.b.c.d", "a.b.c.d:port",
 * "[v6]", "[v6]:port", "v6", optionally quoted. Returns the family, or 0. */
static int parse_fwd_addr(const char *s, size_t len, uint8_t addr[16], char *txt, size_t cap)
{
    char a[64];
    while (len && (*s == ' ' || *s == '"'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '"'))
        len--;
    if (len == 0 || len >= sizeof(a))
        return 0;
    memcpy(a, s, len);
    a[len] = '\0';
    char *p = a;
    if (*p == '[') {
        char *e = strchr(p, ']');
        if (!e)
            return 0;
        *e = '\0';
        p++;
    } else if (strchr(p, ':') == strrchr(p, ':') && strchr(p, ':')) {
        *strchr(p, ':') = '\0'; /* a.b.c.d:port */
    }
    int fam = inet_pton(AF_INET, p, addr) == 1 ? AF_INET : inet_pton(AF_INET6, p, addr) == 1 ? AF_INET6 : 0;
    if (fam)
        inet_ntop(fam, addr, txt, (socklen_t)cap);
    return fam;
}

/* The client behind a chain of trusted proxies: the rightmost address of list (items
 * separated by ',', for= values when forwarded is 1) that is not itself a trusted proxy.
 * Fills txt, or leaves it as it is when the list names nobody usable. */
static void client_from_list(const dq_server_t *srv, const char *list, int forwarded, char *txt,
                             size_t cap)
{
    size_t n = strlen(list);
    while (n) {
        size_t start = n;
        while (start && list[start - 1] != ',')
            start--;
        const char *item = list + start;
        size_t ilen = n - start;
        n = start ? start - 1 : 0;
        if (forwarded) { /* pick for= out of "for=x;proto=y;by=z" */
            const char *f = NULL;
            for (size_t i = 0; i + 4 <= ilen; i++)
                if (strncasecmp(item + i, "for=", 4) == 0 && (i == 0 || strchr("; ", item[i - 1]))) {
                    f = item + i + 4;
                    break;
                }
            if (!f)
                continue;
            size_t flen = strcspn(f, ";,");
            item = f;
            ilen = DQ_MIN(flen, (size_t)(list + strlen(list) - f));
        }
        uint8_t a[16];
        char t[64];
        int fam = parse_fwd_addr(item, ilen, a, t, sizeof(t));
        if (!fam)
            return; /* an unparseable hop: stop at what we know (the proxy said so) */
        snprintf(txt, cap, "%s", t);
        if (!dq_cidr_match(srv->trusted, srv->n_trusted, fam, a))
            return;
    }
}

/* The last element of a comma-separated header value, trimmed, into out. */
static void last_item(const char *v, char *out, size_t cap)
{
    const char *c = strrchr(v, ',');
    v = c ? c + 1 : v;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    snprintf(out, cap, "%.*s", (int)DQ_MIN(n, cap - 1), v);
}

/* RFC 7239 §4: the value of param ("host", "proto") in the last element of a Forwarded
 * header (the one our trusted proxy added), unquoted, into out; "" when absent. */
static void forwarded_param(const char *fwd, const char *param, char *out, size_t cap)
{
    const char *c = strrchr(fwd, ',');
    const char *e = c ? c + 1 : fwd;
    size_t plen = strlen(param);
    out[0] = '\0';
    for (const char *p = e; *p; p++) {
        if (strncasecmp(p, param, plen) != 0 || p[plen] != '=' || (p != e && !strchr("; ", p[-1])))
            continue;
        const char *v = p + plen + 1;
        size_t n = strcspn(v, ";,");
        if (n && v[0] == '"') {
            v++;
            n = strcspn(v, "\"");
        }
        snprintf(out, cap, "%.*s", (int)DQ_MIN(n, cap - 1), v);
        return;
    }
}

static int host_ok(const char *h)
{
    if (!*h || strlen(h) >= 256)
        return 0;
    for (const char *p = h; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              strchr(".-:[]_", *p)))
            return 0;
    return 1;
}

/* buf = a b c, cut to cap - 1 bytes as snprintf would: every IIIF answer builds its base URL,
 * and printf's format parsing showed in the cache-off tile profile (issue 9). */
static void join3(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
    size_t n = 0;
    const char *parts[] = {a, b, c};
    for (int i = 0; i < 3; i++)
        for (const char *s = parts[i]; *s && n + 1 < cap; s++)
            buf[n++] = *s;
    buf[n] = '\0';
}

/* The base URL into buf (cap >= 600): see dq_http_base_url. */
static void base_of(const dq_server_t *srv, const dq_http_req_t *req, char *buf, size_t cap)
{
    if (srv->cfg->public_url[0]) {
        join3(buf, cap, srv->cfg->public_url, "", "");
        return;
    }
    char host[300] = "", proto[16] = "";
    const char *v;
    if (req->via_proxy) {
        if ((v = req->header(req, "X-Forwarded-Host")) != NULL)
            last_item(v, host, sizeof(host));
        if ((v = req->header(req, "X-Forwarded-Proto")) != NULL)
            last_item(v, proto, sizeof(proto));
        if ((v = req->header(req, "Forwarded")) != NULL) {
            if (!host[0])
                forwarded_param(v, "host", host, sizeof(host));
            if (!proto[0])
                forwarded_param(v, "proto", proto, sizeof(proto));
        }
    }
    if (!host[0] && (v = req->header(req, "Host")) != NULL)
        join3(host, sizeof(host), v, "", "");
    /* Host text is attacker-controlled and ends up in JSON and Link headers: accept only host
     * name characters, else fall back to the bound address. */
    if (host_ok(host))
        join3(buf, cap, strcasecmp(proto, "https") == 0 ? proto : "http", "://", host);
    else
        snprintf(buf, cap, "http://127.0.0.1:%d", srv->port);
}

void dq_http_base_url(const dq_server_t *srv, const dq_http_req_t *req, dq_buf_t *out)
{
    char b[640];
    if (req->base_used && !srv->cfg->public_url[0])
        *req->base_used = 1;
    base_of(srv, req, b, sizeof(b));
    dq_buf_puts(out, b);
}

/* ---------------------------------------------------------------- request state */

#define BODY_METHODS (DQ_HTTP_POST | DQ_HTTP_PUT | DQ_HTTP_PATCH)

/* State kept across the calls MHD makes for one request that has a body or deferred work.
 * Requests with neither get a static marker (no allocation). */
typedef struct {
    dq_server_t *srv;
    struct MHD_Connection *conn;
    dq_buf_t body;
    size_t limit;    /* the route's body limit */
    size_t reserved; /* bytes of srv->body_bytes this request holds */
    int pending;     /* 413/503 decided while reading the body */
    int drain;       /* 1: refused from the headers; the body is read and dropped, and resp
                      * (the refusal) answered after it, keeping the connection */
    dq_http_resp_t resp; /* deferred work's response */
    _Atomic int deferred; /* 1 queued or running, 2 done */
    char *key;            /* cache key of the deferred response (owned) */
    size_t key_len;
    int64_t t0;
    char client[64];
    /* An API write run on the API queue (api_job = 1): the request as the job sees it, with
     * the headers and query arguments copied (the job never touches the MHD connection). */
    int api_job;
    dq_http_handler_fn api_fn; /* the route's handler, run by run_api */
    int base_used;
    dq_http_req_t jreq;
    char *jpath;
    int n_kv;     /* pairs in kv: headers first, then n_kv - n_hdr query arguments */
    int n_hdr;
    char **kv;    /* name, value (value may be NULL for an argument without one) */
} conn_state_t;

/* *con_cls of requests without a body: read-only, never freed. */
static const char no_body_marker = 0;

static conn_state_t *state_of(void **con_cls)
{
    return *con_cls && *con_cls != &no_body_marker ? *con_cls : NULL;
}

static void fill_req(dq_server_t *srv, struct MHD_Connection *conn, const char *url, int m,
                     dq_http_req_t *req, char *client, size_t client_cap, int *base_used)
{
    memset(req, 0, sizeof(*req));
    req->method = m;
    req->conn = conn;
    req->header = req_header;
    req->arg = req_arg;
    req->args = req_args;
    req->peer = req_peer;
    req->path = url;
    req->path_len = strlen(url);
    req->base_used = base_used;
    uint8_t a[16];
    int fam = peer_addr(conn, a, client, client_cap);
    req->via_proxy = fam && srv->n_trusted && dq_cidr_match(srv->trusted, srv->n_trusted, fam, a);
    if (req->via_proxy) {
        const char *v = req_header(req, "X-Forwarded-For");
        if (v)
            client_from_list(srv, v, 0, client, client_cap);
        else if ((v = req_header(req, "Forwarded")) != NULL)
            client_from_list(srv, v, 1, client, client_cap);
    }
    req->client_ip = client;
}

/* ---------------------------------------------------------------- HTTP framing */

/* RFC 9112 §6: what the request says about its body. A request whose framing is ambiguous
 * is refused (400) and its connection closed, because a proxy in front of us may have read
 * the same bytes differently (request smuggling). */
typedef struct {
    int n_cl, n_te;
    uint64_t cl;
    int cl_bad, cl_conflict, te_bad;
} framing_t;

static enum MHD_Result framing_scan(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    framing_t *f = cls;
    if (strcasecmp(key, "Content-Length") == 0) {
        uint64_t v = 0;
        /* §6.3: digits only; a list ("5, 5") or a sign is not a length. */
        size_t n = strlen(value);
        if (n == 0 || n > 18 || strspn(value, "0123456789") != n ||
            dq_str_to_u64(value, n, &v) < 0)
            f->cl_bad = 1;
        if (f->n_cl && v != f->cl)
            f->cl_conflict = 1;
        f->cl = v;
        f->n_cl++;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        /* We decode exactly one coding, chunked (§7.1); anything else ("xchunked",
         * "chunked, identity", "gzip, chunked") we cannot frame. */
        if (strcasecmp(value, "chunked") != 0)
            f->te_bad = 1;
        f->n_te++;
    }
    return MHD_YES;
}

/* NULL when the framing is acceptable, else why not. */
static const char *framing_check(struct MHD_Connection *conn, const char *version, framing_t *f)
{
    memset(f, 0, sizeof(*f));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_scan, f);
    if (f->cl_bad)
        return "bad Content-Length";
    if (f->cl_conflict)
        return "conflicting Content-Length headers";
    if (f->n_te && f->n_cl)
        return "Content-Length together with Transfer-Encoding";
    if (f->n_te > 1 || f->te_bad)
        return "unsupported Transfer-Encoding (only chunked)";
    if (f->n_te && strcmp(version, "HTTP/1.1") != 0)
        return "Transfer-Encoding needs HTTP/1.1";
    return NULL;
}

/* ---------------------------------------------------------------- compression */

/* 1 when a client accepts gzip (RFC 9110 §12.5.3): a "gzip" (or "x-gzip") coding whose
 * q-value is not 0. "*" alone does not count: a client that lists nothing specific gets
 * identity. */
static int accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    for (const char *p = ae; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",;");
        size_t tn = n;
        while (tn && p[tn - 1] == ' ')
            tn--;
        int is_gzip = (tn == 4 && strncasecmp(p, "gzip", 4) == 0) ||
                      (tn == 6 && strncasecmp(p, "x-gzip", 6) == 0);
        const char *e = p + strcspn(p, ",");
        if (is_gzip) {
            const char *q = p + n;
            if (*q == ';') {
                while (*++q == ' ')
                    ;
                if (strncasecmp(q, "q=", 2) == 0 && atof(q + 2) <= 0.0)
                    return 0;
            }
            return 1;
        }
        p = e;
    }
    return 0;
}

/* Text worth compressing: JSON (info.json, manifests, the API), JS, CSS, HTML, SVG. Never
 * JPEG/PNG/WebP/TIFF tiles: they are compressed already and gzip would cost CPU for nothing. */
static int compressible_type(const char *ct)
{
    if (!ct)
        return 0;
    return dq_str_starts(ct, "application/json") || dq_str_starts(ct, "application/ld+json") ||
           dq_str_starts(ct, "text/") || dq_str_starts(ct, "application/javascript") ||
           dq_str_starts(ct, "image/svg+xml") || dq_str_starts(ct, "application/xml") ||
           dq_str_starts(ct, "application/manifest+json");
}

/* Paths whose answers are never compressed (IIIF image requests other than info.json): their
 * cache key ignores Accept-Encoding, so a tile is cached once, not once per encoding. */
static int image_path(const char *path, size_t len)
{
    if (!dq_str_starts(path, "/iiif/3/") && !dq_str_starts(path, "/iiif/2/"))
        return 0;
    return !(len >= 10 && memcmp(path + len - 10, "/info.json", 10) == 0);
}

/* Below this, gzip's 18-byte frame and the CPU are not worth it. */
#define GZIP_MIN 256

static int gzip_body(const char *in, size_t len, dq_buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip wrapper (RFC 1952), which is what Content-Encoding: gzip means. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)len);
    dq_buf_reserve(out, bound);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END)
        out->len += z.total_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* A compressed body in srv->gz_cache. */
typedef struct {
    size_t len;
    char data[];
} gz_value_t;

/* The gzip form of body (len bytes) as a new malloc'd buffer in *out, *out_len; from
 * srv->gz_cache when the same body was compressed before. Returns 0 or -1 (send identity). */
static int gzip_cached(dq_server_t *srv, const char *body, size_t len, char **out, size_t *out_len)
{
    char key[17];
    uint64_t h = dq_hash64(body, len), l = len;
    key[0] = 'Z';
    memcpy(key + 1, &h, 8);
    memcpy(key + 9, &l, 8);
    dq_cache_entry_t *e = dq_cache_get(srv->gz_cache, key, sizeof(key));
    if (e) {
        const gz_value_t *v = dq_cache_entry_value(e);
        *out = dq_xmalloc(v->len ? v->len : 1);
        memcpy(*out, v->data, v->len);
        *out_len = v->len;
        dq_cache_release(srv->gz_cache, e);
        return 0;
    }
    dq_buf_t z = {0};
    if (gzip_body(body, len, &z) < 0) {
        dq_buf_free(&z);
        return -1;
    }
    /* Cached when asked twice: per-user API answers pass by, manifests and scripts stay. */
    if (dq_cache_seen_before(srv->gz_cache, key, sizeof(key))) {
        gz_value_t *v = dq_xmalloc(sizeof(*v) + z.len);
        v->len = z.len;
        memcpy(v->data, z.data, z.len);
        dq_cache_put(srv->gz_cache, key, sizeof(key), v, z.len, NULL);
    }
    *out = dq_buf_steal(&z, out_len);
    return 0;
}

/* ---------------------------------------------------------------- the handler */

static void destroy_cached_response(void *value) { MHD_destroy_response(value); }

/* The negotiation variant: info.json differs for Accept: application/ld+json ('L'), and
 * compressible answers for Accept-Encoding: gzip (lower case). */
static char variant_of(const dq_http_req_t *req)
{
    const char *accept = req->header(req, "Accept");
    char v = accept && strstr(accept, "application/ld+json") ? 'L' : 'J';
    if (!image_path(req->path, req->path_len) &&
        accepts_gzip(req->header(req, "Accept-Encoding")))
        v = (char)(v + 32);
    return v;
}

/* Cache key: epoch, variant byte, the base URL unless it is configured (an answer built from
 * a request's Host is only ever given to requests with the same Host), '\n', raw path. */
static size_t make_key(const dq_server_t *srv, const dq_http_req_t *req, char *key, size_t cap)
{
    uint64_t epoch = atomic_load(&srv->epoch);
    char base[640] = "";
    if (!srv->cfg->public_url[0])
        base_of(srv, req, base, sizeof(base));
    size_t bl = strlen(base);
    if (9 + bl + 1 + req->path_len > cap)
        return 0;
    memcpy(key, &epoch, 8);
    key[8] = variant_of(req);
    memcpy(key + 9, base, bl);
    key[9 + bl] = '\n';
    memcpy(key + 10 + bl, req->path, req->path_len);
    return 10 + bl + req->path_len;
}

static void access_log(dq_server_t *srv, const char *method, const char *path, int status,
                       size_t bytes, int64_t t0, int hit)
{
    if (!srv->alog)
        return;
    /* Paths are client text: cut and strip control bytes so that a log line stays one line. */
    char p[256];
    size_t n = 0;
    for (; path[n] && n < sizeof(p) - 1; n++)
        p[n] = (unsigned char)path[n] < 0x21 ? '?' : path[n];
    p[n] = '\0';
    dq_alog_printf(srv->alog, "method=%s path=%s status=%d bytes=%zu us=%lld cache=%s", method, p,
                   status, bytes, (long long)(dq_now_us() - t0), hit ? "hit" : "miss");
}

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Expose-Headers", "Link, ETag, Content-Length");
}

static enum MHD_Result answer_not_modified(struct MHD_Connection *conn, const char *etag,
                                           const char *vary)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    add_common_headers(r);
    MHD_add_response_header(r, "ETag", etag);
    if (vary)
        MHD_add_response_header(r, "Vary", vary);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_NOT_MODIFIED, r);
    MHD_destroy_response(r);
    return ret;
}

/* 1 when an If-None-Match header matches etag (a list, or "*"). */
static int etag_matches(const char *inm, const char *etag)
{
    if (!inm || !*etag)
        return 0;
    if (strcmp(inm, "*") == 0)
        return 1;
    const char *e = etag;
    size_t n = strlen(e);
    for (const char *p = inm; (p = strstr(p, e)) != NULL; p += n) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ')
            return 1;
    }
    return 0;
}

/* The handler's own ETag header, or NULL. */
static const char *resp_etag(const dq_http_resp_t *resp)
{
    for (int i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->header_names[i], "ETag") == 0)
            return resp->header_values[i];
    return NULL;
}

/* etag = "\"" 16 lowercase hex digits "\"" (what "\"%016llx\"" writes), NUL-terminated. */
static void put_etag(char etag[19], uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    etag[0] = '"';
    for (int i = 0; i < 16; i++)
        etag[1 + i] = hex[(v >> (60 - 4 * i)) & 0xF];
    etag[17] = '"';
    etag[18] = '\0';
}

/* ---------------------------------------------------------------- streams (issue 17) */

void dq_http_stream_init(dq_http_stream_t *s)
{
    pthread_mutex_init(&s->lock, NULL);
    s->conn = NULL;
    s->waiting = 0;
}

void dq_http_stream_wake(dq_http_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->waiting && s->conn) {
        s->waiting = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
}

void dq_http_stream_kick(dq_http_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->conn) {
        s->waiting = 0;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
}

/* MHD's content reader for a stream answer. With nothing to send it suspends the connection
 * (microhttpd.h: the content reader callback is one of the two places where that is safe),
 * because returning 0 alone would make MHD call again at once, a busy loop. read() runs under
 * s->lock, so a producer that adds data and then wakes cannot slip between an empty read()
 * and the suspension. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    dq_http_stream_t *s = cls;
    pthread_mutex_lock(&s->lock);
    long n = s->read(s, buf, max);
    if (n == 0) {
        s->waiting = 1;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&s->lock);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_done(void *cls)
{
    dq_http_stream_t *s = cls;
    pthread_mutex_lock(&s->lock);
    s->conn = NULL;
    s->waiting = 0;
    pthread_mutex_unlock(&s->lock);
    s->close(s);
}

/* Queues a stream answer: no ETag, no gzip (each event must leave at once), never cached.
 * "Connection: close": when read() ends the stream (a classroom session ended, the server
 * stops), the connection closes after the last chunk. Kept alive instead, as libmicrohttpd
 * does for any HTTP/1.1 chunked answer, it sat idle until the 60 s connection timeout: a
 * client that waits for the end of its stream saw it a minute late (test_classroom's
 * 'learner streams closed' raced that timeout), and every learner held a connection slot for
 * that minute. An EventSource never sends a second request on its stream's connection. */
static enum MHD_Result finish_stream(dq_server_t *srv, struct MHD_Connection *conn,
                                     const dq_http_req_t *req, const char *method,
                                     dq_http_resp_t *resp, int64_t t0)
{
    dq_http_stream_t *s = resp->stream;
    s->conn = conn;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_done);
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type : "text/event-stream");
    add_common_headers(r);
    MHD_add_response_header(r, "Connection", "close");
    for (int i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r); /* the connection holds it; stream_done runs when it lets go */
    access_log(srv, method, req->path, resp->status, 0, t0, 0);
    resp->stream = NULL;
    dq_http_resp_free(resp);
    return ret;
}

/* Sends resp (ETag, 304, gzip, headers), puts it in the response cache when it may go there
 * (key_len > 0), logs it and frees resp's contents. close: the request's body was not read
 * (an early answer): tell the client, and MHD closes the connection after the answer. */
static enum MHD_Result finish(dq_server_t *srv, struct MHD_Connection *conn,
                              const dq_http_req_t *req, const char *method, dq_http_resp_t *resp,
                              const char *key, size_t key_len, int64_t t0, int close, int base_used)
{
    if (resp->stream && resp->status == 200)
        return finish_stream(srv, conn, req, method, resp, t0);
    size_t body_len = resp->body.len;
    const char *url = req->path;
    char etag[48] = "";
    if (resp->status == 200 && !resp->no_etag)
        put_etag(etag, resp->has_etag_id ? resp->etag_id
                                         : dq_hash64(resp->body.data ? resp->body.data : "",
                                                     body_len));
    /* Compression (item 11 of issue 10). A handler's own strong ETag is a write precondition
     * (If-Match on annotations): such answers go out as they are, so that the tag a client
     * read is the tag the handler compares. Weak and body-hash tags get a per-encoding tag. */
    const char *own_tag = resp_etag(resp);
    int compressible = resp->status == 200 && compressible_type(resp->content_type) &&
                       (!own_tag || dq_str_starts(own_tag, "W/"));
    int gz = compressible && body_len >= GZIP_MIN && !image_path(url, req->path_len) &&
             accepts_gzip(req->header(req, "Accept-Encoding"));
    if (gz && etag[0])
        snprintf(etag + strlen(etag) - 1, sizeof(etag) - strlen(etag) + 1, "-gz\"");
    /* A response that named the request's host in its links varies by the forwarded headers
     * when a trusted proxy sent them (Host is part of every cache's key already). */
    char vary[96] = "";
    if (compressible)
        snprintf(vary, sizeof(vary), "Accept-Encoding");
    if (base_used && req->via_proxy)
        snprintf(vary + strlen(vary), sizeof(vary) - strlen(vary),
                 "%sX-Forwarded-Host, X-Forwarded-Proto, Forwarded", vary[0] ? ", " : "");
    if (etag[0] &&
        etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match"), etag)) {
        enum MHD_Result ret = answer_not_modified(conn, etag, vary[0] ? vary : NULL);
        access_log(srv, method, url, 304, 0, t0, 0);
        dq_http_resp_free(resp);
        return ret;
    }
    char *data = NULL;
    size_t data_len = 0;
    if (gz && gzip_cached(srv, resp->body.data, body_len, &data, &data_len) == 0) {
        dq_buf_free(&resp->body);
    } else {
        gz = 0;
        if (etag[0] && strstr(etag, "-gz\""))
            snprintf(etag + strlen(etag) - 4, 5, "\"");
        data = dq_buf_steal(&resp->body, NULL);
        data_len = body_len;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(data_len, data, free);
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    add_common_headers(r);
    if (etag[0])
        MHD_add_response_header(r, "ETag", etag);
    for (int i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->header_names[i], resp->header_values[i]);
    if (gz)
        MHD_add_response_header(r, "Content-Encoding", "gzip");
    if (vary[0])
        MHD_add_response_header(r, "Vary", vary);
    if (close)
        MHD_add_response_header(r, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    int admit = resp->cacheable && resp->status == 200 && key_len && !close &&
                (!resp->cache_on_second || dq_cache_seen_before(srv->cache, key, key_len));
    if (admit)
        dq_cache_put(srv->cache, key, key_len, r, data_len, etag); /* cache owns our ref */
    else
        MHD_destroy_response(r);
    access_log(srv, method, url, resp->status, data_len, t0, 0);
    dq_http_resp_free(resp);
    return ret;
}

/* An error answer in the API's JSON under /api/, as text elsewhere. */
static void error_resp(const dq_http_req_t *req, int status, const char *msg,
                       dq_http_resp_t *resp)
{
    if (dq_str_starts(req->path, "/api/")) {
        dq_api_error(resp, status, msg, NULL); /* a 503 gets its Retry-After there */
    } else {
        dq_http_resp_error(resp, status, msg);
        if (status == 503)
            dq_http_resp_header(resp, "Retry-After", "1");
    }
}

/* An answer given before the body is read, from the headers alone; closes the connection. */
static enum MHD_Result answer_early(dq_server_t *srv, struct MHD_Connection *conn,
                                    const dq_http_req_t *req, const char *method, int status,
                                    const char *msg, int64_t t0)
{
    dq_http_resp_t resp = {0};
    error_resp(req, status, msg, &resp);
    return finish(srv, conn, req, method, &resp, NULL, 0, t0, 1, 0);
}

/* A body of at most this many declared bytes is read and dropped after a refusal decided from
 * the headers (404, 405, 400, 401, 403), so that the refusal keeps the connection: answered in
 * the headers' call, libmicrohttpd closes it, and a client on a keep-alive connection (a
 * proxy's, a script's) then paid a new TCP connection per refused request (session 25: POST
 * 401 at 4-5k req/s on one connection against 16k for a GET; bench/keepalive_errors.sh).
 * Larger and chunked bodies are still refused at once and the connection closed: reading
 * megabytes to refuse them would cost more than a new connection. */
#define DRAIN_MAX 65536

/* Refuses the request with resp (taken): after its body when the body is small and declared
 * (*st gets the state that drains it), else at once with the connection closed. */
static enum MHD_Result refuse(dq_server_t *srv, struct MHD_Connection *conn,
                              const dq_http_req_t *req, const char *method, const framing_t *f,
                              dq_http_resp_t *resp, int64_t t0, conn_state_t **st)
{
    if (!f->n_cl || f->n_te || f->cl > DRAIN_MAX)
        return finish(srv, conn, req, method, resp, NULL, 0, t0, 1, 0);
    *st = dq_xcalloc(1, sizeof(conn_state_t));
    (*st)->srv = srv;
    (*st)->conn = conn;
    (*st)->drain = 1;
    (*st)->resp = *resp;
    (*st)->t0 = t0;
    return MHD_YES;
}

static enum MHD_Result refuse_error(dq_server_t *srv, struct MHD_Connection *conn,
                                    const dq_http_req_t *req, const char *method,
                                    const framing_t *f, int status, const char *msg, int64_t t0,
                                    conn_state_t **st)
{
    dq_http_resp_t resp = {0};
    error_resp(req, status, msg, &resp);
    return refuse(srv, conn, req, method, f, &resp, t0, st);
}

/* The end of a queued job (a render or an API call), on its thread: frees the deferred
 * work's argument and wakes the connection, whose next on_request call finishes the answer. */
static void deferred_done(conn_state_t *st)
{
    dq_http_resp_t *resp = &st->resp;
    if (resp->defer_free)
        resp->defer_free(resp->defer_arg);
    resp->defer_fn = NULL;
    resp->defer_free = NULL;
    resp->defer_arg = NULL;
    atomic_store(&st->deferred, 2);
    MHD_resume_connection(st->conn);
}

/* Runs on a render thread (renderq.c): the deferred work of one request, then wakes its
 * connection, whose next on_request call finishes the response. */
static void run_deferred(void *arg, int64_t deadline_us, int expired)
{
    conn_state_t *st = arg;
    dq_http_resp_t *resp = &st->resp;
    if (expired) {
        dq_http_resp_free(resp);
        dq_http_resp_error(resp, 503, "busy: too many renders at once; retry shortly");
        dq_http_resp_header(resp, "Retry-After", "2");
    } else {
        resp->defer_fn(st->srv, resp, resp->defer_arg, deadline_us);
    }
    deferred_done(st);
}

/* ---------------------------------------------------------------- API jobs */

/* Writes through the JSON API (and logins, which are POSTs) may wait: for the catalog's
 * writer lock held by another process (`danqing import`, up to DQ_CATALOG_WRITE_WAIT_MS) or
 * for a password hash. libmicrohttpd keeps each connection on the worker that accepted it, so
 * on a worker they would stall every keep-alive tile connection and /health there (issue 9:
 * uncached tile p99 1.8 s during an import). The route table marks such methods
 * (dq_route_t.offload); they run on the API queue instead, with the connection suspended, like
 * renders; a queue of their own, so renders and writes never starve each other. */

static enum MHD_Result snap_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    conn_state_t *st = cls;
    st->kv = dq_xrealloc(st->kv, (size_t)(st->n_kv + 1) * 2 * sizeof(char *));
    st->kv[2 * st->n_kv] = dq_xstrdup(key ? key : "");
    st->kv[2 * st->n_kv + 1] = value ? dq_xstrdup(value) : NULL;
    st->n_kv++;
    return MHD_YES;
}

/* Looks name up (case-insensitive, first match, as libmicrohttpd does) in kv[from, to). */
static const char *snap_find(const conn_state_t *st, int from, int to, const char *name)
{
    for (int i = from; i < to; i++)
        if (strcasecmp(st->kv[2 * i], name) == 0)
            return st->kv[2 * i + 1];
    return NULL;
}

static const char *snap_header(const dq_http_req_t *req, const char *name)
{
    const conn_state_t *st = req->conn;
    return snap_find(st, 0, st->n_hdr, name);
}

static const char *snap_arg(const dq_http_req_t *req, const char *name)
{
    const conn_state_t *st = req->conn;
    return snap_find(st, st->n_hdr, st->n_kv, name);
}

static void snap_args(const dq_http_req_t *req,
                      void (*cb)(void *ud, const char *key, const char *value), void *ud)
{
    const conn_state_t *st = req->conn;
    for (int i = st->n_hdr; i < st->n_kv; i++)
        cb(ud, st->kv[2 * i], st->kv[2 * i + 1]);
}

/* Copies what the handler may read of req into st (on the connection's thread). */
static void snap_request(conn_state_t *st, const dq_http_req_t *req)
{
    MHD_get_connection_values(st->conn, MHD_HEADER_KIND, snap_kv, st);
    st->n_hdr = st->n_kv;
    MHD_get_connection_values(st->conn, MHD_GET_ARGUMENT_KIND, snap_kv, st);
    st->jpath = dq_xstrdup(req->path);
    snprintf(st->client, sizeof(st->client), "%s", req->client_ip ? req->client_ip : "");
    st->jreq = *req;
    st->jreq.path = st->jpath;
    st->jreq.conn = st;
    st->jreq.header = snap_header;
    st->jreq.arg = snap_arg;
    st->jreq.args = snap_args;
    st->jreq.client_ip = st->client;
    st->jreq.base_used = &st->base_used;
    st->jreq.body = st->body.data;
    st->jreq.body_len = st->body.len;
}

static void snap_free(conn_state_t *st)
{
    for (int i = 0; i < 2 * st->n_kv; i++)
        free(st->kv[i]);
    free(st->kv);
    free(st->jpath);
    st->kv = NULL;
    st->jpath = NULL;
    st->n_kv = st->n_hdr = 0;
}

/* Runs on an API thread: the whole API handler of one request, then wakes its connection. */
static void run_api(void *arg, int64_t deadline_us, int expired)
{
    (void)deadline_us;
    conn_state_t *st = arg;
    dq_http_resp_t *resp = &st->resp;
    if (expired) {
        dq_http_resp_free(resp);
        *resp = (dq_http_resp_t){0};
        dq_api_error(resp, 503, "busy: too many writes at once; retry shortly", NULL);
    } else {
        st->api_fn(st->srv, &st->jreq, resp);
        if (resp->defer_fn) /* no API handler defers today; if one does, it runs here */
            resp->defer_fn(st->srv, resp, resp->defer_arg, INT64_MAX);
    }
    deferred_done(st);
}

/* The request's body limit, or an early answer. Returns MHD_YES with *st set when the body
 * may be read, or the result of the answer (and *st NULL). */
static enum MHD_Result admit_body(dq_server_t *srv, struct MHD_Connection *conn,
                                  const dq_http_req_t *req, const char *method,
                                  const framing_t *f, int64_t t0, conn_state_t **st)
{
    *st = NULL;
    const dq_route_t *route = dq_http_route(req->path, req->path_len);
    if (!route)
        return refuse_error(srv, conn, req, method, f, 404, "not found", t0, st);
    if (!(route->methods & req->method))
        return refuse_error(srv, conn, req, method, f, 405, "method not allowed", t0, st);
    if (!route->body_limit)
        return refuse_error(srv, conn, req, method, f, 400, "this resource takes no request body",
                            t0, st);
    dq_http_resp_t resp = {0};
    resp.status = 200;
    size_t limit = route->body_limit(srv, req, &resp);
    if (!limit) /* a refusal (401, 403, ...) in resp */
        return resp.status >= 500 ? finish(srv, conn, req, method, &resp, NULL, 0, t0, 1, 0)
                                  : refuse(srv, conn, req, method, f, &resp, t0, st);
    dq_http_resp_free(&resp);
    if (f->n_cl && f->cl > limit) {
        char msg[80];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes", limit);
        return answer_early(srv, conn, req, method, 413, msg, t0);
    }
    /* A declared length is reserved whole, before a byte arrives: twenty slow uploads cannot
     * each get halfway and then all fail. */
    size_t cap = (size_t)srv->cfg->body_buffer_mb << 20;
    size_t want = f->n_cl ? (size_t)f->cl : 0;
    if (want && atomic_fetch_add(&srv->body_bytes, want) + want > cap) {
        atomic_fetch_sub(&srv->body_bytes, want);
        return answer_early(srv, conn, req, method, 503, "busy: too many request bodies at once",
                            t0);
    }
    *st = dq_xcalloc(1, sizeof(conn_state_t));
    (*st)->srv = srv;
    (*st)->conn = conn;
    (*st)->limit = limit;
    (*st)->reserved = want;
    return MHD_YES;
}

/* Takes n more body bytes into st; returns 0, or the status (413, 503) that ends the read. */
static int take_body(dq_server_t *srv, conn_state_t *st, const char *data, size_t n)
{
    if (st->body.len + n > st->limit)
        return 413;
    size_t need = st->body.len + n;
    if (need > st->reserved) { /* chunked: reserve as it comes */
        size_t extra = need - st->reserved;
        size_t cap = (size_t)srv->cfg->body_buffer_mb << 20;
        if (atomic_fetch_add(&srv->body_bytes, extra) + extra > cap) {
            atomic_fetch_sub(&srv->body_bytes, extra);
            return 503;
        }
        st->reserved += extra;
    }
    dq_buf_append(&st->body, data, n);
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    dq_server_t *srv = cls;
    int m = method_of(method);
    int64_t t0 = dq_now_us();
    int base_used = 0;
    char client[64];
    dq_http_req_t req;
    fill_req(srv, conn, url, m, &req, client, sizeof(client), &base_used);

    /* The first call comes with the headers, before any body byte: the framing is checked,
     * and a request with a body is routed and authenticated, here, so that nobody gets a
     * byte buffered that the route would refuse. Answering in this call makes
     * libmicrohttpd (0.9.75) close the connection afterwards, which is what a refused body
     * needs; requests without a body return and are answered on the next call, keeping
     * their connection. */
    if (!*con_cls) {
        framing_t f;
        const char *bad = framing_check(conn, version, &f);
        if (bad)
            return answer_early(srv, conn, &req, method, 400, bad, t0);
        if (m == 0)
            return answer_early(srv, conn, &req, method, 501, "method not implemented", t0);
        int has_body = f.n_te || f.cl > 0;
        if (!has_body && !(m & BODY_METHODS)) {
            *con_cls = (void *)&no_body_marker;
            return MHD_YES;
        }
        conn_state_t *st = NULL;
        enum MHD_Result ret = admit_body(srv, conn, &req, method, &f, t0, &st);
        if (st)
            *con_cls = st;
        return ret;
    }
    conn_state_t *st = state_of(con_cls);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st || st->pending || st->drain)
            return MHD_YES; /* discarded */
        st->pending = take_body(srv, st, upload_data, n);
        if (!st->pending)
            return MHD_YES;
        /* Answer now: libmicrohttpd stops reading and closes after the answer. */
        return answer_early(srv, conn, &req, method, st->pending,
                            st->pending == 413 ? "request body too large"
                                               : "busy: too many request bodies at once",
                            t0);
    }
    if (st && st->drain) /* the body of a refused request is read: the refusal, kept alive */
        return finish(srv, conn, &req, method, &st->resp, NULL, 0, st->t0, 0, 0);
    if (st && atomic_load(&st->deferred) == 2) { /* back from a render or API thread */
        int api_base = st->base_used;
        if (st->api_job)
            snap_free(st);
        enum MHD_Result ret = finish(srv, conn, &req, method, &st->resp, st->key, st->key_len,
                                     st->t0, 0, st->api_job ? api_base : 1);
        return ret;
    }
    if (st) {
        req.body = st->body.data;
        req.body_len = st->body.len;
    }

    /* Fast path: the response cache. */
    char key[2048];
    size_t key_len = 0;
    if (m & (DQ_HTTP_GET | DQ_HTTP_HEAD)) {
        key_len = make_key(srv, &req, key, sizeof(key));
        dq_cache_entry_t *e = key_len ? dq_cache_get(srv->cache, key, key_len) : NULL;
        if (e) {
            enum MHD_Result ret;
            const char *tag = dq_cache_entry_tag(e);
            int status = 200;
            if (etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match"),
                             tag)) {
                status = 304;
                ret = answer_not_modified(conn, tag, NULL);
            } else {
                ret = MHD_queue_response(conn, MHD_HTTP_OK, dq_cache_entry_value(e));
            }
            size_t bytes = status == 200 ? dq_cache_entry_size(e) : 0;
            dq_cache_release(srv->cache, e);
            access_log(srv, method, url, status, bytes, t0, 1);
            return ret;
        }
    }

    dq_http_resp_t resp = {0};
    resp.status = 200;
    const dq_route_t *route = dq_http_route(url, req.path_len);
    if (!route) {
        dq_http_resp_error(&resp, 404, "not found");
    } else if (m == DQ_HTTP_OPTIONS) {
        /* CORS preflight: allow what the route allows. */
        resp.status = 204;
        dq_buf_t allow = {0};
        static const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
        for (int i = 0; i < 6; i++)
            if (route->methods & (1 << i))
                dq_buf_printf(&allow, "%s%s", allow.len ? ", " : "", names[i]);
        dq_buf_puts(&allow, ", OPTIONS");
        dq_http_resp_header(&resp, "Access-Control-Allow-Methods", allow.data);
        dq_http_resp_header(&resp, "Access-Control-Allow-Headers",
                            "Content-Type, Authorization, If-Match, If-None-Match, Accept");
        dq_http_resp_header(&resp, "Access-Control-Max-Age", "86400");
        dq_http_resp_header(&resp, "Allow", allow.data);
        dq_buf_free(&allow);
    } else if (!(route->methods & m)) {
        dq_http_resp_error(&resp, 405, "method not allowed");
    } else if ((route->offload & m) && srv->apiq) {
        /* The whole handler runs on the API queue (see run_api). Suspend before queueing, so
         * that the API thread's resume always comes after. */
        if (!st) {
            st = dq_xcalloc(1, sizeof(conn_state_t));
            st->srv = srv;
            st->conn = conn;
            *con_cls = st;
        }
        st->resp = resp;
        st->api_job = 1;
        st->api_fn = route->fn;
        st->t0 = t0;
        snap_request(st, &req);
        atomic_store(&st->deferred, 1);
        MHD_suspend_connection(conn);
        if (dq_renderq_submit(srv->apiq, run_api, st) != 0)
            run_api(st, 0, 1); /* queue full: 503 now (it resumes the connection) */
        return MHD_YES;
    } else {
        route->fn(srv, &req, &resp);
    }

    if (resp.defer_fn) {
        /* Hand the rest to a render thread; this thread goes back to its other connections.
         * Suspend before queueing, so that the render thread's resume always comes after. */
        if (!st) {
            st = dq_xcalloc(1, sizeof(conn_state_t));
            st->srv = srv;
            st->conn = conn;
            *con_cls = st;
        }
        st->resp = resp;
        st->key = key_len ? dq_xmalloc(key_len) : NULL;
        if (key_len)
            memcpy(st->key, key, key_len);
        st->key_len = key_len;
        st->t0 = t0;
        atomic_store(&st->deferred, 1);
        MHD_suspend_connection(conn);
        if (dq_renderq_submit(srv->renderq, run_deferred, st) == 0)
            return MHD_YES;
        run_deferred(st, 0, 1); /* queue full: 503 now (it resumes the connection) */
        return MHD_YES;
    }
    return finish(srv, conn, &req, method, &resp, key, key_len, t0, 0, base_used);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn, (void)toe;
    dq_server_t *srv = cls;
    conn_state_t *st = state_of(con_cls);
    if (!st)
        return;
    if (st->reserved)
        atomic_fetch_sub(&srv->body_bytes, st->reserved);
    if (st->resp.defer_free)
        st->resp.defer_free(st->resp.defer_arg);
    dq_http_resp_free(&st->resp);
    dq_buf_free(&st->body);
    snap_free(st);
    free(st->key);
    free(st);
    *con_cls = NULL;
}

/* Leave the path percent-encoded: the IIIF layer must tell "a%2Fb" from "a/b", and decoding
 * twice is how path traversal slips through. Query arguments stay encoded too. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    dq_log(DQ_LOG_WARN, "http", "%s", msg);
}

/* ---------------------------------------------------------------- start/stop */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
                        dq_err_t *err)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return dq_err_set(err, DQ_EINVAL, 0, "--listen: '%s' is not HOST:PORT", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    uint64_t port;
    if (dq_str_to_u64(colon + 1, strlen(colon + 1), &port) < 0 || port > 65535)
        return dq_err_set(err, DQ_EINVAL, 0, "--listen: bad port in '%s'", listen);
    memset(ss, 0, sizeof(*ss));
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h[hl - 1] = '\0';
        h++;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
    } else {
        return dq_err_set(err, DQ_EINVAL, 0, "--listen: '%s' is not a numeric address", h);
    }
    return 0;
}

#define DQ_HTTP_CONN_POOL (32u << 10)

int dq_http_daemon_start(dq_server_t *srv, dq_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(srv->cfg->listen, &ss, &sl, err) < 0)
        return -1;
    /* Suspend/resume: renders run on the render queue's threads while the connection waits
     * suspended (see run_deferred). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Each connection has one memory pool for the request line, headers and the answer's
     * header block; bodies do not live there (mhd.c copies them into conn_state_t.body).
     * libmicrohttpd zeroes it between requests on a keep-alive connection. A 16 KiB pool was
     * tried for that memset (issue 9): no gain measurable over noise (1.4-2.5 % of the
     * cache-off tile path either way), and it refused 7 KiB of cookies (the library copies a
     * Cookie header once more to split it) and dropped some header blocks just over 16 KiB
     * without an answer. So libmicrohttpd's own 32 KiB, stated here: about 15 KiB of cookies
     * or a 31 KiB header block, 431 past that (tests/regress/issue_9_hotpath.c). */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)DQ_HTTP_CONN_POOL, MHD_OPTION_END);
    if (!d)
        return dq_err_set(err, DQ_EIO, 0, "cannot listen on %s (address in use?)",
                          srv->cfg->listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    srv->daemon = d;
    return 0;
}

void dq_http_daemon_stop(dq_server_t *srv)
{
    /* Stop accepting first, so a load balancer sees the port close; then let the renders in
     * flight finish and resume their connections (MHD must not stop with a connection
     * suspended; later renders are refused with 503), then let MHD finish the requests in
     * flight and close the connections. */
    if (srv->daemon) {
        MHD_socket s = MHD_quiesce_daemon(srv->daemon);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
    dq_classes_stop(srv->classes); /* no connection may stay suspended in an event stream */
    dq_renderq_stop(srv->renderq);
    dq_renderq_stop(srv->apiq);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}

void dq_http_cache_value_free(void *value) { destroy_cached_response(value); }
