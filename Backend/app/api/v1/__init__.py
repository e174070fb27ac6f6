"""The REST API for the PWA and mobile apps: /api/v1."""
