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

/* Colour search (relic_search.c): the relic seqs (ascending, unique; new array, free()) of
 * the relics whose first-linked indexed image holds colour: a named mineral colour (key or
 * Chinese name) with at least 0.5 % of the picture, or "#rrggbb" matched against the palette
 * clusters (washes of it count). Restricted relics only when show_restricted. 400 for an
 * unknown colour. Must not be called inside a catalog transaction. */
int style_colour_seqs(dq_catalog_t *cat, const char *colour, int show_restricted, int64_t **seqs,
                      size_t *n, dq_err_t *err);

#endif
