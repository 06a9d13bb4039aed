/*
 * quantize.c - a detector to INT8 on the tiles it will run on.
 *
 * The tiles are those of the detector's own plan (tiles.c), over the pitch
 * region when roi is set, preprocessed by its own front end: with the
 * stands in the calibration set the ranges would fit seats and sky. Tile k
 * of K is kept when it crosses a multiple of K / max, so a cap of 128
 * tiles spreads over every frame given instead of filling up on the first.
 *
 * Mixed precision: after calibration (src/nn/quant.c) the fp32_convs
 * convolutions whose int8 form moves the outputs most go back to fp32,
 * judged on at most 16 of the tiles spread over all of them (each variant
 * is a model build and 16 runs: ~0.4 s for NanoDet-m). On NanoDet-m the
 * two kept are the stage-2 entry convs reading the stem's pooled output,
 * whose per-tensor scale fits channels of very different ranges; with
 * them fp32 every AP figure of the labelled frames stays within 1 point of
 * FP32 at 0.46x its time (bench/RESULTS.md "INT8").
 */
#include "vision/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void fa_det_tiles_free(fa_det_tiles *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* The tiles the detector would run on img. Returns the count. */
static int plan_tiles(const fa_tile_spec *spec, int roi, const fa_image *img, int net_w, int net_h,
                      fa_tile *plan) {
    fa_tile area = {0, 0, img->w, img->h};
    if (roi && spec->mode != FA_TILES_NONE) fa_pitch_roi(img, &area);
    return fa_tiles_plan_roi(spec, &area, net_w, net_h, plan, FA_TILES_MAX);
}

typedef struct gatherer {
    fa_det_family fam;
    int net_w, net_h, roi;
    const fa_tile_spec *spec;
    fa_tile *plan;
    uint8_t *scratch;
    size_t total, keep, seen;
} gatherer;

/* Keeps the tiles of img that fall on the even spread (first pass: counts). */
static int take_tiles(gatherer *g, const fa_image *img, int counting, fa_det_tiles *out) {
    int n = plan_tiles(g->spec, g->roi, img, g->net_w, g->net_h, g->plan);
    if (counting) {
        g->total += (size_t)n;
        return 0;
    }
    size_t per = (size_t)3 * g->net_w * g->net_h;
    for (int k = 0; k < n && out->n < g->keep; k++, g->seen++) {
        if ((g->seen * g->keep) / g->total == ((g->seen + 1) * g->keep) / g->total) continue;
        float *x = fa_malloc(per * sizeof *x);
        if (!x) return FA_ENOMEM;
        fa_detector_preprocess(g->fam, img, &g->plan[k], g->net_w, g->net_h, g->scratch, x);
        out->v[out->n++] = x;
    }
    return 0;
}

/* One pass over the frames. */
static int gather_pass(gatherer *g, int counting, fa_frame_fn frame, void *user, size_t n,
                       fa_det_tiles *out) {
    int rc = 0;
    for (size_t i = 0; !rc && i < n && (counting || out->n < g->keep); i++) {
        fa_image img = {0};
        rc = frame(user, i, &img);
        if (!rc) rc = take_tiles(g, &img, counting, out);
        fa_image_free(&img);
    }
    return rc;
}

int fa_det_tiles_gather(fa_det_family fam, int net_w, int net_h, const fa_tile_spec *spec, int roi,
                        fa_frame_fn frame, void *user, size_t n, size_t max, fa_det_tiles *out) {
    memset(out, 0, sizeof *out);
    gatherer g = {.fam = fam, .net_w = net_w, .net_h = net_h, .roi = roi, .spec = spec};
    g.plan = fa_malloc(FA_TILES_MAX * sizeof *g.plan);
    g.scratch = fa_malloc((size_t)net_w * net_h * 3);
    int rc = g.plan && g.scratch ? gather_pass(&g, 1, frame, user, n, out) : FA_ENOMEM;
    g.keep = g.total < max ? g.total : max;
    if (!rc && g.keep && !(out->v = fa_calloc(g.keep, sizeof *out->v))) rc = FA_ENOMEM;
    if (!rc && g.keep) rc = gather_pass(&g, 0, frame, user, n, out);
    free(g.plan);
    free(g.scratch);
    if (!rc && out->n == 0) rc = fa_err_set(FA_EINVAL, "no tiles in the %zu frames given", n);
    if (rc) fa_det_tiles_free(out);
    return rc;
}

void fa_quantize_opts_default(fa_quantize_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = FA_NN_CALIB_PERCENTILE;
    o->percentile = FA_QUANTIZE_PERCENTILE;
    o->fp32_convs = FA_QUANTIZE_FP32_CONVS;
}

/* The sensitivity pass on at most o->probe_tiles tiles spread over all of them. */
static int keep_sensitive(const fa_quantize_opts *o, const fa_nn_model *m, fa_nn_quant *q,
                          const fa_det_tiles *t, fa_quantize_report *rep) {
    const float *probe[FA_QUANTIZE_PROBE_MAX];
    size_t want =
        o->probe_tiles > 0 && o->probe_tiles < FA_QUANTIZE_PROBE_MAX ? o->probe_tiles : FA_QUANTIZE_PROBE_MAX;
    size_t n = t->n < want ? t->n : want;
    for (size_t i = 0; i < n; i++)
        probe[i] = t->v[i * t->n / n];
    rep->probe_tiles = n;
    if (fa_nn_quant_keep_fp32(q, m, probe, n, o->fp32_convs, &rep->keep)) return fa_err_code();
    const fa_nn_graph *g = fa_nn_model_graph(m);
    for (int i = 0; i < rep->keep.kept; i++)
        snprintf(rep->kept_name[i], sizeof rep->kept_name[i], "%s",
                 fa_nn_graph_node(g, (size_t)rep->keep.node[i])->name);
    return 0;
}

/* Loads the written file back: it must run, and its figures are reported. */
static int check_written(const char *out, const fa_nn_options *no, fa_quantize_report *rep) {
    fa_nn_model *qm = fa_nn_model_load(out, no);
    if (!qm) return fa_err_code();
    fa_nn_info info;
    fa_nn_model_info(qm, &info);
    rep->int8_convs = info.int8_convs, rep->int8_tensors = info.int8_tensors;
    rep->weight_bytes = info.weight_bytes;
    fa_nn_model_free(qm);
    return 0;
}

int fa_quantize_detector(const char *model, const fa_det_tiles *tiles, const fa_quantize_opts *o,
                         const char *out, fa_quantize_report *rep) {
    memset(rep, 0, sizeof *rep);
    fa_nn_options no = {.backend = o->backend};
    fa_nn_model *m = fa_nn_model_load(model, &no);
    if (!m) return fa_err_code();
    fa_nn_calib_options co = {.method = o->method, .percentile = o->percentile, .fp32_heads = o->fp32_heads};
    double t0 = fa_clock_now();
    fa_nn_quant *q = fa_nn_calibrate(m, (const float *const *)tiles->v, tiles->n, &co);
    int rc = q ? 0 : fa_err_code();
    rep->calib_s = fa_clock_now() - t0;
    if (!rc && o->fp32_convs > 0) rc = keep_sensitive(o, m, q, tiles, rep);
    rep->keep_s = fa_clock_now() - t0 - rep->calib_s;
    if (!rc) rc = fa_nn_quant_save(q, out);
    if (!rc) rc = check_written(out, &no, rep);
    fa_nn_quant_free(q);
    fa_nn_model_free(m);
    return rc;
}
