"""The console's promotions page: what the promotions account holds, the cashback it
paid and got back and the referral bonuses it paid (this Nairobi month and by day over
30 days, zero-filled), the referral programmes' budgets and every cashback rule. Every
figure is read from the promotions account's own ledger legs; it reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.db.repositories.console_promotions import PromotionDay, RuleRow
from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.domain.promotions import PROMOTIONS, ReferralProgram, month_of

SERIES_DAYS = 30
OFFSET = timedelta(hours=3)  # Nairobi's, as the dashboard's days


@dataclass(frozen=True)
class Promotions:
    today: date  # Nairobi
    balance: int  # cents the promotions account holds
    month: PromotionDay  # this Nairobi month's totals (its day: the month's first)
    daily: tuple[PromotionDay, ...]  # the last SERIES_DAYS days, oldest first
    programme: ReferralProgram | None  # the one valid today
    programmes: tuple[ReferralProgram, ...]  # newest first
    rules: tuple[RuleRow, ...]  # newest first

    def rule_state(self, rule: RuleRow) -> str:
        if rule.valid_until is not None and rule.valid_until < self.today:
            return "ended"
        return "upcoming" if rule.valid_from > self.today else "valid"


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=NAIROBI)


def overview(uow: UnitOfWork, now: datetime | None = None) -> Promotions:
    """Everything the page shows. Reads only; raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    today = now.astimezone(NAIROBI).date()
    first = today - timedelta(days=SERIES_DAYS - 1)
    month = month_of(today)
    with uow:
        [account] = uow.ledger.accounts(codes=[PROMOTIONS], for_update=False)
        daily = uow.console_promotions.daily(first, today, OFFSET, _start(first))
        this_month = uow.console_promotions.daily(month, today, OFFSET, _start(month))
        programme = uow.promotions.program_on(today)
        programmes = uow.console_promotions.programs()
        rules = uow.console_promotions.rules()
    totals = PromotionDay(
        month,
        sum(d.cashback_paid for d in this_month),
        sum(d.cashback_reversed for d in this_month),
        sum(d.referral_paid for d in this_month),
    )
    return Promotions(
        today, account.balance, totals, tuple(daily), programme, tuple(programmes), tuple(rules)
    )
