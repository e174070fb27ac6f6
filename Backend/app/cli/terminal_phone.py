"""A terminal feature phone that dials a running PayTrace the way Africa's Talking does.

`make -C Backend phone PHONE=+254712345678` (or `python -m app.cli.terminal_phone --phone ...`).
Each hop is `POST {url}/ussd` with AT's form fields; `text` is cumulative, the
user's inputs joined with `*`, exactly as AT sends it. The screen is framed like a
phone display. `PhoneSession` is the core, and `dial()` drives it with scripted
inputs so that tests (and scripts) can walk a journey without a terminal.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_SERVICE_CODE = "*384*123#"
NETWORK_CODE = "63902"  # Safaricom KE, what AT sends for most Kenyan callers
DISPLAY_WIDTH = 26  # characters a typical feature-phone line shows


def new_session_id() -> str:
    """An AT-looking session id; AT issues a fresh one for every call."""
    return "ATUid_" + secrets.token_hex(16)


def accumulate(inputs: Iterable[str]) -> str:
    """AT's cumulative `text`: every input of this call so far, joined with `*`."""
    return "*".join(inputs)


@dataclass(frozen=True)
class Screen:
    """One answer from PayTrace: the text shown and whether the call is over."""

    text: str
    ended: bool
    status_code: int = 200

    @classmethod
    def from_response(cls, status_code: int, body: str) -> Screen:
        """Parse `CON ...` / `END ...`; anything else is a broken answer that ends the call."""
        if status_code == 200 and body.startswith("CON "):
            return cls(body[4:], ended=False)
        if status_code == 200 and body.startswith("END "):
            return cls(body[4:], ended=True)
        # A real phone shows a network error and drops the call; show what came back.
        return cls(f"[HTTP {status_code}] {body[:300]}", ended=True, status_code=status_code)

    @property
    def ok(self) -> bool:
        return self.status_code == 200


def frame(screen: Screen, width: int = DISPLAY_WIDTH) -> str:
    """Draw the screen inside a phone-display box, wrapping long lines."""
    rows: list[str] = []
    for line in screen.text.split("\n"):
        rows.extend(textwrap.wrap(line, width) or [""])
    footer = "[call ended]" if screen.ended else "[reply]"
    top = "┌" + "─" * (width + 2) + "┐"
    bottom = "└" + "─" * (width + 2) + "┘"
    body = [f"│ {row.ljust(width)} │" for row in rows]
    rule = "├" + "─" * (width + 2) + "┤"
    return "\n".join([top, *body, rule, f"│ {footer.ljust(width)} │", bottom])


@dataclass
class PhoneSession:
    """One USSD call: a session id, the inputs typed so far, and the hops sent."""

    phone: str
    service_code: str = DEFAULT_SERVICE_CODE
    session_id: str = field(default_factory=new_session_id)
    inputs: list[str] = field(default_factory=list)

    def form(self, user_input: str | None = None) -> dict[str, str]:
        """The form AT posts for the next hop (`None` = the dial itself)."""
        inputs = self.inputs if user_input is None else [*self.inputs, user_input]
        return {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": NETWORK_CODE,
            "text": accumulate(inputs),
        }

    def send(self, client: httpx.Client, user_input: str | None = None) -> Screen:
        """Post one hop and return the screen; the input counts once it was sent."""
        response = client.post("/ussd", data=self.form(user_input))
        if user_input is not None:
            self.inputs.append(user_input)
        return Screen.from_response(response.status_code, response.text)


def make_client(url: str, token: str | None = None, timeout_s: float = 15.0) -> httpx.Client:
    """An HTTP client for PayTrace; AT's deadline is 15 s, so is ours."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=timeout_s)


def dial(
    client: httpx.Client,
    phone: str,
    inputs: Iterable[str],
    service_code: str = DEFAULT_SERVICE_CODE,
) -> list[Screen]:
    """One call: dial, then type each input in turn; stops early when the call ends."""
    session = PhoneSession(phone=phone, service_code=service_code)
    screens = [session.send(client)]
    for user_input in inputs:
        if screens[-1].ended:
            break
        screens.append(session.send(client, user_input))
    return screens


def interactive(client: httpx.Client, phone: str, service_code: str) -> int:
    """Dial, show each screen, read replies; after END offer to dial again."""
    print(f"Dialling {service_code} from {phone} (Ctrl-D or 'q' at a prompt hangs up)")
    while True:
        session = PhoneSession(phone=phone, service_code=service_code)
        try:
            screen = session.send(client)
            while True:
                print(frame(screen))
                if screen.ended:
                    break
                reply = input("> ").strip()
                if reply.lower() == "q":
                    return 0
                screen = session.send(client, reply)
            again = input("Enter to dial again, q to quit: ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        except httpx.HTTPError as exc:
            print(f"Cannot reach PayTrace at {client.base_url}: {exc}", file=sys.stderr)
            print("Is it running? Start it with: make -C Backend run", file=sys.stderr)
            return 1
        if again == "q":
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A terminal feature phone for PayTrace USSD.")
    parser.add_argument("--phone", required=True, help="caller's number, e.g. +254712345678")
    parser.add_argument("--url", default=DEFAULT_URL, help="PayTrace base URL")
    parser.add_argument("--service-code", default=DEFAULT_SERVICE_CODE, help="USSD shortcode")
    parser.add_argument("--token", default=None, help="USSD callback token (sent as Bearer)")
    args = parser.parse_args(argv)
    with make_client(args.url, args.token) as client:
        return interactive(client, args.phone, args.service_code)


if __name__ == "__main__":
    sys.exit(main())
