"""HTTP for a fetch: the retrying session, redirects checked hop by hop, and the deadline and
minimum rate (the budget) every download and service answer is read within."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import requote_uri
from urllib3.util.retry import Retry

from .. import __version__
from ..catalog import Dataset
from ..errors import ConfigError
from .report import FetchError

RETRY_STATUS = (429, 500, 502, 503, 504)
DEFAULT_TIMEOUT = (15.0, 60.0)          # seconds: connect, and between two reads
CHUNK = 1 << 20                         # bytes read at a time: bodies, answers, archive members
MAX_REDIRECTS = 10
# An overall wall-clock deadline for one download (all its reconnects and resumes in one fetch)
# and a minimum average rate once MIN_RATE_GRACE seconds have passed, so a server trickling a
# byte a minute ends in a clear error; the part is kept for the next fetch to resume. Both can
# be set in the environment (0 turns a limit off).
DEFAULT_DEADLINE = 6 * 3600.0           # seconds
DEFAULT_MIN_RATE = 10_000.0             # bytes a second, averaged over the download
MIN_RATE_GRACE = 60.0                   # seconds before the rate is judged
DEADLINE_ENV = "SITESCORE_FETCH_DEADLINE"
MIN_RATE_ENV = "SITESCORE_FETCH_MIN_RATE"
USER_AGENT = f"sitescore/{__version__} (+https://github.com/sitescore) python-requests/{requests.__version__}"


class _Retry(Retry):
    """urllib3's Retry, with a server's Retry-After capped so a fetch never sleeps for hours."""

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, 120.0)


def make_session(retries: int = 4, backoff: float = 1.0) -> requests.Session:
    """A requests session retrying connect errors, 429 and 5xx with exponential back-off."""
    retry = _Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                  backoff_factor=backoff, backoff_max=60, status_forcelist=RETRY_STATUS,
                  allowed_methods=frozenset({"GET", "HEAD"}), respect_retry_after_header=True,
                  raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def redirect_problem(ds: Dataset, from_url: str, to_url: str) -> str | None:
    """Why a redirect from `from_url` to `to_url` is not followed (None if it is): only http(s),
    never from https down to http, and only to the same host or one the dataset's catalog entry
    names (its URLs, its homepage, its redirect_hosts)."""
    src, dst = urlsplit(from_url), urlsplit(to_url)
    host = (dst.hostname or "").lower()
    if dst.scheme not in ("http", "https") or not host:
        return f"redirected to '{to_url[:120]}', not an http(s) URL with a host; not followed"
    if src.scheme == "https" and dst.scheme == "http":
        return f"redirected from https down to plain http (host '{host}'); not followed"
    if host == (src.hostname or "").lower() or ds.allows_host(host):
        return None
    return (f"redirected to host '{host}', which the catalog entry of '{ds.id}' does not name; "
            "not followed (add it to the dataset's redirect_hosts if it is the provider's)")


def _open(session: requests.Session, ds: Dataset, url: str, *, method: str = "GET",
          budget: _Budget | None = None, **kw: Any) -> requests.Response:
    """A request whose redirects are followed one by one, each checked by redirect_problem."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if budget is not None:
            budget.check()
            kw["timeout"] = budget.timeout(kw.get("timeout", DEFAULT_TIMEOUT))
        resp = session.request(method, current, allow_redirects=False, **kw)
        if not resp.is_redirect:
            return resp
        target = requote_uri(urljoin(resp.url, resp.headers["Location"]))
        resp.close()
        problem = redirect_problem(ds, current, target)
        if problem:
            raise FetchError(problem)
        current = target
        kw.pop("params", None)                     # the new URL carries its own query
    raise FetchError(f"more than {MAX_REDIRECTS} redirects; not followed")


class _TooSlow(FetchError):
    pass


class _Budget:
    """The wall-clock deadline and minimum average rate of one download."""

    def __init__(self, deadline: float, min_rate: float) -> None:
        self.deadline, self.min_rate = deadline, min_rate
        self.start = time.monotonic()
        self.got = 0

    def add(self, n: int) -> None:
        self.got += n
        self.check()

    def check(self) -> None:
        elapsed = time.monotonic() - self.start
        if self.deadline and elapsed > self.deadline:
            raise _TooSlow(f"not finished within the {self.deadline:g} s deadline "
                           f"({self.got:,} bytes in {elapsed:.0f} s; {DEADLINE_ENV} sets it)")
        if self.min_rate and elapsed >= MIN_RATE_GRACE and self.got < self.min_rate * elapsed:
            raise _TooSlow(f"too slow: {self.got:,} bytes in {elapsed:.0f} s, under the minimum "
                           f"average of {self.min_rate:,.0f} bytes/s ({MIN_RATE_ENV} sets it)")

    def timeout(self, timeout: Any) -> Any:
        """The request timeout, cut to what is left before the deadline."""
        if not self.deadline:
            return timeout
        left = max(self.deadline - (time.monotonic() - self.start), 0.05)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return (min(connect, left), min(read, left))


def _limit(value: float | None, env: str, default: float, unit: str) -> float:
    """A limit given in code, else in the environment variable `env`, else the default."""
    if value is not None:
        return float(value)
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (0 <= number < math.inf):
        raise ConfigError(f"environment variable {env}: '{text[:40]}' is not a number of {unit} "
                          "(0 turns the limit off)")
    return number


@dataclass
class _Ctx:
    """The settings of one run_fetch, shared by its file downloads and service queries."""

    root: Path
    session: requests.Session
    timeout: Any
    retries: int
    backoff: float
    progress: bool
    max_member_bytes: int
    deadline: float = DEFAULT_DEADLINE
    min_rate: float = DEFAULT_MIN_RATE

    def budget(self) -> _Budget:
        return _Budget(self.deadline, self.min_rate)


def _reason(exc: BaseException) -> str:
    """A connection failure in a few words."""
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: " + text.splitlines()[0][:120]
    if any(s in text for s in ("NameResolution", "Name or service not known", "nodename nor servname",
                               "Temporary failure in name resolution", "getaddrinfo failed")):
        return "host not found (offline?)"
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return "timed out"
    if "Network is unreachable" in text:
        return "network unreachable (offline?)"
    return "cannot connect: " + " ".join(text.split())[:160]
