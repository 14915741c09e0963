/*
 * conserve_fixture.h: shared set-up of the conserve tests. Paints one work of the sample
 * collection (half size, so that the sanitizer build stays quick) with its ground truth and
 * loads truth files.
 */
#ifndef DQ_CONSERVE_FIXTURE_H
#define DQ_CONSERVE_FIXTURE_H

#include <jansson.h>
#include <stdlib.h>

#include "conserve/conserve.h"
#include "dq_test.h"
#include "image/image.h"
#include "paint/paint.h"

__attribute__((unused)) static void fx_start_vips(void)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_conserve", 64, 2, &err) == 0);
}

/* Paints work `only` with `seed` at scale 0.5 into a fresh temporary directory and returns
 * the path of its truth/ folder (free()). */
__attribute__((unused)) static char *fx_paint(const char *only, uint64_t seed)
{
    const char *r = getenv("DQ_ROOT");
    char *dir = dq_test_tmpdir("dq_conserve");
    char *pig = dq_xasprintf("%s/data-src/pigments", r ? r : ".");
    dq_paint_opts_t o = {
        .out_dir = dir, .pigments_dir = pig, .seed = seed, .scale = 0.5, .only = only, .quiet = 1};
    dq_err_t err = {0};
    int rc = dq_paint_collection(&o, &err);
    if (rc < 0)
        fprintf(stderr, "    paint: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    char *truth = dq_xasprintf("%s/%s/truth", dir, only);
    free(pig);
    free(dir);
    return truth;
}

__attribute__((unused)) static void fx_load(const char *truth, const char *file, int bands, dq_raster_t *out)
{
    char *p = dq_xasprintf("%s/%s", truth, file);
    dq_err_t err = {0};
    int rc = dq_raster_load(p, bands, 0, out, &err);
    if (rc < 0)
        fprintf(stderr, "    load %s: %s\n", p, err.msg);
    DQ_REQUIRE(rc == 0);
    free(p);
}

/* The true 2016 -> 2026 matrix from truth/transform.json. */
__attribute__((unused)) static void fx_true_matrix(const char *truth, double m[3][3])
{
    char *p = dq_xasprintf("%s/transform.json", truth);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    DQ_REQUIRE(j != NULL);
    json_t *mat = json_object_get(j, "matrix");
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++)
            m[i][k] = i < 2 ? json_number_value(json_array_get(json_array_get(mat, i), k))
                            : (k == 2 ? 1 : 0);
    json_decref(j);
    free(p);
}

/* Mean distance of the four image corners mapped by a and by b. */
__attribute__((unused)) static double fx_corner_error(const double a[3][3], const double b[3][3], int w, int h)
{
    double s = 0;
    for (int k = 0; k < 4; k++) {
        double x = (k & 1) ? w - 1 : 0, y = (k & 2) ? h - 1 : 0, ax, ay, bx, by;
        dq_conserve_map(a, x, y, &ax, &ay);
        dq_conserve_map(b, x, y, &bx, &by);
        s += hypot(ax - bx, ay - by);
    }
    return s / 4;
}

#endif
