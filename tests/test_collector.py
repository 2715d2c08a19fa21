"""The cyclic collector is held only for large polls and always runs again afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from enricher.wiring.collector import LARGE, held_for


@pytest.fixture(autouse=True)
def collector_running() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


class TestHeldFor:
    def test_a_small_poll_leaves_the_collector_running(self) -> None:
        """Below ``LARGE`` runs nothing changes (the steady state polls a handful)."""
        with held_for(LARGE - 1):
            assert gc.isenabled()

    def test_a_large_poll_holds_it_and_lets_it_run_again(self) -> None:
        """From ``LARGE`` runs on it is held inside and running after."""
        with held_for(LARGE):
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_it_runs_again_when_the_poll_fails(self) -> None:
        """A poll that raises (a store error, a lost lease) does not leave it held."""
        with pytest.raises(RuntimeError), held_for(LARGE):
            raise RuntimeError("lease lost")
        assert gc.isenabled()

    def test_a_collector_held_by_someone_else_stays_held(self) -> None:
        """Held before (another thread's large poll, the program): not started by this one."""
        gc.disable()
        with held_for(LARGE):
            assert not gc.isenabled()
        assert not gc.isenabled()
