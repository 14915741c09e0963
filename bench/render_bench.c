/*
 * render_bench.c: micro-benchmark of the image hot path, without HTTP. Not built by make;
 * build by hand with the project's flags (it includes render.c to reach the tiffload path):
 *   cc -std=c11 -O2 -D_DEFAULT_SOURCE -Isrc $(pkg-config --cflags vips libturbojpeg libtiff-4) \
 *      bench/render_bench.c src/image/pyramid.c src/image/vips.c src/core/[a-z]*.c \
 *      $(pkg-config --libs vips libturbojpeg libtiff-4 libsodium) -lm -o build/render_bench
 * usage: render_bench PYRAMID.tif tiles|edge|regions|decode|tiffload [N] [vips_concurrency]
 * Regions are drawn like tilebench.sh -m regions: width 1.2x..8x of 512, height 0.5..1.2 of
 * the width, any offset, scaled to 512 wide, read from the level the planner would pick (the
 * smallest one still at least as large as the output). Prints ms per call (mean, p50, p99).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/render.c"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The smallest level whose copy of a w x h region is still at least out_w wide. */
static int pick_level(const dq_pyramid_info_t *in, uint32_t w, uint32_t out_w)
{
    int best = 0;
    for (int l = 1; l < in->n_levels; l++)
        if ((double)w * in->levels[l].width / in->width >= out_w)
            best = l;
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PYRAMID.tif tiles|edge|regions|decode|tiffload [N] [conc]\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[2];
    int n = argc > 3 ? atoi(argv[3]) : 500;
    int conc = argc > 4 ? atoi(argv[4]) : 1;
    dq_err_t err = {0};
    if (dq_image_init(argv[0], 0, conc, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    dq_pyramid_t *p = dq_pyramid_open(argv[1], &err);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const dq_pyramid_info_t *in = dq_pyramid_info(p);
    double *ms = calloc((size_t)n, sizeof *ms);
    dq_buf_t out = {0};
    size_t bytes = 0;
    srand(1);
    for (int i = 0; i < n; i++) {
        out.len = 0;
        int64_t t0 = dq_now_us();
        int rc;
        if (!strcmp(mode, "tiles") || !strcmp(mode, "edge")) {
            uint32_t across = (in->width + in->tile_w - 1) / in->tile_w;
            uint32_t down = (in->height + in->tile_h - 1) / in->tile_h;
            uint32_t c = (uint32_t)rand() % across, r = (uint32_t)rand() % down;
            uint32_t cw = 0, ch = 0;
            if (!strcmp(mode, "edge")) { /* the right column: crop to the image */
                c = across - 1;
                cw = in->width - c * in->tile_w;
            }
            rc = dq_pyramid_tile_jpeg(p, 0, c, r, cw, ch, &out, &err);
        } else {
            double u1 = rand() / (double)RAND_MAX, u2 = rand() / (double)RAND_MAX;
            uint32_t w = DQ_MIN((uint32_t)(512 * (1.2 + u1 * 6.8)), in->width);
            uint32_t h = DQ_MIN((uint32_t)(w * (0.5 + u2 * 0.7)), in->height);
            uint32_t x = (uint32_t)(rand() / ((double)RAND_MAX + 1) * (in->width - w + 1));
            uint32_t y = (uint32_t)(rand() / ((double)RAND_MAX + 1) * (in->height - h + 1));
            int l = pick_level(in, w, 512);
            double f = (double)in->levels[l].width / in->width;
            dq_render_spec_t s = {.level = l,
                                  .lx = (uint32_t)(x * f),
                                  .ly = (uint32_t)(y * f),
                                  .lw = DQ_MAX(1u, (uint32_t)(w * f)),
                                  .lh = DQ_MAX(1u, (uint32_t)(h * f)),
                                  .out_w = 512,
                                  .out_h = DQ_MAX(1u, (uint32_t)(512.0 * h / w + 0.5)),
                                  .format = DQ_RF_JPG,
                                  .jpeg_quality = 90};
            s.lw = DQ_MIN(s.lw, in->levels[l].width - s.lx);
            s.lh = DQ_MIN(s.lh, in->levels[l].height - s.ly);
            if (!strcmp(mode, "decode")) { /* the tile decode alone */
                region_t r = {0};
                rc = decode_region(p, &s, pick_dct_scale(&s, in->tile_w, in->tile_h), &r, &err);
                free(r.pix);
            } else {
                rc = !strcmp(mode, "tiffload") ? render_via_tiffload(p, &s, &out, &err)
                                               : dq_image_render(p, &s, &out, &err);
            }
        }
        ms[i] = (dq_now_us() - t0) / 1000.0;
        if (rc < 0) {
            fprintf(stderr, "call %d: %s\n", i, err.msg);
            return 1;
        }
        bytes += out.len;
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += ms[i];
    qsort(ms, (size_t)n, sizeof *ms, cmp_d);
    printf("%s n=%d mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f mean_bytes=%zu\n", mode, n, sum / n,
           ms[n / 2], ms[(int)(n * 0.99)], bytes / (size_t)n);
    free(ms);
    dq_buf_free(&out);
    dq_pyramid_unref(p);
    dq_image_shutdown();
    return 0;
}
