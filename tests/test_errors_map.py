"""The error map over every answer recorded from LiteLLM, new-api style relays and OpenAI itself."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from bot.errors import (
    APIError,
    AuthenticationFailed,
    BadResponse,
    ContentRejected,
    EndpointMissing,
    InvalidRequest,
    ModelUnavailable,
    QuotaExhausted,
    RateLimited,
    UpstreamUnavailable,
)
from bot.images.errors_map import error_in_body, map_error, parse_error_body, wait_hint

DATA = Path(__file__).parent / "data"
LITELLM = json.loads((DATA / "litellm_errors.json").read_text())["cases"]
PROVIDERS = json.loads((DATA / "provider_errors.json").read_text())
CASES = [
    pytest.param(case, id=f"{source}: {case['case']}")
    for source, cases in [
        ("litellm", LITELLM),
        ("relay", PROVIDERS["relays"]),
        ("openai", PROVIDERS["openai"]),
    ]
    for case in cases
]
NEVER_RETRIED = (
    QuotaExhausted, ContentRejected, AuthenticationFailed, ModelUnavailable, EndpointMissing,
)  # fmt: skip


def raw_body(case: dict[str, Any]) -> bytes:
    body = case["body"]
    return (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()


def mapped(case: dict[str, Any], model: str | None = "dall-e-9") -> APIError:
    """What the client makes of the answer: 2xx bodies go through the error-in-body check."""
    body, status = raw_body(case), case["status"]
    if 200 <= status < 300:
        fields = error_in_body([body])
        assert fields is not None, "an error in a 200 body was read as a success"
    else:
        fields = parse_error_body(body)
    return map_error(status, fields, case["headers"], model=model)


def upstream_text(case: dict[str, Any]) -> str:
    body = case["body"]
    if isinstance(body, str):
        return body
    error = body.get("error", body)
    return error if isinstance(error, str) else str(error.get("message") or body.get("detail", ""))


@pytest.mark.parametrize("case", CASES)
def test_every_recorded_answer_has_its_meaning(case: dict[str, Any]) -> None:
    expect = case["expect"]
    err = mapped(case)

    assert err.kind == expect["kind"]
    assert err.status == case["status"]  # the HTTP status: retry rules read it, not a guess
    for field in ("param", "code"):
        if field in expect:
            assert getattr(err, field) == expect[field]
    if "retry_after" in expect:
        assert isinstance(err, RateLimited)
        assert err.retry_after == (None if expect["retry_after"] is None else pytest.approx(
            expect["retry_after"], abs=0.01
        ))  # fmt: skip
    if isinstance(err, NEVER_RETRIED):
        assert not err.retryable


@pytest.mark.parametrize("case", CASES)
def test_no_upstream_words_reach_the_member(case: dict[str, Any]) -> None:
    shown = str(mapped(case))
    text = upstream_text(case)
    windows = {text[at : at + 20] for at in range(max(0, len(text) - 19))}
    assert not any(window in shown for window in windows if len(window) == 20)
    assert "litellm" not in shown.lower() and "exception" not in shown.lower()


def test_a_model_the_provider_does_not_offer_is_named() -> None:
    (case,) = [c for c in PROVIDERS["openai"] if c["case"] == "model_not_found"]
    err = mapped(case, model="gpt-image-1")
    assert isinstance(err, ModelUnavailable) and err.model == "gpt-image-1"
    assert "`gpt-image-1`" in str(err) and "try another model" in str(err)
    odd = mapped(case, model="<b>x</b> y")
    assert isinstance(odd, ModelUnavailable) and "<b>" not in str(odd)
    assert "does not offer this model" in str(odd)


def test_a_cooldown_caused_by_a_spent_account_is_exhausted_credit() -> None:
    message = (
        "No deployments available for selected model, Try again in 5 seconds. cooldown_list="
        "[('8c3f', {'exception_received': 'RateLimitError: You exceeded your current quota'})]"
    )
    error = {"message": message, "type": "all_deployments_in_cooldown", "code": "429"}
    assert isinstance(map_error(429, error), QuotaExhausted)


def test_an_exhausted_wait_is_told_but_not_held_for_hours() -> None:
    err = map_error(429, {"code": "rate_limit_exceeded"}, {"Retry-After": "86400"})
    assert isinstance(err, RateLimited)
    assert err.retry_after == 300  # the queue pause; the member hears the whole wait
    assert "try again in 1440 min" in str(err)


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (400, {"code": "content_policy_violation"}, ContentRejected),
        (400, {"type": "image_generation_user_error", "message": "Safety system"}, ContentRejected),
        (400, {"type": "image_generation_user_error", "message": "bad size"}, InvalidRequest),
        (400, {"code": "billing_hard_limit_reached"}, QuotaExhausted),
        (401, {}, AuthenticationFailed),
        (403, {}, AuthenticationFailed),
        (404, {}, EndpointMissing),
        (404, {"type": "invalid_request_error", "message": "Not found"}, InvalidRequest),
        (413, {}, InvalidRequest),
        (422, {}, InvalidRequest),
        (429, {"code": "insufficient_quota"}, QuotaExhausted),
        (429, {"code": "rate_limit_exceeded"}, RateLimited),
        (429, {"message": "content_policy_violation in cooldown_list"}, RateLimited),
        *[(s, {}, UpstreamUnavailable) for s in (408, 409, 500, 502, 503, 504, 520)],
        (500, {"message": "the safety system is down"}, UpstreamUnavailable),
        (302, {}, BadResponse),
    ],
)
def test_map_error(status: int, error: dict[str, str], expected: type[APIError]) -> None:
    mapped = map_error(status, error)
    assert type(mapped) is expected and mapped.status == status


def test_map_error_drops_params_that_are_not_names() -> None:
    mapped = map_error(400, {"param": "<script>alert(1)</script>", "code": "x y"})
    assert mapped.param is None and mapped.code is None and "<" not in str(mapped)
    assert map_error(400, {"param": "None"}).param is None  # LiteLLM's string "None"


def test_parse_error_body_tolerates_gateways() -> None:
    assert parse_error_body(b"<html>502</html>")["message"] is None
    assert parse_error_body(b'{"error": "quota"}')["message"] == "quota"
    assert parse_error_body(b'{"detail": "Not Found"}')["message"] == "Not Found"
    assert parse_error_body(b'{"error": {"code": 402, "param": "n", "type": true}}') == {
        "message": None, "type": None, "param": "n", "code": "402",
    }  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        b'{"created": 1, "data": [{"url": "https://files.test/a.png"}]}',
        b'{"created": 1, "data": [{"b64_json": "AAAA"}], "error": null}',
        b'{"created": 1, "data": [{"b64_json": "AAAA"}], "error": {"message": "partial"}}',
        b'{"data": []}',
        b"not json",
        b'{"error": {}}',
        b'["error"]',
    ],
)
def test_bodies_without_an_error_are_left_to_the_success_parse(body: bytes) -> None:
    assert error_in_body([body]) is None


def test_an_error_in_a_body_is_found_across_chunks_and_only_in_small_bodies() -> None:
    body = b'{"data": [], "error": {"message": "m", "code": "insufficient_user_quota"}}'
    found = error_in_body([body[:10], body[10:]])
    assert found is not None and found["code"] == "insufficient_user_quota"
    padded = body[:-1] + b', "pad": "' + b"x" * 70_000 + b'"}'
    assert error_in_body([padded]) is None  # a body with images is never parsed twice


def test_wait_hint_forms() -> None:
    assert wait_hint({"Retry-After": "2"}) == 2
    assert wait_hint({"retry-after": "2", "Retry-After-Ms": "500"}) == 0.5
    assert wait_hint({"Retry-After": "120"}) == 120
    assert wait_hint({"Retry-After": "soon"}) is None
    date = formatdate(time.time() + 10, usegmt=True)
    assert 8 <= (wait_hint({"Retry-After": date}) or 0) <= 10
    assert wait_hint({"Retry-After": formatdate(0, usegmt=True)}) == 0
    assert wait_hint({"llm_provider-retry-after": "7"}) == 7
    assert (
        wait_hint({"llm_provider-retry-after-ms": "250", "llm_provider-retry-after": "7"}) == 0.25
    )
    assert wait_hint({"Retry-After": "3"}, "try again in 9 seconds") == 3  # a header wins
    assert wait_hint({}) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("No deployments available for selected model, Try again in 5 seconds. Passed", 5),
        ("Please try again in 12s. Visit https://platform.openai.com", 12),
        ("Please try again in 1m12.5s.", 72.5),
        ("Please try again in 6ms.", 0.006),
        ("Please retry after 20 seconds.", 20),
        ("try again in 2 minutes and 30 seconds", 150),
        ("please try again later", None),
        ("try again in 2 more days", None),
        ("Rate limit reached: Limit 5, Used 5, Requested 1.", None),
    ],
)
def test_wait_in_words(text: str, seconds: float | None) -> None:
    assert wait_hint({}, text) == (None if seconds is None else pytest.approx(seconds))
