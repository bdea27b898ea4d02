"""The client: one Unix-socket connection, length-prefixed protobuf envelopes."""

import itertools
import json
import os
import socket
import stat
import struct
import threading

from . import errors
from .state import RunState, RunSummary

try:
    from . import resumable_pb2 as pb2
except ImportError as error:  # pragma: no cover - explained to the user
    raise ImportError(
        "resumable_client.resumable_pb2 cannot be imported: install the package with "
        "`pip install ./clients/python` (it needs the protobuf package), or regenerate the module "
        "from proto/ with `make proto`"
    ) from error

SOCKET_NAME = "resumable.sock"


def default_socket_path(environ=None, uid=None):
    """``$XDG_RUNTIME_DIR/resumable.sock`` when that is set, else
    ``/tmp/resumable-UID/resumable.sock`` (UID: the effective user id), as the server's."""
    environ = os.environ if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, SOCKET_NAME)
    return os.path.join(private_directory(uid), SOCKET_NAME)


def private_directory(uid=None):
    """``/tmp/resumable-UID``: the default socket's directory without ``XDG_RUNTIME_DIR``."""
    return f"/tmp/resumable-{os.geteuid() if uid is None else uid}"


def trusts(server_uid, client_uid, trusted_server_uid=None):
    """Whether a client running as ``client_uid`` talks to a server running as
    ``server_uid``: the same user, root, or ``trusted_server_uid``."""
    return server_uid in (client_uid, 0) or (trusted_server_uid is not None and server_uid == trusted_server_uid)


def _check_socket_directory(socket_path):
    """Refuses a socket in ``/tmp/resumable-UID`` unless that directory is this user's own:
    a real directory owned by the effective uid, with no group or other bits."""
    directory = private_directory()
    if os.path.dirname(socket_path) != directory:
        return
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return  # no server there: connecting says so
    uid = os.geteuid()
    if stat.S_ISLNK(info.st_mode):
        problem = "it is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "it is not a directory"
    elif info.st_uid != uid:
        problem = f"it belongs to uid {info.st_uid}, not to you (uid {uid})"
    elif info.st_mode & 0o077:
        problem = f"its mode {info.st_mode & 0o777:o} lets other users in (it must be 700)"
    else:
        return
    raise errors.PermissionDenied(
        f"refusing the socket directory {directory}: {problem}. Remove it (or fix it: `chmod 700`, "
        "owned by you), or choose another socket path"
    )


DEFAULT_SOCKET_PATH = default_socket_path()
_HEADER = struct.Struct(">I")
_MAX_FRAME = 64 * 1024 * 1024


class Client:
    """A connection to a ``resumable serve`` sidecar.

    ``socket_path`` defaults to ``$RESUMABLE_SOCKET``, else ``default_socket_path()``.
    The server must run as this user or as root (the kernel says who listens:
    ``SO_PEERCRED``), or as ``trust_server_uid``; otherwise ``Unavailable`` is raised.
    Calls are thread-safe (one at a time on the connection). ``timeout`` (seconds)
    bounds each call: the server answers ``DEADLINE_EXCEEDED`` when it passes, and the
    run goes on. Failures raise a subclass of ``ResumableError``.
    """

    def __init__(self, socket_path=None, timeout=None, trust_server_uid=None):
        self.socket_path = socket_path or os.environ.get("RESUMABLE_SOCKET") or default_socket_path()
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        _check_socket_directory(self.socket_path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(self.socket_path)
        except OSError as error:
            self._sock.close()
            raise errors.Unavailable(
                f"cannot connect to {self.socket_path}: {error.strerror or error}; is `resumable serve` running?"
            ) from error
        _pid, server_uid, _gid = struct.unpack("3i", self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if not trusts(server_uid, os.geteuid(), trust_server_uid):
            self._sock.close()
            raise errors.Unavailable(
                f"the server on {self.socket_path} runs as uid {server_uid}, not you (uid {os.geteuid()}); "
                f"pass trust_server_uid={server_uid} if you trust it"
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._sock.close()

    # -- the methods -------------------------------------------------------------------

    def start(self, workflow, input=None, workflow_id="", wait=True, use_existing=False, timeout=None):
        """Starts a run of ``workflow`` and returns its ``RunState``.

        ``input`` is any JSON-serializable value (or a JSON string with ``input_json``
        semantics when it is ``bytes``). With ``wait`` (the default) the call returns when
        the run is COMPLETED or FAILED. A caller-chosen ``workflow_id`` makes the start
        idempotent: ``use_existing=True`` returns the existing run instead of raising
        ``AlreadyExists``.
        """
        request = pb2.StartWorkflowRequest(
            workflow=workflow,
            workflow_id=workflow_id,
            input_json=input.decode() if isinstance(input, bytes) else ("" if input is None else json.dumps(input)),
            no_wait=not wait,
            on_conflict=pb2.CONFLICT_POLICY_USE_EXISTING if use_existing else pb2.CONFLICT_POLICY_FAIL,
        )
        response = self._call("StartWorkflow", request, pb2.StartWorkflowResponse, timeout)
        return RunState.from_proto(pb2, response.state)

    def resume(self, workflow_id, wait=True, from_step="", timeout=None):
        """Resumes a run at its failed (or interrupted) step; committed steps never run again.

        ``from_step`` runs a completed or failed run again from that step instead."""
        request = pb2.ResumeWorkflowRequest(workflow_id=workflow_id, no_wait=not wait, from_step=from_step)
        response = self._call("ResumeWorkflow", request, pb2.ResumeWorkflowResponse, timeout)
        return RunState.from_proto(pb2, response.state)

    def get_state(self, workflow_id, include_artifacts=False, timeout=None):
        """Reads a run's state (with its artifacts when asked)."""
        request = pb2.GetStateRequest(workflow_id=workflow_id, include_artifacts=include_artifacts)
        response = self._call("GetState", request, pb2.GetStateResponse, timeout)
        return RunState.from_proto(pb2, response.state)

    def list(self, status=None, workflow="", limit=50, cursor="", timeout=None):
        """A page of runs, newest first: ``(summaries, next_cursor)``; ``next_cursor`` is
        ``""`` on the last page. ``status`` is a name such as ``"FAILED"``."""
        request = pb2.ListWorkflowsRequest(
            status=pb2.RunStatus.Value("RUN_STATUS_" + status) if status else pb2.RUN_STATUS_UNSPECIFIED,
            workflow=workflow,
            page_size=limit,
            cursor=cursor,
        )
        response = self._call("ListWorkflows", request, pb2.ListWorkflowsResponse, timeout)
        return [RunSummary.from_proto(pb2, run) for run in response.runs], response.next_cursor

    def cancel(self, workflow_id, reason="", timeout=None):
        """Cancels a run for good; its step in flight is stopped. Returns its ``RunState``."""
        request = pb2.CancelWorkflowRequest(workflow_id=workflow_id, reason=reason)
        response = self._call("CancelWorkflow", request, pb2.CancelWorkflowResponse, timeout)
        return RunState.from_proto(pb2, response.state)

    def approve(self, workflow_id, token=None, reject=False, note="", wait=True, timeout=None):
        """Answers the approval a run awaits (the token is read from its state unless given)."""
        if token is None:
            token = self.get_state(workflow_id, timeout=timeout).approval_token
        request = pb2.ApproveStepRequest(workflow_id=workflow_id, token=token or "", reject=reject, note=note, no_wait=not wait)
        response = self._call("ApproveStep", request, pb2.ApproveStepResponse, timeout)
        return RunState.from_proto(pb2, response.state)

    def register_workflows(self, definitions, timeout=None):
        """Registers workflows defined in code, shared by every server on the sidecar's Redis.

        ``definitions`` is a list of workflow dicts in the definitions file's schema
        (``{"name": ..., "steps": [{"name": ..., "plugin": ..., "config": {...}}, ...]}``).
        Returns a list of dicts ``{"name", "version", "changed"}``, in the order given.
        An invalid definition raises ``ResumableError`` with code ``INVALID_ARGUMENT``
        naming the workflow and the step; a name the server's file defines otherwise,
        ``ALREADY_EXISTS``.
        """
        request = pb2.RegisterWorkflowsRequest(definitions_json=json.dumps({"workflows": list(definitions)}))
        response = self._call("RegisterWorkflows", request, pb2.RegisterWorkflowsResponse, timeout)
        return [{"name": w.name, "version": w.version, "changed": w.changed} for w in response.workflows]

    def register_workflow(self, name, steps, timeout=None, **settings):
        """Registers one workflow: ``steps`` is a list of step dicts; ``settings`` are the
        workflow's other keys (``max_input_bytes``, ``history_max_messages``, ...).
        Returns ``{"name", "version", "changed"}``."""
        return self.register_workflows([dict(settings, name=name, steps=list(steps))], timeout=timeout)[0]

    def health(self, timeout=None):
        """The server's health as a dict: status, version, redis_reachable, redis_latency_us, …"""
        response = self._call("Health", pb2.HealthRequest(), pb2.HealthResponse, timeout)
        return {
            "status": response.status,
            "version": response.version,
            "redis_reachable": response.redis_reachable,
            "redis_latency_us": response.redis_latency_us,
            "redis_error": response.redis_error,
            "runs_in_flight": response.runs_in_flight,
            "uptime_ms": response.uptime_ms,
        }

    # -- the wire ----------------------------------------------------------------------

    def _call(self, method, request, response_type, timeout):
        timeout = self.timeout if timeout is None else timeout
        envelope = pb2.Envelope(
            request_id=next(self._ids),
            method=method,
            payload=request.SerializeToString(),
            timeout_ms=int(timeout * 1000) if timeout else 0,
        )
        body = envelope.SerializeToString()
        with self._lock:
            try:
                self._sock.sendall(_HEADER.pack(len(body)) + body)
                reply = self._read_envelope()
            except (ConnectionError, BrokenPipeError) as error:
                raise errors.ConnectionClosed(f"the connection to {self.socket_path} closed: {error}") from error
        if reply.request_id != envelope.request_id:
            raise errors.Internal(f"answer for request {reply.request_id}, expected {envelope.request_id}")
        if reply.status_code != pb2.STATUS_CODE_OK:
            name = pb2.StatusCode.Name(reply.status_code)[len("STATUS_CODE_"):] if reply.status_code in pb2.StatusCode.values() else "UNKNOWN"
            raise errors.error_for(name, reply.status_message, reply.status_setting)
        response = response_type()
        response.ParseFromString(reply.payload)
        return response

    def _read_envelope(self):
        (length,) = _HEADER.unpack(self._read_exactly(_HEADER.size))
        if length > _MAX_FRAME:
            raise errors.Internal(f"the server sent a frame of {length} bytes")
        envelope = pb2.Envelope()
        envelope.ParseFromString(self._read_exactly(length))
        return envelope

    def _read_exactly(self, count):
        chunks = []
        while count:
            chunk = self._sock.recv(count)
            if not chunk:
                raise errors.ConnectionClosed(f"the server at {self.socket_path} closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)
