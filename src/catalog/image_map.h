/*
 * image_map.h: the catalog's in-memory image map (image_map.c), internal to src/catalog/.
 * catalog.c owns one per catalog and keeps it coherent from the change feed; every function
 * is thread-safe (one rwlock: readers share it, updates take it alone, briefly).
 */
#ifndef DQ_IMAGE_MAP_H
#define DQ_IMAGE_MAP_H

#include "catalog/catalog.h"
#include "catalog/store.h"

typedef struct dq_image_map dq_image_map_t;

/* New and empty; free with dq_image_map_free (NULL-safe). */
dq_image_map_t *dq_image_map_new(void);
void dq_image_map_free(dq_image_map_t *m);
/* Exchanges the contents of m and fresh in one step (readers of m see the old contents or the
 * new, never a half-built map); fresh then holds m's old contents (free it). */
void dq_image_map_swap(dq_image_map_t *m, dq_image_map_t *fresh);
/* Sets the record of rec->id (copied). */
void dq_image_map_put(dq_image_map_t *m, const dq_image_rec_t *rec);
/* Forgets the record of id (its relic links stay counted). */
void dq_image_map_drop(dq_image_map_t *m, const char *id);
/* 1 and *out filled when id has a record, else 0. */
int dq_image_map_get(dq_image_map_t *m, const char *id, dq_image_rec_t *out);
/* 1 when anonymous callers may see id: it has no relic link, or a link from an unrestricted
 * relic (unknown ids are unlinked, hence 1), and no closed condition gate (below); 0 when
 * only restricted relics link it, or its only gated links are closed. */
int dq_image_map_visible(dq_image_map_t *m, const char *id);
/* Loading: adds one link of relic_id (restricted as given at its first link) to image_id. */
void dq_image_map_link(dq_image_map_t *m, const char *relic_id, int restricted,
                       const char *image_id);
/* Replaces every link of relic_id by image_ids[0..n_images) with the relic's restricted flag
 * (n_images 0: the relic has no links, or is gone). Strings copied. */
void dq_image_map_relic(dq_image_map_t *m, const char *relic_id, int restricted,
                        const char *const *image_ids, int n_images);
/* Condition gates (issue 12; condition.c decides, the map counts): an image a relic links
 * with a gated role is hidden from anonymous callers unless one of its gated links is open.
 * Loading: gate_link adds one closed gated link of relic_id to image_id; gate_open opens
 * relic_id's gated links to image_id (none: no effect), so load every link first. gate_relic
 * replaces every gated link of relic_id by image_ids[0..n_images) with open[i] (n_images 0:
 * none). Strings copied. */
void dq_image_map_gate_link(dq_image_map_t *m, const char *relic_id, const char *image_id);
void dq_image_map_gate_open(dq_image_map_t *m, const char *relic_id, const char *image_id);
void dq_image_map_gate_relic(dq_image_map_t *m, const char *relic_id,
                             const char *const *image_ids, const unsigned char *open,
                             int n_images);
/* Fills m's condition gates of relic_id (NULL: of every relic, into a map being built) from
 * the store inside t (condition.c): the relic's links of role condition and change-map, open
 * where a published condition record of the relic refers to the image (its images[], its
 * changes.capture_image or changes.map_image). 0, or -1 with err (m then unchanged for one
 * relic; partly filled while building). */
int dq_condition_gate_load(const dq_store_backend_t *be, dq_store_txn_t *t, dq_image_map_t *m,
                           const char *relic_id, dq_err_t *err);
/* Images with a record, and of them those anonymous callers may see (either may be NULL). */
void dq_image_map_counts(dq_image_map_t *m, int64_t *records, int64_t *anon_visible);

#endif
