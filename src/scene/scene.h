/*
 * scene: the layers behind the living painting (issue 14) as pure functions over rasters: a
 * depth map and masks for mist, foliage, water, figures and boats, proposed from a painting's
 * own structure (dq_scene_estimate), and scored against the generator's ground truth (rank
 * correlation of depth, intersection over union of masks). No files, no HTTP, no SQL: cli/
 * and http/ load pixels through image/ and store layer sets through catalog/.
 *
 * Conventions: rasters are 8-bit, one band, row-major, width x height. Depth 0 = nearest,
 * 255 = farthest (the sky), as `danqing generate` writes truth/scene/depth.png. Masks 255 =
 * present, 0 = absent (values >= 128 count as present when scored).
 */
#ifndef DQ_SCENE_H
#define DQ_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The kinds of layer, in the order files, JSON and the web use them. */
enum {
    DQ_SCENE_DEPTH = 0,
    DQ_SCENE_MIST,
    DQ_SCENE_FOLIAGE,
    DQ_SCENE_WATER,
    DQ_SCENE_FIGURE,
    DQ_SCENE_BOAT,
    DQ_SCENE_N
};

/* "depth", "mist", "foliage", "water", "figure", "boat"; NULL out of range. Static. */
const char *dq_scene_kind_name(int kind);
/* The kind named name, or -1. */
int dq_scene_kind_parse(const char *name);
/* The file name the generator writes for kind ("depth.png", ..., "figures.png", "boats.png"). */
const char *dq_scene_kind_file(int kind);

/* One set of layers at one size. A NULL plane means the layer is absent (figure and boat are
 * optional; an estimate leaves them out). Owns its planes. */
typedef struct {
    int width, height;
    uint8_t *plane[DQ_SCENE_N]; /* width*height bytes each, or NULL */
} dq_scene_layers_t;

/* Frees every plane and zeroes l. NULL-safe. */
void dq_scene_layers_free(dq_scene_layers_t *l);

/* Methods of dq_scene_estimate. */
enum {
    DQ_SCENE_METHOD_STRUCTURE = 0, /* ink density, ridges in the three distances, blank areas */
    DQ_SCENE_METHOD_PRIOR,         /* the baseline: depth from height on the picture alone,
                                      masks from blankness and height alone */
};
/* "structure" or "prior". */
const char *dq_scene_method_name(int method);
int dq_scene_method_parse(const char *name);

/* Proposes depth, mist, foliage and water for a painting given as sRGB (bands 3) or grey
 * (bands 1) pixels, width x height (at least 16 x 16; about 400 pixels high is what it is
 * tuned for). out (caller-owned, zeroed or freed before) receives planes of the same size;
 * figure and boat stay NULL. Returns 0, or -1 with err (DQ_EINVAL, 400, for a bad size or
 * method). Thread-safe; allocates O(width*height). */
int dq_scene_estimate(const uint8_t *px, int width, int height, int bands, int method,
                      dq_scene_layers_t *out, dq_err_t *err);

/* Spearman's rank correlation of two rasters of n values (ties get their average rank),
 * optionally only where mask (may be NULL) is >= 128. NAN when either is constant or n < 2. */
double dq_scene_rank_corr(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n);
/* |A and B| / |A or B| of two masks (>= 128 is set); NAN when both are empty. */
double dq_scene_iou(const uint8_t *a, const uint8_t *b, size_t n);

/* Nearest-neighbour resample of one plane from sw x sh to dw x dh (new, free()). */
uint8_t *dq_scene_resample(const uint8_t *src, int sw, int sh, int dw, int dh);

/* ================================================================ storing a set (store.c) */
/* The one part of scene/ that touches files: it ingests layer rasters as derived images
 * (image/ ingest, id "<image>.scene-v<N>-<kind>") and records the set (catalog/). */

#include "catalog/catalog.h"

typedef struct {
    const char *data_dir;          /* the data directory; borrowed */
    const char *source;            /* "truth", "estimate" or "curator" */
    const char *method;            /* how the layers were made (may be NULL) */
    const char *note;              /* free text (may be NULL) */
    const char *metrics_json;      /* a JSON object to keep with the set (may be NULL) */
    const char *paths[DQ_SCENE_N]; /* a PNG/JPEG/TIFF file per layer, or NULL; depth needed */
    int quality;                   /* JPEG quality of the layers' pyramid tiles */
    uint64_t max_pixels;           /* per layer; 0 = 2^31 */
    struct dq_blob *store;         /* where the layers' pyramids go; NULL = data_dir (borrowed) */
} dq_scene_store_opts_t;

/* Stores a new version of image_id's scene layers: checks the role and the image, takes the
 * next version, ingests each given file as that version's layer, then saves the set. out
 * (may be NULL) receives the stored set's JSON (dq_catalog_scene_get). Returns 0, or -1 with
 * err (as dq_catalog_scene_save, plus ingest errors for unreadable layer files; a layer whose
 * size differs in aspect from the image by more than 2% is 422). Needs dq_image_init. The
 * layers of a version that failed to save stay as unreferenced images and are replaced by
 * the next attempt at that version. */
int dq_scene_store(dq_catalog_t *cat, const char *image_id, const dq_scene_store_opts_t *o,
                   const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err);

#endif
