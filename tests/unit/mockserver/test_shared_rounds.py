"""``SharedRounds``: one round trip serves every caller waiting for it, and no caller is ever served by a
round that started before it arrived (the freshness of ``--store`` rests on that)."""

from __future__ import annotations

import asyncio

import pytest

from mockserver.state.rounds import SharedRounds


def test_callers_share_rounds_but_never_one_started_before_they_arrived():
    async def scenario():
        started: list[int] = []  # the rounds, in the order they started
        finished: list[int] = []

        async def round_trip():
            index = len(started)
            started.append(index)
            await asyncio.sleep(0.02)
            finished.append(index)

        rounds = SharedRounds(round_trip)
        stale: list[int] = []

        async def caller(delay: float):
            await asyncio.sleep(delay)
            begun_before_me = len(started)  # rounds 0 .. this-1 started before this caller arrived
            await rounds.wait()
            if not any(index >= begun_before_me for index in finished):
                stale.append(begun_before_me)

        await asyncio.gather(*(caller(i * 0.003) for i in range(30)))
        return started, stale

    started, stale = asyncio.run(scenario())
    assert stale == []  # every caller returned only after a round that started after it arrived ended
    assert len(started) < 10  # 30 callers over ~0.09 s, rounds of 0.02 s: shared, not one each


def test_a_failed_round_fails_its_callers_and_the_next_round_runs_again():
    async def scenario():
        calls = 0

        async def round_trip():
            nonlocal calls
            calls += 1
            if calls == 1:
                raise ConnectionError("the database is away")

        rounds = SharedRounds(round_trip)
        with pytest.raises(ConnectionError):
            await rounds.wait()
        await rounds.wait()
        return calls

    assert asyncio.run(scenario()) == 2
