"""Local stand-ins for external providers, mounted in development and tests only."""
