-- How many refusals one audit row stands for (repeated refusals from one source are counted into
-- one row per window; see audit.aggregate_window_secs). Every earlier row stands for one.
ALTER TABLE audit_events ADD COLUMN repeat_count BIGINT NOT NULL DEFAULT 1;
