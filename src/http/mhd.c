/*
 * mhd.c: the libmicrohttpd wrapper, the only file that includes microhttpd.h.
 *
 * Threading: MHD runs a pool of cfg->threads epoll threads; each handles its connections
 * start to finish, so handlers run on those threads and must be thread-safe.
 *
 * The fast path: a finished 200 response is kept in the response cache as the MHD_Response
 * object itself, headers and all. MHD responses are reference counted and may be queued on
 * any number of connections at once, so a cache hit costs one hash lookup and one
 * MHD_queue_response: no parsing, no allocation, no copying of the body. The cache key is
 * the server epoch (bumped whenever an image is replaced, see registry.c) + the raw path +
 * the content-negotiation variant, so a replaced image never answers from stale entries.
 */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

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

static void req_peer(const dq_http_req_t *req, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
        (struct MHD_Connection *)req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
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

void dq_http_base_url(const dq_server_t *srv, const dq_http_req_t *req, dq_buf_t *out)
{
    const char *host = req->header(req, "X-Forwarded-Host");
    const char *proto = req->header(req, "X-Forwarded-Proto");
    if (!host)
        host = req->header(req, "Host");
    /* A Host header is attacker-controlled text that ends up in JSON and Link headers:
     * accept only host name characters, else fall back to the bound address. */
    int ok = host && *host && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              strchr(".-:[]_", *p)))
            ok = 0;
    if (!proto || (strcmp(proto, "https") != 0 && strcmp(proto, "http") != 0))
        proto = "http";
    if (ok)
        dq_buf_printf(out, "%s://%s", proto, host);
    else
        dq_buf_printf(out, "http://127.0.0.1:%d", srv->port);
}

/* State kept across the calls MHD makes for one request (bodies arrive in pieces). */
typedef struct {
    dq_buf_t body;
    int too_big;
} conn_state_t;

#define MAX_BODY (16u << 20)

/* *con_cls of requests without a body: read-only, never freed. */
static const char no_body_marker = 0;

/* ---------------------------------------------------------------- the handler */

static void destroy_cached_response(void *value) { MHD_destroy_response(value); }

/* Cache key: epoch, variant byte, raw path. Written into a stack buffer. */
static size_t make_key(char *key, size_t cap, uint64_t epoch, char variant, const char *path,
                       size_t path_len)
{
    if (path_len + 9 > cap)
        return 0;
    memcpy(key, &epoch, 8);
    key[8] = variant;
    memcpy(key + 9, path, path_len);
    return path_len + 9;
}

/* The negotiation variant: info.json differs for Accept: application/ld+json. */
static char variant_of(const dq_http_req_t *req)
{
    const char *accept = req->header(req, "Accept");
    return accept && strstr(accept, "application/ld+json") ? 'L' : 'J';
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

static enum MHD_Result answer_not_modified(struct MHD_Connection *conn, const char *etag)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    add_common_headers(r);
    MHD_add_response_header(r, "ETag", etag);
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
    /* Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x". */
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    dq_server_t *srv = cls;
    int m = method_of(method);
    int64_t t0 = dq_now_us();

    /* The first call for a request only sets up; answering then would make libmicrohttpd
     * (0.9.75) close the connection, since it has not yet seen the end of the request.
     * GET/HEAD get a static marker (no allocation); bodies get a buffer that later calls
     * fill; the call with *upload_data_size == 0 after that is the one that answers. */
    if (!*con_cls) {
        *con_cls = (m & (DQ_HTTP_POST | DQ_HTTP_PUT | DQ_HTTP_PATCH))
                       ? (void *)dq_xcalloc(1, sizeof(conn_state_t))
                       : (void *)&no_body_marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        conn_state_t *st = *con_cls == &no_body_marker ? NULL : *con_cls;
        if (st && st->body.len + *upload_data_size <= MAX_BODY)
            dq_buf_append(&st->body, upload_data, *upload_data_size);
        else if (st)
            st->too_big = 1;
        *upload_data_size = 0; /* a body on GET is read and ignored */
        return MHD_YES;
    }
    conn_state_t *st = *con_cls == &no_body_marker ? NULL : *con_cls;

    dq_http_req_t req = {0};
    req.method = m;
    req.conn = conn;
    req.header = req_header;
    req.path = url;
    req.path_len = strlen(url);
    req.arg = req_arg;
    req.peer = req_peer;
    if (st) {
        req.body = st->body.data;
        req.body_len = st->body.len;
    }

    /* Fast path: the response cache. */
    char key[2048];
    size_t key_len = 0;
    if (m & (DQ_HTTP_GET | DQ_HTTP_HEAD)) {
        key_len = make_key(key, sizeof(key), atomic_load(&srv->epoch), variant_of(&req), url,
                           req.path_len);
        dq_cache_entry_t *e = key_len ? dq_cache_get(srv->cache, key, key_len) : NULL;
        if (e) {
            enum MHD_Result ret;
            const char *tag = dq_cache_entry_tag(e);
            int status = 200;
            if (etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match"),
                             tag)) {
                status = 304;
                ret = answer_not_modified(conn, tag);
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
    if (st && st->too_big) {
        dq_http_resp_error(&resp, 413, "request body too large");
    } else if (m == 0) {
        dq_http_resp_error(&resp, 501, "method not implemented");
    } else {
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
        } else {
            route->fn(srv, &req, &resp);
        }
    }

    size_t body_len = resp.body.len;
    char etag[40] = "";
    if (resp.status == 200 && !resp.no_etag)
        snprintf(etag, sizeof(etag), "\"%016llx\"",
                 (unsigned long long)dq_hash64(resp.body.data ? resp.body.data : "", body_len));
    if (etag[0] &&
        etag_matches(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match"), etag)) {
        enum MHD_Result ret = answer_not_modified(conn, etag);
        access_log(srv, method, url, 304, 0, t0, 0);
        dq_http_resp_free(&resp);
        return ret;
    }
    char *data = dq_buf_steal(&resp.body, NULL);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(body_len, data, free);
    if (resp.content_type)
        MHD_add_response_header(r, "Content-Type", resp.content_type);
    add_common_headers(r);
    if (etag[0])
        MHD_add_response_header(r, "ETag", etag);
    for (int i = 0; i < resp.n_headers; i++)
        MHD_add_response_header(r, resp.header_names[i], resp.header_values[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    int admit = resp.cacheable && resp.status == 200 && key_len &&
                (!resp.cache_on_second || dq_cache_seen_before(srv->cache, key, key_len));
    if (admit)
        dq_cache_put(srv->cache, key, key_len, r, body_len, etag); /* cache owns our ref */
    else
        MHD_destroy_response(r);
    access_log(srv, method, url, resp.status, body_len, t0, 0);
    dq_http_resp_free(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    conn_state_t *st = *con_cls;
    if (st && *con_cls != &no_body_marker) {
        dq_buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
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

int dq_http_daemon_start(dq_server_t *srv, dq_err_t *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(srv->cfg->listen, &ss, &sl, err) < 0)
        return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
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
    if (!srv->daemon)
        return;
    /* Stop accepting first, so a load balancer sees the port close, then let MHD finish the
     * requests in flight and close the connections. */
    MHD_socket s = MHD_quiesce_daemon(srv->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}

void dq_http_cache_value_free(void *value) { destroy_cached_response(value); }
