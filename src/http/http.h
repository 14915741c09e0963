/*
 * http: the server. A libmicrohttpd wrapper (mhd.c, the only file that includes
 * microhttpd.h), a static route table (routes.c), a byte-budgeted response cache (cache.c),
 * the image registry (registry.c: id -> open pyramid) and the IIIF Image API handlers
 * (iiif_image.c). Handlers see only dq_http_req_t / dq_http_resp_t, never MHD types, so they
 * can be tested without a socket.
 */
#ifndef DQ_HTTP_H
#define DQ_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h" /* dq_actor_t (JSON API section) */
#include "core/config.h"
#include "core/core.h"

/* ================================================================ response cache */

/*
 * A sharded LRU map from byte-string keys to opaque, reference-counted values with a byte
 * budget. Values are handed in with a size (what they cost) and a free callback; a value
 * stays alive while the cache or any borrower holds a reference, so eviction never frees a
 * value another thread is still sending. Thread-safe: each shard has its own mutex.
 */
typedef struct dq_cache dq_cache_t;
typedef struct dq_cache_entry dq_cache_entry_t;
typedef void (*dq_cache_free_fn)(void *value);

/* New cache of budget_bytes (0 disables caching: puts are dropped). Free with dq_cache_free. */
dq_cache_t *dq_cache_new(size_t budget_bytes, dq_cache_free_fn free_fn);
void dq_cache_free(dq_cache_t *c);
/* Looks key up; on a hit returns the entry with a reference taken (release with
 * dq_cache_release) and moves it to the front of its shard's LRU list. NULL on a miss. */
dq_cache_entry_t *dq_cache_get(dq_cache_t *c, const void *key, size_t key_len);
/* Inserts (or replaces) key -> value costing size bytes, with an ETag-like tag (copied).
 * The cache takes ownership of value: when too big to cache, it is freed at once. */
void dq_cache_put(dq_cache_t *c, const void *key, size_t key_len, void *value, size_t size,
                  const char *tag);
void dq_cache_release(dq_cache_t *c, dq_cache_entry_t *e);
/* Admission on the second request: returns 1 when key was seen recently (by an earlier call),
 * else remembers it and returns 0. Lock-free; a hash collision admits early, which is
 * harmless. Lets one-off renders (a random region) pass by without evicting hot tiles. */
int dq_cache_seen_before(dq_cache_t *c, const void *key, size_t key_len);
/* Borrowed from a held entry. */
void *dq_cache_entry_value(const dq_cache_entry_t *e);
const char *dq_cache_entry_tag(const dq_cache_entry_t *e);
/* The size given to dq_cache_put for this value. */
size_t dq_cache_entry_size(const dq_cache_entry_t *e);
/* Statistics for health and logs. */
typedef struct {
    uint64_t hits, misses, inserts, evictions;
    size_t bytes, budget;
    size_t n_entries;
} dq_cache_stats_t;
void dq_cache_stats(dq_cache_t *c, dq_cache_stats_t *st);

/* ================================================================ requests and responses */

enum {
    DQ_HTTP_GET = 1,
    DQ_HTTP_HEAD = 2,
    DQ_HTTP_POST = 4,
    DQ_HTTP_PUT = 8,
    DQ_HTTP_PATCH = 16,
    DQ_HTTP_DELETE = 32,
    DQ_HTTP_OPTIONS = 64,
};

typedef struct dq_server dq_server_t;
typedef struct dq_http_req dq_http_req_t;

/* A request as handlers see it. Everything is borrowed for the duration of the handler. */
struct dq_http_req {
    int method;       /* DQ_HTTP_* */
    const char *path; /* raw path, still percent-encoded, no query */
    size_t path_len;
    const char *body;  /* request body (POST/PUT/PATCH), or NULL */
    size_t body_len;
    /* Looks up a request header (case-insensitive); NULL when absent. */
    const char *(*header)(const dq_http_req_t *req, const char *name);
    /* Looks up a query argument, still percent-encoded; NULL when absent. */
    const char *(*arg)(const dq_http_req_t *req, const char *name);
    /* Calls cb for every query argument in order, repeats included (key and value still
     * percent-encoded; value NULL for an argument without '='). NULL in requests made without
     * a socket (tests). For protocols that must reject repeated or unknown arguments
     * (OAI-PMH §3.6 badArgument). */
    void (*args)(const dq_http_req_t *req,
                 void (*cb)(void *ud, const char *key, const char *value), void *ud);
    /* Writes the client's address as text ("127.0.0.1", "::1") into out (cap bytes, at
     * least 48): the TCP peer, or, when the peer is a trusted proxy, the client it names
     * (client_ip below); "" when unknown. NULL in requests made without a socket (tests). */
    void (*peer)(const dq_http_req_t *req, char *out, size_t cap);
    void *conn; /* for header(); opaque */
    /* The client's address as text ("203.0.113.7", "::1"): the peer, or, when the peer is a
     * trusted proxy (--trusted-proxy), the nearest untrusted address of X-Forwarded-For /
     * Forwarded: for=. What throttles and audit lines should name. "" when unknown. */
    const char *client_ip;
    int via_proxy; /* 1: the peer is a trusted proxy (its forwarded headers count) */
    /* mhd.c's: set to 1 by dq_http_base_url, so that a response built from request headers
     * names them in Vary. NULL outside mhd.c (tests). */
    int *base_used;
};

#define DQ_HTTP_MAX_HEADERS 16
typedef struct dq_http_resp dq_http_resp_t;

/* A long-lived answer (server-sent events, issue 17): the handler sets resp->stream instead of
 * a body, and mhd.c sends whatever read() yields for as long as the connection lasts. When
 * read() has nothing (0), the connection is suspended, costing no thread, until the producer
 * calls dq_http_stream_wake; read() returning -1 ends the answer. close() is called once,
 * when the connection is done with it (then the stream may be freed). read and close run on
 * the connection's MHD thread. The producer owns the stream's memory; mhd.c only borrows it. */
typedef struct dq_http_stream dq_http_stream_t;
struct dq_http_stream {
    long (*read)(dq_http_stream_t *s, char *buf, size_t max);
    void (*close)(dq_http_stream_t *s);
    pthread_mutex_t lock; /* guards conn and waiting (mhd.c's; read() runs under it) */
    void *conn;           /* struct MHD_Connection *; NULL once closed */
    int waiting;          /* 1: suspended until woken */
};
/* Initializes the mhd.c part of s (before it is handed out). */
void dq_http_stream_init(dq_http_stream_t *s);
/* Resumes s's connection when it waits for data; thread-safe; a no-op once closed. */
void dq_http_stream_wake(dq_http_stream_t *s);
/* Resumes s's connection whether or not it is marked waiting; thread-safe; a no-op once
 * closed. For a producer whose data has sat unread for a while: a resume that libmicrohttpd
 * lost leaves the connection suspended with waiting already 0, which no wake can undo. On a
 * connection that is not suspended, libmicrohttpd only cancels its next suspension, so the
 * reader is asked once more. */
void dq_http_stream_kick(dq_http_stream_t *s);
struct dq_http_resp {
    int status;
    const char *content_type; /* static string or pointer into headers storage */
    dq_buf_t body;
    int n_headers;
    char *header_names[DQ_HTTP_MAX_HEADERS]; /* owned (strdup'd) */
    char *header_values[DQ_HTTP_MAX_HEADERS];
    /* 1: a 200 answer may go into the response cache, keyed by the request path and the
     * content negotiation variant; the handler promises it depends on nothing else. */
    int cacheable;
    /* 1 (with cacheable): admit to the cache only when the same request came recently
     * before; for renders that are costly to store and often one-off. */
    int cache_on_second;
    int no_etag; /* 1: do not add an ETag (the server adds a body hash otherwise) */
    /* 1: etag_id names the body's exact bytes (a stored tile: the file and the tile), and the
     * server's ETag is made from it instead of from hashing the body (5 % of the cache-off
     * tile path at 16 KB per tile). */
    int has_etag_id;
    uint64_t etag_id;
    /* Expensive remaining work (a render): instead of doing it on the connection's thread, a
     * handler may leave it here. mhd.c then runs defer_fn on a render thread, at most
     * --render-slots at once, after at most --render-wait-ms in the queue (else 503 +
     * Retry-After), with deadline_us (dq_now_us() clock) = now + --render-timeout-ms, and
     * finishes resp as if the handler had filled it. defer_free(defer_arg) is called once
     * afterwards, also when the work never ran. The connection's thread keeps serving other
     * connections meanwhile: /health and stored tiles never wait behind renders. */
    void (*defer_fn)(dq_server_t *srv, dq_http_resp_t *resp, void *arg, int64_t deadline_us);
    void (*defer_free)(void *arg);
    void *defer_arg;
    /* Non-NULL: a stream answer instead of body (see dq_http_stream_t); never cached. */
    dq_http_stream_t *stream;
};

/* Adds a response header (both strings copied). */
void dq_http_resp_header(dq_http_resp_t *r, const char *name, const char *value);
/* Sets status and a text/plain body "message\n". */
void dq_http_resp_error(dq_http_resp_t *r, int status, const char *msg);
void dq_http_resp_free(dq_http_resp_t *r);

/* A route handler fills resp; it always "succeeds" in the sense that errors become statuses. */
typedef void (*dq_http_handler_fn)(dq_server_t *srv, const dq_http_req_t *req,
                                   dq_http_resp_t *resp);

/* Decides, from the headers alone, whether a request to a route may send a body and how big:
 * routes, authenticates and checks the role exactly as the handler will, before a byte of the
 * body is read. Returns the most bytes the body may have, or 0 with an error answered on resp
 * (401/403/404/405/...): the body is then never read. */
typedef size_t (*dq_http_body_limit_fn)(dq_server_t *srv, const dq_http_req_t *req,
                                        dq_http_resp_t *resp);

typedef struct {
    int methods;        /* DQ_HTTP_* mask */
    const char *prefix; /* path prefix; the longest matching prefix wins */
    dq_http_handler_fn fn;
    const char *doc;
    /* NULL: the route takes no body; a request that sends one is answered without reading it
     * (and the connection closed). */
    dq_http_body_limit_fn body_limit;
    /* DQ_HTTP_* methods whose requests run the whole handler on the API queue, with the
     * connection suspended, instead of on the libmicrohttpd worker: handlers that may wait
     * for the catalog's writer lock or hash a password (mhd.c run_api). 0: none. */
    int offload;
} dq_route_t;

/* Finds the handler for a path; NULL when no route matches. *allowed gets the method mask. */
const dq_route_t *dq_http_route(const char *path, size_t len);
/* The whole table, for `danqing serve --routes` and docs. */
const dq_route_t *dq_http_routes(size_t *n);

/* ================================================================ access log */

/* A buffered access log on fd (accesslog.c). Each thread appends to its own slot; lines go
 * out when a slot fills and on dq_alog_flush (the watcher calls it every 100 ms, and
 * dq_alog_free at the end). Thread-safe. */
typedef struct dq_alog dq_alog_t;
dq_alog_t *dq_alog_new(int fd);
/* The same on the file path (appended to, created 0644), which the log owns: NULL with err
 * when it cannot be opened. */
dq_alog_t *dq_alog_open(const char *path, dq_err_t *err);
/* Opens the log's path again and writes there from now on (logrotate renamed the file): the
 * lines buffered so far go to the old file first, and no line is lost or split between the
 * two. A log made by dq_alog_new does nothing. 0, or -1 with err (the old file stays in use).
 * Thread-safe. */
int dq_alog_reopen(dq_alog_t *a, dq_err_t *err);
void dq_alog_printf(dq_alog_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dq_alog_flush(dq_alog_t *a);
void dq_alog_free(dq_alog_t *a); /* flushes; NULL ok; no thread may still be writing */

/* ================================================================ login throttle */

/*
 * Failed logins per account name and per client address, with growing lockouts, and a bound
 * on password checks running at once (throttle.c; docs/security.md "Logins and throttling").
 * In memory, per process, at most max_entries keys (the least useful is evicted). Thread-safe.
 * Times are milliseconds on a monotonic clock, passed in so that tests can drive them.
 */
typedef struct dq_throttle dq_throttle_t;
/* Keys a server's throttle holds (each ~100 bytes): a flood of names or addresses beyond it
 * evicts the entries that matter least (unlocked, oldest) first. */
#define DQ_THROTTLE_MAX 4096
/* Outcomes for dq_throttle_end. */
enum { DQ_THROTTLE_FAILED = 1, DQ_THROTTLE_SUCCEEDED = 2, DQ_THROTTLE_NOT_CHECKED = 3 };
/* New throttle of max_entries keys (at least 16) allowing max_hashing (at least 1) checks at
 * once. Free with dq_throttle_free (NULL ok). */
dq_throttle_t *dq_throttle_new(size_t max_entries, int max_hashing);
void dq_throttle_free(dq_throttle_t *t);
/* Before a password check for user (any text, may be NULL) from addr: 0 when it may go on
 * (then dq_throttle_end must follow), else how many ms the account or address must still
 * wait (answer 429 with Retry-After; nothing is recorded). */
int64_t dq_throttle_begin(dq_throttle_t *t, const char *user, const char *addr, int64_t now_ms);
/* After the check that dq_throttle_begin allowed: outcome DQ_THROTTLE_*. A failure counts
 * against both the account and the address; a success clears the account only. */
void dq_throttle_end(dq_throttle_t *t, const char *user, const char *addr, int outcome,
                     int64_t now_ms);
/* Takes one of the max_hashing password-check slots without waiting: 1 taken (release with
 * dq_throttle_hash_release), 0 all busy (answer 503 with Retry-After). Lock-free. */
int dq_throttle_hash_acquire(dq_throttle_t *t);
void dq_throttle_hash_release(dq_throttle_t *t);
/* Keys held now (for tests of the bound). */
size_t dq_throttle_count(dq_throttle_t *t);

/* ================================================================ the server */

typedef struct dq_registry dq_registry_t;
typedef struct dq_catalog dq_catalog_t;

/* The server context every handler receives. Fields are set at start-up and read-only after,
 * except where a comment names the lock or atomic that guards them. */
struct dq_server {
    const dq_config_t *cfg;   /* borrowed */
    void *daemon;             /* struct MHD_Daemon *, only mhd.c looks inside */
    dq_cache_t *cache;        /* thread-safe */
    dq_catalog_t *catalog;    /* thread-safe */
    dq_registry_t *registry;  /* thread-safe */
    struct dq_blob *store;    /* masters, pyramids, layers (src/blob/blob.h); thread-safe */
    dq_alog_t *alog;          /* thread-safe; NULL when the log level hides info lines */
    dq_throttle_t *throttle;  /* thread-safe; failed logins and concurrent password checks */
    _Atomic uint64_t epoch;   /* bumped when any image changes: part of every cache key */
    _Atomic size_t body_bytes; /* request body bytes buffered now, all connections */
    struct dq_renderq *renderq; /* expensive renders (renderq.c); thread-safe */
    struct dq_renderq *apiq;    /* API writes and logins (mhd.c run_api); thread-safe */
    dq_cache_t *gz_cache;     /* compressed bodies by identity body hash; thread-safe */
    void *trusted;            /* dq_cidr_t[] of cfg->trusted_proxy, read-only */
    int n_trusted;
    struct dq_classes *classes; /* classroom sessions (classroom.c); thread-safe */
    struct dq_condjobs *condjobs; /* one-step condition records (api_condition_job.c) */
    /* The pigment library (spectral/, the spectrum endpoint), parsed once at start-up and
     * read-only; NULL when it could not be read, and pigments_err says why (answered to each
     * request that needs it, as a per-request load would have). */
    struct dq_spec_table *pigments;
    dq_err_t pigments_err;
    pthread_t watcher;        /* polls the registry for replaced pyramids */
    int watcher_running;
    _Atomic int stopping;
    /* 1 from SIGTERM on (issue 15): /health answers 503 "draining" so that a balancer sends
     * new requests elsewhere while this server finishes what it has (dq_server_drain). */
    _Atomic int draining;
    /* 1 once the watcher has built the catalog's search index and image map (issue 15):
     * until then /health answers 503 "starting", so that a balancer sends a restarted node
     * nothing while its first search would wait seconds for the index (tiles and the API
     * are served meanwhile to whoever asks the node directly). */
    _Atomic int ready;
    int64_t ready_ms; /* how long that took, reported by /health */
    int port;
    int64_t started_us;
};

/* ---- the image registry: image id -> open pyramid, shared by all threads ---- */
struct dq_pyramid;
/* New registry over the catalog and the blob store (both borrowed, outliving it). */
struct dq_blob;
dq_registry_t *dq_registry_new(dq_catalog_t *catalog, struct dq_blob *store);
void dq_registry_free(dq_registry_t *r);
/* Returns the pyramid for id with a reference taken (release with dq_pyramid_unref), or NULL
 * with err (404 for an unknown id). */
struct dq_pyramid *dq_registry_get(dq_registry_t *r, const char *id, dq_err_t *err);
/* Re-stats every open file pyramid (inode and mtime) and, when catalog_changed (the catalog's
 * change feed moved since the last call), asks the catalog whether each open object-store
 * pyramid's row still names the pyramid it was opened from (no store request; without the
 * registry's lock held); drops those replaced or deleted. Returns how many changed. */
int dq_registry_revalidate(dq_registry_t *r, int catalog_changed);
/* After a read of pyr (the registry's pyramid for id) failed: 1 when its object was replaced
 * or removed in the store behind the catalog's back (dq_pyramid_replaced: at most one HEAD),
 * and then the registry no longer holds pyr: the caller retires the response cache (epoch),
 * gets id again and retries once. 0 when the failure was something else (or pyr is a file). */
int dq_registry_recheck(dq_registry_t *r, const char *id, struct dq_pyramid *pyr);

/* ---- handlers (routes.c's table points at these) ---- */
void dq_http_iiif3(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
void dq_http_iiif2(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* /iiif/3/spectral/{capture}/{layer}/...: a capture's bands and layers (api_spectral.c). */
void dq_http_spectral_iiif(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
void dq_http_health(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* Starts draining (issue 15): /health turns 503 {"state":"draining"} at once, then, after
 * grace_ms in which everything else is still served (a balancer's health check interval),
 * returns; the caller then stops the server (dq_server_stop: no new connections, requests in
 * flight finished, renders in flight cancelled with 503). Thread-safe. */
void dq_server_drain(dq_server_t *srv, int grace_ms);
/* ---- web front end (static.c) ---- */
/* Serves the single-page app and its files from the web root (cfg->web_dir, else web/ or
 * ../web beside the binary): index.html for `/` and extension-less client routes, files for
 * /static/{path}; ETag/304, Cache-Control; 400 for traversal, 404 under /api/ and /iiif/. */
void dq_http_static(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);

/* ======== JSON API and IIIF Presentation (api*.c, presentation.c) ======== */
/* /api/ (docs/api.md): accounts, relics, vocabularies, images, audit. Errors are the JSON
 * error format of docs/api.md. Never cacheable except the static vocabularies. */
void dq_http_api(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* The /api/ route's dq_http_body_limit_fn: the API route, the caller's identity, the CSRF rule
 * and the role are checked as dq_http_api will check them; the limit is the API route's
 * (64 KiB for logins, accounts and annotations, 1 MiB for relic documents). */
size_t dq_http_api_body_limit(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* /iiif/presentation/3/: Manifests and Collections (IIIF Presentation 3.0), as the asker may
 * see them; never put in the shared response cache (they depend on the asker's role). */
void dq_http_presentation(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* Who is asking (api_auth.c): an API token (Authorization: Bearer dq_...) or else the session
 * cookie dq_session; neither gives the anonymous actor (role DQ_ROLE_ANON). *via_cookie (may be
 * NULL) is 1 when the session cookie authenticated the request (writes then need the CSRF
 * header). A stale or unknown cookie counts as anonymous; a bad bearer token is an error
 * (401), since the client explicitly asked to be someone. Thread-safe. */
int dq_http_actor(dq_server_t *srv, const dq_http_req_t *req, dq_actor_t *actor, int *via_cookie,
                  dq_err_t *err);
/* Copies cookie `name` of the request's Cookie header into out (cap bytes): 1 found, 0 absent
 * or longer than cap - 1 (api_auth.c). */
int dq_http_cookie(const dq_http_req_t *req, const char *name, char *out, size_t cap);
/* ======== IIIF Authorization Flow 2.0 (iiif_auth.c, issue 16) ======== */
/* /iiif/auth/2/: access (GET the sign-in page, POST grants the access cookie), token,
 * logout and probe/{image id} (docs/api.md "IIIF Authorization Flow"). */
void dq_http_iiif_auth(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* Its dq_http_body_limit_fn: only POST .../access with the CSRF header may send a body. */
size_t dq_http_iiif_auth_body_limit(dq_server_t *srv, const dq_http_req_t *req,
                                    dq_http_resp_t *resp);
/* Who the request's access cookie (dq_iiif) names: 1 and *who filled, else 0 and *who
 * anonymous (no cookie, or a stale one). Thread-safe. */
int dq_http_iiif_access_actor(dq_server_t *srv, const dq_http_req_t *req, dq_actor_t *who);
/* ======== end IIIF Authorization Flow 2.0 ======== */
/* ======== end JSON API ======== */

/* ======== annotations: IIIF Content Search 2.0 (api_annotations.c) ======== */
/* /iiif/search/2/{relic}?q=&motivation=&user=: an AnnotationPage of the relic's matching
 * annotations with highlighting hits (docs/api.md); as the asker may see them, never cached. */
void dq_http_search2(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* ======== end annotations ======== */

/* ======== network: Linked Art, OAI-PMH, Change Discovery (linkedart.c, oai.c, discovery.c) ======== */
/* /linked-art/{object|person|digital}/{key}: Linked Art JSON-LD as the asker may see it. */
void dq_http_linkedart(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* For the relic's HTML page (resp holds index.html): adds the Link header rel="describedby"
 * naming relic_id's Linked Art document and, for a public relic, the citation <meta> tags
 * reference managers read (Zotero), inserted before </head>. */
void dq_http_relic_page(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp,
                        const char *relic_id);
/* /oai: OAI-PMH 2.0 (GET, or POST with a form body), public records only. */
void dq_http_oai(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
size_t dq_http_oai_body_limit(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* /iiif/discovery/changes[/page/{n}]: IIIF Change Discovery 1.0 of public relics. */
void dq_http_discovery(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* /dumps/{relics.jsonl|relics.csv|linked-art.jsonl}: every public record, rebuilt when the
 * relic change feed moves; /api: the index of open data and the metadata licence. */
void dq_http_dumps(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
void dq_http_api_index(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp);
/* ======== end network ======== */

/* ======== expensive renders (renderq.c) ======== */
/* A fixed pool of n_threads render threads and a bounded queue. A job waits at most wait_ms;
 * a job that waited longer, or that is still queued when the queue stops, runs with
 * expired = 1 (it must answer 503 and do no work). Thread-safe. */
typedef struct dq_renderq dq_renderq_t;
typedef void (*dq_renderq_fn)(void *arg, int64_t deadline_us, int expired);
dq_renderq_t *dq_renderq_new(int n_threads, int wait_ms, int timeout_ms, int max_queued);
/* Queues fn(arg, ...). Returns 0, or -1 when the queue is full (the caller answers 503 and fn
 * is not called). */
int dq_renderq_submit(dq_renderq_t *q, dq_renderq_fn fn, void *arg);
/* Jobs running or queued now (health and tests). */
int dq_renderq_busy(dq_renderq_t *q);
/* Refuses new jobs, lets queued ones run expired, waits for every job to finish and joins the
 * threads; a second call does nothing. NULL ok. */
void dq_renderq_stop(dq_renderq_t *q);
/* Stops (if not yet) and frees. NULL ok. */
void dq_renderq_free(dq_renderq_t *q);

/* ======== one-step condition records (api_condition_job.c; issue 12) ======== */
/* The jobs that make condition records from captures, with their own queue (one thread);
 * their states live in the catalog (dq_catalog_condjob_*), so every server sharing it answers
 * a poll, and a thread of its own beats for this server's jobs while they wait or run. cat,
 * store and cfg (data_dir, job_stale_s) are borrowed and outlive it. Thread-safe. free: the
 * running job finishes, queued ones fail ("send it again"); NULL ok. */
typedef struct dq_condjobs dq_condjobs_t;
dq_condjobs_t *dq_condjobs_new(dq_catalog_t *cat, struct dq_blob *store, const dq_config_t *cfg);
void dq_condjobs_free(dq_condjobs_t *r);

/* ======== classroom sessions (classroom.c; issue 17) ======== */
/* Live lesson sessions, in this process's memory only (a session lasts a class hour; several
 * serving processes would each have their own): a teacher opens one for a lesson and gets a
 * short join code; learners join anonymously with it and get an opaque learner token that
 * only counts them. The teacher's state (step, view, mode) reaches every learner's event
 * stream at once; learners report their step, view and answers, which the teacher's
 * dashboard shows as counts and regions, never as who. Limits: 200 sessions, 500 learners
 * each, 100 steps; a session idle for 12 hours is dropped. Thread-safe. */
typedef struct dq_classes dq_classes_t;
dq_classes_t *dq_classes_new(void);
/* Ends every event stream and waits (at most 2 s) until their connections let go of them:
 * MHD must not stop with a connection suspended. Call before stopping the daemon. */
void dq_classes_stop(dq_classes_t *c);
void dq_classes_free(dq_classes_t *c); /* NULL ok; after dq_classes_stop */
enum { DQ_CLASS_TEACHER_PACED = 0, DQ_CLASS_STUDENT_PACED = 1 };
/* Opens a session for lesson_id (n_steps steps) owned by teacher: code (8 bytes) gets the
 * join code. 503 when there are too many sessions. */
int dq_classes_open(dq_classes_t *c, const char *lesson_id, int n_steps, const char *teacher,
                    int mode, char code[8], dq_err_t *err);
/* A learner joins: token (33 bytes) gets their token; out gets the session's state JSON
 * {"code","lesson","mode","step","view","ended","seq"}. 404 unknown code, 410 ended, 503 full. */
int dq_classes_join(dq_classes_t *c, const char *code, char token[33], dq_buf_t *out,
                    dq_err_t *err);
/* The session's lesson id into lesson (32 bytes); 404 unknown. */
int dq_classes_lesson(dq_classes_t *c, const char *code, char lesson[32], dq_err_t *err);
/* The teacher's move: step (-1 keeps), view (NULL keeps), mode (-1 keeps), end (1 ends the
 * session). Only the owner or an admin (is_admin): 403 otherwise. Every learner's stream gets
 * the new state at once. */
int dq_classes_set(dq_classes_t *c, const char *code, const char *user, int is_admin, int step,
                   const int *view, int mode, int end, dq_err_t *err);
/* A learner's report: the step they are on and the region they look at (view NULL: none). */
int dq_classes_progress(dq_classes_t *c, const char *code, const char *token, int step,
                        const int *view, dq_err_t *err);
/* A learner's checked answer to step's question (counted once per learner; the latest result
 * counts as right or wrong). */
int dq_classes_answer(dq_classes_t *c, const char *code, const char *token, int step,
                      int correct, dq_err_t *err);
/* The dashboard JSON (owner or admin): {"code","lesson","mode","step","ended","learners",
 * "steps":[{"on_step","answered","correct"}],"views":[[x,y,w,h],...]} (views: of the learners
 * on the teacher's step, in no order, at most 200). */
int dq_classes_dashboard(dq_classes_t *c, const char *code, const char *user, int is_admin,
                         dq_buf_t *out, dq_err_t *err);
/* An event stream: a learner's (token) gets "state" events; the teacher's (user, token NULL)
 * also "dashboard" events, at most four a second. New stream for resp->stream, or NULL with
 * err (404, 403). */
dq_http_stream_t *dq_classes_subscribe(dq_classes_t *c, const char *code, const char *token,
                                       const char *user, int is_admin, dq_err_t *err);
/* ======== end classroom sessions ======== */

/* mhd.c: starts/stops the libmicrohttpd daemon for srv (fills srv->daemon and srv->port). */
int dq_http_daemon_start(dq_server_t *srv, dq_err_t *err);
void dq_http_daemon_stop(dq_server_t *srv);
/* The free callback for cached responses. */
void dq_http_cache_value_free(void *value);

/* The absolute base URL of this server, appended to out: --public-url when configured; else
 * from X-Forwarded-Host/-Proto or Forwarded when the peer is a trusted proxy; else from Host
 * (and plain http). Host text is checked (host characters only); a bad one gives the bound
 * address. Never from a header an untrusted client sets in a way a shared cache ignores. */
void dq_http_base_url(const dq_server_t *srv, const dq_http_req_t *req, dq_buf_t *out);

/* Starts serving on cfg->listen with a thread pool (cfg->threads). cfg is borrowed and must
 * outlive the server. Returns a new server or NULL with err. */
dq_server_t *dq_server_start(const dq_config_t *cfg, dq_err_t *err);
/* The bound TCP port (useful with port 0). */
int dq_server_port(const dq_server_t *srv);
/* Stops accepting, finishes in-flight requests, frees everything. NULL ok. */
void dq_server_stop(dq_server_t *srv);

#endif
