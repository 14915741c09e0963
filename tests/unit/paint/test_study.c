/*
 * test_study.c: `danqing generate --study N` (src/paint/study.c, issue 13). The study set is
 * deterministic for a seed, two seeds give disjoint ids, every school has N works, dynasty
 * labels agree with the school's creators, metadata.jsonl and manifest.json agree, and the
 * default collection is not touched by the new option (its test, test_paint.c, holds bytes).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dq_test.h"
#include "image/image.h"
#include "paint/paint.h"

#define N_PER 2

static char *study(uint64_t seed)
{
    const char *r = getenv("DQ_ROOT");
    char *dir = dq_test_tmpdir("dq_study");
    char *pig = dq_xasprintf("%s/data-src/pigments", r ? r : ".");
    dq_paint_opts_t o = {
        .out_dir = dir, .pigments_dir = pig, .seed = seed, .scale = 0.2, .quiet = 1, .study = N_PER};
    dq_err_t err = {0};
    int rc = dq_paint_collection(&o, &err);
    if (rc < 0)
        fprintf(stderr, "    study: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    free(pig);
    return dir;
}

static char *file_hashes(const char *dir)
{
    dq_buf_t b = {0};
    char *man = dq_xasprintf("%s/manifest.json", dir);
    json_t *m = json_load_file(man, 0, NULL);
    DQ_REQUIRE(m);
    size_t i;
    json_t *w;
    const char *names[] = {"metadata.jsonl", "manifest.json"};
    for (size_t k = 0; k < 2; k++) {
        char *p = dq_xasprintf("%s/%s", dir, names[k]), hex[65];
        dq_err_t err = {0};
        DQ_REQUIRE(dq_sha256_file(p, hex, NULL, &err) == 0);
        dq_buf_printf(&b, "%s %s\n", names[k], hex);
        free(p);
    }
    json_array_foreach(json_object_get(m, "works"), i, w)
    {
        const char *id = json_string_value(json_object_get(w, "id"));
        char *p = dq_xasprintf("%s/%s/main.tif", dir, id), hex[65];
        dq_err_t err = {0};
        DQ_REQUIRE(dq_sha256_file(p, hex, NULL, &err) == 0);
        dq_buf_printf(&b, "%s %s\n", id, hex);
        free(p);
    }
    json_decref(m);
    free(man);
    return dq_buf_steal(&b, NULL);
}

DQ_TEST(study_is_deterministic_and_seeds_are_disjoint)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_study", 64, 2, &err) == 0);
    char *a = study(7), *b = study(7), *c = study(8);
    char *ha = file_hashes(a), *hb = file_hashes(b), *hc = file_hashes(c);
    DQ_CHECK_STR(ha, hb);
    /* No id of seed 8 is an id of seed 7, and no main image is byte-equal. */
    for (char *line = strtok(hc, "\n"); line; line = strtok(NULL, "\n")) {
        char id[64];
        DQ_REQUIRE(sscanf(line, "%63s", id) == 1);
        if (strcmp(id, "metadata.jsonl") == 0 || strcmp(id, "manifest.json") == 0)
            continue;
        DQ_CHECK(strstr(ha, id) == NULL);
        DQ_CHECK(strstr(ha, line + strlen(id)) == NULL);
    }
    free(ha);
    free(hb);
    free(hc);
    dq_test_rm_rf(a);
    dq_test_rm_rf(b);
    dq_test_rm_rf(c);
    free(a);
    free(b);
    free(c);
}

/* The dynasties each school's creators lived in (works.c). */
static int dynasty_ok(const char *school, const char *dyn)
{
    static const char *const ok[][3] = {
        {"jinglin", "northern_song", NULL}, {"yunshan", "yuan", "ming"},
        {"yanyu", "southern_song", "yuan"}, {"jinbi", "ming", "qing"},
        {"xiyuan", "southern_song", "qing"}, {"kaishu", "ming", NULL},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(ok); i++)
        if (strcmp(ok[i][0], school) == 0)
            return strcmp(ok[i][1], dyn) == 0 || (ok[i][2] && strcmp(ok[i][2], dyn) == 0);
    return 0;
}

DQ_TEST(study_layout_and_labels)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_study", 64, 2, &err) == 0);
    char *dir = study(11);
    char *man = dq_xasprintf("%s/manifest.json", dir), *meta = dq_xasprintf("%s/metadata.jsonl", dir);
    json_t *m = json_load_file(man, 0, NULL);
    DQ_REQUIRE(m);
    json_t *works = json_object_get(m, "works");
    DQ_CHECK_INT((int)json_array_size(works), N_PER * dq_paint_n_schools);
    DQ_CHECK_INT((int)json_integer_value(json_object_get(m, "study")), N_PER);
    int per_school[16] = {0};
    size_t i;
    json_t *w;
    json_array_foreach(works, i, w)
    {
        const char *id = json_string_value(json_object_get(w, "id"));
        const char *school = json_string_value(json_object_get(w, "school"));
        const char *dyn = json_string_value(json_object_get(w, "dynasty"));
        DQ_REQUIRE(id && school && dyn);
        DQ_CHECK(strncmp(id, "S11-", 4) == 0);
        DQ_CHECK(dynasty_ok(school, dyn));
        for (int s = 0; s < dq_paint_n_schools; s++)
            if (strcmp(dq_paint_schools[s].id, school) == 0)
                per_school[s]++;
        int W = (int)json_integer_value(json_object_get(w, "width"));
        int H = (int)json_integer_value(json_object_get(w, "height"));
        DQ_CHECK(DQ_MAX(W, H) <= 240 && DQ_MIN(W, H) >= 48);
        char *p = dq_xasprintf("%s/%s/main.tif", dir, id);
        struct stat sb;
        DQ_CHECK(stat(p, &sb) == 0 && sb.st_size > 1000);
        free(p);
    }
    for (int s = 0; s < dq_paint_n_schools; s++)
        DQ_CHECK_INT(per_school[s], N_PER);
    /* metadata.jsonl: one record per work, with the same school and dynasty. */
    FILE *f = fopen(meta, "r");
    DQ_REQUIRE(f);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *r = json_loads(line, 0, NULL);
        DQ_REQUIRE(r);
        const char *acc = json_string_value(json_object_get(r, "accession"));
        int found = 0;
        json_array_foreach(works, i, w)
        {
            if (acc && strcmp(acc, json_string_value(json_object_get(w, "id"))) == 0) {
                found = 1;
                DQ_CHECK_STR(json_string_value(json_object_get(r, "school")),
                             json_string_value(json_object_get(w, "school")));
                DQ_CHECK_STR(json_string_value(json_object_get(r, "dynasty")),
                             json_string_value(json_object_get(w, "dynasty")));
            }
        }
        DQ_CHECK(found);
        json_decref(r);
        n++;
    }
    fclose(f);
    DQ_CHECK_INT(n, N_PER * dq_paint_n_schools);
    json_decref(m);
    free(man);
    free(meta);
    dq_test_rm_rf(dir);
    free(dir);
}

DQ_TEST(study_bad_count_is_refused)
{
    dq_paint_opts_t o = {.out_dir = "/nonexistent/x", .seed = 1, .scale = 1, .study = 20000};
    dq_err_t err = {0};
    DQ_CHECK(dq_paint_study(&o, &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EINVAL);
}
