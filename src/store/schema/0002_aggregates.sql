-- 0002_aggregates: what analytics derives from a match at import (metrics, grids, documents).
-- Children cascade from matches; player_id is NULL for a team's row. Indexes serve every
-- query: by match (+ player), and by player + name for season sums (db explain).
CREATE TABLE match_metrics(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  side INTEGER, player_id INTEGER REFERENCES players(id), name TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX match_metrics_match_player ON match_metrics(match_id, player_id);
CREATE INDEX match_metrics_player_name ON match_metrics(player_id, name);
-- cells: nx * ny float64 little-endian, row j = cells[j * nx .. j * nx + nx), compressed as codec says.
CREATE TABLE match_grids(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  side INTEGER, player_id INTEGER REFERENCES players(id), name TEXT NOT NULL,
  nx INTEGER NOT NULL, ny INTEGER NOT NULL, codec TEXT NOT NULL, cells BLOB NOT NULL);
CREATE INDEX match_grids_match_player ON match_grids(match_id, player_id);
CREATE INDEX match_grids_player ON match_grids(player_id);
CREATE TABLE match_docs(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  name TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY(match_id, name)) WITHOUT ROWID;
-- Season sums name a player by the provider's id alone.
CREATE INDEX players_provider_id ON players(provider_id);
