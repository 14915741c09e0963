/*
 * image: everything that touches pixels or image files. The pyramid reader (raw stored
 * tiles by pread, no decode), the renderer (decode only the needed tiles of one level, then
 * crop/scale/rotate/quality/encode) and ingest (master -> tiled pyramidal JPEG TIFF).
 * Only this module includes vips, tiff and jpeg headers (house style 3).
 */
#ifndef DQ_IMAGE_H
#define DQ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ process set-up */
/* (owned by the pyramid/render author) */

/* ================================================================ pyramid reader */
/* (owned by the pyramid/render author) */

/* ================================================================ renderer */
/* (owned by the pyramid/render author) */

/* ================================================================ ingest */
/* (owned by the ingest author) */

#endif
