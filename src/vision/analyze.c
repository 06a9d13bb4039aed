/*
 * analyze.c - a match video to tracking data: transcode + detect + track in
 * one decode, then the tracks streamed as provider tracking.
 *
 * Why one pass: decoding a 4K HEVC match is the costliest part of the
 * pipeline after encoding, so detection rides on the transcoder's own
 * decode through its detector feed (a scaled RGB branch of the filter
 * graph, frames handed over without a copy on the feed's thread). The feed
 * thread detects and tracks while the main thread encodes: on two cores
 * the two stages overlap instead of adding up, and the feed's bounded
 * queue slows the decoder down when detection lags (memory stays bounded).
 *
 * Kits are described on the feed thread while the frame is at hand, but
 * handed to the team model only after tracking, by (frame, detection), so
 * they count under the final track ids (stitching renumbers tracklets);
 * with the calibration known before the run, people whose feet stand off
 * the pitch (spectators on the steps, coaches) are left out of the team
 * model, and out of the emitted players.
 *
 * Frames are numbered 0, 1, 2 ... at the detection rate; the tracker's fps
 * is that rate. Boxes stay in feed pixels until the output, where the foot
 * point (bottom centre of a player's box: the point on the ground) is
 * scaled to source pixels and mapped to metres by the caller's calibration.
 */
#include "vision/analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/calib.h"

#define DEFAULT_FPS 5.0
#define MAX_FEED_WIDTH 1536
#define GRASS_INTERVAL_S 1.0 /* the grass colour is estimated again after this much video */

void fa_analyze_opts_default(fa_analyze_opts *o) {
    memset(o, 0, sizeof *o);
    o->detect_fps = DEFAULT_FPS;
    o->det.tiles.mode = FA_TILES_AUTO;
    o->det.roi = 1;
    o->hwaccel = FA_HWACCEL_AUTO;
    fa_tracker_options_default(&o->tracker);
    fa_teams_options_default(&o->teams);
}

void fa_analyze_result_free(fa_analyze_result *r) {
    if (!r) return;
    free(r->t);
    free(r->cam_dx);
    free(r->cam_dy);
    fa_track_result_free(&r->tracks);
    fa_teams_free(r->teams);
    memset(r, 0, sizeof *r);
}

/* One tracked person's kit in one frame, keyed by the frame and the index
 * of its detection: the tracker's post passes renumber tracks (a stitched
 * tracklet takes its predecessor's id) but keep these two, so the kits are
 * handed to the team model under the final ids once tracking is done. */
typedef struct kit_rec {
    int64_t frame;
    int det;
    int off_pitch; /* the foot point maps off the pitch (opts map) */
    float x;       /* position along the pitch: metres with a map, else image x */
    fa_kit_desc kit;
} kit_rec;

typedef struct run_state {
    const fa_analyze_opts *o;
    fa_analyze_result *r;
    fa_detector *det;
    fa_tracker *trk;
    fa_teams_grass grass;
    double grass_t; /* when the grass colour was last estimated (seconds of video) */
    kit_rec *kits;  /* every tracked person's kit, in frame order */
    size_t n_kits, kits_cap;
    fa_detections dets;
    float *app;
    size_t app_cap;
    size_t t_cap;
    fa_image prev;     /* moving_camera: the previous feed frame */
    size_t cam_cap[2]; /* of r->cam_dx, r->cam_dy */
} run_state;

static int note_time(run_state *s, double t) {
    fa_analyze_result *r = s->r;
    if (fa_grow(&r->t, &s->t_cap, (size_t)r->frames + 1, sizeof *r->t)) return FA_ENOMEM;
    r->t[r->frames] = t;
    return 0;
}

void fa_analyze_unpan(const fa_analyze_result *r, int64_t k, double *u, double *v) {
    if (!r->cam_dx || k < 0 || k >= r->frames) return;
    *u -= r->cam_dx[k], *v -= r->cam_dy[k];
}

/* The camera's motion since frame 0 at the frame being processed (r->frames):
 * the previous frame's plus the estimate between the two feed frames. */
static int track_camera(run_state *s, const fa_image *img) {
    fa_analyze_result *r = s->r;
    size_t k = (size_t)r->frames;
    if (fa_grow(&r->cam_dx, &s->cam_cap[0], k + 1, sizeof *r->cam_dx) ||
        fa_grow(&r->cam_dy, &s->cam_cap[1], k + 1, sizeof *r->cam_dy))
        return FA_ENOMEM;
    r->cam_dx[k] = r->cam_dy[k] = 0;
    if (k > 0) {
        fa_calib_motion m;
        int rc = fa_calib_motion_estimate(&s->prev, img, &m);
        if (rc) return rc;
        r->cam_dx[k] = r->cam_dx[k - 1] + m.dx * r->scale;
        r->cam_dy[k] = r->cam_dy[k - 1] + m.dy * r->scale;
    }
    if (!s->prev.rgb && fa_image_alloc(&s->prev, img->w, img->h)) return FA_ENOMEM;
    for (int y = 0; y < img->h; y++)
        memcpy(s->prev.rgb + (size_t)y * s->prev.stride, img->rgb + (size_t)y * img->stride,
               (size_t)img->w * 3);
    return 0;
}

/* Where a person's foot point lies: *x along the pitch (metres with the
 * map, else the box centre's image x) and whether the map refuses it. */
static int foot_position(const run_state *s, const float box[4], float *x) {
    *x = (box[0] + box[2]) / 2;
    if (!s->o->map) return 0;
    double u = (double)*x * s->r->scale, v = (double)box[3] * s->r->scale, px = 0, py = 0;
    fa_analyze_unpan(s->r, s->r->frames, &u, &v);
    if (s->o->map(s->o->map_user, u, v, &px, &py) != 0 || !isfinite(px)) return 1;
    *x = (float)px;
    return 0;
}

/* Each tracked person's kit, from the detection's box, recorded by frame
 * and detection (handed to the team model after tracking: see kit_rec). */
static int record_kits(run_state *s, const fa_video_frame *f, const fa_track_obs *tracked, size_t n) {
    int rc = 0;
    if (s->r->frames == 0 || f->t - s->grass_t >= GRASS_INTERVAL_S) { /* the grass changes slowly */
        rc = fa_teams_grass_estimate(f->rgb, f->width, f->height, (size_t)f->stride, &s->grass);
        s->grass_t = f->t;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        const fa_track_obs *ob = &tracked[i];
        if (ob->id == FA_TRACK_BALL_ID || ob->det < 0) continue;
        if (fa_grow(&s->kits, &s->kits_cap, s->n_kits + 1, sizeof *s->kits)) return FA_ENOMEM;
        kit_rec *k = &s->kits[s->n_kits];
        const float *box = s->dets.v[ob->det].box;
        rc = fa_teams_describe(f->rgb, f->width, f->height, (size_t)f->stride, box, &s->grass, &k->kit);
        if (rc < 0) break;
        rc = 0;
        k->frame = f->index, k->det = ob->det;
        k->off_pitch = foot_position(s, box, &k->x);
        s->n_kits++;
    }
    return rc < 0 ? rc : 0;
}

/* The recorded kit of detection det in frame, NULL when none (kits are in frame order). */
static const kit_rec *find_kit(const run_state *s, int64_t frame, int det) {
    size_t lo = 0, hi = s->n_kits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->kits[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < s->n_kits && s->kits[lo].frame == frame; lo++)
        if (s->kits[lo].det == det) return &s->kits[lo];
    return NULL;
}

/* The recorded kits to the team model under the final track ids, leaving
 * out the people standing off the pitch. */
static int observe_kits(const run_state *s, fa_analyze_result *r) {
    for (size_t i = 0; i < r->tracks.n_obs; i++) {
        const fa_track_obs *ob = &r->tracks.obs[i];
        if (ob->id == FA_TRACK_BALL_ID || ob->det < 0) continue;
        const kit_rec *k = find_kit(s, ob->frame, ob->det);
        if (!k || k->off_pitch) continue;
        int rc = fa_teams_observe(r->teams, ob->id, ob->frame, &k->kit, &k->x);
        if (rc) return rc;
    }
    return 0;
}

/* The feed consumer: detect, describe each person's torso, track. */
static int on_feed_frame(const fa_video_frame *f, void *user) {
    run_state *s = user;
    fa_analyze_result *r = s->r;
    fa_image img = {.w = f->width, .h = f->height, .stride = (size_t)f->stride, .rgb = (uint8_t *)f->rgb};
    int rc = s->o->moving_camera ? track_camera(s, &img) : 0;
    double t0 = fa_clock_now();
    if (!rc) rc = fa_detector_run(s->det, &img, &s->dets, NULL);
    double t1 = fa_clock_now();
    if (!rc)
        rc = fa_grow(&s->app, &s->app_cap, (s->dets.n ? s->dets.n : 1) * FA_TRACK_APP_DIM, sizeof *s->app);
    for (size_t i = 0; !rc && i < s->dets.n; i++) {
        float *row = s->app + i * FA_TRACK_APP_DIM;
        memset(row, 0, FA_TRACK_APP_DIM * sizeof *row);
        if (s->dets.v[i].class_id == s->o->tracker.person_class &&
            fa_track_appearance(f->rgb, f->width, f->height, (size_t)f->stride, s->dets.v[i].box, row) < 0)
            rc = fa_err_code();
    }
    const fa_track_obs *tracked = NULL;
    size_t n_tracked = 0;
    if (!rc) rc = fa_tracker_update(s->trk, f->index, s->dets.v, s->dets.n, s->app, &tracked, &n_tracked);
    if (!rc) rc = record_kits(s, f, tracked, n_tracked);
    r->detect_s += t1 - t0;
    r->track_s += fa_clock_now() - t1;
    if (!rc) rc = note_time(s, f->t);
    if (rc) return fa_err_prefix("analyze: frame %lld (%.2f s)", (long long)f->index, f->t);
    r->frames++;
    r->detections += s->dets.n;
    if (s->o->on_frame) return s->o->on_frame(s->o->on_frame_user, f, &s->dets, tracked, n_tracked);
    return 0;
}

void fa_analyze_feed_size(const fa_analyze_opts *o, int src_w, int src_h, int *w, int *h) {
    int want = o->detect_width > 0 ? o->detect_width : src_w < MAX_FEED_WIDTH ? src_w : MAX_FEED_WIDTH;
    if (want > src_w) want = src_w;
    *w = want / 2 * 2;
    *h = (int)lround((double)src_h * want / src_w) / 2 * 2;
    if (*h < 2) *h = 2;
}

static int start(run_state *s, fa_video_info *src) {
    const fa_analyze_opts *o = s->o;
    if (!o->model) return fa_err_set(FA_EUSAGE, "analyze: no detector model given");
    double fps = o->detect_fps > 0 ? o->detect_fps : DEFAULT_FPS;
    int rc = fa_video_probe(o->input, NULL, src);
    if (rc) return rc;
    if (fps > src->fps + 1e-9 && src->fps > 0)
        return fa_err_set(FA_EUSAGE, "analyze: --detect-fps %g is above the video's %g fps", fps, src->fps);
    fa_analyze_feed_size(o, src->display_width, src->display_height, &s->r->feed_w, &s->r->feed_h);
    s->r->scale = (double)src->display_width / s->r->feed_w;
    if (!(s->det = fa_detector_new(o->model, &o->det))) return fa_err_code();
    fa_tracker_options to = o->tracker;
    to.fps = fps;
    if (!(s->trk = fa_tracker_new(&to))) return fa_err_code();
    fa_teams_options tm = o->teams;
    tm.fps = fps;
    if (!(s->r->teams = fa_teams_new(&tm))) return fa_err_code();
    return 0;
}

/* The kit model over every observation; a failure (no players with kits,
 * one colour only) is a flagged partial result, not an error. */
static void fit_teams(fa_analyze_result *r) {
    if (fa_teams_fit(r->teams) == 0 && fa_teams_fit(r->teams) == 0) { /* fit on the first seconds, refine */
        fa_teams_get_summary(r->teams, &r->teams_summary);
        return;
    }
    snprintf(r->teams_error, sizeof r->teams_error, "%s", fa_err_msg());
    fa_err_clear();
    fa_teams_free(r->teams);
    r->teams = NULL;
}

int fa_analyze_video(const fa_analyze_opts *o, fa_analyze_result *r) {
    memset(r, 0, sizeof *r);
    run_state s = {.o = o, .r = r};
    fa_video_info src;
    int rc = start(&s, &src);
    if (!rc) {
        fa_video_feed feed = {.fps = o->detect_fps > 0 ? o->detect_fps : DEFAULT_FPS,
                              .width = r->feed_w,
                              .height = r->feed_h,
                              .queue = 4,
                              .fn = on_feed_frame,
                              .user = &s};
        fa_transcode_opts t;
        fa_transcode_opts_default(&t);
        t.input = o->input, t.out_dir = o->out_dir, t.force = o->force;
        t.ladder = o->ladder, t.nladder = o->nladder;
        if (o->preset) t.preset = o->preset;
        t.hwaccel = o->hwaccel, t.max_input_s = o->max_input_s;
        t.progress = o->progress, t.progress_user = o->progress_user, t.cancel = o->cancel;
        t.feed = &feed;
        rc = fa_transcode(&t, &r->transcode);
    }
    if (!rc && r->frames == 0)
        rc = fa_err_set(FA_EINVAL, "%s: the video gave no frames to analyse", o->input);
    if (!rc) rc = fa_tracker_finish(s.trk, &r->tracks);
    if (!rc) rc = observe_kits(&s, r);
    if (!rc) fit_teams(r);
    fa_detector_free(s.det);
    fa_tracker_free(s.trk);
    fa_detections_free(&s.dets);
    free(s.kits);
    free(s.app);
    fa_image_free(&s.prev);
    return rc;
}

/* ------------------------------------------------------------- output */

void fa_analyze_team(void *user, int track_id, fa_side *side, const char **position) {
    const fa_analyze_result *r = user;
    fa_team_assignment a = {0};
    *side = FA_SIDE_NONE, *position = "";
    if (!r->teams || fa_teams_assign(r->teams, track_id, &a) != 0) return;
    switch (a.role) {
    case FA_ROLE_TEAM_A: *side = FA_SIDE_HOME; break;
    case FA_ROLE_TEAM_B: *side = FA_SIDE_AWAY; break;
    case FA_ROLE_GOALKEEPER_A: *side = FA_SIDE_HOME, *position = "goalkeeper"; break;
    case FA_ROLE_GOALKEEPER_B: *side = FA_SIDE_AWAY, *position = "goalkeeper"; break;
    case FA_ROLE_GOALKEEPER: *position = "goalkeeper"; break;
    case FA_ROLE_REFEREE: *position = "referee"; break;
    default: break;
    }
}

static void match_id(const char *input, char *out, size_t size) {
    snprintf(out, size, "%s", fa_path_base(input));
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

enum { KEEP_NONE, KEEP_PLAYER, KEEP_OFF_PITCH };

/* Index of track id in r->tracks.tracks (sorted by id), -1 when absent. */
static long track_index(const fa_analyze_result *r, int id) {
    size_t lo = 0, hi = r->tracks.n_tracks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->tracks.tracks[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->tracks.n_tracks && r->tracks.tracks[lo].id == id ? (long)lo : -1;
}

/* Which tracks are emitted: keep[i] for r->tracks.tracks[i] is KEEP_PLAYER
 * when it has min_hits detected boxes and at most half of them have their
 * foot point off the pitch, KEEP_OFF_PITCH when more (someone standing
 * beside the pitch, not a player), KEEP_NONE with fewer boxes. */
static int kept_tracks(const fa_analyze_result *r, const fa_analyze_emit_opts *eo, int min_hits,
                       unsigned char *keep, fa_analyze_emit_stats *st) {
    int *off = fa_calloc(r->tracks.n_tracks ? r->tracks.n_tracks : 1, sizeof *off);
    if (!off) return FA_ENOMEM;
    for (size_t i = 0; i < r->tracks.n_obs; i++) {
        const fa_track_obs *ob = &r->tracks.obs[i];
        long k = ob->id == FA_TRACK_BALL_ID || ob->det < 0 ? -1 : track_index(r, ob->id);
        double x, y, u = (ob->box[0] + ob->box[2]) / 2 * r->scale, v = ob->box[3] * r->scale;
        fa_analyze_unpan(r, ob->frame, &u, &v);
        if (k >= 0 && eo->map(eo->map_user, u, v, &x, &y) != 0) off[k]++;
    }
    for (size_t i = 0; i < r->tracks.n_tracks; i++) {
        const fa_tracklet *tk = &r->tracks.tracks[i];
        keep[i] = tk->hits < min_hits ? KEEP_NONE : 2 * off[i] <= tk->hits ? KEEP_PLAYER : KEEP_OFF_PITCH;
        st->off_pitch_people += keep[i] == KEEP_OFF_PITCH;
    }
    free(off);
    return 0;
}

static int emit_players(const fa_analyze_result *r, const fa_analyze_emit_opts *eo, const unsigned char *keep,
                        const fa_sink *sink, fa_analyze_emit_stats *st) {
    for (size_t i = 0; i < r->tracks.n_tracks; i++) {
        const fa_tracklet *tk = &r->tracks.tracks[i];
        if (keep[i] != KEEP_PLAYER) continue;
        fa_player p;
        fa_player_init(&p);
        snprintf(p.id, sizeof p.id, "track-%d", tk->id);
        snprintf(p.name, sizeof p.name, "Track %d", tk->id);
        p.side = FA_SIDE_NONE;
        const char *position = "";
        if (eo->team) eo->team(eo->team_user, tk->id, &p.side, &position);
        snprintf(p.position, sizeof p.position, "%s", position ? position : "");
        int rc = sink->player ? sink->player(sink->ud, &p) : 0;
        if (rc) return rc;
        st->players++;
    }
    return 0;
}

typedef struct frame_buf {
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
    char ids[FA_FRAME_MAX_PLAYERS][24];
    fa_side sides[FA_FRAME_MAX_PLAYERS];
} frame_buf;

/* One processed frame's observations obs[0..n) into a frame. */
static int emit_frame(const fa_analyze_result *r, const fa_analyze_emit_opts *eo, const unsigned char *keep,
                      int64_t frame, const fa_track_obs *obs, size_t n, frame_buf *fb, const fa_sink *sink,
                      fa_analyze_emit_stats *st) {
    fa_frame f;
    fa_frame_init(&f);
    f.frame = frame, f.period = 1, f.t = frame < r->frames ? r->t[frame] : 0;
    for (size_t i = 0; i < n; i++) {
        const fa_track_obs *ob = &obs[i];
        double u = (ob->box[0] + ob->box[2]) / 2 * r->scale, x, y;
        if (ob->id == FA_TRACK_BALL_ID) {
            if (ob->flags & FA_TRACK_UNSEEN) continue;
            double v = (ob->box[1] + ob->box[3]) / 2 * r->scale;
            fa_analyze_unpan(r, frame, &u, &v);
            if (eo->map(eo->map_user, u, v, &x, &y) == 0)
                f.ball_x = (float)x, f.ball_y = (float)y, st->ball_samples++;
            continue;
        }
        long k = track_index(r, ob->id);
        st->off_pitch += k >= 0 && keep[k] == KEEP_OFF_PITCH;
        if (f.n == FA_FRAME_MAX_PLAYERS || k < 0 || keep[k] != KEEP_PLAYER) continue;
        double v = ob->box[3] * r->scale;
        fa_analyze_unpan(r, frame, &u, &v);
        if (eo->map(eo->map_user, u, v, &x, &y) != 0) {
            st->off_pitch++;
            continue;
        }
        snprintf(fb->ids[f.n], sizeof fb->ids[f.n], "track-%d", ob->id);
        fa_side side = FA_SIDE_NONE;
        const char *position = NULL;
        if (eo->team) eo->team(eo->team_user, ob->id, &side, &position);
        fb->players[f.n] = (fa_frame_player){fb->ids[f.n], side, (float)x, (float)y};
        f.n++;
        st->samples++;
    }
    f.players = fb->players;
    st->frames++;
    return sink->frame ? sink->frame(sink->ud, &f) : 0;
}

int fa_analyze_emit(const fa_analyze_opts *o, const fa_analyze_result *r, const fa_analyze_emit_opts *eo,
                    const fa_sink *sink, fa_analyze_emit_stats *st) {
    memset(st, 0, sizeof *st);
    if (!eo->map) return fa_err_set(FA_EINVAL, "analyze: no pitch calibration to map the tracks to metres");
    int min_hits = eo->min_hits > 0 ? eo->min_hits : 3;
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_VIDEO);
    if (eo->match_id)
        snprintf(m.id, sizeof m.id, "%s", eo->match_id);
    else
        match_id(o->input, m.id, sizeof m.id);
    if (eo->pitch.length > 0 && eo->pitch.width > 0) m.pitch = eo->pitch;
    m.provider_length = m.pitch.length, m.provider_width = m.pitch.width;
    snprintf(m.provider_unit, sizeof m.provider_unit, "m");
    m.frame_rate = o->detect_fps > 0 ? o->detect_fps : DEFAULT_FPS;
    snprintf(m.teams[0].name, sizeof m.teams[0].name, "Team A");
    snprintf(m.teams[1].name, sizeof m.teams[1].name, "Team B");
    snprintf(m.teams[0].id, sizeof m.teams[0].id, "team-a");
    snprintf(m.teams[1].id, sizeof m.teams[1].id, "team-b");
    snprintf(m.source, sizeof m.source, "%s", fa_path_base(o->input));
    int rc = sink->begin ? sink->begin(sink->ud, &m) : 0;
    unsigned char *keep = rc ? NULL : fa_malloc(r->tracks.n_tracks ? r->tracks.n_tracks : 1);
    if (!rc && !keep) rc = FA_ENOMEM;
    if (!rc) rc = kept_tracks(r, eo, min_hits, keep, st);
    if (!rc) rc = emit_players(r, eo, keep, sink, st);
    frame_buf *fb = rc ? NULL : fa_malloc(sizeof *fb);
    if (!rc && !fb) rc = FA_ENOMEM;
    size_t i = 0;
    for (size_t k = 0; !rc && k < r->tracks.n_frames; k++) {
        int64_t frame = r->tracks.frames[k];
        size_t j = i;
        while (j < r->tracks.n_obs && r->tracks.obs[j].frame == frame)
            j++;
        rc = emit_frame(r, eo, keep, frame, r->tracks.obs + i, j - i, fb, sink, st);
        i = j;
    }
    free(fb);
    free(keep);
    if (!rc && sink->end) rc = sink->end(sink->ud, &m);
    return rc;
}
