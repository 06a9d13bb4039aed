/*
 * mot.c - CLEAR-MOT and IDF1 accumulation (definitions in mot.h).
 *
 * Identities are arbitrary ints, so each side's ids are mapped to dense
 * indices by a small open-addressing hash table; the IDF1 evidence is a
 * second table from (ground-truth index, predicted index) to the number
 * of frames the two overlap, which stays sparse (an object only ever
 * overlaps the few predictions near it) where a dense ids x ids matrix
 * would not. The global identity matching runs once, in
 * fa_mot_summarize, over the ids that overlap something.
 *
 * A frame is validated and every table and scratch array it may need is
 * grown before anything is counted, so a frame that fails leaves the
 * accumulator as it was.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/assign.h"
#include "vision/detector.h"
#include "vision/mot.h"

/* ------------------------------------------------------------- hash table */

typedef struct imap {
    uint64_t *keys;
    int64_t *vals;
    unsigned char *used;
    size_t cap, n; /* cap: a power of two, at least twice n */
} imap;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static size_t imap_find(const imap *m, uint64_t key) {
    size_t mask = m->cap - 1, i = (size_t)mix(key) & mask;
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

static void imap_free(imap *m) {
    free(m->keys);
    free(m->vals);
    free(m->used);
    memset(m, 0, sizeof *m);
}

/* Makes room for extra more keys without growing later. 0 or FA_ENOMEM. */
static int imap_reserve(imap *m, size_t extra) {
    if ((m->n + extra) * 2 <= m->cap) return 0;
    size_t cap = 16;
    while (cap < (m->n + extra) * 2)
        cap *= 2;
    imap g = {fa_malloc(cap * sizeof *g.keys), fa_malloc(cap * sizeof *g.vals), fa_calloc(cap, 1), cap, m->n};
    if (!g.keys || !g.vals || !g.used) {
        imap_free(&g);
        return FA_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->used[i]) continue;
        size_t j = imap_find(&g, m->keys[i]);
        g.used[j] = 1;
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    imap_free(m);
    *m = g;
    return 0;
}

/* The value slot of key, inserted with init when absent (room reserved). */
static int64_t *imap_put(imap *m, uint64_t key, int64_t init, int *inserted) {
    size_t i = imap_find(m, key);
    *inserted = !m->used[i];
    if (*inserted) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->vals[i] = init;
        m->n++;
    }
    return &m->vals[i];
}

/* ------------------------------------------------------------ accumulator */

struct fa_mot {
    double iou;
    size_t frames, gt, pred, matches, fp, fn, idsw;
    double iou_sum;
    imap gt_ids, pred_ids; /* id -> dense index */
    imap pairs;            /* gt index << 32 | pred index -> frames at IoU >= threshold */
    int64_t *last_pred;    /* per gt index: pred index last matched, -1 */
    size_t cap_last;
    /* per-frame scratch: dense index, match, free list per box */
    int *gi, *gm, *rows, *r2c, *pi, *pm, *cols, *sorted;
    size_t cap_gi, cap_gm, cap_rows, cap_r2c, cap_pi, cap_pm, cap_cols, cap_sorted;
    double *cost;
    size_t cap_cost;
    fa_assign_ws ws;
};

fa_mot *fa_mot_new(double iou) {
    if (!(iou > 0 && iou <= 1)) {
        fa_err_set(FA_EINVAL, "mot.c: IoU threshold: expected a value in (0, 1], got %g", iou);
        return NULL;
    }
    fa_mot *m = fa_calloc(1, sizeof *m);
    if (m) m->iou = iou;
    return m;
}

void fa_mot_free(fa_mot *m) {
    if (!m) return;
    imap_free(&m->gt_ids);
    imap_free(&m->pred_ids);
    imap_free(&m->pairs);
    free(m->last_pred);
    free(m->gi);
    free(m->gm);
    free(m->rows);
    free(m->r2c);
    free(m->pi);
    free(m->pm);
    free(m->cols);
    free(m->sorted);
    free(m->cost);
    fa_assign_ws_free(&m->ws);
    free(m);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Finite corners and distinct ids; side names "ground truth" or "prediction". */
static int check_boxes(fa_mot *m, const fa_mot_box *v, size_t n, const char *side) {
    for (size_t i = 0; i < n; i++) {
        const float *b = v[i].box;
        if (!isfinite(b[0]) || !isfinite(b[1]) || !isfinite(b[2]) || !isfinite(b[3]))
            return fa_err_set(FA_EINVAL,
                              "mot.c: frame %zu: %s box %zu (id %d): expected finite corners, got "
                              "(%g, %g, %g, %g)",
                              m->frames, side, i, v[i].id, b[0], b[1], b[2], b[3]);
        m->sorted[i] = v[i].id;
    }
    qsort(m->sorted, n, sizeof *m->sorted, cmp_int);
    for (size_t i = 1; i < n; i++)
        if (m->sorted[i] == m->sorted[i - 1])
            return fa_err_set(FA_EINVAL, "mot.c: frame %zu: %s id %d: expected once per frame, found twice",
                              m->frames, side, m->sorted[i]);
    return 0;
}

static int reserve_frame(fa_mot *m, size_t n_gt, size_t n_pred) {
    size_t side = n_gt > n_pred ? n_gt : n_pred;
    if (n_gt + n_pred > FA_ASSIGN_MAX)
        return fa_err_set(FA_ELIMIT, "mot.c: frame %zu: %zu + %zu boxes: above the limit %d", m->frames, n_gt,
                          n_pred, FA_ASSIGN_MAX);
    int rc = fa_grow(&m->sorted, &m->cap_sorted, side + 1, sizeof *m->sorted);
    rc = rc ? rc : fa_grow(&m->gi, &m->cap_gi, n_gt + 1, sizeof *m->gi);
    rc = rc ? rc : fa_grow(&m->gm, &m->cap_gm, n_gt + 1, sizeof *m->gm);
    rc = rc ? rc : fa_grow(&m->rows, &m->cap_rows, n_gt + 1, sizeof *m->rows);
    rc = rc ? rc : fa_grow(&m->r2c, &m->cap_r2c, n_gt + 1, sizeof *m->r2c);
    rc = rc ? rc : fa_grow(&m->pi, &m->cap_pi, n_pred + 1, sizeof *m->pi);
    rc = rc ? rc : fa_grow(&m->pm, &m->cap_pm, n_pred + 1, sizeof *m->pm);
    rc = rc ? rc : fa_grow(&m->cols, &m->cap_cols, n_pred + 1, sizeof *m->cols);
    rc = rc ? rc : fa_grow(&m->cost, &m->cap_cost, n_gt * n_pred + 1, sizeof *m->cost);
    rc = rc ? rc : fa_grow(&m->last_pred, &m->cap_last, m->gt_ids.n + n_gt + 1, sizeof *m->last_pred);
    rc = rc ? rc : imap_reserve(&m->gt_ids, n_gt);
    rc = rc ? rc : imap_reserve(&m->pred_ids, n_pred);
    rc = rc ? rc : imap_reserve(&m->pairs, n_gt * n_pred);
    if (!rc && n_gt && n_pred && m->ws.cap < n_gt + n_pred + 1) {
        for (size_t k = 0; k < n_gt * n_pred; k++)
            m->cost[k] = 0;
        rc = fa_assign(&m->ws, m->cost, (int)n_gt, (int)n_pred, 1, NULL, NULL) < 0;
    }
    return rc ? fa_err_set(FA_ENOMEM, "mot.c: frame %zu: out of memory", m->frames) : 0;
}

/* Dense indices of this frame's ids (new ids get the next index). */
static void index_ids(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred, size_t n_pred) {
    int inserted;
    for (size_t k = 0; k < n_gt; k++) {
        int64_t *v = imap_put(&m->gt_ids, (uint64_t)(uint32_t)gt[k].id, (int64_t)m->gt_ids.n, &inserted);
        m->gi[k] = (int)*v;
        if (inserted) m->last_pred[*v] = -1;
        m->gm[k] = -1;
    }
    for (size_t j = 0; j < n_pred; j++) {
        m->pi[j] =
            (int)*imap_put(&m->pred_ids, (uint64_t)(uint32_t)pred[j].id, (int64_t)m->pred_ids.n, &inserted);
        m->pm[j] = -1;
    }
}

static void take_match(fa_mot *m, size_t k, size_t j, double iou) {
    m->gm[k] = (int)j;
    m->pm[j] = (int)k;
    m->matches++;
    m->iou_sum += iou;
}

/* Step 1: objects keep their last prediction when it is still close enough. */
static void keep_matches(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred,
                         size_t n_pred) {
    for (size_t k = 0; k < n_gt; k++) {
        int64_t last = m->last_pred[m->gi[k]];
        for (size_t j = 0; j < n_pred && last >= 0; j++) {
            if (m->pi[j] != last || m->pm[j] >= 0) continue;
            double iou = fa_box_iou(gt[k].box, pred[j].box);
            if (iou >= m->iou) take_match(m, k, j, iou);
            break;
        }
    }
}

/* Step 2: the rest by assignment, most pairs first; a changed prediction is a switch. */
static void new_matches(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred, size_t n_pred) {
    int nr = 0, nc = 0;
    for (size_t k = 0; k < n_gt; k++)
        if (m->gm[k] < 0) m->rows[nr++] = (int)k;
    for (size_t j = 0; j < n_pred; j++)
        if (m->pm[j] < 0) m->cols[nc++] = (int)j;
    if (!nr || !nc) return;
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++) {
            double iou = fa_box_iou(gt[m->rows[r]].box, pred[m->cols[c]].box);
            m->cost[(size_t)r * nc + c] = iou >= m->iou ? 1 - iou : NAN;
        }
    /* a gate above any sum of costs (each <= 1): one more pair always pays */
    if (fa_assign(&m->ws, m->cost, nr, nc, 2.0 * (nr + nc) + 2, m->r2c, NULL) < 0) return;
    for (int r = 0; r < nr; r++) {
        if (m->r2c[r] < 0) continue;
        size_t k = (size_t)m->rows[r], j = (size_t)m->cols[m->r2c[r]];
        int64_t *last = &m->last_pred[m->gi[k]];
        if (*last >= 0 && *last != m->pi[j]) m->idsw++;
        *last = m->pi[j];
        take_match(m, k, j, 1 - m->cost[(size_t)r * nc + m->r2c[r]]);
    }
}

/* IDF1 evidence: every (object, prediction) pair overlapping at the threshold this frame. */
static void count_pairs(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred, size_t n_pred) {
    int inserted;
    for (size_t k = 0; k < n_gt; k++)
        for (size_t j = 0; j < n_pred; j++) {
            if (fa_box_iou(gt[k].box, pred[j].box) < m->iou) continue;
            uint64_t key = (uint64_t)(uint32_t)m->gi[k] << 32 | (uint32_t)m->pi[j];
            (*imap_put(&m->pairs, key, 0, &inserted))++;
        }
}

int fa_mot_add_frame(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred, size_t n_pred) {
    if ((n_gt && !gt) || (n_pred && !pred))
        return fa_err_set(FA_EINVAL, "mot.c: frame %zu: boxes: NULL", m->frames);
    int rc = reserve_frame(m, n_gt, n_pred);
    if (!rc) rc = check_boxes(m, gt, n_gt, "ground truth");
    if (!rc) rc = check_boxes(m, pred, n_pred, "prediction");
    if (rc) return rc;
    index_ids(m, gt, n_gt, pred, n_pred);
    keep_matches(m, gt, n_gt, pred, n_pred);
    new_matches(m, gt, n_gt, pred, n_pred);
    for (size_t k = 0; k < n_gt; k++)
        m->fn += m->gm[k] < 0;
    for (size_t j = 0; j < n_pred; j++)
        m->fp += m->pm[j] < 0;
    count_pairs(m, gt, n_gt, pred, n_pred);
    m->frames++;
    m->gt += n_gt;
    m->pred += n_pred;
    return 0;
}

/* ------------------------------------------------------------------ IDF1 */

/* Global identity matching: the largest total of overlapping frames. */
static int identity_tp(fa_mot *m, size_t *idtp) {
    size_t ng = m->gt_ids.n, np = m->pred_ids.n;
    int *row_of = fa_malloc((ng + np + 1) * sizeof *row_of), nr = 0, nc = 0, rc = 0;
    if (!row_of) return FA_ENOMEM;
    int *col_of = row_of + ng;
    for (size_t i = 0; i < ng + np; i++)
        row_of[i] = -1;
    for (size_t i = 0; i < m->pairs.cap; i++) {
        if (!m->pairs.used[i]) continue;
        size_t g = (size_t)(m->pairs.keys[i] >> 32), p = (size_t)(m->pairs.keys[i] & 0xffffffffu);
        if (row_of[g] < 0) row_of[g] = nr++;
        if (col_of[p] < 0) col_of[p] = nc++;
    }
    *idtp = 0;
    if (nr + nc > FA_ASSIGN_MAX)
        rc = fa_err_set(FA_ELIMIT, "mot.c: IDF1: %d + %d overlapping ids: above %d", nr, nc, FA_ASSIGN_MAX);
    double *cost = rc || !nr ? NULL : fa_malloc((size_t)nr * nc * sizeof *cost);
    int *r2c = rc || !nr ? NULL : fa_malloc((size_t)nr * sizeof *r2c);
    if (!rc && nr && (!cost || !r2c)) rc = FA_ENOMEM;
    if (!rc && nr) {
        for (size_t k = 0; k < (size_t)nr * nc; k++)
            cost[k] = NAN;
        for (size_t i = 0; i < m->pairs.cap; i++)
            if (m->pairs.used[i])
                cost[(size_t)row_of[m->pairs.keys[i] >> 32] * nc + col_of[m->pairs.keys[i] & 0xffffffffu]] =
                    -(double)m->pairs.vals[i];
        rc = fa_assign(NULL, cost, nr, nc, 0, r2c, NULL);
        for (int r = 0; rc >= 0 && r < nr; r++)
            if (r2c[r] >= 0) *idtp += (size_t)(-cost[(size_t)r * nc + r2c[r]]);
        rc = rc < 0 ? rc : 0;
    }
    free(cost);
    free(r2c);
    free(row_of);
    return rc;
}

static double ratio(double num, double den) { return den > 0 ? num / den : NAN; }

int fa_mot_summarize(fa_mot *m, fa_mot_summary *s) {
    memset(s, 0, sizeof *s);
    size_t idtp;
    int rc = identity_tp(m, &idtp);
    if (rc) return rc == FA_ENOMEM ? fa_err_set(FA_ENOMEM, "mot.c: IDF1: out of memory") : rc;
    s->frames = m->frames;
    s->gt = m->gt;
    s->pred = m->pred;
    s->matches = m->matches;
    s->fp = m->fp;
    s->fn = m->fn;
    s->idsw = m->idsw;
    s->mota = m->gt ? 1 - (double)(m->fn + m->fp + m->idsw) / (double)m->gt : NAN;
    s->motp = ratio(m->iou_sum, (double)m->matches);
    s->gt_ids = m->gt_ids.n;
    s->pred_ids = m->pred_ids.n;
    s->idtp = idtp;
    s->idfn = m->gt - idtp;
    s->idfp = m->pred - idtp;
    s->idp = ratio((double)idtp, (double)m->pred);
    s->idr = ratio((double)idtp, (double)m->gt);
    s->idf1 = ratio(2.0 * (double)idtp, (double)(m->gt + m->pred));
    return 0;
}
