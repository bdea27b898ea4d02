"""The asyncio client: the same methods as ``Client`` (``calls.Methods``), awaited.

One connection carries any number of concurrent calls (pipelined: a reader task hands each
answer to the call with its ``request_id``); each stream opens a connection of its own.
"""

import asyncio
import itertools

from . import errors, wire
from .calls import Methods, connect_worker_request, watch_request
from .state import FeedFrame, WatchUpdate
from .wire import pb2


class _AsyncConnection:
    """One asyncio connection to the server; answers are routed to their callers by request id."""

    def __init__(self, socket_path, reader, writer):
        self.socket_path = socket_path
        self._reader = reader
        self._writer = writer
        self._waiting = {}  # request id -> asyncio.Queue of envelopes (or the error that ended the connection)
        self._ended = None
        self._ids = itertools.count(1)
        self._reading = asyncio.get_running_loop().create_task(self._read_all())

    @classmethod
    async def open(cls, socket_path, trust_server_uid):
        wire.check_socket_directory(socket_path)
        try:
            reader, writer = await asyncio.open_unix_connection(socket_path)
        except OSError as error:
            raise wire.unreachable(socket_path, error) from error
        try:
            wire.check_peer(writer.get_extra_info("socket"), socket_path, trust_server_uid)
        except BaseException:
            writer.close()
            raise
        return cls(socket_path, reader, writer)

    @property
    def closed(self):
        return self._ended is not None

    async def _read_all(self):
        try:
            while True:
                length = wire.frame_length(await self._reader.readexactly(wire.HEADER.size))
                reply = wire.decode_envelope(await self._reader.readexactly(length))
                queue = self._waiting.get(reply.request_id)
                if queue is not None:
                    queue.put_nowait(reply)
                # else: an answer for a call its caller gave up on (cancelled): dropped
        except asyncio.CancelledError:
            self._end(wire.closed(self.socket_path, "the client closed it"))
        except (asyncio.IncompleteReadError, OSError) as error:
            self._end(wire.closed(self.socket_path, error if isinstance(error, OSError) else None))
        except errors.ResumableError as error:
            self._end(error)

    def _end(self, error):
        self._ended = error
        for queue in self._waiting.values():
            queue.put_nowait(error)
        self._writer.close()

    async def _send(self, method, request, timeout):
        if self._ended is not None:
            raise self._ended
        request_id = next(self._ids)
        queue = asyncio.Queue()
        self._waiting[request_id] = queue
        try:
            self._writer.write(wire.encode_request(request_id, method, request, timeout))
            await self._writer.drain()
        except OSError as error:
            del self._waiting[request_id]
            raise wire.closed(self.socket_path, error) from error
        return request_id, queue

    async def _next(self, queue):
        reply = await queue.get()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def unary(self, method, request, response_type, timeout):
        request_id, queue = await self._send(method, request, timeout)
        try:
            return wire.decode_reply(await self._next(queue), response_type)
        finally:
            self._waiting.pop(request_id, None)

    async def stream(self, method, request, response_type):
        request_id, queue = await self._send(method, request, None)
        try:
            while True:
                message, ended = wire.decode_stream_frame(await self._next(queue), response_type)
                if message is not None:
                    yield message
                if ended:
                    return
        finally:
            self._waiting.pop(request_id, None)

    async def close(self):
        self._reading.cancel()
        try:
            await self._reading
        except asyncio.CancelledError:
            pass
        try:
            await self._writer.wait_closed()
        except OSError:
            pass


class AsyncClient(Methods):
    """An asyncio connection to a ``resumable serve`` sidecar: every method of ``Client``, as
    a coroutine (``await client.start(...)``), and ``watch``/``connect_worker`` as async
    iterators.

    The connection opens on ``async with AsyncClient(...)``, on ``await client.connect()``,
    or on the first call. Calls may run concurrently (they are pipelined on the one
    connection). Arguments, results and errors are ``Client``'s.
    """

    def __init__(self, socket_path=None, timeout=None, trust_server_uid=None):
        self.socket_path = wire.resolve_socket_path(socket_path)
        self.timeout = timeout
        self.trust_server_uid = trust_server_uid
        self._connection = None
        self._opening = None

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def connect(self):
        """Opens the connection (raises ``Unavailable`` when the server cannot be reached)."""
        await self._open()
        return self

    async def close(self):
        """Closes the connection; calls waiting for an answer raise ``ConnectionClosed``."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def watch(self, workflow_id):
        """Iterates (``async for``) over a run as it goes: see ``Client.watch``."""
        connection = await _AsyncConnection.open(self.socket_path, self.trust_server_uid)
        try:
            async for message in connection.stream("WatchWorkflow", watch_request(workflow_id), pb2.WatchWorkflowResponse):
                yield WatchUpdate.from_proto(pb2, message)
        finally:
            await connection.close()

    async def connect_worker(self, tasks, slots, name=""):
        """A worker's task feed (``async for``), on a connection of its own: see
        ``Client.connect_worker``. Closing the iterator disconnects the worker."""
        connection = await _AsyncConnection.open(self.socket_path, self.trust_server_uid)
        try:
            request = connect_worker_request(tasks, slots, name)
            async for message in connection.stream("ConnectWorker", request, pb2.ConnectWorkerResponse):
                yield FeedFrame.from_proto(pb2, message)
        finally:
            await connection.close()

    # -- the wire ----------------------------------------------------------------------

    async def _open(self):
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if self._opening is None:
            self._opening = asyncio.ensure_future(_AsyncConnection.open(self.socket_path, self.trust_server_uid))
        try:
            self._connection = await asyncio.shield(self._opening)
        finally:
            self._opening = None
        return self._connection

    async def _unary(self, call, timeout):
        timeout = self.timeout if timeout is None else timeout
        connection = await self._open()
        response = await connection.unary(call.method, call.request, call.response_type, timeout)
        return call.convert(response)

    async def _chain(self, call, then, timeout):
        return await self._unary(then(await self._unary(call, timeout)), timeout)
