CREATE VIEW IF NOT EXISTS events AS
SELECT * FROM event_log FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1
