"""Helpers of the worker tests: waiting on conditions, reading what workers recorded, a
low-level task feed read on a thread."""

import json
import queue
import threading
import time
import uuid
from pathlib import Path


def new_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition, what, timeout=30.0, interval=0.05):
    """Polls ``condition()`` until it returns something truthy, which it returns; fails the
    test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def records(path, **match):
    """The JSON lines a worker recorded in ``path`` whose fields equal ``match``."""
    path = Path(path)
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if all(line.get(key) == value for key, value in match.items())]


def wait_for_run(client, workflow_id, status, timeout=30.0):
    """Waits for a run to reach ``status``; returns its state (with its artifacts)."""
    return wait_for(
        lambda: (lambda state: state if state.status == status else None)(
            client.get_state(workflow_id, include_artifacts=True)),
        f"run {workflow_id} to be {status}", timeout)


def wait_for_worker(client, name, timeout=30.0):
    """Waits until a worker called ``name`` is connected; returns its ``WorkerInfo``."""
    return wait_for(lambda: next((w for w in client.list_workers() if w.name == name), None),
                    f"worker {name} to connect", timeout)


class Feed:
    """A low-level task feed (``Client.connect_worker``) read on a thread, so that a test
    waits for its frames with a timeout."""

    def __init__(self, client, tasks, slots=1, name="low-level"):
        self.frames = queue.Queue()
        self._iterator = client.connect_worker(tasks, slots, name)
        self.close = self._iterator.close
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for frame in self._iterator:
                self.frames.put(frame)
        except Exception as error:  # handed to the test by next()
            self.frames.put(error)

    def next(self, timeout=30.0):
        item = self.frames.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def next_task(self, timeout=30.0):
        """The next frame that carries a task (cancellations are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next(max(0.01, deadline - time.monotonic()))
            if frame.task is not None:
                return frame.task
