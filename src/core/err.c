/*
 * err.c: the dq_err_t helpers. An error carries a class, an HTTP status for the server to
 * answer with, and a human message; nothing global, so threads never share an error buffer.
 */
#include "core.h"

#include <string.h>

int dq_err_status(int code)
{
    switch (code) {
    case DQ_OK:
        return 200;
    case DQ_EINVAL:
        return 400;
    case DQ_ENOTFOUND:
        return 404;
    case DQ_EEXIST:
        return 409;
    case DQ_ELIMIT:
        return 403;
    case DQ_EUNSUP:
        return 501;
    case DQ_EBUSY:
        return 503;
    default:
        return 500;
    }
}

int dq_err_set(dq_err_t *err, int code, int http_status, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    err->http_status = http_status ? http_status : dq_err_status(code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void dq_err_clear(dq_err_t *err)
{
    if (!err)
        return;
    err->code = DQ_OK;
    err->http_status = 0;
    err->msg[0] = '\0';
}
