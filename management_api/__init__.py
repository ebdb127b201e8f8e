"""The management REST API under /api/v1/: everything the console does, for automation."""
