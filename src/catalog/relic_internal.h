/*
 * relic_internal.h: what relic.c offers relic_import.c (the bulk path shares validation,
 * normalisation and the upsert with the single-record API). Catalog-internal: only
 * src/catalog/relic*.c include it. It includes jansson.h, which is why it is not catalog.h.
 */
#ifndef DQ_RELIC_INTERNAL_H
#define DQ_RELIC_INTERNAL_H

#include <jansson.h>

#include "catalog/catalog.h"

/* One row of an import: doc is owned by the row (decref'd by relic_import_batch). */
typedef struct {
    json_t *doc;
    long line;
    /* 1: image links whose image is not in the catalog are dropped instead of failing the
     * row (the sample collection's flat form names images that may not be ingested yet). */
    int lenient_images;
} relic_import_row_t;

/* Validates rows[0..n) and upserts them by accession in one transaction (see
 * dq_catalog_import). Bad rows go to on_error and st->failed. dry_run: nothing is written.
 * Returns -1 only for a failure of the whole batch (database error). Takes every rows[i].doc
 * (set to NULL). */
int relic_import_batch(dq_catalog_t *cat, relic_import_row_t *rows, int n, const dq_actor_t *who,
                       int dry_run, dq_import_error_fn on_error, void *ud, dq_import_stats_t *st,
                       dq_err_t *err);

/* The dynasty vocabulary key for a Met-style period or dynasty string ("Northern Song dynasty
 * (960–1127)", "Qing dynasty (1644–1911)"), or NULL. */
const char *relic_dynasty_from_text(const char *text);
/* 1 when key is in vocabulary name ("dynasties", "object_types", "subjects"). */
int relic_vocab_has(const char *name, const char *key);

#endif
