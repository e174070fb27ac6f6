"""The lane's RESP packer writes exactly the bytes the client's own pack_commands would
for what the lane sends (text and integers), for any such commands; it refuses what the
client refuses or encodes otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from app.infra.redis_lane import pack

CLIENTS_OWN = Connection()  # never connects: only its packer is used

arguments = st.one_of(
    st.text(max_size=400),  # any Unicode, the empty string included
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
commands = st.lists(
    st.tuples(st.sampled_from(["GET", "SET", "MGET", "EXPIRE"])).flatmap(
        lambda name: st.lists(arguments, max_size=6).map(lambda rest: (*name, *rest))
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@given(commands)
def test_the_lane_packs_what_the_client_would(cmds):
    assert b"".join(pack(cmds)) == b"".join(CLIENTS_OWN.pack_commands(cmds))


def test_a_hops_commands_pack_as_the_client_packs_them():
    hop = (
        ("MGET", "pt:ussd:s:{+254711000001}:ATUid_1", "pt:profile:{+254711000001}"),
        ("SET", "pt:ussd:s:{+254711000001}:ATUid_1", '{"state":"menu"}', "EX", 180),
    )
    assert b"".join(pack(hop)) == b"".join(CLIENTS_OWN.pack_commands(hop))


@pytest.mark.parametrize("odd", [True, 1.5, b"raw", None])
def test_anything_but_text_and_integers_is_refused(odd):
    with pytest.raises(DataError):
        pack((("SET", "k", odd),))
