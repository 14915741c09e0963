/*
 * image/pyramid_internal.h: the layout of an open pyramid, shared by pyramid.c (which fills it)
 * and render.c (which decodes its tiles). Not part of the module's contract (image.h is); no
 * other module includes it. Everything here is immutable after dq_pyramid_open except refs.
 */
#ifndef DQ_PYRAMID_INTERNAL_H
#define DQ_PYRAMID_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "blob/blob.h"
#include "image/image.h"

/* TIFF 6.0 Compression tag value 7: "new-style" JPEG, TIFF Technical Note 2. */
#define DQ_TIFF_COMPRESSION_JPEG 7

typedef struct {
    uint32_t width, height, tile_w, tile_h;
    uint32_t across, down; /* tiles per row and per column */
    int bands;
    int compression;   /* TIFF Compression tag value (7 = JPEG) */
    int photometric;   /* TIFF Photometric tag value */
    int page;          /* directory index, or SubIFD index + 1 when the pyramid uses SubIFDs */
    uint64_t *offsets; /* [across * down], row-major */
    uint32_t *counts;  /* [across * down] */
    uint8_t *tables;   /* JPEGTables (SOI ... EOI), NULL when the tiles carry their own */
    size_t tables_len;
    /* Pre-cropped edge tiles from the file's trailer (pyramid.c, "edge tiles"), NULL when the
     * file has none: [down + across] slots, slot row for the right column (the corner too),
     * slot down + col for the bottom row; a length of 0 means no stored crop. */
    uint64_t *edge_off;
    uint32_t *edge_len;
} dq_pyr_level_t;

struct dq_pyramid {
    atomic_int refs;
    int fd;
    dq_blob_obj_t *obj; /* an object-store pyramid (dq_pyramid_open_blob): reads go through the
                         * store's read-through cache and fd is -1; NULL for a file */
    char *path;
    uint64_t file_size;
    uint64_t ident; /* the file as opened: device, inode, size, mtime (dq_pyramid_tile_tag) */
    int subifd; /* 1 when levels 1.. are SubIFDs of directory 0 */
    int n_levels;
    dq_pyr_level_t levels[32];
    dq_pyramid_info_t info;
};

/* Appends the complete JPEG stream (tables spliced in) of stored tile (col,row) of level to out.
 * Thread-safe; out is caller-owned. Errors as dq_pyramid_tile_jpeg. */
int dq_pyr_read_tile(const dq_pyramid_t *p, int level, uint32_t col, uint32_t row, dq_buf_t *out,
                     dq_err_t *err);

#endif
