"""The session state is saved by hand (State.to_dict, not dataclasses.asdict, for speed):
it must keep every field, as asdict would, and read back as the same state."""

from dataclasses import asdict, fields

from app.services.accounts import Profile
from app.ussd.engine import State


def _full_state() -> State:
    user = Profile(7, "PT-7", "+254712345678", "Jane", "sw", "user", "GABC", "active")
    return State(
        phone="+254712345678",
        language="sw",
        user=user,
        stack=["home", "send"],
        page=2,
        data={"amount": 5000, "to": {"phone": "+254700000001"}},
        notice="saved",
        consumed=3,
        ended=True,
    )


def test_state_saved_by_hand_holds_every_field_as_asdict_does():
    state = _full_state()
    assert state.to_dict() == asdict(state)
    assert set(state.to_dict()) == {f.name for f in fields(State)}


def test_state_read_back_from_its_dict_is_the_same_state():
    state = _full_state()
    assert State.from_dict(state.to_dict()) == state
    anonymous = State(phone="+254712345678", language="en", user=None, stack=[])
    assert State.from_dict(anonymous.to_dict()) == anonymous
