/*
 * blob/s3.c: the S3-compatible object store, over libcurl. Requests are signed by libcurl's
 * AWS Signature Version 4 (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3"; AWS General Reference,
 * "Signature Version 4 signing process"): libcurl builds the canonical request from the method,
 * the path, the query and every header we add, so checksums and ranges we send are signed too.
 * Addressing is path-style (ENDPOINT/BUCKET/KEY), which every S3 implementation accepts.
 *
 * What is verified:
 *   - uploads: every body carries Content-MD5 (RFC 1864) and a signed x-amz-content-sha256 of
 *     its bytes, which S3 checks (BadDigest / XAmzContentSHA256Mismatch); the ETag S3 returns
 *     for a single PUT or a part is the MD5 of what it stored and must equal ours; a completed
 *     multipart upload must answer MD5(part MD5s)-N (AWS) or the whole body's MD5 (some
 *     implementations store it so);
 *   - ranged GETs: 206 with exactly the Content-Range asked for, the object's ETag unchanged
 *     (If-Match is sent, and the ETag answered is compared), and exactly that many bytes;
 *   - whole reads (fixity): the length, and the MD5 when the ETag is a single-part one; the
 *     caller's SHA-256 is the fixity check itself.
 * Retries: connection errors, timeouts, 429 and 5xx are retried up to --s3-retries times with
 * exponential back-off (100 ms doubling, at most 3.2 s a wait); anything else fails at once.
 * A multipart upload that fails is aborted (best effort: when the store itself is gone the
 * abort fails too, and S3's lifecycle rule for incomplete uploads cleans up); a key is never
 * visible before CompleteMultipartUpload, so a failed upload leaves nothing half-visible.
 * Not here: virtual-host addressing, SSE-C, presigned URLs.
 * Thread safety: any number of threads; easy handles come from a mutex-guarded pool so that
 * connections are reused.
 */
#define _GNU_SOURCE
#include "blob/blob_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <sodium.h>

#define POOL_MAX 32
#define ERR_BODY_MAX (64 << 10)

struct dq_s3 {
    char *endpoint, *region, *bucket, *prefix;
    char *userpwd;   /* "access:secret" for CURLOPT_USERPWD (libcurl signs with it) */
    char *token_hdr; /* "x-amz-security-token: ..." or NULL */
    char *sigv4;     /* "aws:amz:REGION:s3" */
    uint64_t part_size;
    int retries;
    long backoff_ms; /* first back-off; doubles per retry */
    /* Test hooks (tests/unit/blob): a fixed X-Amz-Date and a CURLOPT_CONNECT_TO mapping, so
     * that a request for the published examples' host reaches a loopback listener. */
    char *fixed_date;
    struct curl_slist *connect_to;
    int payload_hdr;           /* 1: send x-amz-content-sha256 (S3 needs it; the generic SigV4 test
                                * suite's requests do not have it) */
    pthread_mutex_t pool_lock; /* guards pool and n_pool */
    CURL *pool[POOL_MAX];
    int n_pool;
    atomic_uint_fast64_t gets, retried;
};

/* ---------------------------------------------------------------- small helpers */

static void md5_of(const void *data, size_t len, unsigned char out[16])
{
    unsigned int n = 16;
    EVP_Digest(data, len, out, &n, EVP_md5(), NULL);
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 3986 unreserved characters stay, '/' stays when keep_slash, everything else is %XX
 * (the encoding SigV4's canonical URI and query expect). */
static void pct_append(dq_buf_t *b, const char *s, int keep_slash)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            dq_buf_append(b, s, 1);
        else
            dq_buf_printf(b, "%%%02X", c);
    }
}

/* ---------------------------------------------------------------- requests */

typedef struct {
    /* in */
    const char *method;
    const char *key;   /* object key without the store prefix; NULL = the bucket */
    const char *query; /* already encoded, or NULL */
    const char *range; /* "bytes=A-B" or NULL */
    const char *if_match;
    const void *body;
    size_t body_len;
    int want_md5; /* send Content-MD5 of body */
    /* body sink: into dst (exactly dst_len bytes expected), or sink(), or resp (capped) */
    void *dst;
    size_t dst_len;
    int (*sink)(void *ud, const void *data, size_t len);
    void *sink_ud;
    /* out */
    long status;
    dq_buf_t resp; /* error bodies and XML answers (at most ERR_BODY_MAX) */
    size_t got;    /* bytes delivered to dst or sink */
    int sink_failed;
    char etag[128], content_range[128];
    uint64_t content_length;
    int have_length;
} req_t;

static size_t on_body(char *data, size_t sz, size_t nmemb, void *ud)
{
    req_t *r = ud;
    size_t n = sz * nmemb;
    /* Success bodies go to the caller's destination; anything else is kept as the error. */
    int ok = r->status == 200 || r->status == 206;
    if (ok && r->dst) {
        if (n > r->dst_len - r->got)
            return 0; /* more than asked for: abort the transfer */
        memcpy((char *)r->dst + r->got, data, n);
        r->got += n;
        return n;
    }
    if (ok && r->sink) {
        if (r->sink(r->sink_ud, data, n) < 0) {
            r->sink_failed = 1;
            return 0;
        }
        r->got += n;
        return n;
    }
    if (r->resp.len + n > ERR_BODY_MAX)
        return 0;
    dq_buf_append(&r->resp, data, n);
    return n;
}

static void header_value(const char *line, size_t n, size_t name_len, char *out, size_t cap)
{
    const char *v = line + name_len;
    size_t vl = n - name_len;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    snprintf(out, cap, "%.*s", (int)DQ_MIN(vl, cap - 1), v);
}

static size_t on_header(char *line, size_t sz, size_t nmemb, void *ud)
{
    req_t *r = ud;
    size_t n = sz * nmemb;
    if (n > 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response (after 100-continue) */
        const char *sp = memchr(line, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->etag[0] = r->content_range[0] = '\0';
        r->have_length = 0;
    } else if (n > 5 && strncasecmp(line, "ETag:", 5) == 0) {
        header_value(line, n, 5, r->etag, sizeof r->etag);
    } else if (n > 14 && strncasecmp(line, "Content-Range:", 14) == 0) {
        header_value(line, n, 14, r->content_range, sizeof r->content_range);
    } else if (n > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
        char v[40];
        header_value(line, n, 15, v, sizeof v);
        r->content_length = strtoull(v, NULL, 10);
        r->have_length = 1;
    }
    return n;
}

static CURL *handle_get(dq_s3_t *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->pool_lock);
    if (s->n_pool)
        h = s->pool[--s->n_pool];
    pthread_mutex_unlock(&s->pool_lock);
    return h ? h : curl_easy_init();
}

static void handle_put(dq_s3_t *s, CURL *h)
{
    curl_easy_reset(h); /* options go, the connection cache stays */
    pthread_mutex_lock(&s->pool_lock);
    if (s->n_pool < POOL_MAX) {
        s->pool[s->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

/* The request URL: ENDPOINT/BUCKET/PREFIX+KEY[?QUERY], path-style. */
static char *request_url(const dq_s3_t *s, const char *key, const char *query)
{
    dq_buf_t u = {0};
    dq_buf_printf(&u, "%s/", s->endpoint);
    pct_append(&u, s->bucket, 0);
    if (key) {
        dq_buf_append(&u, "/", 1);
        pct_append(&u, s->prefix, 1);
        pct_append(&u, key, 1);
    }
    if (query)
        dq_buf_printf(&u, "?%s", query);
    char *out = dq_xstrdup(u.data);
    dq_buf_free(&u);
    return out;
}

/* One attempt. Returns the CURLcode; r->status holds the HTTP status. */
static CURLcode attempt(dq_s3_t *s, const char *url, req_t *r, char *curl_msg)
{
    CURL *h = handle_get(s);
    struct curl_slist *hdrs = NULL;
    char line[256];
    if (!h)
        return CURLE_OUT_OF_MEMORY;
    r->status = 0;
    r->got = 0;
    r->resp.len = 0;
    r->sink_failed = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* A transfer that moves under 1 byte/s for 30 s is stuck: fail it (then retry). */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    if (s->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, s->connect_to);
    if (s->fixed_date) {
        snprintf(line, sizeof line, "X-Amz-Date: %s", s->fixed_date);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (s->token_hdr)
        hdrs = curl_slist_append(hdrs, s->token_hdr);
    if (r->range) {
        /* As a header rather than CURLOPT_RANGE, so that libcurl signs it. */
        snprintf(line, sizeof line, "Range: %s", r->range);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->if_match && r->if_match[0]) {
        snprintf(line, sizeof line, "If-Match: %s", r->if_match);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (s->payload_hdr) {
        /* S3 wants the payload hash on every request (x-amz-content-sha256; the empty
         * string's for GET, HEAD and DELETE); as a header we add, libcurl signs it, and S3
         * checks it against the body that arrives. */
        unsigned char d[crypto_hash_sha256_BYTES];
        char hex[65];
        crypto_hash_sha256(d, r->body ? r->body : (const void *)"", r->body ? r->body_len : 0);
        to_hex(d, sizeof d, hex);
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", hex);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r->body || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0) {
        if (r->want_md5) {
            unsigned char m[16];
            char b64[32];
            md5_of(r->body ? r->body : (const void *)"", r->body_len, m);
            sodium_bin2base64(b64, sizeof b64, m, sizeof m, sodium_base64_VARIANT_ORIGINAL);
            snprintf(line, sizeof line, "Content-MD5: %s", b64);
            hdrs = curl_slist_append(hdrs, line);
        }
        /* No "Expect: 100-continue" round trip, and no form content type. */
        hdrs = curl_slist_append(hdrs, "Expect:");
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : (const void *)"");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_msg[0] = '\0';
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    handle_put(s, h);
    return cc;
}

static int retryable(CURLcode cc, long status)
{
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
        cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE)
        return 1;
    return cc == CURLE_OK && (status == 429 || status >= 500);
}

/* Performs r with retries. 0 when a response came (any status: the caller judges it), -1 with
 * err when no usable response came within the retries. A sink that already received bytes
 * cannot be replayed, so a failure after that is not retried. */
static int perform(dq_s3_t *s, req_t *r, dq_err_t *err)
{
    char *url = request_url(s, r->key, r->query);
    char curl_msg[CURL_ERROR_SIZE];
    int rc = -1;
    for (int i = 0;; i++) {
        CURLcode cc = attempt(s, url, r, curl_msg);
        if (r->sink_failed) {
            dq_err_set(err, DQ_EIO, 0, "%s %s: the consumer failed", r->method, url);
            break;
        }
        if (i < s->retries && retryable(cc, r->status) && !(r->sink && r->got)) {
            atomic_fetch_add(&s->retried, 1);
            struct timespec ts = {0, 0};
            long ms = DQ_MIN(s->backoff_ms << i, 3200L);
            ts.tv_sec = ms / 1000;
            ts.tv_nsec = (ms % 1000) * 1000000L;
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
            continue;
        }
        if (cc != CURLE_OK &&
            !(cc == CURLE_WRITE_ERROR && r->status && r->status != 200 && r->status != 206)) {
            dq_err_set(err, DQ_EIO, 503, "%s %s: %s%s", r->method, url,
                       curl_msg[0] ? curl_msg : curl_easy_strerror(cc),
                       i ? " (after retries)" : "");
            break;
        }
        rc = 0;
        break;
    }
    free(url);
    return rc;
}

/* Turns a non-success response into err: the S3 error code and message when the body has
 * them. NoSuchKey / 404 become DQ_ENOTFOUND. */
static int fail_status(const req_t *r, const char *what, dq_err_t *err)
{
    char code[64] = "", msg[256] = "";
    dq_s3_xml_text(r->resp.data ? r->resp.data : "", r->resp.len, "Code", code, sizeof code);
    dq_s3_xml_text(r->resp.data ? r->resp.data : "", r->resp.len, "Message", msg, sizeof msg);
    if (r->status == 404)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "%s: not found in the store (HTTP 404%s%s)", what,
                          code[0] ? " " : "", code);
    return dq_err_set(err, DQ_EIO, 500, "%s: HTTP %ld %s%s%s", what, r->status, code,
                      msg[0] ? ": " : "", msg);
}

/* ---------------------------------------------------------------- the verbs */

static int s3_stat(void *self, const char *key, uint64_t *size, char tag[128], dq_err_t *err)
{
    dq_s3_t *s = self;
    req_t r = {.method = "HEAD", .key = key};
    int rc = -1;
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status != 200) {
        fail_status(&r, key, err);
        goto out;
    }
    if (!r.have_length || !r.etag[0]) {
        dq_err_set(err, DQ_EIO, 0, "%s: HEAD answered no Content-Length or ETag", key);
        goto out;
    }
    if (size)
        *size = r.content_length;
    if (tag)
        snprintf(tag, 128, "%s", r.etag);
    rc = 0;
out:
    dq_buf_free(&r.resp);
    return rc;
}

static int s3_read(void *self, const char *key, const char *tag, uint64_t off, size_t len,
                   void *dst, dq_err_t *err)
{
    dq_s3_t *s = self;
    char range[64], want[128];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    req_t r = {
        .method = "GET", .key = key, .range = range, .if_match = tag, .dst = dst, .dst_len = len};
    int rc = -1;
    atomic_fetch_add(&s->gets, 1);
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status == 412) {
        dq_err_set(err, DQ_EIO, 503, "%s changed in the store since it was opened", key);
        goto out;
    }
    if (r.status != 206 && r.status != 200) {
        fail_status(&r, key, err);
        goto out;
    }
    /* Exactly the range asked for, of the version asked for (RFC 9110 §14.4). A 200 is the
     * whole object: acceptable only when that is what was asked. */
    snprintf(want, sizeof want, "bytes %llu-%llu/", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    int range_ok = r.status == 206 ? strncmp(r.content_range, want, strlen(want)) == 0
                                   : off == 0 && r.have_length && r.content_length == len;
    if (!range_ok || r.got != len || (tag && tag[0] && strcmp(r.etag, tag) != 0)) {
        dq_err_set(err, DQ_EIO, 500,
                   "%s: ranged GET %s answered '%s' (%zu bytes, ETag %s): not the range or "
                   "version asked for",
                   key, range, r.content_range, r.got, r.etag);
        goto out;
    }
    rc = 0;
out:
    dq_buf_free(&r.resp);
    return rc;
}

typedef struct {
    int (*sink)(void *ud, const void *data, size_t len);
    void *ud;
    EVP_MD_CTX *md5;
} stream_t;

static int stream_sink(void *ud, const void *data, size_t len)
{
    stream_t *t = ud;
    EVP_DigestUpdate(t->md5, data, len);
    return t->sink(t->ud, data, len);
}

static int s3_stream(void *self, const char *key,
                     int (*sink)(void *ud, const void *data, size_t len), void *ud, dq_err_t *err)
{
    dq_s3_t *s = self;
    stream_t t = {sink, ud, EVP_MD_CTX_new()};
    EVP_DigestInit_ex(t.md5, EVP_md5(), NULL);
    req_t r = {.method = "GET", .key = key, .sink = stream_sink, .sink_ud = &t};
    int rc = -1;
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status != 200) {
        fail_status(&r, key, err);
        goto out;
    }
    if (r.have_length && r.got != r.content_length) {
        dq_err_set(err, DQ_EIO, 0, "%s: %zu of %llu bytes arrived", key, r.got,
                   (unsigned long long)r.content_length);
        goto out;
    }
    /* A single-part ETag is the MD5 of the stored bytes: check what arrived against it. */
    size_t el = strlen(r.etag);
    if (el == 34 && r.etag[0] == '"' && !strchr(r.etag, '-')) {
        unsigned char m[16];
        unsigned int n = 16;
        char hex[33];
        EVP_DigestFinal_ex(t.md5, m, &n);
        to_hex(m, 16, hex);
        if (strncmp(r.etag + 1, hex, 32) != 0) {
            dq_err_set(err, DQ_EIO, 0, "%s: the bytes read do not match the ETag %s", key, r.etag);
            goto out;
        }
    }
    rc = 0;
out:
    EVP_MD_CTX_free(t.md5);
    dq_buf_free(&r.resp);
    return rc;
}

static int s3_remove(void *self, const char *key, dq_err_t *err)
{
    dq_s3_t *s = self;
    req_t r = {.method = "DELETE", .key = key};
    int rc = -1;
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status != 204 && r.status != 200 && r.status != 404) {
        fail_status(&r, key, err);
        goto out;
    }
    rc = 0;
out:
    dq_buf_free(&r.resp);
    return rc;
}

/* ---------------------------------------------------------------- uploads */

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* PUTs body (one object, or one part with query) and checks the ETag is its MD5. */
static int put_checked(dq_s3_t *s, const char *key, const char *query, const void *body, size_t len,
                       char etag_out[128], dq_err_t *err)
{
    req_t r = {
        .method = "PUT", .key = key, .query = query, .body = body, .body_len = len, .want_md5 = 1};
    unsigned char m[16];
    char want[40];
    int rc = -1;
    md5_of(body, len, m);
    want[0] = '"';
    to_hex(m, 16, want + 1);
    snprintf(want + 33, sizeof want - 33, "\"");
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status != 200) {
        fail_status(&r, key, err);
        goto out;
    }
    if (strcasecmp(r.etag, want) != 0) {
        dq_err_set(err, DQ_EIO, 0, "%s: the store answered ETag %s for bytes whose MD5 is %s", key,
                   r.etag, want);
        goto out;
    }
    if (etag_out)
        snprintf(etag_out, 128, "%s", r.etag);
    rc = 0;
out:
    dq_buf_free(&r.resp);
    return rc;
}

static void abort_upload(dq_s3_t *s, const char *key, const char *upload_id)
{
    dq_buf_t q = {0};
    dq_buf_append(&q, "uploadId=", 9);
    pct_append(&q, upload_id, 0);
    req_t r = {.method = "DELETE", .key = key, .query = q.data};
    dq_err_t ignore = {0};
    perform(s, &r, &ignore);
    dq_buf_free(&r.resp);
    dq_buf_free(&q);
}

/* S3 multipart upload (AWS S3 API: CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload; AbortMultipartUpload on failure). */
static int put_multipart(dq_s3_t *s, const char *key, int fd, uint64_t size, dq_err_t *err)
{
    char upload_id[512] = "", final_etag[256] = "";
    size_t part = (size_t)s->part_size;
    uint64_t n_parts = (size + part - 1) / part;
    char *buf = NULL;
    unsigned char *part_md5 = NULL;
    dq_buf_t xml = {0}, q = {0};
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    int rc = -1;
    req_t r = {.method = "POST", .key = key, .query = "uploads="};
    if (n_parts > 10000) {
        dq_err_set(err, DQ_ELIMIT, 0, "%s: %llu parts of %zu bytes exceed S3's 10,000", key,
                   (unsigned long long)n_parts, part);
        goto out;
    }
    if (perform(s, &r, err) < 0)
        goto out;
    if (r.status != 200) {
        fail_status(&r, key, err);
        goto out;
    }
    if (dq_s3_xml_text(r.resp.data, r.resp.len, "UploadId", upload_id, sizeof upload_id) < 0 ||
        !upload_id[0]) {
        dq_err_set(err, DQ_EIO, 0, "%s: CreateMultipartUpload answered no UploadId", key);
        goto out;
    }
    buf = dq_xmalloc(part);
    part_md5 = dq_xmalloc(16 * (size_t)n_parts);
    EVP_DigestInit_ex(whole, EVP_md5(), NULL);
    dq_buf_append(&xml, "<CompleteMultipartUpload>", 25);
    for (uint64_t i = 0; i < n_parts; i++) {
        uint64_t off = i * part;
        size_t len = (size_t)DQ_MIN((uint64_t)part, size - off);
        char etag[128];
        if (read_at(fd, buf, len, off) < 0) {
            dq_err_set(err, DQ_EIO, 0, "%s: cannot read part %llu of the source", key,
                       (unsigned long long)i + 1);
            goto abort;
        }
        q.len = 0;
        dq_buf_printf(&q, "partNumber=%llu&uploadId=", (unsigned long long)i + 1);
        pct_append(&q, upload_id, 0);
        if (put_checked(s, key, q.data, buf, len, etag, err) < 0)
            goto abort;
        md5_of(buf, len, part_md5 + 16 * i);
        EVP_DigestUpdate(whole, buf, len);
        dq_buf_printf(&xml, "<Part><PartNumber>%llu</PartNumber><ETag>%s</ETag></Part>",
                      (unsigned long long)i + 1, etag);
    }
    dq_buf_append(&xml, "</CompleteMultipartUpload>", 26);
    q.len = 0;
    dq_buf_append(&q, "uploadId=", 9);
    pct_append(&q, upload_id, 0);
    dq_buf_free(&r.resp);
    r = (req_t){
        .method = "POST", .key = key, .query = q.data, .body = xml.data, .body_len = xml.len};
    if (perform(s, &r, err) < 0)
        goto abort;
    /* S3 may answer 200 with an <Error> body when the completion fails late. */
    if (r.status != 200 || (r.resp.data && strstr(r.resp.data, "<Error>"))) {
        fail_status(&r, key, err);
        goto abort;
    }
    if (dq_s3_xml_text(r.resp.data ? r.resp.data : "", r.resp.len, "ETag", final_etag,
                       sizeof final_etag) == 0) {
        /* AWS: MD5 of the concatenated part MD5s, "-", the part count. Some implementations
         * store the object whole and answer its plain MD5: accept either, nothing else. */
        unsigned char m[16];
        unsigned int mn = 16;
        char aws[64], plain[40];
        md5_of(part_md5, 16 * (size_t)n_parts, m);
        aws[0] = '"';
        to_hex(m, 16, aws + 1);
        snprintf(aws + 33, sizeof aws - 33, "-%llu\"", (unsigned long long)n_parts);
        EVP_DigestFinal_ex(whole, m, &mn);
        plain[0] = '"';
        to_hex(m, 16, plain + 1);
        snprintf(plain + 33, sizeof plain - 33, "\"");
        if (strcasecmp(final_etag, aws) != 0 && strcasecmp(final_etag, plain) != 0) {
            dq_err_set(err, DQ_EIO, 0, "%s: completed upload answered ETag %s, want %s or %s", key,
                       final_etag, aws, plain);
            goto out; /* complete: the object exists; the caller removes it */
        }
    }
    rc = 0;
    goto out;
abort:
    abort_upload(s, key, upload_id);
out:
    EVP_MD_CTX_free(whole);
    dq_buf_free(&r.resp);
    dq_buf_free(&xml);
    dq_buf_free(&q);
    free(buf);
    free(part_md5);
    return rc;
}

static int s3_put(void *self, const char *key, const char *src, dq_err_t *err)
{
    dq_s3_t *s = self;
    int fd = open(src, O_RDONLY | O_CLOEXEC), rc = -1;
    char *buf = NULL;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot open %s: %s", src, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > s->part_size) {
        rc = put_multipart(s, key, fd, size, err);
        if (rc < 0 && err->code == DQ_EIO && strstr(err->msg, "completed upload")) {
            dq_err_t ignore = {0};
            s3_remove(s, key, &ignore); /* never leave bytes we could not verify */
        }
        goto out;
    }
    buf = dq_xmalloc(size ? (size_t)size : 1);
    if (read_at(fd, buf, (size_t)size, 0) < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", src, strerror(errno));
        goto out;
    }
    if (put_checked(s, key, NULL, buf, (size_t)size, NULL, err) < 0) {
        if (strstr(err->msg, "answered ETag")) {
            dq_err_t ignore = {0};
            s3_remove(s, key, &ignore);
        }
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static char *s3_file_path(void *self, const char *key)
{
    (void)self, (void)key;
    return NULL;
}

static void s3_close(void *self)
{
    dq_s3_t *s = self;
    if (!s)
        return;
    for (int i = 0; i < s->n_pool; i++)
        curl_easy_cleanup(s->pool[i]);
    pthread_mutex_destroy(&s->pool_lock);
    curl_slist_free_all(s->connect_to);
    free(s->endpoint);
    free(s->region);
    free(s->bucket);
    free(s->prefix);
    if (s->userpwd)
        sodium_memzero(s->userpwd, strlen(s->userpwd));
    free(s->userpwd);
    free(s->token_hdr);
    free(s->sigv4);
    free(s->fixed_date);
    free(s);
}

const dq_blob_ops_t dq_blob_s3_ops = {
    .put_file = s3_put,
    .stat = s3_stat,
    .read = s3_read,
    .stream = s3_stream,
    .remove = s3_remove,
    .file_path = s3_file_path,
    .close = s3_close,
};

dq_s3_t *dq_s3_new(const dq_s3_cfg_t *c, dq_err_t *err)
{
    /* Idempotent per process (libcurl >= 7.84 makes it thread-safe as well). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0) {
        dq_err_set(err, DQ_EINTERNAL, 0, "libcurl or libsodium failed to start");
        return NULL;
    }
    if (strchr(c->access_key, ':')) {
        dq_err_set(err, DQ_EINVAL, 0, "AWS_ACCESS_KEY_ID must not contain ':'");
        return NULL;
    }
    for (const char *p = c->region; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            dq_err_set(err, DQ_EINVAL, 0, "S3 region '%s' is not a region name", c->region);
            return NULL;
        }
    if (c->part_size < (5u << 20)) {
        dq_err_set(err, DQ_EINVAL, 0, "S3 parts must be at least 5 MiB");
        return NULL;
    }
    dq_s3_t *s = dq_xcalloc(1, sizeof(*s));
    s->endpoint = dq_xstrdup(c->endpoint);
    s->region = dq_xstrdup(c->region);
    s->bucket = dq_xstrdup(c->bucket);
    s->prefix = dq_xstrdup(c->prefix);
    s->userpwd = dq_xasprintf("%s:%s", c->access_key, c->secret_key);
    s->token_hdr = c->session_token && c->session_token[0]
                       ? dq_xasprintf("x-amz-security-token: %s", c->session_token)
                       : NULL;
    s->sigv4 = dq_xasprintf("aws:amz:%s:s3", c->region);
    s->part_size = c->part_size;
    s->retries = c->retries;
    s->backoff_ms = 100;
    s->payload_hdr = 1;
    pthread_mutex_init(&s->pool_lock, NULL);
    atomic_init(&s->gets, 0);
    atomic_init(&s->retried, 0);
    return s;
}

void dq_s3_counters(const dq_s3_t *s, uint64_t *gets, uint64_t *retries)
{
    *gets = atomic_load(&((dq_s3_t *)s)->gets);
    *retries = atomic_load(&((dq_s3_t *)s)->retried);
}
