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

/* Re-classes whole changed regions as flaking where their size and edge say flake (classes.c):
 * ref and nrm are REF and MOVING in REF's frame, colour-normalised (w x h x 3, borrowed), fl
 * and fa the masks (0 / 255), changed in place. Single-threaded; allocates ~5 w h bytes
 * while it runs. */
void cv_region_classes(const uint8_t *ref, const uint8_t *nrm, int w, int h, uint8_t *fl,
                       uint8_t *fa);

#endif
