"""The sync client: one Unix-socket connection, length-prefixed protobuf envelopes.

The methods themselves live in ``calls.Methods`` (shared with ``AsyncClient``), the framing and
the status codes in ``wire``; this module only moves bytes over a blocking socket.
"""

import itertools
import socket
import threading

from . import wire
from .calls import Methods, connect_worker_request, watch_request
from .state import FeedFrame, WatchUpdate
from .wire import (  # noqa: F401 - re-exported: the public helpers of the socket path
    SOCKET_NAME,
    default_socket_path,
    pb2,
    private_directory,
    trusts,
)

DEFAULT_SOCKET_PATH = default_socket_path()


class _Connection:
    """One blocking socket to the server, framed."""

    def __init__(self, socket_path, trust_server_uid):
        self.socket_path = socket_path
        self._received = bytearray()  # bytes received and not read yet
        wire.check_socket_directory(socket_path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(socket_path)
            wire.check_peer(self._sock, socket_path, trust_server_uid)
        except OSError as error:
            self._sock.close()
            raise wire.unreachable(socket_path, error) from error
        except BaseException:
            self._sock.close()
            raise

    def send(self, frame):
        try:
            self._sock.sendall(frame)
        except OSError as error:
            raise wire.closed(self.socket_path, error) from error

    def read(self):
        """The next envelope the server sends (one thread at a time)."""
        length = wire.frame_length(self._read_exactly(wire.HEADER.size))
        return wire.decode_envelope(self._read_exactly(length))

    def _read_exactly(self, count):
        """``count`` bytes, from what was received already and then from the socket. Each
        ``recv`` asks for 64 KiB at least, so a frame's header and body (and the frames that
        came with them) arrive in one call: a worker's thread blocks, and gives up the GIL,
        half as often."""
        received = self._received
        while len(received) < count:
            try:
                chunk = self._sock.recv(min(max(count - len(received), 1 << 16), 1 << 20))
            except OSError as error:
                raise wire.closed(self.socket_path, error) from error
            if not chunk:
                raise wire.closed(self.socket_path)
            received += chunk
        data = bytes(received[:count])
        del received[:count]
        return data

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it
        except OSError:
            pass
        self._sock.close()


class Client(Methods):
    """A connection to a ``resumable serve`` sidecar.

    ``socket_path`` defaults to ``$RESUMABLE_SOCKET``, else ``default_socket_path()``.
    The server must run as this user or as root (the kernel says who listens:
    ``SO_PEERCRED``), or as ``trust_server_uid``; otherwise ``Unavailable`` is raised.
    Calls are thread-safe (one at a time on the connection). ``timeout`` (seconds)
    bounds each call: the server answers ``DEADLINE_EXCEEDED`` when it passes, and the
    run goes on. Failures raise a subclass of ``ResumableError``. Streams (``watch``,
    ``connect_worker``) each open a connection of their own, closed with the iterator.
    """

    def __init__(self, socket_path=None, timeout=None, trust_server_uid=None):
        self.socket_path = wire.resolve_socket_path(socket_path)
        self.timeout = timeout
        self.trust_server_uid = trust_server_uid
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._connection = _Connection(self.socket_path, trust_server_uid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._connection.close()

    def watch(self, workflow_id):
        """Iterates over a run as it goes: a ``WatchUpdate`` with the run's ``state`` first,
        then one per ``event`` as it happens, the last with the final ``state`` too; it ends
        when the run ends (COMPLETED, FAILED, CANCELLED or AWAITING_APPROVAL). Returns a
        ``Stream`` (an iterator with ``close()``)."""
        return self._stream("WatchWorkflow", watch_request(workflow_id), pb2.WatchWorkflowResponse,
                            lambda message: WatchUpdate.from_proto(pb2, message))

    def connect_worker(self, tasks, slots, name=""):
        """A worker's task feed, low level (``Worker`` is the high-level way): a ``Stream`` of
        ``FeedFrame``s, the first with the ``worker_id``, then ``task``s to answer with
        ``complete_task``/``fail_task`` and cancellations. ``close()`` (from any thread)
        disconnects the worker: its tasks in flight fail as retryable."""
        return worker_feed(self.socket_path, tasks, slots, name, self.trust_server_uid)

    # -- the wire ----------------------------------------------------------------------

    def _unary(self, call, timeout):
        timeout = self.timeout if timeout is None else timeout
        request_id = next(self._ids)
        with self._lock:
            self._connection.send(wire.encode_request(request_id, call.method, call.request, timeout))
            reply = self._connection.read()
        if reply.request_id != request_id:
            raise wire.errors.Internal(f"answer for request {reply.request_id}, expected {request_id}")
        return call.convert(wire.decode_reply(reply, call.response_type))

    def _chain(self, call, then, timeout):
        return self._unary(then(self._unary(call, timeout)), timeout)

    def _stream(self, method, request, response_type, convert):
        return _open_stream(self.socket_path, self.trust_server_uid, method, request,
                            lambda connection: Stream(connection, response_type, convert))


def worker_feed(socket_path, tasks, slots, name="", trust_server_uid=None):
    """``Client.connect_worker``'s feed (a ``WorkerFeed``), on a connection of its own, without
    a client's."""
    return _open_stream(socket_path, trust_server_uid, "ConnectWorker", connect_worker_request(tasks, slots, name),
                        WorkerFeed)


#: The request id of the call a stream's connection was opened for.
_STREAM_ID = 1


def _open_stream(socket_path, trust_server_uid, method, request, make):
    """``make(connection)`` (a ``Stream``), on a new connection on which the call is sent."""
    connection = _Connection(socket_path, trust_server_uid)
    try:
        connection.send(wire.encode_request(_STREAM_ID, method, request))
    except BaseException:
        connection.close()
        raise
    return make(connection)


class Stream:
    """A server stream on a connection of its own: iterate over it (it ends with the call);
    ``close()``, from any thread, ends it and its connection. A context manager."""

    def __init__(self, connection, response_type, convert):
        self._connection = connection
        self._response_type = response_type
        self._convert = convert
        self._ended = False

    def __iter__(self):
        return self

    def __next__(self):
        while not self._ended:
            try:
                message, self._ended = wire.decode_stream_frame(self._read(), self._response_type)
            except BaseException:
                self.close()
                raise
            if self._ended:
                self.close()
            if message is not None:
                return self._convert(message)
        raise StopIteration

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Ends the stream (a worker's feed: disconnects the worker)."""
        self._ended = True
        self._connection.close()

    def _read(self):
        """The stream's next envelope."""
        return self._connection.read()


class WorkerFeed(Stream):
    """A worker's feed (``ConnectWorker``): a ``Stream`` of ``FeedFrame``s, on whose
    connection the worker also answers its tasks.

    ``post(call, on_reply)`` sends a unary call (a ``CompleteTask``, a ``FailTask``) on the
    feed's connection, from any thread, without waiting for its reply: the thread iterating
    the feed reads the reply and calls ``on_reply(error)`` with the ``ResumableError`` it
    carries, or None (the call is taken). An answer sent there reaches the server on the
    connection whose event loop drives the run (no hop between the server's threads), and no
    thread waits for its reply.
    """

    def __init__(self, connection):
        super().__init__(connection, pb2.ConnectWorkerResponse, lambda message: FeedFrame.from_proto(pb2, message))
        self._ids = itertools.count(_STREAM_ID + 1)
        self._sending = threading.Lock()
        self._awaiting = {}  # request id -> on_reply

    @property
    def awaiting_replies(self):
        """How many posted calls have had no reply yet."""
        return len(self._awaiting)

    def post(self, call, on_reply):
        """Sends ``call`` (see the class); raises ``ConnectionClosed`` once the feed is closed."""
        with self._sending:
            request_id = next(self._ids)
            self._awaiting[request_id] = on_reply
            try:
                self._connection.send(wire.encode_request(request_id, call.method, call.request))
            except BaseException:
                del self._awaiting[request_id]
                raise

    def _read(self):
        while True:
            reply = self._connection.read()
            if reply.request_id == _STREAM_ID:
                return reply
            on_reply = self._awaiting.pop(reply.request_id, None)
            if on_reply is not None:
                on_reply(wire.reply_error(reply))
