/*
 * config.h: danqing's settings (part of core/). One dq_config_t per process, filled from
 * defaults, then DANQING_* environment variables, then flags; read-only once filled.
 */
#ifndef DQ_CONFIG_H
#define DQ_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

typedef struct {
    char data_dir[PATH_MAX];
    char listen[128];
    int threads;
    int cache_mb;
    int vips_cache_mb;
    int jpeg_quality;  /* stored pyramid tiles */
    int serve_quality; /* rendered responses */
    uint64_t max_pixels;
    uint64_t max_width, max_height, max_area;
    int log_level;
    char web_dir[PATH_MAX]; /* web front end root; "" = web/ or ../web beside the binary */
} dq_config_t;

void dq_config_defaults(dq_config_t *c);
/* Applies DANQING_DATA, DANQING_LISTEN, ... Returns -1 with err on a bad value. */
int dq_config_from_env(dq_config_t *c, dq_err_t *err);
/* Tries argv[*i] as a common flag. Returns 1 when consumed (advancing *i past a separate
 * value), 0 when it is not a common flag, -1 on a bad value. */
int dq_config_flag(dq_config_t *c, int argc, char **argv, int *i, dq_err_t *err);
void dq_config_help(FILE *f);

#endif
