/*
 * static.c: the web front end's files. `GET /` and client-side routes (`/search`,
 * `/relic/{id}`, `/scroll/{id}`, `/compare`: any path whose last segment has no '.') answer
 * index.html, the single-page app; `/static/{path}` answers a file under the web root. The
 * root is cfg->web_dir, else `web/` beside the binary, else `../web` (so build/danqing and
 * build/san/danqing both find build/web). It does not compress, template or list
 * directories, and never answers under /api/ or /iiif/ (those 404 here, so a missing API
 * endpoint is not mistaken for the app).
 *
 * Safety: the path is percent-decoded once; a decoded path with "..", ".", an empty
 * segment, a backslash, a '%' (double encoding) or a control byte is 400, and the file's
 * realpath must lie under the root's realpath (a symlink out of the root is 404).
 */
#define _GNU_SOURCE
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (64u << 20)

/* ---------------------------------------------------------------- content types */

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"webmanifest", "application/manifest+json"},
};

/* The Content-Type for a file name (static string); octet-stream for the unknown. */
static const char *type_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot)
        for (size_t i = 0; i < DQ_ARRAY_LEN(types); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* ---------------------------------------------------------------- the web root */

/* Resolves the web root into out (PATH_MAX): the configured directory, else web/ or ../web
 * beside /proc/self/exe. Returns 0, or -1 when none exists. */
static int web_root(const dq_server_t *srv, char *out)
{
    if (srv->cfg->web_dir[0])
        return realpath(srv->cfg->web_dir, out) ? 0 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    static const char *const tries[] = {"/web", "/../web"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(tries); i++) {
        char cand[PATH_MAX + 16];
        snprintf(cand, sizeof(cand), "%s%s", exe, tries[i]);
        struct stat st;
        if (realpath(cand, out) && stat(out, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    return -1;
}

/* ---------------------------------------------------------------- path checks */

/* Checks a decoded relative path ("css/app.css"): 0 when every segment is a plain name,
 * -1 for "..", ".", empty segments, backslashes, '%' (a second encoding layer) and control
 * bytes. The realpath check in send_file is the second line of defence, not the only one. */
static int check_rel(const char *p)
{
    if (!*p)
        return -1;
    const char *seg = p;
    for (const char *c = p;; c++) {
        if (*c == '/' || *c == '\0') {
            size_t n = (size_t)(c - seg);
            if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return -1;
            if (*c == '\0')
                return 0;
            seg = c + 1;
        } else if (*c == '\\' || *c == '%' || (unsigned char)*c < 0x20 || *c == 0x7f) {
            return -1;
        }
    }
}

/* 1 when the last segment of path has no '.' (a client-side route, not a file). */
static int is_app_route(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strchr(slash ? slash : path, '.') == NULL;
}

/* ---------------------------------------------------------------- answering */

/* Long for the vendored library and the font (they change only with a release, and an
 * upgrade renames nothing a browser could mix badly); revalidate-always for the app's own
 * html, css and modules, so that an update never runs new html with old modules (each
 * revalidation is a cheap 304). */
static const char *cache_control(const char *rel)
{
    if (dq_str_starts(rel, "vendor/") || dq_str_starts(rel, "fonts/"))
        return "public, max-age=604800";
    return "no-cache";
}

static void security_headers(dq_http_resp_t *resp, int html)
{
    dq_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    if (!html)
        return;
    /* No inline script, no eval: the app is CSP-clean. Styles may be set by OpenSeadragon
     * through the style attribute. Images and fetches may also come from other http(s)
     * origins (issue 16): a reader opens another institution's IIIF manifest (the browser
     * fetches it, under that site's CORS) and views its image service. Scripts stay
     * 'self' only, so no other origin can run code here. */
    dq_http_resp_header(resp, "Content-Security-Policy",
                        "default-src 'self'; script-src 'self'; style-src 'self' "
                        "'unsafe-inline'; img-src 'self' data: blob: https: http:; "
                        "connect-src 'self' https: http:; "
                        "font-src 'self'; object-src 'none'; base-uri 'none'; "
                        "frame-ancestors 'self'");
    dq_http_resp_header(resp, "Referrer-Policy", "same-origin");
}

/* Answers the file root/rel: 200 with its bytes, 304 when If-None-Match matches, 404 when
 * missing, not a regular file or (after symlinks) outside the root. */
static void send_file(const dq_http_req_t *req, dq_http_resp_t *resp, const char *root,
                      const char *rel)
{
    char *joined = dq_xasprintf("%s/%s", root, rel);
    char real[PATH_MAX];
    int fd = -1;
    size_t root_len = strlen(root);
    if (!realpath(joined, real) || strncmp(real, root, root_len) != 0 || real[root_len] != '/') {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    if ((uint64_t)st.st_size > MAX_FILE) {
        dq_http_resp_error(resp, 500, "file too large to serve");
        goto out;
    }
    /* A weak validator from identity, size and modification time: no need to read (or
     * hash) the file to answer a revalidation. */
    char etag[80];
    snprintf(etag, sizeof(etag), "W/\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *type = type_of(real);
    int html = strncmp(type, "text/html", 9) == 0;
    resp->no_etag = 1;
    dq_http_resp_header(resp, "ETag", etag);
    dq_http_resp_header(resp, "Cache-Control", cache_control(rel));
    const char *inm = req->header(req, "If-None-Match");
    if (inm && (strcmp(inm, "*") == 0 || strstr(inm, etag + 2))) {
        resp->status = 304;
        goto out;
    }
    dq_buf_reserve(&resp->body, (size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, resp->body.data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != (size_t)st.st_size) {
        dq_http_resp_error(resp, 500, "short read");
        goto out;
    }
    resp->body.len = got;
    resp->body.data[got] = '\0';
    resp->status = 200;
    resp->content_type = type;
    security_headers(resp, html);
out:
    if (fd >= 0)
        close(fd);
    free(joined);
}

void dq_http_static(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_err_t err = {0};
    char *path = dq_str_pct_decode(req->path, req->path_len, &err);
    char root[PATH_MAX];
    if (!path) {
        dq_http_resp_error(resp, 400, err.msg);
        goto out;
    }
    /* Longer prefixes win in the route table; these are the ones not (yet) routed. */
    if (dq_str_starts(path, "/api/") || dq_str_starts(path, "/iiif/") ||
        strcmp(path, "/api") == 0) {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    /* Check the whole path (one trailing '/' allowed), then pick the file it names. */
    size_t n = strlen(path);
    if (n > 1 && path[n - 1] == '/')
        path[--n] = '\0';
    if (strcmp(path, "/") != 0 && check_rel(path + 1) < 0) {
        dq_http_resp_error(resp, 400, "bad path");
        goto out;
    }
    const char *rel;
    if (dq_str_starts(path, "/static/"))
        rel = path + 8;
    else if (strcmp(path, "/static") == 0)
        rel = "";
    else if (strcmp(path, "/") == 0 || is_app_route(path))
        rel = "index.html";
    else
        rel = path + 1; /* /favicon.ico, /robots.txt, /index.html */
    if (!*rel) {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    if (web_root(srv, root) < 0) {
        dq_http_resp_error(resp, 404, "no web front end installed (build it with `make web`)");
        goto out;
    }
    send_file(req, resp, root, rel);
    /* ======== network: the relic page names its Linked Art document (linkedart.c) ======== */
    if (resp->status == 200 && dq_str_starts(path, "/relic/") && path[7] &&
        !strchr(path + 7, '/'))
        dq_http_relic_page(srv, req, resp, path + 7);
out:
    free(path);
}
