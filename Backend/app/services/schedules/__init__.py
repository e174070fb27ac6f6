"""Scheduled payments (docs/schedules.md): a payment that repeats itself, weekly or
monthly, paid by the worker exactly once per occurrence.

- `manage`: create (idempotent), list, show, pause, resume, stop: the owner's side.
- `runs`: the worker's steps: make the occurrences that are due (catching up after
  downtime), remind the day before, run one occurrence.
- `executors`, `bill_executors`: one executor per kind of payment (transfer; wage: a pay
  run of one worker; bill and airtime), the only code that knows what a kind pays and
  how; `kinds` lists them.
- `wages`: a worker's pay on a schedule (recurring pay runs, docs/wages.md).
"""
