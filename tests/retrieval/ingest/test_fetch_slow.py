"""A web server that sends a byte a second cannot hold an ingest: the whole download is bounded by time.

Real servers on 127.0.0.1 (raw sockets, so the pace is exact): one drips the body, one drips
the headers. RAGBOT_FETCH_TIMEOUT bounds the whole download, not each read. The command line's message for it
is tested in tests/integration/test_hostile_cli.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.ingest.fetch import Fetcher, FetchRefused
from retrieval.settings import Settings
from tests.support.drip import DripServer


@pytest.fixture(params=[False, True], ids=["body-drip", "header-drip"])
def drip(request: pytest.FixtureRequest) -> Iterator[DripServer]:
    server = DripServer(drip_headers=request.param)
    try:
        yield server
    finally:
        server.close()


def test_a_slow_server_is_given_up_on_within_the_total_timeout(drip: DripServer, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, fetch_timeout=2, allowed_hosts=["127.0.0.1"])  # type: ignore[call-arg]
    with pytest.raises(FetchRefused, match=r"took longer than 2 s in all to download \(RAGBOT_FETCH_TIMEOUT\)"):
        Fetcher(settings).fetch(f"http://127.0.0.1:{drip.port}/slow.html")
