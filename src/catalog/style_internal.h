/*
 * style_internal.h: what catalog.c needs of style.c (issue 13): the per-catalog cache of the
 * similar-works index, created at open and freed at close.
 */
#ifndef DQ_STYLE_INTERNAL_H
#define DQ_STYLE_INTERNAL_H

#include "catalog.h"

typedef struct style_cache style_cache_t;
/* New, empty (free with style_cache_free; NULL-safe). */
style_cache_t *style_cache_new(void);
void style_cache_free(style_cache_t *c);
/* The catalog's cache (catalog.c), borrowed until close. */
style_cache_t *style_cache_of(dq_catalog_t *cat);

#endif
