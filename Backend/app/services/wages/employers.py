"""Employers and the workers they pay: any user may become an employer, and adds
workers by phone (a worker not on PayTrace is invited by the channel, through the
invitations service, after the worker is added).
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.gsm7 import is_gsm7
from app.domain.records.wages import EmployedWorker
from app.domain.wages import FREQUENCIES, ITEMS
from app.errors import NotAnEmployer, NotFound, WorkerExists, WorkerNotFound, refused

# A household or an agency: a pay run takes every active worker, at most this many.
MAX_WORKERS = 1_000
NAME_MAX = 30
# Gross pay of one worker, one pay: KES 10 million is far above any household's.
MAX_GROSS = 1_000_000_000


def become_employer(uow: UnitOfWork, user_id: int, now: datetime | None = None) -> bool:
    """Make the user an employer; True when made now, False when one already. Commits.
    Raises NotFound for an unknown user."""
    with uow:
        if uow.users.get_by_id(user_id) is None:
            raise NotFound("no such user")
        made = uow.wages.become_employer(user_id, now or datetime.now(UTC))
        uow.commit()
    return made


def check_terms(display_name: str, gross_pay: int, frequency: str, deductions: list[str]) -> str:
    """The display name, trimmed; raises ValidationFailed ('invalid_name',
    'invalid_amount', 'invalid_frequency', 'invalid_deductions')."""
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not is_gsm7(name) or not name.isprintable():
        raise refused("invalid_name", f"a name of 1 to {NAME_MAX} plain characters")
    if isinstance(gross_pay, bool) or not isinstance(gross_pay, int):
        raise refused("invalid_amount", "gross pay is whole cents")
    if not 0 < gross_pay <= MAX_GROSS:
        raise refused("invalid_amount", f"gross pay is 1 to {MAX_GROSS} cents")
    if frequency not in FREQUENCIES:
        raise refused("invalid_frequency", f"frequency is one of {', '.join(FREQUENCIES)}")
    if not set(deductions) <= set(ITEMS) or len(set(deductions)) != len(deductions):
        raise refused("invalid_deductions", f"deductions are among {', '.join(ITEMS)}")
    return name


def add_worker(
    uow: UnitOfWork,
    *,
    employer_user_id: int,
    phone: str,
    display_name: str,
    gross_pay: int,
    frequency: str,
    deductions: list[str],
    now: datetime | None = None,
) -> EmployedWorker:
    """Add a worker on an E.164 phone; commits. Its `registered` says whether the
    channel should invite the phone. Raises NotAnEmployer, WorkerExists,
    ValidationFailed (check_terms' codes, 'send_to_self', 'too_many_workers')."""
    name = check_terms(display_name, gross_pay, frequency, deductions)
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        employer = uow.users.get_by_id(employer_user_id)
        if employer is not None and employer.phone == phone:
            raise refused("send_to_self", "an employer does not pay themselves")
        # A count, not the list: hiring the thousandth worker read the other 999 back.
        if uow.wages.active_worker_count(employer_user_id) >= MAX_WORKERS:
            raise refused("too_many_workers", f"at most {MAX_WORKERS} workers")
        added = uow.wages.add_worker(
            employer_user_id=employer_user_id,
            phone=phone,
            display_name=name,
            gross_pay=gross_pay,
            frequency=frequency,
            deductions=[item for item in ITEMS if item in deductions],
            now=now or datetime.now(UTC),
        )
        if added is None:
            raise WorkerExists("this employer already pays a worker on this phone")
        uow.commit()
    return added


def list_workers(uow: UnitOfWork, employer_user_id: int) -> list[EmployedWorker]:
    """The employer's active workers, oldest first; raises NotAnEmployer."""
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        return uow.wages.workers(employer_user_id)


def remove_worker(
    uow: UnitOfWork, employer_user_id: int, worker_id: int, now: datetime | None = None
) -> None:
    """Stop paying a worker (later runs leave them out; lines made stay); commits.
    Raises WorkerNotFound."""
    with uow:
        if not uow.wages.remove_worker(employer_user_id, worker_id, now or datetime.now(UTC)):
            raise WorkerNotFound("no such worker")
        uow.commit()


def find_worker(uow: UnitOfWork, employer_user_id: int, worker_id: str | int) -> EmployedWorker:
    """One of the employer's active workers, by id (as a schedule's payee keeps it).
    Raises NotAnEmployer, WorkerNotFound."""
    try:
        wanted = int(worker_id)
    except (TypeError, ValueError):
        raise WorkerNotFound("no such worker") from None
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        found = uow.wages.workers(employer_user_id, ids=[wanted])
    if not found:
        raise WorkerNotFound("no such worker")
    return found[0]


def edit_worker(
    uow: UnitOfWork,
    employer_user_id: int,
    worker_id: int,
    *,
    display_name: str | None = None,
    gross_pay: int | None = None,
    frequency: str | None = None,
    deductions: list[str] | None = None,
) -> EmployedWorker:
    """Change an active worker's terms (the fields given); commits. Pay runs made
    before keep their payslips; the next run (a wage schedule's too) uses the new
    terms. The phone never changes (remove and add again). A worker on a live wage
    schedule keeps their frequency (the schedule's dates follow it): stop the schedule
    first. Raises NotAnEmployer, WorkerNotFound, ValidationFailed (check_terms' codes,
    'frequency_scheduled')."""
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        found = uow.wages.workers(employer_user_id, ids=[worker_id])
        if not found:
            raise WorkerNotFound("no such worker")
        was = found[0]
        terms = (
            was.display_name if display_name is None else display_name,
            was.gross_pay if gross_pay is None else gross_pay,
            was.frequency if frequency is None else frequency,
            list(was.deductions) if deductions is None else deductions,
        )
        name = check_terms(*terms)
        if terms[2] != was.frequency and uow.wages.live_schedule_frequencies(
            employer_user_id, worker_id
        ):
            raise refused("frequency_scheduled", "the worker is paid on a schedule: stop it first")
        edited = uow.wages.update_terms(
            employer_user_id,
            worker_id,
            display_name=name,
            gross_pay=terms[1],
            frequency=terms[2],
            deductions=[item for item in ITEMS if item in terms[3]],
        )
        if edited is None:  # removed meanwhile
            raise WorkerNotFound("no such worker")
        uow.commit()
    return edited
