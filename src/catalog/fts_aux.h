/*
 * fts_aux.h: FTS5's snippet() and highlight() re-stated over phrase hits (fts_aux.c), for
 * both catalog backends. A plan's phrases are tokenized the way FTS5 tokenizes the MATCH
 * expression the SQLite backend renders (dq_sqlite_fts_render: terms in order, each term's
 * phrases in order), so phrase indexes, instances and their order are FTS5's. Pure functions
 * over text: thread-safe as long as the dq_search_t is (search.h).
 */
#ifndef DQ_FTS_AUX_H
#define DQ_FTS_AUX_H

#include <stddef.h>

#include "search/search.h"

/* The phrases of the FTS5 MATCH expression for plan (every term's phrases in term order;
 * boost: the boost phrases), each as its query tokens. */
typedef struct {
    dq_buf_t text;             /* the tokens, back to back */
    size_t *tok_off, *tok_len; /* per token */
    size_t *first;             /* phrase i's tokens are [first[i], first[i + 1]) */
    size_t n_phrases, n_tok;
} dq_fts_phrases_t;
/* Fills out (owned by the caller: free with dq_fts_phrases_free). */
void dq_fts_phrases(const dq_search_t *s, const dq_search_plan_t *plan, int boost,
                    dq_fts_phrases_t *out);
/* Frees what p holds; NULL is fine. */
void dq_fts_phrases_free(dq_fts_phrases_t *p);
/* One phrase hit: phrase index and token position in its field. */
typedef struct {
    int phrase, col, pos;
} dq_fts_inst_t;
/* Appends to *inst (grown with dq_xrealloc; the caller frees it) the hits of ph in field text
 * col (document tokens), in (position, phrase) order, and returns the field's length in
 * tokens. text NULL is an empty field. */
int dq_fts_field_hits(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *text, int col,
                      dq_fts_inst_t **inst, size_t *n_inst, size_t *cap_inst);
/* FTS5's snippet(-1, "\x01", "\x02", "…", n_tokens) over fields (n_fields columns, NULL ones
 * empty), from their phrase hits: appended to out. */
void dq_fts_snippet(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *const *fields,
                    int n_fields, int n_tokens, dq_buf_t *out);
/* FTS5's highlight(col 0, "\x01", "\x02") of one field: appended to out. */
void dq_fts_highlight(const dq_search_t *s, const dq_fts_phrases_t *ph, const char *text,
                      dq_buf_t *out);

/* The four full-text fields (title, creators, body, description) of a stored relic document
 * (relics.doc: the canonical text doc_len bytes long), byte for byte as the writer made them
 * for the search index (relic_doc.c relic_row_build): for a backend that does not store them
 * (PostgreSQL since its migration 30 reads them for snippets). out[0..4) are reset and
 * filled, NUL-terminated, owned by the caller. 0, or -1 when doc is not JSON (out untouched).
 * Thread-safe. */
int dq_relic_fts_fields(const char *doc, size_t doc_len, dq_buf_t out[4]);

#endif
