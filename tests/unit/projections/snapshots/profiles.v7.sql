CREATE OR REPLACE VIEW profiles AS
SELECT * FROM profile_versions FINAL WHERE deleted = 0
