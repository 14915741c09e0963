/*
 * iiif: the IIIF Image API 3.0 and 2.1 as pure functions. It splits a request
 * path into an identifier and a request kind, parses
 * "region/size/rotation/quality.format", plans the request against an image's
 * stored pyramid geometry (source rectangle, output size, pyramid level,
 * whether the answer is exactly one stored tile), writes canonical parameter
 * strings and the info.json document. It does no I/O, allocates nothing the
 * caller must free (except through dq_buf_t), includes no third-party header
 * and keeps no global state: every function is reentrant and thread-safe.
 * Errors fill a caller-owned dq_err_t with the HTTP status the server should
 * answer with.
 */
#ifndef DQ_IIIF_H
#define DQ_IIIF_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

enum { DQ_IIIF_V2 = 2, DQ_IIIF_V3 = 3 };

/* Identifiers are at most this many bytes after percent-decoding. */
#define DQ_IIIF_ID_MAX 128

/* What a path under the version prefix asks for (dq_iiif_split_path). */
enum { DQ_IIIF_PATH_BASE = 1, DQ_IIIF_PATH_INFO, DQ_IIIF_PATH_IMAGE };

enum dq_iiif_region_kind { DQ_REGION_FULL, DQ_REGION_SQUARE, DQ_REGION_PIXELS, DQ_REGION_PCT };
enum dq_iiif_size_kind {
    DQ_SIZE_MAX,
    DQ_SIZE_FULL, /* 2.x "full" */
    DQ_SIZE_W,
    DQ_SIZE_H,
    DQ_SIZE_PCT,
    DQ_SIZE_WH,
    DQ_SIZE_BEST /* !w,h */
};
enum dq_iiif_quality { DQ_Q_DEFAULT, DQ_Q_COLOR, DQ_Q_GRAY, DQ_Q_BITONAL };
enum dq_iiif_format {
    DQ_FMT_JPG,
    DQ_FMT_PNG,
    DQ_FMT_WEBP,
    DQ_FMT_TIF,
    DQ_FMT_GIF,
    DQ_FMT_JP2,
    DQ_FMT_PDF
};

/* A parsed image request. Numbers are kept as given (pixels or percent); only
 * dq_iiif_plan relates them to an image. Pixel values are whole numbers;
 * percentages and rotation may have a fraction. */
typedef struct {
    int version; /* DQ_IIIF_V2 or DQ_IIIF_V3 */
    int region_kind;
    double rx, ry, rw, rh; /* pixels or percent; unused for full and square */
    int size_kind;
    int upscale;         /* '^' given (3.0 only) */
    double sw, sh, spct; /* sw for w, / w,h / !w,h; sh for ,h / w,h / !w,h; spct for pct:n */
    double rotation;     /* degrees clockwise, 0..360 */
    int mirror;          /* '!' */
    int quality;         /* enum dq_iiif_quality */
    int format;          /* enum dq_iiif_format */
} dq_iiif_req_t;

/* Splits the part of a URL path after the version prefix (e.g. after
 * "/iiif/3/"), still percent-encoded, into the identifier and the kind of
 * request:
 *   "{id}"                          DQ_IIIF_PATH_BASE  (answer 303 to
 * {id}/info.json)
 *   "{id}/info.json"                DQ_IIIF_PATH_INFO
 *   "{id}/{r}/{s}/{rot}/{q}.{fmt}"  DQ_IIIF_PATH_IMAGE; *params, *params_len
 * get "{r}/.../{q}.{fmt}" still encoded, pointing into path (borrowed). The
 * identifier, once decoded, must match [A-Za-z0-9._-]{1,128} and not start with
 * '.'. id_out (caller-owned, at least DQ_IIIF_ID_MAX + 1 bytes) receives it
 * NUL-terminated. Errors: 404 when the path has a number of segments no
 * resource has, or the identifier decodes to something holding '/' (an
 * identifier that cannot exist; the validator's id_error_escapedslash expects
 * 404); 400 for any other bad identifier (bad escape, NUL, characters outside
 * the set, "..", too long). params may be NULL when not wanted. */
int dq_iiif_split_path(const char *path, size_t len, char *id_out, int *kind, const char **params,
                       size_t *params_len, dq_err_t *err);

/* Parses "region/size/rotation/quality.format" (path[0..len), percent-encoded:
 * each segment is decoded on its own) for version DQ_IIIF_V2 or DQ_IIIF_V3 into
 * *req. Errors: 400 for bad syntax, for a form the version does not have ("^"
 * in 2.1, size "full" in 3.0), for pct/rotation out of range and for an unknown
 * quality or format; 501 for a valid format we do not produce (gif, jp2, pdf).
 * Limits that need the image are checked by dq_iiif_plan. */
int dq_iiif_parse(const char *params, size_t len, int version, dq_iiif_req_t *req, dq_err_t *err);

typedef struct {
    uint32_t width, height;
} dq_iiif_level_t;

/* The stored geometry of one image, filled by the caller from its pyramid file
 * and config. */
typedef struct {
    uint32_t width, height;  /* full resolution */
    uint32_t tile_w, tile_h; /* stored tile size (256) */
    int n_levels;
    dq_iiif_level_t levels[32];               /* levels[0] = full res; level k is the image
                                                 shrunk by exactly 2^k, its size rounded up or
                                                 down (checked: anything else is a 500) */
    uint64_t max_width, max_height, max_area; /* served limits; 0 = no limit. max_height 0 with
                                                 max_width set means max_width (3.0 §5.2) */
    /* NULL, or (an access-controlled image) the JSON array of its IIIF Auth 2.0 services
     * (dq_iiif_auth_services), written as the info.json's "service"; 3.0 then lists the Auth
     * context first in "@context" (Auth 2.0 §2.1). Borrowed. */
    const char *auth_services;
} dq_iiif_image_t;

typedef struct {
    uint32_t x, y, w, h;   /* source region in full-resolution pixels, clipped to the image */
    uint32_t out_w, out_h; /* output size before rotation */
    double rotation;
    int mirror;
    int quality;
    int format;
    int upscale;             /* 1 when the output is larger than the region in a dimension */
    int level;               /* pyramid level to read: the smallest one in which the region
                                still has >= the output's pixels (never upscale from a smaller
                                one), or the level of the exact tile */
    uint32_t lx, ly, lw, lh; /* the region in that level's pixels (rounded outward, clipped) */
    int exact_tile;          /* 1 when the answer is exactly stored tile (tile_col,
                                tile_row) of `level`: no scaling, rotation 0, no mirror,
                                quality default or color, jpg. Edge tiles count (the stored
                                tile is padded). */
    uint32_t tile_col, tile_row;
} dq_iiif_plan_t;

/* Plans req against img into *plan (zeroed on failure). Every bound is checked in 64-bit
 * integer arithmetic (or in doubles range-checked before conversion) before anything is
 * converted, so no request can overflow. Errors: 400 when the region is empty or entirely
 * outside the image, when the output would be smaller than 1 pixel, and in 3.0 when a size
 * without '^' needs upscaling (including !w,h whose box is larger than the region both ways,
 * as the validator's size_noup expects); 403 when an explicit size exceeds max_width /
 * max_height / max_area or the largest side the format can hold (65535 for jpg, 16383 for
 * webp; also after rotation), while max, ^max and !w,h are fitted inside all of these instead
 * (3.0 §4.2); 500 for an invalid img or version. */
int dq_iiif_plan(const dq_iiif_req_t *req, const dq_iiif_image_t *img, dq_iiif_plan_t *plan,
                 dq_err_t *err);

/* The output size that "max" (upscale 0) or "^max" (upscale 1) gives for a region of rw x rh
 * pixels of img in format: the region fitted inside the served limits and the format's largest
 * side (3.0 §4.2). 0 x 0 for an empty region. */
void dq_iiif_max_size(const dq_iiif_image_t *img, uint32_t rw, uint32_t rh, int upscale, int format,
                      uint32_t *out_w, uint32_t *out_h);

/* Appends the canonical "region/size/rotation/quality.format" for plan (3.0
 * §4.8, 2.1 §4.7) to out. Equivalent requests give the same string, so it
 * serves as a cache key. */
void dq_iiif_canonical(const dq_iiif_plan_t *plan, const dq_iiif_image_t *img, int version,
                       dq_buf_t *out);

/* Appends the image information document (3.0 §5 or 2.1 §5) for img to out.
 * base_id is the absolute base URI of the image without a trailing slash, e.g.
 * "http://127.0.0.1:8080/iiif/3/foo" (JSON-escaped here). sizes lists every
 * pyramid level within the limits, smallest first; tiles lists the stored tile
 * size with scale factors 2^k. */
void dq_iiif_info_json(const dq_iiif_image_t *img, const char *base_id, int version, dq_buf_t *out);

/* Content type and file extension of a format ("image/jpeg", "jpg"); NULL when
 * out of range. */
const char *dq_iiif_format_mime(int format);
const char *dq_iiif_format_ext(int format);
/* The quality's name ("default", "color", "gray", "bitonal"); NULL when out of
 * range. */
const char *dq_iiif_quality_name(int quality);
/* The compliance level profile URI for the Link rel="profile" header, e.g.
 * "http://iiif.io/api/image/3/level2.json", and the JSON-LD context URI of a
 * version. */
const char *dq_iiif_profile_uri(int version);
const char *dq_iiif_context_uri(int version);

/* ================================================================ presentation */

/* IIIF Presentation API 3.0 documents (presentation.c), built from the catalog's relic
 * documents (docs/api.md "The relic document") and search responses: pure functions of their
 * arguments, no I/O, like the rest of this module (jansson is used inside the .c only).
 * Every id is absolute (base_url + path) and resolves on the server that built it:
 *   {base}/iiif/presentation/3/{relic}/manifest            the Manifest (§5.3)
 *   {base}/iiif/presentation/3/collection/{name}[?page=N]  Collections (§5.2)
 * Canvases, annotation pages and annotations get ids under the manifest's path (§5.4-5.6
 * only ask for HTTP(S) URIs there; they are not separately served). */

/* Geometry of one image a manifest paints (from the image record). Strings borrowed. */
typedef struct {
    const char *image_id;
    uint32_t width, height;
} dq_iiif_pimage_t;

/* What every presentation builder needs besides its data. Strings borrowed. */
typedef struct {
    const char *base_url; /* "http://host:port", no trailing slash (dq_http_base_url) */
    const char *provider_en, *provider_zh; /* the holding institution; NULL: "danqing" / 丹青 */
    /* Optional vocabularies as dq_catalog_vocab writes them ([{"key","zh","en",...}]), used for
     * human labels of dynasty, object type and subject keys; NULL: the keys themselves. */
    const char *dynasties_json, *object_types_json, *subjects_json;
} dq_iiif_pctx_t;

/* Appends the Manifest of one relic to out. relic_json is the stored document (with "id");
 * images gives the geometry of the document's images (matched by image_id, in any order; an
 * image of the document missing here gets no canvas). Handscrolls and album leaves read right
 * to left (viewingDirection), a handscroll's images are one continuous scroll (behavior
 * "continuous"), an album's are "paged". Errors: 400 for a document that is not a JSON object
 * with a string "id", 500 for a bad ctx. */
int dq_iiif_manifest(const char *relic_json, size_t len, const dq_iiif_pimage_t *images,
                     int n_images, const dq_iiif_pctx_t *ctx, dq_buf_t *out, dq_err_t *err);
/* The sections view of a handscroll's Manifest ({manifest}?view=sections, issue 16), for
 * viewers that open a Canvas but not a region of it: the scroll as Canvases about one screen
 * wide from the right end (viewingDirection right-to-left, behavior paged, start the first),
 * each painted by an Image API region request without a service; Ranges as the Manifest's.
 * Same arguments; errors as dq_iiif_manifest, and 404 for a relic that is not a handscroll. */
int dq_iiif_manifest_sections(const char *relic_json, size_t len, const dq_iiif_pimage_t *images,
                              int n_images, const dq_iiif_pctx_t *ctx, dq_buf_t *out,
                              dq_err_t *err);

/* ======== rights, attribution and embedded metadata (issue 16: one source of truth) ======== */

/* What a record without a usable rights URI states (RightsStatements.org "Copyright Not
 * Evaluated"). */
#define DQ_IIIF_RIGHTS_CNE "http://rightsstatements.org/vocab/CNE/1.0/"

/* Appends the manifest's `rights` (§3.3.1) for a record's "rights" value (NULL allowed): a
 * Creative Commons or RightsStatements.org URI in its canonical http form, else
 * DQ_IIIF_RIGHTS_CNE. The relic page, the manifest and downloaded files all state this. */
void dq_iiif_rights_uri(const char *record_rights, dq_buf_t *out);
/* Appends the manifest's requiredStatement value ("Provided by {provider}" / "{provider} 提
 * 供") to en and zh (either may be NULL). ctx may be NULL (the default provider). */
void dq_iiif_attribution(const dq_iiif_pctx_t *ctx, dq_buf_t *en, dq_buf_t *zh);
/* Appends a short English name of a known rights URI (CC0, the Public Domain Mark, CC
 * licences, RightsStatements.org statements; the web's i18n.js rightsLabel names the same)
 * and returns 1; returns 0 and appends nothing for another URI. */
int dq_iiif_rights_label(const char *uri, dq_buf_t *out);

/* Builds what a downloaded image of a relic carries (embed.c): an XMP packet (dc:title,
 * dc:creator, dc:rights, dc:identifier, dc:source, xmpRights:Marked/WebStatement/UsageTerms,
 * photoshop:Credit, photoshop:Source) in xmp, and a Photoshop image resource block holding
 * IPTC-IIM (1:90 UTF-8, 2:05 title, 2:80 by-line, 2:110 credit, 2:115 source, 2:116
 * copyright notice, 2:120 caption) in iptc, the payload of a JPEG APP13 segment. page_url is
 * the relic's permanent URI. Rights and credit are those of the manifest (above).
 * Errors: 400 for a document that is not a JSON object with a string "id". Pure. */
int dq_iiif_embed_meta(const char *relic_json, size_t len, const dq_iiif_pctx_t *ctx,
                       const char *page_url, dq_buf_t *xmp, dq_buf_t *iptc, dq_err_t *err);

/* Collection kinds, and how many manifests one collection page holds. */
enum { DQ_IIIF_COLL_ALL = 1, DQ_IIIF_COLL_DYNASTY, DQ_IIIF_COLL_TYPE };
#define DQ_IIIF_COLL_PAGE 100

/* One collection: "all", "dynasty-{key}" or "type-{key}". Presentation 3.0 has no paging of
 * Collections (§5.2 nests them instead), so a collection larger than one page is a
 * Collection of page Collections ("?page=1".."?page=n_pages"); each page is a Collection of
 * Manifests with partOf its parent and, as Activity Streams links the 3.0 context defines,
 * next/prev between pages. Strings borrowed. */
typedef struct {
    int kind;        /* DQ_IIIF_COLL_* */
    const char *key; /* the dynasty or object type key (NULL for ALL) */
    int page;        /* 0: the collection itself; 1..n_pages: one page */
    int n_pages;     /* ceil(total / DQ_IIIF_COLL_PAGE), at least 1 */
    int64_t total;   /* relics in the collection (as the asker may see them) */
} dq_iiif_coll_t;

/* The path of a collection page below base_url ("/iiif/presentation/3/collection/all",
 * "...?page=2") appended to out. */
void dq_iiif_collection_path(const dq_iiif_coll_t *c, int page, dq_buf_t *out);

/* Appends the Collection c to out. search_json is a search response (docs/api.md "Search
 * response") holding the page's relics; it is needed for a page, and for page 0 when
 * n_pages == 1 (the collection then lists its manifests directly); otherwise NULL. Errors:
 * 400 for a bad c or unparsable search_json. */
int dq_iiif_collection(const dq_iiif_coll_t *c, const char *search_json, size_t len,
                       const dq_iiif_pctx_t *ctx, dq_buf_t *out, dq_err_t *err);

/* The root Collection ({base}/iiif/presentation/3/collection): "all" and one child per
 * dynasty and object type that has relics, from the facets of a search response (facets
 * "dynasty" and "object_type" with their counts). */
int dq_iiif_collection_root(const char *search_json, size_t len, const dq_iiif_pctx_t *ctx,
                            dq_buf_t *out, dq_err_t *err);

/* ======== IIIF Content State 1.0 (content_state.c, issue 6 annotations) ======== */

/* The canvas id of canvas n (1-based) of a relic's manifest, as dq_iiif_manifest writes it:
 * "{base}/iiif/presentation/3/{relic}/canvas/{n}". Appended to out. */
void dq_iiif_canvas_id(const char *base_url, const char *relic_id, int canvas, dq_buf_t *out);
/* Appends the content state (§2.2) of a region view: an Annotation with motivation
 * ["contentState"] targeting {canvas_id}#xywh=x,y,w,h, partOf the relic's Manifest. */
void dq_iiif_content_state_region(const char *base_url, const char *relic_id, int canvas,
                                  const int xywh[4], dq_buf_t *out);
/* §2.3 encoding: UTF-8 JSON -> encodeURIComponent -> base64url without '=' padding, appended
 * to out. */
void dq_iiif_content_state_encode(const char *json, size_t len, dq_buf_t *out);
/* The inverse: a new NUL-terminated string (free with free()), its length in *out_len (may
 * be NULL); NULL with err (400) for bad base64url or percent-encoding, or over 64 KiB.
 * Padding and standard base64's + and / are accepted. */
char *dq_iiif_content_state_decode(const char *enc, size_t len, size_t *out_len, dq_err_t *err);
/* A region a content state points at. */
typedef struct {
    char relic_id[128];
    int canvas;  /* 1-based */
    int xywh[4]; /* canvas pixels */
} dq_iiif_region_ref_t;
/* Reads a decoded content state: the Annotation form (motivation contentState, target a
 * Canvas or its id), a bare Canvas object, or a plain canvas URI, whose id is
 * ".../iiif/presentation/3/{relic}/canvas/{n}#xywh=[pixel:]x,y,w,h". 400 not JSON; 422 when it
 * is not such a region. */
int dq_iiif_content_state_read(const char *json, size_t len, dq_iiif_region_ref_t *out,
                               dq_err_t *err);

/* ======== end IIIF Content State ======== */

/* ======== IIIF Authorization Flow API 2.0 (auth.c, issue 16) ======== */

/* The documents and pages of the IIIF Authorization Flow API 2.0 as pure functions: the
 * service descriptions (§2.1, §3-6), the probe result (§5.2), the access token message and
 * error (§4.4, §4.5) and the page that posts them (§4.3), and the parser of the token
 * service's query (messageId, origin: §4.2). Who may see what is decided by the caller. The
 * services live under {base}/iiif/auth/2/: access, token, logout, probe/{image id}. */
#define DQ_IIIF_AUTH_CONTEXT "http://iiif.io/api/auth/2/context.json"
#define DQ_IIIF_AUTH_ORIGIN_MAX 255
#define DQ_IIIF_AUTH_MESSAGE_ID_MAX 255

/* Appends the JSON array of services of an access-controlled image: one AuthProbeService2
 * ({base}/iiif/auth/2/probe/{image_id}) holding one AuthAccessService2 (profile "active",
 * label, heading, note and confirmLabel in zh and en) holding an AuthAccessTokenService2 and
 * an AuthLogoutService2. with_context 1 gives the probe its own "@context" (for documents
 * whose @context cannot list the Auth context: Image API 2.1 info.json); 0 for Image 3.0 and
 * Presentation 3.0, which list DQ_IIIF_AUTH_CONTEXT first in their own @context (§2.1). */
void dq_iiif_auth_services(const char *base_url, const char *image_id, int with_context,
                           dq_buf_t *out);

/* Why a probe says 401 (the heading and note differ). */
enum { DQ_IIIF_PROBE_NO_TOKEN = 1, DQ_IIIF_PROBE_BAD_TOKEN, DQ_IIIF_PROBE_EXPIRED,
       DQ_IIIF_PROBE_NOT_ALLOWED };
/* Appends an AuthProbeResult2 (§5.2): status 200 when why is 0, else 401 with heading and note
 * in zh and en saying why. */
void dq_iiif_auth_probe_result(int why, dq_buf_t *out);

/* The token service's query, decoded and checked. */
typedef struct {
    int has_message_id;                             /* 1: messageId present and valid */
    char message_id[DQ_IIIF_AUTH_MESSAGE_ID_MAX + 1];
    int has_origin;                                 /* 1: origin present and valid */
    char origin[DQ_IIIF_AUTH_ORIGIN_MAX + 1];       /* as given (scheme and host lower-cased) */
} dq_iiif_auth_query_t;

/* Checks an origin (RFC 6454 §6.2 serialization, as postMessage's targetOrigin takes it):
 * "http" or "https", "://", a host (letters, digits, '-', '.', or an IPv6 literal in
 * brackets), an optional ":port" (1..65535), nothing else, at most DQ_IIIF_AUTH_ORIGIN_MAX
 * bytes. 1 valid, with its lower-cased form in out (DQ_IIIF_AUTH_ORIGIN_MAX + 1 bytes, may
 * be NULL); 0 otherwise. Pure. */
int dq_iiif_auth_origin_check(const char *origin, size_t len, char *out);
/* Decodes the percent-encoded messageId and origin query values (either may be NULL) into
 * out. messageId: 1..DQ_IIIF_AUTH_MESSAGE_ID_MAX bytes of UTF-8 without control characters
 * (§4.2 asks only for "a string"; the bound keeps the page small). Returns 0 when both are
 * present and valid; else -1 with err (400) naming the first bad one, and out's flags say
 * which are usable (an error can still be posted when the origin is). Pure. */
int dq_iiif_auth_query_parse(const char *message_id, const char *origin, dq_iiif_auth_query_t *out,
                             dq_err_t *err);

/* Appends the access token message (§4.4): AuthAccessToken2 with messageId, accessToken and
 * expiresIn. */
void dq_iiif_auth_token_message(const char *message_id, const char *token, int expires_in,
                                dq_buf_t *out);
/* Appends the access token error (§4.5): AuthAccessTokenError2 with profile (one of
 * "invalidRequest", "invalidOrigin", "missingAspect", "expiredAspect", "invalidAspect",
 * "unavailable"), messageId ("" when the request had none) and heading and note in zh and en. */
void dq_iiif_auth_token_error(const char *message_id, const char *profile, dq_buf_t *out);

/* The Content-Security-Policy of the token page: no source but its one inline script, allowed
 * by its hash; any site may frame it (§4.2 opens it in the viewer's iframe). */
extern const char dq_iiif_auth_token_csp[];
/* Appends the token service's HTML page (§4.3): message (JSON from the two functions above)
 * and origin in a data block, and the one script (dq_iiif_auth_token_csp's hash) that posts
 * the message to the opener or parent window with targetOrigin = origin. origin NULL: the
 * page posts nothing (an origin it cannot name) and only says so. */
void dq_iiif_auth_token_page(const char *message_json, const char *origin, dq_buf_t *out);

/* ======== end IIIF Authorization Flow API 2.0 ======== */

#endif
