/*
 * core/colour.h: CIE L*a*b* (D65) in one place (core/colour.c), for the painter's change truth
 * (paint/render.c) and the change maps (conserve/changes.c), which must agree to the last bit:
 * IEC 61966-2-1 sRGB primaries to XYZ over the D65 white, CIE 15:2004 §8.2.1 to L*a*b*. A
 * header of its own (like config.h) so that the two modules include only this.
 * All three functions are pure and thread-safe.
 */
#ifndef DQ_COLOUR_H
#define DQ_COLOUR_H

/* An 8-bit sRGB level (fractions allowed, not clipped) to linear light (IEC 61966-2-1 §5.2). */
double dq_colour_srgb8_lin(double v);
/* A linear sRGB colour, each channel clipped to [0, 1], to L*a*b* into lab. */
void dq_colour_lin_lab(const double lin[3], double lab[3]);
/* 8-bit sRGB levels (fractions allowed), each clipped to [0, 255], to L*a*b* into lab. */
void dq_colour_srgb8_lab(const double v[3], double lab[3]);

#endif
