"""OpenAPI examples of the harambee routes: what the PWA shows and sends."""

from __future__ import annotations

NEW = {
    "title": "School fees for Amani",
    "description": "Term 2 fees at Moi Girls, Eldoret",
    "target_amount": 5000000,
    "end_date": "2026-12-31",
}
PATCH = {"target_amount": 6000000, "end_date": None}
CAMPAIGN = {
    "id": 12,
    "code": "482913",
    "title": "School fees for Amani",
    "description": "Term 2 fees at Moi Girls, Eldoret",
    "currency": "KES",
    "target_amount": 5000000,
    "current_amount": 2750000,
    "progress_percent": 55,
    "status": "active",
    "end_date": "2026-12-31",
    "organiser_name": "Wanjiru Kamau",
    "is_organiser": False,
    "created_at": "2026-11-02T08:15:00Z",
    "updated_at": "2026-11-02T08:15:00Z",
    "ended_at": None,
}
_ENDED = {"updated_at": "2026-12-31T18:00:00Z", "ended_at": "2026-12-31T18:00:00Z"}
CLOSED = {
    "campaign": {**CAMPAIGN, "status": "closed", "is_organiser": True, **_ENDED},
    "payout": {
        "reference": "M3QX7K2PLA",
        "amount": 2750000,
        "created_at": "2026-12-31T18:00:00Z",
    },
}
CANCELLED = {
    "campaign": {
        **CAMPAIGN,
        "status": "cancelled",
        "current_amount": 0,
        "progress_percent": 0,
        "is_organiser": True,
        **_ENDED,
    },
    "refunded_contributors": 41,
    "refunded_amount": 2750000,
}
STATS = {
    "campaign_id": 12,
    "target_amount": 5000000,
    "total_raised": 2750000,
    "contributions": 57,
    "contributors": 41,
    "average_contribution": 48246,
    "pledged_amount": 1500000,
    "pledge_paid_amount": 600000,
    "daily": [{"date": "2026-11-02", "amount": 125000, "contributions": 3}],
    "pledge_statuses": {
        "pledged": 4,
        "partially_paid": 2,
        "fulfilled": 3,
        "overdue": 1,
        "cancelled": 0,
    },
}
CONTRIBUTE = {
    "campaign_id": 12,
    "amount": 50000,
    "is_anonymous": False,
    "message": "Tuko pamoja!",
    "pin": "4821",
}
CONTRIBUTION = {
    "id": 301,
    "reference": "K7QX2M9PLA",
    "campaign_id": 12,
    "amount": 50000,
    "is_anonymous": False,
    "message": "Tuko pamoja!",
    "contributor_name": "Otieno Ouma",
    "pledge_id": None,
    "created_at": "2026-11-28T16:45:29Z",
}
RECEIPT = {**CONTRIBUTION, "balance": 74500, "campaign_current_amount": 2800000}
LISTED = {
    "id": 301,
    "amount": 50000,
    "contributor_name": None,
    "is_anonymous": True,
    "message": "Tuko pamoja!",
    "created_at": "2026-11-28T16:45:29Z",
}
PLEDGE = {"campaign_id": 12, "amount": 100000, "due_date": "2026-12-15"}
PLEDGE_OUT = {
    "id": 77,
    "campaign_id": 12,
    "campaign_code": "482913",
    "campaign_title": "School fees for Amani",
    "amount": 100000,
    "paid_amount": 40000,
    "remaining_amount": 60000,
    "due_date": "2026-12-15",
    "status": "partially_paid",
    "is_anonymous": False,
    "message": None,
    "created_at": "2026-11-28T16:45:29Z",
}
PAYMENT = {
    "pledge": PLEDGE_OUT,
    "contribution": {**RECEIPT, "amount": 40000, "pledge_id": 77, "message": None},
}
