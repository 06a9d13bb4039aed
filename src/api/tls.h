/*
 * tls.h - internal to src/api: TLS for the server's connections (OpenSSL
 * 3), as a transport under HTTP/1.1 and HTTP/2: a non-blocking handshake,
 * then read and write calls shaped like recv and send, so the event loop
 * keeps its edge-triggered structure and only swaps the calls that move
 * bytes.
 *
 * One fa_tls_ctx per server (certificate, key, settings, session-ticket
 * keys), shared by every loop thread: OpenSSL allows SSL objects to be
 * made from one SSL_CTX on many threads. One fa_tls_conn per connection,
 * used by its loop thread only.
 *
 * Settings: TLS 1.2 and 1.3 (1.3 preferred by the protocol itself); for 1.2
 * only ECDHE key exchange with AEAD ciphers, which is also what HTTP/2
 * requires (RFC 9113 section 9.2.2); no renegotiation, no compression;
 * session tickets on, so returning clients skip a round trip; ALPN picks
 * "h2" over "http/1.1" when the client offers both, and none when it
 * offers neither (the client then speaks HTTP/1.1).
 *
 * The calls return a byte count (> 0) or one of:
 *   FA_TLS_WANT_READ   nothing can be done until the socket is readable
 *                      (wait for EPOLLIN), also from a write (TLS 1.3
 *                      key updates);
 *   FA_TLS_WANT_WRITE  nothing can be done until the socket is writable,
 *                      also from a read;
 *   FA_TLS_CLOSED      the peer ended the session (close_notify, or the
 *                      socket's end of input: HTTP's own framing tells a
 *                      truncated message from a complete one);
 *   FA_EIO             the connection failed (protocol error, reset),
 *                      message set: close it without fa_tls_shutdown.
 * After a WANT result, call again with the same unsent bytes first (more
 * may follow them): OpenSSL may have encrypted part of them already.
 *
 * Edge-triggered reads: a read that returns fewer bytes than asked does NOT
 * mean the socket is drained (OpenSSL reads whole records, and reads ahead):
 * keep reading until FA_TLS_WANT_READ, or, when stopping early, remember
 * that fa_tls_pending may hold bytes that no new epoll edge will announce.
 * Writes never raise SIGPIPE (the socket is written with MSG_NOSIGNAL).
 */
#ifndef FA_API_TLS_H
#define FA_API_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum { FA_TLS_WANT_READ = -100, FA_TLS_WANT_WRITE = -101, FA_TLS_CLOSED = -102 };

typedef struct fa_tls_ctx fa_tls_ctx;
typedef struct fa_tls_conn fa_tls_conn;

/* Loads the certificate chain (PEM, leaf first) and its private key (PEM)
 * and sets up the server settings above. NULL with a message naming the
 * file: FA_EINVAL when a file is missing, not PEM or the key does not
 * match the certificate, FA_EIO when it cannot be read. */
fa_tls_ctx *fa_tls_ctx_new(const char *cert_file, const char *key_file);
/* Whether ALPN may choose "h2" (on by default); off: only "http/1.1" is
 * agreed, for a server running without HTTP/2. */
void fa_tls_ctx_set_http2(fa_tls_ctx *ctx, int on);
/* Frees ctx; connections made from it must be freed first. NULL: no-op. */
void fa_tls_ctx_free(fa_tls_ctx *ctx);

/* A server-side TLS connection over the connected non-blocking socket fd
 * (which stays the caller's: fa_tls_conn_free does not close it). The
 * handshake starts with the first fa_tls_handshake. NULL with FA_ENOMEM. */
fa_tls_conn *fa_tls_accept(fa_tls_ctx *ctx, int fd);

/* Advances the handshake: 0 when it is complete (then fa_tls_alpn is
 * known), FA_TLS_WANT_READ / FA_TLS_WANT_WRITE, FA_TLS_CLOSED when the
 * peer left before finishing, FA_EIO when it failed (message says why,
 * e.g. a client speaking plain HTTP to the TLS port). */
int fa_tls_handshake(fa_tls_conn *c);

/* Reads up to n decrypted bytes into buf: the count, or a code above. */
ssize_t fa_tls_read(fa_tls_conn *c, void *buf, size_t n);

/* Writes up to n bytes of buf: the count written (may be less than n: the
 * rest is left for the next call), or a code above. */
ssize_t fa_tls_write(fa_tls_conn *c, const void *buf, size_t n);

/* Like fa_tls_write over iov[0..iovcnt), for an output queue of small
 * heads and large bodies: small pieces are coalesced into one TLS record
 * of up to 16 KiB (one record, one syscall, instead of one per piece), a
 * large first piece is written in place. Returns the count written from
 * the front of iov, or a code above. */
ssize_t fa_tls_writev(fa_tls_conn *c, const struct iovec *iov, int iovcnt);

/* Whether decrypted or received-but-unprocessed bytes are waiting inside
 * OpenSSL (a read would return data without the socket being readable). */
int fa_tls_pending(const fa_tls_conn *c);

/* The protocol ALPN chose: "h2", "http/1.1", or NULL when none was
 * negotiated (speak HTTP/1.1) or the handshake is not complete. */
const char *fa_tls_alpn(const fa_tls_conn *c);

/* The negotiated protocol version ("TLSv1.3"), for logs. */
const char *fa_tls_version(const fa_tls_conn *c);

/* Sends close_notify (once; it does not wait for the peer's): 0 when sent
 * or not needed (handshake incomplete, connection failed),
 * FA_TLS_WANT_WRITE / FA_TLS_WANT_READ (call again when the socket is
 * ready, or just close), FA_EIO. */
int fa_tls_shutdown(fa_tls_conn *c);

/* Frees c (not its socket). NULL: no-op. */
void fa_tls_conn_free(fa_tls_conn *c);

#endif
