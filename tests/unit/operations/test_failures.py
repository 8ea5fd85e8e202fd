"""Sanitization against hostile inputs: nothing secret may survive into a stored failure."""

import json
import logging

import pytest

from opsapp.operations.failures import (
    MESSAGE_CAP,
    failure_from_exception,
    make_failure,
    merge_failures,
    sanitize_text,
)

JWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU"
CLIENT_SECRET = "Xy7Q~abcDEFghiJKLmnoPQRstuVWXyz0123456789"
SECRETS = [
    JWT,
    CLIENT_SECRET,
    "hunter2-pass",
    "s3cr3t-db-pass",
    "ABCDEF0123456789abcdef0123456789XYZ",
]

HOSTILE = [
    f"401 from Graph: Authorization: Bearer {JWT}",
    f"headers={{'Authorization': 'Bearer {JWT}', 'Accept': 'json'}}",
    f"token request failed: client_secret={CLIENT_SECRET}&grant_type=client_credentials",
    f'{{"client_secret": "{CLIENT_SECRET}", "error": "invalid_client"}}',
    "could not connect to postgresql://opsapp:s3cr3t-db-pass@db.internal:5432/opsapp",
    "redis://:s3cr3t-db-pass@cache:6379/0 refused",
    "login failed password=hunter2-pass for admin",
    f"access_token: {JWT}",
    "api_key=ABCDEF0123456789abcdef0123456789XYZ",
    f"secret planted mid sentence {CLIENT_SECRET} and more",
    "response body: "
    + json.dumps({"value": [{"id": i, "secret": "hunter2-pass"} for i in range(200)]}),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_secret_survives(text):
    clean = sanitize_text(text)
    for secret in SECRETS:
        assert secret not in clean
    assert "eyJ" not in clean
    assert len(clean) <= MESSAGE_CAP


def test_safe_text_is_kept():
    text = "Graph returned 403 Forbidden for deviceManagement/configurationPolicies (tenant 0d1f3a5e-1b2c-4d5e-8f90-a1b2c3d4e5f6)"
    assert sanitize_text(text) == text


def test_messages_are_capped():
    assert len(sanitize_text("word " * 2000)) == MESSAGE_CAP


def test_known_secrets_are_removed_even_when_they_look_harmless():
    assert "plainword" not in sanitize_text("failed with plainword", known_secrets=["plainword"])


def test_exception_with_secret_in_nested_cause(caplog):
    try:
        try:
            raise ConnectionError(f"upstream said Authorization: Bearer {JWT}")
        except ConnectionError as inner:
            raise RuntimeError(f"sync failed, client_secret={CLIENT_SECRET}") from inner
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR, logger="opsapp.operations"):
            failure = failure_from_exception(exc)
    assert failure["code"] == "internal.error"
    assert failure["error_id"] in failure["message"]
    blob = json.dumps(failure) + caplog.text
    for secret in SECRETS:
        assert secret not in blob
    assert "RuntimeError" in failure["message"]
    assert failure["error_id"] in caplog.text  # the log line can be found from the failure


def test_exception_with_a_huge_body():
    exc = ValueError("x" * 100_000 + CLIENT_SECRET)
    failure = failure_from_exception(exc)
    assert CLIENT_SECRET not in failure["message"]
    assert len(failure["message"]) <= MESSAGE_CAP


def test_coded_exceptions_keep_their_code_and_safe_message():
    class FakeGraphError(Exception):
        code = "graph.throttled"
        message = "Graph throttled the request (429) after 4 retries"

    failure = failure_from_exception(FakeGraphError(f"raw: {JWT}"))
    assert failure["code"] == "graph.throttled"
    assert failure["message"] == FakeGraphError.message


def test_unknown_codes_fall_back_and_duplicates_merge():
    assert make_failure("made.up", "m")["code"] == "internal.error"
    merged = merge_failures(
        [
            make_failure("graph.forbidden", "no"),
            make_failure("graph.forbidden", "no"),
            make_failure("graph.not_found", "gone", item="p1"),
        ]
    )
    assert merged[0] == {"code": "graph.forbidden", "message": "no", "count": 2}
    assert merged[1]["item"] == "p1"


@pytest.mark.parametrize("text", HOSTILE + ["token=abc123", "Authorization: Bearer x", "ok text"])
def test_sanitizing_twice_changes_nothing(text):
    once = sanitize_text(text)
    assert sanitize_text(once) == once


@pytest.mark.parametrize(
    "text",
    [
        "deviceCompliancePolicy/f0610e61-1b4d-4409-a7f8-000000000000",
        "Graph returned 403 Forbidden for deviceManagement/deviceCompliancePolicies/"
        "f0610e61-1b4d-4409-a7f8-000000000000/assignments",
    ],
)
def test_resource_paths_with_ids_are_not_mistaken_for_tokens(text):
    assert sanitize_text(text) == text
