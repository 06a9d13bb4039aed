/*
 * batcher.c - the dynamic batcher (batcher.h): callers' inputs grouped into
 * batched session runs.
 *
 * Why it is built this way:
 *   - No batcher thread. A caller that finds nobody leading becomes the
 *     leader: it waits (timed) until max_batch inputs are queued or the
 *     oldest one has waited max_wait_us, takes the oldest max_batch inputs,
 *     runs them, answers their callers and gives up the lead; a caller whose
 *     input is still queued then takes it. The callers block anyway, so one
 *     of them doing the work costs no thread, no handoff to a worker and no
 *     wake-up latency, and the run's own parallelism comes from the process
 *     pool like any other run.
 *   - One batch runs at a time: each batch size has one session (created on
 *     first use, then kept), only the leader touches sessions and the input
 *     buffer, and a GPU serialises batches anyway.
 *   - Nothing is allocated per request. A request lives on its caller's
 *     stack and is queued through an intrusive FIFO; the leader gathers
 *     inputs into a buffer that only grows (a batch of one runs on the
 *     caller's input in place) and copies each caller's slice of every
 *     output straight into the caller's buffers.
 *   - A failed run, or an output that is not batch-first (its slices would
 *     be wrong), fails every request of that batch with the same code and
 *     message, which each caller sets as its own thread-local error.
 *   - Shutdown stops the waiting, lets queued requests run, refuses new
 *     ones, and waits until no caller is inside before freeing.
 */
#include "nn/batcher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

#define MSG_MAX 256

typedef struct request {
    struct request *next;
    const float *input;
    float *const *outputs;
    struct timespec arrived;
    int done;
    int rc;
    char msg[MSG_MAX];
} request;

struct fa_nn_batcher {
    const fa_nn_model *m;
    int max_batch;
    int64_t max_wait_us;
    size_t in_size;
    int n_out;
    size_t *out_size; /* per output, floats per image */

    pthread_mutex_t mu;
    pthread_cond_t fill_cv; /* the queue reached max_batch, or shutdown began */
    pthread_cond_t done_cv; /* requests were answered, or the lead is free */
    pthread_cond_t idle_cv; /* the last caller left during shutdown */
    request *head, *tail;
    int pending;
    int leading;
    int closing;
    int inside;
    fa_nn_batcher_stats st;

    /* the leader's own (one leader at a time) */
    fa_nn_session **sessions; /* [max_batch + 1], by batch size */
    request **taken;          /* [max_batch] */
    float *inbuf;
    size_t inbuf_images;
};

/* ------------------------------------------------------------- building */

static int64_t shape_images(const int64_t *shape, int rank, size_t *per_image) {
    size_t n = 1;
    for (int i = 1; i < rank; i++) {
        if (shape[i] < 1) return -1;
        n *= (size_t)shape[i];
    }
    *per_image = n;
    return rank >= 1 ? shape[0] : -1;
}

static int sizes_init(fa_nn_batcher *b) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(b->m, shape);
    int64_t batch = shape_images(shape, rank, &b->in_size);
    if (batch < 1)
        return fa_err_set(FA_EINVAL, "batcher: the model's input has no fixed size per image (rank %d)",
                          rank);
    const fa_nn_graph *g = fa_nn_model_graph(b->m);
    b->n_out = fa_nn_model_output_count(b->m);
    if (!(b->out_size = fa_calloc((size_t)(b->n_out ? b->n_out : 1), sizeof *b->out_size))) return FA_ENOMEM;
    for (int i = 0; i < b->n_out; i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, fa_nn_graph_output(g, i));
        if (shape_images(t->shape, t->rank, &b->out_size[i]) != batch)
            return fa_err_set(FA_EINVAL,
                              "batcher: output '%s' is not batch-first (rank %d, first dimension %lld)",
                              t->name, t->rank, t->rank > 0 ? (long long)t->shape[0] : -1LL);
    }
    return 0;
}

static void batcher_destroy(fa_nn_batcher *b) {
    for (int k = 0; b->sessions && k <= b->max_batch; k++)
        fa_nn_session_free(b->sessions[k]);
    free(b->sessions);
    free(b->taken);
    free(b->inbuf);
    free(b->out_size);
    pthread_cond_destroy(&b->idle_cv);
    pthread_cond_destroy(&b->done_cv);
    pthread_cond_destroy(&b->fill_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

fa_nn_batcher *fa_nn_batcher_new(const fa_nn_model *m, int max_batch, int64_t max_wait_us) {
    if (!m || max_batch < 1 || max_wait_us < 0) {
        fa_err_set(FA_EINVAL, "batcher: %s (max_batch %d, max_wait_us %lld)",
                   !m ? "no model" : "max_batch must be >= 1 and max_wait_us >= 0", max_batch,
                   (long long)max_wait_us);
        return NULL;
    }
    fa_nn_batcher *b = fa_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->m = m, b->max_batch = max_batch, b->max_wait_us = max_wait_us;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->fill_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&b->done_cv, NULL);
    pthread_cond_init(&b->idle_cv, NULL);
    b->sessions = fa_calloc((size_t)max_batch + 1, sizeof *b->sessions);
    b->taken = fa_calloc((size_t)max_batch, sizeof *b->taken);
    if (!b->sessions || !b->taken || sizes_init(b)) {
        batcher_destroy(b);
        return NULL;
    }
    return b;
}

void fa_nn_batcher_free(fa_nn_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->closing = 1;
    pthread_cond_broadcast(&b->fill_cv);
    pthread_cond_broadcast(&b->done_cv);
    while (b->inside > 0)
        pthread_cond_wait(&b->idle_cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    batcher_destroy(b);
}

size_t fa_nn_batcher_input_size(const fa_nn_batcher *b) { return b->in_size; }
int fa_nn_batcher_output_count(const fa_nn_batcher *b) { return b->n_out; }
size_t fa_nn_batcher_output_size(const fa_nn_batcher *b, int i) {
    return i >= 0 && i < b->n_out ? b->out_size[i] : 0;
}

/* ------------------------------------------------------------ a batch run */

/* The inputs of the k taken requests, contiguous (leader only). */
static const float *gather_inputs(fa_nn_batcher *b, int k) {
    if (k == 1) return b->taken[0]->input;
    if ((size_t)k > b->inbuf_images) {
        float *p = fa_realloc(b->inbuf, (size_t)k * b->in_size * sizeof *p);
        if (!p) return NULL;
        b->inbuf = p, b->inbuf_images = (size_t)k;
    }
    for (int r = 0; r < k; r++)
        memcpy(b->inbuf + (size_t)r * b->in_size, b->taken[r]->input, b->in_size * sizeof(float));
    return b->inbuf;
}

/* Copies each request's slice of output i (leader only). */
static int scatter_output(fa_nn_batcher *b, int k, int i) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = 0;
    const float *out = fa_nn_session_output(b->sessions[k], i, shape, &rank);
    size_t per = 0;
    if (!out || shape_images(shape, rank, &per) != k || per != b->out_size[i])
        return fa_err_set(FA_EINVAL, "batcher: output '%s' at batch %d is not %d images of %zu values",
                          fa_nn_model_output_name(b->m, i), k, k, b->out_size[i]);
    for (int r = 0; r < k; r++)
        memcpy(b->taken[r]->outputs[i], out + (size_t)r * per, per * sizeof(float));
    return 0;
}

/* Runs the k taken requests as one batch and records each one's outcome
 * (leader only, lock not held). */
static int run_batch(fa_nn_batcher *b, int k) {
    int rc = 0;
    if (!b->sessions[k] && !(b->sessions[k] = fa_nn_session_new(b->m, k)))
        rc = fa_err_code() ? fa_err_code() : FA_ENOMEM;
    const float *in = rc ? NULL : gather_inputs(b, k);
    if (!rc && !in) rc = FA_ENOMEM;
    if (!rc) rc = fa_nn_run(b->sessions[k], in, NULL);
    for (int i = 0; !rc && i < b->n_out; i++)
        rc = scatter_output(b, k, i);
    for (int r = 0; r < k; r++) {
        b->taken[r]->rc = rc;
        if (rc) snprintf(b->taken[r]->msg, MSG_MAX, "%s", fa_err_msg());
    }
    return rc;
}

static int64_t until_us(const struct timespec *deadline) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000 + (deadline->tv_nsec - now.tv_nsec) / 1000;
}

/* Waits (lock held) until the batch is full, the oldest request's wait is
 * over or shutdown began. */
static void wait_fill(fa_nn_batcher *b) {
    struct timespec deadline = b->head->arrived;
    deadline.tv_sec += (time_t)(b->max_wait_us / 1000000);
    deadline.tv_nsec += (long)(b->max_wait_us % 1000000) * 1000;
    if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
    while (b->pending < b->max_batch && !b->closing && until_us(&deadline) > 0)
        pthread_cond_timedwait(&b->fill_cv, &b->mu, &deadline);
}

/* Leads one batch (lock held on entry and exit). */
static void lead(fa_nn_batcher *b) {
    wait_fill(b);
    int k = b->pending < b->max_batch ? b->pending : b->max_batch;
    for (int r = 0; r < k; r++) {
        b->taken[r] = b->head;
        b->head = b->head->next;
    }
    if (!b->head) b->tail = NULL;
    b->pending -= k;
    pthread_mutex_unlock(&b->mu);
    int rc = run_batch(b, k);
    pthread_mutex_lock(&b->mu);
    for (int r = 0; r < k; r++)
        b->taken[r]->done = 1;
    b->st.batches++;
    b->st.requests += (uint64_t)k;
    if (rc) b->st.failed += (uint64_t)k;
    if (k > b->st.largest) b->st.largest = k;
}

int fa_nn_batcher_run(fa_nn_batcher *b, const float *input, float *const *outputs) {
    if (!b || !input || (!outputs && b->n_out > 0))
        return fa_err_set(FA_EINVAL, "batcher: no %s given", !b ? "batcher" : !input ? "input" : "outputs");
    request req = {.input = input, .outputs = outputs};
    clock_gettime(CLOCK_MONOTONIC, &req.arrived);
    pthread_mutex_lock(&b->mu);
    if (b->closing) {
        pthread_mutex_unlock(&b->mu);
        return fa_err_set(FA_EUNAVAIL, "batcher: shutting down, input refused");
    }
    b->inside++;
    if (b->tail)
        b->tail->next = &req;
    else
        b->head = &req;
    b->tail = &req;
    if (++b->pending >= b->max_batch) pthread_cond_signal(&b->fill_cv);
    while (!req.done) {
        if (b->leading) {
            pthread_cond_wait(&b->done_cv, &b->mu);
            continue;
        }
        b->leading = 1;
        lead(b);
        b->leading = 0;
        pthread_cond_broadcast(&b->done_cv);
    }
    if (--b->inside == 0 && b->closing) pthread_cond_signal(&b->idle_cv);
    pthread_mutex_unlock(&b->mu);
    return req.rc ? fa_err_set(req.rc, "%s", req.msg) : 0;
}

void fa_nn_batcher_stats_get(fa_nn_batcher *b, fa_nn_batcher_stats *st) {
    pthread_mutex_lock(&b->mu);
    *st = b->st;
    st->pending = b->pending;
    st->mean_batch = st->batches ? (double)st->requests / (double)st->batches : 0.0;
    pthread_mutex_unlock(&b->mu);
}
