/*
 * tracking_chunk.h - internal to src/store: the column-chunk codec for
 * tracking frames.
 *
 * A match has ~140 000 frames of ~23 objects; one row per sample would be
 * millions of rows. Instead the frames of one period and one 60 s window
 * are turned into columns (frame numbers, times, ball, then x[] and y[] per
 * player slot) and compressed with zstd as one blob. Columns of slowly
 * changing floats compress far better than interleaved records, and a time
 * range query reads only the chunks that overlap it.
 *
 * The codec is backend-neutral: it knows bytes, not SQL, so any store
 * backend can keep the blobs it produces.
 */
#ifndef FA_STORE_TRACKING_CHUNK_H
#define FA_STORE_TRACKING_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "model/model.h"

#define FA_TCHUNK_WINDOW_S 60.0        /* frames are grouped per period and window */
#define FA_TCHUNK_MAX_FRAMES 65536     /* per chunk */
#define FA_TCHUNK_MAX_SLOTS 4096       /* distinct (player, side) per chunk */
#define FA_TCHUNK_MAX_RAW (64u << 20)  /* uncompressed bytes per chunk */
#define FA_TCHUNK_CODEC "fatc1+zstd"   /* stored next to each blob */
#define FA_TCHUNK_ZSTD_LEVEL 3

/* ------------------------------------------------------------ writing */

typedef struct fa_tchunk_writer fa_tchunk_writer;

/* A writer with an empty chunk; NULL with FA_ENOMEM set on failure. */
fa_tchunk_writer *fa_tchunk_writer_new(void);
void fa_tchunk_writer_free(fa_tchunk_writer *w);

/* 1 when f belongs to the pending chunk (same period and window, room
 * left) or the chunk is empty; 0 when the pending chunk must be flushed
 * first. */
int fa_tchunk_writer_fits(const fa_tchunk_writer *w, const fa_frame *f);

/* Appends f to the pending chunk. Fails with FA_EINVAL (a message naming the
 * frame) on a non-finite time, more than FA_FRAME_MAX_PLAYERS players or a
 * bad side; the caller must have checked fa_tchunk_writer_fits(). */
int fa_tchunk_writer_add(fa_tchunk_writer *w, const fa_frame *f);

/* Frames pending, and their period and time span (t0 <= t1). */
size_t fa_tchunk_writer_frames(const fa_tchunk_writer *w);
void fa_tchunk_writer_span(const fa_tchunk_writer *w, int *period, double *t0, double *t1);

/* Encodes and compresses the pending frames into out (replacing its
 * contents), sets *raw_bytes to the uncompressed size and empties the
 * writer. Only call with frames pending. */
int fa_tchunk_writer_flush(fa_tchunk_writer *w, fa_buf *out, size_t *raw_bytes);

/* ------------------------------------------------------------ reading */

typedef struct fa_tchunk fa_tchunk;

/* Decompresses and validates a blob. raw_bytes is the uncompressed size
 * recorded next to the blob; any disagreement in sizes, counts or indices
 * fails with FA_EIO ("corrupt tracking chunk: ...") rather than reading
 * out of bounds. */
int fa_tchunk_decode(const void *blob, size_t n, size_t raw_bytes, fa_tchunk **out);
void fa_tchunk_free(fa_tchunk *c);

size_t fa_tchunk_frames(const fa_tchunk *c);
int fa_tchunk_period(const fa_tchunk *c);

/* Fills f with frame i (< fa_tchunk_frames). players must hold
 * FA_FRAME_MAX_PLAYERS entries; f->players points at it. Player and owner
 * ids point into c and stay valid until fa_tchunk_free(c). */
void fa_tchunk_frame(const fa_tchunk *c, size_t i, fa_frame *f, fa_frame_player *players);

#endif
