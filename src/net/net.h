/*
 * net: fetching documents from other institutions' servers over HTTP(S), for `danqing
 * harvest`. A libcurl wrapper (fetch.c is the only file that includes curl/curl.h): one
 * reusable client (keep-alive to the same host), bounded body size and time, redirects
 * followed within limits, http and https only. It knows nothing of IIIF or the catalog.
 */
#ifndef DQ_NET_H
#define DQ_NET_H

#include <stddef.h>

#include "core/core.h"

typedef struct dq_net dq_net_t;

/* A new client: bodies above max_bytes and transfers longer than timeout_ms fail. Free with
 * dq_net_free (NULL ok). Not thread-safe: one client per thread. NULL with err when libcurl
 * cannot start. */
dq_net_t *dq_net_new(size_t max_bytes, long timeout_ms, dq_err_t *err);
void dq_net_free(dq_net_t *n);

/* GETs url (http or https only) with accept as the Accept header (may be NULL); body
 * receives the bytes (appended), *status the HTTP status; content_type (cap bytes, may be
 * NULL) the media type. Returns 0 for any HTTP answer (check *status), -1 with err for a
 * transport failure, a refused scheme or a body over the limit. */
int dq_net_get(dq_net_t *n, const char *url, const char *accept, dq_buf_t *body, long *status,
               char *content_type, size_t cap, dq_err_t *err);

#endif
