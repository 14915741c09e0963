/*
 * fetch.c: the libcurl wrapper behind net.h. One easy handle per client, reused so that
 * consecutive requests to one host share a connection; limits are checked while bytes
 * arrive (the write callback stops a body over max_bytes), not after.
 */
#include "net/net.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct dq_net {
    CURL *h;
    size_t max_bytes;
    long timeout_ms;
};

typedef struct {
    dq_buf_t *body;
    size_t got, max;
    int over;
} sink_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    size_t len = size * n;
    if (s->got + len > s->max) {
        s->over = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    dq_buf_append(s->body, p, len);
    s->got += len;
    return len;
}

dq_net_t *dq_net_new(size_t max_bytes, long timeout_ms, dq_err_t *err)
{
    /* curl_global_init is idempotent per process and called once here, before any thread
     * of the harvest uses curl (the CLI is single-threaded). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dq_err_set(err, DQ_EIO, 0, "libcurl did not initialise");
        return NULL;
    }
    dq_net_t *n = dq_xcalloc(1, sizeof(*n));
    n->h = curl_easy_init();
    if (!n->h) {
        free(n);
        dq_err_set(err, DQ_EIO, 0, "libcurl did not initialise");
        return NULL;
    }
    n->max_bytes = max_bytes;
    n->timeout_ms = timeout_ms;
    return n;
}

void dq_net_free(dq_net_t *n)
{
    if (!n)
        return;
    curl_easy_cleanup(n->h);
    free(n);
    curl_global_cleanup();
}

int dq_net_get(dq_net_t *n, const char *url, const char *accept, dq_buf_t *body, long *status,
               char *content_type, size_t cap, dq_err_t *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return dq_err_set(err, DQ_EINVAL, 400, "only http and https URLs can be harvested: %.200s",
                          url);
    sink_t s = {.body = body, .max = n->max_bytes};
    struct curl_slist *hdr = NULL;
    char *a = accept ? dq_xasprintf("Accept: %s", accept) : NULL;
    if (a)
        hdr = curl_slist_append(hdr, a);
    CURL *h = n->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, n->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "danqing-harvest/1");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdr);
    free(a);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (s.over)
        return dq_err_set(err, DQ_ELIMIT, 413, "%.200s: the answer is over %zu bytes", url,
                          n->max_bytes);
    if (rc != CURLE_OK)
        return dq_err_set(err, DQ_EIO, 502, "%.200s: %s", url, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (content_type && cap) {
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(content_type, cap, "%s", ct ? ct : "");
    }
    return 0;
}
