/*
 * auth.c: the IIIF Authorization Flow API 2.0 (https://iiif.io/api/auth/2.0/) as pure
 * functions (iiif.h "IIIF Authorization Flow API 2.0"): the service descriptions a restricted
 * image carries in its info.json and manifest, the probe result, the access token message and
 * error, the HTML page that posts them to the viewer, and the parser of the token service's
 * query. No I/O and no policy: http/iiif_auth.c decides who gets a token and what a probe says.
 *
 * Every string that reaches a page goes through put_str, which escapes '<', '>' and '&' as
 * \u003c, \u003e and \u0026 on top of JSON's own escapes, so that a messageId like
 * "</script><script>..." stays text inside the page's data block (HTML 5.2 §4.12.1.3: a
 * script element ends at the first "</script", whatever JSON thinks).
 */
#include "iiif.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- JSON text */

/* Appends s as a JSON string with quotes, safe inside an HTML <script> data block. */
static void put_str(dq_buf_t *b, const char *s)
{
    dq_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        const char *run = p;
        while (*p && *p != '<' && *p != '>' && *p != '&')
            p++;
        dq_buf_json_str(b, run, (size_t)(p - run));
        if (!*p)
            break;
        dq_buf_printf(b, "\\u%04x", (unsigned)(unsigned char)*p);
    }
    dq_buf_putc(b, '"');
}

/* "key": {"en": [en], "zh": [zh]} (Presentation 3.0 §4.3 language maps). */
static void put_lmap(dq_buf_t *b, const char *key, const char *en, const char *zh)
{
    dq_buf_printf(b, "\"%s\": {\"en\": [", key);
    put_str(b, en);
    dq_buf_puts(b, "], \"zh\": [");
    put_str(b, zh);
    dq_buf_puts(b, "]}");
}

/* ---------------------------------------------------------------- service descriptions */

void dq_iiif_auth_services(const char *base_url, const char *image_id, int with_context,
                           dq_buf_t *out)
{
    /* §2.1: the probe in the resource's service, the access service in the probe's, the
     * token and logout services in the access service's. */
    dq_buf_puts(out, "[{");
    if (with_context)
        dq_buf_puts(out, "\"@context\": \"" DQ_IIIF_AUTH_CONTEXT "\", ");
    dq_buf_t u = {0};
    dq_buf_printf(&u, "%s/iiif/auth/2/probe/", base_url);
    dq_buf_url_segment(&u, image_id);
    dq_buf_puts(out, "\"id\": ");
    put_str(out, u.data);
    dq_buf_puts(out, ", \"type\": \"AuthProbeService2\", \"service\": [{\"id\": ");
    dq_buf_reset(&u);
    dq_buf_printf(&u, "%s/iiif/auth/2/access", base_url);
    put_str(out, u.data);
    /* §3.3.1: "active": the user signs in in a window the viewer opens; the label names the
     * institution (§3.3.1 label), heading and note say what is about to happen. */
    dq_buf_puts(out, ", \"type\": \"AuthAccessService2\", \"profile\": \"active\", ");
    put_lmap(out, "label", "Sign in to danqing", "登录丹青");
    dq_buf_puts(out, ", ");
    put_lmap(out, "heading", "Restricted image", "受限图像");
    dq_buf_puts(out, ", ");
    put_lmap(out, "note",
             "This image belongs to a restricted relic: researchers of the museum see it after "
             "signing in with their danqing account in the window that opens.",
             "此图像属于受限藏品：本馆研究人员在弹出窗口中用丹青帐户登录后即可查看。");
    dq_buf_puts(out, ", ");
    put_lmap(out, "confirmLabel", "Sign in", "登录");
    dq_buf_puts(out, ", \"service\": [{\"id\": ");
    dq_buf_reset(&u);
    dq_buf_printf(&u, "%s/iiif/auth/2/token", base_url);
    put_str(out, u.data);
    dq_buf_puts(out, ", \"type\": \"AuthAccessTokenService2\", ");
    /* §4.1: errorNote needs errorHeading. */
    put_lmap(out, "errorHeading", "No access", "无法访问");
    dq_buf_puts(out, ", ");
    put_lmap(out, "errorNote", "Signing in did not give access to this image.",
             "登录后仍无法访问此图像。");
    dq_buf_puts(out, "}, {\"id\": ");
    dq_buf_reset(&u);
    dq_buf_printf(&u, "%s/iiif/auth/2/logout", base_url);
    put_str(out, u.data);
    dq_buf_puts(out, ", \"type\": \"AuthLogoutService2\", ");
    put_lmap(out, "label", "Sign out of danqing", "退出丹青");
    dq_buf_puts(out, "}]}]}]");
    dq_buf_free(&u);
}

/* ---------------------------------------------------------------- probe result */

void dq_iiif_auth_probe_result(int why, dq_buf_t *out)
{
    dq_buf_puts(out, "{\"@context\": \"" DQ_IIIF_AUTH_CONTEXT "\", \"type\": \"AuthProbeResult2\"");
    if (!why) {
        /* §5.2 location is only for a 30x status; the image is where the client asked. */
        dq_buf_puts(out, ", \"status\": 200}\n");
        return;
    }
    const char *he = "Sign-in required", *hz = "需要登录",
               *ne = "This image belongs to a restricted relic. Sign in as a researcher to see it.",
               *nz = "此图像属于受限藏品，研究人员登录后可见。";
    if (why == DQ_IIIF_PROBE_BAD_TOKEN) {
        he = "Access not recognised";
        hz = "访问凭证无效";
        ne = "The access token is unknown or was revoked when you signed out. Sign in again.";
        nz = "访问令牌无效，或已在退出登录时撤销。请重新登录。";
    } else if (why == DQ_IIIF_PROBE_EXPIRED) {
        he = "Access expired";
        hz = "访问已过期";
        ne = "Your access has expired. Sign in again to continue.";
        nz = "访问已过期，请重新登录以继续。";
    } else if (why == DQ_IIIF_PROBE_NOT_ALLOWED) {
        he = "Not permitted";
        hz = "无权访问";
        ne = "Your account may not see this image.";
        nz = "您的帐户无权查看此图像。";
    }
    /* §5.2 status: what the image request would answer; heading and note should be there
     * when it is not a success. */
    dq_buf_puts(out, ", \"status\": 401, ");
    put_lmap(out, "heading", he, hz);
    dq_buf_puts(out, ", ");
    put_lmap(out, "note", ne, nz);
    dq_buf_puts(out, "}\n");
}

/* ---------------------------------------------------------------- the token service's query */

int dq_iiif_auth_origin_check(const char *origin, size_t len, char *out)
{
    char tmp[DQ_IIIF_AUTH_ORIGIN_MAX + 1];
    if (!origin || len == 0 || len > DQ_IIIF_AUTH_ORIGIN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = origin[i];
        tmp[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    tmp[len] = '\0';
    size_t p;
    if (strncmp(tmp, "https://", 8) == 0)
        p = 8;
    else if (strncmp(tmp, "http://", 7) == 0)
        p = 7;
    else
        return 0;
    /* The host: an IPv6 literal in brackets, or a name of letters, digits, '-' and '.' (what
     * a serialized origin holds after IDNA: punycode is ASCII). */
    size_t h = p;
    if (tmp[p] == '[') {
        p++;
        while (p < len && ((tmp[p] >= '0' && tmp[p] <= '9') || (tmp[p] >= 'a' && tmp[p] <= 'f') ||
                           tmp[p] == ':' || tmp[p] == '.'))
            p++;
        if (p >= len || tmp[p] != ']' || p == h + 1)
            return 0;
        p++;
    } else {
        while (p < len && ((tmp[p] >= 'a' && tmp[p] <= 'z') || (tmp[p] >= '0' && tmp[p] <= '9') ||
                           tmp[p] == '-' || tmp[p] == '.'))
            p++;
        if (p == h || tmp[h] == '.' || tmp[h] == '-')
            return 0;
    }
    /* An optional port, 1..65535, without leading zeros (the serialization has none). */
    if (p < len && tmp[p] == ':') {
        p++;
        size_t d = p;
        unsigned long port = 0;
        while (p < len && tmp[p] >= '0' && tmp[p] <= '9' && p - d < 5)
            port = port * 10 + (unsigned long)(tmp[p++] - '0');
        if (p == d || tmp[d] == '0' || port > 65535)
            return 0;
    }
    if (p != len) /* a path, query, fragment or user info: not an origin */
        return 0;
    if (out)
        memcpy(out, tmp, len + 1);
    return 1;
}

/* 1 when s[0..len) is UTF-8 (RFC 3629: shortest forms, no surrogates, at most U+10FFFF)
 * without C0 controls or DEL. */
static int text_ok(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
        if (n == 0 || c > 0xf4 || len - i <= n)
            return 0;
        unsigned cp = c & (0x3f >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += n + 1;
    }
    return 1;
}

int dq_iiif_auth_query_parse(const char *message_id, const char *origin, dq_iiif_auth_query_t *out,
                             dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    dq_err_t derr = {0};
    const char *bad = NULL;
    char *o = origin ? dq_str_pct_decode(origin, strlen(origin), &derr) : NULL;
    if (o && dq_iiif_auth_origin_check(o, strlen(o), out->origin))
        out->has_origin = 1;
    else
        bad = origin ? "origin is not an origin (scheme://host[:port])" : "origin is missing";
    char *m = message_id ? dq_str_pct_decode(message_id, strlen(message_id), &derr) : NULL;
    size_t ml = m ? strlen(m) : 0;
    if (m && ml >= 1 && ml <= DQ_IIIF_AUTH_MESSAGE_ID_MAX &&
        text_ok((const unsigned char *)m, ml)) {
        memcpy(out->message_id, m, ml + 1);
        out->has_message_id = 1;
    } else if (!bad) {
        bad = message_id ? "messageId must be 1..255 bytes of UTF-8 text" : "messageId is missing";
    }
    free(o);
    free(m);
    if (bad)
        return dq_err_set(err, DQ_EINVAL, 400, "%s", bad);
    return 0;
}

/* ---------------------------------------------------------------- messages and the page */

void dq_iiif_auth_token_message(const char *message_id, const char *token, int expires_in,
                                dq_buf_t *out)
{
    /* §4.4 */
    dq_buf_puts(out, "{\"@context\": \"" DQ_IIIF_AUTH_CONTEXT "\", \"type\": \"AuthAccessToken2\", "
                     "\"messageId\": ");
    put_str(out, message_id);
    dq_buf_puts(out, ", \"accessToken\": ");
    put_str(out, token);
    dq_buf_printf(out, ", \"expiresIn\": %d}", expires_in);
}

void dq_iiif_auth_token_error(const char *message_id, const char *profile, dq_buf_t *out)
{
    static const struct {
        const char *profile, *he, *hz, *ne, *nz;
    } texts[] = {
        {"invalidRequest", "Request not understood", "请求无效",
         "The viewer asked for a token without a valid messageId or origin.",
         "查看器请求令牌时缺少有效的 messageId 或 origin。"},
        {"invalidOrigin", "Wrong site", "来源站点不符",
         "You signed in for another site. Sign in again from this viewer.",
         "您的登录是为另一个站点授权的，请从当前查看器重新登录。"},
        {"missingAspect", "Not signed in", "尚未登录", "Sign in to see restricted images.",
         "请登录后查看受限图像。"},
        {"expiredAspect", "Sign-in expired", "登录已过期", "Sign in again to continue.",
         "请重新登录以继续。"},
        {"invalidAspect", "Sign-in not recognised", "登录凭证无效",
         "Your sign-in is unknown or was ended. Sign in again.",
         "登录凭证无效或已失效，请重新登录。"},
        {"unavailable", "Service unavailable", "服务暂不可用", "Please try again in a moment.",
         "请稍后再试。"},
    };
    size_t k = DQ_ARRAY_LEN(texts) - 1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(texts); i++)
        if (strcmp(texts[i].profile, profile) == 0)
            k = i;
    /* §4.5 */
    dq_buf_puts(out, "{\"@context\": \"" DQ_IIIF_AUTH_CONTEXT "\", \"type\": "
                     "\"AuthAccessTokenError2\", \"profile\": ");
    put_str(out, texts[k].profile);
    dq_buf_puts(out, ", \"messageId\": ");
    put_str(out, message_id ? message_id : "");
    dq_buf_puts(out, ", ");
    put_lmap(out, "heading", texts[k].he, texts[k].hz);
    dq_buf_puts(out, ", ");
    put_lmap(out, "note", texts[k].ne, texts[k].nz);
    dq_buf_putc(out, '}');
}

/* The page's one script. It is constant, so that the Content-Security-Policy can allow it by
 * its hash and nothing else: the message and the origin come from the data block (type
 * application/json is never run). window.opener when the client opened the service in a
 * window, window.parent for the iframe of §4.2; nothing when it is neither. If this text
 * changes, so must the hash below: tests/unit/iiif/test_auth.c recomputes it. */
#define TOKEN_SCRIPT                                                                               \
    "var d=JSON.parse(document.getElementById('m').textContent);"                                  \
    "var w=window.opener||window.parent;"                                                          \
    "if(w&&w!==window)w.postMessage(d.message,d.origin);"

const char dq_iiif_auth_token_csp[] =
    "default-src 'none'; script-src 'sha256-T4C1l2v56NwDO9gEvIU0AQtbXUXtjFS+1w4G9gRItjI='; "
    "base-uri 'none'; form-action 'none'";

void dq_iiif_auth_token_page(const char *message_json, const char *origin, dq_buf_t *out)
{
    dq_buf_puts(out, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                     "<title>IIIF access token</title></head><body>\n");
    if (!origin) {
        /* §4.3 wants a message, but postMessage needs a target origin: without a valid one
         * the page can only say why (the client waits for its own timeout). */
        dq_buf_puts(out, "<p>The token service needs an origin (scheme://host[:port]). "
                         "令牌服务需要有效的 origin 参数。</p>\n</body></html>\n");
        return;
    }
    dq_buf_puts(out, "<script type=\"application/json\" id=\"m\">{\"origin\": ");
    put_str(out, origin);
    dq_buf_puts(out, ", \"message\": ");
    dq_buf_puts(out, message_json); /* built by put_str: no '<' inside */
    dq_buf_puts(out, "}</script>\n<script>" TOKEN_SCRIPT "</script>\n</body></html>\n");
}
