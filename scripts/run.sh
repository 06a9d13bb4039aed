#!/usr/bin/env bash
# The main job on the embedded defaults: build FootAnalytics, import (and analyse)
# every sample match in the shared data directory into SQLite, analyse the sample
# match video (transcode to HLS + DASH under ./media, detect, track, teams,
# calibrate, store the tracking, an overlay video to check by eye), print what is
# stored, then serve it all over HTTP on 127.0.0.1:8080 until Ctrl-C / SIGTERM.
#   scripts/run.sh [--db PATH] [--port N] [--no-serve]
# (default ./footanalytics.db; FA_DATA_DIR overrides the data dir; --no-serve
# stops after the listing, as CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
db=footanalytics.db
port=8080
serve=1
while [ $# -gt 0 ]; do
  case "$1" in
    --db) db=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --no-serve) serve=0; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
data=${FA_DATA_DIR:-$(cd .. && pwd)/shared/data}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build footanalytics >/dev/null
fa=build/footanalytics

"$fa" import --db "$db" \
  "$data/events/statsbomb/15986_event.json" \
  "$data/events/statsbomb/3788741_event.json" \
  "$data/events/metrica/Sample_Game_1_RawEventsData.csv" \
  "$data/events/metrica/Sample_Game_2_RawEventsData.csv" \
  "$data/events/metrica/Sample_Game_3_events.json" \
  "$data/events/wyscout/events_v2_2499773.json" \
  "$data/tracking/metrica/csv_excerpt_home.csv" \
  "$data/tracking/metrica/epts_excerpt_metadata.xml" \
  "$data/tracking/skillcorner/skillcorner_2068_match_data.json" \
  "$data/tracking/skillcorner/skillcorner_4039_match_data.json" \
  "$data/tracking/skillcorner/kloppy_skillcorner_match_data.json" \
  "$data/tracking/skillcorner/kloppy_skillcorner_meta_data.json" \
  "$data/tracking/lastrow/LIV_2-1_CHE.csv"
echo
mkdir -p media
"$fa" analyze "$data/video/soccertrack_left_camera.mp4" --db "$db" --calib tests/fixtures/soccertrack_left_calib.json \
  --out media/soccertrack_left_camera --force --overlay media/soccertrack_left_camera-overlay.mp4 \
  --radar media/soccertrack_left_camera-radar.mp4 --progress none
echo
"$fa" matches --db "$db"
if [ "$serve" = 1 ]; then
  echo
  echo "Serving the matches above: try curl http://127.0.0.1:$port/v1/matches, and the analysed video at"
  echo "http://127.0.0.1:$port/media/soccertrack_left_camera/master.m3u8 (Ctrl-C stops)"
  exec "$fa" serve --db "$db" --port "$port" --media media
fi
