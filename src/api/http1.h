/*
 * http1.h - internal to src/api: the HTTP/1.1 wire format (RFC 9112) as the
 * server needs it: an incremental request parser over a connection's read
 * buffer and the serialisation of response heads.
 *
 * The parser never copies or allocates: a complete request is handed out as
 * views (fa_strv) into the caller's buffer, plus the percent-decoded path in
 * a caller-supplied scratch area when the path holds escapes. It is
 * incremental the way picohttpparser is: while the head is incomplete it
 * only searches the new bytes for the blank line (memchr, vectorised in
 * libc), and parses the head once, when it is all there. A request whose
 * body arrives in later reads has its head parsed a second time when the
 * body completes, because the buffer may have moved in between (growth,
 * compaction); heads are small and bodies rare in this API, so this costs
 * less than keeping offsets instead of pointers.
 *
 * Strictness (each failure is an error with a status; the connection is then
 * closed, because after a framing error the next request's start is unknown):
 *   400  bad request line, invalid token character in the method or a header
 *        name, whitespace before the colon, CTL bytes in a value, a bare CR,
 *        obs-fold (a line starting with SP/HTAB), both Content-Length and
 *        Transfer-Encoding, duplicate or non-numeric Content-Length, missing or
 *        duplicate Host in HTTP/1.1, a target that is not origin-form,
 *        absolute-form or "*" (OPTIONS), bad or NUL percent-escapes in the path;
 *   411  Transfer-Encoding: chunked - request bodies must carry a
 *        Content-Length (the client can retry with one; nothing in this API
 *        streams uploads, so chunked decoding is not worth its risk);
 *   501  any other transfer coding (not understood, RFC 9112 section 6.1);
 *   505  a major version other than 1;
 *   431  a head (request line, headers, blank line, and any empty lines
 *        before the request line) longer than max_header_bytes, or more than
 *        FA_HTTP_MAX_HEADERS header lines;
 *   413  a Content-Length above max_body_bytes (known as soon as the head is
 *        in: the body is never read).
 * Lines may end in CRLF or a bare LF (RFC 9112 section 2.2 allows accepting
 * LF); empty lines before the request line are skipped.
 */
#ifndef FA_API_HTTP1_H
#define FA_API_HTTP1_H

#include <stddef.h>
#include <time.h>

#include "api/api.h"

typedef struct fa_h1_limits {
    size_t max_header_bytes;
    size_t max_body_bytes;
} fa_h1_limits;

/* Incremental state for the request at the start of the buffer. Zero it
 * (fa_h1_parser_reset) for a new connection; fa_h1_parse resets it itself
 * after each complete request. */
typedef struct fa_h1_parser {
    size_t start;        /* bytes of empty lines skipped before the request line */
    size_t scan;         /* where the search for the end of the head resumes */
    size_t head_len;     /* 0 until the head is complete; then its length from buf[0] */
    size_t body_len;     /* the Content-Length, valid once head_len != 0 */
    int expect_continue; /* the complete head asked for "100 Continue" and a body is due */
} fa_h1_parser;

typedef struct fa_h1_error {
    int status;       /* 400, 411, 413, 431, 501 or 505 */
    const char *what; /* static text: what was wrong */
    size_t at;        /* byte offset in the buffer where it was found */
} fa_h1_error;

void fa_h1_parser_reset(fa_h1_parser *p);

/* Parses the request at the start of buf[0..len), continuing from p.
 * scratch must hold at least lim->max_header_bytes bytes; it receives the
 * decoded path when the path has escapes and must stay untouched while req is
 * in use. Returns
 *    1  a complete request: req is filled (views into buf and scratch, id 0),
 *       *consumed = its length (head and body); p is reset for the next one;
 *    0  more bytes are needed (buf must keep its first len bytes, and may move
 *       or grow, for the next call; req is not filled);
 *   -1  the request is invalid: err says the status and why; p is undefined
 *       (the connection must be closed after the error response). */
int fa_h1_parse(fa_h1_parser *p, const char *buf, size_t len, const fa_h1_limits *lim, fa_http_request *req,
                char *scratch, fa_h1_error *err, size_t *consumed);

/* The total length (head and body) of the request being received, once its
 * head is complete; 0 before. Lets the server size its read buffer. */
size_t fa_h1_parser_need(const fa_h1_parser *p);

/* ---------------------------------------------------------------- responses */

/* The Date header's value, reformatted only when the second changes. */
typedef struct fa_h1_date {
    time_t sec;
    char text[64]; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
} fa_h1_date;

/* Sets d to the time now (seconds since the epoch, UTC); cheap when the
 * second has not changed. A zeroed fa_h1_date is valid input. */
void fa_h1_date_set(fa_h1_date *d, time_t now);

/* The reason phrase for a status ("OK", "Not Found"); "Unknown" for codes
 * without one. */
const char *fa_h1_reason(int status);

/* Decodes the %XX escapes of a path s[0..n) into out (which may be s: it
 * never writes ahead of what it reads), length in *out_n. 0, or -1 on a bad
 * escape, -2 on %00 (a NUL would cut the path short). Shared by HTTP/1.1
 * and HTTP/2, so a path means the same whichever protocol carried it. */
int fa_h1_percent_decode(const char *s, size_t n, char *out, size_t *out_n);
/* RFC 9110 tchar (the bytes of a header field name or a method). */
int fa_h1_is_tchar(unsigned char c);

enum {
    FA_H1_LENGTH = 1,    /* send Content-Length (not for 1xx, 204, 304) */
    FA_H1_CLOSE = 2,     /* send "Connection: close" */
    FA_H1_KEEP_ALIVE = 4 /* send "Connection: keep-alive" (an HTTP/1.0 client that asked for it) */
};

/* Appends a response head to out: status line, Server, Date, Content-Type
 * (when resp->content_type is set), Content-Length (content_length, with
 * FA_H1_LENGTH), resp's extra headers, Connection as flags say, blank line.
 * Extra headers that would break framing (Content-Length, Transfer-Encoding,
 * Connection), have an empty or non-token name, or hold CR, LF or NUL are
 * skipped. resp may be NULL (no content type, no extra headers). Returns 0 or
 * FA_ENOMEM. */
int fa_h1_write_head(fa_buf *out, int status, const fa_http_response *resp, size_t content_length,
                     unsigned flags, const fa_h1_date *date);

/* Appends a complete error response (problem+json body naming status and
 * detail, "Connection: close") to out; with head_only the body is left out
 * but its length still announced (a HEAD request). Returns 0 or FA_ENOMEM. */
int fa_h1_write_error(fa_buf *out, int status, const char *detail, int head_only, const fa_h1_date *date);

#endif
