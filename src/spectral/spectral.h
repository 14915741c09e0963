/*
 * spectral: the science of multispectral captures, as pure functions over float planes in
 * memory. Calibration of raw frames (dark, flat field from a white target or a white frame,
 * reflectance from grey steps), subpixel band registration (FFTW phase correlation refined
 * by an upsampled DFT), pigment identification with mixtures (MESMA over fully constrained
 * least squares against the spectral library), reveal images (underdrawing from the NIR,
 * retouching from UV fluorescence against reflectance) and decompositions (PCA, MNF, ICA via
 * LAPACKE). No files, no HTTP, no SQL: callers (cli/, http/) load pixels and store results.
 * docs/spectral.md says which published methods these follow and why.
 *
 * Planes are row-major float arrays, w*h values, owned by whoever allocated them unless a
 * comment says otherwise. Every function is thread-safe for distinct arguments (FFTW plans
 * are made under a lock of this module: fftw's planner is not thread-safe).
 */
#ifndef DQ_SPECTRAL_H
#define DQ_SPECTRAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ calibration (calibrate.c) */

typedef struct {
    int x, y, w, h;
} dq_spec_rect_t;

/* A grey step of the target: its rectangle in the frame and certified reflectance. */
typedef struct {
    dq_spec_rect_t rect;
    double refl;
} dq_spec_step_t;

/* What calibration reports for one channel. */
typedef struct {
    double flat_rms;  /* RMS of the flat-field fit, relative to the white level */
    double grey_rms;  /* RMS of the grey-step fit, in reflectance (0 when no steps) */
    double gain, offset; /* reflectance = gain * flat-fielded + offset */
    double falloff;   /* 1 - darkest/brightest of the fitted light field over the frame */
    int n_steps;
} dq_spec_cal_t;

/* Calibrates one raw channel in place: px (w*h, raw DN) becomes reflectance. dark (w*h, may
 * be NULL: no dark subtraction) is subtracted. The light field is either white (w*h, a raw
 * white frame of a uniform target of value white_value, dark-subtracted here) or, when white
 * is NULL, a quadratic surface fitted to the pixels of the n_rects white rectangles (of
 * reflectance white_value). Then, when n_steps >= 2, a straight line from the flat-fielded
 * grey steps to their reflectance (least squares, the white target included) corrects
 * offsets such as flare. Rectangles are shrunk by `inset` px on each side before sampling
 * (the band may be shifted a little against the marked targets). Fills *cal. Errors:
 * DQ_EINVAL for rectangles outside the frame or too few white samples. */
int dq_spec_calibrate(float *px, int w, int h, const float *dark, const float *white,
                      double white_value, const dq_spec_rect_t *rects, int n_rects,
                      const dq_spec_step_t *steps, int n_steps, int inset, dq_spec_cal_t *cal,
                      dq_err_t *err);

/* The same calibration without a float copy of the frame, for a pipeline that works row by
 * row. A raw channel as calibration reads it: value(x, y) = src(x, y) - dark(x, y), src either
 * a float plane f (w*h) or channel `channel` of an interleaved 16-bit frame u
 * (w*h*channels). Borrowed pointers. */
typedef struct {
    const float *f;
    const uint16_t *u;
    int channels, channel;
    const float *dark; /* w*h, or NULL */
    int w, h;
    /* dq_spec_cal_fit only: read the targets as the registered band shows them, value(x, y)
     * = Lanczos-3 of (src - dark) at (x + dx, y + dy) (the shift dq_spec_register found);
     * the model's light field then follows the frame (dq_spec_calmodel_t ox, oy). 0, 0:
     * the frame as it is. */
    double dx, dy;
} dq_spec_src_t;

/* One channel's fitted calibration: reflectance = gain * white_value * (raw - dark) / L(x, y)
 * + offset, L the light field (a quadratic surface over the frame); gain 1, offset 0 when
 * has_line is 0 (fewer than 2 grey steps). */
typedef struct {
    int w, h;
    double c[6];
    double white_value, gain, offset;
    int has_line;
    double ox, oy; /* the light field L(x, y) is the fitted surface at (x - ox, y - oy) */
} dq_spec_calmodel_t;

/* Fits the model of dq_spec_calibrate from raw (white: the white frame, or NULL for the white
 * target's rects), reading only the targets' pixels. Fills *m and *cal; same errors. */
int dq_spec_cal_fit(const dq_spec_src_t *raw, const dq_spec_src_t *white, double white_value,
                    const dq_spec_rect_t *rects, int n_rects, const dq_spec_step_t *steps,
                    int n_steps, int inset, dq_spec_calmodel_t *m, dq_spec_cal_t *cal,
                    dq_err_t *err);
/* Calibrated reflectance of row y, columns x0 .. x0 + n, into out (n floats; out may be the
 * row of raw's own float plane: each value depends on its own input only). */
void dq_spec_cal_row(const dq_spec_calmodel_t *m, const dq_spec_src_t *raw, int y, int x0, int n,
                     float *out);

/* ================================================================ registration (register.c) */

/* Estimates the shift (dx, dy) of mov against ref (both w*h): mov(x, y) ~ ref(x - dx,
 * y - dy). Phase correlation (normalised cross-power spectrum, Hann window) on up to
 * max_windows square windows of side up to 512 px spread along the longer side, each
 * refined to 1/upsample px by the matrix-multiply DFT of Guizar-Sicairos, Thurman and Fienup
 * (Opt. Lett. 33(2), 2008) around the integer peak; the result is the median over windows.
 * *peak (may be NULL) gets the mean normalised correlation peak (0..1, a confidence).
 * Errors: DQ_EINVAL for images smaller than 16 x 16. */
int dq_spec_register(const float *ref, const float *mov, int w, int h, int max_windows,
                     int upsample, double *dx, double *dy, double *peak, dq_err_t *err);

/* The windows dq_spec_register reads: up to max_windows (1..15) squares of side *side (up to
 * 512 px, even) spread along the longer side of a w x h image, into wins[15]. Returns their
 * number, or -1 (DQ_EINVAL) for images smaller than 16 x 16. */
int dq_spec_reg_windows(int w, int h, int max_windows, dq_spec_rect_t wins[15], int *side,
                        dq_err_t *err);
/* dq_spec_register on the windows alone: ref[i] and mov[i] are window i of each image (side x
 * side, row-major), as dq_spec_reg_windows placed them. So a caller that streams its frames
 * keeps only these pixels. */
void dq_spec_register_windows(const float *const *ref, const float *const *mov, int n, int side,
                              int upsample, double *dx, double *dy, double *peak);

/* Resamples src by (-dx, -dy) into dst (both w*h, distinct): dst(x, y) = src(x + dx, y + dy),
 * undoing a shift found by dq_spec_register. Separable Lanczos-3, edges clamped. A zero shift
 * copies. */
void dq_spec_unshift(const float *src, float *dst, int w, int h, double dx, double dy);
/* The 6 normalised Lanczos-3 taps for a sample at i + f (0 <= f < 1): weights of i-2 .. i+3. */
void dq_spec_lanczos_taps(double f, double k[6]);
/* The same resampling streamed: rows of the w x h source come from row(ud, y, buf) (w floats,
 * each source row asked for about once, in increasing order), and the output's crop rectangle
 * goes to emit(ud, y - crop.y, out) row by row (crop.w floats, borrowed for the call). Holds 7
 * rows, never a plane. */
void dq_spec_unshift_rows(void (*row)(void *ud, int y, float *buf),
                          void (*emit)(void *ud, int y, const float *out), void *ud, int w,
                          int h, double dx, double dy, dq_spec_rect_t crop);

/* ================================================================ one resolution (resolution.c) */

/* A band whose registration shift is at least this far from a whole pixel (in x or y) was
 * resampled enough to soften it unlike the others. */
#define DQ_SPEC_RESAMPLED_FRAC 0.1
/* The common Gaussian (px) for pigment identification on resampled stacks: the smallest that
 * took the per-pixel error of DQ-2026-0015's raw capture against its ideal bands from
 * 0.012-0.038 to 0.002-0.006 per band (0.5 px left half of it). */
#define DQ_SPEC_PSF_SIGMA 0.7

/* The sigma (px) that the bands of a capture need before their spectra are compared:
 * DQ_SPEC_PSF_SIGMA when any of the n bands' shifts (dx[i], dy[i], what registration found)
 * has a fraction of DQ_SPEC_RESAMPLED_FRAC px or more, else 0 (bands that were not resampled,
 * such as ideal bands, keep their resolution). */
double dq_spec_resampled_sigma(const double *dx, const double *dy, int n);
/* Blurs each of the n planes (w*h, in place) with a Gaussian of sigma px (separable, radius
 * 3 sigma, edges clamped), so that bands resampled by different sub-pixel shifts share one
 * point spread function. sigma <= 0 leaves them. Works on one row and a 64-column strip at a
 * time: no copy of a plane. */
void dq_spec_psf_match(float *const *planes, int n, int w, int h, double sigma);

/* ================================================================ library and unmixing (unmix.c) */

#define DQ_SPEC_MAX_BANDS 16
#define DQ_SPEC_NAME 64

/* A spectral library sampled at a capture's wavelengths. Entries [0, n_pig) are the pigment
 * candidates (CSV columns and the modelled lead_white); ink is the carbon ink endmember. */
typedef struct {
    int n_bands;
    double nm[DQ_SPEC_MAX_BANDS];
    int n_pig;
    char (*names)[DQ_SPEC_NAME]; /* n_pig names: CSV columns, "lead_white" */
    double *refl;                /* n_pig * n_bands */
    double ink[DQ_SPEC_MAX_BANDS];
    int n_wl;                    /* the full curves, for plots: n_wl wavelengths */
    double *wl, *curves;         /* wl[n_wl]; curves[(n_pig + 1) * n_wl], ink last */
} dq_spec_lib_t;

/* Reads the library CSV (hyppigments_selected_mean.csv: wavelength_nm, then one column per
 * pigment and shade) from dir and samples it at nm[0..n_bands) (linear interpolation; bands
 * outside 405..996 nm are refused). Pigment candidates: every column except the blacks
 * (atramentum, bistre, ivory and grape black), plus lead_white (modelled: basic lead
 * carbonate, flat 0.92 above its near-UV edge). Carbon ink: the mean of bistre_soot_sh1,
 * ivory_black_sh1 and grape_black_sh1. Fills lib (free with dq_spec_lib_free). Errors:
 * DQ_ENOTFOUND (no CSV), DQ_EINVAL (bad CSV or bands). */
int dq_spec_lib_load(dq_spec_lib_t *lib, const char *dir, const double *nm, int n_bands,
                     dq_err_t *err);
void dq_spec_lib_free(dq_spec_lib_t *lib);
/* The library CSV parsed, not yet sampled: what a server loads once and samples per capture
 * (dq_spec_lib_sample; the CSV is ~40 KiB of text, sampling is microseconds). New, free with
 * dq_spec_table_free (NULL-safe); NULL with err (as dq_spec_lib_load) on failure. Read-only
 * after loading, so any number of threads may sample it at once. */
typedef struct dq_spec_table dq_spec_table_t;
dq_spec_table_t *dq_spec_table_load(const char *dir, dq_err_t *err);
void dq_spec_table_free(dq_spec_table_t *t);
/* dq_spec_lib_load from a parsed table (borrowed; lib does not keep it). */
int dq_spec_lib_sample(dq_spec_lib_t *lib, const dq_spec_table_t *t, const double *nm,
                       int n_bands, dq_err_t *err);
/* The library directory: ./data-src/pigments when it holds the CSV, else data-src/pigments
 * next to the binary's build/ directory (the repository's copy). */
void dq_spec_default_library(char *out, size_t len);
/* The pigment family of a library name: the column without its "_shN" shade suffix. Writes
 * at most cap bytes into out. */
void dq_spec_family(const char *name, char *out, size_t cap);

/* The labels of a pigment map. */
enum { DQ_SPEC_LABEL_SUPPORT = 0, DQ_SPEC_LABEL_INK = 1, DQ_SPEC_LABEL_PIGMENT0 = 2 };

typedef struct {
    int w, h;
    uint8_t *label; /* w*h: 0 support, 1 carbon ink, 2 + k pigment candidate k (owned) */
    uint8_t *conf;  /* w*h: 0..255 confidence (owned) */
    float *cover;   /* w*h: the pigment's fraction in the best model (owned) */
    float *ink;     /* w*h: the ink fraction (owned) */
    int *best;      /* w*h: index of the best model's pigment (owned); with two pigments the
                     * one with the larger share */
    int *best2;     /* w*h: the other pigment of a two-pigment model, -1 for none, -2 for
                     * toned support that the support's own family explains (owned) */
    double support[DQ_SPEC_MAX_BANDS]; /* the image-derived support endmember */
    double support_lw_angle;   /* degrees between the brightest tenth's median and lead_white
                                * (-1 when the library has no lead_white) */
    double support_mode_angle; /* degrees from lead_white most of the brightest 30 % lie at */
    int support_moved;         /* 1 when that median was pulled toward lead white and S is
                                * the bright majority's median instead */
} dq_spec_map_t;

/* Identifies pigments in a calibrated reflectance stack: planes[b] (w*h) at lib->nm[b].
 * Support endmember: the per-band median of the brightest, flattest tenth of the pixels, or,
 * where that median is pulled toward lead white, of the bright majority (support_endmember).
 * Then per pixel MESMA (Roberts et al. 1998): for each candidate pigment p the fully
 * constrained model r = a_s S + a_k K + a_p P (a >= 0, sum 1; Heinz and Chang 2001) is solved
 * exactly (a 2-D problem on a triangle). A survey of every 16th pixel finds the scene's
 * pigments (families that label >= DQ_SPEC_SCENE_MIN of its colour pixels, one shade each,
 * less those that other scene pigments or pairs of them explain as well: look-alikes of
 * mixtures) and the noise variance sigma^2 (plus what bare support adds, weighted by a_s^2).
 * Then the models of a pixel compete by squared residual plus price (BIC): two scene pigments,
 * r = a_s S + a_k K + a_1 P1 + a_2 P2 (exact over the simplex) for the pairs among the best
 * DQ_SPEC_PAIR_TOP scene families (not two of one shape: DQ_SPEC_PAIR_ANGLE), pay
 * DQ_SPEC_PAIR_PRICE ln(n) sigma^2 and need 5 % each;
 * a single pigment that is not a scene pigment pays DQ_SPEC_PRIOR_PRICE ln(n) sigma^2. The
 * support's own family from the image (the mean and two principal axes of the survey's clean
 * bare support, open on the side where the sheet yellows, refitted three times with the edges
 * it takes back) relabels as support a colour pixel that it explains, with ink, as well as
 * the winning model does plus one price (toned, yellowed paper and silk is not orpiment). Pairs
 * are tried where the single model's pigment share is >= min_cover. With
 * two pigments the label is the one with the larger share, best2 the other. Label: ink when
 * a_k >= 0.6, the pigment when the pigment share / (pigments + support) >= min_cover, else
 * support. Confidence: 1 - best/second-best residual. Rows run on one thread per core.
 * progress (may be NULL) gets 0..100 (from any of them, one at a time). Fills map (free with
 * dq_spec_map_free). */
#define DQ_SPEC_PAIR_TOP 5
#define DQ_SPEC_PAIR_PRICE 1.0
#define DQ_SPEC_PRIOR_PRICE 2.0
#define DQ_SPEC_SCENE_MIN 0.0025
#define DQ_SPEC_PAIR_ANGLE 2.5 /* degrees: two spectra closer than this make no pair */
/* degrees: a brightest-tenth median this much closer to lead_white than the bright majority
 * is lead white (or a blend with it), not the support (docs/spectral.md "Lead white") */
#define DQ_SPEC_SUPPORT_LW_ANGLE 3.0
int dq_spec_pigments(const float *const *planes, int w, int h, const dq_spec_lib_t *lib,
                     double min_cover, void (*progress)(void *ud, int pct), void *ud,
                     dq_spec_map_t *map, dq_err_t *err);
void dq_spec_map_free(dq_spec_map_t *map);

/* The best library matches of one spectrum r (lib->n_bands values): for each of up to
 * n_out candidates, its index and the residual RMS of its MESMA model against support
 * (may be NULL: a flat 0.8 support) and ink, best first; cover gets the pigment fraction.
 * Returns the number filled. */
int dq_spec_match(const dq_spec_lib_t *lib, const double *support, const double *r, int n_out,
                  int *idx, double *rms, double *cover);

/* ================================================================ reveal (unmix.c, reveal.c) */

/* Underdrawing score (w*h, 0..1, brighter = more likely): the deficit of the NIR bands
 * (nm >= 800) against what the visible bands (nm < 700) predict under the pixel's MESMA model
 * (the map's pigment, fractions refitted on the visible bands). out is caller-allocated. */
int dq_spec_reveal_underdrawing(const float *const *planes, int w, int h, const dq_spec_lib_t *lib,
                                const dq_spec_map_t *map, float *out, dq_err_t *err);
/* Retouching score (w*h, 0..1): the deficit of UV fluorescence (uv, w*h, linear) against
 * what the reflectance predicts: a least-squares fit of the fluorescence on the reflectance
 * bands and the map's ink fraction, refitted once without the worst-fitting tenth (the
 * retouched patches are few and must not pull the fit), then (pred - uv) / pred, smoothed
 * over 5 x 5 px. out is caller-allocated. */
int dq_spec_reveal_retouching(const float *const *planes, int n_planes, int w, int h,
                              const float *uv, const dq_spec_map_t *map, float *out,
                              dq_err_t *err);

/* ================================================================ decompositions (decompose.c) */

enum { DQ_SPEC_PCA = 0, DQ_SPEC_MNF, DQ_SPEC_ICA };

typedef struct {
    int method, n_in, n_comp;
    double *mean;      /* n_in */
    double *vectors;   /* n_comp x n_in, row k = component k's weights on the (centred) input */
    double *values;    /* n_comp: PCA eigenvalues, MNF signal-to-noise ratios (eigenvalue of
                        * the noise-whitened covariance, largest first), ICA negentropy proxy */
} dq_spec_decomp_t;

/* Fits a decomposition of n_in planes (w*h each) over the region (x, y, rw, rh) (rw 0: the
 * whole image). PCA: eigenvectors of the sample covariance (divisor N - 1), largest
 * eigenvalue first. MNF (Green et al. 1988): noise covariance from the differences of
 * diagonal neighbours (x, y) - (x + 1, y + 1) over the noise rectangle (nw 0: the region),
 * halved; then the generalised eigenproblem Sigma v = lambda Sigma_n v (LAPACKE_dsygv), largest
 * lambda first, vectors scaled so that v' Sigma_n v = 1. ICA: FastICA (Hyvarinen 1999,
 * symmetric, tanh) on the PCA-whitened data, components ordered by |kurtosis|. Signs are fixed
 * so that each vector's largest-magnitude weight is positive. Fills d (free with
 * dq_spec_decomp_free). */
int dq_spec_decompose(const float *const *planes, int n_in, int w, int h, int method,
                      dq_spec_rect_t region, dq_spec_rect_t noise, dq_spec_decomp_t *d,
                      dq_err_t *err);
void dq_spec_decomp_free(dq_spec_decomp_t *d);
/* Component k of d applied to planes, into out (w*h, caller-allocated). */
void dq_spec_component(const dq_spec_decomp_t *d, const float *const *planes, int w, int h, int k,
                       float *out);

/* ================================================================ display helpers */

/* Stretches plane (n values) linearly so that its lo and hi percentiles (0..100) map to 0 and
 * 255, into out (caller-allocated). */
void dq_spec_stretch(const float *plane, size_t n, double lo, double hi, uint8_t *out);

/* Per-pixel loops that GCC vectorises get an AVX2 clone where the CPU has it (function
 * multiversioning, chosen at load time): twice the vector width for the doubles they compute
 * in, the same operations in the same order (no FMA: -std=c11 keeps contraction off and the
 * avx2 target does not enable it), so the same results bit for bit. Not under ASan, whose
 * start-up does not expect ifunc resolvers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&                            \
    !defined(__SANITIZE_ADDRESS__)
#define DQ_SPEC_AVX2 __attribute__((target_clones("avx2", "default")))
#else
#define DQ_SPEC_AVX2
#endif

#endif
