"""AMI ingest benchmark: our parser + call tracker versus plain panoramisk 1.4 parsing.

The stream is built from the real Asterisk 22 recording of a queued, answered call
(tests/fixtures/asterisk-transcripts/b-inbound-call-answered.txt), replicated with fresh
Uniqueid/Linkedid values and interleaved so many calls are live at once.

The stream holds every event Asterisk sent for the call, including the
`DeviceStateChange` and `QueueMemberStatus` events it causes (no Linkedid).

Prints, side by side: events/s for panoramisk's parser (baseline: every header of every
event parsed) and for our framing parser doing the same work (the same-work ratio); and
our actual path (framing, full parse of the events the tracker follows only, typed events,
call tracker, listener dispatch, through `AmiClient`) with its ratio to the same baseline,
which is not the same work; the longest event-loop stall while a flood arrives over a
real TCP socket; and the memory held by 1,000 concurrent tracked calls. The last line
is one JSON object, {"bench": "ami_ingest", "ratio": SAME-WORK RATIO, ...}.

    .venv/bin/python bench/ami_ingest.py [--calls 1000] [--chunk 65536]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import re
import socket
import statistics
import time
import tracemalloc
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from rich.console import Console
from rich.progress import track
from rich.table import Table

import ami.client as ami_client_module
from ami.client import AmiClient, _AmiWire
from ami.protocol import AmiFrameParser
from ami.tracker import CallTracker
from testkit.transcripts import read_transcript, received_stream, transcripts_dir

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = transcripts_dir() / "b-inbound-call-answered.txt"
console = Console()


# Events of the call that carry no Linkedid but that Asterisk sends with every call: the
# phones' and queue members' state (the tracker does not follow them; parsing must).
DEVICE_EVENTS = (b"Event: DeviceStateChange\r\n", b"Event: QueueMemberStatus\r\n")


def call_messages() -> list[bytes]:
    """The events of one real call as Asterisk sent them: those of its channels (its
    Linkedid) and the device and queue-member state changes it caused."""
    stream = received_stream(read_transcript(TEMPLATE), "ami1")
    body = stream.split(b"\r\n", 1)[1]  # drop the banner
    messages = [m + b"\r\n\r\n" for m in body.split(b"\r\n\r\n") if m]
    return [m for m in messages if b"Linkedid: 1795303935.0" in m or m.startswith(DEVICE_EVENTS)]


def build_stream(calls: int, concurrency: int = 50) -> tuple[bytes, int]:
    template = call_messages()
    ids = re.compile(rb"17953039\d\d\.(\d+)")
    per_call: list[list[bytes]] = []
    for n in range(calls):
        base = 1795400000 + n

        def renumber(m: re.Match[bytes], base: int = base) -> bytes:
            return b"%d.%d" % (base, 1000 * int(m.group(1)) + 0)

        per_call.append([ids.sub(renumber, msg) for msg in template])
    # Interleave groups of `concurrency` calls message by message.
    out: list[bytes] = []
    for start in range(0, calls, concurrency):
        group = per_call[start : start + concurrency]
        for i in range(len(template)):
            out.extend(c[i] for c in group)
    return b"".join(out), len(out)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def bench_panoramisk(pieces: list[bytes]) -> float:
    class Factory:
        save_stream = None

        def dispatch(self, message: Any) -> None:
            pass

    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = Factory()
    proto.encoding = "utf8"
    proto.version = "11.0.0"
    gc.collect()
    t0 = time.perf_counter()
    for piece in pieces:
        proto.data_received(piece)
    return time.perf_counter() - t0


def bench_ours(pieces: list[bytes]) -> tuple[float, int]:
    tracker = CallTracker()
    ended = 0

    def count(event: Any) -> None:
        nonlocal ended
        ended += type(event).__name__ == "CallEnded"

    tracker.subscribe(count)

    async def run() -> float:
        client = AmiClient(username="bench", secret="bench", tracker=tracker)
        parser = AmiFrameParser(expect_banner=False)
        on_message = client._on_message
        gc.collect()
        t0 = time.perf_counter()
        for piece in pieces:
            for message in parser.feed(piece):
                on_message(message)
        return time.perf_counter() - t0

    return asyncio.run(run()), ended


def bench_ours_every_header(pieces: list[bytes]) -> float:
    """Our framing parser made to do panoramisk's work: every header of every message
    split into (key, value) pairs, whatever the event."""
    parser = AmiFrameParser(expect_banner=False)
    gc.collect()
    t0 = time.perf_counter()
    for piece in pieces:
        for message in parser.feed(piece):
            message.headers  # noqa: B018  (the parse is the work measured)
    return time.perf_counter() - t0


def _flood_server(data: bytes) -> tuple[socket.socket, BaseProcess]:
    """A blocking AMI peer in its own process, so neither the flood it writes nor the
    GIL stalls the event loop under test: only the client's reading and processing do."""
    action_id = re.compile(rb"ActionID: (\S+)")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"Asterisk Call Manager/11.0.0\r\n")
            buf = b""
            answered = 0
            while answered < 3:  # Login, then the resync's CoreShowChannels and QueueStatus
                buf += conn.recv(4096)
                while b"\r\n\r\n" in buf:
                    msg, buf = buf.split(b"\r\n\r\n", 1)
                    found = action_id.search(msg)
                    assert found is not None
                    a = found.group(1)
                    if answered == 0:
                        conn.sendall(
                            b"Response: Success\r\nActionID: "
                            + a
                            + b"\r\nMessage: Authentication accepted\r\n\r\n"
                        )
                    else:
                        conn.sendall(
                            b"Response: Success\r\nActionID: "
                            + a
                            + b"\r\nEventList: start\r\n\r\nEvent: ListComplete"
                            b"\r\nActionID: " + a + b"\r\nEventList: Complete"
                            b"\r\nListItems: 0\r\n\r\n"
                        )
                    answered += 1
            time.sleep(0.05)
            conn.sendall(data)
            time.sleep(1)

    thread = multiprocessing.get_context("fork").Process(target=serve, daemon=True)
    thread.start()
    return listener, thread


class _TimedWire(_AmiWire):
    """Times each read callback in CPU time of this thread: the loop is blocked exactly
    that long by our parsing and tracking, whatever else the machine is doing."""

    cpu_ms: list[float] = []

    def buffer_updated(self, nbytes: int) -> None:
        t = time.thread_time()
        super().buffer_updated(nbytes)
        self.cpu_ms.append((time.thread_time() - t) * 1000)


async def loop_stall(data: bytes) -> tuple[float, float, int, float, float]:
    """Flood `data` over loopback TCP into a real AmiClient; measure loop stalls."""
    ami_client_module._AmiWire = _TimedWire  # type: ignore[misc]
    _TimedWire.cpu_ms = []
    listener, thread = _flood_server(data)
    port = listener.getsockname()[1]
    tracker = CallTracker()
    done = asyncio.Event()
    ended = 0
    expected = data.count(b"Event: Hangup\r\n") // 2

    def on_event(event: Any) -> None:
        nonlocal ended
        if type(event).__name__ == "CallEnded":
            ended += 1
            if ended >= expected:
                done.set()

    tracker.subscribe(on_event)
    client = AmiClient(
        port=port, username="bench", secret="bench", tracker=tracker, ping_interval=30
    )
    client.start()
    await client.wait_connected(10)
    stalls: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            t = loop.time()
            await asyncio.sleep(0.001)
            stalls.append(loop.time() - t - 0.001)

    tick = asyncio.ensure_future(ticker())
    t0 = time.perf_counter()
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - t0
    await tick
    await client.stop()
    listener.close()
    thread.join(5)
    ami_client_module._AmiWire = _AmiWire  # type: ignore[misc]
    cpu = _TimedWire.cpu_ms
    return (
        max(stalls) * 1000,
        statistics.quantiles(stalls, n=100)[98] * 1000,
        int(data.count(b"\r\n\r\n") / elapsed),
        max(cpu),
        statistics.quantiles(cpu, n=100)[98],
    )


def _renumbered(base: int) -> Callable[[re.Match[bytes]], bytes]:
    """The recorded unique ids of one call, moved to call number `base`."""

    def renumber(m: re.Match[bytes]) -> bytes:
        return b"%d.%d" % (base, int(m.group(1)))

    return renumber


def memory_for_live_calls(calls: int) -> float:
    template = call_messages()
    # Keep each call live: stop before its first Hangup.
    cut = next(i for i, m in enumerate(template) if m.startswith(b"Event: Hangup"))
    ids = re.compile(rb"17953039\d\d\.(\d+)")
    tracker = CallTracker()
    parser = AmiFrameParser(expect_banner=False)
    from ami.events import typed_event

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(calls):
        base = 1795500000 + n
        for msg in template[:cut]:
            data = ids.sub(_renumbered(base), msg)
            for message in parser.feed(data):
                tracker.handle(typed_event(message))
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(tracker.calls) == calls, len(tracker.calls)
    return (after - before) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1100)  # ≈ 217k events
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    data, n_events = build_stream(args.calls)
    headers = data.count(b"\r\n") - data.count(b"\r\n\r\n")
    console.print(
        f"stream: {n_events:,} events from {args.calls:,} calls, "
        f"{headers / n_events:.1f} headers/event, {len(data) / 2**20:.1f} MiB, "
        f"read size {args.chunk:,} B"
    )
    pieces = chunks(data, args.chunk)
    base_times, our_times, full_times = [], [], []
    ended = 0
    for _ in track(range(args.repeat), description="parsing"):
        base_times.append(bench_panoramisk(pieces))
        full_times.append(bench_ours_every_header(pieces))
        t, ended = bench_ours(pieces)
        our_times.append(t)
    assert ended == args.calls, f"tracker closed {ended} of {args.calls} calls"
    base_rate = n_events / min(base_times)
    our_rate = n_events / min(our_times)
    full_rate = n_events / min(full_times)
    stall_max, stall_p99, tcp_rate, cpu_max, cpu_p99 = asyncio.run(loop_stall(data))
    mem = memory_for_live_calls(1000)

    table = Table(title=f"AMI ingest (best of {args.repeat} runs)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("panoramisk 1.4: every header parsed (baseline)", f"{base_rate:,.0f} events/s")
    table.add_row("same work: hotline framing, every header parsed", f"{full_rate:,.0f} events/s")
    table.add_row("  same-work ratio (target ≥ 1.0)", f"{full_rate / base_rate:.2f}×")
    table.add_row(
        "our path: parse only followed events + typed events + tracker",
        f"{our_rate:,.0f} events/s",
    )
    table.add_row("  ratio to the baseline (not the same work)", f"{our_rate / base_rate:.2f}×")
    table.add_row("over TCP into AmiClient", f"{tcp_rate:,.0f} events/s")
    table.add_row("longest read callback, CPU (target < 10 ms)", f"{cpu_max:.2f} ms")
    table.add_row("p99 read callback, CPU", f"{cpu_p99:.2f} ms")
    table.add_row("longest loop stall, wall clock (includes other load)", f"{stall_max:.2f} ms")
    table.add_row("p99 loop stall, wall clock", f"{stall_p99:.2f} ms")
    table.add_row("machine load average (1 min)", f"{os.getloadavg()[0]:.1f}")
    table.add_row("memory held by 1,000 live tracked calls", f"{mem:.1f} MiB")
    console.print(table)
    line = {
        "bench": "ami_ingest",
        "ratio": round(full_rate / base_rate, 3),
        "baseline_events_per_s": round(base_rate),
        "same_work_events_per_s": round(full_rate),
        "our_path_events_per_s": round(our_rate),
        "our_path_ratio": round(our_rate / base_rate, 3),
        "tcp_events_per_s": tcp_rate,
        "read_callback_cpu_max_ms": round(cpu_max, 3),
        "loop_stall_max_ms": round(stall_max, 3),
        "memory_1000_calls_mib": round(mem, 2),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
