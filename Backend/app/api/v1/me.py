"""The signed-in user: /api/v1/me (profile, language, PIN)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import MeOut, MePatch, PinChange, PinChanged
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.errors import refused
from app.services import accounts, pins

router = APIRouter(prefix="/api/v1/me", tags=["me"], responses={**COMMON, **SIGNED_IN})


@router.get("", summary="My profile")
async def get_me(api: Api, caller: CurrentUser) -> MeOut:
    """Name, phone, PayTrace ID, language and the Stellar wallet's address and status."""
    profile = await api.services.run(accounts.get_profile_by_id, caller.user_id)
    return MeOut.of(profile)


@router.patch("", summary="Change my name or language")
async def patch_me(body: MePatch, api: Api, caller: CurrentUser) -> MeOut:
    """The new name is checked as at registration; USSD speaks the new language at once."""
    if body.full_name is None and body.language is None:
        raise refused("nothing_to_change", "send full_name and/or language")
    profile = await api.services.run(
        accounts.update_profile,
        user_id=caller.user_id,
        full_name=body.full_name,
        language=body.language,
    )
    await api.forget_profile(profile.phone)
    return MeOut.of(profile)


@router.post("/pin", summary="Change my PIN", responses=errors(403))
async def change_pin(body: PinChange, api: Api, caller: CurrentUser) -> PinChanged:
    """The old PIN is checked like any PIN (wrong ones count toward the shared lock); the
    new one must not be easy to guess. The user is told by SMS."""
    pins.check_new_pin(body.new_pin)
    await api.services.run_pin(
        pins.change_pin,
        user_id=caller.user_id,
        old_pin=body.old_pin,
        new_pin=body.new_pin,
        attempt_key=f"api:pin:{caller.user_id}:{uuid.uuid4().hex}",
    )
    return PinChanged()
