"""A response's head waits for its body so that both leave in one ``writev``; nothing held is lost or
reordered, and a close or an end of the event loop's step writes what is held."""

from __future__ import annotations

import asyncio

from mockserver.serving import HELD_WRITE_BYTES, HeadWithBodyTransport


class _Recorder:
    """The transport's side: what was written, and how (one call each)."""

    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []
        self.closing = False

    def write(self, data):
        self.calls.append(("write", (bytes(data),)))

    def writelines(self, pieces):
        self.calls.append(("writelines", tuple(bytes(p) for p in pieces)))

    def write_eof(self):
        self.calls.append(("write_eof", ()))

    def close(self):
        self.calls.append(("close", ()))
        self.closing = True

    def is_closing(self):
        return self.closing

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default


def _run(steps):
    async def main():
        recorder = _Recorder()
        transport = HeadWithBodyTransport(recorder, asyncio.get_running_loop())
        await steps(transport)
        await asyncio.sleep(0)  # one more step of the loop: anything held is written by now
        return recorder.calls

    return asyncio.run(main())


def test_a_head_and_its_body_leave_in_one_call():
    async def steps(transport):
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"x" * 100_000)

    assert _run(steps) == [("writelines", (b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 100_000))]


def test_a_small_write_alone_leaves_at_the_end_of_the_step():
    async def steps(transport):
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await asyncio.sleep(0)

    assert _run(steps) == [("write", (b"HTTP/1.1 200 OK\r\n\r\n",))]


def test_a_large_write_is_not_held():
    async def steps(transport):
        transport.write(b"y" * (HELD_WRITE_BYTES + 1))

    assert _run(steps) == [("write", (b"y" * (HELD_WRITE_BYTES + 1),))]


def test_what_is_held_goes_before_a_close_or_an_end_of_file():
    async def steps(transport):
        transport.write(b"answer")
        transport.close()

    assert _run(steps) == [("write", (b"answer",)), ("close", ())]

    async def steps_eof(transport):
        transport.write(b"refusal")
        transport.write_eof()

    assert _run(steps_eof) == [("write", (b"refusal",)), ("write_eof", ())]


def test_order_is_kept_across_several_small_writes():
    async def steps(transport):
        for piece in (b"a", b"b", b"c"):
            transport.write(piece)
        await asyncio.sleep(0)
        transport.write(b"d")

    calls = _run(steps)
    assert b"".join(b"".join(args) for _, args in calls) == b"abcd"


def test_everything_else_is_the_transports_own():
    async def steps(transport):
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
        assert transport.is_closing() is False

    assert _run(steps) == []
