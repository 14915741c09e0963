/*
 * conserve: the science of condition monitoring and virtual restoration, as pure functions
 * over in-memory rasters (image/raster.c loads and saves them). Registration of two condition
 * captures (register.c), change maps between them (changes.c) and inpainting of masked
 * areas (inpaint.c). No HTTP, no SQL, no files: the CLI and the catalog call these.
 * All functions are reentrant; they share no state and may run on any thread.
 */
#ifndef DQ_CONSERVE_H
#define DQ_CONSERVE_H

#include <stdint.h>

#include "core/core.h"
#include "image/image.h"

/* ================================================================ registration */

enum { DQ_CONSERVE_SIMILARITY, DQ_CONSERVE_AFFINE, DQ_CONSERVE_HOMOGRAPHY };

/* The model's name: "similarity", "affine" or "homography". Static string. */
const char *dq_conserve_model_name(int model);

typedef struct {
    int model;          /* DQ_CONSERVE_* chosen: the simplest that explains the pair */
    double m[3][3];     /* REF pixel (x, y, 1) -> MOVING pixel, pixel centres at integers */
    double residual_px; /* RMS of local block shifts left after the global model */
    double ncc;         /* normalised correlation of REF and warped MOVING (robust weights) */
    double agree;       /* fraction of textured blocks that agree with the model (< 1.5 px) */
    double overlap;     /* fraction of REF that maps inside MOVING */
    double gain, bias;  /* photometric fit: REF grey ~ gain * MOVING grey + bias */
    int n_matches, n_inliers; /* coarse feature matches and RANSAC inliers */
    int n_blocks, n_textured; /* blocks checked, of which with enough texture */
} dq_conserve_reg_t;

/* Estimates the transform taking REF pixel coordinates to MOVING pixel coordinates. Coarse:
 * SIFT features (VLFeat) on a reduced copy, matched with a ratio test, and a RANSAC
 * similarity. Fine: coarse-to-fine robust Gauss-Newton on grey levels with a gain and bias
 * (so exposure and white balance do not matter, and damage is down-weighted by Tukey's
 * biweight), similarity, affine and homography each refined; the simplest model whose image
 * corners lie within 0.2 px of the richer one is kept. Finally the image is cut into blocks
 * whose local shifts check the model. ref and mov are 3-band or 1-band rasters (borrowed).
 * Returns 0 and fills *out; -1 with err DQ_EINVAL when the pair cannot be aligned (unrelated
 * images, too little overlap or texture): then *out holds the diagnostics so far. */
int dq_conserve_register(const dq_raster_t *ref, const dq_raster_t *mov, dq_conserve_reg_t *out,
                         dq_err_t *err);

/* Maps REF pixel (x, y) through m. */
void dq_conserve_map(const double m[3][3], double x, double y, double *ox, double *oy);

/* Resamples mov into REF's frame (w x h) through m (bilinear), same band count as mov. Pixels
 * that fall outside mov are 0 and, when valid is non-NULL, valid (new, w*h bytes, free()) is 0
 * there and 255 elsewhere. Returns 0 and fills *out (new, free with dq_raster_free). */
int dq_conserve_warp(const dq_raster_t *mov, const double m[3][3], int w, int h,
                     dq_raster_t *out, uint8_t **valid, dq_err_t *err);

/* ================================================================ change maps */

enum { DQ_CONSERVE_LOSS, DQ_CONSERVE_FLAKING, DQ_CONSERVE_FADING, DQ_CONSERVE_N_CLASSES };

/* The class's name: "loss", "flaking", "fading". Static string. */
const char *dq_conserve_class_name(int cls);

typedef struct {
    dq_conserve_reg_t reg;
    int w, h;                  /* REF's size: every mask is in REF's frame */
    double colour_gain[3];     /* per sRGB channel: REF ~ gain * MOVING + offset */
    double colour_offset[3];   /* 0 since session 25 (a camera's exposure scales: changes.c) */
    double noise[3];           /* robust sigma of the per-pixel difference after that */
    double lining[3];          /* the colour of exposed lining (losses), sRGB */
    uint8_t *mask[DQ_CONSERVE_N_CLASSES]; /* w*h bytes each, 255 where changed; owned */
    uint64_t area[DQ_CONSERVE_N_CLASSES]; /* pixels */
    uint64_t n_valid;          /* REF pixels that MOVING covers */
} dq_conserve_changes_t;

/* What changed from REF (earlier) to MOVING (later): registers them (dq_conserve_register),
 * resamples MOVING into REF's frame, fits a per-channel gain and offset (robust, so exposure
 * and white balance drop out), and classifies each pixel:
 *  - loss: the later capture shows the lining (the brightest, most neutral colour of REF's
 *    old losses) where the earlier one did not;
 *  - flaking / fading: a multi-scale test (5x5, 11x11, 25x25 window means, calibrated per
 *    scale on the image, after a residual tone curve; REF blurred by the same resampling
 *    round trip as MOVING; two passes, the second with the null model estimated without
 *    what the first found) finds where pigment was lost; on strong colour the fraction of
 *    the move towards the local bare support (robust medians on a grid) tells whole
 *    (flaking, >= 85 % in linear light over the 5x5 window or
 *    >= 90 % for the pixel on its own) from partial (fading); on a thin wash, whose
 *    support is not seen, a one-sided luma test of the wide windows finds the lightening,
 *    and a change above its 25x25 surround is a flake, a broad one fading.
 * Returns 0 and fills *out (free with dq_conserve_changes_free), or -1 with err (the
 * registration's refusal included). */
int dq_conserve_changes(const dq_raster_t *ref, const dq_raster_t *mov,
                        dq_conserve_changes_t *out, dq_err_t *err);
/* The same, taking the captures: ref's and mov's pixels are freed (dq_raster_free) as soon
 * as the call no longer needs them, on success and on failure, which keeps the peak memory of
 * a 24000 x 2000 pair at about two thirds of what holding them to the end costs. */
int dq_conserve_changes_take(dq_raster_t *ref, dq_raster_t *mov, dq_conserve_changes_t *out,
                             dq_err_t *err);
/* Frees the masks; NULL is ok. */
void dq_conserve_changes_free(dq_conserve_changes_t *c);

/* One 8-connected region of a mask. */
typedef struct {
    int x0, y0, x1, y1; /* bounding box, inclusive */
    uint64_t area;      /* pixels */
} dq_conserve_region_t;

/* The 8-connected regions of non-zero pixels in mask (w x h) with at least min_area pixels,
 * largest first. *out is new (free()), *n its length. */
void dq_conserve_regions(const uint8_t *mask, int w, int h, uint64_t min_area,
                         dq_conserve_region_t **out, int *n);

/* ================================================================ virtual restoration */

typedef struct {
    uint64_t n_masked;    /* pixels filled */
    int n_regions;        /* connected regions of the mask */
    int n_textured;       /* regions that received texture from an exemplar */
} dq_conserve_inpaint_stats_t;

/* Virtual restoration of the masked pixels of img (1 or 3 bands, in place): a structure and
 * texture hybrid (after Bertalmio, Vese, Sapiro & Osher 2003). Per connected region of the
 * mask: the smooth structure is the harmonic (Laplace) fill of the surrounding colours,
 * started by push-pull interpolation and relaxed by SOR; the support's texture (silk weave,
 * paper fibres) is the high-pass of the best-matching nearby exemplar (the offset whose
 * high-pass agrees best on a ring around the region, Efros-Leung style), added with the
 * least-squares weight the ring supports, so that it cannot add more error than it explains.
 * mask is w*h bytes, non-zero = fill. Pixels outside the mask are never changed. Returns 0
 * (stats may be NULL), -1 with err for mismatched sizes. */
int dq_conserve_inpaint(dq_raster_t *img, const uint8_t *mask, int w, int h,
                        dq_conserve_inpaint_stats_t *stats, dq_err_t *err);

#endif
