/*
 * collect.c - the collector: a fa_sink that keeps a parser's stream (match,
 * players, events, tracking) in memory while forwarding every callback to
 * another sink (the store's import sink), so a match is analysed as it is
 * imported, in the same pass, without reading it back.
 *
 * Why forward first: the next sink (the store) is the authority on what is
 * accepted; when it refuses a record the parse stops with its error and
 * nothing more is collected.
 *
 * Why tracks, not frames: a frame's player ids point into the parser's
 * buffers and live only for the call, and a whole match of frames would be
 * ~25x larger than the per-object tracks analytics needs; so frames go
 * straight into fa_tracking (tracks.c), created on the first frame with the
 * match's pitch and frame rate (25 Hz when the provider gives none).
 *
 * Why bad tracking fails the import: fa_tracking_add refuses frames whose
 * time goes backwards. Such a stream is bad input; the collector records
 * the error (tracking_error, tracking_error_msg), stops feeding tracking and
 * returns the error to the parser, so the import fails with that message
 * and the database is left unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "analytics.h"

#define COLLECT_DEFAULT_RATE 25.0

/* Grows *items (elem bytes each) so that one more fits; 0 or FA_ENOMEM. */
static int reserve_one(void **items, size_t n, size_t *cap, size_t elem) {
    if (n < *cap) return 0;
    size_t cap2 = *cap ? *cap * 2 : 64;
    void *p = fa_realloc(*items, cap2 * elem);
    if (!p) return FA_ENOMEM;
    *items = p;
    *cap = cap2;
    return 0;
}

static int on_begin(void *ud, const fa_match *m) {
    fa_collector *c = ud;
    int rc = c->next && c->next->begin ? c->next->begin(c->next->ud, m) : 0;
    if (!rc) c->match = *m;
    return rc;
}

/* A player sent twice (a parser may refine one) replaces the first copy. */
static int on_player(void *ud, const fa_player *p) {
    fa_collector *c = ud;
    int rc = c->next && c->next->player ? c->next->player(c->next->ud, p) : 0;
    if (rc) return rc;
    for (size_t i = 0; i < c->nplayers; i++)
        if (strcmp(c->players[i].id, p->id) == 0) {
            c->players[i] = *p;
            return 0;
        }
    rc = reserve_one((void **)&c->players, c->nplayers, &c->cap_players, sizeof *c->players);
    if (!rc) c->players[c->nplayers++] = *p;
    return rc;
}

static int on_event(void *ud, const fa_event *e) {
    fa_collector *c = ud;
    int rc = c->next && c->next->event ? c->next->event(c->next->ud, e) : 0;
    if (!rc) rc = reserve_one((void **)&c->events, c->nevents, &c->cap_events, sizeof *c->events);
    if (!rc) c->events[c->nevents++] = *e;
    return rc;
}

static int start_tracking(fa_collector *c) {
    double rate = c->match.frame_rate > 0 ? c->match.frame_rate : COLLECT_DEFAULT_RATE;
    int rc = fa_tracking_init(&c->tracking, &c->match.pitch, rate);
    if (!rc) c->has_tracking = 1;
    return rc;
}

/* Records the first tracking error, naming the frame when there is one. */
static int tracking_failed(fa_collector *c, const fa_frame *f, int rc) {
    if (f) fa_err_prefix("frame %lld", (long long)f->frame);
    c->tracking_error = rc;
    fa_strlcpy_utf8(c->tracking_error_msg, fa_err_msg(), sizeof c->tracking_error_msg);
    return rc;
}

static int on_frame(void *ud, const fa_frame *f) {
    fa_collector *c = ud;
    int rc = c->next && c->next->frame ? c->next->frame(c->next->ud, f) : 0;
    if (rc) return rc;
    if (c->tracking_error) return c->tracking_error;
    if (!c->has_tracking && (rc = start_tracking(c))) return tracking_failed(c, NULL, rc);
    rc = fa_tracking_add(&c->tracking, f);
    return rc ? tracking_failed(c, f, rc) : 0;
}

/* The end callback carries the final match facts (a counted score). */
static int on_end(void *ud, const fa_match *m) {
    fa_collector *c = ud;
    int rc = c->next && c->next->end ? c->next->end(c->next->ud, m) : 0;
    if (!rc) c->match = *m;
    return rc;
}

/* Starts an empty collector forwarding to next (NULL: collect only); give
 * &c->sink to the parser. Free with fa_collector_free. */
void fa_collector_init(fa_collector *c, const fa_sink *next) {
    memset(c, 0, sizeof *c);
    fa_match_init(&c->match, FA_PROVIDER_UNKNOWN);
    c->next = next;
    c->sink = (fa_sink){c, on_begin, on_player, on_event, on_frame, on_end};
}

/* Frees what the collector holds (not next) and leaves it empty. */
void fa_collector_free(fa_collector *c) {
    if (!c) return;
    if (c->has_tracking) fa_tracking_free(&c->tracking);
    free(c->players);
    free(c->events);
    const fa_sink *next = c->next;
    fa_collector_init(c, next);
}
