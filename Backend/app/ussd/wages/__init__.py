"""My account > I employ someone (an employer: pay a worker, add one) and My pay (a
worker): docs/wages.md."""
