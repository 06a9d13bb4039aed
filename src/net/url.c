/*
 * url.c - parsing the http:// URLs of webhooks and other plain-HTTP peers.
 *
 * Accepted: http://host[:port][/path][?query][#fragment], where host is a
 * DNS name, an IPv4 address or a bracketed IPv6 literal ("[::1]:8080").
 * The scheme is case-insensitive (RFC 3986 section 3.1); the fragment is
 * dropped because it is never sent to a server; a query with no path gets
 * the path "/". The host is stored without the brackets (what getaddrinfo
 * wants); the HTTP client puts them back in the Host header.
 *
 * Why so strict: these URLs come from configuration and end up verbatim in
 * a request line and a Host header, so anything that could split or bend a
 * request (control characters, spaces, CR/LF, bytes >= 0x80, user info) is
 * refused up front with a message naming the column and the problem rather
 * than half-working. https is refused with FA_EUSAGE, not silently sent in
 * clear text: there is no TLS client yet. Messages never repeat the path,
 * which for webhooks often carries a secret token.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

static int url_error(size_t col, const char *problem) {
    return fa_err_set(FA_EINVAL, "url: column %zu: %s", col, problem);
}

/* Checks every byte: no control characters, spaces or non-ASCII. */
static int check_bytes(const char *text) {
    for (size_t i = 0; text[i]; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return fa_err_set(FA_EINVAL, "url: column %zu: control character 0x%02x", i + 1, c);
        if (c == ' ') return url_error(i + 1, "space (percent-encode it as %20)");
        if (c >= 0x80) return url_error(i + 1, "non-ASCII byte (percent-encode it)");
    }
    return 0;
}

/* Skips "http://"; returns the offset of the authority or < 0. */
static int parse_scheme(const char *text, size_t *at) {
    if (strncasecmp(text, "https://", 8) == 0)
        return fa_err_set(FA_EUSAGE, "url: https is not supported (no TLS client): use http://");
    if (strncasecmp(text, "http://", 7) != 0)
        return fa_err_set(FA_EINVAL, "url: column 1: expected http://host[:port][/path]");
    *at = 7;
    return 0;
}

static int host_char_ok(char c) { return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_'; }

static int v6_char_ok(char c) { return isxdigit((unsigned char)c) || c == ':' || c == '.'; }

/* Refuses "user[:password]@" before the host: never sent, often a secret. */
static int check_no_userinfo(const char *text, size_t at) {
    size_t authority = strcspn(text + at, "/?#");
    const char *at_sign = memchr(text + at, '@', authority);
    if (at_sign) return url_error((size_t)(at_sign - text) + 1, "user info (user@host) is not supported");
    return 0;
}

/* Copies the host at text[*at..) into out->host and advances *at. */
static int parse_host(const char *text, size_t *at, fa_url *out) {
    size_t start = *at, end = start, col = start + 1;
    int bracketed = text[start] == '[';
    if (bracketed) {
        end = ++start;
        while (v6_char_ok(text[end])) end++;
        if (text[end] != ']')
            return url_error(end + 1, "IPv6 literal: expected hex digits, ':' or '.' then ']'");
        if (end == start) return url_error(col, "empty IPv6 literal");
    } else {
        while (host_char_ok(text[end])) end++;
        if (end == start) return url_error(col, "missing host");
    }
    size_t len = end - start;
    if (len >= sizeof out->host)
        return fa_err_set(FA_EINVAL, "url: column %zu: host longer than %zu bytes", col,
                          sizeof out->host - 1);
    memcpy(out->host, text + start, len);
    out->host[len] = '\0';
    *at = end + (size_t)bracketed;
    return 0;
}

static int parse_port(const char *text, size_t *at, fa_url *out) {
    out->port = 80;
    if (text[*at] != ':') return 0;
    size_t start = ++*at, col = start + 1;
    long port = 0;
    while (isdigit((unsigned char)text[*at])) {
        port = port * 10 + (text[*at] - '0');
        if (port > 65535) break;
        ++*at;
    }
    if (*at == start) return url_error(col, "bad port: expected digits after ':'");
    if (port < 1 || port > 65535) return url_error(col, "bad port: expected 1-65535");
    if (text[*at] && text[*at] != '/' && text[*at] != '?' && text[*at] != '#')
        return url_error(*at + 1, "bad port: expected digits, then '/', '?' or the end");
    out->port = (int)port;
    return 0;
}

/* The rest: path and query, fragment dropped. */
static int parse_path(const char *text, size_t at, fa_url *out) {
    const char *p = text + at;
    if (*p && *p != '/' && *p != '?' && *p != '#')
        return url_error(at + 1, "expected ':port', '/', '?' or the end after the host");
    size_t len = strcspn(p, "#");
    int slash = *p != '/';
    if (len + (size_t)slash >= sizeof out->path)
        return fa_err_set(FA_EINVAL, "url: column %zu: path longer than %zu bytes", at + 1,
                          sizeof out->path - 1);
    out->path[0] = '/';
    memcpy(out->path + slash, p, len);
    out->path[len + (size_t)slash] = '\0';
    return 0;
}

int fa_url_parse(const char *text, fa_url *out) {
    memset(out, 0, sizeof *out);
    if (!text) return fa_err_set(FA_EINVAL, "url: missing (NULL)");
    size_t at = 0;
    int rc = check_bytes(text);
    if (rc == 0) rc = parse_scheme(text, &at);
    if (rc == 0) rc = check_no_userinfo(text, at);
    if (rc == 0) rc = parse_host(text, &at, out);
    if (rc == 0) rc = parse_port(text, &at, out);
    if (rc == 0) rc = parse_path(text, at, out);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}
