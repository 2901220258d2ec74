"""Access control and accountability: API keys with roles, the FastAPI dependencies that
check them, and the append-only audit log of who read or changed what."""
