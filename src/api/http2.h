/*
 * http2.h - internal to src/api: one HTTP/2 server connection (RFC 9113)
 * over nghttp2, as a byte-in / byte-out state machine with no socket of its
 * own, so the server plugs it in as a second protocol beside HTTP/1.1 and
 * the tests drive it in memory.
 *
 * The owner (server.c) moves bytes: what the peer sent goes to fa_h2_feed,
 * what fa_h2_output appends goes to the peer. A complete request (its
 * END_STREAM seen) comes out through callbacks.request as an
 * fa_http_request (version 2), and is answered, then or later, with
 * fa_h2_respond on its stream id. Streams are independent: a slow (deferred)
 * answer holds back nothing but its own stream.
 *
 * Three ways in:
 *   - prior knowledge (h2c): the first bytes of a cleartext connection are
 *     the client preface (fa_h2_is_preface);
 *   - TLS with ALPN "h2" (tls.h): the connection is HTTP/2 from its first byte;
 *   - HTTP/1.1 "Upgrade: h2c" (fa_h2_upgrade_requested, fa_h2_upgrade): the
 *     upgrading request becomes stream 1 and is answered over HTTP/2.
 *
 * Limits and defences (each a figure in fa_h2_config):
 *   - at most max_concurrent_streams open streams (nghttp2 refuses more);
 *   - a request's header list (RFC 9113 size: name + value + 32 per field)
 *     above max_header_bytes, or more than FA_HTTP_MAX_HEADERS fields, is
 *     answered 431 without reaching the application;
 *   - a body above max_body_bytes (by its content-length, or as it arrives)
 *     is answered 413 at once, and the rest of it is discarded;
 *   - requests are held in memory until they complete; when the bytes held
 *     for one connection's incomplete requests would pass 4 x max_body_bytes,
 *     the stream that brings more is reset with REFUSED_STREAM (nothing was
 *     processed: the client may retry it);
 *   - streams the client cancels (RST_STREAM, or closed before their answer
 *     went out) are counted by a token bucket (reset_burst, then reset_rate
 *     per second): beyond it the connection ends with GOAWAY
 *     ENHANCE_YOUR_CALM (the "rapid reset" attack, CVE-2023-44487). nghttp2's
 *     own reset limiter and its CONTINUATION cap stay on as a backstop;
 *   - anything nghttp2 finds malformed is a stream or connection error with
 *     RST_STREAM or GOAWAY, as RFC 9113 says.
 *
 * Not thread-safe: one fa_h2 belongs to one loop thread. Callbacks run
 * inside fa_h2_feed or fa_h2_upgrade and may call fa_h2_respond and
 * fa_h2_goaway, but must not free the fa_h2; fa_h2_output does nothing
 * there (collect the output once fa_h2_feed has returned).
 */
#ifndef FA_API_HTTP2_H
#define FA_API_HTTP2_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "api/http1.h"
#include "core/core.h"

typedef struct fa_h2 fa_h2;

typedef struct fa_h2_config {
    uint32_t max_concurrent_streams; /* 100 */
    uint32_t stream_window;          /* 1 MiB: each stream's initial receive window */
    uint32_t connection_window;      /* 1 MiB: the connection's receive window (65535 by default in h2) */
    size_t max_header_bytes;         /* 16 KiB: a request's header list; 431 beyond (the server's limit) */
    size_t max_body_bytes;           /* 1 MiB: a request's body; 413 beyond (the server's limit) */
    uint32_t reset_burst;            /* 200: cancelled streams allowed at once ... */
    uint32_t reset_rate;             /* 100: ... and per second after that; then GOAWAY(ENHANCE_YOUR_CALM) */
    const fa_h1_date *date;          /* the loop's Date, kept current by its owner; NULL: no date header */
    const char *peer;                /* the client's address, copied into each request ("" / NULL: unknown) */
} fa_h2_config;

typedef struct fa_h2_callbacks {
    void *ud;
    /* A complete request on stream_id. req and everything it points to
     * live until this returns; the callee answers with fa_h2_respond now or
     * later (copying what it needs from req first). req->id is 0: the
     * callee numbers requests. */
    void (*request)(void *ud, int32_t stream_id, fa_http_request *req);
} fa_h2_callbacks;

/* The defaults above, with no date and no peer. */
void fa_h2_config_default(fa_h2_config *c);

/* A server session that has queued its SETTINGS (max concurrent streams,
 * initial window, max header list size, no push) and the wider connection
 * window: call fa_h2_output to send them. c and cb are copied (c->date is
 * kept as a pointer). NULL with FA_ENOMEM or FA_EINVAL (a zero limit). */
fa_h2 *fa_h2_new(const fa_h2_config *c, const fa_h2_callbacks *cb);

/* Frees h, calling release for every borrowed body still held. NULL is a
 * no-op. */
void fa_h2_free(fa_h2 *h);

/* Whether p[0..n) starts with the client connection preface
 * "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": 1 yes, 0 no, -1 n is too short to say
 * (every byte so far matches). */
int fa_h2_is_preface(const char *p, size_t n);

/* Consumes all of in[0..n) (the preface first, on a new session),
 * answering frames and calling callbacks.request for each complete request.
 * Returns 0, or a negative FA_E* when the connection is beyond saving (not
 * HTTP/2, a flood, no memory; message set): the owner then sends what
 * fa_h2_output still gives (a GOAWAY) and closes. A protocol error that
 * nghttp2 answers with GOAWAY itself returns 0; fa_h2_should_close then
 * says so. */
int fa_h2_feed(fa_h2 *h, const uint8_t *in, size_t n);

/* Answers stream_id with resp: :status (500 when outside 200..599),
 * server, date, content-type, content-length (except 204 and 304), and
 * resp's extra headers with lower-cased names, leaving out the ones
 * HTTP/2 forbids or that frame the message (connection, keep-alive,
 * proxy-connection, transfer-encoding, upgrade, te, content-length) and
 * invalid ones. The body is resp->body_ref when set (kept, not copied,
 * until its last byte is in fa_h2_output's buffer or the stream ends, then
 * release(release_ud) is called exactly once) or else a copy of
 * resp->body. resp->release is taken over (set to NULL), so the caller
 * never releases it too. head_only (or a HEAD request) sends the length
 * but no body.
 * Returns 0; FA_ENOTFOUND when the stream is no longer open (the client
 * reset it, or the connection is ending on an error: nothing is sent;
 * this is normal for a deferred answer); FA_EINVAL when it was
 * already answered or never delivered; FA_ENOMEM. On every error the
 * borrowed body has been released. Call fa_h2_output afterwards. */
int fa_h2_respond(fa_h2 *h, int32_t stream_id, fa_http_response *resp, int head_only);

/* Appends the frames nghttp2 has ready to out, stopping once max bytes
 * (0 = no limit) have been appended (a frame is never split, so up to one
 * frame more can go in). Returns 1 when it stopped at max with more ready
 * (call again once out has drained), 0 when nothing more is ready for now,
 * or a negative FA_E* (no memory, or a broken session: close). */
int fa_h2_output(fa_h2 *h, fa_buf *out, size_t max);

/* Whether the session still reads input / has frames to send. */
int fa_h2_want_read(const fa_h2 *h);
int fa_h2_want_write(const fa_h2 *h);
/* Whether the connection is finished: nothing more to read or send (after
 * a GOAWAY either way and the last stream done, or a fatal error). Send
 * what fa_h2_output gave, then close. */
int fa_h2_should_close(const fa_h2 *h);
/* Streams opened by the client and not yet closed: requests arriving,
 * waiting for their answer, or being sent. 0 = idle connection. */
size_t fa_h2_streams(const fa_h2 *h);
/* Streams whose request is still arriving (headers or body incomplete):
 * what a request timeout applies to. */
size_t fa_h2_streams_receiving(const fa_h2 *h);

/* Graceful shutdown: GOAWAY(NO_ERROR) naming the last stream accepted, so
 * the client retries later streams elsewhere; open streams finish, then
 * fa_h2_should_close turns 1. Returns 0 or a negative FA_E*. */
int fa_h2_goaway(fa_h2 *h);

/* Whether an HTTP/1.1 request asks to upgrade to h2c (RFC 7540 section
 * 3.2): "Upgrade" lists h2c, "Connection" lists upgrade and http2-settings,
 * and exactly one HTTP2-Settings header is present. Only for cleartext
 * connections (over TLS, ALPN chooses). */
int fa_h2_upgrade_requested(const fa_http_request *req);

/* Switches a new session (nothing fed yet) to the HTTP/1.1 request req,
 * which asked for h2c: decodes HTTP2-Settings as the client's SETTINGS,
 * appends "HTTP/1.1 101 Switching Protocols" to out, opens stream 1
 * (half-closed: its request is complete) and delivers req on it through
 * callbacks.request (before this returns; :authority from Host, hop-by-hop
 * headers left out). The client's preface follows the request on the wire:
 * feed what the connection read after req. Returns 0, or FA_EINVAL with a
 * message (bad HTTP2-Settings): nothing was appended and the request should
 * be answered over HTTP/1.1 as if no upgrade was asked; FA_ENOMEM. */
int fa_h2_upgrade(fa_h2 *h, const fa_http_request *req, fa_buf *out);

#endif
