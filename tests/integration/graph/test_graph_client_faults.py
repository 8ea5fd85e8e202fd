"""Fault handling of the live client against the demo Graph's fault switches (real loopback)."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket

import httpx
import pytest

from opsapp.graph import GraphError
from opsapp.graph.demo import CONTOSO, make_demo_graph_client

DC = "deviceConfiguration"


async def drain(stream) -> list[dict]:
    return [item async for item in stream]


async def test_throttling_honours_retry_after_then_succeeds(make_client, demo, sleeps):
    # given the tenant answers 429 (Retry-After: 3) to the next two requests
    demo.set_faults("contoso", throttle_first=2, retry_after_s=3)
    client = make_client(max_sleep=30.0)  # the injected sleep records: nothing really waits

    items = await drain(client.list_policies(DC))

    assert len(items) == demo.tenant("contoso").data.policies[DC].live_count()
    assert len(sleeps) == 2
    assert all(3.0 <= s <= 3.3 for s in sleeps)  # Retry-After plus bounded jitter


async def test_sleep_is_capped_by_max_sleep(make_client, demo, sleeps):
    demo.set_faults("contoso", throttle_first=1, retry_after_s=120)
    await drain(make_client(max_sleep=0.5).list_policies(DC))
    assert sleeps == [0.5]


async def test_throttling_gives_up_after_max_retries(make_client, demo, sleeps):
    demo.set_faults("contoso", throttle_first=100, retry_after_s=2)
    client = make_client(max_retries=2)

    with pytest.raises(GraphError) as caught:
        await drain(client.list_policies(DC))

    error = caught.value
    assert (error.code, error.status, error.retry_after) == ("graph.throttled", 429, 2.0)
    assert "deviceManagement/deviceConfigurations" in error.message
    assert demo.stats("contoso")["graph_requests"] == 3  # bounded: 1 try + 2 retries
    assert len(sleeps) == 2


async def test_batch_items_throttled_inside_a_batch_are_retried(make_client, demo, sleeps):
    demo.set_faults("contoso", batch_item_throttle_first=5)
    client = make_client()
    ids = [p["id"] async for p in client.list_policies(DC)][:20]

    assignments = await client.list_assignments_many(DC, ids)

    assert not any(isinstance(v, GraphError) for v in assignments.values())
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_transient_server_errors_are_retried_for_reads(make_client, demo, sleeps, status):
    demo.set_faults("contoso", error_first=2, error_status=status)
    items = await drain(make_client().list_policies("roleScopeTag"))
    assert items and len(sleeps) == 2


async def test_persistent_server_errors_map_to_unavailable(make_client, demo):
    demo.set_faults("contoso", error_rate=1.0, error_status=500)
    with pytest.raises(GraphError) as caught:
        await make_client(max_retries=1).get_policy(DC, "x")
    assert (caught.value.code, caught.value.status) == ("graph.unavailable", 500)


async def test_ambiguous_write_failures_are_not_retried(make_client, demo, sleeps):
    # A 502 on POST may have created the object: resending could duplicate it.
    demo.set_faults("contoso", error_first=1, error_status=502)
    with pytest.raises(GraphError) as caught:
        await make_client().create_policy(DC, payload={"displayName": "once"})
    assert caught.value.code == "graph.unavailable"
    assert sleeps == []


async def test_forbidden_on_one_policy_type_only(make_client, demo):
    demo.set_faults("contoso", forbidden=["settingsCatalogPolicy"])
    client = make_client()

    with pytest.raises(GraphError) as caught:
        await drain(client.list_policies("settingsCatalogPolicy"))

    assert caught.value.code == "graph.forbidden"
    assert caught.value.message == (
        "Graph returned 403 Forbidden for deviceManagement/configurationPolicies"
    )
    assert await drain(client.list_policies(DC))  # other types still read


async def test_forbidden_inside_batch_is_reported_per_item(make_client, demo):
    client = make_client()
    ids = [p["id"] async for p in client.list_policies("settingsCatalogPolicy")][:3]
    demo.set_faults("contoso", forbidden=["settingsCatalogPolicy"])
    answers = await client.list_assignments_many("settingsCatalogPolicy", ids)
    assert {a.code for a in answers.values()} == {"graph.forbidden"}


@pytest.mark.parametrize("switch", ["malformed", "wrong_shape"])
async def test_unusable_payloads_map_to_bad_response(make_client, demo, switch):
    demo.set_faults("contoso", **{switch: [DC]})
    with pytest.raises(GraphError) as caught:
        await drain(make_client().list_policies(DC))
    assert caught.value.code == "graph.bad_response"
    assert caught.value.message.startswith(
        "Graph returned an unusable response for deviceManagement/deviceConfigurations"
    )


async def test_slow_pages_time_out_with_bounded_retries(make_client, demo):
    demo.set_faults("contoso", slow_ms=400, slow_paths=[DC])
    client = make_client(timeout_s=0.1, max_retries=1)
    with pytest.raises(GraphError) as caught:
        await drain(client.list_policies(DC))
    assert caught.value.code == "graph.timeout"
    assert demo.stats("contoso")["graph_requests"] == 2


async def test_slow_pages_within_the_timeout_still_arrive(make_client, demo):
    demo.set_faults("contoso", slow_ms=20)
    assert len(await drain(make_client().list_policies("roleScopeTag"))) > 0


async def test_unreachable_graph_maps_to_unavailable(sleeps):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # nothing listens once the probe closes

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    url = f"http://127.0.0.1:{closed_port}"
    async with make_demo_graph_client(CONTOSO, base_url=url, sleep=no_wait, max_retries=2) as c:
        with pytest.raises(GraphError) as caught:
            await c.get_policy(DC, "x")
    assert caught.value.code == "graph.unavailable"
    assert len(sleeps) == 2  # connection refused is always safe to retry


# --- secrets in error bodies never reach messages or logs ----------------------------------


SAFE_MESSAGE = re.compile(
    r"^Graph returned \d{3} [A-Za-z ]+ for deviceManagement/deviceConfigurations"
    r"( \(gave up after \d+ attempts\))?$"
)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    assert "eyJ" not in text and "Bearer" not in text
    # Not even the harmless part of an error body: bodies are never copied, only mapped.
    assert "Injected demo fault" not in text and "innerError" not in text


async def test_demo_leak_fault_really_puts_secrets_in_error_bodies(demo_server, demo):
    # Guard for the tests below: without a real leak they would prove nothing.
    demo.set_faults("contoso", leak_secrets=True, forbidden=[DC])
    async with httpx.AsyncClient(base_url=demo_server.url) as raw:
        token = (
            await raw.post(
                f"/{CONTOSO.entra_tenant_id}/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": CONTOSO.client_id,
                      "client_secret": CONTOSO.client_secret,
                      "scope": "https://graph.microsoft.com/.default"},
            )
        ).json()["access_token"]  # fmt: skip
        answer = await raw.get(
            "/beta/deviceManagement/deviceConfigurations",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 403
    for leaked in (CONTOSO.client_secret, token, "eyJ", "Bearer"):
        assert leaked in answer.text


@pytest.mark.parametrize(
    "faults",
    [
        {"forbidden": [DC]},
        {"throttle_first": 50},
        {"error_rate": 1.0, "error_status": 500},
        {"error_rate": 1.0, "error_status": 503},
    ],
    ids=["403", "429", "500", "503"],
)
async def test_secrets_in_error_bodies_never_reach_errors_or_logs(
    make_client, demo, caplog, faults
):
    caplog.set_level(logging.DEBUG, logger="opsapp.graph")
    demo.set_faults("contoso", leak_secrets=True, **faults)
    client = make_client(max_retries=1)

    with pytest.raises(GraphError) as caught:
        await drain(client.list_policies(DC))
    token = await client._tokens.get()  # the bearer the server echoed back

    error = caught.value
    assert SAFE_MESSAGE.match(error.message), error.message
    for text in (error.message, str(error), repr(error), caplog.text):
        assert_clean(text, CONTOSO.client_secret, token)
    assert caplog.records  # the retries were logged, just without secrets


async def test_secrets_echoed_by_the_token_endpoint_stay_out(make_client, demo, caplog):
    caplog.set_level(logging.DEBUG, logger="opsapp.graph")
    demo.set_faults("contoso", leak_secrets=True)  # the token endpoint echoes both secrets
    wrong = "wr0ngQ~SecretThatMustNotLeak.abcdefghijklmnop"
    client = make_client(dataclasses.replace(CONTOSO, client_secret=wrong))

    with pytest.raises(GraphError) as caught:
        await client.get_policy(DC, "x")

    assert caught.value.code == "graph.unauthorized"
    for text in (caught.value.message, str(caught.value), caplog.text, repr(client)):
        assert_clean(text, wrong, CONTOSO.client_secret)
