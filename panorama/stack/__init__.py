"""The local default stack: a KRaft Kafka broker, redis-server and embedded chDB,
started by the project itself (no Docker), plus the platform's own processes."""
