/*
 * config.h: danqing's settings (part of core/). One dq_config_t per process, filled from
 * defaults, then DANQING_* environment variables, then flags; read-only once filled.
 */
#ifndef DQ_CONFIG_H
#define DQ_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

typedef struct {
    char data_dir[PATH_MAX];
    /* The catalog (issue 15): "" = sqlite:DATA_DIR/catalog.sqlite; else sqlite:PATH or a
     * postgres:// URL shared by several servers. dq_config_catalog() says which. */
    char catalog[1024];
    char listen[128];
    int threads;
    int cache_mb;
    int vips_cache_mb;
    int jpeg_quality;  /* stored pyramid tiles */
    int serve_quality; /* rendered responses */
    uint64_t max_pixels;
    uint64_t max_width, max_height, max_area;
    int log_level;
    char web_dir[PATH_MAX]; /* web front end root; "" = web/ or ../web beside the binary */
    /* docs/security.md. The public base URL ("https://host[:port][/prefix]", no trailing
     * slash) every absolute URL is built from; "" = from the request (Host, or the forwarded
     * headers of a trusted proxy). */
    char public_url[512];
    /* Proxies whose X-Forwarded-* / Forwarded headers count: "ADDR[/BITS][,...]" (IPv4 or
     * IPv6, CIDR); "" = none, the headers are ignored. */
    char trusted_proxy[1024];
    int body_buffer_mb;    /* all request bodies buffered at once, in MiB; past it 503 */
    int render_slots;      /* expensive renders at once; 0 = the threads, at least 2 */
    int render_timeout_ms; /* deadline of one render (503 past it) */
    int render_wait_ms;    /* how long a render may wait for a slot before 503 */
    int drain_ms; /* after SIGTERM, how long /health says "draining" before the stop */
    /* A condition job whose server has not beaten for this long is answered as failed by
     * every server (issue 12, docs/deploy.md "Several servers"); its server beats every
     * quarter of it. */
    int job_stale_s;
    /* The blob store (issue 15, src/blob/blob.h): "" = the data directory; a path or
     * file:///path = a shared POSIX mount; s3://bucket[/prefix] = S3-compatible storage. */
    char store[1024];
    char s3_endpoint[512];         /* http(s)://host[:port]; "" = AWS_ENDPOINT_URL[_S3] */
    char s3_region[64];            /* "" = AWS_REGION / AWS_DEFAULT_REGION / us-east-1 */
    char store_cache[PATH_MAX];    /* read-through cache of an object store; "" = DATA/cache/blob */
    int store_cache_mb;            /* its bound on local disk */
    int store_block_kb;            /* one ranged GET fetches (and the cache keeps) this much */
    int s3_part_mb;                /* multipart part size; objects above one part go multipart */
    int s3_retries;                /* retries of a failed S3 request (5xx, 429, connection) */
    /* How long a shared cache (a CDN) may serve a public image answer without asking again
     * (s-maxage, seconds). 0: it keeps the bytes but revalidates every use (ETag, 304), so a
     * restricted or replaced image is never served stale. docs/deploy.md, CDN. */
    int cdn_max_age;
    /* The access log's file (appended to; reopened on SIGHUP, for logrotate); "" = stderr
     * with the other log lines. */
    char access_log[PATH_MAX];
    /* Run (sh -c) after writes that change public image answers, with the URL path prefixes
     * to purge from a CDN as arguments ("/iiif/3/<id>/ /iiif/2/<id>/ ..."); "" = none. */
    char purge_command[1024];
} dq_config_t;

/* One address range of --trusted-proxy: family AF_INET or AF_INET6, the address in network
 * order (IPv4 in the first 4 bytes) and the prefix length. */
typedef struct {
    int family;
    uint8_t addr[16];
    int bits;
} dq_cidr_t;

/* Parses "ADDR[/BITS][,ADDR[/BITS]...]" (spaces around commas allowed) into out (up to cap
 * ranges); *n gets the count. Returns 0, or -1 with err naming the bad item. "" gives 0
 * ranges. Pure; thread-safe. */
int dq_cidr_list_parse(const char *s, dq_cidr_t *out, int cap, int *n, dq_err_t *err);
/* 1 when addr (family, network-order bytes: 4 or 16) lies in one of the n ranges. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is compared as the IPv4 address. */
int dq_cidr_match(const dq_cidr_t *ranges, int n, int family, const uint8_t *addr);

void dq_config_defaults(dq_config_t *c);
/* What dq_catalog_open should open: c->catalog, else c->data_dir. Borrowed from c. */
const char *dq_config_catalog(const dq_config_t *c);
/* Applies DANQING_DATA, DANQING_LISTEN, ... Returns -1 with err on a bad value. */
int dq_config_from_env(dq_config_t *c, dq_err_t *err);
/* Tries argv[*i] as a common flag. Returns 1 when consumed (advancing *i past a separate
 * value), 0 when it is not a common flag, -1 on a bad value. */
int dq_config_flag(dq_config_t *c, int argc, char **argv, int *i, dq_err_t *err);
void dq_config_help(FILE *f);

#endif
