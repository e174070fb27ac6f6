"""Repositories: the only modules that contain SQL. Named parameters only."""
