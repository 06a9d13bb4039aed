/*
 * ingest.h - the face of src/ingest: provider files in, the domain model out.
 *
 * Each provider format has one parser file (statsbomb.c, metrica.c, epts.c,
 * skillcorner.c, wyscout.c, lastrow.c). A parser streams: it reads one record at a
 * time, converts it to the model convention (model.h) and hands it to a
 * fa_sink, so memory stays constant however long the file is.
 *
 * Import flow: fa_ingest_sniff() classifies each file from its content,
 * fa_ingest_plan() groups companion files (events + lineups, tracking home +
 * away, EPTS metadata + frames, SkillCorner match data + tracking) into one
 * job per match, and fa_ingest_run() runs the right parser for a job.
 *
 * Errors: FA_EINVAL with a one-line message naming file, position (line:col
 * or line and column) and problem; the sink may have received part of the
 * match, so callers import inside a transaction.
 */
#ifndef FA_INGEST_H
#define FA_INGEST_H

#include <stddef.h>

#include "model/model.h"

typedef enum fa_file_kind {
    FA_FILE_UNKNOWN = 0,
    FA_FILE_STATSBOMB_EVENTS,      /* [ {event}, ... ] with "possession_team" */
    FA_FILE_STATSBOMB_LINEUPS,     /* [ {"team_id", "lineup": [...]}, x2 ] */
    FA_FILE_METRICA_EVENTS_CSV,    /* Team,Type,Subtype,Period,Start Frame,... */
    FA_FILE_METRICA_EVENTS_JSON,   /* {"data": [ {"index", "subtypes", ...} ]} */
    FA_FILE_METRICA_TRACKING_HOME, /* ,,,Home,,Home,... */
    FA_FILE_METRICA_TRACKING_AWAY, /* ,,,Away,,Away,... */
    FA_FILE_EPTS_METADATA,         /* FIFA EPTS XML <main><Metadata> */
    FA_FILE_EPTS_TRACKING,         /* "frame:x,y,...;...:ball" text lines */
    FA_FILE_SKILLCORNER_MATCH,     /* {"home_team", "pitch_length", ...} */
    FA_FILE_SKILLCORNER_TRACKING,  /* JSON Lines {"frame", "player_data", ...} */
    FA_FILE_WYSCOUT_EVENTS,        /* {"events": [ {"eventSec", ...} ]} or [ ... ] */
    FA_FILE_LASTROW_TRACKING,      /* player,frame,x,y,z,dx,dy,... one row per object per frame */
    FA_FILE_KIND_COUNT
} fa_file_kind;

const char *fa_file_kind_name(fa_file_kind k);
fa_provider fa_file_kind_provider(fa_file_kind k);

/* Classifies a file from its first bytes. Returns the kind, or
 * FA_FILE_UNKNOWN with an error message (unreadable, a directory, empty,
 * or no provider recognised). */
fa_file_kind fa_ingest_sniff(const char *path);

#define FA_INGEST_MAX_FILES 4

/* One match to import: its primary file and companions, in the order the
 * parser takes them (see fa_ingest_run). */
typedef struct fa_ingest_job {
    fa_file_kind kind; /* kind of files[0] */
    const char *files[FA_INGEST_MAX_FILES];
    size_t nfiles;
} fa_ingest_job;

/* Groups paths into jobs. Companions missing from paths are looked for next
 * to the primary file (15986_event.json -> 15986_lineup.json, ..._home.csv
 * -> ..._away.csv, ..._metadata.xml -> ..._tracking.txt). provider, when not
 * FA_PROVIDER_UNKNOWN, rejects files of other providers. *jobs is allocated
 * (free() it; the strings in it are the callers' or static copies owned by
 * the plan: free with fa_ingest_plan_free). */
typedef struct fa_ingest_plan {
    fa_ingest_job *jobs;
    size_t njobs;
    char **owned; /* companion paths found on disk */
    size_t nowned;
} fa_ingest_plan;
int fa_ingest_plan_make(const char *const *paths, size_t n, fa_provider provider, fa_ingest_plan *plan);
void fa_ingest_plan_free(fa_ingest_plan *plan);

/* Runs the parser for one job, streaming into sink. */
int fa_ingest_run(const fa_ingest_job *job, const fa_sink *sink);

/* The parsers, one per file (see each file's header comment). */
int fa_statsbomb_import(const char *events_path, const char *lineups_path /* NULL ok */,
                        const fa_sink *sink);
int fa_metrica_events_csv_import(const char *path, const fa_sink *sink);
int fa_metrica_events_json_import(const char *path, const fa_sink *sink);
int fa_metrica_tracking_import(const char *home_path, const char *away_path, const fa_sink *sink);
int fa_epts_import(const char *metadata_path, const char *tracking_path, const fa_sink *sink);
int fa_skillcorner_import(const char *match_path, const char *tracking_path /* NULL ok */,
                          const fa_sink *sink);
int fa_wyscout_import(const char *events_path, const fa_sink *sink);
int fa_lastrow_import(const char *path, const fa_sink *sink);

#endif
