CREATE VIEW IF NOT EXISTS identities AS
SELECT * FROM identity_links FINAL WHERE deleted = 0
