/*
 * chunk.h - a transcode split into independent jobs whose outputs form ONE
 * stream: the chunk plan, the chunk jobs and the assembly.
 *
 * The plan cuts the timeline at multiples of the segment duration. Keyframes
 * are forced on the 2 s grid and segments are 4 s, so every chunk starts on
 * an IDR that opens a segment in the single-process output too: a chunk's
 * segments are exactly the single-process segments of its time range, with
 * the same numbers and the same timestamps. A chunk job
 * (fa_transcode with FA_PART_CHUNK) seeks to the keyframe at or before its
 * start, decodes and drops the frames before the start, encodes the rungs up
 * to its end, and writes segments that its muxer numbers from 1 at time 0,
 * time 0 being its first frame (the first frame at or after the start: the
 * frame the single run makes an IDR; 8.008 s at 29.97 fps), so its init
 * segment - edit list included - is byte-identical to the single run's. It
 * then renames the segments to their numbers in the whole stream, adds that
 * first frame's time to every fragment's baseMediaDecodeTime (tfdt) and to
 * the sidx earliest presentation time, and sets the moof sequence numbers:
 * the files are those a single process would have written, with the same
 * timestamps (the bytes differ only where x264's rate control started
 * afresh). The keyframe grid stays that of the whole timeline.
 *
 * What is not done: FFmpeg 5.1's dash muxer has no start number or initial
 * timestamp option (output_ts_offset is undone by the mp4 muxer's rebasing
 * to the first dts), hence the rewrite of the few fixed-layout fields.
 *
 * Audio is ONE separate job (FA_PART_AUDIO) over the whole timeline, not
 * one per chunk: an AAC encoder starts with 1024 samples of priming and each
 * frame overlaps its neighbours (MDCT), so independently encoded chunks
 * would either overlap/gap by the priming at every boundary or need decoded
 * pre-roll and dropped packets with a small discontinuity in quantisation
 * at each boundary. Encoding the audio costs under 2 % of the video work
 * (measured: 0.2 s for a 60 s stereo track), so doing it once removes the
 * problem by construction: the audio segments are the single-process ones.
 *
 * The assembly (fa_chunks_assemble) collects the init and media segments of
 * the job directories, refuses init segments that differ between chunks
 * (different settings), a duplicate or missing segment number, or a
 * timestamp gap or overlap at a boundary larger than a frame, and writes
 * the DASH manifest and the HLS playlists from the segment files themselves
 * (tfdt and sample durations), into OUT.tmp-PID renamed into place.
 */
#ifndef FA_VIDEO_CHUNK_H
#define FA_VIDEO_CHUNK_H

#include "core/core.h"
#include "transcode.h"

typedef struct fa_chunk {
    int index;         /* 0, 1 ... */
    double start_s;    /* on the segment grid */
    double end_s;      /* start of the next chunk; the last chunk runs to the end of the input */
    int first_segment; /* number of its first segment in the whole stream, from 1 */
    int segments;      /* segments it writes (the last chunk: at least this many) */
} fa_chunk;

typedef struct fa_chunk_plan {
    double duration_s; /* of the input as planned */
    int segment_s;     /* segment duration, seconds */
    int segments;      /* in the whole stream (at least) */
    int n;             /* chunks */
    fa_chunk *chunk;   /* n entries, owned (fa_chunk_plan_free) */
} fa_chunk_plan;

/* Plans chunks of about chunk_s seconds (rounded to a whole number of
 * segments, at least one) over info->duration (or max_input_s when smaller
 * and positive) with segment_s-second segments. Returns 0, FA_EUSAGE for a
 * bad chunk_s/segment_s, FA_EINVAL when the duration is unknown, FA_ENOMEM. */
int fa_chunk_plan_make(const fa_video_info *info, double max_input_s, double chunk_s, int segment_s,
                       fa_chunk_plan *out);
void fa_chunk_plan_free(fa_chunk_plan *p);

/* Appends the plan as one JSON object to b: {"duration_s":..,"segment_s":..,
 * "segments":..,"chunks":[{"index":0,"start_s":..,"end_s":..,
 * "first_segment":1,"segments":..},...],"audio_job":true|false}.
 * Returns 0 or FA_ENOMEM. */
int fa_chunk_plan_json(const fa_chunk_plan *p, int has_audio, fa_buf *b);

/* Assembles the job directories dirs[0..n) (chunk and audio jobs of one
 * input and one set of options) into the package out (manifest.mpd,
 * master.m3u8, media_<i>.m3u8, the segments). Returns 0, FA_EUSAGE (out
 * exists without force), FA_EINVAL with a message naming the file and the
 * problem (init segments differ, a segment is missing or duplicated,
 * timestamps do not join), FA_EIO. Nothing is left at out on error. */
int fa_chunks_assemble(const char *out, int force, const char *const *dirs, int n);

#endif
