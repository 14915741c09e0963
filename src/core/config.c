/*
 * config.c: the one dq_config_t. Defaults, then the environment (DANQING_*), then command-line
 * flags; every value is range-checked and a bad one is an error with the setting's name, never
 * silently clamped. Filled once in main; read-only afterwards, so threads share it freely.
 */
#include "core.h"
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

void dq_config_defaults(dq_config_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data_dir, sizeof(c->data_dir), "./data");
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = n > 0 ? (int)n : 2;
    c->cache_mb = 256;
    /* libvips' operation cache is off by default: the renderer feeds vips fresh memory
     * images, so cached operations never hit again and only hold memory (200 region renders:
     * peak RSS 48 MB with 0, 68 MB with 64 MiB, same time). The HTTP response cache is where
     * repeated requests are answered. */
    c->vips_cache_mb = 0;
    /* Pyramid tiles at Q88: at Q >= 90 libvips writes RGB-coded JPEG tiles without chroma
     * subsampling, 3.9x larger (a 4096x2048 crop of the bench master: 8.5 MB at Q90 vs
     * 2.2 MB at Q89) and slower to decode. The pyramid is a serving copy: the master is kept
     * byte for byte, and --quality raises it when an archive wants 4:4:4 tiles. */
    c->jpeg_quality = 88;
    c->serve_quality = 85;
    c->max_pixels = 4000000000ULL; /* 4 gigapixels at ingest: beyond is a decompression bomb */
    c->max_width = 12000;          /* served output limits: a request beyond gets 403 */
    c->max_height = 12000;
    c->max_area = 60000000ULL;
    c->log_level = DQ_LOG_INFO;
    /* 64 MiB of bodies at once: 64 relic documents at their 1 MiB limit, or a thousand
     * logins; 20 anonymous 16 MiB bodies took the server from 114 to 421 MB (issue 10). */
    c->body_buffer_mb = 64;
    c->render_slots = 0;
    /* A render of the largest allowed output (60 Mpx) takes 3-5 s on one core; 15 s is
     * a stuck render, not a slow one. */
    c->render_timeout_ms = 15000;
    /* Object stores: 1 GiB of cached blocks of 256 KiB (one ranged GET holds ~10 stored tiles
     * of a 256 px Q88 pyramid, so a viewer's neighbouring tiles mostly share a GET); 16 MiB
     * parts (S3's minimum is 5 MiB, its maximum 10,000 parts: 156 GiB objects at this size);
     * 4 retries with back-off 100, 200, 400, 800 ms. */
    c->store_cache_mb = 1024;
    c->store_block_kb = 256;
    c->s3_part_mb = 16;
    c->s3_retries = 4;
    c->render_wait_ms = 2000;
    c->job_stale_s = 60;
}

/* ---------------------------------------------------------------- address ranges */

static int parse_one_cidr(const char *s, size_t len, dq_cidr_t *c)
{
    char a[64];
    if (len == 0 || len >= sizeof(a))
        return -1;
    memcpy(a, s, len);
    a[len] = '\0';
    char *slash = strchr(a, '/');
    long bits = -1;
    if (slash) {
        char *end = NULL;
        *slash = '\0';
        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || bits < 0)
            return -1;
    }
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, a, c->addr) == 1) {
        c->family = AF_INET;
        c->bits = bits < 0 ? 32 : (int)bits;
        return bits > 32 ? -1 : 0;
    }
    if (inet_pton(AF_INET6, a, c->addr) == 1) {
        c->family = AF_INET6;
        c->bits = bits < 0 ? 128 : (int)bits;
        return bits > 128 ? -1 : 0;
    }
    return -1;
}

int dq_cidr_list_parse(const char *s, dq_cidr_t *out, int cap, int *n, dq_err_t *err)
{
    *n = 0;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        size_t len = strcspn(s, ", ");
        if (!len)
            break;
        if (*n >= cap)
            return dq_err_set(err, DQ_EINVAL, 0, "more than %d address ranges", cap);
        if (parse_one_cidr(s, len, &out[*n]) < 0)
            return dq_err_set(err, DQ_EINVAL, 0, "'%.*s' is not ADDR or ADDR/BITS", (int)len, s);
        (*n)++;
        s += len;
    }
    return 0;
}

static int prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int dq_cidr_match(const dq_cidr_t *ranges, int n, int family, const uint8_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
        family = AF_INET;
        addr += 12;
    }
    for (int i = 0; i < n; i++)
        if (ranges[i].family == family && prefix_equal(ranges[i].addr, addr, ranges[i].bits))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- validators */

/* --public-url: an absolute http(s) URL without query, fragment or trailing slash; host
 * characters only, since it ends up verbatim in JSON and Link headers. */
static const char *check_public_url(char *v)
{
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        v[--n] = '\0';
    if (n == 0)
        return NULL; /* "" = not configured */
    const char *rest = strncmp(v, "https://", 8) == 0  ? v + 8
                       : strncmp(v, "http://", 7) == 0 ? v + 7
                                                       : NULL;
    if (!rest || !*rest || *rest == '/')
        return "must be http://HOST[:PORT][/PATH] or https://...";
    for (const char *p = rest; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              strchr(".-:[]_/~", *p)))
            return "may hold only letters, digits and . - : [ ] _ / ~";
    return NULL;
}

static const char *check_trusted_proxy(char *v)
{
    dq_cidr_t r[64];
    int n;
    static _Thread_local char msg[sizeof(((dq_err_t *)0)->msg)];
    dq_err_t err = {0};
    if (dq_cidr_list_parse(v, r, (int)DQ_ARRAY_LEN(r), &n, &err) < 0) {
        snprintf(msg, sizeof(msg), "%s", err.msg);
        return msg;
    }
    return NULL;
}

const char *dq_config_catalog(const dq_config_t *c)
{
    return c->catalog[0] ? c->catalog : c->data_dir;
}

typedef struct {
    const char *name; /* flag without dashes, also DANQING_<NAME> upper-cased, '-' -> '_' */
    int kind;         /* 0 string, 1 int, 2 u64 */
    size_t off;
    size_t size;      /* for strings */
    long long lo, hi; /* for numbers */
    /* for strings, optional: normalises the value in place; returns NULL or why it is bad */
    const char *(*check)(char *v);
} setting_t;

#define SC(name, field, check)                                                                     \
    {name, 0, offsetof(dq_config_t, field), sizeof(((dq_config_t *)0)->field), 0, 0, check}
#define S(name, field) SC(name, field, NULL)
#define I(name, field, lo, hi) {name, 1, offsetof(dq_config_t, field), 0, lo, hi, NULL}
#define U(name, field, lo, hi) {name, 2, offsetof(dq_config_t, field), 0, lo, hi, NULL}
static const setting_t settings[] = {
    S("data", data_dir),
    S("catalog", catalog),
    S("listen", listen),
    I("threads", threads, 1, 256),
    I("cache-mb", cache_mb, 0, 1 << 20),
    I("vips-cache-mb", vips_cache_mb, 0, 1 << 20),
    I("quality", jpeg_quality, 1, 100),
    I("serve-quality", serve_quality, 1, 100),
    U("max-pixels", max_pixels, 1, 1LL << 40),
    U("max-width", max_width, 1, 1 << 30),
    U("max-height", max_height, 1, 1 << 30),
    U("max-area", max_area, 1, 1LL << 40),
    I("log-level", log_level, 0, 4),
    S("web", web_dir),
    SC("public-url", public_url, check_public_url),
    SC("trusted-proxy", trusted_proxy, check_trusted_proxy),
    I("body-buffer-mb", body_buffer_mb, 1, 1 << 16),
    I("render-slots", render_slots, 0, 1024),
    I("render-timeout-ms", render_timeout_ms, 100, 3600 * 1000),
    I("render-wait-ms", render_wait_ms, 0, 60 * 1000),
    I("drain-ms", drain_ms, 0, 600 * 1000),
    I("job-stale-s", job_stale_s, 2, 3600),
    S("store", store),
    S("s3-endpoint", s3_endpoint),
    S("s3-region", s3_region),
    S("store-cache", store_cache),
    I("store-cache-mb", store_cache_mb, 1, 1 << 24),
    I("store-block-kb", store_block_kb, 16, 64 * 1024),
    I("s3-part-mb", s3_part_mb, 5, 5 * 1024),
    I("s3-retries", s3_retries, 0, 10),
    I("cdn-max-age", cdn_max_age, 0, 365 * 86400),
    S("access-log", access_log),
    S("purge-command", purge_command),
};

static int set_value(dq_config_t *c, const setting_t *s, const char *v, dq_err_t *err)
{
    char *p = (char *)c + s->off;
    if (s->kind == 0) {
        if (strlen(v) >= s->size)
            return dq_err_set(err, DQ_EINVAL, 0, "--%s: value too long", s->name);
        char tmp[PATH_MAX + 1];
        memcpy(tmp, v, strlen(v) + 1);
        const char *why = s->check ? s->check(tmp) : NULL;
        if (why)
            return dq_err_set(err, DQ_EINVAL, 0, "--%s: '%s' %s", s->name, v, why);
        memcpy(p, tmp, strlen(tmp) + 1);
        return 0;
    }
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < s->lo || x > s->hi)
        return dq_err_set(err, DQ_EINVAL, 0, "--%s: '%s' is not a number in %lld..%lld", s->name,
                          v, s->lo, s->hi);
    if (s->kind == 1)
        *(int *)p = (int)x;
    else
        *(uint64_t *)p = (uint64_t)x;
    return 0;
}

int dq_config_from_env(dq_config_t *c, dq_err_t *err)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(settings); i++) {
        char env[64] = "DANQING_";
        size_t k = strlen(env);
        for (const char *n = settings[i].name; *n && k < sizeof(env) - 1; n++)
            env[k++] = *n == '-' ? '_' : (char)(*n >= 'a' && *n <= 'z' ? *n - 32 : *n);
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && *v && set_value(c, &settings[i], v, err) < 0)
            return dq_err_set(err, DQ_EINVAL, 0, "%s: %s", env, err->msg);
    }
    return 0;
}

int dq_config_flag(dq_config_t *c, int argc, char **argv, int *i, dq_err_t *err)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0)
        return 0;
    a += 2;
    for (size_t k = 0; k < DQ_ARRAY_LEN(settings); k++) {
        size_t n = strlen(settings[k].name);
        if (strncmp(a, settings[k].name, n) != 0 || (a[n] != '\0' && a[n] != '='))
            continue;
        const char *v;
        if (a[n] == '=') {
            v = a + n + 1;
        } else {
            if (*i + 1 >= argc)
                return dq_err_set(err, DQ_EINVAL, 0, "--%s needs a value", settings[k].name);
            v = argv[++*i];
        }
        return set_value(c, &settings[k], v, err) < 0 ? -1 : 1;
    }
    return 0;
}

void dq_config_help(FILE *f)
{
    fprintf(f, "common options (also DANQING_<NAME> in the environment):\n"
               "  --data DIR          data directory (default ./data)\n"
               "  --catalog URL       catalog: sqlite:PATH (default DIR/catalog.sqlite) or\n"
               "                      postgres://user@host:port/db (shared by several servers)\n"
               "  --listen HOST:PORT  address to serve on (default 127.0.0.1:8080; port 0 picks one)\n"
               "  --threads N         worker threads (default: number of cores)\n"
               "  --cache-mb N        response cache budget in MiB (default 256)\n"
               "  --vips-cache-mb N   libvips operation cache in MiB (default 0: see config.c)\n"
               "  --quality N         JPEG quality of stored pyramid tiles (default 88; >= 90: RGB 4:4:4)\n"
               "  --serve-quality N   JPEG quality of rendered responses (default 85)\n"
               "  --max-pixels N      largest master accepted at ingest (default 4000000000)\n"
               "  --max-width N, --max-height N, --max-area N\n"
               "                      largest response served (default 12000, 12000, 60000000)\n"
               "  --log-level N       0 debug, 1 info, 2 warn, 3 error, 4 off (default 1)\n"
               "  --web DIR           web front end files (default: web/ or ../web beside the binary)\n"
               "  --public-url URL    public base URL of every id and link (default: from the request;\n"
               "                      set it behind a proxy, see docs/security.md)\n"
               "  --trusted-proxy A[,A] addresses (CIDR ok) whose X-Forwarded-*/Forwarded count\n"
               "  --body-buffer-mb N  request bodies buffered at once, all requests (default 64)\n"
               "  --render-slots N    expensive renders at once (default 0: the threads, >= 2)\n"
               "  --render-timeout-ms N  deadline of one render (default 15000; 503 past it)\n"
               "  --render-wait-ms N  wait for a render slot before 503 (default 2000)\n"
               "  --drain-ms N        after SIGTERM, /health answers 503 draining this long before\n"
               "                      the server stops (default 0; set it to the balancer's check\n"
               "                      interval)\n"
               "  --job-stale-s N     a condition job whose server is silent this long is failed\n"
               "                      (default 60; servers sharing a catalog must agree)\n"
               "  --store URL         where masters, pyramids and layers live: DATA (default), a\n"
               "                      path or file:///PATH (shared mount), or s3://BUCKET[/PREFIX]\n"
               "                      (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n"
               "  --s3-endpoint URL   S3 endpoint (default AWS_ENDPOINT_URL); --s3-region R\n"
               "  --store-cache DIR   read-through cache of an object store (default DATA/cache/blob)\n"
               "  --store-cache-mb N  its bound (default 1024); --store-block-kb N ranged GET size\n"
               "                      (default 256); --s3-part-mb N multipart part (default 16);\n"
               "                      --s3-retries N (default 4)\n"
               "  --cdn-max-age N     seconds a CDN may serve a public image answer without\n"
               "                      revalidating (s-maxage; default 0: always revalidate;\n"
               "                      > 0 only with purges, see docs/deploy.md)\n"
               "  --access-log FILE   access log lines go to FILE (appended; reopened on SIGHUP,\n"
               "                      for logrotate) instead of stderr, whatever --log-level\n"
               "  --purge-command CMD after a pyramid is replaced or deleted or a relic written\n"
               "                      (restricted), runs sh -c 'CMD \"$@\"' with the URL prefixes\n"
               "                      to purge from a CDN (/iiif/3/<id>/ /iiif/2/<id>/ ...)\n");
}
