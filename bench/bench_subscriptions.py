"""Live subscriptions: events delivered/s and delivery latency, against a bare gRPC stream.

Events delivered per second and delivery latency to 1, 100 and 1,000 concurrent
subscribers, with a bare gRPC streaming server as the reference.

What it measures, in one run, on this machine:

- Quadro: one real `quadro serve` process on a fresh SQLite store (started by
  tests/support/server.py, as bench_transitions.py does), one board. A writer in this
  process sends `PostTask` calls (`quadro.AsyncClient`) at a steady rate, 500/s by
  default, open loop: each call leaves on schedule whether or not the earlier ones were
  answered, as independent agents' calls would. Each committed call is one event. The
  subscribers follow the board with `SubscribeEvents` from its head, no filter.
- the reference, bench/_bare_stream_server.py, a minimal grpc.aio server in its own
  process whose one streaming method sends the same messages (SubscribeEventsResponse
  bytes built from a real Quadro event, coalesced the same way) at the same event rate.
  It is measured twice: with its events made by a timer inside it ("timer writes": the
  bare transport), and with each event written by a unary call from this process at the
  same rate, open loop too ("RPC writes": the transport when the writes arrive as calls
  that compete with the streams for the server's event loop, as Quadro's do).

At each level (default 1, 100 and 1,000 subscribers) the three are measured in turn,
round after round (a neighbour that loads the machine for a while weighs on all), by
the same subscriber client, with the same figures:

- events delivered/s: events received by all subscribers together per second;
- delivery latency: receipt time minus the event's `create_time` (Quadro's commit
  time, the bare server's send time; same machine, same clock), p50 and p99;
- the write rate achieved, how long the write calls took, and whether the subscribers
  kept up: the events received against subscribers x events written, and the time they
  took to reach the last event once the writer stopped (a backlog shows there);
- the servers' RSS with the level's streams open (before writing, and at the end of the
  window), and the CPU of the server, of the benchmark's processes, of the kernel's
  interrupt handling and of every other process.

The subscriber side is built to be cheap, since one Python process would saturate long
before the server: several processes (`--client-processes`), each with raw `grpc.aio`
calls that return bytes, many subscribers per channel (HTTP/2 multiplexes them). A
subscriber counts events from the position at the end of each message without parsing
it; a sample of them (`--latency-sample`, spread over processes and channels) parses
every message for the events' `create_time`.

Run from the repository root (a markdown report goes to stdout, progress to stderr):

    .venv/bin/python bench/bench_subscriptions.py              # ~2.5 min
    .venv/bin/python bench/bench_subscriptions.py --quick      # smoke run, ~30 s
    .venv/bin/python bench/bench_subscriptions.py --levels 1000 --rate 200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import grpc
import psutil
from google import protobuf
from google.protobuf.internal import api_implementation

# Run as a script, this file has bench/ on sys.path; its neighbours are imported from the
# repository root as the `bench` namespace package instead, the way mypy sees them, and
# the server helper from tests/, as bench_transitions.py does.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import quadro
from bench._bare_stream_server import CONTROL, SUBSCRIBE, BareServer
from bench.bench_transitions import (
    BOARD,
    DISTURBED,
    TASK_TYPE,
    CpuSeconds,
    Measurement,
    Recorder,
    cpu_shares,
    machine,
    merged,
    ms,
)
from quadro import limits
from quadro.v1 import event_pb2
from support.server import ServerProcess

TARGET_SUBSCRIBERS = 1000
TARGET_RATE = 500.0
TARGET_P99_MS = 100.0
BOARD_NAME = f"boards/{BOARD}"
QUADRO_SUBSCRIBE = "/quadro.v1.EventService/SubscribeEvents"
# The servers measured. The bare server twice: with its events stamped by a timer in the
# server (the plain transport), and written by unary calls as Quadro's are (the
# transport with the writes competing with the streams for the event loop, as they do in
# Quadro).
QUADRO = "Quadro"
BARE = "bare gRPC"
BARE_TIMER = "bare, timer writes"
BARE_RPC = "bare, RPC writes"
# Seconds allowed for a level's streams to open, and for the subscribers to reach the
# last event once the writer stops, before the round is reported as not caught up.
OPEN_TIMEOUT = 120.0
CATCH_UP_TIMEOUT = 30.0
# Seconds between opening idle streams and reading the server's RSS, and the fewest
# streams for which a cost per stream is reported.
MEMORY_SETTLE = 1.0
PER_STREAM_FROM = 10
# A subscriber process above this share of one core is the bottleneck, not the server.
CLIENT_BOUND = 0.9
# Above this share of all cores busy, the machine itself is the limit.
SATURATED = 0.9
MIB = 1024 * 1024


# --- the subscriber processes ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    """A server to subscribe to: the method, and its request already serialized."""

    name: str
    address: str
    method: str
    request: bytes
    # The key of the positions map in its messages.
    board: str


@dataclasses.dataclass(frozen=True)
class Open:
    target: Target
    count: int
    # The first `sampled` subscribers record the latency of every event they receive.
    sampled: int
    per_channel: int


@dataclasses.dataclass(frozen=True)
class Count:
    """Count what is received between these wall-clock times; answer once `end` passed."""

    start: float
    end: float


@dataclasses.dataclass(frozen=True)
class CatchUp:
    """Answer when every subscriber has received the event `head` (or after `timeout`)."""

    head: int
    timeout: float


@dataclasses.dataclass(frozen=True)
class Close:
    pass


Command = Open | Count | CatchUp | Close | None


@dataclasses.dataclass(frozen=True)
class Opened:
    count: int


@dataclasses.dataclass(frozen=True)
class Counted:
    events: int
    messages: int
    # Seconds, unsorted, from the sampled subscribers.
    latencies: list[float]
    # Streams that ended with an error during the round.
    errors: int


@dataclasses.dataclass(frozen=True)
class CaughtUp:
    # Wall-clock time at which the last subscriber received `head`; None if some did not.
    at: float | None
    # Events the furthest subscriber was missing when the answer was given.
    behind: int


Reply = Opened | Counted | CaughtUp | None


def position_key(board: str) -> bytes:
    """How an entry of the positions map starts, up to its value: field 1 (the key,
    length-delimited), then the tag of field 2 (the value, a varint)."""
    name = board.encode()
    assert len(name) < 128, "one-byte length"
    return b"\n" + bytes([len(name)]) + name + b"\x10"


def varint_after(data: bytes, at: int) -> int:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        at += 1
        shift += 7


class Subscriber:
    __slots__ = ("caught", "events", "last", "latencies", "messages", "open")

    def __init__(self, sampled: bool) -> None:
        self.open = False
        self.events = 0
        self.messages = 0
        self.last = 0
        self.caught: float | None = None
        self.latencies: list[float] | None = [] if sampled else None


class Group:
    """One process's share of a level's subscribers, on a few channels."""

    def __init__(self, command: Open) -> None:
        # Each channel on its own connection: gRPC would otherwise share one subchannel
        # (one TCP connection) among channels with the same target and arguments.
        options = [
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.max_receive_message_length", limits.MESSAGE_MAX_BYTES),
        ]
        channels = math.ceil(command.count / command.per_channel)
        self.channels = [
            grpc.aio.insecure_channel(command.target.address, options=options)
            for _ in range(channels)
        ]
        # No serializers: the request goes as the bytes given, answers come back as bytes.
        methods = [
            channel.unary_stream(command.target.method, None, None) for channel in self.channels
        ]
        self._position_key = position_key(command.target.board)
        self.start = math.inf
        self.end = math.inf
        self.head = sys.maxsize
        self.subscribers = [Subscriber(i < command.sampled) for i in range(command.count)]
        self.errors = 0
        self._unopened = command.count
        self.opened = asyncio.Event()
        self._uncaught = command.count
        self.caught = asyncio.Event()
        # Subscriber i on channel i % channels: the sampled ones spread over the channels.
        self.calls = [methods[i % channels](command.target.request) for i in range(command.count)]
        self.tasks = [
            asyncio.create_task(self._follow(call, subscriber))
            for call, subscriber in zip(self.calls, self.subscribers, strict=True)
        ]

    async def _follow(self, call: Any, me: Subscriber) -> None:
        # The hot loop. Every message ends with the positions map (Quadro and the bare
        # server both append it last), and with no filter every event of the board is
        # delivered: the events a message carries are the difference between its position
        # and the previous one, read from the last bytes without parsing the message.
        # Only the sampled subscribers parse, for the events' create_time.
        parse = event_pb2.SubscribeEventsResponse.FromString
        clock = time.time
        key = self._position_key
        try:
            while True:
                raw = await call.read()
                if not isinstance(raw, bytes):
                    return  # the end of the stream
                received = clock()
                position = varint_after(raw, raw.rfind(key) + len(key))
                if not me.open:
                    me.open = True
                    me.last = position
                    self._unopened -= 1
                    if not self._unopened:
                        self.opened.set()
                    continue
                if position == me.last:
                    continue  # progress only
                if self.start <= received < self.end:
                    me.events += position - me.last
                    me.messages += 1
                    if me.latencies is not None:
                        stamps = [event.create_time for event in parse(raw).events]
                        me.latencies += [
                            received - (stamp.seconds + stamp.nanos * 1e-9) for stamp in stamps
                        ]
                me.last = position
                if position >= self.head and me.caught is None:
                    self._catch(me, received)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                self.errors += 1

    async def count(self, command: Count) -> Counted:
        self.start, self.end = command.start, command.end
        # Any message handled after `end` has a later receipt time: counting is over.
        await asyncio.sleep(max(0.0, command.end - time.time()))
        subscribers = self.subscribers
        return Counted(
            sum(s.events for s in subscribers),
            sum(s.messages for s in subscribers),
            [latency for s in subscribers for latency in s.latencies or ()],
            self.errors,
        )

    def _catch(self, subscriber: Subscriber, when: float) -> None:
        subscriber.caught = when
        self._uncaught -= 1
        if not self._uncaught:
            self.caught.set()

    async def catch_up(self, command: CatchUp) -> CaughtUp:
        self.head = command.head
        now = time.time()
        for s in self.subscribers:
            if s.last >= command.head:
                self._catch(s, now)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.caught.wait(), command.timeout)
        behind = max(0, command.head - min(s.last for s in self.subscribers))
        if not self.caught.is_set():
            return CaughtUp(None, behind)
        return CaughtUp(max(s.caught or 0.0 for s in self.subscribers), behind)

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        # A cancelled call's read raises CancelledError in its task: expected here.
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(channel.close(None) for channel in self.channels))


async def obey(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    group: Group | None = None
    while True:
        # The pipe is read in a thread: the event loop keeps serving the streams.
        command: Command = await loop.run_in_executor(None, conn.recv)
        reply: Reply = None
        match command:
            case None:
                return
            case Open():
                group = Group(command)
                await asyncio.wait_for(group.opened.wait(), OPEN_TIMEOUT)
                reply = Opened(len(group.subscribers))
            case Count():
                assert group is not None
                reply = await group.count(command)
            case CatchUp():
                assert group is not None
                reply = await group.catch_up(command)
            case Close():
                assert group is not None
                await group.close()
                group = None
        conn.send(reply)


def subscriber_process(conn: Connection) -> None:
    asyncio.run(obey(conn))


class Clients:
    """The subscriber processes, each driven by commands over a pipe."""

    def __init__(self, count: int) -> None:
        # Spawned, not forked: this process has gRPC channels open, and gRPC does not
        # survive a fork.
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for i in range(count):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=subscriber_process, args=(theirs,), name=f"subscribers-{i}", daemon=True
            )
            process.start()
            self._pipes.append(mine)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    async def ask(self, commands: dict[int, Command]) -> list[Reply]:
        """Send each process its command; their replies, once all have answered."""
        loop = asyncio.get_running_loop()
        for i, command in commands.items():
            self._pipes[i].send(command)
        replies = [loop.run_in_executor(None, self._pipes[i].recv) for i in commands]
        return list(await asyncio.gather(*replies))

    def stop(self) -> None:
        for pipe, process in zip(self._pipes, self.processes, strict=True):
            if process.is_alive():
                with contextlib.suppress(OSError):
                    pipe.send(None)
            process.join(10)
            if process.is_alive():
                process.kill()


def shares(total: int, parts: int) -> list[int]:
    """`total` split over `parts` as evenly as possible, larger shares first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- the writers ----------------------------------------------------------------------


class Load(Protocol):
    """What commits (or publishes) the events the subscribers receive."""

    # Writes that failed since start, by status code, and those still unanswered at stop
    # (cancelled).
    failures: collections.Counter[str]
    abandoned: int

    async def start(self) -> None: ...

    async def written(self) -> tuple[int, float]:
        """Events committed so far, and when (time.time()) they were counted."""
        ...

    async def stop(self) -> int:
        """Stop; the sequence of the last event committed."""
        ...

    def write_latencies(self, start: float, end: float) -> list[float]:
        """How long the writes answered between these perf_counter times took, sorted
        (empty when the writes are not calls)."""
        ...

    @property
    def most_in_flight(self) -> int:
        """The most writes unanswered at once since start (0 when they are not calls)."""
        ...


# One write: returns the sequence of the event it committed.
Post = Callable[[], Awaitable[int]]


class Writer:
    """Writes by call at a steady rate, open loop: call i is sent at start + i / rate
    whether or not the earlier ones were answered (up to `in_flight` unanswered), as
    independent agents would. A writer that waited for each answer would slow down with
    the server and hide how long the writes take."""

    def __init__(self, post: Post, rate: float, in_flight: int) -> None:
        self._post_one = post
        self._rate = rate
        self._room = asyncio.Semaphore(in_flight)
        self._scheduler: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.recorder = Recorder()
        self.acknowledged = 0
        self.failures: collections.Counter[str] = collections.Counter()
        self.abandoned = 0
        self.head = 0
        self._most_in_flight = 0

    @property
    def most_in_flight(self) -> int:
        return self._most_in_flight

    async def start(self) -> None:
        self.recorder = Recorder()
        self._most_in_flight = 0
        self.failures = collections.Counter()
        self.abandoned = 0
        self._stopping = False
        self._scheduler = asyncio.create_task(self._schedule())

    async def _schedule(self) -> None:
        start = time.perf_counter()
        sent = 0
        while True:
            await asyncio.sleep(max(0.0, start + sent / self._rate - time.perf_counter()))
            await self._room.acquire()
            call = asyncio.create_task(self._post())
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)
            self._most_in_flight = max(self._most_in_flight, len(self._calls))
            sent += 1

    async def _post(self) -> None:
        try:
            sequence = await self.recorder.time(self._post_one())
        except (quadro.errors.QuadroError, grpc.aio.AioRpcError) as error:
            # A write that did not make it is a result to report, not a reason to stop the
            # benchmark (under overload, gRPC itself sheds calls that the server has not
            # taken in yet: CANCELLED); those cancelled by stop() are counted there.
            if not self._stopping:
                code = error.code if isinstance(error, quadro.errors.QuadroError) else error.code()
                self.failures[code.name] += 1
            return
        finally:
            self._room.release()
        self.acknowledged += 1
        self.head = max(self.head, sequence)

    async def written(self) -> tuple[int, float]:
        return self.acknowledged, time.time()

    def write_latencies(self, start: float, end: float) -> list[float]:
        return self.recorder.latencies(start, end)

    async def stop(self) -> int:
        """Stop writing and cancel the calls still unanswered: under overload thousands
        wait, and waiting for their deadline would only lengthen the run. The head
        returned is the last event known committed; some cancelled calls may commit
        later, which is harmless (subscribers only have to reach the head)."""
        assert self._scheduler is not None
        self._scheduler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._scheduler
        self.abandoned = len(self._calls)
        self._stopping = True
        for call in self._calls:
            call.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        return self.head


def post_task(client: quadro.AsyncClient) -> Post:
    async def post() -> int:
        posted = await client.post_task(BOARD, TASK_TYPE, "benchmark task")
        return posted.event.sequence

    return post


def bare_post(channel: grpc.aio.Channel) -> Post:
    control = channel.unary_unary(CONTROL, None, None)

    async def post() -> int:
        answer: bytes = await control(b"+", timeout=30)
        return int(answer.split()[1])

    return post


class BarePublisher:
    """The bare server's own publisher, driven through its Control method."""

    def __init__(self, channel: grpc.aio.Channel, rate: float) -> None:
        self._control = channel.unary_unary(CONTROL, None, None)
        self._rate = rate
        self.failures: collections.Counter[str] = collections.Counter()
        self.abandoned = 0

    async def _ask(self, request: bytes) -> tuple[int, int, float]:
        answer: bytes = await self._control(request, timeout=30)
        published, head, when = answer.split()
        return int(published), int(head), float(when)

    async def start(self) -> None:
        await self._ask(str(self._rate).encode())

    async def written(self) -> tuple[int, float]:
        published, _, when = await self._ask(b"")
        return published, when

    async def stop(self) -> int:
        return (await self._ask(b"0"))[1]

    def write_latencies(self, start: float, end: float) -> list[float]:
        return []

    @property
    def most_in_flight(self) -> int:
        return 0


# --- one round ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    levels: Sequence[int]
    rate: float
    # Measured time per server and level, split into `rounds` windows.
    seconds: float
    rounds: int
    # Time the writer runs before each window opens.
    warmup: float
    per_channel: int
    sample: int
    # Most write calls the writer leaves unanswered before it waits.
    in_flight: int
    durability: str

    @property
    def window(self) -> float:
        return self.seconds / self.rounds


@dataclasses.dataclass(frozen=True)
class Server:
    target: Target
    pid: int
    load: Load


@dataclasses.dataclass(frozen=True)
class Reading:
    """CPU seconds so far: server, all benchmark processes and machine; the subscriber
    processes' part of the second; the machine's interrupt handling (on loopback, most
    of the TCP work of both ends is done there, charged to no process)."""

    cpu: CpuSeconds
    subscribers: float
    interrupts: float
    # When it was read, on the clock of the writer's Recorder.
    at: float


class Probe:
    """CPU of the server, the subscriber processes, this process and the machine; the
    server's RSS."""

    def __init__(self, server_pid: int, subscriber_pids: Sequence[int]) -> None:
        self._server = psutil.Process(server_pid)
        self._subscribers = [psutil.Process(pid) for pid in subscriber_pids]
        self._me = psutil.Process()

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def read(self) -> Reading:
        subscribers = sum(self._cpu(p) for p in self._subscribers)
        machine = psutil.cpu_times()
        interrupts = machine.irq + machine.softirq
        busy = machine.user + machine.nice + machine.system + interrupts
        cpu = CpuSeconds(self._cpu(self._server), subscribers + self._cpu(self._me), busy)
        return Reading(cpu, subscribers, interrupts, time.perf_counter())

    def rss(self) -> int:
        return int(self._server.memory_info().rss)


@dataclasses.dataclass(frozen=True)
class Round:
    # Events received by all subscribers in the window; cpu.client is every benchmark
    # process (subscribers and writer).
    delivered: Measurement
    messages: int
    # Events committed (or published) in the window, as counted by the writer over
    # `written_seconds` (close to the window; the bare server's counts come by call).
    written: int
    written_seconds: float
    # Sorted latencies of the write calls answered in the window (none for the timer).
    writes: list[float]
    # The most writes unanswered at once, the writes that failed, and those still
    # unanswered when the writer stopped.
    in_flight: int
    failures: collections.Counter[str]
    abandoned: int
    subscribers_cpu: float
    interrupts_cpu: float
    # The server's RSS at the window's end.
    rss: int
    # Seconds from the writer's stop until every subscriber had its last event; None if
    # some did not within CATCH_UP_TIMEOUT.
    catch_up: float | None
    behind: int
    errors: int


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.time()))


def opening(
    target: Target, subscribers: int, sample: int, settings: Settings, clients: Clients
) -> dict[int, Command]:
    """The Open command of each subscriber process that takes part: the subscribers and
    the sampled ones spread evenly over them."""
    processes = min(subscribers, len(clients.processes))
    counts = shares(subscribers, len(clients.processes))[:processes]
    sampled = shares(min(subscribers, sample), processes)
    return {
        i: Open(target, counts[i], min(sampled[i], counts[i]), settings.per_channel)
        for i in range(processes)
    }


async def measure_round(
    server: Server, subscribers: int, settings: Settings, clients: Clients, probe: Probe
) -> Round:
    opens = opening(server.target, subscribers, settings.sample, settings, clients)
    everyone = opens.keys()
    # The subscriber processes give up on their own (OPEN_TIMEOUT, CATCH_UP_TIMEOUT); this
    # bound is for a round that hangs anyway.
    async with asyncio.timeout(OPEN_TIMEOUT + CATCH_UP_TIMEOUT + 4 * settings.seconds + 120):
        await clients.ask(opens)
        await server.load.start()
        # Absolute times: the processes count what they receive between them, however
        # late the command reaches a busy one.
        start = time.time() + settings.warmup
        end = start + settings.window
        counting = asyncio.create_task(clients.ask(dict.fromkeys(everyone, Count(start, end))))
        await sleep_until(start)
        first, (written_start, written_from) = probe.read(), await server.load.written()
        await sleep_until(end)
        last, (written_end, written_to) = probe.read(), await server.load.written()
        rss = probe.rss()
        writes = server.load.write_latencies(first.at, last.at)
        in_flight = server.load.most_in_flight
        counted = [reply for reply in await counting if isinstance(reply, Counted)]
        head = await server.load.stop()
        stopped = time.time()
        failures, abandoned = server.load.failures.copy(), server.load.abandoned
        caught = [
            reply
            for reply in await clients.ask(dict.fromkeys(everyone, CatchUp(head, CATCH_UP_TIMEOUT)))
            if isinstance(reply, CaughtUp)
        ]
        await clients.ask(dict.fromkeys(everyone, Close()))
    times = [c.at for c in caught]
    latencies = sorted(latency for c in counted for latency in c.latencies)
    return Round(
        delivered=Measurement(
            calls=sum(c.events for c in counted),
            seconds=end - start,
            latencies=latencies,
            cpu=last.cpu - first.cpu,
        ),
        messages=sum(c.messages for c in counted),
        written=written_end - written_start,
        written_seconds=written_to - written_from,
        writes=writes,
        in_flight=in_flight,
        failures=failures,
        abandoned=abandoned,
        subscribers_cpu=last.subscribers - first.subscribers,
        interrupts_cpu=last.interrupts - first.interrupts,
        rss=rss,
        catch_up=None if None in times else max(0.0, max(t or 0.0 for t in times) - stopped),
        behind=max(c.behind for c in caught),
        errors=sum(c.errors for c in counted),
    )


# --- levels ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Result:
    """One server at one level, its rounds merged."""

    server: str
    subscribers: int
    processes: int
    rounds: Sequence[Round]

    @property
    def delivered(self) -> Measurement:
        return merged([r.delivered for r in self.rounds])

    @property
    def seconds(self) -> float:
        return self.delivered.seconds

    @property
    def written_rate(self) -> float:
        return sum(r.written for r in self.rounds) / sum(r.written_seconds for r in self.rounds)

    @property
    def kept_up(self) -> float:
        """Events received over subscribers x events written (1.0: everything, at the
        rate it was written)."""
        expected = self.subscribers * self.written_rate * self.seconds
        return self.delivered.calls / expected if expected else 0.0

    @property
    def messages_rate(self) -> float:
        return sum(r.messages for r in self.rounds) / self.seconds

    @property
    def events_per_message(self) -> float:
        messages = sum(r.messages for r in self.rounds)
        return self.delivered.calls / messages if messages else 0.0

    @property
    def caught_up(self) -> bool:
        """Whether every subscriber received the last event soon after the writer stopped,
        in every round."""
        return all(r.catch_up is not None for r in self.rounds)

    @property
    def catch_up(self) -> str:
        times = [r.catch_up for r in self.rounds]
        if not self.caught_up:
            behind = max(r.behind for r in self.rounds)
            return f"> {CATCH_UP_TIMEOUT:g} s ({behind:,} behind)"
        return f"{max(t or 0.0 for t in times) * 1000:,.0f}"

    @property
    def rss_mib(self) -> float:
        return max(r.rss for r in self.rounds) / MIB

    @property
    def machine_load(self) -> float:
        """How busy the machine's cores were, all together (1.0: all busy throughout)."""
        d = self.delivered
        return d.load(d.cpu.machine) / (os.cpu_count() or 1)

    @property
    def subscribers_load(self) -> float:
        """The subscriber processes' CPU, as a share of one core per process."""
        return sum(r.subscribers_cpu for r in self.rounds) / self.seconds / self.processes

    @property
    def interrupts_load(self) -> float:
        return sum(r.interrupts_cpu for r in self.rounds) / self.seconds

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)

    @property
    def writes(self) -> Measurement:
        """The writer's calls answered in the windows (none for the timer writes)."""
        latencies = sorted(w for r in self.rounds for w in r.writes)
        return Measurement(len(latencies), self.seconds, latencies, CpuSeconds(0, 0, 0))

    @property
    def in_flight(self) -> int:
        return max(r.in_flight for r in self.rounds)

    @property
    def failures(self) -> collections.Counter[str]:
        return sum((r.failures for r in self.rounds), collections.Counter())

    @property
    def failed(self) -> str:
        """`n (CODE: n, ...)`."""
        failures = self.failures
        total = sum(failures.values())
        codes = ", ".join(f"{code} {n:,}" for code, n in failures.most_common())
        return f"{total:,} ({codes})" if total else "0"

    @property
    def abandoned(self) -> int:
        return sum(r.abandoned for r in self.rounds)

    def server_cpu_per_message_us(self) -> float:
        messages = sum(r.messages for r in self.rounds)
        return self.delivered.cpu.server / messages * 1e6 if messages else 0.0


@dataclasses.dataclass(frozen=True)
class Level:
    subscribers: int
    # Quadro first, then the references.
    results: Sequence[Result]

    @property
    def quadro(self) -> Result:
        return self.results[0]

    @property
    def references(self) -> Sequence[Result]:
        return self.results[1:]


async def run_level(
    subscribers: int, servers: Sequence[Server], settings: Settings, clients: Clients
) -> Level:
    rounds: list[list[Round]] = [[] for _ in servers]
    probes = [Probe(server.pid, clients.pids) for server in servers]
    # The servers take turns, round by round: a neighbour that loads the machine for a
    # while, or a store that slows as it grows, then weighs on all alike.
    for _ in range(settings.rounds):
        for server, probe, done in zip(servers, probes, rounds, strict=True):
            done.append(await measure_round(server, subscribers, settings, clients, probe))
    processes = min(subscribers, len(clients.processes))
    return Level(
        subscribers,
        [
            Result(server.target.name, subscribers, processes, done)
            for server, done in zip(servers, rounds, strict=True)
        ],
    )


def progress(level: Level) -> None:
    for result in level.results:
        d = result.delivered
        writes = f" (p50/p99 {ms(result.writes)} ms)" if result.writes.calls else ""
        print(
            f"  {result.server}: written {result.written_rate:,.0f}/s{writes}, delivered "
            f"{d.rate:,.0f} events/s ({result.kept_up:.1%}), p50/p99 {ms(d)} ms, "
            f"catch-up {result.catch_up} ms, RSS {result.rss_mib:,.0f} MiB, "
            f"CPU server/client/others {cpu_shares(d)}",
            file=sys.stderr,
            flush=True,
        )


@dataclasses.dataclass(frozen=True)
class Memory:
    """The servers' RSS (MiB) before any stream, and with each level's streams open and
    idle, on fresh processes before anything was written: what the streams themselves
    cost, free of the write backlogs and message buffers of the measured rounds."""

    before: dict[str, float]
    with_streams: dict[int, dict[str, float]]


async def measure_memory(
    servers: Sequence[tuple[str, Target, int]], settings: Settings, clients: Clients
) -> Memory:
    def rss(pid: int) -> float:
        return float(psutil.Process(pid).memory_info().rss) / MIB

    before = {name: rss(pid) for name, _, pid in servers}
    with_streams: dict[int, dict[str, float]] = {}
    # Smallest level first: Python seldom gives memory back, so a larger level measured
    # first would leave its mark on the smaller ones.
    for subscribers in sorted(set(settings.levels)):
        with_streams[subscribers] = {}
        for name, target, pid in servers:
            opens = opening(target, subscribers, 0, settings, clients)
            await clients.ask(opens)
            await asyncio.sleep(MEMORY_SETTLE)
            with_streams[subscribers][name] = rss(pid)
            await clients.ask(dict.fromkeys(opens, Close()))
    return Memory(before, with_streams)


async def template_event(client: quadro.AsyncClient) -> bytes:
    """A real event of the board, serialized: the bare server sends copies of it."""
    posted = await client.post_task(BOARD, TASK_TYPE, "benchmark task")
    return posted.event.SerializeToString()


async def run_all(
    quadro_server: ServerProcess, settings: Settings, processes: int
) -> tuple[list[Level], Memory]:
    assert quadro_server.process is not None
    async with quadro.AsyncClient(quadro_server.address) as client:
        await client.create_board(BOARD, display_name="benchmark")
        template = await template_event(client)
        with contextlib.ExitStack() as cleanup:
            bare_server = BareServer(template, BOARD_NAME).start()
            cleanup.callback(bare_server.stop)
            clients = Clients(processes)
            cleanup.callback(clients.stop)
            async with grpc.aio.insecure_channel(bare_server.address) as bare_channel:
                request = event_pb2.SubscribeEventsRequest(boards=[BOARD_NAME])
                bare = Target(BARE_TIMER, bare_server.address, SUBSCRIBE, b"", BOARD_NAME)
                servers = (
                    Server(
                        Target(
                            QUADRO,
                            quadro_server.address,
                            QUADRO_SUBSCRIBE,
                            request.SerializeToString(),
                            BOARD_NAME,
                        ),
                        quadro_server.process.pid,
                        Writer(post_task(client), settings.rate, settings.in_flight),
                    ),
                    Server(bare, bare_server.pid, BarePublisher(bare_channel, settings.rate)),
                    Server(
                        dataclasses.replace(bare, name=BARE_RPC),
                        bare_server.pid,
                        Writer(bare_post(bare_channel), settings.rate, settings.in_flight),
                    ),
                )
                print("memory with idle streams...", file=sys.stderr, flush=True)
                memory = await measure_memory(
                    [
                        (QUADRO, servers[0].target, servers[0].pid),
                        (BARE, servers[1].target, servers[1].pid),
                    ],
                    settings,
                    clients,
                )
                levels = []
                for subscribers in settings.levels:
                    print(f"{subscribers} subscriber(s)...", file=sys.stderr, flush=True)
                    level = await run_level(subscribers, servers, settings, clients)
                    progress(level)
                    levels.append(level)
                return levels, memory


# --- the report -----------------------------------------------------------------------


def ratio(quadro_value: float, bare_value: float) -> str:
    return f"{quadro_value / bare_value:.2f}" if bare_value else "n/a"


def result_row(result: Result) -> str:
    d = result.delivered
    return (
        f"| {result.subscribers:,} | {result.server} | {result.written_rate:,.0f} "
        f"| {d.rate:,.0f} | {result.kept_up:.1%} | {result.messages_rate:,.0f} "
        f"| {result.events_per_message:.1f} | {ms(d)} | {result.catch_up} "
        f"| {result.rss_mib:,.0f} |"
    )


def tables(levels: Sequence[Level]) -> list[str]:
    lines = [
        "| subscribers | server | events written/s | events delivered/s | of subscribers "
        "x written | messages/s | events per message | latency p50 / p99 (ms) "
        "| catch-up after the writer stops (ms) | server RSS at the end (MiB) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in levels:
        lines += [result_row(result) for result in level.results]
    lines += [
        "",
        "Ratios, Quadro / reference:",
        "",
        "| subscribers | reference | events delivered/s | messages/s | latency p50 | latency p99 |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for level in levels:
        q = level.quadro
        for b in level.references:
            lines.append(
                f"| {level.subscribers:,} | {b.server} "
                f"| {ratio(q.delivered.rate, b.delivered.rate)} "
                f"| {ratio(q.messages_rate, b.messages_rate)} "
                f"| {ratio(q.delivered.percentile(50), b.delivered.percentile(50))} "
                f"| {ratio(q.delivered.percentile(99), b.delivered.percentile(99))} |"
            )
    lines += [
        "",
        "Writes by call (Quadro's PostTask, the bare server's Control `+`), answered in the "
        "windows, sent open loop:",
        "",
        "| subscribers | server | calls answered/s | call p50 / p99 (ms) | most calls in flight "
        "| failed calls | unanswered at stop |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in levels:
        for result in level.results:
            w = result.writes
            if w.calls or result.failures:
                lines.append(
                    f"| {level.subscribers:,} | {result.server} | {w.rate:,.0f} "
                    f"| {ms(w) if w.calls else '-'} | {result.in_flight:,} "
                    f"| {result.failed} | {result.abandoned:,} |"
                )
    lines += [
        "",
        "CPU as a share of one core (100% = one core busy throughout); client is every "
        "benchmark process (subscribers and writer), others everything else, of which "
        "interrupts the kernel's interrupt handling (most of loopback TCP's work). "
        "Quadro's server CPU includes committing the events:",
        "",
        "| subscribers | server | CPU: server / client / others | interrupts "
        "| subscriber processes (each) | server CPU per message (µs) "
        "| server CPU per event delivered (µs) | latency samples | stream errors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in levels:
        for result in level.results:
            d = result.delivered
            lines.append(
                f"| {result.subscribers:,} | {result.server} | {cpu_shares(d)} "
                f"| {result.interrupts_load * 100:.0f}% "
                f"| {result.processes} x {result.subscribers_load * 100:.0f}% "
                f"| {result.server_cpu_per_message_us():,.1f} "
                f"| {d.server_cpu_per_call_us():,.1f} | {len(d.latencies):,} | {result.errors} |"
            )
    return lines


def warnings(levels: Sequence[Level]) -> list[str]:
    results = [r for level in levels for r in level.results]
    lines = []
    worst = max(r.delivered.load(r.delivered.cpu.others) for r in results)
    if worst >= DISTURBED:
        lines.append(
            f"Warning: other processes used up to {worst * 100:.0f}% of a core during a "
            "measurement; rerun on a quiet machine."
        )
    full = [r for r in results if r.machine_load >= SATURATED]
    if full:
        where = ", ".join(f"{r.server} at {r.subscribers:,}" for r in full)
        lines.append(
            f"Note: the machine's {os.cpu_count()} cores were at least {SATURATED:.0%} busy "
            f"during: {where}. Server and subscribers competed for them; those figures are "
            "a full machine's."
        )
    bound = [r for r in results if r.subscribers_load >= CLIENT_BOUND]
    for r in bound:
        lines.append(
            f"Warning: at {r.subscribers:,} subscribers on {r.server} the subscriber "
            f"processes used {r.subscribers_load * 100:.0f}% of a core each: the client, not "
            "only the server, limits these figures."
        )
    return ["", *lines] if lines else []


def verdict(levels: Sequence[Level], settings: Settings) -> str:
    at_target = [lv for lv in levels if lv.subscribers == TARGET_SUBSCRIBERS]
    if not at_target or settings.rate != TARGET_RATE:
        return (
            f"Target not evaluated: it needs {TARGET_SUBSCRIBERS:,} subscribers at "
            f"{TARGET_RATE:g} events/s."
        )

    def reading(result: Result) -> tuple[bool, str]:
        p99 = result.delivered.percentile(99)
        # The rate must really have been written, and delivered, for the latency to count.
        held = result.written_rate >= 0.95 * TARGET_RATE and result.kept_up >= 0.95
        met = p99 < TARGET_P99_MS and held and result.caught_up
        return met, f"p99 {p99:.1f} ms with {result.written_rate:,.0f} events/s written"

    level = at_target[0]
    met, quadro_reading = reading(level.quadro)
    references = "; ".join(
        f"{r.server}: {'met' if ok else 'not met'}, {text}"
        for r in level.references
        for ok, text in [reading(r)]
    )
    return (
        f"Target (p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} events/s to "
        f"{TARGET_SUBSCRIBERS:,} subscribers): {'met' if met else 'NOT met'} by Quadro, "
        f"{quadro_reading}. For reference, {references}."
    )


def memory_table(memory: Memory) -> list[str]:
    before = memory.before
    lines = [
        "Server RSS with idle streams open, on fresh processes before any write "
        f"(before any stream: {', '.join(f'{n} {v:,.0f} MiB' for n, v in before.items())}):",
        "",
        f"| subscribers | {QUADRO} (MiB) | {BARE} (MiB) | ratio | {QUADRO} per stream (KiB) "
        f"| {BARE} per stream (KiB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for subscribers, rss in memory.with_streams.items():
        q, b = rss[QUADRO], rss[BARE]
        # A few streams cost less than the noise of the allocator: no per-stream figure.
        per_stream = [
            f"{(mib - before[name]) * 1024 / subscribers:,.1f}"
            if subscribers >= PER_STREAM_FROM
            else "-"
            for name, mib in ((QUADRO, q), (BARE, b))
        ]
        lines.append(
            f"| {subscribers:,} | {q:,.1f} | {b:,.1f} | {ratio(q, b)} "
            f"| {per_stream[0]} | {per_stream[1]} |"
        )
    return lines


def report(
    levels: Sequence[Level],
    memory: Memory,
    settings: Settings,
    processes: int,
    store: Path,
) -> str:
    return "\n".join(
        [
            "## Live subscriptions vs a bare gRPC stream",
            "",
            *machine(settings.durability, store),
            f"- protobuf {protobuf.__version__} ({api_implementation.Type()})",
            f"- writes: {settings.rate:g} events/s; by call (PostTask, Control `+`) open loop "
            f"with up to {settings.in_flight:,} calls in flight; subscribers from the head, "
            "no filter",
            f"- per level and server: {settings.seconds:g} s measured in {settings.rounds} "
            f"window(s) taking turns with the other servers, each after {settings.warmup:g} s "
            f"of writing; {processes} subscriber process(es), {settings.per_channel} "
            f"subscribers per channel, latency of every event on {settings.sample} "
            "subscriber(s) per level (all of them below that)",
            "",
            *tables(levels),
            "",
            *memory_table(memory),
            *warnings(levels),
            "",
            verdict(levels, settings),
        ]
    )


# --- command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0] if __doc__ else None,
        epilog="Prints a markdown report on stdout.",
    )
    parser.add_argument(
        "--levels",
        type=int,
        nargs="+",
        default=[1, 100, TARGET_SUBSCRIBERS],
        help="numbers of concurrent subscribers (default 1 100 1000)",
    )
    parser.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="events written per second (default 500)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="measured time per server and level (default 10)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="windows the measured time is split into, the servers taking turns (default 2)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="writing before each window opens, once the streams are open (default 2)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="subscriber processes (default 2); a level uses at most one per subscriber",
    )
    parser.add_argument(
        "--per-channel",
        type=int,
        default=100,
        help="subscribers sharing one gRPC channel (default 100)",
    )
    parser.add_argument(
        "--latency-sample",
        type=int,
        default=100,
        help="subscribers per level recording every event's latency (default 100)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=2000,
        help="write calls the writer may leave unanswered before it waits (default 2000)",
    )
    parser.add_argument(
        "--durability",
        choices=["full", "fast"],
        default="full",
        help="passed to quadro serve (default full)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s per measurement, short warm-up"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    counts = (
        *args.levels,
        args.rounds,
        args.client_processes,
        args.per_channel,
        args.max_in_flight,
    )
    if min(counts) < 1 or min(args.seconds, args.rate) <= 0 or args.latency_sample < 0:
        sys.exit(
            "levels, rounds, processes, subscribers per channel, seconds and rate must be positive"
        )
    settings = Settings(
        levels=args.levels,
        rate=args.rate,
        seconds=2.0 if args.quick else args.seconds,
        rounds=1 if args.quick else args.rounds,
        warmup=0.5 if args.quick else args.warmup,
        per_channel=args.per_channel,
        sample=args.latency_sample,
        in_flight=args.max_in_flight,
        durability=args.durability,
    )
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        store = Path(folder) / "quadro.db"
        server = ServerProcess(store, "--durability", args.durability).start()
        try:
            levels, memory = asyncio.run(run_all(server, settings, args.client_processes))
        finally:
            server.stop()
        print(report(levels, memory, settings, args.client_processes, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
