/*
 * paint/spectral.c: the materials the painter uses and their reflectance spectra. Measured
 * pigments come from the Hyperspectral Pigments Dataset (H. Deborah, CC BY 4.0; see
 * data-src/pigments/SOURCES.md), read from its CSV at run time. Lead white, paper, silk, the
 * fan mount, the lining paper and UV fluorescence are not in that dataset: they are modelled
 * here, with the formulas documented in docs/generate.md. It does not render pixels.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paint/paint.h"

/* Column choices: the shade (sh1 darkest .. sh4 brightest) that gives the tone a painter
 * would use for washes; carbon ink is bistre (beechwood soot), the dataset's closest thing
 * to Chinese pine-soot ink (atramentum rises in the NIR and is not a carbon black). */
const dq_paint_material_t dq_paint_materials[DQ_MAT_N] = {
    [DQ_MAT_NONE] = {"support", NULL, "绢/纸"},
    [DQ_MAT_INK] = {"carbon_ink", "bistre_soot_sh1", "墨"},
    [DQ_MAT_LEAD_WHITE] = {"lead_white", NULL, "铅白"},
    [DQ_MAT_CINNABAR] = {"cinnabar", "cinnabar_fine_sh4", "朱砂"},
    [DQ_MAT_VERMILION] = {"vermilion", "vermilion_sh3", "银朱"},
    [DQ_MAT_AZURITE] = {"azurite", "azurite_natural_standard_sh4", "石青"},
    [DQ_MAT_MALACHITE] = {"malachite", "malachite_natural_xfine_sh3", "石绿"},
    [DQ_MAT_INDIGO] = {"indigo", "indigo_genuine_sh3", "花青"},
    [DQ_MAT_YELLOW_OCHRE] = {"yellow_ochre", "yellow_ochre_andalusia_sh3", "土黄"},
    [DQ_MAT_RED_OCHRE] = {"red_ochre", "red_ochre_andalusia_sh4", "赭石"},
    [DQ_MAT_ORPIMENT] = {"orpiment", "orpiment_sh3", "石黄"},
    [DQ_MAT_MOUNT] = {"mount_silk", NULL, "裱绫"},
    [DQ_MAT_LINING] = {"lining_paper", NULL, "托纸"},
};

#define CSV_NAME "hyppigments_selected_mean.csv"

/* ---------------------------------------------------------------- modelled spectra */

static double smooth01(double e0, double e1, double x)
{
    double t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

double dq_paint_support_refl(int support, double tone, double nm)
{
    /* A bright, nearly flat base that rises a little into the NIR (cellulose and fibroin
     * scatter strongly there), times a yellowing term that removes blue: aged cellulose and
     * silk absorb from the UV into the blue, more with age (tone). */
    double base, amp, dark;
    if (support == DQ_PAINT_SILK) {
        base = 0.72 + 0.10 * smooth01(600, 900, nm);
        amp = 0.12 + 0.75 * tone;
        dark = 1.0 - 0.25 * tone;
    } else {
        base = 0.86 + 0.04 * smooth01(600, 900, nm);
        amp = 0.06 + 0.60 * tone;
        dark = 1.0 - 0.15 * tone;
    }
    return base * dark * (1.0 - amp * (1.0 - smooth01(380, 680, nm)));
}

static double modelled(int mat, double nm)
{
    switch (mat) {
    case DQ_MAT_LEAD_WHITE:
        /* Basic lead carbonate: white and flat through the visible and NIR, with its
         * absorption edge in the near UV (below about 420 nm). */
        return 0.20 + 0.72 * smooth01(370, 430, nm);
    case DQ_MAT_MOUNT:
        /* A dull blue-grey damask for the album page that holds a fan leaf. */
        return 0.26 + 0.08 * exp(-(nm - 420.0) / 90.0) + 0.20 * smooth01(680, 800, nm);
    case DQ_MAT_LINING:
        /* Modern lining paper: fresh, hardly toned. */
        return dq_paint_support_refl(DQ_PAINT_PAPER, 0.05, nm);
    default:
        return dq_paint_support_refl(DQ_PAINT_PAPER, 0.3, nm);
    }
}

/* ---------------------------------------------------------------- CSV */

static int find_col(char *header, const char *name)
{
    int idx = 0;
    for (char *tok = strtok(header, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), idx++)
        if (strcmp(tok, name) == 0)
            return idx;
    return -1;
}

int dq_paint_spectra_load(dq_paint_spectra_t *s, const char *dir, dq_err_t *err)
{
    dq_buf_t b = {0};
    char *path = dq_xasprintf("%s/%s", dir, CSV_NAME);
    int rc = -1, cols[DQ_MAT_N];
    memset(s, 0, sizeof(*s));
    if (dq_fs_read_file(path, 16u << 20, &b, err) < 0)
        goto out;
    char *line_end = strchr(b.data, '\n');
    if (!line_end) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: no header line", path);
        goto out;
    }
    size_t hlen = (size_t)(line_end - b.data);
    for (int m = 0; m < DQ_MAT_N; m++) {
        cols[m] = -1;
        if (!dq_paint_materials[m].column)
            continue;
        char *h = dq_xstrndup(b.data, hlen);
        cols[m] = find_col(h, dq_paint_materials[m].column);
        free(h);
        if (cols[m] < 1) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: column %s missing", path,
                       dq_paint_materials[m].column);
            goto out;
        }
    }
    char *p = line_end + 1;
    while (*p && s->n_wl < DQ_PAINT_MAX_WL) {
        char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if (eol == p || (eol == p + 1 && *p == '\r')) {
            p = *eol ? eol + 1 : eol;
            continue;
        }
        double vals[512];
        int n = 0;
        char *q = p;
        while (q < eol && n < 512) {
            char *end;
            errno = 0;
            vals[n++] = strtod(q, &end);
            if (end == q || errno) {
                dq_err_set(err, DQ_EINVAL, 0, "%s: bad number in row %d", path, s->n_wl + 2);
                goto out;
            }
            q = end;
            if (*q == ',')
                q++;
            else
                break;
        }
        int i = s->n_wl;
        s->wl[i] = vals[0];
        for (int m = 0; m < DQ_MAT_N; m++) {
            if (cols[m] >= n) {
                dq_err_set(err, DQ_EINVAL, 0, "%s: short row %d", path, i + 2);
                goto out;
            }
            s->refl[m][i] = cols[m] > 0 ? vals[cols[m]] : modelled(m, vals[0]);
        }
        s->n_wl++;
        p = *eol ? eol + 1 : eol;
    }
    if (s->n_wl < 16) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: only %d wavelengths", path, s->n_wl);
        goto out;
    }
    rc = 0;
out:
    free(path);
    dq_buf_free(&b);
    return rc;
}

double dq_paint_spectra_at(const dq_paint_spectra_t *s, int mat, double nm)
{
    const double *r = s->refl[mat];
    if (nm <= s->wl[0])
        return r[0];
    for (int i = 1; i < s->n_wl; i++)
        if (nm <= s->wl[i]) {
            double t = (nm - s->wl[i - 1]) / (s->wl[i] - s->wl[i - 1]);
            return r[i - 1] + t * (r[i] - r[i - 1]);
        }
    return r[s->n_wl - 1];
}

/* ---------------------------------------------------------------- colour */

/* CIE 1931 colour matching functions, the multi-lobe Gaussian fit of Wyman, Sloan and
 * Shirley (JCGT 2(2), 2013), accurate to a few percent, which is plenty for display. */
static double g(double x, double mu, double s1, double s2)
{
    double t = (x - mu) * (x < mu ? s1 : s2);
    return exp(-0.5 * t * t);
}

static void cmf(double l, double *x, double *y, double *z)
{
    *x = 1.056 * g(l, 599.8, 0.0264, 0.0323) + 0.362 * g(l, 442.0, 0.0624, 0.0374) -
         0.065 * g(l, 501.1, 0.0490, 0.0382);
    *y = 0.821 * g(l, 568.8, 0.0213, 0.0247) + 0.286 * g(l, 530.9, 0.0613, 0.0322);
    *z = 1.217 * g(l, 437.0, 0.0845, 0.0278) + 0.681 * g(l, 459.0, 0.0385, 0.0725);
}

static void xyz_to_rgb(double X, double Y, double Z, double rgb[3])
{
    /* IEC 61966-2-1 (sRGB) primaries. */
    rgb[0] = 3.2406 * X - 1.5372 * Y - 0.4986 * Z;
    rgb[1] = -0.9689 * X + 1.8758 * Y + 0.0415 * Z;
    rgb[2] = 0.0557 * X - 0.2040 * Y + 1.0570 * Z;
}

void dq_paint_spectrum_rgb(const dq_paint_spectra_t *s, const double *refl, float rgb[3])
{
    /* Equal-energy illuminant over the measured range below 780 nm, then a von Kries-like
     * per-channel scaling so that a perfect reflector is (1, 1, 1): the camera is white
     * balanced on a reference card. Linear in reflectance, so mixing reflectances and
     * mixing these colours agree. */
    double X = 0, Y = 0, Z = 0, Xw = 0, Yw = 0, Zw = 0;
    for (int i = 0; i < s->n_wl && s->wl[i] <= 780.0; i++) {
        double x, y, z;
        cmf(s->wl[i], &x, &y, &z);
        X += x * refl[i];
        Y += y * refl[i];
        Z += z * refl[i];
        Xw += x;
        Yw += y;
        Zw += z;
    }
    double c[3], w[3];
    xyz_to_rgb(X / Yw, Y / Yw, Z / Yw, c);
    xyz_to_rgb(Xw / Yw, 1.0, Zw / Yw, w);
    for (int k = 0; k < 3; k++) {
        double v = c[k] / w[k];
        rgb[k] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
    }
}
