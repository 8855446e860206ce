"""The source's settings after dlt injected them: checked once, with errors that name the setting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from uniware_source.api.auth import UniwareCredentials
from uniware_source.api.client import UniwareClient, resolve_base_url
from uniware_source.api.errors import ConfigurationError
from uniware_source.jobs import Backoff, PollSettings


@dataclass(frozen=True)
class SourceSettings:
    base_url: str
    credentials: UniwareCredentials
    facility: str | None
    poll: PollSettings
    timezone: str
    force_reload: bool
    batch_size: int
    download_dir: Path | None
    request_timeout: float
    request_max_attempts: int
    request_backoff_factor: float

    @classmethod
    def build(
        cls,
        *,
        tenant: str | None,
        base_url: str | None,
        credentials: UniwareCredentials,
        facility: str | None,
        poll_interval: float,
        max_poll_interval: float,
        job_timeout: float,
        timezone: str,
        force_reload: bool,
        max_workers: int,
        batch_size: int,
        download_dir: str | None,
        request_timeout: float,
        request_max_attempts: int,
        request_backoff_factor: float,
    ) -> SourceSettings:
        _positive("poll_interval", poll_interval)
        _positive("max_poll_interval", max_poll_interval)
        _positive("job_timeout", job_timeout)
        _positive("request_timeout", request_timeout)
        if max_poll_interval < poll_interval:
            raise ConfigurationError(
                f"sources.uniware.max_poll_interval ({max_poll_interval}) "
                f"is below poll_interval ({poll_interval})"
            )
        for name, value in (("max_workers", max_workers), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ConfigurationError(f"sources.uniware.{name} must be at least 1, got {value!r}")
        if int(request_max_attempts) < 1:
            raise ConfigurationError(
                f"sources.uniware.request_max_attempts must be at least 1, got {request_max_attempts}"
            )
        if request_backoff_factor < 0:
            raise ConfigurationError("sources.uniware.request_backoff_factor must not be negative")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"sources.uniware.timezone {timezone!r} is not a known IANA zone (e.g. Asia/Kolkata)"
            ) from None
        directory = Path(download_dir).expanduser() if download_dir else None
        if directory is not None and not directory.is_dir():
            raise ConfigurationError(f"sources.uniware.download_dir {str(directory)!r} is not a directory")
        return cls(
            base_url=resolve_base_url(tenant, base_url),
            credentials=credentials,
            facility=facility or None,
            poll=PollSettings(
                backoff=Backoff(initial=float(poll_interval), cap=float(max_poll_interval)),
                job_timeout=float(job_timeout),
                max_workers=int(max_workers),
            ),
            timezone=timezone,
            force_reload=bool(force_reload),
            batch_size=int(batch_size),
            download_dir=directory,
            request_timeout=float(request_timeout),
            request_max_attempts=int(request_max_attempts),
            request_backoff_factor=float(request_backoff_factor),
        )

    def client(self) -> UniwareClient:
        return UniwareClient(
            self.base_url,
            self.credentials,
            facility=self.facility,
            request_timeout=self.request_timeout,
            max_connections=max(self.poll.max_workers, 4),
            request_max_attempts=self.request_max_attempts,
            request_backoff_factor=self.request_backoff_factor,
        )


def _positive(name: str, value: float) -> None:
    try:
        ok = float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigurationError(
            f"sources.uniware.{name} must be a positive number of seconds, got {value!r}"
        )
