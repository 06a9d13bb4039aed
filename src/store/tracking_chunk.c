/*
 * tracking_chunk.c - tracking frames <-> compressed column chunks.
 *
 * Why columns: consecutive frames differ little, so the same quantity laid
 * out frame after frame (a player's x, the frame number deltas, the ball's
 * height) is highly repetitive and zstd shrinks it several times more than
 * interleaved records. Why slots: players come and go (substitutions,
 * players leaving the camera's view), so each distinct (player id, side) of
 * a chunk gets a slot with a full-length x[] and y[] column, NAN where the
 * player is absent; a per-frame list of slot numbers keeps who was present
 * and in which order, so a frame reads back exactly as it was written (even
 * a present player whose coordinates are NAN).
 *
 * Uncompressed layout, all little-endian (n frames, s slots, L list entries):
 *
 *   header   "FATC" u16 version=1 u16 0 i32 period u32 n u32 s u32 L   (24 bytes)
 *   slots    s x { i8 side, u8 len, len bytes of player id }
 *   columns  u64 frame delta[n] (from 0, then from the previous frame)
 *            f64 t[n]; f32 ball_x[n], ball_y[n], ball_z[n]
 *            i8 ball_alive[n]; i8 owner_side[n]; u16 owner_slot[n] (0xFFFF none)
 *            u8 count[n]; u16 slot list[L] (count[i] entries per frame)
 *            per slot: f32 x[n], f32 y[n]
 *
 * The blob is that layout compressed with zstd; the decoder checks every
 * size, count and index against the bytes it actually has before trusting
 * them, because a database file can be damaged or edited by hand.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "tracking_chunk.h"

#define TC_MAGIC "FATC"
#define TC_VERSION 1
#define TC_HEADER 24
#define TC_PER_FRAME 33 /* fixed bytes per frame: 8+8+4*3+1+1+2+1 */
#define TC_NO_SLOT 0xFFFFu

/* ------------------------------------------------------------ byte helpers */

static unsigned char *put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    return p + 2;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static unsigned char *put_f32(unsigned char *p, float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return put_u32(p, u);
}

static unsigned char *put_f64(unsigned char *p, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return put_u64(p, u);
}

static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static float get_f32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static double get_f64(const unsigned char *p) {
    uint64_t u = get_u64(p);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Uncompressed size of a chunk, in 64 bits so no count can overflow it. */
static uint64_t layout_size(uint64_t n, uint64_t slots, uint64_t slot_id_bytes, uint64_t list_len) {
    return TC_HEADER + 2 * slots + slot_id_bytes + n * TC_PER_FRAME + 2 * list_len + slots * 8 * n;
}

/* Grows an array to cap elements; returns FA_ENOMEM from the enclosing function on failure. */
#define TC_GROW(ptr, cap)                                        \
    do {                                                         \
        void *grown_ = fa_realloc((ptr), (cap) * sizeof *(ptr)); \
        if (!grown_) return FA_ENOMEM;                           \
        (ptr) = grown_;                                          \
    } while (0)

/* ------------------------------------------------------------ writer */

typedef struct tc_slot {
    char id[FA_ID_MAX];
    int side;
    float *x, *y;   /* values for frames [0, len); the rest are absent */
    size_t len, cap;
    size_t used_in; /* 1 + the last frame that placed this slot */
} tc_slot;

struct fa_tchunk_writer {
    int period;
    double window_index, t0, t1;
    size_t n, cap; /* frames pending, column capacity */
    int64_t *frame;
    double *t;
    float *ball_x, *ball_y, *ball_z;
    int8_t *alive, *owner_side;
    uint16_t *owner_slot;
    uint8_t *count;
    uint16_t *list;
    size_t list_len, list_cap;
    tc_slot *slots; /* [n_slots] in use; [n_slots, slots_cap) keep buffers for reuse */
    size_t n_slots, slots_cap, slot_id_bytes;
    uint16_t prev[FA_FRAME_MAX_PLAYERS]; /* the previous frame's slots: the usual answer */
    size_t prev_n;
    uint16_t last_owner;
    fa_buf raw;
    ZSTD_CCtx *cctx;
};

fa_tchunk_writer *fa_tchunk_writer_new(void) {
    fa_tchunk_writer *w = fa_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
        free(w);
        fa_err_set(FA_ENOMEM, "out of memory creating a zstd compressor");
        return NULL;
    }
    w->last_owner = TC_NO_SLOT;
    return w;
}

void fa_tchunk_writer_free(fa_tchunk_writer *w) {
    if (!w) return;
    free(w->frame);
    free(w->t);
    free(w->ball_x);
    free(w->ball_y);
    free(w->ball_z);
    free(w->alive);
    free(w->owner_side);
    free(w->owner_slot);
    free(w->count);
    free(w->list);
    for (size_t i = 0; i < w->slots_cap; i++) {
        free(w->slots[i].x);
        free(w->slots[i].y);
    }
    free(w->slots);
    fa_buf_free(&w->raw);
    ZSTD_freeCCtx(w->cctx);
    free(w);
}

size_t fa_tchunk_writer_frames(const fa_tchunk_writer *w) { return w->n; }

void fa_tchunk_writer_span(const fa_tchunk_writer *w, int *period, double *t0, double *t1) {
    *period = w->period;
    *t0 = w->t0;
    *t1 = w->t1;
}

int fa_tchunk_writer_fits(const fa_tchunk_writer *w, const fa_frame *f) {
    if (w->n == 0) return 1;
    if (f->period != w->period || floor(f->t / FA_TCHUNK_WINDOW_S) != w->window_index) return 0;
    if (w->n >= FA_TCHUNK_MAX_FRAMES || w->n_slots + f->n + 1 > FA_TCHUNK_MAX_SLOTS) return 0;
    uint64_t worst = layout_size(w->n + 1, w->n_slots + f->n + 1,
                                 w->slot_id_bytes + (f->n + 1) * (FA_ID_MAX - 1), w->list_len + f->n);
    return worst <= FA_TCHUNK_MAX_RAW;
}

static int valid_side(int side) { return side >= FA_SIDE_NONE && side <= FA_SIDE_AWAY; }

static int check_frame(const fa_frame *f) {
    const char *what = NULL;
    if (!isfinite(f->t)) what = "time is not a finite number";
    else if (f->n > FA_FRAME_MAX_PLAYERS) what = "more than 64 players";
    else if (f->n && !f->players) what = "players missing";
    else if (!valid_side(f->ball_owner_side)) what = "ball owner side is not -1, 0 or 1";
    else if (f->ball_alive < -1 || f->ball_alive > 1) what = "ball_alive is not -1, 0 or 1";
    for (size_t i = 0; !what && i < f->n; i++)
        if (!valid_side(f->players[i].side)) what = "a player's side is not -1, 0 or 1";
    if (!what) return 0;
    return fa_err_set(FA_EINVAL, "tracking frame %lld (period %d, t %g): %s", (long long)f->frame, f->period,
                      f->t, what);
}

static int grow_frames(fa_tchunk_writer *w) {
    size_t cap = w->cap ? w->cap * 2 : 512;
    TC_GROW(w->frame, cap);
    TC_GROW(w->t, cap);
    TC_GROW(w->ball_x, cap);
    TC_GROW(w->ball_y, cap);
    TC_GROW(w->ball_z, cap);
    TC_GROW(w->alive, cap);
    TC_GROW(w->owner_side, cap);
    TC_GROW(w->owner_slot, cap);
    TC_GROW(w->count, cap);
    w->cap = cap;
    return 0;
}

static int grow_list(fa_tchunk_writer *w, size_t extra) {
    if (w->list_len + extra <= w->list_cap) return 0;
    size_t cap = w->list_cap ? w->list_cap * 2 : 4096;
    while (cap < w->list_len + extra) cap *= 2;
    TC_GROW(w->list, cap);
    w->list_cap = cap;
    return 0;
}

static int slot_set(tc_slot *s, size_t i, float x, float y) {
    if (i >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 512;
        while (cap <= i) cap *= 2;
        TC_GROW(s->x, cap);
        TC_GROW(s->y, cap);
        s->cap = cap;
    }
    for (size_t j = s->len; j < i; j++) s->x[j] = s->y[j] = NAN;
    s->x[i] = x;
    s->y[i] = y;
    s->len = i + 1;
    return 0;
}

/* The id as stored: truncated to FA_ID_MAX - 1 bytes on a UTF-8 boundary. */
static const char *slot_key(const char *id, char *buf) {
    if (!id) return "";
    if (strnlen(id, FA_ID_MAX) < FA_ID_MAX) return id;
    fa_strlcpy_utf8(buf, id, FA_ID_MAX);
    return buf;
}

static int slot_free_for(const tc_slot *s, const char *key, int side, size_t frame1) {
    return s->side == side && s->used_in != frame1 && strcmp(s->id, key) == 0;
}

/* A new slot; the caller has checked the slot limit. */
static int slot_new(fa_tchunk_writer *w, const char *key, int side, uint16_t *out) {
    if (w->n_slots == w->slots_cap) {
        size_t cap = w->slots_cap ? w->slots_cap * 2 : 32;
        TC_GROW(w->slots, cap);
        memset(w->slots + w->slots_cap, 0, (cap - w->slots_cap) * sizeof *w->slots);
        w->slots_cap = cap;
    }
    tc_slot *s = &w->slots[w->n_slots];
    fa_strlcpy_utf8(s->id, key, sizeof s->id);
    s->side = side;
    s->len = 0;
    s->used_in = 0;
    w->slot_id_bytes += strlen(s->id);
    *out = (uint16_t)w->n_slots++;
    return 0;
}

/* Finds the slot of player j of frame i (1 + i = frame1), trying the slot the
 * same position had in the previous frame first; creates one when none fits. */
static int slot_for_player(fa_tchunk_writer *w, const fa_frame_player *p, size_t j, size_t frame1,
                           uint16_t *out) {
    char buf[FA_ID_MAX];
    const char *key = slot_key(p->player_id, buf);
    if (j < w->prev_n && slot_free_for(&w->slots[w->prev[j]], key, p->side, frame1)) {
        *out = w->prev[j];
        return 0;
    }
    for (size_t s = 0; s < w->n_slots; s++) {
        if (slot_free_for(&w->slots[s], key, p->side, frame1)) {
            *out = (uint16_t)s;
            return 0;
        }
    }
    return slot_new(w, key, p->side, out);
}

static int place_players(fa_tchunk_writer *w, const fa_frame *f, size_t i) {
    for (size_t j = 0; j < f->n; j++) {
        const fa_frame_player *p = &f->players[j];
        uint16_t s;
        int rc = slot_for_player(w, p, j, i + 1, &s);
        if (!rc) rc = slot_set(&w->slots[s], i, p->x, p->y);
        if (rc) return rc;
        w->slots[s].used_in = i + 1;
        w->list[w->list_len++] = s;
        w->prev[j] = s;
    }
    w->prev_n = f->n;
    w->count[i] = (uint8_t)f->n;
    return 0;
}

static int place_owner(fa_tchunk_writer *w, const fa_frame *f, size_t i) {
    w->owner_slot[i] = TC_NO_SLOT;
    if (!f->ball_owner_id) return 0;
    char buf[FA_ID_MAX];
    const char *key = slot_key(f->ball_owner_id, buf);
    if (w->last_owner != TC_NO_SLOT && w->last_owner < w->n_slots &&
        strcmp(w->slots[w->last_owner].id, key) == 0) {
        w->owner_slot[i] = w->last_owner;
        return 0;
    }
    for (size_t s = 0; s < w->n_slots; s++) {
        if (strcmp(w->slots[s].id, key) == 0) {
            w->owner_slot[i] = w->last_owner = (uint16_t)s;
            return 0;
        }
    }
    int rc = slot_new(w, key, FA_SIDE_NONE, &w->owner_slot[i]);
    if (!rc) w->last_owner = w->owner_slot[i];
    return rc;
}

static void put_scalars(fa_tchunk_writer *w, const fa_frame *f, size_t i) {
    w->frame[i] = f->frame;
    w->t[i] = f->t;
    w->ball_x[i] = f->ball_x;
    w->ball_y[i] = f->ball_y;
    w->ball_z[i] = f->ball_z;
    w->alive[i] = (int8_t)f->ball_alive;
    w->owner_side[i] = (int8_t)f->ball_owner_side;
}

int fa_tchunk_writer_add(fa_tchunk_writer *w, const fa_frame *f) {
    int rc = check_frame(f);
    if (rc) return rc;
    if (w->n >= FA_TCHUNK_MAX_FRAMES || w->n_slots + f->n + 1 > FA_TCHUNK_MAX_SLOTS)
        return fa_err_set(FA_ELIMIT, "tracking frame %lld: chunk is full (flush it first)",
                          (long long)f->frame);
    if (w->n == w->cap && (rc = grow_frames(w))) return rc;
    if ((rc = grow_list(w, f->n))) return rc;
    if (w->n == 0) {
        w->period = f->period;
        w->window_index = floor(f->t / FA_TCHUNK_WINDOW_S);
        w->t0 = w->t1 = f->t;
    }
    size_t i = w->n;
    put_scalars(w, f, i);
    if ((rc = place_players(w, f, i)) || (rc = place_owner(w, f, i))) return rc;
    w->t0 = fmin(w->t0, f->t);
    w->t1 = fmax(w->t1, f->t);
    w->n++;
    return 0;
}

static unsigned char *write_header_and_slots(const fa_tchunk_writer *w, unsigned char *p) {
    memcpy(p, TC_MAGIC, 4);
    p = put_u16(p + 4, TC_VERSION);
    p = put_u16(p, 0);
    p = put_u32(p, (uint32_t)w->period);
    p = put_u32(p, (uint32_t)w->n);
    p = put_u32(p, (uint32_t)w->n_slots);
    p = put_u32(p, (uint32_t)w->list_len);
    for (size_t s = 0; s < w->n_slots; s++) {
        size_t len = strlen(w->slots[s].id);
        *p++ = (unsigned char)(int8_t)w->slots[s].side;
        *p++ = (unsigned char)len;
        memcpy(p, w->slots[s].id, len);
        p += len;
    }
    return p;
}

static unsigned char *write_frame_columns(const fa_tchunk_writer *w, unsigned char *p) {
    uint64_t prev = 0;
    for (size_t i = 0; i < w->n; i++) {
        p = put_u64(p, (uint64_t)w->frame[i] - prev);
        prev = (uint64_t)w->frame[i];
    }
    for (size_t i = 0; i < w->n; i++) p = put_f64(p, w->t[i]);
    for (size_t i = 0; i < w->n; i++) p = put_f32(p, w->ball_x[i]);
    for (size_t i = 0; i < w->n; i++) p = put_f32(p, w->ball_y[i]);
    for (size_t i = 0; i < w->n; i++) p = put_f32(p, w->ball_z[i]);
    for (size_t i = 0; i < w->n; i++) *p++ = (unsigned char)w->alive[i];
    for (size_t i = 0; i < w->n; i++) *p++ = (unsigned char)w->owner_side[i];
    for (size_t i = 0; i < w->n; i++) p = put_u16(p, w->owner_slot[i]);
    memcpy(p, w->count, w->n);
    p += w->n;
    for (size_t k = 0; k < w->list_len; k++) p = put_u16(p, w->list[k]);
    return p;
}

static unsigned char *write_slot_columns(const fa_tchunk_writer *w, unsigned char *p) {
    for (size_t s = 0; s < w->n_slots; s++) {
        const tc_slot *sl = &w->slots[s];
        for (size_t i = 0; i < w->n; i++) p = put_f32(p, i < sl->len ? sl->x[i] : NAN);
        for (size_t i = 0; i < w->n; i++) p = put_f32(p, i < sl->len ? sl->y[i] : NAN);
    }
    return p;
}

static void writer_clear(fa_tchunk_writer *w) {
    w->n = 0;
    w->list_len = 0;
    w->n_slots = 0;
    w->slot_id_bytes = 0;
    w->prev_n = 0;
    w->last_owner = TC_NO_SLOT;
}

static int compress_into(fa_tchunk_writer *w, fa_buf *out) {
    size_t bound = ZSTD_compressBound(w->raw.len);
    fa_buf_reset(out);
    if (fa_buf_reserve(out, bound)) return FA_ENOMEM;
    size_t got = ZSTD_compressCCtx(w->cctx, out->data, bound, w->raw.data, w->raw.len, FA_TCHUNK_ZSTD_LEVEL);
    if (ZSTD_isError(got))
        return fa_err_set(FA_EIO, "tracking chunk: zstd compression failed: %s", ZSTD_getErrorName(got));
    out->len = got;
    out->data[got] = '\0';
    return 0;
}

int fa_tchunk_writer_flush(fa_tchunk_writer *w, fa_buf *out, size_t *raw_bytes) {
    size_t size = (size_t)layout_size(w->n, w->n_slots, w->slot_id_bytes, w->list_len);
    fa_buf_reset(&w->raw);
    if (fa_buf_reserve(&w->raw, size)) return FA_ENOMEM;
    unsigned char *start = (unsigned char *)w->raw.data;
    unsigned char *p = write_header_and_slots(w, start);
    p = write_frame_columns(w, p);
    p = write_slot_columns(w, p);
    w->raw.len = (size_t)(p - start);
    if (w->raw.len != size)
        return fa_err_set(FA_EIO, "tracking chunk: encoded %zu bytes, expected %zu", w->raw.len, size);
    int rc = compress_into(w, out);
    if (rc) return rc;
    *raw_bytes = size;
    writer_clear(w);
    return 0;
}

/* ------------------------------------------------------------ reader */

typedef struct tc_slot_ro {
    char id[FA_ID_MAX];
    int side;
} tc_slot_ro;

struct fa_tchunk {
    unsigned char *raw;
    size_t raw_len;
    int period;
    size_t n, n_slots, list_len;
    tc_slot_ro *slots;
    int64_t *frame;   /* decoded from the deltas */
    uint32_t *list_at; /* [n + 1]: where each frame's slot list starts */
    const unsigned char *t, *ball_x, *ball_y, *ball_z, *alive, *owner_side, *owner_slot, *count, *list, *xy;
};

static int corrupt(const char *fmt, ...) FA_PRINTF(1, 2);
static int corrupt(const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EIO, "corrupt tracking chunk: %s", msg);
}

void fa_tchunk_free(fa_tchunk *c) {
    if (!c) return;
    free(c->raw);
    free(c->slots);
    free(c->frame);
    free(c->list_at);
    free(c);
}

size_t fa_tchunk_frames(const fa_tchunk *c) { return c->n; }

int fa_tchunk_period(const fa_tchunk *c) { return c->period; }

static int inflate_blob(fa_tchunk *c, const void *blob, size_t n, size_t raw_bytes) {
    unsigned long long want = n ? ZSTD_getFrameContentSize(blob, n) : ZSTD_CONTENTSIZE_ERROR;
    if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN)
        return corrupt("not a zstd frame with a known size (%zu bytes)", n);
    if (want != raw_bytes) return corrupt("content size %llu, recorded %zu", want, raw_bytes);
    if (want < TC_HEADER || want > FA_TCHUNK_MAX_RAW) return corrupt("content size %llu out of range", want);
    c->raw = fa_malloc((size_t)want);
    if (!c->raw) return FA_ENOMEM;
    size_t got = ZSTD_decompress(c->raw, (size_t)want, blob, n);
    if (ZSTD_isError(got)) return corrupt("zstd: %s", ZSTD_getErrorName(got));
    if (got != want) return corrupt("decompressed %zu bytes, expected %llu", got, want);
    c->raw_len = got;
    return 0;
}

static int parse_header(fa_tchunk *c) {
    const unsigned char *p = c->raw;
    if (memcmp(p, TC_MAGIC, 4) != 0) return corrupt("bad magic");
    if (get_u16(p + 4) != TC_VERSION) return corrupt("unknown version %u", get_u16(p + 4));
    c->period = (int)(int32_t)get_u32(p + 8);
    c->n = get_u32(p + 12);
    c->n_slots = get_u32(p + 16);
    c->list_len = get_u32(p + 20);
    if (c->n == 0 || c->n > FA_TCHUNK_MAX_FRAMES) return corrupt("%zu frames", c->n);
    if (c->n_slots > FA_TCHUNK_MAX_SLOTS) return corrupt("%zu player slots", c->n_slots);
    if (c->list_len > c->n * FA_FRAME_MAX_PLAYERS) return corrupt("%zu slot list entries", c->list_len);
    return 0;
}

/* Reads the slot table; *end = offset just past it. */
static int parse_slots(fa_tchunk *c, size_t *end) {
    c->slots = fa_calloc(c->n_slots, sizeof *c->slots);
    if (!c->slots) return FA_ENOMEM;
    size_t at = TC_HEADER;
    for (size_t s = 0; s < c->n_slots; s++) {
        if (at + 2 > c->raw_len) return corrupt("slot table truncated at slot %zu", s);
        int side = (int8_t)c->raw[at];
        size_t len = c->raw[at + 1];
        if (!valid_side(side)) return corrupt("slot %zu: side %d", s, side);
        if (len >= FA_ID_MAX || at + 2 + len > c->raw_len) return corrupt("slot %zu: id length %zu", s, len);
        memcpy(c->slots[s].id, c->raw + at + 2, len);
        c->slots[s].side = side;
        at += 2 + len;
    }
    *end = at;
    return 0;
}

static void place_columns(fa_tchunk *c, size_t at) {
    const unsigned char *p = c->raw + at + 8 * c->n; /* frame deltas are decoded separately */
    c->t = p;
    c->ball_x = c->t + 8 * c->n;
    c->ball_y = c->ball_x + 4 * c->n;
    c->ball_z = c->ball_y + 4 * c->n;
    c->alive = c->ball_z + 4 * c->n;
    c->owner_side = c->alive + c->n;
    c->owner_slot = c->owner_side + c->n;
    c->count = c->owner_slot + 2 * c->n;
    c->list = c->count + c->n;
    c->xy = c->list + 2 * c->list_len;
}

static int check_frame_bytes(const fa_tchunk *c, size_t i) {
    int alive = (int8_t)c->alive[i], side = (int8_t)c->owner_side[i];
    uint16_t owner = get_u16(c->owner_slot + 2 * i);
    if (alive < -1 || alive > 1) return corrupt("frame %zu: ball_alive %d", i, alive);
    if (!valid_side(side)) return corrupt("frame %zu: owner side %d", i, side);
    if (owner != TC_NO_SLOT && owner >= c->n_slots) return corrupt("frame %zu: owner slot %u", i, owner);
    if (c->count[i] > FA_FRAME_MAX_PLAYERS) return corrupt("frame %zu: %u players", i, c->count[i]);
    return 0;
}

/* Validates the per-frame bytes and builds the frame numbers and list offsets. */
static int index_frames(fa_tchunk *c, size_t at) {
    c->frame = fa_malloc(c->n * sizeof *c->frame);
    c->list_at = fa_malloc((c->n + 1) * sizeof *c->list_at);
    if (!c->frame || !c->list_at) return FA_ENOMEM;
    uint64_t frame = 0;
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) {
        int rc = check_frame_bytes(c, i);
        if (rc) return rc;
        frame += get_u64(c->raw + at + 8 * i);
        c->frame[i] = (int64_t)frame;
        c->list_at[i] = (uint32_t)total;
        total += c->count[i];
    }
    c->list_at[c->n] = (uint32_t)total;
    if (total != c->list_len) return corrupt("frames list %zu players, header says %zu", total, c->list_len);
    for (size_t k = 0; k < c->list_len; k++)
        if (get_u16(c->list + 2 * k) >= c->n_slots) return corrupt("slot list entry %zu out of range", k);
    return 0;
}

static int parse_chunk(fa_tchunk *c) {
    size_t at = TC_HEADER;
    int rc = parse_header(c);
    if (!rc) rc = parse_slots(c, &at);
    if (rc) return rc;
    uint64_t want = layout_size(c->n, c->n_slots, at - TC_HEADER - 2 * c->n_slots, c->list_len);
    if (want != c->raw_len)
        return corrupt("%zu bytes, layout needs %llu", c->raw_len, (unsigned long long)want);
    place_columns(c, at);
    return index_frames(c, at);
}

int fa_tchunk_decode(const void *blob, size_t n, size_t raw_bytes, fa_tchunk **out) {
    *out = NULL;
    fa_tchunk *c = fa_calloc(1, sizeof *c);
    if (!c) return FA_ENOMEM;
    int rc = inflate_blob(c, blob, n, raw_bytes);
    if (!rc) rc = parse_chunk(c);
    if (rc) {
        fa_tchunk_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void fa_tchunk_frame(const fa_tchunk *c, size_t i, fa_frame *f, fa_frame_player *players) {
    size_t n = c->n;
    uint16_t owner = get_u16(c->owner_slot + 2 * i);
    f->frame = c->frame[i];
    f->period = c->period;
    f->t = get_f64(c->t + 8 * i);
    f->ball_x = get_f32(c->ball_x + 4 * i);
    f->ball_y = get_f32(c->ball_y + 4 * i);
    f->ball_z = get_f32(c->ball_z + 4 * i);
    f->ball_alive = (int8_t)c->alive[i];
    f->ball_owner_side = (fa_side)(int8_t)c->owner_side[i];
    f->ball_owner_id = owner == TC_NO_SLOT ? NULL : c->slots[owner].id;
    f->n = c->count[i];
    for (size_t k = 0; k < f->n; k++) {
        uint16_t s = get_u16(c->list + 2 * (c->list_at[i] + k));
        const unsigned char *col = c->xy + (size_t)s * 8 * n;
        players[k].player_id = c->slots[s].id;
        players[k].side = (fa_side)c->slots[s].side;
        players[k].x = get_f32(col + 4 * i);
        players[k].y = get_f32(col + 4 * n + 4 * i);
    }
    f->players = players;
}
