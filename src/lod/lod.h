/*
 * lod: linked open data for aggregators and research infrastructure, as pure functions over
 * relic documents (docs/api.md "The relic document"). It builds Linked Art JSON-LD (the
 * CIDOC-CRM profile of linked.art, API 1.0) for relics, creators and images; parses and
 * checks OAI-PMH 2.0 requests, encodes their resumption tokens and writes the protocol's XML
 * (Dublin Core and LIDO 1.0 records, errors); and writes IIIF Change Discovery 1.0
 * (Activity Streams) pages. It does no I/O, touches no catalog and keeps no global state:
 * http/ gathers the data, lod/ only shapes it. Every function is reentrant and thread-safe.
 * Strings passed in are borrowed for the call; output is appended to caller-owned buffers.
 */
#ifndef DQ_LOD_H
#define DQ_LOD_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* What every builder needs besides its data. Strings borrowed. */
typedef struct {
    const char *base_url; /* "http://host:port", no trailing slash */
    /* Optional vocabularies as dq_catalog_vocab writes them ([{"key","zh","en",...}]), for
     * human labels of keys; NULL: the keys themselves. */
    const char *dynasties_json, *object_types_json, *subjects_json;
} dq_lod_ctx_t;

/* ================================================================ Linked Art (linkedart.c) */

/* The JSON-LD profile a client asks for, and the media type of every Linked Art answer
 * (Linked Art API 1.0, "Protocol"). */
#define DQ_LOD_LA_PROFILE "https://linked.art/ns/v1/linked-art.json"
#define DQ_LOD_LA_TYPE "application/ld+json;profile=\"" DQ_LOD_LA_PROFILE "\""

/* 1 when an Accept header asks for Linked Art: application/ld+json with the Linked Art
 * profile parameter (quoted or not), with a q that is not 0. NULL gives 0. */
int dq_lod_la_accepts(const char *accept);

/* The stable URI paths below base_url: "/linked-art/object/{relic}",
 * "/linked-art/person/{key}", "/linked-art/digital/{image}" (segments percent-encoded). */
void dq_lod_la_path(dq_buf_t *out, const char *kind, const char *key);

/* The key of a creator in a relic document's "creators" array element (a JSON object text
 * is not needed: pass the zh and en names, either may be NULL): the zh name, else the en
 * name, as the stable person key. NULL when both are empty. Borrowed from the arguments. */
const char *dq_lod_la_person_key(const char *zh, const char *en);

/* Appends the HumanMadeObject of one relic: relic_json is the stored document (with "id").
 * Errors: 400 when it is not a JSON object with a string "id". */
int dq_lod_la_object(const char *relic_json, size_t len, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                     dq_err_t *err);

/* Appends the Person named key. relics_json is a JSON array of the stored documents of (some
 * of) the relics that name this creator: names, dates and authority ids (wikidata, ulan) are
 * read from their creators entries whose key equals key. (Linked Art reaches a person's
 * works from the objects' produced_by, not from the person.)
 * Errors: 404 when no relic names key, 400 for unparsable input. */
int dq_lod_la_person(const char *key, const char *relics_json, size_t len, const dq_lod_ctx_t *ctx,
                     dq_buf_t *out, dq_err_t *err);

/* One image as the Linked Art DigitalObject it is: a IIIF Image API service. relic_label
 * (may be NULL) is the title of the relic it shows, for _label. */
typedef struct {
    const char *image_id;
    int width, height;
    const char *relic_label;
} dq_lod_image_t;
int dq_lod_la_digital(const dq_lod_image_t *img, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                      dq_err_t *err);

/* ================================================================ OAI-PMH 2.0 (oai.c) */

enum {
    DQ_OAI_IDENTIFY = 1,
    DQ_OAI_LIST_METADATA_FORMATS,
    DQ_OAI_LIST_SETS,
    DQ_OAI_LIST_IDENTIFIERS,
    DQ_OAI_LIST_RECORDS,
    DQ_OAI_GET_RECORD,
};
enum { DQ_OAI_DC = 1, DQ_OAI_LIDO = 2 };
/* Set kinds: "dynasty:{key}", "type:{key}" (OAI-PMH §2.7.2, hierarchical setSpecs). */
enum { DQ_OAI_SET_NONE = 0, DQ_OAI_SET_DYNASTY_ALL, DQ_OAI_SET_DYNASTY, DQ_OAI_SET_TYPE_ALL,
       DQ_OAI_SET_TYPE };

/* The OAI-PMH error codes of §3.6. */
enum {
    DQ_OAI_OK = 0,
    DQ_OAI_BAD_ARGUMENT,
    DQ_OAI_BAD_RESUMPTION_TOKEN,
    DQ_OAI_BAD_VERB,
    DQ_OAI_CANNOT_DISSEMINATE_FORMAT,
    DQ_OAI_ID_DOES_NOT_EXIST,
    DQ_OAI_NO_RECORDS_MATCH,
    DQ_OAI_NO_METADATA_FORMATS,
    DQ_OAI_NO_SET_HIERARCHY,
};
/* "badArgument", ...; "" for DQ_OAI_OK. Static. */
const char *dq_oai_error_code(int code);

#define DQ_OAI_KEY_MAX 64

/* One parsed request: the verb and its arguments, with a resumption token already decoded
 * into the arguments of the list request it continues. Plain value. */
typedef struct {
    int verb;   /* DQ_OAI_* (0 when the error is badVerb) */
    int prefix; /* DQ_OAI_DC / DQ_OAI_LIDO; 0 when not given (Identify, ListSets, ...) */
    int set_kind;
    char set_key[DQ_OAI_KEY_MAX];   /* the key after "dynasty:" / "type:" */
    char from[24], until[24];       /* "YYYY-MM-DDThh:mm:ssZ" (a day is widened), "" unset */
    char identifier[160];           /* GetRecord, ListMetadataFormats: as given */
    char after[DQ_OAI_KEY_MAX];     /* resumption: the last id of the previous list page */
    int64_t cursor;                 /* resumption: records already sent in this list */
    int resumed;                    /* 1: came from a resumptionToken */
    /* The arguments as given, for the <request> element (§3.2): verb and others, each text
     * value already checked; empty when the request was bad in a way that forbids echoing
     * them (badVerb, badArgument). */
    char echo_verb[32];
} dq_oai_req_t;

/* Parses an OAI-PMH request from its query string or form body (application/
 * x-www-form-urlencoded, '+' for space, percent-encoded: §3.1.1), len bytes. On success
 * returns DQ_OAI_OK and fills *r. Otherwise returns the OAI error code (badVerb,
 * badArgument: an illegal, missing, repeated or malformed argument, or a from/until pair of
 * different granularities or reversed; badResumptionToken; cannotDisseminateFormat for an
 * unknown metadataPrefix) with msg (cap bytes) saying why, and r->verb set when known.
 * Never reads beyond len; any byte sequence is safe (the fuzz target fuzz/fuzz_oai.c). */
int dq_oai_parse(const char *query, size_t len, dq_oai_req_t *r, char *msg, size_t msg_cap);

/* The resumption token of the next page of list request r after id last (sent so far:
 * cursor records), appended to out: a URL-safe text that dq_oai_parse decodes back. */
void dq_oai_token(const dq_oai_req_t *r, const char *last, int64_t cursor, dq_buf_t *out);

/* The repository's OAI identifier of a relic: "oai:{host}:{relic_id}" where host is the
 * host part of base_url (§2.4, the oai-identifier scheme). Appended to out. */
void dq_oai_identifier(const char *base_url, const char *relic_id, dq_buf_t *out);
/* The relic id of an OAI identifier of this repository into out (cap bytes); 0, or -1 when
 * it is not one of ours (idDoesNotExist). */
int dq_oai_identifier_parse(const char *base_url, const char *oai_id, char *out, size_t cap);

/* The response envelope (§3.2): the XML declaration, <OAI-PMH> with responseDate (now_utc,
 * "YYYY-MM-DDThh:mm:ssZ") and <request> echoing r's arguments (none for badVerb and
 * badArgument, as §3.2 asks). dq_oai_close ends it. */
void dq_oai_open(dq_buf_t *out, const char *base_url, const char *now_utc, const dq_oai_req_t *r,
                 int error_code);
void dq_oai_close(dq_buf_t *out);
/* <error code="...">msg</error>. */
void dq_oai_error(dq_buf_t *out, int code, const char *msg);

/* A record header (§2.5): identifier, datestamp, setSpecs from dynasty and object_type (may
 * be NULL), status="deleted" when deleted. */
void dq_oai_header(dq_buf_t *out, const char *base_url, const char *relic_id,
                   const char *datestamp, const char *dynasty, const char *object_type,
                   int deleted);
/* The <metadata> of one live record in format prefix (oai_dc or LIDO 1.0) from its stored
 * document (with "id"). Errors: 400 for a document that is not a JSON object. */
int dq_oai_metadata(dq_buf_t *out, int prefix, const char *relic_json, size_t len,
                    const dq_lod_ctx_t *ctx, dq_err_t *err);
/* The ListMetadataFormats body and the ListSets body (sets from the vocabularies of ctx). */
void dq_oai_formats(dq_buf_t *out);
void dq_oai_sets(dq_buf_t *out, const dq_lod_ctx_t *ctx);
/* Appends s (len bytes) escaped for XML text and attribute values; bytes that XML 1.0 does
 * not allow (C0 controls other than tab, LF, CR) are dropped. */
void dq_lod_xml_text(dq_buf_t *out, const char *s, size_t len);

/* ================================================================ Change Discovery (discovery.c) */

/* IIIF Change Discovery 1.0 (an Activity Streams OrderedCollection): activities in pages of
 * DQ_LOD_CD_PAGE, oldest first, newest last (§2.2). */
#define DQ_LOD_CD_PAGE 1000

/* One activity: kind "Create", "Update" or "Delete", the relic id and the time. */
typedef struct {
    const char *kind, *relic_id, *end_time;
} dq_lod_activity_t;

/* The OrderedCollection: totalItems, first and last page (n_pages >= 1). */
void dq_lod_cd_collection(dq_buf_t *out, const dq_lod_ctx_t *ctx, int64_t total, int64_t n_pages);
/* One OrderedCollectionPage (page 0-based, of n_pages) with its activities. */
void dq_lod_cd_page(dq_buf_t *out, const dq_lod_ctx_t *ctx, int64_t page, int64_t n_pages,
                    const dq_lod_activity_t *items, size_t n_items);

/* ================================================================ citations (cite.c) */

/* A citation of the relic document (with "id") in format "csl" (CSL-JSON, an array of one
 * item; NULL means csl), "bibtex" or "ris", accessed (may be NULL) "YYYY-MM-DD..." as the
 * access date; *content_type gets the media type (static). Errors: 400 for another format
 * or a document that is not a JSON object with "id". */
int dq_lod_cite(const char *relic_json, size_t len, const char *format, const char *accessed,
                const dq_lod_ctx_t *ctx, dq_buf_t *out, const char **content_type,
                dq_err_t *err);
/* The <meta> tags of a relic's HTML page that reference managers read (Highwire citation_*,
 * Dublin Core DC.*), one per line, attribute values escaped. */
int dq_lod_page_meta(const char *relic_json, size_t len, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                     dq_err_t *err);

/* ================================================================ harvesting (harvest.c) */

/* Appends one JSON Lines relic document (for dq_catalog_import) that references the IIIF
 * Presentation 3.0 Manifest manifest (len bytes, fetched from manifest_url; a 2.1 Manifest is
 * read through the 3.0 properties it maps to: label, description, metadata, license,
 * attribution, related, navDate): id
 * "ext-{16 hex}" and accession "ext-{24 hex}" of the URL's SHA-256, title, creators, dynasty,
 * dates, object type ("other" unless a label names one of ours), subject, medium, description,
 * rights and a "remote" block {manifest, institution, source (source_url, may be NULL), url,
 * licence}. vocab gives the vocabularies (base_url unused). Errors: 422 for a document that
 * is not a Manifest or has no label. Fuzzed by fuzz/fuzz_manifest.c. */
int dq_lod_manifest_to_relic(const char *manifest, size_t len, const char *manifest_url,
                             const char *source_url, const dq_lod_ctx_t *vocab, dq_buf_t *out,
                             dq_err_t *err);

/* Our key of the vocabulary entry (a parsed dq_catalog_vocab array, may be NULL) whose key,
 * en or zh label equals text (case-insensitive but zh), else NULL. Borrowed from vocab. */
struct json_t;
const char *dq_lod_vocab_key(const struct json_t *vocab, const char *text);
/* "Mi Yunxi (1140-1207)" → name "Mi Yunxi", dates "1140-1207" (dates "" when none). */
void dq_lod_split_dates(const char *s, char *name, size_t ncap, char *dates, size_t dcap);

/* ================================================================ OAI-PMH sources (oai_read.c) */

/* One record of another repository's ListRecords / GetRecord page. */
typedef struct {
    char *identifier, *datestamp; /* from the header */
    int deleted;                  /* header status="deleted" */
    char *doc;   /* live records: one JSON line, a relic document for dq_catalog_import; NULL
                    when deleted or when it could not be mapped (error says why) */
    char *error;
} dq_oai_rec_t;

/* What one OAI-PMH answer says (any verb). All owned; free with dq_lod_oai_page_free. */
typedef struct {
    dq_oai_rec_t *recs;
    size_t n_recs;
    char *token;            /* resumptionToken; NULL when the list is complete */
    char response_date[40]; /* the next incremental run's from= */
    char granularity[32];   /* Identify */
    char **formats;         /* ListMetadataFormats: metadataPrefix values */
    size_t n_formats;
    char error_code[40], error_msg[256]; /* §3.6 error, "" when none */
} dq_oai_page_t;

/* Reads an OAI-PMH 2.0 answer of len bytes fetched from base_url (the endpoint without its
 * query) for metadataPrefix prefix. Each live record's oai_dc or LIDO 1.0 metadata becomes a
 * relic document: id "ext-{16 hex}" and accession "ext-{24 hex}" of the SHA-256 of base_url
 * and the OAI identifier (dq_lod_oai_local_id), title / creators / dates / object type /
 * dynasty / subjects (vocabulary matches; other subjects become keywords) / medium /
 * description / rights / references, and "remote": {source, record (its GetRecord URL),
 * oai_identifier, format, manifest and url when an identifier is one, institution, licence,
 * fields: [{name, value}] (every source element not used above, so nothing is lost
 * silently)}. Errors: 422 when it is not an OAI-PMH answer (an OAI error answer is not an
 * error here: see error_code). */
int dq_lod_oai_read(const char *xml, size_t len, const char *base_url, const char *prefix,
                    const dq_lod_ctx_t *vocab, dq_oai_page_t *p, dq_err_t *err);
void dq_lod_oai_page_free(dq_oai_page_t *p);
/* The local id and accession of record oai_id of the repository at base_url. */
void dq_lod_oai_local_id(const char *base_url, const char *oai_id, char id[32], char acc[40]);

#endif
