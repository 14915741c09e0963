/*
 * cmd_generate.c: `danqing generate`. Paints the sample collection (src/paint/): procedural
 * Chinese paintings with their ground truth and catalog metadata, deterministic for a seed.
 * Parses its flags, starts libvips and hands over; it paints nothing itself.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "paint/paint.h"
#include "spectral/spectral.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing generate --out DIR [--seed N] [--scale S] [--only ID]\n"
            "                        [--pigments DIR] [--no-truth] [--quiet] [--study N]\n"
            "                        [--composition-only]\n\n"
            "Paints the sample collection: 16 works (ink and blue-green landscape handscrolls,\n"
            "hanging scrolls, album leaves, fans, calligraphy) in five labelled schools, each\n"
            "in DIR/<id>/main.tif with ground truth in DIR/<id>/truth/, plus DIR/metadata.jsonl\n"
            "(catalog import format) and DIR/manifest.json. Same seed and scale, same bytes.\n\n"
            "  --out DIR       output directory (created)\n"
            "  --seed N        random seed (default 1)\n"
            "  --scale S       multiplies linear sizes (default 1). Above 1 only the handscrolls\n"
            "                  grow: --scale 4 --only DQ-2026-0001 paints a ~0.8 gigapixel scroll\n"
            "  --only ID       paint one work, e.g. DQ-2026-0001\n"
            "  --pigments DIR  pigment spectra (hyppigments_selected_mean.csv); default\n"
            "                  data-src/pigments of the repository\n"
            "  --no-truth      master images and metadata only\n"
            "  --quiet         no progress lines\n"
            "  --study N       paint the labelled study set instead: N works per school, at\n"
            "                  most 1200 px long (times the scale when below 1), ids S<seed>-...\n"
            "                  (docs/generate.md \"The study set\")\n"
            "  --composition-only  write only DIR/<id>/composition.json (teaching overlays)\n"
            "                  into an existing collection, in seconds\n");
}

/* The repository's copy of the spectra (spectral.h says where it looks). Also used by
 * `danqing spectral` (cli.h). */
void dq_cli_default_pigments(char *out, size_t len)
{
    dq_spec_default_library(out, len);
}

int dq_cmd_generate(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    dq_paint_opts_t o = {.seed = 1, .scale = 1.0};
    char pig[PATH_MAX];
    dq_cli_default_pigments(pig, sizeof(pig));
    o.pigments_dir = pig;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--no-truth") == 0) {
            o.no_truth = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
            continue;
        }
        if (strcmp(a, "--composition-only") == 0) {
            o.composition_only = 1;
            continue;
        }
        if (!val) {
            fprintf(stderr, "danqing generate: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--out") == 0) {
            o.out_dir = val;
        } else if (strcmp(a, "--seed") == 0) {
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || !*val || *end || val[0] == '-') {
                fprintf(stderr, "danqing generate: bad --seed '%s'\n", val);
                return 2;
            }
            o.seed = s;
        } else if (strcmp(a, "--scale") == 0) {
            errno = 0;
            o.scale = strtod(val, &end);
            if (errno || !*val || *end || !(o.scale > 0.001 && o.scale <= 16.0)) {
                fprintf(stderr, "danqing generate: bad --scale '%s' (0.001..16)\n", val);
                return 2;
            }
        } else if (strcmp(a, "--study") == 0) {
            errno = 0;
            long n = strtol(val, &end, 10);
            if (errno || !*val || *end || n < 1 || n > 10000) {
                fprintf(stderr, "danqing generate: bad --study '%s' (1..10000)\n", val);
                return 2;
            }
            o.study = (int)n;
        } else if (strcmp(a, "--only") == 0) {
            o.only = val;
        } else if (strcmp(a, "--pigments") == 0) {
            o.pigments_dir = val;
        } else {
            fprintf(stderr, "danqing generate: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!o.out_dir) {
        fprintf(stderr, "danqing generate: --out DIR is required\n");
        usage(stderr);
        return 2;
    }
    dq_err_t err = {0};
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0) {
        fprintf(stderr, "danqing generate: %s\n", err.msg);
        return 1;
    }
    int64_t t0 = dq_now_us();
    if (dq_paint_collection(&o, &err) < 0) {
        fprintf(stderr, "danqing generate: %s\n", err.msg);
        return 1;
    }
    if (!o.quiet)
        dq_log(DQ_LOG_INFO, "generate", "collection in %s (seed %llu, scale %g) in %.1f s",
               o.out_dir, (unsigned long long)o.seed, o.scale, (double)(dq_now_us() - t0) / 1e6);
    return 0;
}
