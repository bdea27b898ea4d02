"""Fixtures: a real redis-server and a real `resumable serve`, each in a temporary directory."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

WORKFLOWS = """
workflows:
  - name: research
    steps:
      - {name: search, plugin: simulate, inputs: [input], config: {cost_usd: 0.10, output_tokens: 50}}
      - {name: extract, plugin: simulate, inputs: [search], config: {cost_usd: 0.10}}
      - {name: draft, plugin: simulate, inputs: [extract], config: {cost_usd: 0.10, fail_attempts: 1}, retry: {max_attempts: 1}}
      - {name: verify, plugin: simulate, inputs: [draft], config: {cost_usd: 0.10}}
  - name: echo
    steps:
      - {name: first, plugin: echo, inputs: [input]}
  - name: slow
    steps:
      - {name: nap, plugin: simulate, config: {latency_ms: 1500}}
  - name: gated
    steps:
      - {name: first, plugin: simulate}
      - {name: publish, plugin: simulate, approval: before}
"""


def _binary():
    configured = os.environ.get("RESUMABLE_BINARY")
    if configured:
        return configured
    for candidate in (ROOT / ".build" / "debug" / "resumable", ROOT / ".build" / "release" / "resumable"):
        if candidate.exists():
            return str(candidate)
    pytest.fail("the resumable binary is not built: run `swift build` first (make test does)")


def _wait_for_socket(path, process, what, log):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}: {Path(log).read_text()[-2000:]}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(path)
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{what} did not listen on {path}: {Path(log).read_text()[-2000:]}")


def start_redis(directory):
    """A private redis-server on a Unix socket in ``directory``: ``(process, socket path)``."""
    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` (make test does)")
    redis_socket = os.path.join(directory, "redis.sock")
    redis_log = os.path.join(directory, "redis.log")
    redis = subprocess.Popen(
        [redis_server, "--port", "0", "--unixsocket", redis_socket, "--dir", directory, "--save", "",
         "--appendonly", "no", "--logfile", redis_log],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_socket(redis_socket, redis, "redis-server", redis_log)
    except BaseException:
        stop(redis)
        raise
    return redis, redis_socket


def start_serve(socket_path, redis_socket, log_path, *arguments):
    """A `resumable serve` on ``socket_path`` with the Redis at ``redis_socket``, logging to
    ``log_path``; returns once it listens."""
    with open(log_path, "a") as log:
        serve = subprocess.Popen(
            [_binary(), "serve", "--socket", socket_path, "--redis", f"unix://{redis_socket}",
             "--log-level", "warning", *arguments],
            stdout=log, stderr=log,
        )
    try:
        _wait_for_socket(socket_path, serve, "resumable serve", log_path)
    except BaseException:
        stop(serve)
        raise
    return serve


def stop(process):
    """Stops a process gracefully (SIGTERM), killing it after 10 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def server():
    """Yields the socket path of a running `resumable serve` on a private Redis."""
    directory = tempfile.mkdtemp(prefix="rsm-py-")
    redis = serve = None
    try:
        redis, redis_socket = start_redis(directory)
        workflows = os.path.join(directory, "workflows.yaml")
        Path(workflows).write_text(WORKFLOWS)
        serve = start_serve(os.path.join(directory, "rsm.sock"), redis_socket, os.path.join(directory, "serve.log"),
                            "--workflows", workflows)
        yield os.path.join(directory, "rsm.sock")
    finally:
        stop(serve)
        stop(redis)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def spawn_worker(tmp_path):
    """Starts worker processes (tests/worker_app.py) and SIGKILLs those still alive at the end.

    ``spawn_worker(socket, "TASK:KIND", ..., concurrency=4)`` returns a ``WorkerProcess`` with
    ``.process``, ``.name``, ``.log`` (its stderr) and ``.record`` (the file its tasks append to,
    shared by every worker of the test unless given)."""
    started = []

    def spawn(socket_path, *serve, concurrency=4, record=None, name=None, preexec_fn=None):
        name = name or f"w{len(started) + 1}-{os.getpid()}"
        log = tmp_path / f"{name}.log"
        record = record or tmp_path / "record.jsonl"
        command = [sys.executable, str(Path(__file__).with_name("worker_app.py")), "--socket", socket_path,
                   "--record", str(record), "--concurrency", str(concurrency), "--name", name]
        for spec in serve:
            command += ["--serve", spec]
        with open(log, "w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=output, preexec_fn=preexec_fn)
        worker = WorkerProcess(process, name, log, record)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


class WorkerProcess:
    def __init__(self, process, name, log, record):
        self.process, self.name, self.log, self.record = process, name, Path(log), Path(record)

    def log_text(self):
        return self.log.read_text() if self.log.exists() else ""
