/*
 * feed.c - the detector feed: RGB frames from the transcode's own decode,
 * handed to a consumer thread through a bounded queue.
 *
 * Why no copy: the frames come out of the filter graph's rgb24 branch as
 * reference-counted AVFrames; the queue moves the reference (a pointer and
 * a few fields), the consumer reads the pixels in place and drops the
 * reference when its callback returns. A 640x360 frame is 691 kB; at 5 fps
 * copying would be cheap, but at detector sizes and rates of later stages it
 * would not, and moving a reference costs nothing either way.
 *
 * Why bounded and blocking: a detector slower than the transcode must slow
 * the transcode down rather than let frames pile up in memory; the queue
 * holds at most `queue` frames and the producer waits on a full queue.
 *
 * Why its own thread (not the core pool): the consumer lives for the whole
 * transcode and blocks on the queue; a pool task that blocks would take a
 * worker away from everything else for the duration (and on a pool of 0
 * workers would run inline and deadlock the producer).
 *
 * Errors: the consumer's error (code and message) is kept and handed to the
 * producer on its next push, which then stops the transcode.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "video_internal.h"

struct fa_video_feedq {
    fa_video_feed feed;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    AVFrame **ring;
    int cap, head, len;
    int closed; /* producer done: consumer exits when the ring is empty */
    int err;    /* consumer's error, 0 while fine */
    char msg[512];
    int64_t delivered;
};

/* Frames arrive with pts in microseconds (transcode.c rescales them).
 * Takes the next frame (NULL at the end or after an error). */
static AVFrame *take(fa_video_feedq *q) {
    pthread_mutex_lock(&q->mu);
    while (q->len == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    AVFrame *f = NULL;
    if (q->len > 0 && !q->err) {
        f = q->ring[q->head];
        q->ring[q->head] = NULL;
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return f;
}

static void fail(fa_video_feedq *q, int rc) {
    pthread_mutex_lock(&q->mu);
    q->err = rc;
    snprintf(q->msg, sizeof q->msg, "detector feed: %s", fa_err_msg()[0] ? fa_err_msg() : "consumer failed");
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

static void *consume(void *arg) {
    fa_video_feedq *q = arg;
    AVFrame *f;
    while ((f = take(q)) != NULL) {
        fa_video_frame vf = {.rgb = f->data[0],
                             .width = f->width,
                             .height = f->height,
                             .stride = f->linesize[0],
                             .t = f->pts / 1e6,
                             .index = q->delivered};
        int rc = q->feed.fn(&vf, q->feed.user);
        av_frame_free(&f);
        q->delivered++;
        if (rc) {
            fail(q, rc);
            break;
        }
    }
    return NULL;
}

fa_video_feedq *fa_video_feedq_start(const fa_video_feed *feed) {
    fa_video_feedq *q = fa_calloc(1, sizeof *q);
    if (!q) return NULL;
    q->feed = *feed;
    q->cap = feed->queue > 0 ? feed->queue : 4;
    q->ring = fa_calloc((size_t)q->cap, sizeof *q->ring);
    if (!q->ring) return free(q), NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    if (pthread_create(&q->thread, NULL, consume, q) != 0) {
        free(q->ring);
        free(q);
        fa_err_set(FA_EIO, "detector feed: cannot start its thread");
        return NULL;
    }
    return q;
}

int fa_video_feedq_push(fa_video_feedq *q, AVFrame *frame) {
    pthread_mutex_lock(&q->mu);
    while (q->len == q->cap && !q->err)
        pthread_cond_wait(&q->not_full, &q->mu);
    int rc = q->err;
    if (rc == 0) {
        AVFrame *slot = av_frame_alloc();
        if (!slot)
            rc = FA_ENOMEM;
        else {
            av_frame_move_ref(slot, frame);
            q->ring[(q->head + q->len) % q->cap] = slot;
            q->len++;
            pthread_cond_signal(&q->not_empty);
        }
    }
    char msg[512];
    memcpy(msg, q->msg, sizeof msg);
    pthread_mutex_unlock(&q->mu);
    if (rc == FA_ENOMEM) return fa_err_set(FA_ENOMEM, "detector feed: out of memory");
    if (rc) return fa_err_set(rc, "%s", msg);
    return 0;
}

int fa_video_feedq_finish(fa_video_feedq *q, int drain, int64_t *count) {
    if (!q) return 0;
    pthread_mutex_lock(&q->mu);
    if (!drain)
        for (; q->len > 0; q->len--, q->head = (q->head + 1) % q->cap)
            av_frame_free(&q->ring[q->head]);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    for (; q->len > 0; q->len--, q->head = (q->head + 1) % q->cap)
        av_frame_free(&q->ring[q->head]);
    int rc = q->err;
    if (rc) fa_err_set(rc, "%s", q->msg);
    if (count) *count = q->delivered;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
    return rc;
}
