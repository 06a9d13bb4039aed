/*
 * chunk.c - the chunk plan, the post-processing of a chunk job's directory
 * and the assembly of the jobs' segments into one package (see chunk.h for
 * the design: chunks on the segment grid, one audio job).
 *
 * Why the manifests are written here and not by the dash muxer: the muxer
 * only knows what one process encoded; the assembly knows the segments of
 * every job, so it reads the facts from the files themselves - the track's
 * timescale, edit list and codec from the init segment, each fragment's
 * baseMediaDecodeTime (tfdt) and sample durations (tfhd/trun/trex) from the
 * media segments - and writes the MPD SegmentTimeline and the HLS EXTINFs
 * from them. Presentation times are tfdt minus the edit list's media time
 * (the encoder delay: B-frame reordering, AAC priming), as the dash muxer
 * writes them. The ISO BMFF boxes touched are few and fixed-layout (mfhd,
 * tfhd, tfdt, trun, sidx, mdhd, elst, hdlr, trex), read and patched in
 * place with bounds checks; a malformed file is refused with FA_EINVAL.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "chunk.h"
#include "video_internal.h"

/* ------------------------------------------------------------ plan */

int fa_chunk_plan_make(const fa_video_info *info, double max_input_s, double chunk_s, int segment_s,
                       fa_chunk_plan *out) {
    memset(out, 0, sizeof *out);
    if (!(chunk_s > 0 && chunk_s < 1e6) || segment_s <= 0)
        return fa_err_set(FA_EUSAGE, "--chunk-seconds: %g: expected a positive number of seconds", chunk_s);
    double d = info->duration;
    if (max_input_s > 0 && (d <= 0 || max_input_s < d)) d = max_input_s;
    if (!(d > 0)) return fa_err_set(FA_EINVAL, "input: duration unknown: cannot plan chunks");
    double frame = info->fps > 0 ? 1.0 / info->fps : 0;
    int segs = (int)ceil((d - frame) / segment_s - 1e-6), per = (int)lround(chunk_s / segment_s);
    if (segs < 1) segs = 1;
    if (per < 1) per = 1;
    int n = (segs + per - 1) / per;
    out->chunk = fa_malloc((size_t)n * sizeof *out->chunk);
    if (!out->chunk) return fa_err_set(FA_ENOMEM, "out of memory");
    out->duration_s = d, out->segment_s = segment_s, out->segments = segs, out->n = n;
    for (int i = 0; i < n; i++) {
        fa_chunk *c = &out->chunk[i];
        c->index = i;
        c->first_segment = 1 + i * per;
        c->segments = segs - i * per < per ? segs - i * per : per;
        c->start_s = (double)(c->first_segment - 1) * segment_s;
        c->end_s = i == n - 1 ? d : c->start_s + (double)c->segments * segment_s;
    }
    return 0;
}

void fa_chunk_plan_free(fa_chunk_plan *p) {
    free(p->chunk);
    memset(p, 0, sizeof *p);
}

int fa_chunk_plan_json(const fa_chunk_plan *p, int has_audio, fa_buf *b) {
    int rc = fa_buf_printf(b, "{\"duration_s\":%.3f,\"segment_s\":%d,\"segments\":%d,\"chunks\":[",
                           p->duration_s, p->segment_s, p->segments);
    for (int i = 0; rc == 0 && i < p->n; i++) {
        const fa_chunk *c = &p->chunk[i];
        rc = fa_buf_printf(
            b, "%s{\"index\":%d,\"start_s\":%.3f,\"end_s\":%.3f,\"first_segment\":%d,\"segments\":%d}",
            i ? "," : "", c->index, c->start_s, c->end_s, c->first_segment, c->segments);
    }
    if (rc == 0) rc = fa_buf_printf(b, "],\"audio_job\":%s}", has_audio ? "true" : "false");
    return rc ? fa_err_set(FA_ENOMEM, "out of memory") : 0;
}

/* ------------------------------------------------------------ files */

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL &&
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = size > 0 ? (size_t)size : 0;
    return buf;
}

static int write_all(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    return ok ? 0 : fa_err_set(FA_EIO, "%s: cannot write: %s", fa_path_base(path), strerror(errno));
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void seg_path(char *buf, size_t size, const char *dir, int stream, int n) {
    snprintf(buf, size, "%s/chunk-stream%d-%05d.m4s", dir, stream, n);
}

static void init_path(char *buf, size_t size, const char *dir, int stream) {
    snprintf(buf, size, "%s/init-stream%d.m4s", dir, stream);
}

/* ------------------------------------------------------------ ISO BMFF boxes */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

/* The body of the first box of type in [p, p+n), or NULL. */
static uint8_t *find_box(uint8_t *p, size_t n, const char *type, size_t *body_len) {
    size_t off = 0;
    while (off + 8 <= n) {
        uint64_t size = rd32(p + off), head = 8;
        if (size == 1 && off + 16 <= n) size = rd64(p + off + 8), head = 16;
        if (size == 0) size = n - off;
        if (size < head || size > n - off) return NULL;
        if (memcmp(p + off + 4, type, 4) == 0) {
            *body_len = (size_t)(size - head);
            return p + off + head;
        }
        off += (size_t)size;
    }
    return NULL;
}

/* Follows a path of nested boxes ("moov/trak/mdia/mdhd"). */
static uint8_t *find_path(uint8_t *p, size_t n, const char *path, size_t *len) {
    char type[5] = {0};
    for (;;) {
        memcpy(type, path, 4);
        p = find_box(p, n, type, &n);
        if (!p || path[4] != '/') break;
        path += 5;
    }
    *len = n;
    return p;
}

typedef struct track_info {
    uint32_t timescale;
    int64_t shift;     /* edit list media time: presentation = decode time - shift */
    uint32_t trex_dur; /* default sample duration */
    int audio;
} track_info;

static int bad_file(const char *path, const char *what) {
    return fa_err_set(FA_EINVAL, "%s: %s", fa_path_base(path), what);
}

static int parse_init(const char *path, track_info *t) {
    size_t n, len;
    uint8_t *buf = read_all(path, &n), *b;
    memset(t, 0, sizeof *t);
    if (!buf) return fa_err_set(FA_EIO, "%s: cannot read: %s", fa_path_base(path), strerror(errno));
    int rc = 0;
    if ((b = find_path(buf, n, "moov/trak/mdia/mdhd", &len)) != NULL && len >= 24)
        t->timescale = rd32(b + (b[0] == 1 ? 20 : 12));
    if ((b = find_path(buf, n, "moov/trak/mdia/hdlr", &len)) != NULL && len >= 12)
        t->audio = memcmp(b + 8, "soun", 4) == 0;
    if ((b = find_path(buf, n, "moov/mvex/trex", &len)) != NULL && len >= 20) t->trex_dur = rd32(b + 12);
    if ((b = find_path(buf, n, "moov/trak/edts/elst", &len)) != NULL && len >= 8) {
        size_t esz = b[0] == 1 ? 20 : 12;
        for (uint32_t i = 0; i < rd32(b + 4) && 8 + (i + 1) * esz <= len; i++) {
            const uint8_t *e = b + 8 + i * esz;
            int64_t mt = b[0] == 1 ? (int64_t)rd64(e + 8) : (int64_t)(int32_t)rd32(e + 4);
            if (mt != -1) {
                t->shift = mt;
                break;
            }
        }
    }
    if (t->timescale == 0) rc = bad_file(path, "not an fMP4 init segment (no track timescale)");
    free(buf);
    return rc;
}

typedef struct seg_time {
    int64_t tfdt;    /* decode time of the first sample, track timescale */
    int64_t dur;     /* sum of the sample durations */
    int64_t max_dur; /* longest sample */
    int64_t min_cto; /* earliest presentation - tfdt: min over samples of (decode time - tfdt + offset) */
    size_t bytes;
} seg_time;

/* Sums trun's sample durations (or the default duration per sample) and
 * finds the earliest presentation time relative to the fragment's start. */
static int trun_duration(const uint8_t *b, size_t len, uint32_t def, seg_time *s) {
    if (len < 8) return -1;
    uint32_t flags = rd32(b) & 0xffffff, count = rd32(b + 4);
    size_t cto_at = (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0);
    size_t off = 8 + (flags & 0x1 ? 4 : 0) + (flags & 0x4 ? 4 : 0);
    size_t per =
        (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0) + (flags & 0x400 ? 4 : 0) + (flags & 0x800 ? 4 : 0);
    if (off > len || (per && count > (len - off) / per)) return -1;
    for (uint32_t i = 0; i < count; i++) {
        int64_t d = flags & 0x100 ? rd32(b + off + i * per) : def;
        if (flags & 0x800) {
            uint32_t c = rd32(b + off + i * per + cto_at);
            int64_t cto = s->dur + (b[0] == 1 ? (int64_t)(int32_t)c : (int64_t)c);
            if (i == 0 || cto < s->min_cto) s->min_cto = cto;
        }
        s->dur += d;
        if (d > s->max_dur) s->max_dur = d;
    }
    return 0;
}

/* Reads a media segment's timing; with add != 0 (or seq > 0) also patches
 * it in place: tfdt and sidx earliest time + add, mfhd sequence = seq. */
static int segment_time(uint8_t *buf, size_t n, const track_info *t, int64_t add, uint32_t seq, seg_time *s) {
    size_t len, tlen;
    uint8_t *moof = find_box(buf, n, "moof", &len), *b;
    memset(s, 0, sizeof *s);
    s->bytes = n;
    if (!moof) return -1;
    if (seq && (b = find_box(moof, len, "mfhd", &tlen)) != NULL && tlen >= 8) wr32(b + 4, seq);
    uint8_t *traf = find_box(moof, len, "traf", &len);
    uint8_t *tfdt = traf ? find_box(traf, len, "tfdt", &tlen) : NULL;
    if (!tfdt || tlen < (tfdt[0] == 1 ? 12u : 8u)) return -1;
    s->tfdt = tfdt[0] == 1 ? (int64_t)rd64(tfdt + 4) : rd32(tfdt + 4);
    if (add) {
        if (tfdt[0] != 1 && s->tfdt + add > UINT32_MAX) return -1;
        s->tfdt += add;
        tfdt[0] == 1 ? wr64(tfdt + 4, (uint64_t)s->tfdt) : wr32(tfdt + 4, (uint32_t)s->tfdt);
        uint8_t *sidx = find_box(buf, n, "sidx", &tlen);
        if (sidx && tlen >= 20 && sidx[0] == 1) wr64(sidx + 12, rd64(sidx + 12) + (uint64_t)add);
        if (sidx && tlen >= 16 && sidx[0] == 0) wr32(sidx + 12, rd32(sidx + 12) + (uint32_t)add);
    }
    uint32_t def = t->trex_dur;
    if ((b = find_box(traf, len, "tfhd", &tlen)) != NULL && tlen >= 8) {
        uint32_t flags = rd32(b) & 0xffffff;
        size_t off = 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0);
        if (flags & 0x8 && off + 4 <= tlen) def = rd32(b + off);
    }
    b = find_box(traf, len, "trun", &tlen);
    return b ? trun_duration(b, tlen, def, s) : -1;
}

/* ------------------------------------------------------------ chunk job output */

/* Moves stream's segments 1..count to first.. and their times by add ticks. */
static int renumber_stream(const char *dir, int stream, int first, int64_t add, const track_info *t) {
    char from[4400], to[4400];
    int count = 0;
    for (;;) {
        seg_path(from, sizeof from, dir, stream, count + 1);
        if (!file_exists(from)) break;
        count++;
    }
    for (int k = count; k >= 1; k--) { /* downwards: a target name is always free */
        size_t n;
        seg_path(from, sizeof from, dir, stream, k);
        uint8_t *buf = read_all(from, &n);
        if (!buf) return fa_err_set(FA_EIO, "%s: cannot read: %s", fa_path_base(from), strerror(errno));
        seg_time s;
        int bad = segment_time(buf, n, t, add, (uint32_t)(first + k - 1), &s);
        seg_path(to, sizeof to, dir, stream, first + k - 1);
        int rc = bad ? bad_file(from, "not an fMP4 media segment") : write_all(to, buf, n);
        free(buf);
        if (rc) return rc;
        if (strcmp(from, to) != 0) unlink(from);
    }
    return count;
}

static int rename_stream(const char *dir, int from_i, int to_i) {
    char from[4400], to[4400];
    init_path(from, sizeof from, dir, from_i);
    init_path(to, sizeof to, dir, to_i);
    if (rename(from, to) != 0) return fa_err_set(FA_EIO, "%s: cannot rename: %s", from, strerror(errno));
    int k = 1;
    for (;; k++) {
        seg_path(from, sizeof from, dir, from_i, k);
        seg_path(to, sizeof to, dir, to_i, k);
        if (!file_exists(from)) break;
        if (rename(from, to) != 0) return fa_err_set(FA_EIO, "%s: cannot rename: %s", from, strerror(errno));
    }
    return k - 1;
}

static void remove_manifests(const char *dir, int streams) {
    char p[4400];
    snprintf(p, sizeof p, "%s/manifest.mpd", dir), unlink(p);
    snprintf(p, sizeof p, "%s/master.m3u8", dir), unlink(p);
    for (int i = 0; i <= streams; i++)
        snprintf(p, sizeof p, "%s/media_%d.m3u8", dir, i), unlink(p);
}

static int write_job_json(const char *dir, int nvideo, const fa_chunk *c, int segments) {
    char p[4400], text[512];
    if (c)
        snprintf(text, sizeof text,
                 "{\"job\":\"chunk\",\"index\":%d,\"start_s\":%.3f,\"first_segment\":%d,\"segments\":%d,"
                 "\"streams\":%d}\n",
                 c->index, c->start_s, c->first_segment, segments, nvideo);
    else
        snprintf(text, sizeof text, "{\"job\":\"audio\",\"stream\":%d,\"segments\":%d}\n", nvideo, segments);
    snprintf(p, sizeof p, "%s/chunk.json", dir);
    return write_all(p, text, strlen(text));
}

int fa_video_chunk_finish(const char *dir, int nvideo, const fa_chunk *c, int64_t off, AVRational tb) {
    remove_manifests(dir, nvideo + 1);
    if (!c) {
        int n = rename_stream(dir, 0, nvideo);
        return n < 0 ? n : write_job_json(dir, nvideo, NULL, n);
    }
    int segments = 0;
    for (int i = 0; i < nvideo; i++) {
        char init[4400];
        track_info t;
        init_path(init, sizeof init, dir, i);
        int rc = parse_init(init, &t);
        if (rc) return rc;
        int64_t add = av_rescale_q(off, tb, (AVRational){1, (int)t.timescale});
        if ((rc = renumber_stream(dir, i, c->first_segment, add, &t)) < 0) return rc;
        segments = rc;
    }
    return write_job_json(dir, nvideo, c, segments);
}

/* ------------------------------------------------------------ assembly: collecting */

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    uint8_t *x = read_all(a, &na), *y = read_all(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static int copy_file(const char *from, const char *to) {
    if (link(from, to) == 0) return 0;
    if (errno == EEXIST)
        return fa_err_set(FA_EINVAL, "%s: the same segment comes from two jobs", fa_path_base(to));
    size_t n;
    uint8_t *buf = read_all(from, &n);
    if (!buf) return fa_err_set(FA_EIO, "%s: cannot read: %s", from, strerror(errno));
    int rc = write_all(to, buf, n);
    free(buf);
    return rc;
}

/* One directory entry of a job: an init segment (checked against the one
 * already collected) or a media segment (must be new). */
static int collect_entry(const char *dir, const char *name, const char *tmp) {
    int i, k, end = 0;
    char from[4400], to[4400];
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s", tmp, name);
    if (sscanf(name, "init-stream%d.m4s%n", &i, &end) == 1 && name[end] == '\0') {
        if (!file_exists(to)) return copy_file(from, to);
        return same_bytes(from, to)
                   ? 0
                   : fa_err_set(FA_EINVAL,
                                "%s: init segment differs from another job's (different input "
                                "or settings)",
                                from);
    }
    if (sscanf(name, "chunk-stream%d-%d.m4s%n", &i, &k, &end) == 2 && name[end] == '\0') {
        if (file_exists(to)) return fa_err_set(FA_EINVAL, "%s: the same segment comes from two jobs", from);
        return copy_file(from, to);
    }
    return 0;
}

static int collect_dir(const char *dir, const char *tmp) {
    DIR *d = opendir(dir);
    if (!d) return fa_err_set(FA_EINVAL, "%s: cannot open the job directory: %s", dir, strerror(errno));
    int rc = 0, seen = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        seen += strncmp(e->d_name, "init-stream", 11) == 0;
        rc = collect_entry(dir, e->d_name, tmp);
    }
    closedir(d);
    if (rc == 0 && !seen) rc = fa_err_set(FA_EINVAL, "%s: no init segment: not a chunk job's output", dir);
    return rc;
}

/* ------------------------------------------------------------ assembly: timing */

typedef struct stream_desc {
    track_info t;
    int n;         /* segments */
    seg_time *seg; /* n entries */
    char codecs[32];
    int width, height, sar_num, sar_den, sample_rate, channels;
    int64_t bandwidth; /* bits/s: the peak over the segments of at least 1 s */
} stream_desc;

static int describe_codec(const char *path, stream_desc *s) {
    AVFormatContext *in = NULL;
    if (avformat_open_input(&in, path, NULL, NULL) < 0 || in->nb_streams < 1) {
        avformat_close_input(&in);
        return bad_file(path, "libavformat cannot read the init segment");
    }
    const AVCodecParameters *c = in->streams[0]->codecpar;
    s->width = c->width, s->height = c->height, s->sample_rate = c->sample_rate;
    s->channels = c->ch_layout.nb_channels;
    s->sar_num = c->sample_aspect_ratio.num > 0 ? c->sample_aspect_ratio.num : 1;
    s->sar_den = c->sample_aspect_ratio.num > 0 ? c->sample_aspect_ratio.den : 1;
    if (c->codec_id == AV_CODEC_ID_H264 && c->extradata_size >= 4 && c->extradata[0] == 1)
        snprintf(s->codecs, sizeof s->codecs, "avc1.%02x%02x%02x", c->extradata[1], c->extradata[2],
                 c->extradata[3]);
    else if (c->codec_id == AV_CODEC_ID_AAC)
        snprintf(s->codecs, sizeof s->codecs, "mp4a.40.%d", c->profile >= 0 ? c->profile + 1 : 2);
    else
        snprintf(s->codecs, sizeof s->codecs, "%s", avcodec_get_name(c->codec_id));
    avformat_close_input(&in);
    return 0;
}

static int read_segments(const char *tmp, int i, stream_desc *s) {
    char p[4400];
    for (;;) {
        seg_path(p, sizeof p, tmp, i, s->n + 1);
        if (!file_exists(p)) break;
        seg_time *g = realloc(s->seg, (size_t)(s->n + 1) * sizeof *g);
        if (!g) return fa_err_set(FA_ENOMEM, "out of memory");
        s->seg = g;
        size_t n;
        uint8_t *buf = read_all(p, &n);
        int bad = !buf || segment_time(buf, n, &s->t, 0, 0, &s->seg[s->n]) != 0;
        free(buf);
        if (bad) return bad_file(p, "not a readable fMP4 media segment");
        s->n++;
    }
    return s->n ? 0 : fa_err_set(FA_EINVAL, "stream %d: no media segment", i);
}

/* The highest segment number of stream i in dir (0 when none). */
static int last_segment(const char *dir, int i) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int last = 0, si, k, end;
    while (d && (e = readdir(d)) != NULL)
        if (sscanf(e->d_name, "chunk-stream%d-%d.m4s%n", &si, &k, &end) == 2 && !e->d_name[end] && si == i &&
            k > last)
            last = k;
    if (d) closedir(d);
    return last;
}

/* Consecutive segments must join within one sample; none may be missing. */
static int check_joins(const char *tmp, int i, const stream_desc *s) {
    if (last_segment(tmp, i) > s->n)
        return fa_err_set(FA_EINVAL, "stream %d: segment %d is missing", i, s->n + 1);
    for (int k = 1; k < s->n; k++) {
        const seg_time *a = &s->seg[k - 1], *b = &s->seg[k];
        int64_t gap = b->tfdt - (a->tfdt + a->dur);
        if (llabs(gap) > a->max_dur)
            return fa_err_set(FA_EINVAL, "stream %d: segment %d starts %.3f s %s segment %d ends", i, k + 1,
                              fabs((double)gap / s->t.timescale), gap > 0 ? "after" : "before", k);
    }
    return 0;
}

static int describe_stream(const char *tmp, int i, stream_desc *s) {
    char init[4400];
    init_path(init, sizeof init, tmp, i);
    int rc = parse_init(init, &s->t);
    if (rc == 0) rc = describe_codec(init, s);
    if (rc == 0) rc = read_segments(tmp, i, s);
    if (rc == 0) rc = check_joins(tmp, i, s);
    for (int k = 0; rc == 0 && k < s->n; k++) {
        double secs = (double)s->seg[k].dur / s->t.timescale;
        if (secs >= 1.0 || s->n == 1) {
            int64_t bps = (int64_t)(s->seg[k].bytes * 8 / (secs > 0 ? secs : 1));
            if (bps > s->bandwidth) s->bandwidth = bps;
        }
    }
    return rc;
}

/* Presentation interval of segment k in timescale units: from its earliest
 * presentation time (minus the edit list shift; the encoder delay before 0
 * is cut off) for its decode duration. */
static void seg_interval(const stream_desc *s, int k, int64_t *start, int64_t *end) {
    *start = s->seg[k].tfdt + s->seg[k].min_cto - s->t.shift;
    *end = *start + s->seg[k].dur;
    if (*start < 0) *start = 0;
}

/* ------------------------------------------------------------ assembly: manifests */

static void mpd_timeline(fa_buf *b, const stream_desc *s) {
    fa_buf_printf(b, "\t\t\t\t\t<SegmentTimeline>\n");
    int64_t prev_end = -1;
    for (int k = 0; k < s->n;) {
        int64_t t, e, t2, e2;
        seg_interval(s, k, &t, &e);
        int r = 0;
        while (k + r + 1 < s->n) {
            seg_interval(s, k + r + 1, &t2, &e2);
            if (t2 != e + (int64_t)r * (e - t) || e2 - t2 != e - t) break;
            r++;
        }
        if (t != prev_end)
            fa_buf_printf(b, "\t\t\t\t\t\t<S t=\"%lld\" d=\"%lld\"", (long long)t, (long long)(e - t));
        else
            fa_buf_printf(b, "\t\t\t\t\t\t<S d=\"%lld\"", (long long)(e - t));
        fa_buf_printf(b, r ? " r=\"%d\" />\n" : " />\n", r);
        prev_end = e + (int64_t)r * (e - t);
        k += r + 1;
    }
    fa_buf_printf(b, "\t\t\t\t\t</SegmentTimeline>\n");
}

static void mpd_representation(fa_buf *b, const stream_desc *s, int i) {
    if (s->t.audio)
        fa_buf_printf(
            b,
            "\t\t\t<Representation id=\"%d\" mimeType=\"audio/mp4\" codecs=\"%s\" bandwidth=\"%lld\" "
            "audioSamplingRate=\"%d\">\n\t\t\t\t<AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:"
            "23003:3:audio_channel_configuration:2011\" value=\"%d\" />\n",
            i, s->codecs, (long long)s->bandwidth, s->sample_rate, s->channels);
    else
        fa_buf_printf(
            b,
            "\t\t\t<Representation id=\"%d\" mimeType=\"video/mp4\" codecs=\"%s\" bandwidth=\"%lld\" "
            "width=\"%d\" height=\"%d\" sar=\"%d:%d\">\n",
            i, s->codecs, (long long)s->bandwidth, s->width, s->height, s->sar_num, s->sar_den);
    fa_buf_printf(
        b,
        "\t\t\t\t<SegmentTemplate timescale=\"%u\" initialization=\"init-stream$RepresentationID$.m4s\" "
        "media=\"chunk-stream$RepresentationID$-$Number%%05d$.m4s\" startNumber=\"1\">\n",
        s->t.timescale);
    mpd_timeline(b, s);
    fa_buf_printf(b, "\t\t\t\t</SegmentTemplate>\n\t\t\t</Representation>\n");
}

static double stream_end_s(const stream_desc *s) {
    int64_t t, e;
    seg_interval(s, s->n - 1, &t, &e);
    return (double)e / s->t.timescale;
}

static double max_seg_s(const stream_desc *s) {
    double m = 0;
    for (int k = 0; k < s->n; k++)
        m = fmax(m, (double)s->seg[k].dur / s->t.timescale);
    return m;
}

static void write_mpd(fa_buf *b, const stream_desc *s, int n) {
    double dur = 0, maxseg = 0;
    for (int i = 0; i < n; i++)
        dur = fmax(dur, stream_end_s(&s[i])), maxseg = fmax(maxseg, max_seg_s(&s[i]));
    fa_buf_printf(
        b,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
        "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"static\" "
        "mediaPresentationDuration=\"PT%.3fS\" maxSegmentDuration=\"PT%.3fS\" minBufferTime=\"PT%.1fS\">\n"
        "\t<Period id=\"0\" start=\"PT0.0S\">\n",
        dur, maxseg, 2 * ceil(maxseg));
    for (int audio = 0; audio <= 1; audio++) {
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (s[i].t.audio != audio) continue;
            if (first)
                fa_buf_printf(b,
                              "\t\t<AdaptationSet id=\"%d\" contentType=\"%s\" startWithSAP=\"1\" "
                              "segmentAlignment=\"true\" bitstreamSwitching=\"true\">\n",
                              audio, audio ? "audio" : "video");
            first = 0;
            mpd_representation(b, &s[i], i);
        }
        if (!first) fa_buf_printf(b, "\t\t</AdaptationSet>\n");
    }
    fa_buf_printf(b, "\t</Period>\n</MPD>\n");
}

static void write_media_playlist(fa_buf *b, const stream_desc *s, int i) {
    long target = 1;
    for (int k = 0; k < s->n; k++)
        target = fmax(target, lround((double)s->seg[k].dur / s->t.timescale));
    fa_buf_printf(
        b,
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%ld\n#EXT-X-MEDIA-SEQUENCE:1\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init-stream%d.m4s\"\n",
        target, i);
    for (int k = 0; k < s->n; k++) {
        int64_t t, e;
        seg_interval(s, k, &t, &e);
        fa_buf_printf(b, "#EXTINF:%.6f,\nchunk-stream%d-%05d.m4s\n", (double)(e - t) / s->t.timescale, i,
                      k + 1);
    }
    fa_buf_printf(b, "#EXT-X-ENDLIST\n");
}

static void write_master(fa_buf *b, const stream_desc *s, int n) {
    int audio = -1;
    for (int i = 0; i < n; i++)
        if (s[i].t.audio && audio < 0) audio = i;
    fa_buf_printf(b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (audio >= 0)
        fa_buf_printf(
            b,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio_%d\",DEFAULT=YES,AUTOSELECT=YES,"
            "URI=\"media_%d.m3u8\"\n",
            audio, audio);
    for (int i = 0; i < n; i++) {
        if (s[i].t.audio) continue;
        fa_buf_printf(
            b, "#EXT-X-STREAM-INF:BANDWIDTH=%lld,RESOLUTION=%dx%d,CODECS=\"%s%s%s\"%s\nmedia_%d.m3u8\n",
            (long long)(s[i].bandwidth + (audio >= 0 ? s[audio].bandwidth : 0)), s[i].width, s[i].height,
            s[i].codecs, audio >= 0 ? "," : "", audio >= 0 ? s[audio].codecs : "",
            audio >= 0 ? ",AUDIO=\"audio\"" : "", i);
    }
}

static int write_text(const char *dir, const char *name, fa_buf *b) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!b->data) return fa_err_set(FA_ENOMEM, "out of memory");
    int rc = write_all(p, b->data, b->len);
    fa_buf_reset(b);
    return rc;
}

static int write_manifests(const char *tmp, const stream_desc *s, int n) {
    fa_buf b = {0};
    write_mpd(&b, s, n);
    int rc = write_text(tmp, "manifest.mpd", &b);
    if (rc == 0) write_master(&b, s, n), rc = write_text(tmp, "master.m3u8", &b);
    for (int i = 0; rc == 0 && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "media_%d.m3u8", i);
        write_media_playlist(&b, &s[i], i);
        rc = write_text(tmp, name, &b);
    }
    fa_buf_free(&b);
    return rc;
}

static int assemble_into(const char *tmp, const char *const *dirs, int ndirs) {
    int rc = 0, n = 0;
    for (int d = 0; rc == 0 && d < ndirs; d++)
        rc = collect_dir(dirs[d], tmp);
    char p[4400];
    for (init_path(p, sizeof p, tmp, 0); rc == 0 && file_exists(p); init_path(p, sizeof p, tmp, n))
        n++;
    if (rc || n == 0) return rc ? rc : fa_err_set(FA_EINVAL, "assemble: no streams in the job directories");
    stream_desc *s = fa_calloc((size_t)n, sizeof *s);
    if (!s) return FA_ENOMEM;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = describe_stream(tmp, i, &s[i]);
    if (rc == 0) rc = write_manifests(tmp, s, n);
    for (int i = 0; i < n; i++)
        free(s[i].seg);
    free(s);
    return rc;
}

int fa_chunks_assemble(const char *out, int force, const char *const *dirs, int n) {
    char tmp[4096];
    if (n < 1) return fa_err_set(FA_EUSAGE, "assemble: no job directories");
    int rc = fa_video_outdir_begin(out, force, tmp, sizeof tmp);
    if (rc) return rc;
    rc = assemble_into(tmp, dirs, n);
    if (rc == 0) rc = fa_video_outdir_commit(tmp, out, force);
    if (rc) fa_video_rmtree(tmp);
    return rc;
}
