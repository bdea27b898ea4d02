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


@pytest.fixture(scope="session")
def server():
    """Yields the socket path of a running `resumable serve` on a private Redis."""
    redis_server = shutil.which("redis-server")
    if not redis_server:
        pytest.fail("redis-server is not installed: `apt-get install redis-server` (make test does)")
    directory = tempfile.mkdtemp(prefix="rsm-py-")
    redis_socket = os.path.join(directory, "redis.sock")
    redis_log = os.path.join(directory, "redis.log")
    redis = subprocess.Popen(
        [redis_server, "--port", "0", "--unixsocket", redis_socket, "--dir", directory, "--save", "",
         "--appendonly", "no", "--logfile", redis_log],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workflows = os.path.join(directory, "workflows.yaml")
    Path(workflows).write_text(WORKFLOWS)
    socket_path = os.path.join(directory, "rsm.sock")
    serve_log = os.path.join(directory, "serve.log")
    serve = None
    try:
        _wait_for_socket(redis_socket, redis, "redis-server", redis_log)
        with open(serve_log, "w") as log:
            serve = subprocess.Popen(
                [_binary(), "serve", "--socket", socket_path, "--redis", f"unix://{redis_socket}",
                 "--workflows", workflows, "--log-level", "warning"],
                stdout=log, stderr=log,
            )
        _wait_for_socket(socket_path, serve, "resumable serve", serve_log)
        yield socket_path
    finally:
        for process in (serve, redis):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        shutil.rmtree(directory, ignore_errors=True)
