"""The web phone's page, script and settings are served outside production only."""

from __future__ import annotations

import httpx

from app.api.app import create_app
from app.domain.gsm7 import USSD_MAX_CHARS
from tests.conftest import LiveServer, free_port


def test_the_web_phone_is_served_in_development_with_its_own_files_only(live_server):
    page = httpx.get(f"{live_server.url}/sandbox/phone", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/sandbox/phone/static/phone.js"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    script = httpx.get(f"{live_server.url}/sandbox/phone/static/phone.js", timeout=10)
    assert script.status_code == 200 and 'fetch("/ussd"' in script.text
    config = httpx.get(f"{live_server.url}/sandbox/phone/config.json", timeout=10).json()
    assert config["screen_max"] == USSD_MAX_CHARS
    assert config["service_codes"][0].startswith("*")
    assert config["sms_sandbox"] is True and config["token_required"] is False


def test_the_web_phone_is_absent_in_production(live_settings, clean_database):
    production = live_settings.model_copy(update={"environment": "production"})
    with LiveServer(create_app(production), production.port) as server:
        for path in (
            "/sandbox/phone",
            "/sandbox/phone/config.json",
            "/sandbox/phone/static/phone.js",
            "/sandbox/phone/mpesa/prompts?phone=%2B254711000001",
        ):
            answer = httpx.get(f"{server.url}{path}", timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (404, "not_found"), path


def test_the_m_pesa_answer_refuses_bad_input_and_says_when_the_sandbox_is_away(
    live_settings, clean_database
):
    away = live_settings.model_copy(update={"daraja_base_url": f"http://127.0.0.1:{free_port()}"})
    with LiveServer(create_app(away), away.port) as server:
        url = f"{server.url}/sandbox/phone/mpesa"
        for body in (b"", b"[1]", b"{", b'{"phone": "+254711000001"}',
                     b'{"phone": "+254711000001", "answer": "maybe"}',
                     b'{"phone": "12345", "answer": "accept"}'):  # fmt: skip
            answer = httpx.post(url, content=body, timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (422, "invalid_request"), body
        answer = httpx.post(url, json={"phone": "+254711000001", "answer": "accept"}, timeout=10)
        assert (answer.status_code, answer.json()["error"]) == (503, "service_unavailable")


def test_the_m_pesa_prompts_refuse_bad_input_and_say_when_the_sandbox_is_away(
    live_settings, clean_database
):
    away = live_settings.model_copy(update={"daraja_base_url": f"http://127.0.0.1:{free_port()}"})
    with LiveServer(create_app(away), away.port) as server:
        prompts = f"{server.url}/sandbox/phone/mpesa/prompts"
        for phone in ("", "12345", "+2547110000011"):
            answer = httpx.get(prompts, params={"phone": phone}, timeout=10)
            assert (answer.status_code, answer.json()["error"]) == (422, "invalid_request"), phone
        bad_id = httpx.post(f"{prompts}/ws..CO", json={"answer": "cancel"}, timeout=10)
        assert (bad_id.status_code, bad_id.json()["error"]) == (422, "invalid_request")
        bad_body = httpx.post(f"{prompts}/ws_CO_1", content=b"{", timeout=10)
        assert (bad_body.status_code, bad_body.json()["error"]) == (422, "invalid_request")
        for answer in (
            httpx.get(prompts, params={"phone": "+254711000001"}, timeout=10),
            httpx.post(f"{prompts}/ws_CO_1", json={"answer": "cancel"}, timeout=10),
        ):
            assert (answer.status_code, answer.json()["error"]) == (503, "service_unavailable")
