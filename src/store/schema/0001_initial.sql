-- 0001_initial: matches, their players, events and tracking chunks.
-- Children cascade from matches; every read query has an index (db explain).
CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL,
  applied_at TEXT NOT NULL);
CREATE TABLE competitions(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE UNIQUE);
CREATE TABLE seasons(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE UNIQUE);
CREATE TABLE teams(id INTEGER PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT NOT NULL,
  name TEXT NOT NULL COLLATE NOCASE, UNIQUE(provider, provider_id, name));
CREATE INDEX teams_provider_id ON teams(provider_id);
CREATE INDEX teams_name ON teams(name);
CREATE TABLE players(id INTEGER PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT NOT NULL,
  name TEXT NOT NULL, UNIQUE(provider, provider_id));
CREATE TABLE matches(id INTEGER PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT NOT NULL,
  competition_id INTEGER REFERENCES competitions(id), season_id INTEGER REFERENCES seasons(id),
  date TEXT, home_team_id INTEGER NOT NULL REFERENCES teams(id),
  away_team_id INTEGER NOT NULL REFERENCES teams(id), home_score INTEGER, away_score INTEGER,
  pitch_length REAL, pitch_width REAL, provider_length REAL, provider_width REAL,
  provider_unit TEXT, frame_rate REAL, source TEXT,
  imported_at TEXT NOT NULL, n_events INTEGER NOT NULL DEFAULT 0,
  n_frames INTEGER NOT NULL DEFAULT 0, UNIQUE(provider, provider_id));
CREATE INDEX matches_competition ON matches(competition_id);
CREATE INDEX matches_season ON matches(season_id);
CREATE INDEX matches_date ON matches(date);
CREATE INDEX matches_home_team ON matches(home_team_id);
CREATE INDEX matches_away_team ON matches(away_team_id);
CREATE TABLE match_players(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  player_id INTEGER NOT NULL REFERENCES players(id), team_id INTEGER REFERENCES teams(id),
  side INTEGER, shirt INTEGER, position TEXT, minutes REAL, starter INTEGER,
  UNIQUE(match_id, player_id));
CREATE INDEX match_players_team ON match_players(team_id);
CREATE INDEX match_players_player ON match_players(player_id);
CREATE TABLE events(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL, period INTEGER NOT NULL, t REAL, duration REAL, kind INTEGER NOT NULL,
  type TEXT NOT NULL COLLATE NOCASE, subtype TEXT, side INTEGER, team_id INTEGER,
  player_id INTEGER, recipient_id INTEGER, x REAL, y REAL, end_x REAL, end_y REAL, end_z REAL,
  success INTEGER, outcome TEXT, xg REAL, body_part TEXT, pass_type TEXT,
  under_pressure INTEGER NOT NULL, goal INTEGER NOT NULL, provider_event_id TEXT, related TEXT);
CREATE UNIQUE INDEX events_match_seq ON events(match_id, seq);
CREATE INDEX events_match_kind_t ON events(match_id, kind, t);
CREATE INDEX events_match_type ON events(match_id, type);
CREATE INDEX events_match_player_t ON events(match_id, player_id, t);
CREATE INDEX events_match_period_t ON events(match_id, period, t);
CREATE TABLE tracking_chunks(match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
  period INTEGER NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL, n_frames INTEGER NOT NULL,
  codec TEXT NOT NULL, raw_bytes INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(match_id, period, t0)) WITHOUT ROWID;
