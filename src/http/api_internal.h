/*
 * api_internal.h: what the JSON API's files (api.c, api_auth.c, api_relics.c,
 * presentation.c) share and nobody else sees: the per-request context, the error writer of
 * docs/api.md "Errors" and argument/body helpers. The API's handlers all have the shape
 * `void fn(dq_api_t *c)`: they fill c->resp and never fail otherwise.
 */
#ifndef DQ_HTTP_API_INTERNAL_H
#define DQ_HTTP_API_INTERNAL_H

#include "http.h"
#include "iiif/iiif.h"
#include "image/image.h"

struct json_t; /* jansson's; only the .c files include jansson.h */

#define DQ_API_MAX_SEGS 6
/* JSON bodies above this are refused (413) before parsing: a relic document is kilobytes.
 * The API's route table gives each route its own limit up to this one, and mhd.c refuses a
 * larger body before reading it. */
#define DQ_API_MAX_BODY (1u << 20)
/* How long a browser session lasts (seconds): a working day, then a new login. */
#define DQ_API_SESSION_TTL (12 * 3600)

/* One API request. Lives on dq_http_api's stack for the duration of the handler. */
typedef struct {
    dq_server_t *srv;           /* borrowed */
    const dq_http_req_t *req;   /* borrowed */
    dq_http_resp_t *resp;       /* borrowed; the handler fills it */
    dq_actor_t actor;           /* who is asking (anonymous: role DQ_ROLE_ANON, user "") */
    int via_cookie;             /* 1 when the session cookie authenticated the request */
    char *seg[DQ_API_MAX_SEGS]; /* the path after /api/, split at '/', each percent-decoded;
                                  owned, freed by dq_http_api */
    int n_seg;
} dq_api_t;

/* Sets resp to the JSON error of docs/api.md with status and message; fields_json, when
 * non-NULL and non-empty, is a JSON object text that becomes "fields" (422 only). */
void dq_api_error(dq_http_resp_t *resp, int status, const char *msg, const char *fields_json);
/* The same from a dq_err_t (its http_status, else the default of its code). */
void dq_api_error_err(dq_http_resp_t *resp, const dq_err_t *err);
/* Sets a 2xx JSON answer (status, content type, private no-cache headers) and moves body in
 * (body is reset). */
void dq_api_json(dq_http_resp_t *resp, int status, dq_buf_t *body);
/* A query argument, '+' read as space and percent-decoded: a new string (free with free()),
 * NULL when absent, or NULL with *bad = 1 and a 400 answered on resp when malformed. */
char *dq_api_arg(dq_api_t *c, const char *name, int *bad);
/* Parses the request body as JSON: an object (want_array 0) or an array (1). Returns a new
 * reference (json_decref), or NULL with a 400/413 answered on resp. */
struct json_t *dq_api_body(dq_api_t *c, int want_array);
/* The base URL the client used (dq_http_base_url) as a new string. */
char *dq_api_base_url(dq_api_t *c);
/* The base URL and the labelled vocabularies (dynasties, object types, subjects) that the
 * Presentation and Linked Art builders share; owned strings. A vocabulary that fails to load is
 * left empty: vocabularies only label keys, so the keys then stand as labels. */
typedef struct {
    char *base;
    dq_buf_t dyn, type, subj;
} dq_api_vocabs_t;
void dq_api_vocabs_load(dq_api_t *c, dq_api_vocabs_t *v);
void dq_api_vocabs_free(dq_api_vocabs_t *v);

/* ---- multispectral requests, parsed (spectral_layer.c: pure, fuzzed by fuzz_spectral) ---- */
enum {
    DQ_SPECTRAL_GREY,   /* one stored band, 1 channel */
    DQ_SPECTRAL_COLOR,  /* one stored band, 3 channels */
    DQ_SPECTRAL_RGB,    /* three bands -> R, G, B */
    DQ_SPECTRAL_RATIO,  /* band A / band B */
    DQ_SPECTRAL_STORED, /* a derived layer's 8-bit file */
    DQ_SPECTRAL_LABELS  /* the pigment map's labels */
};
/* How to render one layer: mode and up to three names (band names; for STORED and LABELS the
 * layer's file name), each without '/'. */
typedef struct {
    int mode, n;
    char name[3][128];
} dq_spectral_recipe_t;
/* Resolves a layer name from a request against the capture's record doc ({"bands": [...]})
 * and its derived layers (array of {"name", "doc": {"file"}}; may be NULL): a band name, the
 * presets visible, irfc, uvf, "rgb-A-B-C", "ratio-A-B", or a stored layer (docs/spectral.md).
 * Returns 0 and fills r, or -1 when the capture has no such layer (404). Borrowed arguments. */
int dq_spectral_recipe(struct json_t *doc, struct json_t *layers, const char *layer,
                       dq_spectral_recipe_t *r);
/* Splits "{capture}/{layer}[/info.json | /region/size/rotation/quality.format]" (p[0..len),
 * after /iiif/3/spectral/) into cid and layer (DQ_IIIF_ID_MAX + 1 bytes each), the kind
 * (DQ_IIIF_PATH_*) and the image parameters (pointing into p). Errors: 404 without a layer,
 * 400 (or the IIIF splitter's status) for a bad identifier, in err->http_status. */
int dq_spectral_split_path(const char *p, size_t len, char *cid, char *layer, int *kind,
                           const char **params, size_t *params_len, dq_err_t *err);
/* The spectrum endpoint's x and y: decimal digits inside the w x h capture. 0, or -1. */
int dq_spectral_parse_point(const char *xs, const char *ys, int w, int h, int *x, int *y);

/* ---- the Image API's geometry (iiif_image.c), shared with downloads (api_download.c) ---- */
/* Fills img from a pyramid's stored geometry and srv's served limits (max width, height,
 * area), exactly what the Image API plans against. */
void dq_http_iiif_geometry(const dq_server_t *srv, const dq_pyramid_info_t *pi,
                           dq_iiif_image_t *img);

/* ---- handlers (the table in api.c points at these) ---- */
void dq_api_login(dq_api_t *c);
void dq_api_logout(dq_api_t *c);
void dq_api_me(dq_api_t *c);
void dq_api_users_list(dq_api_t *c);
void dq_api_users_add(dq_api_t *c);
void dq_api_users_patch(dq_api_t *c);
void dq_api_users_delete(dq_api_t *c);
void dq_api_relic_search(dq_api_t *c);
void dq_api_relic_create(dq_api_t *c);
void dq_api_relic_get(dq_api_t *c);
void dq_api_relic_replace(dq_api_t *c);
void dq_api_relic_patch(dq_api_t *c);
void dq_api_relic_delete(dq_api_t *c);
void dq_api_relic_images(dq_api_t *c);
/* GET relics/{id}/download?image=&region=&width=&format= (api_download.c, issue 16). */
void dq_api_relic_download(dq_api_t *c);

/* ======== annotations and tours (api_annotations.c, api_tours.c) ======== */
/* W3C Web Annotation Protocol under relics/{id}/annotations[/{n}]; tours; content state. */
void dq_api_anno_container(dq_api_t *c);
void dq_api_anno_create(dq_api_t *c);
void dq_api_anno_get(dq_api_t *c);
void dq_api_anno_replace(dq_api_t *c);
void dq_api_anno_delete(dq_api_t *c);
void dq_api_tours_list(dq_api_t *c);
void dq_api_tour_create(dq_api_t *c);
void dq_api_tour_get(dq_api_t *c);
void dq_api_tour_replace(dq_api_t *c);
void dq_api_tour_delete(dq_api_t *c);
void dq_api_content_state(dq_api_t *c);
/* For presentation.c: the IIIF AnnotationPage of canvas `page` of relic (answers c->resp),
 * and the manifest rewrite that adds each Canvas's `annotations` reference and the Content
 * Search 2.0 service (manifest is replaced in place; left alone if it is not a JSON object). */
void dq_api_anno_iiif_page(dq_api_t *c, const char *relic, const char *page);
void dq_api_anno_manifest_decorate(dq_api_t *c, const char *relic, dq_buf_t *manifest);
/* Shared by the annotation and tour handlers: If-Match for "v{n}" tags (0 with *ver, -1 for
 * "*"; or -1 with 428/400/412 answered) and the ETag "v{n}" of a stored version. */
int dq_api_if_match_version(dq_api_t *c, int64_t *ver);
void dq_api_set_etag(dq_http_resp_t *resp, int64_t version);
/* Shared by the tour, lesson and glossary handlers (api_tours.c): a catalog error as the
 * answer, with the field errors for a 422; and 0 when the body is a JSON object within the
 * route's limit, else -1 with 400/413 answered. */
void dq_api_write_error(dq_api_t *c, const dq_err_t *err, const dq_buf_t *fields);
int dq_api_check_body(dq_api_t *c);
/* Shared by the annotation, tour, lesson and glossary handlers (api_tours.c): answers status
 * (200, 201) with the JSON document doc (taken: doc is left empty), its ETag "v{n}" from the
 * document's "version" field and, for 201, Location (copied); and 204 for a deleted document
 * (no ETag, not stored by caches). */
void dq_api_answer_versioned(dq_api_t *c, int status, dq_buf_t *doc, const char *location);
void dq_api_answer_deleted(dq_api_t *c);
/* The IIIF Content State 1.0 (§2.3 encoded) of a region {relic_id?, canvas, xywh} on this
 * server (base: dq_api_base_url); relic is used when ref has no relic_id. A new JSON string,
 * or JSON null when ref names no work or no region. */
struct json_t *dq_api_region_state(const char *base, const struct json_t *ref, const char *relic);
/* ======== end annotations and tours ======== */

/* ======== lessons and glossary (api_lessons.c; issue 17) ======== */
void dq_api_lessons_list(dq_api_t *c);
void dq_api_lesson_create(dq_api_t *c);
void dq_api_lesson_get(dq_api_t *c);
void dq_api_lesson_replace(dq_api_t *c);
void dq_api_lesson_delete(dq_api_t *c);
void dq_api_lesson_check(dq_api_t *c);
void dq_api_glossary_search(dq_api_t *c);
void dq_api_glossary_create(dq_api_t *c);
void dq_api_glossary_get(dq_api_t *c);
void dq_api_glossary_replace(dq_api_t *c);
void dq_api_glossary_delete(dq_api_t *c);
/* classroom sessions (api_classes.c) */
void dq_api_class_open(dq_api_t *c);
void dq_api_class_dashboard(dq_api_t *c);
void dq_api_class_join(dq_api_t *c);
void dq_api_class_state(dq_api_t *c);
void dq_api_class_progress(dq_api_t *c);
void dq_api_class_answer(dq_api_t *c);
void dq_api_class_events(dq_api_t *c);
/* ======== end lessons and glossary ======== */
/* ======== network (linkedart.c) ======== */
/* Answers the Linked Art HumanMadeObject of relic id (content negotiation on
 * GET /api/relics/{id}, and /linked-art/object/{id}). */
void dq_api_relic_linkedart(dq_api_t *c, const char *id);
/* GET /api/relics/{id}/cite?format=csl|bibtex|ris. */
void dq_api_relic_cite(dq_api_t *c);
/* ======== end network ======== */

/* ======== similar works (api_style.c; issue 13) ======== */
void dq_api_style_similar(dq_api_t *c);
void dq_api_style_search(dq_api_t *c);
void dq_api_style_palette(dq_api_t *c);
void dq_api_style_map(dq_api_t *c);

/* ---- spectral captures (api_spectral.c; issue 11) ---- */
void dq_api_relic_captures(dq_api_t *c);
void dq_api_capture_get(dq_api_t *c);
void dq_api_capture_spectrum(dq_api_t *c);
/* Turns the first canvas's painting body of manifest (JSON, replaced in place) into a Choice of
 * the image and the relic's capture layers; leaves it alone when the relic has none. */
void dq_api_spectral_manifest_decorate(dq_api_t *c, const char *relic, dq_buf_t *manifest);
/* The files of relic's captures in the server's store, gathered before the relic is deleted
 * (the catalog drops the capture rows with it): a new JSON array (json_decref) of
 * {id, doc, layers}, or NULL when there are none or they cannot be read. */
struct json_t *dq_api_spectral_relic_files(dq_server_t *srv, const char *relic);
/* Removes the files gathered by dq_api_spectral_relic_files from the store (NULL-safe; logs
 * failures: the relic is already gone). */
void dq_api_spectral_remove_files(dq_server_t *srv, struct json_t *files);
/* ======== scene layers (api_scene.c; issue 14) ======== */
/* GET images/{id}/scene, GET images/{id}/scene/{latest|N|vN}, POST images/{id}/scene. */
void dq_api_scene_list(dq_api_t *c);
void dq_api_scene_get(dq_api_t *c);
void dq_api_scene_save(dq_api_t *c);
/* For presentation.c: adds each canvas's newest scene layer set as a hidden AnnotationPage of
 * supplementing annotations (left alone when the manifest is not a JSON object). */
void dq_api_scene_manifest_decorate(dq_api_t *c, dq_buf_t *manifest);
/* iiif_auth.c (issue 16): every ImageService3 of a restricted image in the manifest gets its
 * IIIF Auth 2.0 probe service, and the Auth context goes first in @context. Run it last. */
void dq_api_iiif_auth_manifest_decorate(dq_api_t *c, dq_buf_t *manifest);
/* ======== end scene layers ======== */
/* ======== condition records (api_condition.c; issue 12) ======== */
void dq_api_condition_list(dq_api_t *c);
void dq_api_condition_create(dq_api_t *c);
void dq_api_condition_get(dq_api_t *c);
void dq_api_condition_replace(dq_api_t *c);
void dq_api_condition_delete(dq_api_t *c);
void dq_api_condition_changes_file(dq_api_t *c);
/* The store keys of the change files of a relic's records (record NULL) or of one record: a
 * new JSON array of strings, empty when none or on an error. Read before a delete. */
struct json_t *dq_api_condition_relic_files(dq_server_t *srv, const char *relic,
                                            const char *record);
/* Removes what dq_api_condition_relic_files gathered from the store (logs failures). */
void dq_api_condition_remove_files(dq_server_t *srv, struct json_t *keys);
/* api_condition_job.c: one-step records (POST .../condition/jobs, GET .../jobs/{job}) and the
 * restoration mask's outline (GET /api/images/{id}/outline, SVG). */
void dq_api_condition_job_create(dq_api_t *c);
void dq_api_condition_job_get(dq_api_t *c);
void dq_api_restoration_outline(dq_api_t *c);
/* The largest capture a POST .../condition/jobs takes as its body (bigger ones: ingest first,
 * then name the image). */
#define DQ_API_MAX_CAPTURE (48u << 20)
/* ======== end condition records ======== */

#endif
