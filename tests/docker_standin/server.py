"""The gRPC side of the stand-in: the ``ResourceProvider`` service the engine calls.

It decodes requests, hands them to the resource handler of the type token, and turns
every failure into a gRPC status at one place. Expected failures use a code the engine
treats as recoverable, so no operation is left pending in the state; a container that
exists but is not ready is reported with ``ErrorResourceInitFailed`` details.

Log lines go to the engine's ``Log`` service: debug for each call, info for each
change made in Docker, warning for drift found by a refresh. Property values are never
logged: upload contents carry secrets.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar

import docker
import grpc
from docker.errors import DockerException
from docker.utils import kwargs_from_env
from google.protobuf import any_pb2, empty_pb2
from google.rpc import status_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    plugin_pb2,
    provider_pb2,
    provider_pb2_grpc,
)

from . import PLUGIN_VERSION
from .base import DiffPlan, ResourceHandler, ResourceInitError, StandinError
from .container import ContainerHandler
from .image import RemoteImageHandler
from .network import NetworkHandler
from .volume import VolumeHandler
from .wire import Props, dict_to_struct, is_secret, struct_to_dict

BANNER = (
    "pulumi-resource-docker: TEST STAND-IN from tests/docker_standin, not the real "
    f"pulumi-docker {PLUGIN_VERSION} plugin. It serves only the fields this project's "
    "end-to-end tests use and never pulls images. Users never run it."
)

DOCKER_TIMEOUT_SECONDS = 120
"""How long one Docker API request may take, in seconds."""

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
]
"""Room for large property maps, as the engine allows."""

_Response = TypeVar("_Response")


class DockerClients:
    """Makes one docker-py client per call, all at the API version found first.

    A client per call keeps concurrent calls apart; the version is asked once.
    """

    def __init__(self) -> None:
        """Start with the environment's Docker host (``DOCKER_HOST`` or the socket)."""
        self._host: str | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def configure(self, host: str | None) -> None:
        """Use the provider's ``host`` setting, when the program gives one."""
        self._host = host or None

    def client(self) -> docker.APIClient:
        """A new low-level client; close it (it is a context manager) after use."""
        settings: dict[str, Any] = kwargs_from_env()
        if self._host:
            settings["base_url"] = self._host
        with self._lock:
            if self._version is None:
                with docker.APIClient(**settings, version="auto") as probe:
                    self._version = probe.api_version
        return docker.APIClient(
            **settings, version=self._version, timeout=DOCKER_TIMEOUT_SECONDS
        )


class EngineLog:
    """Sends log lines to the engine, or to stderr when it cannot be reached."""

    def __init__(self, address: str | None) -> None:
        """Connect to the engine's ``Log`` service.

        Args:
            address: The engine address the plugin was started with, if any.
        """
        self._stub = None
        if address:
            channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
            self._stub = engine_pb2_grpc.EngineStub(channel)

    def debug(self, urn: str, message: str) -> None:
        """Log wire traffic."""
        self._send(engine_pb2.DEBUG, urn, message)

    def info(self, urn: str, message: str) -> None:
        """Log a change made in Docker."""
        self._send(engine_pb2.INFO, urn, message)

    def warning(self, urn: str, message: str) -> None:
        """Log drift found in Docker."""
        self._send(engine_pb2.WARNING, urn, message)

    def _send(self, severity: Any, urn: str, message: str) -> None:
        if self._stub is not None:
            request = engine_pb2.LogRequest(severity=severity, message=message, urn=urn)
            try:
                self._stub.Log(request, timeout=10)
                return
            except grpc.RpcError:
                pass
        print(f"[docker stand-in] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _AbortStatus:
    """A gRPC status with rich details, shaped as ``abort_with_status`` reads it."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


def init_failed_status(error: ResourceInitError, inputs: Props) -> _AbortStatus:
    """The status that tells the engine an object exists but failed to initialize.

    Args:
        error: The failure, with the object's id and outputs.
        inputs: The inputs it was created from.

    Returns:
        A status carrying ``ErrorResourceInitFailed`` in its details.
    """
    detail = provider_pb2.ErrorResourceInitFailed(
        id=error.resource_id,
        properties=dict_to_struct(error.outputs),
        reasons=[str(error)],
        inputs=dict_to_struct(inputs),
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    code = grpc.StatusCode.UNKNOWN
    rich = status_pb2.Status(code=code.value[0], message=str(error), details=[packed])
    metadata = (("grpc-status-details-bin", rich.SerializeToString()),)
    return _AbortStatus(code, str(error), metadata)


def _translated(
    method: Callable[[Any, Any, grpc.ServicerContext], _Response],
) -> Callable[[Any, Any, grpc.ServicerContext], _Response]:
    """Turn every failure of a provider call into a gRPC status, in one place."""

    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> _Response:
        try:
            return method(self, request, context)
        except ResourceInitError as exc:
            inputs = struct_to_dict(getattr(request, "properties", None))
            context.abort_with_status(init_failed_status(exc, inputs))
        except StandinError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except DockerException as exc:
            message = f"the Docker engine refused the request: {exc}"
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, message)
        except Exception:  # anything else is a stand-in bug: show its trace
            message = f"pulumi-docker test stand-in failed:\n{traceback.format_exc()}"
            context.abort(grpc.StatusCode.UNKNOWN, message)
        raise AssertionError("abort returned")  # pragma: no cover

    return call


def resource_type(urn: str) -> str:
    """The type token inside a URN (``urn:pulumi:stack::project::type::name``)."""
    qualified_type = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return qualified_type.rsplit("$", 1)[-1]


def display_name(props: Props) -> str:
    """The object's name for log lines, hidden when it is a secret."""
    name = props.get("name")
    return "[secret]" if is_secret(name) else repr(name)


def detailed_diff(
    plan: DiffPlan, olds: Props, news: Props
) -> dict[str, provider_pb2.PropertyDiff]:
    """Per-field change kinds for the engine's display of a diff."""
    kinds = provider_pb2.PropertyDiff
    detailed = {}
    for name in plan.changed:
        replace = name in plan.replaces
        if name not in olds:
            kind = kinds.ADD_REPLACE if replace else kinds.ADD
        elif name not in news:
            kind = kinds.DELETE_REPLACE if replace else kinds.DELETE
        else:
            kind = kinds.UPDATE_REPLACE if replace else kinds.UPDATE
        detailed[name] = kinds(kind=kind, inputDiff=False)
    return detailed


class StandinProvider(provider_pb2_grpc.ResourceProviderServicer):
    """The ``ResourceProvider`` service of the test stand-in."""

    def __init__(self, log: EngineLog, clients: DockerClients) -> None:
        """Register the four implemented resource types.

        Args:
            log: Where log lines go.
            clients: The source of Docker clients.
        """
        self._log = log
        self._clients = clients
        self._cancelled = threading.Event()
        handlers: list[ResourceHandler] = [
            NetworkHandler(),
            VolumeHandler(),
            RemoteImageHandler(),
            ContainerHandler(self._cancelled),
        ]
        self._handlers = {handler.token: handler for handler in handlers}

    def _handler(self, request: Any) -> ResourceHandler:
        token = getattr(request, "type", "") or resource_type(request.urn)
        handler = self._handlers.get(token)
        if handler is None:
            raise StandinError(
                f"resource type {token!r} is not implemented by the pulumi-docker test "
                f"stand-in; it implements {sorted(self._handlers)}."
            )
        return handler

    def GetPluginInfo(self, request: Any, context: Any) -> plugin_pb2.PluginInfo:  # noqa: N802
        """Report the pulumi-docker version the SDK asks for."""
        return plugin_pb2.PluginInfo(version=PLUGIN_VERSION)

    def GetSchema(self, request: Any, context: Any) -> provider_pb2.GetSchemaResponse:  # noqa: N802
        """Answer a minimal package schema; the stand-in has no generated SDK."""
        schema = {"name": "docker", "version": PLUGIN_VERSION}
        return provider_pb2.GetSchemaResponse(schema=json.dumps(schema))

    def CheckConfig(self, request: Any, context: Any) -> provider_pb2.CheckResponse:  # noqa: N802
        """Accept any provider configuration as it is."""
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> provider_pb2.DiffResponse:  # noqa: N802
        """Report a changed provider configuration as an update, never a replace."""
        olds, news = struct_to_dict(request.olds), struct_to_dict(request.news)
        olds.pop("version", None)
        news.pop("version", None)
        changes = provider_pb2.DiffResponse.DIFF_NONE
        if olds != news:
            changes = provider_pb2.DiffResponse.DIFF_SOME
        return provider_pb2.DiffResponse(changes=changes)

    def Configure(self, request: Any, context: Any) -> provider_pb2.ConfigureResponse:  # noqa: N802
        """Take the Docker host setting; ask for secrets wrapped and for previews."""
        args = struct_to_dict(request.args)
        host = args.get("host") or request.variables.get("docker:config:host")
        self._clients.configure(host if isinstance(host, str) else None)
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True,
            supportsPreview=True,
            acceptResources=False,
            acceptOutputs=False,
        )

    @_translated
    def Check(self, request: Any, context: Any) -> provider_pb2.CheckResponse:  # noqa: N802
        """Fill defaults and refuse what the stand-in does not implement."""
        handler = self._handler(request)
        name = request.name or request.urn.rsplit("::", 1)[-1]
        olds, news = struct_to_dict(request.olds), struct_to_dict(request.news)
        inputs, failures = handler.check(name, olds, news, request.randomSeed)
        self._log.debug(request.urn, f"Check: {len(failures)} failure(s)")
        return provider_pb2.CheckResponse(
            inputs=dict_to_struct(inputs),
            failures=[
                provider_pb2.CheckFailure(property=f.property, reason=f.reason)
                for f in failures
            ],
        )

    @_translated
    def Diff(self, request: Any, context: Any) -> provider_pb2.DiffResponse:  # noqa: N802
        """Compare stored outputs with new inputs using the resource's field table."""
        handler = self._handler(request)
        olds, news = struct_to_dict(request.olds), struct_to_dict(request.news)
        plan = handler.diff(olds, news)
        self._log.debug(
            request.urn, f"Diff: changed {plan.changed}, replaces {plan.replaces}"
        )
        changes = provider_pb2.DiffResponse
        return provider_pb2.DiffResponse(
            changes=changes.DIFF_SOME if plan.changed else changes.DIFF_NONE,
            replaces=plan.replaces,
            diffs=plan.changed,
            deleteBeforeReplace=plan.delete_before_replace,
            detailedDiff=detailed_diff(plan, olds, news),
            hasDetailedDiff=True,
        )

    @_translated
    def Create(self, request: Any, context: Any) -> provider_pb2.CreateResponse:  # noqa: N802
        """Create the object, or only predict its outputs in a preview."""
        handler = self._handler(request)
        props = struct_to_dict(request.properties)
        if request.preview:
            outputs = handler.preview(props)
            return provider_pb2.CreateResponse(properties=dict_to_struct(outputs))
        with self._clients.client() as api:
            resource_id, outputs = handler.create(api, props)
        self._log.info(
            request.urn, f"created {display_name(props)} (id {resource_id[:19]})"
        )
        return provider_pb2.CreateResponse(
            id=resource_id, properties=dict_to_struct(outputs)
        )

    @_translated
    def Read(self, request: Any, context: Any) -> provider_pb2.ReadResponse:  # noqa: N802
        """Refresh: report the object gone (empty id) or its outputs."""
        handler = self._handler(request)
        outputs = struct_to_dict(request.properties)
        with self._clients.client() as api:
            found = handler.read(api, request.id, outputs)
        if found is None:
            self._log.warning(request.urn, f"{request.id[:19]} is gone from Docker")
            return provider_pb2.ReadResponse(id="")
        resource_id, refreshed = found
        if refreshed != outputs:
            changed = sorted(k for k in refreshed if refreshed[k] != outputs.get(k))
            self._log.warning(request.urn, f"drift in Docker: {changed}")
        inputs = struct_to_dict(request.inputs) or {
            spec.name: refreshed[spec.name]
            for spec in handler.fields
            if spec.name in refreshed
        }
        return provider_pb2.ReadResponse(
            id=resource_id,
            properties=dict_to_struct(refreshed),
            inputs=dict_to_struct(inputs),
        )

    @_translated
    def Update(self, request: Any, context: Any) -> provider_pb2.UpdateResponse:  # noqa: N802
        """Apply the in-place changes; stored-only fields just enter the outputs."""
        handler = self._handler(request)
        olds, news = struct_to_dict(request.olds), struct_to_dict(request.news)
        if request.preview:
            outputs = handler.merge_outputs(olds, news)
            return provider_pb2.UpdateResponse(properties=dict_to_struct(outputs))
        with self._clients.client() as api:
            outputs = handler.update(api, request.id, olds, news)
        self._log.info(request.urn, f"updated {display_name(news)} in place")
        return provider_pb2.UpdateResponse(properties=dict_to_struct(outputs))

    @_translated
    def Delete(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802
        """Remove the object; one already gone counts as removed."""
        handler = self._handler(request)
        outputs = struct_to_dict(request.properties)
        with self._clients.client() as api:
            removed = handler.delete(api, request.id, outputs)
        if removed:
            self._log.info(request.urn, f"deleted {display_name(outputs)}")
        else:
            self._log.info(request.urn, f"left {display_name(outputs)}: gone or kept")
        return empty_pb2.Empty()

    def Cancel(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802
        """Stop any health wait in progress."""
        self._cancelled.set()
        return empty_pb2.Empty()


def serve(engine_address: str | None) -> None:
    """Serve the provider on a free loopback port until the engine stops the process.

    The port is printed alone on stdout, which is how the engine finds it. The banner
    goes to stderr (the engine keeps it as debug output) and to the engine's log as an
    info line, which every ``up`` shows.

    Args:
        engine_address: The engine's gRPC address, for log lines.
    """
    print(BANNER, file=sys.stderr, flush=True)
    log = EngineLog(engine_address)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16), options=GRPC_OPTIONS
    )
    provider = StandinProvider(log, DockerClients())
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    log.info("", BANNER)
    server.wait_for_termination()
