"""Fixtures every test file may use.

- No test sees the developer's own SITESCORE_* settings (a data folder, a cache, a catalog, fetch
  limits): each starts from the defaults and sets what it needs with monkeypatch.
- `demo_config`: the generated demo region, made once per session, for tests that only read it
  (a test that changes the demo's files generates its own into tmp_path).
- `portal`: the loopback stand-in for the providers' servers (tests/fake_portal.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_portal import FakePortal

#: The environment variables sitescore reads; cleared for every test.
SITESCORE_ENV = ("SITESCORE_DATA_DIR", "SITESCORE_CACHE_DIR", "SITESCORE_CATALOG",
                 "SITESCORE_FETCH_DEADLINE", "SITESCORE_FETCH_MIN_RATE")


@pytest.fixture(autouse=True)
def _defaults_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SITESCORE_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo study's config (seed 7) beside its generated data; read it, never change it."""
    from sitescore.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo-session") / "data")


@pytest.fixture
def portal() -> Iterator[FakePortal]:
    with FakePortal() as p:
        yield p
