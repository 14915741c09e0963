/*
 * conserve_internal.h: what the files of src/conserve/ share and nobody else uses.
 */
#ifndef DQ_CONSERVE_INTERNAL_H
#define DQ_CONSERVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Called once per 8-connected region of non-zero mask pixels, in raster order of the
 * regions' first pixels: px holds the region's n pixel indices (y * w + x; borrowed, valid
 * during the call), the box is inclusive. */
typedef void (*cv_region_fn)(void *ud, const size_t *px, size_t n, int x0, int y0, int x1,
                             int y1);

/* Walks the regions of mask (w x h) with an explicit stack (no recursion, so any region size
 * is safe). */
void cv_walk_regions(const uint8_t *mask, int w, int h, cv_region_fn fn, void *ud);

/* Dilates a 0/non-zero mask (w x h) by r pixels (square) in place, to 0/255, with running
 * counts: O(w h) whatever r (changes.c). */
void cv_dilate_box(uint8_t *m, int w, int h, int r);

/* Re-classes whole changed regions as flaking where their size and edge say flake (classes.c):
 * ref and nrm are REF and MOVING in REF's frame, colour-normalised (w x h x 3, borrowed), fl
 * and fa the masks (0 / 255), changed in place. Single-threaded; allocates ~5 w h bytes
 * while it runs. */
void cv_region_classes(const uint8_t *ref, const uint8_t *nrm, int w, int h, uint8_t *fl,
                       uint8_t *fa);

/* The plane that the bare support's colours span in linear RGB (through black: brightness
 * free, one hue line from fresh to aged), fitted to REF (w x h x 3 sRGB, borrowed) by trimmed
 * least squares (classes.c); lining (sRGB, NULL: none) keeps old losses out. n: its unit
 * normal. Returns 0, or -1 when too few pixels can be support. */
int cv_support_plane(const uint8_t *ref, int w, int h, const double lining[3], double n[3]);

/* Re-classes changed pixels (fl | fa) by the share of the pigment's off-plane colour left in
 * 2026, rho = n . P2026 / n . P2016 (classes.c): flaking under PL_RHO, fading above; pixels
 * whose colour lies on the support's plane (normal n) are unmixed within the plane against
 * the distribution of REF's unchanged support colours, and keep their class where that
 * cannot tell; those inside a large faded area become flaking where a window round them kept
 * far less of the pigment than the area did (flakes in thin washes). ref / nrm as for
 * cv_region_classes. *n_flake / *n_fade: pixels moved to each
 * class. */
void cv_plane_classes(const uint8_t *ref, const uint8_t *nrm, int w, int h, const double n[3],
                      uint8_t *fl, uint8_t *fa, uint64_t *n_flake, uint64_t *n_fade);

/* The last pass over the classes (changes.c): every found pixel (fl | fa, w x h masks,
 * non-zero where set) takes the class of most found pixels in its 5x5 window, flaking where
 * more than 2/5 of them are flaking. Only the class moves: pixels in neither mask stay so. */
void cv_class_majority(uint8_t *fl, uint8_t *fa, int w, int h);

#endif
