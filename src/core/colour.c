/*
 * core/colour.c: sRGB to CIE L*a*b* (D65), the one copy shared by the painter's change truth
 * (paint/render.c) and the change maps' colour differences (conserve/changes.c): both ask
 * "can this change be seen" (CIE 1976 Delta E), so they must compute it the same way to the
 * last bit. Not here: other white points, chromatic adaptation, CIEDE2000, and the style
 * module's palette (style/embed.c), which works in float on purpose (its embeddings are
 * stored; changing its arithmetic would change them).
 */
#include "core/colour.h"

#include <math.h>

double dq_colour_srgb8_lin(double v)
{
    v /= 255.0;
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4); /* IEC 61966-2-1 §5.2 */
}

void dq_colour_lin_lab(const double lin[3], double lab[3])
{
    double r[3];
    for (int k = 0; k < 3; k++)
        r[k] = lin[k] < 0 ? 0 : lin[k] > 1 ? 1 : lin[k];
    /* IEC 61966-2-1 sRGB -> XYZ, over the D65 white (0.95047, 1, 1.08883) */
    double f[3] = {(0.4124 * r[0] + 0.3576 * r[1] + 0.1805 * r[2]) / 0.95047,
                   0.2126 * r[0] + 0.7152 * r[1] + 0.0722 * r[2],
                   (0.0193 * r[0] + 0.1192 * r[1] + 0.9505 * r[2]) / 1.08883};
    for (int k = 0; k < 3; k++) /* CIE 15:2004 8.2.1 */
        f[k] = f[k] > 216.0 / 24389.0 ? cbrt(f[k]) : (24389.0 / 27.0 * f[k] + 16.0) / 116.0;
    lab[0] = 116.0 * f[1] - 16.0;
    lab[1] = 500.0 * (f[0] - f[1]);
    lab[2] = 200.0 * (f[1] - f[2]);
}

void dq_colour_srgb8_lab(const double v[3], double lab[3])
{
    double r[3];
    for (int c = 0; c < 3; c++)
        r[c] = dq_colour_srgb8_lin(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
    dq_colour_lin_lab(r, lab);
}
