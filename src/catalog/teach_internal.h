/*
 * teach_internal.h: what lesson.c and glossary.c (issue 17) share and nobody else sees: the
 * field-error helpers of their validators, language maps {"zh","en"}, the role gate and
 * the JSON parse of a request body. Only src/catalog/ includes it.
 */
#ifndef DQ_TEACH_INTERNAL_H
#define DQ_TEACH_INTERNAL_H

#include <jansson.h>

#include "catalog/catalog.h"

/* Text limits of teaching documents (bytes). */
#define DQ_TEACH_MAX_TITLE 400
#define DQ_TEACH_MAX_TEXT 4000

/* Adds "path": msg to the field-error object fe unless path already has an error. */
void dq_teach_fe(json_t *fe, const char *path, const char *msg);
/* The same with path built by printf from fmt. */
void dq_teach_fef(json_t *fe, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 422 with fe's JSON appended to field_errors (when given) and its first error in err's
 * message. Returns -1. */
int dq_teach_fail_fields(json_t *fe, dq_buf_t *field_errors, dq_err_t *err);
/* A JSON object from (json, len) (duplicate keys refused), new reference; NULL with 400. */
json_t *dq_teach_parse(const char *json, size_t len, dq_err_t *err);
/* 401 for anonymous, 403 below role; 0 otherwise. */
int dq_teach_need_role(const dq_actor_t *who, int role, dq_err_t *err);
/* 1 when s has no control characters but tab and newline. */
int dq_teach_text_clean(const char *s);
/* Validates a language map {"zh": ..., "en": ...} at path (v may be NULL: absent) of strings
 * up to max bytes; need: 0 optional, 1 zh or en, 2 both. Returns a new canonical object (empty
 * strings dropped) or NULL when v is not an object (error added to fe). */
json_t *dq_teach_lang_map(const json_t *v, const char *path, int need, size_t max, json_t *fe);
/* Reports unknown members of obj at prefix ("steps[2]." or ""), given the allowed names. */
void dq_teach_unknown_fields(const json_t *obj, const char *prefix, const char *const *known,
                             size_t n_known, json_t *fe);
/* Appends the compact JSON of j (keys in insertion order). */
void dq_teach_dump(dq_buf_t *out, const json_t *j);

#endif
