"""The retry budget: the worst case of every operation, stated from one place, and obeyed."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from uniware_source.api.auth import TokenProvider, UniwareCredentials
from uniware_source.api.budget import RetryBudget
from uniware_source.api.client import UniwareClient
from uniware_source.api.errors import AuthError, TransportError
from uniware_source.api.rest import RestCaller

PASSWORD = "hunter2-budget"


def test_the_default_budget_and_its_worst_cases() -> None:
    budget = RetryBudget()
    assert (
        budget.request_attempts,
        budget.token_renewals,
        budget.download_attempts,
        budget.status_errors,
        budget.login_attempts,
    ) == (5, 1, 4, 5, 3)
    assert budget.file_requests() == 20  # 5 tries inside dlt's client x 4 downloads
    assert budget.fresh_link_requests() == 15  # a status call before each of the 3 retries
    assert budget.status_requests() == 25  # 5 failed calls in a row x 5 tries each
    assert budget.rest_call_requests() == 10  # 5 tries, and 5 more with a renewed token
    assert budget.token_requests() == 6  # 3 refresh tries, then 3 login tries


def test_worst_cases_follow_the_settings() -> None:
    budget = RetryBudget(request_attempts=2, download_attempts=3, status_errors=4, login_attempts=1)
    assert (budget.file_requests(), budget.status_requests(), budget.rest_call_requests()) == (6, 8, 4)


def test_the_client_carries_one_budget_with_the_configured_attempts() -> None:
    credentials = UniwareCredentials(username="u", password=PASSWORD)
    assert UniwareClient("http://127.0.0.1:1", credentials).budget == RetryBudget()
    client = UniwareClient("http://127.0.0.1:1", credentials, request_max_attempts=2)
    assert client.budget == RetryBudget(request_attempts=2)


class FakeSession:
    """requests' side of the token endpoint and the REST API: scripted answers, counted."""

    def __init__(self, *, token_failures: int = 0, rest_status: int = 200) -> None:
        self.token_failures = token_failures
        self.rest_status = rest_status
        self.token_calls = 0
        self.rest_calls = 0

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        self.token_calls += 1
        if self.token_calls <= self.token_failures:
            raise requests.ConnectionError(f"connection dropped: {url}?password={PASSWORD}")
        return _response(200, {"access_token": f"tok-{self.token_calls}", "expires_in": 3600})

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        self.rest_calls += 1
        return _response(self.rest_status, {"successful": True, "status": "RUNNING"})


def _response(status: int, body: dict[str, Any]) -> requests.Response:
    import json

    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


def _tokens(session: FakeSession, budget: RetryBudget, slept: list[float] | None = None) -> TokenProvider:
    return TokenProvider(
        "http://127.0.0.1:1",
        UniwareCredentials(username="u", password=PASSWORD),
        session=session,  # type: ignore[arg-type]
        sleep=(slept if slept is not None else []).append,
        budget=budget,
    )


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_login_is_tried_as_often_as_the_budget_says(attempts: int) -> None:
    session, slept = FakeSession(token_failures=100), []
    tokens = _tokens(session, RetryBudget(login_attempts=attempts), slept)
    with pytest.raises(TransportError) as failure:
        tokens.header()
    assert session.token_calls == attempts
    assert len(slept) == attempts - 1  # waited between tries, on the injected sleep
    assert PASSWORD not in str(failure.value)


def test_a_login_that_gets_through_within_the_budget_succeeds() -> None:
    session = FakeSession(token_failures=2)
    assert _tokens(session, RetryBudget(login_attempts=3)).header() == "bearer tok-3"


@pytest.mark.parametrize("renewals", [0, 1, 2])
def test_a_401_renews_the_token_as_often_as_the_budget_says(renewals: int) -> None:
    session = FakeSession(rest_status=401)
    tokens = _tokens(session, RetryBudget())
    caller = RestCaller("http://127.0.0.1:1", tokens, timeout=5.0, token_renewals=renewals)
    with pytest.raises(AuthError):
        caller.call(session, "/services/rest/v1/export/job/status", {}, what="status")  # type: ignore[arg-type]
    assert session.rest_calls == 1 + renewals
    assert session.token_calls == 1 + renewals  # a fresh token for each renewal
