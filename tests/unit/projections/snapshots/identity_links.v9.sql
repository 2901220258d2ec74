ALTER TABLE identity_links
    ADD COLUMN IF NOT EXISTS inserted_at DateTime64(6, 'UTC') MATERIALIZED now64(6) COMMENT 'when the row was written',
    MATERIALIZE COLUMN inserted_at
SETTINGS mutations_sync = 2
