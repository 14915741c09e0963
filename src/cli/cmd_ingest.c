/*
 * cmd_ingest.c: `danqing ingest FILE --id IMAGE_ID [--replace] [--quality N] [--max-pixels N]`.
 * Parses the arguments, starts libvips, opens the catalog and hands the work to
 * dq_image_ingest (image/ingest.c). Draws a progress bar on stderr only when stderr is a
 * terminal; prints one summary line on stdout when done. Errors: "danqing ingest: <message>"
 * on stderr, exit 1 (2 for usage errors).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing ingest FILE --id IMAGE_ID [--replace] [--quality N] "
            "[--max-pixels N]\n\n"
            "Adds a master image (JPEG, TIFF/BigTIFF, PNG, WebP or JPEG 2000, recognised by its\n"
            "content): keeps it byte for byte in DATA/masters/, writes a tiled pyramidal JPEG\n"
            "TIFF in sRGB to DATA/pyramids/IMAGE_ID.tif and records both in the catalog.\n\n"
            "  --id IMAGE_ID     [A-Za-z0-9._-]{1,128}, not starting with '.'\n"
            "  --replace         replace an existing image of that id\n"
            "  --quality N       JPEG quality of the stored tiles (default: config, 90)\n"
            "  --max-pixels N    refuse masters of more pixels (default: config, 4000000000)\n\n");
    dq_config_help(f);
}

/* Draws "\r[#####.....]  42%  ETA 0:37" on stderr; called from a vips thread. */
static void draw_progress(void *ud, int percent, int eta_s)
{
    (void)ud;
    char bar[41];
    int full = percent * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < full ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%%  ETA %d:%02d ", bar, percent, eta_s / 60, eta_s % 60);
    fflush(stderr);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    return dq_str_to_u64(s, strlen(s), v) == 0 && *v >= lo && *v <= hi ? 0 : -1;
}

int dq_cmd_ingest(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *file = NULL, *id = NULL;
    int replace = 0, quality = cfg->jpeg_quality, rc = 1;
    uint64_t max_pixels = cfg->max_pixels, v = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        /* --opt VALUE and --opt=VALUE */
        const char *opts[] = {"--id", "--quality", "--max-pixels"};
        int which = -1;
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(opts[k]);
            if (strncmp(a, opts[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                which = k;
                if (a[n] == '=')
                    val = a + n + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else {
                    fprintf(stderr, "danqing ingest: %s needs a value\n", opts[k]);
                    return 2;
                }
            }
        }
        if (which == 0) {
            id = val;
        } else if (which == 1) {
            if (parse_u64(val, 1, 100, &v) < 0) {
                fprintf(stderr, "danqing ingest: --quality '%s' is not in 1..100\n", val);
                return 2;
            }
            quality = (int)v;
        } else if (which == 2) {
            if (parse_u64(val, 1, 1ULL << 40, &v) < 0) {
                fprintf(stderr, "danqing ingest: --max-pixels '%s' is not a positive number\n",
                        val);
                return 2;
            }
            max_pixels = v;
        } else if (strcmp(a, "--replace") == 0) {
            replace = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "danqing ingest: unknown option '%s' (see danqing ingest --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "danqing ingest: one FILE at a time ('%s')\n", a);
            return 2;
        }
    }
    if (!file || !id) {
        fprintf(stderr, "danqing ingest: %s\n", !file ? "no FILE given" : "--id is required");
        usage(stderr);
        return 2;
    }

    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    dq_blob_t *store = NULL;
    int vips_up = 0;
    int tty = isatty(STDERR_FILENO);
    int64_t t0 = dq_now_us();
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0)
        goto out;
    vips_up = 1;
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) || !(store = dq_blob_open(cfg, &err)))
        goto out;
    dq_ingest_opts_t o = {
        .store = store,
        .src_path = file,
        .id = id,
        .data_dir = cfg->data_dir,
        .who = "cli",
        .replace = replace,
        .quality = quality,
        .max_pixels = max_pixels,
        .progress = tty ? draw_progress : NULL,
    };
    dq_image_rec_t rec;
    int r = dq_image_ingest(cat, &o, &rec, &err);
    if (tty)
        fprintf(stderr, "\r%60s\r", "");
    if (r < 0)
        goto out;
    printf("ingested %s: %dx%d, %d band%s, %d levels, pyramid %.1f MB, master %.1f MB%s, %.2f s\n",
           rec.id, rec.width, rec.height, rec.bands, rec.bands == 1 ? "" : "s", rec.levels,
           (double)rec.pyramid_size / 1e6, (double)rec.master_size / 1e6,
           rec.icc_converted ? ", ICC converted to sRGB" : "", (double)(dq_now_us() - t0) / 1e6);
    /* issue 13: a replaced pyramid's style embedding is recomputed at once (cmd_style.c). */
    if (dq_cli_style_refresh(cat, store, rec.id, rec.pyramid_sha256, rec.pyramid_path,
                             &err) < 0)
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing ingest: %s\n", err.msg);
    dq_catalog_close(cat);
    dq_blob_close(store);
    if (vips_up)
        dq_image_shutdown();
    return rc;
}
