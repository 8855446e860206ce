"""How many times each kind of request may be tried: the one place the retry counts live.

Retries nest, so the worst case of an operation is a product. The figures below are those of the
defaults (`RetryBudget()`); the methods compute them for any budget.

| operation                                     | retried by                            | worst case       |
|-----------------------------------------------|---------------------------------------|------------------|
| one REST request (status, create, facilities) | dlt's `Client` (429, 5xx, drops)      | 5 requests       |
| one REST call, token refused (401) once       | a fresh token, then the call again    | 10 requests      |
| one job's status checks, network failing      | `status_errors` failed calls in a row | 25 requests      |
| one job's file                                | `download_attempts` downloads         | 20 file requests |
| ... and the fresh links asked for in between  | a status call before each retry       | 15 requests      |
| one login or token refresh                    | tenacity, on network errors only      | 3 requests       |

A refused login is never retried (it could lock the account); a refused refresh falls back to
one login, so renewing a token takes at most 3 + 3 requests. `create` goes through a client
that retries only what the server certainly did not act on (429, connect timeouts), within the
same `request_attempts`.

The time these attempts take is bounded apart from their counts: each wait for the network by
`request_timeout`, each download attempt by `download_timeout` of wall time, and a Retry-After,
which pauses every call of the client to that origin (`gate.HostGate`) rather than one request,
by `request_max_retry_delay`. The pause makes no request of its own: the counts above stand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryBudget:
    # tries of one HTTP request inside dlt's retrying client (`sources.uniware.request_max_attempts`)
    request_attempts: int = 5
    # a REST call answered 401 gets a fresh token and is sent again this many times
    token_renewals: int = 1
    # whole downloads of one job's file: a refused (expired) link or a truncated file is fetched again
    download_attempts: int = 4
    # status calls of one job that may fail in a row (after their own retries) before it is given up
    status_errors: int = 5
    # tries of one token request (login or refresh) on network errors; a refusal is never retried
    login_attempts: int = 3

    def rest_call_requests(self) -> int:
        """HTTP requests one REST call may make: each token it is sent with gets every retry."""
        return self.request_attempts * (1 + self.token_renewals)

    def status_requests(self) -> int:
        """Status requests one job may make, all failing, before the poller gives it up."""
        return self.status_errors * self.request_attempts

    def file_requests(self) -> int:
        """Requests to the file host for one job's file."""
        return self.download_attempts * self.request_attempts

    def fresh_link_requests(self) -> int:
        """Status requests asking for a fresh link between the downloads of one file."""
        return (self.download_attempts - 1) * self.request_attempts

    def token_requests(self) -> int:
        """Requests to the token endpoint to renew a token: the refresh grant, then a login."""
        return 2 * self.login_attempts
