/*
 * style: what a painting looks like, as numbers (issue 13). An embedding of a picture built
 * from what describes Chinese painting (CIELAB palette and named mineral colours, the
 * distribution of ink tones, brushwork texture at three scales, stroke-length statistics, and
 * where the ink mass and the blank space sit), a palette of colour clusters for swatches and
 * colour search, attribution models on top (multinomial logistic regression with k-fold
 * cross-validation and temperature-scaled probabilities), flat nearest-neighbour search
 * in a PCA-reduced space (OpenBLAS and LAPACKE for the projections) and a 2-D projection for
 * the style map.
 *
 * Pure functions over pixels and vectors: no files, no HTTP, no SQL. Callers (catalog/style.c,
 * cli/cmd_style.c, http/api_style.c) load pixels with image/ and store vectors with catalog/.
 * The embedding sits behind dq_style_embedder_t, so a museum that has a neural model can plug
 * it in next to the hand-built one; everything downstream only sees vectors and parts.
 *
 * Thread safety: every function is reentrant; objects are not shared unless said so.
 */
#ifndef DQ_STYLE_H
#define DQ_STYLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ images and embedders */

/* 8-bit sRGB pixels, 3 bytes each, rows stride bytes apart. Borrowed by every call. */
typedef struct {
    const uint8_t *rgb;
    int width, height;
    size_t stride;
} dq_style_image_t;

/* A named slice of an embedding: vec[offset .. offset+len). Static data. Parts are what the
 * "reason" of a similarity names (palette, ink, brushwork, composition). */
typedef struct {
    const char *key; /* "palette", "ink", "brushwork", "composition" */
    const char *en, *zh;
    int offset, len;
} dq_style_part_t;

/* An embedding model. Static data and a pure function: a neural embedder fills the same
 * struct (dim, parts, the pixel size it wants) and everything downstream works unchanged. */
typedef struct dq_style_embedder {
    const char *name; /* stored with every vector; vectors of different models never mix */
    int dim;
    int n_parts;
    const dq_style_part_t *parts;
    int side; /* the long side, in pixels, the caller should load the picture at */
    /* Writes dim floats into vec (caller-owned). im of any size >= 16x16 (a larger one than
     * side is box-filtered down first). Returns 0, or -1 with err (DQ_EINVAL: too small). */
    int (*embed)(const struct dq_style_embedder *self, const dq_style_image_t *im, float *vec,
                 dq_err_t *err);
} dq_style_embedder_t;

/* The hand-built embedder (embed.c): "dq-style-1". Static, never freed. */
const dq_style_embedder_t *dq_style_default(void);
/* The embedder called name, or NULL (only the hand-built one today). */
const dq_style_embedder_t *dq_style_embedder(const char *name);

/* ================================================================ colours */

/* Traditional named colours (pigments of Chinese painting). Lab (D65) of each pigment as the
 * sample collection renders it at full coverage over paper. Static table. */
typedef struct {
    const char *key, *zh, *en;
    float L, a, b;
    const char *hex; /* its sRGB, for swatches */
} dq_style_colour_t;
extern const dq_style_colour_t dq_style_colours[];
extern const int dq_style_n_colours;
/* The named colour whose key or zh name is name (e.g. "zhusha" or "朱砂"), or NULL. */
const dq_style_colour_t *dq_style_colour_find(const char *name);

/* sRGB (0..255) to CIELAB (D65), and back (clamped). */
void dq_style_srgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3]);
void dq_style_lab_to_srgb(const float lab[3], uint8_t rgb[3]);

/* The palette of a picture: up to 8 colour clusters (k-means in Lab over a fixed sample of
 * pixels, deterministic), largest first, as JSON appended to out:
 *   [{"hex": "#d8c9a8", "lab": [82.1, 2.3, 14.0], "share": 0.61, "name": "paper"|"朱砂"|null}]
 * plus, for colour search, each named colour's share of the pixels whose hue and chroma are
 * close to it (also for pale washes of it): appended as a second array to named_out
 * [{"key": "zhusha", "share": 0.013}, ...] (only those above 0.1 %). Returns 0 / -1. */
int dq_style_palette(const dq_style_image_t *im, dq_buf_t *out, dq_buf_t *named_out,
                     dq_err_t *err);
/* How strongly the pixel colour lab counts as named colour c (0..1): hue within the colour's
 * tolerance and enough chroma, or for neutral colours lightness. Used by dq_style_palette and
 * by colour search for an arbitrary picked colour. */
float dq_style_colour_match(const dq_style_colour_t *c, const float lab[3]);

/* ================================================================ attribution */

/* A fitted attribution model: classes, standardisation, weights and the calibration
 * temperature. New from dq_style_model_fit / _from_json; free with dq_style_model_free. */
typedef struct {
    int n_classes, dim;
    char **classes;       /* n_classes owned strings */
    float *mean, *sd;     /* dim each */
    float *W;             /* n_classes x dim, row-major */
    float *b;             /* n_classes */
    double temperature;   /* logits are divided by this before the softmax (calibration) */
    int lda_dim;          /* Fisher discriminant directions (n_classes - 1, at most 16) */
    float *lda;           /* dim x lda_dim, row-major, on standardised features: the learned
                           * metric similar-works search adds (dq_style_index_build) */
    char model_name[64];  /* the embedder's name */
    char label[32];       /* "school" or "dynasty" */
} dq_style_model_t;

/* Cross-validation result; confusion is n_classes x n_classes (row: truth, column: predicted),
 * owned, free with dq_style_cv_free. */
typedef struct {
    int n_classes, folds, n;
    double accuracy;
    double nll, nll_raw; /* mean negative log-likelihood after / before temperature scaling */
    double ece;          /* expected calibration error (10 bins) after scaling */
    int *confusion;
} dq_style_cv_t;

/* Fits a multinomial logistic regression (L2 penalty lambda on standardised features; 0 =
 * default 1e-2) on X (n x dim, row-major), labels y[i] in 0..n_classes-1, class names
 * classes (copied). With folds >= 2 it first runs stratified k-fold cross-validation (folds
 * assigned by a fixed permutation from seed) into *cv (may be NULL to skip), and fits the
 * temperature on the out-of-fold logits (Guo et al. 2017, "On calibration of modern neural
 * networks": one scalar that minimises the held-out negative log-likelihood). Returns a new
 * model, or NULL with err (DQ_EINVAL: fewer than 2 classes, a class with fewer than folds
 * members when folds >= 2, n < 4). */
dq_style_model_t *dq_style_model_fit(const float *X, int n, int dim, const int *y, int n_classes,
                                     const char *const *classes, double lambda, int folds,
                                     uint64_t seed, dq_style_cv_t *cv, dq_err_t *err);
/* Calibrated class probabilities of x (dim floats) into p (n_classes doubles). */
void dq_style_model_predict(const dq_style_model_t *m, const float *x, double *p);
void dq_style_model_free(dq_style_model_t *m);
void dq_style_cv_free(dq_style_cv_t *cv);
/* Serialises m as JSON (appended to out) / parses it back (new model or NULL with err
 * DQ_EINVAL for a malformed document). */
void dq_style_model_to_json(const dq_style_model_t *m, dq_buf_t *out);
dq_style_model_t *dq_style_model_from_json(const char *json, size_t len, dq_err_t *err);

/* ================================================================ search and projection */

/* A flat index of unit vectors for cosine nearest neighbours. Vectors are standardised with
 * the collection's own per-dimension mean and spread, each part is scaled to unit length
 * (so that palette, ink, brushwork and composition weigh alike), and the whole to unit length.
 * New from dq_style_index_build; free with dq_style_index_free. Immutable after build, so any
 * number of threads may query it at once. */
typedef struct dq_style_index dq_style_index_t;
/* Builds from n raw embeddings of embedder e (X: n x e->dim, row-major; copied). metric
 * (borrowed for the call; may be NULL) is a fitted model whose Fisher discriminant directions
 * are appended to every vector with weight DQ_STYLE_METRIC_WEIGHT: similarity is then
 * (1 - w) * cos(hand-built parts) + w * cos(discriminant projection), one dot product. */
#define DQ_STYLE_METRIC_WEIGHT 0.7f
/* Principal axes of the hand-built part kept in the search space (index.c says why). */
#define DQ_STYLE_INDEX_PCA 32
dq_style_index_t *dq_style_index_build(const dq_style_embedder_t *e, const float *X, int n,
                                       const dq_style_model_t *metric);
/* The dimension of the index's search space (DQ_STYLE_INDEX_PCA, plus the metric's lda_dim). */
int dq_style_index_dim(const dq_style_index_t *ix);
void dq_style_index_free(dq_style_index_t *ix);
int dq_style_index_size(const dq_style_index_t *ix);
/* Bytes the index holds (for the memory figure of the bench). */
size_t dq_style_index_bytes(const dq_style_index_t *ix);
/* Projects a raw embedding into the search space like the indexed ones (out:
 * dq_style_index_dim floats). */
void dq_style_index_normalise(const dq_style_index_t *ix, const float *raw, float *out);
/* Similarity (dot product in the search space) of the projected query q with every indexed
 * vector into scores (n floats, caller-owned); one thread. */
void dq_style_index_scores(const dq_style_index_t *ix, const float *q, float *scores);
/* The row of the index (normalised), borrowed while ix lives. */
const float *dq_style_index_row(const dq_style_index_t *ix, int i);
/* Per-part similarity of raw embeddings a and b into sims (e->n_parts floats, each the cosine
 * of that part of the standardised vectors): what the "reason" of a match names. */
void dq_style_part_sims(const dq_style_index_t *ix, const float *raw_a, const float *raw_b,
                        float *sims);
/* The first two principal components of the indexed vectors (LAPACKE ssyevd on the
 * covariance) into xy (2n floats). Returns 0 / -1 with err. */
int dq_style_index_pca2(const dq_style_index_t *ix, float *xy, dq_err_t *err);
/* The same for any n rows of d floats (row-major). */
int dq_style_pca2(const float *rows, int n, int d, float *xy, dq_err_t *err);

#endif
