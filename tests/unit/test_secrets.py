"""Redaction of secrets from text that leaves the process."""

import logging

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.errors import redact


def test_redact_masks_known_values_query_params_and_bearer_headers() -> None:
    text = (
        "GET /oauth/token?grant_type=password&username=u&password=hunter2x HTTP/1.1; "
        "Authorization: bearer 1211cf66-aaaa-bbbb; refresh_token=18f96b68-cccc&x=1; seen s3cr3t-value"
    )
    cleaned = redact(text, ["s3cr3t-value"])
    for secret in ("hunter2x", "1211cf66-aaaa-bbbb", "18f96b68-cccc", "s3cr3t-value"):
        assert secret not in cleaned
    assert "/oauth/token?***" in cleaned  # the whole query string goes


def test_redact_masks_the_signature_of_pre_signed_links() -> None:
    text = (
        "Max retries exceeded with url: /exports/x.csv?X-Amz-Signature=deadbeefSIG&X-Amz-Credential=AKIA1 "
        "(https://d1.cloudfront.net/e/x.csv?Expires=1&Signature=cfSIG&Key-Pair-Id=K1)"
    )
    cleaned = redact(text)
    for secret in ("deadbeefSIG", "AKIA1", "cfSIG", "K1"):
        assert secret not in cleaned
    assert "/exports/x.csv" in cleaned and "https://d1.cloudfront.net/e/x.csv" in cleaned


def test_credentials_never_print_their_password() -> None:
    credentials = UniwareCredentials(username="api-user", password="hunter2x")
    assert "hunter2x" not in str(credentials)
    assert "hunter2x" not in repr(credentials)


def test_urllib3_request_lines_are_redacted(caplog) -> None:  # type: ignore[no-untyped-def]
    import uniware_source.api.auth  # noqa: F401  (installs the filter)

    logger = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logger.debug(
            '%s://%s:%s "%s %s %s" %s',
            "https",
            "t.example",
            443,
            "GET",
            "/oauth/token?grant_type=password&username=u&password=hunter2x",
            "HTTP/1.1",
            200,
        )
    assert "hunter2x" not in caplog.text
    assert "/oauth/token?***" in caplog.text
