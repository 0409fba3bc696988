"""One real ``stratus up`` for the functional suite, driven by the real clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudproc import Cloud, running_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    state_dir: Path = tmp_path_factory.mktemp("cloud") / "state"
    with running_cloud(state_dir) as c:
        yield c
