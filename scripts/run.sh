#!/usr/bin/env bash
# The main job on the embedded defaults: build FootAnalytics, import every sample
# match in the shared data directory into SQLite, and print what is stored.
#   scripts/run.sh [--db PATH]     (default ./footanalytics.db; FA_DATA_DIR overrides the data dir)
set -euo pipefail
cd "$(dirname "$0")/.."
db=footanalytics.db
if [ "${1:-}" = "--db" ] && [ -n "${2:-}" ]; then db=$2; fi
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
"$fa" matches --db "$db"
