"""Wages: employers, their workers, pay runs, line payments and reports (docs/wages.md)."""
