/*
 * condrec: condition records made from captures (issue 12, the product side of conservation).
 * It glues the pieces that already exist into the one action a conservator needs: ingest a new
 * capture (image/), register it against the previous record's capture and compute the change
 * maps (conserve/, unchanged: we only call it), store the maps as derived layers beside the
 * captures (never over a master), draft observations from the change regions, and create the
 * record through the catalog's condition policy (catalog/condition.c: roles, validation,
 * versions, audit). It also traces a restoration mask into a vector outline for the web.
 * No HTTP here: the CLI (cmd_condition_record.c) and the server (http/api_condition_job.c)
 * call it. docs/conservation.md "One-step records".
 */
#ifndef DQ_CONDREC_H
#define DQ_CONDREC_H

#include <stdint.h>

#include "catalog/catalog.h"
#include "conserve/conserve.h"
#include "core/core.h"

struct dq_blob;
struct json_t;

/* ================================================================ change outputs */

/* Writes what `danqing condition changes` writes for c into dir (created): loss.png,
 * flaking.png, fading.png (8-bit masks, REF's frame, 255 where changed), changes.png (the
 * classes colour-coded on black: loss red, flaking yellow, fading blue) and changes.json.
 * *json (may be NULL) receives a new reference to the changes.json object (json_decref);
 * *text (may be NULL) its text as written (new, free()). 0, or -1 with err. */
int dq_condrec_changes_write(const dq_conserve_changes_t *c, const char *dir, struct json_t **json,
                             char **text, dq_err_t *err);

/* ================================================================ one-step records */

/* Progress: stage is a static string ("loading", "registering", "ingesting capture",
 * "ingesting change map", "drafting observations", "saving record"), percent 0..100 overall.
 * Called on the building thread. */
typedef void (*dq_condrec_progress_fn)(void *ud, const char *stage, int percent);

typedef struct {
    const char *relic_id;
    /* The new capture: a file to ingest (capture_path) or an image already catalogued
     * (capture_image); exactly one. */
    const char *capture_path;
    const char *capture_image;
    const char *date; /* YYYY-MM-DD */
    const char *examiner;
    /* What to compare with: a record id "c<n>" (its first image) or an image id; NULL = the
     * latest record dated on or before date that has a capture; none: a baseline record. */
    const char *against;
    const char *overall;        /* NULL: the compared record's, else "fair" (a draft to review) */
    const char *note;           /* may be NULL */
    double width_cm, height_cm; /* 0: the relic's dimensions_cm */
    const char *data_dir;       /* tmp/ (work copies) */
    struct dq_blob *store;      /* masters, pyramids, layers/; NULL = data_dir */
    const dq_actor_t *who;      /* conservators and above */
    dq_condrec_progress_fn progress; /* may be NULL */
    void *progress_ud;
    /* Called once the record is stored (record_id "c<n>"), before the build returns; -1 (with
     * err) undoes all of it, the record included: a job server's compare-and-set of its
     * outcome that lost (the job was judged failed meanwhile). May be NULL. */
    int (*finish)(void *ud, const char *record_id, dq_err_t *err);
    void *finish_ud;
    /* Called with the build's work note (JSON text, borrowed for the call) before anything is
     * stored, and again before each later kind of store it adds: what dq_condrec_undo needs
     * to take the build back. A job server keeps it in the catalog, so that any server can
     * undo a job whose server died. -1 (with err) fails the build before that store. May be
     * NULL. */
    int (*work)(void *ud, const char *json, dq_err_t *err);
    void *work_ud;
} dq_condrec_opts_t;

/* Builds one condition record in one step (docs/conservation.md "One-step records"):
 *  1. checks the role (401/403), the relic (404), date/examiner/overall (400), the capture;
 *  2. picks the earlier capture (opts->against, or the latest earlier record's first image);
 *  3. loads both and computes the change maps (dq_conserve_changes_take, which frees the
 *     captures' pixels early): a pair that cannot be registered fails here with 422 and
 *     nothing has been written;
 *  4. ingests the new capture as "<relic>.condition-<YYYYMMDD>[-n]" and the colour-coded map
 *     as "<capture>.changes" (IIIF images of their own), puts the masks, changes.png and
 *     changes.json into the store under layers/<capture>/changes/ (the key the record's
 *     changes.layers names: every server sharing the store reads them), and links both images to the relic (roles "condition" and
 *     "change-map", catalog.h's derived link roles: not canvases of the manifest, shown to
 *     anonymous callers once a published record names them);
 *  5. drafts observations (the largest regions per class, bbox in the new capture's pixels,
 *     area in px and cm2, severity by area) and creates the record, unpublished, with
 *     "draft": true, for the conservator to review and publish.
 * Any failure after step 3 undoes what was stored (links, images with their pyramids and
 * unshared masters, layer files): the catalog and the store hold either the whole record or
 * nothing of it. Without an earlier capture the record is a
 * baseline: the capture only. out receives the record's JSON as GET answers it. 0, or -1
 * with err (http_status 400/401/403/404/413/422/500). Thread-safe; memory peaks at about
 * 40 bytes per capture pixel (the change maps of conserve/). */
int dq_condrec_build(dq_catalog_t *cat, const dq_condrec_opts_t *opts, dq_buf_t *out,
                     dq_err_t *err);

/* Undoes a one-step build from its work note (opts.work): the record that names its change
 * map (or, for a capture it ingested under a new id, whose first image is that capture), its
 * links on the relic as they are now (If-Match, retried), its images with their pending
 * journal rows and pyramids when their master is the build's file (SHA-256 in the note), those
 * masters when no other image or ingest names them (under DQ_CATALOG_LOCK_INGEST), and its
 * change files with their checksums. What is not there is skipped, so running it twice, or on
 * a build that stored little, is safe. The same code serves the build's own failure and a
 * server that finds a job whose server died (once, by the server whose compare-and-set
 * stored the job as failed). who: conservators and above. Failures after the note is read are
 * logged, not returned. 0, or -1 with err (400: not a work note). Thread-safe. */
int dq_condrec_undo(dq_catalog_t *cat, struct dq_blob *store, const dq_actor_t *who,
                    const char *work_json, dq_err_t *err);

/* ================================================================ stored change files */

/* 1 when key is the layers key a record's changes may name for its capture:
 * "layers/<capture_image>/changes" exactly (a record's JSON is writable by conservators, so
 * nothing else it names is ever removed or served). */
int dq_condrec_changes_key_ok(const char *key, const char *capture_image);
/* 1 when name is one of the files under that key: loss.png, flaking.png, fading.png,
 * changes.png, changes.json. */
int dq_condrec_changes_file_ok(const char *name);
/* The i-th of those names (static), NULL past the last: for walks over a record's files. */
const char *dq_condrec_changes_file_name(size_t i);
/* The i-th file a restoration keeps under layers/<image>/ (restoration.png, mask.png,
 * restoration.json; static), NULL past the last. */
const char *dq_condrec_restoration_file_name(size_t i);
/* Removes key/<file> for each of those files from store (missing ones are fine) with its
 * checksum row (cat may be NULL: files only), and on a file store the then-empty
 * directories. 0, or -1 with err (the last failure; the others are still tried).
 * Thread-safe. */
int dq_condrec_changes_remove(dq_catalog_t *cat, struct dq_blob *store, const char *key,
                              dq_err_t *err);
/* Puts the local file src into store for key (a derived-layer file under layers/) and
 * records the SHA-256 and size of its bytes in cat (dq_catalog_layer_file_put) for `danqing
 * fixity`. The bytes go under a key of their own content (dq_condrec_layer_stored_key), as
 * pyramids do, never over the key a reader may be reading: the row names them once it is
 * written, and then the bytes the row named before are removed. cat NULL: the put only, under
 * key itself. src may be renamed away. 0, or -1 with err. */
int dq_condrec_put_layer_file(dq_catalog_t *cat, struct dq_blob *store, const char *key,
                              const char *src, dq_err_t *err);
/* Where the bytes of layer file key with SHA-256 sha are stored: key with ".<the first 16 hex
 * digits of sha>" before its extension (layers/x/changes/loss.<sha16>.png). New string. */
char *dq_condrec_layer_stored_key(const char *key, const char *sha);
/* The store key to read layer file key from: its content's key when the catalog records a
 * checksum for it and the store holds that key, else key itself (files put before content
 * keys, or with no row). New string, or NULL with err (a catalog or store error). */
char *dq_condrec_layer_find(dq_catalog_t *cat, struct dq_blob *store, const char *key,
                            dq_err_t *err);

/* ================================================================ mask outlines */

/* The outline of the non-zero regions of mask (w x h) as an SVG document in image pixel
 * coordinates (viewBox 0 0 w h): one path of closed polygons along the pixel edges (cracks),
 * collinear runs merged. Masks larger than max_side on either side are first reduced by an
 * OR over blocks (an outline drawn over a whole painting needs no sub-pixel detail at full
 * size; the coordinates stay in full-size pixels). out is appended to. 0, or -1 with err. */
int dq_condrec_outline_svg(const uint8_t *mask, int w, int h, int max_side, dq_buf_t *out,
                           dq_err_t *err);

#endif
