ALTER TABLE profile_versions
    MODIFY COLUMN first_seen_at Nullable(DateTime64(6, 'UTC')),
    MODIFY COLUMN last_seen_at Nullable(DateTime64(6, 'UTC'))
SETTINGS mutations_sync = 2
