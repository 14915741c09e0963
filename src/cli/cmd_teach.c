/*
 * cmd_teach.c: `danqing teach` (issue 17), the command-line side of teaching material:
 *   teach glossary FILE   imports a glossary file (a JSON array of entries, docs/api.md
 *                         "Glossary"; the starter glossary is data-src/glossary/starter.json)
 *   teach overlays DIR    imports the composition overlays `danqing generate` wrote
 *                         (DIR/<id>/composition.json) as annotations on the works whose
 *                         accession is <id>
 * Both are idempotent: a second run adds nothing. The catalog does the validation; this file
 * reads files, finds works and prints what happened.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: danqing teach glossary FILE\n"
               "       danqing teach overlays DIR\n\n"
               "glossary: adds or updates glossary entries from FILE, a JSON array of entries\n"
               "(docs/api.md \"Glossary\"); all or nothing; unchanged entries are left alone.\n"
               "The sample collection's starter glossary is data-src/glossary/starter.json.\n\n"
               "overlays: imports DIR/<id>/composition.json files (written by danqing generate:\n"
               "the three distances, main masses, motifs, seals and inscriptions) as\n"
               "annotations on canvas 1 of the work whose accession is <id>, skipping those\n"
               "already there and works whose image has another size (generated at another\n"
               "--scale). Annotations are made by 'cli' and audited like any other.\n");
}

static int glossary(dq_catalog_t *cat, const char *file, dq_err_t *err)
{
    dq_buf_t b = {0}, fe = {0};
    const dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    int created = 0, updated = 0, rc = -1;
    if (dq_fs_read_file(file, 16u << 20, &b, err) < 0)
        goto out;
    if (dq_catalog_gloss_import(cat, b.data ? b.data : "", b.len, &who, &created, &updated, &fe,
                                err) < 0) {
        if (fe.len)
            fprintf(stderr, "danqing teach glossary: %s\n", fe.data);
        goto out;
    }
    printf("glossary: %d created, %d updated\n", created, updated);
    rc = 0;
out:
    dq_buf_free(&b);
    dq_buf_free(&fe);
    return rc;
}

/* 1 when the relic already has an annotation with this region and zh text. */
static int has_anno(const json_t *existing, const json_t *xywh, const char *zh)
{
    size_t i;
    json_t *a;
    json_array_foreach(existing, i, a)
    {
        if (!json_equal(json_object_get(a, "xywh"), xywh))
            continue;
        size_t k;
        json_t *b;
        json_array_foreach(json_object_get(a, "bodies"), k, b)
        {
            const char *v = json_string_value(json_object_get(b, "value"));
            if (v && zh && strcmp(v, zh) == 0)
                return 1;
        }
    }
    return 0;
}

/* Imports one composition file; adds to *added and *skipped. Returns 0, or -1 with err for a
 * failure that should stop the import (a bad file is reported and skipped). */
static int overlay_file(dq_catalog_t *cat, const char *path, int *added, int *skipped,
                        dq_err_t *err)
{
    const dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL), *existing = NULL,
           *canv = NULL;
    dq_buf_t b = {0};
    char relic[64];
    int rc = 0;
    const char *work = json_string_value(json_object_get(doc, "work"));
    dq_err_t e = {0};
    if (!work) {
        fprintf(stderr, "danqing teach overlays: %s: not a composition file\n", path);
        goto out;
    }
    if (dq_catalog_relic_by_accession(cat, work, &who, relic, &e) < 0) {
        fprintf(stderr, "danqing teach overlays: %s: %s (import its metadata first)\n", work,
                e.msg);
        goto out;
    }
    if (dq_catalog_relic_canvases(cat, relic, &who, &b, &e) < 0) {
        fprintf(stderr, "danqing teach overlays: %s: %s\n", work, e.msg);
        goto out;
    }
    canv = json_loadb(b.data, b.len, 0, NULL);
    const json_t *c1 = json_array_get(canv, 0);
    if (!c1 || json_integer_value(json_object_get(c1, "width")) !=
                   json_integer_value(json_object_get(doc, "width")) ||
        json_integer_value(json_object_get(c1, "height")) !=
            json_integer_value(json_object_get(doc, "height"))) {
        fprintf(stderr, "danqing teach overlays: %s: its image is not the size the overlays were "
                        "computed for; skipped\n",
                work);
        goto out;
    }
    dq_buf_reset(&b);
    if (dq_catalog_anno_list(cat, relic, 1, 0, 1000, &who, &b, NULL, err) < 0) {
        rc = -1;
        goto out;
    }
    existing = json_loadb(b.data, b.len, 0, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "regions"), i, r)
    {
        const json_t *xywh = json_object_get(r, "xywh"), *text = json_object_get(r, "text");
        const char *zh = json_string_value(json_object_get(text, "zh"));
        const char *en = json_string_value(json_object_get(text, "en"));
        if (has_anno(existing, xywh, zh)) {
            (*skipped)++;
            continue;
        }
        json_t *a = json_pack("{s:i, s:O, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "canvas", 1, "xywh",
                              xywh, "motivation", "describing", "bodies", "value", zh ? zh : "",
                              "language", "zh", "value", en ? en : "", "language", "en");
        char *js = a ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        dq_buf_t fe = {0};
        if (!js || dq_catalog_anno_create(cat, relic, js, strlen(js), &who, NULL, &fe, &e) < 0) {
            fprintf(stderr, "danqing teach overlays: %s region %d: %s %s\n", work, (int)i,
                    js ? e.msg : "bad region", fe.data ? fe.data : "");
            if (e.http_status >= 500) {
                *err = e;
                rc = -1;
            }
        } else {
            (*added)++;
        }
        dq_buf_free(&fe);
        free(js);
        if (rc < 0)
            break;
    }
out:
    json_decref(existing);
    json_decref(canv);
    json_decref(doc);
    dq_buf_free(&b);
    return rc;
}

static int overlays(dq_catalog_t *cat, const char *dir, dq_err_t *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort), added = 0, skipped = 0, files = 0, rc = 0;
    if (n < 0)
        return dq_err_set(err, DQ_EIO, 0, "cannot read the directory %s", dir);
    for (int i = 0; i < n; i++) {
        char *path = dq_xasprintf("%s/%s/composition.json", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && rc == 0 && dq_fs_exists(path)) {
            files++;
            rc = overlay_file(cat, path, &added, &skipped, err);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    if (rc == 0)
        printf("overlays: %d files, %d annotations added, %d already there\n", files, added,
               skipped);
    return rc;
}

int dq_cmd_teach(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "glossary") && strcmp(argv[1], "overlays"))) {
        usage(stderr);
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = dq_catalog_open(dq_config_catalog(cfg), &err);
    int rc = 1;
    if (cat)
        rc = (strcmp(argv[1], "glossary") == 0 ? glossary(cat, argv[2], &err)
                                               : overlays(cat, argv[2], &err)) < 0;
    if (rc && err.msg[0])
        fprintf(stderr, "danqing teach %s: %s\n", argv[1], err.msg);
    dq_catalog_close(cat);
    return rc;
}
