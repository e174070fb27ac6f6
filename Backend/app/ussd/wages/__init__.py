"""My account > Pay worker (an employer) and My pay (a worker): docs/wages.md."""
