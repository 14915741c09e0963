/*
 * config.c: the one dq_config_t. Defaults, then the environment (DANQING_*), then command-line
 * flags; every value is range-checked and a bad one is an error with the setting's name, never
 * silently clamped. Filled once in main; read-only afterwards, so threads share it freely.
 */
#include "core.h"
#include "config.h"

#include <errno.h>
#include <stdlib.h>
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
}

typedef struct {
    const char *name; /* flag without dashes, also DANQING_<NAME> upper-cased, '-' -> '_' */
    int kind;         /* 0 string, 1 int, 2 u64 */
    size_t off;
    size_t size;      /* for strings */
    long long lo, hi; /* for numbers */
} setting_t;

#define S(name, field) {name, 0, offsetof(dq_config_t, field), sizeof(((dq_config_t *)0)->field), 0, 0}
#define I(name, field, lo, hi) {name, 1, offsetof(dq_config_t, field), 0, lo, hi}
#define U(name, field, lo, hi) {name, 2, offsetof(dq_config_t, field), 0, lo, hi}
static const setting_t settings[] = {
    S("data", data_dir),
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
};

static int set_value(dq_config_t *c, const setting_t *s, const char *v, dq_err_t *err)
{
    char *p = (char *)c + s->off;
    if (s->kind == 0) {
        if (strlen(v) >= s->size)
            return dq_err_set(err, DQ_EINVAL, 0, "--%s: value too long", s->name);
        memcpy(p, v, strlen(v) + 1);
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
               "  --web DIR           web front end files (default: web/ or ../web beside the binary)\n");
}
