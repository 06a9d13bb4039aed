/*
 * overlay.h - what a person checks an analysis with (issue 7): the video
 * with every tracked box drawn in its team's colour and labelled with its
 * track id, and a 2-D radar of the tracked players on the pitch.
 *
 * Colours: home (team A) red, away (team B) blue, goalkeepers yellow,
 * referees black, tracks without a team grey, the ball white.
 */
#ifndef FA_VISION_OVERLAY_H
#define FA_VISION_OVERLAY_H

#include "model/model.h"
#include "video/image.h"
#include "vision/analyze.h"

/* The colour of a side and position ("goalkeeper", "referee", ""). */
void fa_overlay_colour(fa_side side, const char *position, uint8_t rgb[3]);

/* Draws number n (>= 0) at (x, y) (top left) in digits `scale` pixels per
 * font cell (3 x 5 cells a digit) on a dark backing, clipped. */
void fa_overlay_number(fa_image *img, int x, int y, int n, int scale, const uint8_t rgb[3]);

/* Draws processed frame k's tracks of r on img, a picture of the source
 * size (boxes scaled from the feed by r->scale), roles from
 * fa_analyze_team. */
void fa_overlay_draw(const fa_analyze_result *r, int64_t k, fa_image *img);

/* Decodes input again at fps (the detection rate: frame k of the decode is
 * processed frame k), draws each processed frame's tracks, scales it to at
 * most max_width pixels wide and writes an H.264 MP4 at path (renamed into
 * place when complete). 0 or the decoder's / writer's error. */
int fa_overlay_write_video(const char *input, double fps, const fa_analyze_result *r, int max_width,
                           const char *path);

/* The radar: a fa_sink drawing every tracking frame it is given (fa_analyze_emit's
 * stream) on a pitch of the match's size, 8 pixels per metre, into an MP4. */
typedef struct fa_radar fa_radar;

/* NULL with the error set (as fa_video_writer_open). The pitch and rate come
 * from the stream's begin (the match). */
fa_radar *fa_radar_open(const char *path);
const fa_sink *fa_radar_sink(fa_radar *rd);
/* Finishes the file (commit) or removes it. Frees rd. 0 or FA_EIO. */
int fa_radar_close(fa_radar *rd, int commit);

#endif
