/*
 * test_outline.c: the restoration mask's outline (src/condrec/outline.c): the path follows the
 * pixel edges of each region (a rectangle is four corners, collinear steps merged), a hole is
 * a loop of its own, regions that touch only at a corner stay two loops, and a mask reduced
 * for a large image keeps full-size coordinates.
 */
#include "dq_test.h"

#include <string.h>

#include "condrec/condrec.h"

/* The path data between d=" and the next quote (new string). */
static char *path_of(const dq_buf_t *b)
{
    const char *p = strstr(b->data, " d=\"");
    if (!p)
        return dq_xstrdup("");
    p += 4;
    const char *e = strchr(p, '"');
    return dq_xasprintf("%.*s", (int)(e - p), p);
}

static char *outline(const uint8_t *m, int w, int h, int max_side)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_condrec_outline_svg(m, w, h, max_side, &b, &err) == 0);
    DQ_CHECK(strstr(b.data, "viewBox=\"0 0 ") != NULL);
    char *p = path_of(&b);
    dq_buf_free(&b);
    return p;
}

DQ_TEST(outline_rectangle_is_four_corners)
{
    uint8_t m[8 * 6] = {0};
    for (int y = 1; y < 4; y++)
        for (int x = 2; x < 7; x++)
            m[y * 8 + x] = 255;
    char *p = outline(m, 8, 6, 100);
    DQ_CHECK_STR(p, "M2 1H7V4H2Z");
    free(p);
}

DQ_TEST(outline_hole_and_corner_touch)
{
    /* a 4x4 ring (a hole in the middle) and, apart, two pixels touching at a corner */
    uint8_t m[10 * 6] = {0};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            m[y * 10 + x] = (x == 0 || y == 0 || x == 3 || y == 3) ? 1 : 0;
    m[0 * 10 + 6] = 1;
    m[1 * 10 + 7] = 1;
    char *p = outline(m, 10, 6, 100);
    /* outer ring, the hole (walked the other way round), and the two touching pixels as two
     * loops: the walk turns right at the shared corner, so each pixel keeps its own */
    int n_loops = 0;
    for (const char *q = p; (q = strchr(q, 'Z')); q++)
        n_loops++;
    DQ_CHECK_INT(n_loops, 4);
    DQ_CHECK(strstr(p, "M6 0H7V1H6Z") != NULL);
    DQ_CHECK(strstr(p, "M7 1H8V2H7Z") != NULL);
    DQ_CHECK(strstr(p, "M0 0H4V4H0Z") != NULL);
    DQ_CHECK(strstr(p, "M1 1V3H3V1Z") != NULL);
    free(p);
}

DQ_TEST(outline_reduced_keeps_full_size_coordinates)
{
    /* 100 x 40 with a block at x 50..69, y 10..29; max_side 10 -> 10 px cells */
    static uint8_t m[100 * 40];
    memset(m, 0, sizeof(m));
    for (int y = 10; y < 30; y++)
        for (int x = 50; x < 70; x++)
            m[y * 100 + x] = 1;
    char *p = outline(m, 100, 40, 10);
    DQ_CHECK_STR(p, "M50 10H70V30H50Z");
    free(p);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_condrec_outline_svg(NULL, 0, 0, 10, &b, &err) < 0);
    dq_buf_free(&b);
}
