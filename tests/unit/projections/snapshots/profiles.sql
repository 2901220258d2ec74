CREATE VIEW IF NOT EXISTS profiles AS
SELECT * FROM profile_versions FINAL WHERE deleted = 0
