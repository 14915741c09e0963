/*
 * canvas_fixture.h: relics with images of known sizes (image records only: the catalog keeps
 * no pixels), for the tests of what is drawn on canvases: annotations, tours, lessons.
 * Include after relic_fixture.h.
 */
#ifndef DQ_CANVAS_FIXTURE_H
#define DQ_CANVAS_FIXTURE_H

/* An image record of w x h (no files: the catalog only records them). */
__attribute__((unused)) static void fx_image(dq_catalog_t *c, const char *id, int w, int h)
{
    dq_image_rec_t r = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    memset(r.master_sha256, 'a', 64);
    memset(r.pyramid_sha256, 'b', 64);
    snprintf(r.master_path, sizeof(r.master_path), "masters/aa/%s", r.master_sha256);
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "pyramids/%s.tif", id);
    snprintf(r.master_format, sizeof(r.master_format), "jpeg");
    snprintf(r.orig_filename, sizeof(r.orig_filename), "%s.jpg", id);
    r.width = w;
    r.height = h;
    r.levels = 1;
    r.tile_size = 256;
    r.bands = 3;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_image_put(c, &r, 0, "test", &err) == 0);
}

/* A relic with two canvases: 4000x1000 and 800x600. */
__attribute__((unused)) static char *fx_scroll(dq_catalog_t *c, int restricted)
{
    static int n;
    char img1[32], img2[32];
    snprintf(img1, sizeof(img1), "scroll-%d-a", n);
    snprintf(img2, sizeof(img2), "scroll-%d-b", n);
    fx_image(c, img1, 4000, 1000);
    fx_image(c, img2, 800, 600);
    char *json = dq_xasprintf(
        "{\"accession\":\"A-%d\",\"title\":{\"zh\":\"江行图\",\"en\":\"River journey\"},"
        "\"restricted\":%s,\"images\":[{\"image_id\":\"%s\",\"role\":\"main\"},"
        "{\"image_id\":\"%s\",\"role\":\"detail\"}]}",
        n++, restricted ? "true" : "false", img1, img2);
    char *id = fx_create(c, json);
    free(json);
    return id;
}

#endif
