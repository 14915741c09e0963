/*
 * test_scene.c: scene layer sets in the catalog (catalog/scene.c over store_sqlite_scene.c,
 * issue 14): derived layer ids, versions that count up per image, the document's checks
 * (422 with field errors), roles (curator to save), visibility (a restricted relic's image
 * and its layers are hidden from anonymous callers), the audit row, and a lost race (409).
 */
#include "dq_test.h"
#include "dq_pg_test.h"

#include "catalog/catalog.h"

#include <stdlib.h>
#include <string.h>

static const dq_actor_t anon = {"", DQ_ROLE_ANON};
static const dq_actor_t viewer = {"vera", DQ_ROLE_VIEWER};
static const dq_actor_t curator = {"cora", DQ_ROLE_CURATOR};

static dq_catalog_t *open_tmp(char **dir)
{
    dq_err_t err = {0};
    *dir = dq_test_tmpdir("scene");
    dq_catalog_t *c = dq_test_catalog_open(*dir, &err);
    DQ_REQUIRE(c != NULL);
    return c;
}

static void put_image(dq_catalog_t *c, const char *id, int w, int h)
{
    dq_image_rec_t r = {0};
    dq_err_t err = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    memset(r.master_sha256, 'a', 64);
    memset(r.pyramid_sha256, 'b', 64);
    snprintf(r.master_path, sizeof(r.master_path), "masters/aa/x");
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "pyramids/%s.tif", id);
    snprintf(r.master_format, sizeof(r.master_format), "png");
    snprintf(r.orig_filename, sizeof(r.orig_filename), "x.png");
    r.width = w, r.height = h, r.levels = 1, r.tile_size = 256, r.bands = 1;
    DQ_REQUIRE(dq_catalog_image_put(c, &r, DQ_CATALOG_REPLACE, "test", &err) == 0);
}

static void put_layers(dq_catalog_t *c, const char *image, int64_t v)
{
    char id[DQ_IMAGE_ID_MAX + 1];
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_scene_layer_id(image, v, "depth", id, sizeof(id), &err) == 0);
    put_image(c, id, 100, 50);
    DQ_REQUIRE(dq_catalog_scene_layer_id(image, v, "mist", id, sizeof(id), &err) == 0);
    put_image(c, id, 100, 50);
}

static char *doc_for(const char *image, int64_t v)
{
    return dq_xasprintf("{\"source\":\"estimate\",\"method\":\"test\",\"layers\":["
                        "{\"kind\":\"depth\",\"image_id\":\"%s.scene-v%lld-depth\"},"
                        "{\"kind\":\"mist\",\"image_id\":\"%s.scene-v%lld-mist\"}]}",
                        image, (long long)v, image, (long long)v);
}

DQ_TEST(layer_ids_round_trip)
{
    char id[DQ_IMAGE_ID_MAX + 1], base[DQ_IMAGE_ID_MAX + 1];
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_scene_layer_id("a.b", 12, "water", id, sizeof(id), &err) == 0);
    DQ_CHECK_STR(id, "a.b.scene-v12-water");
    DQ_CHECK(dq_catalog_scene_layer_base(id, base, sizeof(base)) == 1);
    DQ_CHECK_STR(base, "a.b");
    DQ_CHECK(dq_catalog_scene_layer_base("a.scene-v-depth", base, sizeof(base)) == 0);
    DQ_CHECK(dq_catalog_scene_layer_base("a.scene-v2-sky", base, sizeof(base)) == 0);
    DQ_CHECK(dq_catalog_scene_layer_base(".scene-v2-depth", base, sizeof(base)) == 0);
    DQ_CHECK(dq_catalog_scene_layer_base("plain", base, sizeof(base)) == 0);
    DQ_CHECK(dq_catalog_scene_layer_id("a", 1, "sky", id, sizeof(id), &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    char longid[DQ_IMAGE_ID_MAX + 1];
    memset(longid, 'x', DQ_IMAGE_ID_MAX);
    longid[DQ_IMAGE_ID_MAX] = '\0';
    DQ_CHECK(dq_catalog_scene_layer_id(longid, 1, "depth", id, sizeof(id), &err) < 0);
}

DQ_TEST(versions_count_up_and_read_back)
{
    char *dir;
    dq_catalog_t *c = open_tmp(&dir);
    dq_err_t err = {0};
    put_image(c, "img1", 200, 100);
    int64_t v = 0;
    DQ_REQUIRE(dq_catalog_scene_next_version(c, "img1", &curator, &v, &err) == 0);
    DQ_CHECK_INT(v, 1);
    dq_buf_t out = {0};
    DQ_CHECK(dq_catalog_scene_get(c, "img1", 0, &curator, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    for (int64_t k = 1; k <= 2; k++) {
        put_layers(c, "img1", k);
        char *doc = doc_for("img1", k);
        dq_buf_t o = {0};
        DQ_REQUIRE(
            dq_catalog_scene_save(c, "img1", k, doc, strlen(doc), &curator, &o, NULL, &err) == 0);
        DQ_CHECK(strstr(o.data, "\"width\":100") != NULL);
        DQ_CHECK(strstr(o.data, "\"author\":\"cora\"") != NULL);
        dq_buf_free(&o);
        free(doc);
    }
    DQ_REQUIRE(dq_catalog_scene_next_version(c, "img1", &curator, &v, &err) == 0);
    DQ_CHECK_INT(v, 3);
    DQ_REQUIRE(dq_catalog_scene_get(c, "img1", 0, &anon, &out, &err) == 0);
    DQ_CHECK(strstr(out.data, "\"version\":2") != NULL);
    dq_buf_free(&out);
    DQ_REQUIRE(dq_catalog_scene_get(c, "img1", 1, &anon, &out, &err) == 0);
    DQ_CHECK(strstr(out.data, "img1.scene-v1-depth") != NULL);
    dq_buf_free(&out);
    DQ_REQUIRE(dq_catalog_scene_list(c, "img1", &anon, &out, &err) == 0);
    const char *v2 = strstr(out.data, "\"version\":2"), *v1 = strstr(out.data, "\"version\":1");
    DQ_CHECK(v2 && v1 && v2 < v1);
    dq_buf_free(&out);
    /* the same version again: someone else saved it first */
    char *doc = doc_for("img1", 2);
    DQ_CHECK(dq_catalog_scene_save(c, "img1", 2, doc, strlen(doc), &curator, NULL, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 409);
    free(doc);
    dq_buf_t audit = {0};
    DQ_REQUIRE(dq_catalog_audit_list(c, "img1/scene/v2", 10, NULL, &audit, &err) == 0);
    DQ_CHECK(strstr(audit.data, "scene.save") != NULL);
    dq_buf_free(&audit);
    dq_catalog_close(c);
    dq_test_rm_rf(dir);
    free(dir);
}

DQ_TEST(bad_documents_and_roles_change_nothing)
{
    char *dir;
    dq_catalog_t *c = open_tmp(&dir);
    dq_err_t err = {0};
    put_image(c, "img2", 200, 100);
    put_layers(c, "img2", 1);
    int64_t v = 0;
    DQ_CHECK(dq_catalog_scene_next_version(c, "img2", &viewer, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    DQ_CHECK(dq_catalog_scene_next_version(c, "img2", &anon, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 401);
    DQ_CHECK(dq_catalog_scene_next_version(c, "nope", &curator, &v, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    char *doc = doc_for("img2", 1);
    DQ_CHECK(dq_catalog_scene_save(c, "img2", 1, doc, strlen(doc), &viewer, NULL, NULL, &err) < 0);
    DQ_CHECK_INT(err.http_status, 403);
    free(doc);
    const char *bad[] = {
        "[]",
        "{\"source\":\"guess\",\"layers\":[{\"kind\":\"depth\",\"image_id\":\"img2.scene-v1-"
        "depth\"}]}",
        "{\"source\":\"truth\",\"layers\":[{\"kind\":\"mist\",\"image_id\":\"img2.scene-v1-mist\"}]"
        "}",
        "{\"source\":\"truth\",\"layers\":[{\"kind\":\"depth\",\"image_id\":\"img2\"}]}",
        "{\"source\":\"truth\",\"layers\":[{\"kind\":\"depth\",\"image_id\":\"img2.scene-v1-"
        "depth\"},"
        "{\"kind\":\"depth\",\"image_id\":\"img2.scene-v1-depth\"}]}",
        "{\"source\":\"truth\",\"layers\":[{\"kind\":\"water\",\"image_id\":\"img2.scene-v1-"
        "water\"},"
        "{\"kind\":\"depth\",\"image_id\":\"img2.scene-v1-depth\"}]}",
        "{\"source\":\"truth\",\"layers\":[]}",
    };
    const int status[] = {400, 422, 422, 422, 422, 422, 422};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_buf_t fe = {0};
        DQ_CHECK(dq_catalog_scene_save(c, "img2", 1, bad[i], strlen(bad[i]), &curator, NULL, &fe,
                                       &err) < 0);
        DQ_CHECK_INT(err.http_status, status[i]);
        if (status[i] == 422)
            DQ_CHECK(fe.len > 2);
        dq_buf_free(&fe);
    }
    dq_buf_t out = {0};
    DQ_CHECK(dq_catalog_scene_get(c, "img2", 0, &curator, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_buf_free(&out);
    dq_catalog_close(c);
    dq_test_rm_rf(dir);
    free(dir);
}

DQ_TEST(layers_are_as_visible_as_their_image)
{
    char *dir;
    dq_catalog_t *c = open_tmp(&dir);
    dq_err_t err = {0};
    put_image(c, "secret", 200, 100);
    put_layers(c, "secret", 1);
    const char *json = "{\"accession\":\"S-1\",\"title\":{\"zh\":\"秘\"},\"restricted\":true,"
                       "\"images\":[{\"image_id\":\"secret\",\"role\":\"main\"}]}";
    dq_buf_t out = {0};
    DQ_REQUIRE(dq_catalog_relic_create(c, json, strlen(json), &curator, &out, NULL, &err) == 0);
    dq_buf_free(&out);
    char *doc = doc_for("secret", 1);
    DQ_REQUIRE(
        dq_catalog_scene_save(c, "secret", 1, doc, strlen(doc), &curator, NULL, NULL, &err) == 0);
    free(doc);
    DQ_CHECK(dq_catalog_image_visible(c, "secret.scene-v1-depth", &anon) == 0);
    DQ_CHECK(dq_catalog_image_visible(c, "secret.scene-v1-depth", &viewer) == 1);
    DQ_CHECK(dq_catalog_scene_get(c, "secret", 0, &anon, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_buf_free(&out);
    DQ_CHECK(dq_catalog_scene_get(c, "secret", 0, &viewer, &out, &err) == 0);
    dq_buf_free(&out);
    dq_catalog_close(c);
    dq_test_rm_rf(dir);
    free(dir);
}
