/*
 * cmd_condition_record.c: `danqing condition record RELIC --capture FILE --date D --examiner
 * NAME [--against RECORD|IMAGE] [--json]`: a whole condition record from a new photograph in
 * one step (condrec/record.c does the work; the server's POST /api/relics/{id}/condition/jobs
 * runs the same code). Writes the catalog and data directory of --data as user "cli" with
 * the admin role, like the other catalog commands. Progress goes to stderr on a terminal.
 * Exit 0 on success, 1 when the record could not be made (nothing was stored), 2 on a usage
 * error.
 */
#include "cli.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "condrec/condrec.h"
#include "image/image.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: danqing condition record RELIC (--capture FILE | --image ID) --date YYYY-MM-DD\n"
           "                                --examiner NAME [--against RECORD|IMAGE]\n"
           "                                [--overall SCALE] [--dimensions WxH] [--note TEXT]\n"
           "                                [--json]\n\n"
           "Makes a condition record of RELIC in one step: ingests the capture (FILE, or an\n"
           "image already catalogued with --image), registers it against the earlier record's\n"
           "capture and computes the change maps (the method of `danqing condition changes`),\n"
           "stores the colour-coded map as image <capture>.changes and the masks in the\n"
           "store under layers/<capture>/changes/, links both to the relic (roles \"condition\"\n"
           "and \"change-map\"), and creates an unpublished draft record whose observations (loss,\n"
           "flaking, fading regions with boxes, areas in px and cm2, severity by area) the\n"
           "conservator then reviews and publishes. A pair that cannot be registered stores\n"
           "nothing and exits 1.\n\n"
           "--against R      compare with record R (c<n>: its first image) or image R; default:\n"
           "                 the latest record dated on or before --date that has a capture\n"
           "                 (none: a baseline record, the capture only)\n"
           "--overall S      excellent|good|fair|poor|critical (default: the earlier record's)\n"
           "--dimensions WxH the object's size in cm (default: the relic's dimensions_cm)\n"
           "--json           print the record as the API answers it\n");
}

static void on_progress(void *ud, const char *stage, int percent)
{
    (void)ud;
    fprintf(stderr, "\r\033[K%3d%%  %s", percent, stage);
    if (percent >= 100)
        fputc('\n', stderr);
    fflush(stderr);
}

int dq_cmd_condition_record(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    dq_condrec_opts_t o = {0};
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--capture") == 0 && v)
            o.capture_path = argv[++i];
        else if (strcmp(a, "--image") == 0 && v)
            o.capture_image = argv[++i];
        else if (strcmp(a, "--date") == 0 && v)
            o.date = argv[++i];
        else if (strcmp(a, "--examiner") == 0 && v)
            o.examiner = argv[++i];
        else if (strcmp(a, "--against") == 0 && v)
            o.against = argv[++i];
        else if (strcmp(a, "--overall") == 0 && v)
            o.overall = argv[++i];
        else if (strcmp(a, "--note") == 0 && v)
            o.note = argv[++i];
        else if (strcmp(a, "--dimensions") == 0 && v) {
            char *e = NULL;
            o.width_cm = strtod(argv[++i], &e);
            o.height_cm = e && (*e == 'x' || *e == 'X') ? strtod(e + 1, &e) : -1;
            if (!e || *e || o.width_cm <= 0 || o.height_cm <= 0) {
                fprintf(stderr, "danqing condition record: --dimensions takes WxH in cm, e.g. "
                                "47.3x132.5\n");
                return 2;
            }
        } else if (a[0] == '-' || o.relic_id) {
            fprintf(stderr, "danqing condition record: unexpected argument '%s'\n", a);
            return 2;
        } else
            o.relic_id = a;
    }
    if (!o.relic_id || !o.date || !o.examiner || !o.capture_path == !o.capture_image) {
        usage(stderr);
        return 2;
    }
    dq_err_t err = {0};
    dq_actor_t who = {"cli", DQ_ROLE_ADMIN};
    dq_catalog_t *cat = NULL;
    dq_blob_t *store = NULL;
    dq_buf_t out = {0};
    int rc = 1;
    char *db = dq_xasprintf("%s/catalog.sqlite", cfg->data_dir);
    if (!cfg->catalog[0] && !dq_fs_exists(db)) {
        dq_err_set(&err, DQ_ENOTFOUND, 404, "no catalog at %s", db);
        goto out;
    }
    if (o.capture_path && !dq_fs_exists(o.capture_path)) {
        dq_err_set(&err, DQ_ENOTFOUND, 404, "no file %s", o.capture_path);
        goto out;
    }
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        !(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(store = dq_blob_open(cfg, &err)))
        goto out;
    o.data_dir = cfg->data_dir;
    o.store = store;
    o.who = &who;
    if (isatty(STDERR_FILENO))
        o.progress = on_progress;
    if (dq_condrec_build(cat, &o, &out, &err) < 0)
        goto out;
    if (json) {
        fwrite(out.data, 1, out.len, stdout);
        fputc('\n', stdout);
    } else {
        json_t *j = json_loadb(out.data, out.len, 0, NULL);
        json_t *ch = json_object_get(j, "changes");
        printf("record %s of %s (%s, draft, unpublished): capture %s",
               json_string_value(json_object_get(j, "id")), o.relic_id,
               json_string_value(json_object_get(j, "date")),
               json_string_value(json_array_get(json_object_get(j, "images"), 0)));
        if (ch) {
            json_t *cl = json_object_get(ch, "classes");
            printf("; against %s: loss %lld px, flaking %lld px, fading %lld px; %zu draft "
                   "observations; change map %s",
                   json_string_value(json_object_get(ch, "ref_image")),
                   (long long)json_integer_value(
                       json_object_get(json_object_get(cl, "loss"), "area_px")),
                   (long long)json_integer_value(
                       json_object_get(json_object_get(cl, "flaking"), "area_px")),
                   (long long)json_integer_value(
                       json_object_get(json_object_get(cl, "fading"), "area_px")),
                   json_array_size(json_object_get(j, "observations")),
                   json_string_value(json_object_get(ch, "map_image")));
        } else {
            printf("; baseline (no earlier capture to compare with)");
        }
        printf("\n");
        json_decref(j);
    }
    rc = 0;
out:
    if (rc) {
        if (o.progress)
            fputc('\n', stderr);
        fprintf(stderr, "danqing condition record: %s\n", err.msg);
    }
    dq_buf_free(&out);
    dq_catalog_close(cat);
    dq_blob_close(store);
    free(db);
    return rc;
}
