/*
 * account_internal.h: credential minting, shared by account.c (sessions, API tokens) and
 * iiif_auth.c (IIIF access cookies and access tokens) inside src/catalog/ only. One way to
 * make a secret, so that every credential the catalog hands out has the same strength and
 * the same stored form.
 */
#ifndef DQ_ACCOUNT_INTERNAL_H
#define DQ_ACCOUNT_INTERNAL_H

#include "catalog.h"

/* Makes "<prefix><43 base64url chars>" from 32 bytes of randombytes_buf into token
 * (DQ_TOKEN_MAX bytes; prefix at most 8 bytes) and the SHA-256 of that text (64 hex + NUL)
 * into hash. Returns 0, or -1 with err (500) when libsodium cannot start. Thread-safe. */
int dq_account_mint(const char *prefix, char token[DQ_TOKEN_MAX], char hash[65], dq_err_t *err);
/* 1 when token (may be NULL) is prefix followed by exactly 43 base64url characters, the shape
 * dq_account_mint makes; else 0. Pure. */
int dq_account_token_shape_ok(const char *prefix, const char *token);

#endif
