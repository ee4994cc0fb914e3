"""Docker performers: one container per performer, through the Docker Engine API.

As the Go original's container performer (ponos-executor.md §3.2): the image is `repo:tag` or
`repo@digest`, the environment comes from the spec, the performer listens on container port
8080, and the network is one of:

- a named network (`performerNetworkName`): created if missing (bridge driver, inter-container
  traffic on); the endpoint is `<container name>:8080`, for an executor on the same network;
- `host`: the host's network stack; the executor picks a free port, passes it in
  PERFORMER_PORT/PORT and reaches the performer at `127.0.0.1:<port>` (engines without a bridge,
  such as the project-local test engine);
- none: container port 8080 is published on 127.0.0.1 with a host port the engine picks; the
  endpoint is `127.0.0.1:<host port>`.

Go quirks fixed: an image present locally is never pulled, digest references included (Go
compared only RepoTags, so it re-pulled `repo@digest` every time); the container name derives
from the performer id (Go used the AVS and the Unix second, so two creates in one second
collided); containers are not auto-removed, so a crashed one keeps its exit code and output for
the operator and is restarted in place, and recreated only when it is gone.

Every Docker SDK call blocks, so each one runs in a thread: the event loop never waits on Docker.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import kwargs_from_env

from ponos import log
from ponos.devnet.anvil import free_port
from ponos.executor.performers.base import PerformerRuntime
from ponos.executor.performers.errors import DeploymentFailed, RuntimeUnavailable

logger = log.get_logger(__name__)

CONTAINER_PORT = 8080
STOP_TIMEOUT = 10
API_TIMEOUT = 60
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
HOST_NETWORK = "host"
LABEL_PERFORMER = "ponos.performer_id"
LABEL_AVS = "ponos.avs"
LABEL_PORT = "ponos.port"  # host networking: the port the performer was told to listen on
_PORT_KEY = f"{CONTAINER_PORT}/tcp"
_ENGINE_ERRORS = (DockerException, requests.RequestException, OSError)
_OUTPUT_LINES = 3


# -- pure decisions -------------------------------------------------------------------------------


def container_name(avs_address: str, performer_id: str) -> str:
    """`avs-performer-<AVS hash>-<performer hash>`: stable for a performer, unique between them."""
    avs = hashlib.sha256(avs_address.lower().encode()).hexdigest()[:6]
    performer = hashlib.sha256(performer_id.encode()).hexdigest()[:12]
    return f"avs-performer-{avs}-{performer}"


def network_choice(network_name: str | None) -> str | None:
    """HOST_NETWORK, a network name, or None for a published port on the default network."""
    if not network_name or network_name in ("bridge", "default"):
        return None
    if network_name == "none":
        raise DeploymentFailed(
            "performer network 'none' leaves the performer unreachable",
            hint="leave performerNetworkName empty, or set it to 'host' or a network name",
        )
    return network_name


def endpoint_from_inspect(attrs: dict[str, Any]) -> str | None:
    """Where the executor reaches the container described by `docker inspect` data."""
    config = attrs.get("Config") or {}
    labels = config.get("Labels") or {}
    mode = (attrs.get("HostConfig") or {}).get("NetworkMode") or ""
    if mode == HOST_NETWORK:
        port = labels.get(LABEL_PORT, "")
        return f"127.0.0.1:{port}" if port.isdigit() else None
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(_PORT_KEY) or []:
        if binding.get("HostPort"):
            host = binding.get("HostIp") or "127.0.0.1"
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            return f"{host}:{binding['HostPort']}"
    if mode not in ("", "default", "bridge", "none") and not mode.startswith("container:"):
        return f"{attrs.get('Name', '').lstrip('/')}:{CONTAINER_PORT}"
    return None


def describe_exit(name: str, state: dict[str, Any], output: str) -> str:
    """An operator's summary of a container that is not running."""
    status = state.get("Status") or "unknown"
    text = f"container {name} is {status}"
    if status in ("exited", "dead"):
        text += f", exit code {state.get('ExitCode')}"
    if state.get("OOMKilled"):
        text += ", killed for lack of memory"
    if state.get("Error"):
        text += f", {state['Error']}"
    lines = [line.strip() for line in output.splitlines() if line.strip()][-_OUTPUT_LINES:]
    if lines:
        text += "; last output: " + " | ".join(lines)[-300:]
    return text


# -- the engine connection ------------------------------------------------------------------------

_clients: dict[tuple[str, ...], docker.DockerClient] = {}
_clients_lock = threading.Lock()


def resolve_docker_host(context_docker_host: str | None, environ: dict[str, str]) -> str:
    """The engine to use: the executor's setting, else DOCKER_HOST, else the default socket."""
    return context_docker_host or environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _reason(exc: BaseException) -> str:
    """The innermost OS-level cause (e.g. "No such file or directory"), else the message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, OSError) and arg.strerror:
                return arg.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc)[:200]


def connect(host: str, environ: dict[str, str]) -> docker.DockerClient:
    """A client for the engine at host (shared per engine); blocking, so call it in a thread."""
    env = {**environ, "DOCKER_HOST": host}
    key = (host, env.get("DOCKER_TLS_VERIFY", ""), env.get("DOCKER_CERT_PATH", ""))
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            return client
        try:
            client = docker.DockerClient(timeout=API_TIMEOUT, **kwargs_from_env(environment=env))
            client.ping()
        except _ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(
                f"no Docker engine reachable at DOCKER_HOST={host} ({_reason(exc)})",
                hint="start one (`make docker-engine` runs a project-local engine) "
                "or point DOCKER_HOST at a running engine",
            ) from None
        _clients[key] = client
        return client


# -- the runtime ----------------------------------------------------------------------------------


class DockerRuntime(PerformerRuntime):
    kind = "docker"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.container_name = container_name(self.spec.avs_address, self.performer_id)
        self.docker_host = resolve_docker_host(self.context.docker_host, self.context.environ)
        self._failure = ""
        self._failure_mark: tuple[str, str | None] | None = None

    def _client(self) -> docker.DockerClient:
        return connect(self.docker_host, self.context.environ)

    # -- lifecycle (each public method hands its blocking body to a thread) ---------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    async def adopt(self, resource_id: str, endpoint: str) -> bool:
        return await asyncio.to_thread(self._adopt, resource_id, endpoint)

    async def is_alive(self) -> bool:
        if not self.resource_id:
            return False
        return await asyncio.to_thread(self._is_running)

    async def stop(self, timeout: float = float(STOP_TIMEOUT)) -> None:
        if self.resource_id:
            await asyncio.to_thread(self._stop, timeout)

    async def restart(self) -> None:
        await asyncio.to_thread(self._restart)

    def describe_failure(self) -> str:
        return self._failure or f"container {self.container_name}; see `docker logs`"

    # -- blocking bodies --------------------------------------------------------------------------

    def _start(self) -> None:
        image = self.spec.image
        if not image:
            raise DeploymentFailed("docker performer has no image")
        network = network_choice(self.spec.network_name)
        client = self._client()
        self._ensure_image(client, image)
        if network is None:
            self._require_default_bridge(client)
        elif network != HOST_NETWORK:
            self._ensure_network(client, network)
        port = free_port() if network == HOST_NETWORK else CONTAINER_PORT
        options = self._create_options(image, network, port)
        container = self._create(client, options)
        self.resource_id = container.id
        self._failure = ""
        try:
            container.start()
            attrs = client.api.inspect_container(container.id)
        except _ENGINE_ERRORS as exc:
            self._remove_quietly(client, container.id)
            raise DeploymentFailed(
                f"cannot start container {self.container_name} from {image}: {_reason(exc)}"
            ) from None
        if not attrs["State"].get("Running"):
            self._failure = describe_exit(self.container_name, attrs["State"], self._output(client))
            raise DeploymentFailed(f"performer {self.performer_id} stopped: {self._failure}")
        endpoint = endpoint_from_inspect(attrs)
        if endpoint is None:
            raise DeploymentFailed(
                f"container {self.container_name} has no reachable address for port "
                f"{CONTAINER_PORT}"
            )
        self.endpoint = endpoint
        logger.info(
            "Started docker performer",
            performer_id=self.performer_id,
            container=self.container_name,
            container_id=container.id[:12],
            image=image,
            endpoint=endpoint,
        )

    def _create_options(self, image: str, network: str | None, port: int) -> dict[str, Any]:
        environment = self.spec.resolved_env(self.context.environ)
        environment.update(
            PERFORMER_PORT=str(port),
            PORT=str(port),
            AVS_ADDRESS=self.spec.avs_address,
            PERFORMER_ID=self.performer_id,
        )
        labels = {LABEL_PERFORMER: self.performer_id, LABEL_AVS: self.spec.avs_address.lower()}
        options: dict[str, Any] = {
            "image": image,
            "name": self.container_name,
            "environment": environment,
            "labels": labels,
            "detach": True,
            # The executor restarts performers itself, with backoff and health checks.
            "restart_policy": {"Name": "no"},
        }
        if self.spec.command:
            options["command"] = list(self.spec.command)
        if network == HOST_NETWORK:
            options["network_mode"] = HOST_NETWORK
            labels[LABEL_PORT] = str(port)
        elif network is not None:
            options["network"] = network
            options["hostname"] = self.container_name
        else:
            options["ports"] = {_PORT_KEY: ("127.0.0.1",)}
        return options

    def _ensure_image(self, client: docker.DockerClient, image: str) -> None:
        """Use the local image when present (tag or digest); pull only when it is absent."""
        try:
            client.images.get(image)
            return
        except ImageNotFound:
            pass
        except _ENGINE_ERRORS as exc:
            raise DeploymentFailed(f"cannot inspect docker image {image}: {_reason(exc)}") from None
        logger.info("Pulling performer image", image=image, performer_id=self.performer_id)
        try:
            client.images.pull(image)
            return
        except APIError as exc:
            detail = str(exc.explanation or exc)
        except _ENGINE_ERRORS as exc:
            detail = _reason(exc)
        raise DeploymentFailed(
            f"docker image {image} is not present on the engine and could not be pulled: {detail}",
            hint="build or load the image on the engine, or check its name and the registry",
        )

    def _require_default_bridge(self, client: docker.DockerClient) -> None:
        names = {n.name for n in client.networks.list(names=["bridge"])}
        if "bridge" not in names:
            raise DeploymentFailed(
                "the Docker engine has no default bridge network, so no port can be published",
                hint="set performerNetworkName to 'host' or to a network name",
            )

    def _ensure_network(self, client: docker.DockerClient, name: str) -> None:
        if any(n.name == name for n in client.networks.list(names=[name])):
            return
        try:
            client.networks.create(
                name,
                driver="bridge",
                options={"com.docker.network.bridge.enable_icc": "true"},
                check_duplicate=True,
            )
            logger.info("Created performer network", network=name)
        except APIError as exc:
            if exc.status_code != 409:  # 409: another performer created it first
                raise DeploymentFailed(
                    f"cannot create docker network {name}: {exc.explanation}"
                ) from None

    def _create(self, client: docker.DockerClient, options: dict[str, Any]) -> Any:
        try:
            return client.containers.create(**options)
        except APIError as exc:
            if exc.status_code != 409 or not self._remove_stale(client):
                raise DeploymentFailed(
                    f"cannot create container {self.container_name}: {exc.explanation}"
                ) from None
        try:
            return client.containers.create(**options)
        except APIError as exc:
            raise DeploymentFailed(
                f"cannot create container {self.container_name}: {exc.explanation}"
            ) from None

    def _remove_stale(self, client: docker.DockerClient) -> bool:
        """A stopped container of this performer holds the name (left by a crashed executor)."""
        try:
            attrs = client.api.inspect_container(self.container_name)
        except NotFound:
            return True
        labels = attrs["Config"].get("Labels") or {}
        if labels.get(LABEL_PERFORMER) != self.performer_id or attrs["State"].get("Running"):
            return False
        self._remove_quietly(client, attrs["Id"])
        return True

    def _is_running(self) -> bool:
        try:
            client = self._client()
            attrs = client.api.inspect_container(self.resource_id)
        except NotFound:
            self._failure = f"container {self.container_name} is gone (removed)"
            return False
        except (RuntimeUnavailable, *_ENGINE_ERRORS) as exc:
            self._failure = f"Docker engine at {self.docker_host} did not answer: {_reason(exc)}"
            return False
        state = attrs["State"]
        if state.get("Running") and not state.get("Restarting"):
            return True
        exit_mark = (self.resource_id, state.get("FinishedAt"))
        if exit_mark != self._failure_mark:  # read the output once per exit, not once per poll
            self._failure_mark = exit_mark
            self._failure = describe_exit(self.container_name, state, self._output(client))
        return False

    def _output(self, client: docker.DockerClient) -> str:
        try:
            raw = client.api.logs(self.resource_id, stdout=True, stderr=True, tail=_OUTPUT_LINES)
        except _ENGINE_ERRORS:
            return ""
        return raw.decode(errors="replace") if isinstance(raw, bytes) else ""

    def _adopt(self, resource_id: str, endpoint: str) -> bool:
        try:
            attrs = self._client().api.inspect_container(resource_id)
        except NotFound:
            return False
        except (RuntimeUnavailable, *_ENGINE_ERRORS) as exc:
            logger.warning(
                "Cannot adopt docker performer",
                performer_id=self.performer_id,
                reason=_reason(exc),
            )
            return False
        labels = attrs["Config"].get("Labels") or {}
        if (
            labels.get(LABEL_PERFORMER) != self.performer_id
            or labels.get(LABEL_AVS) != self.spec.avs_address.lower()
            or not attrs["State"].get("Running")
            or (self.spec.image is not None and attrs["Config"].get("Image") != self.spec.image)
        ):
            return False
        found = endpoint_from_inspect(attrs)
        if found is None:
            return False
        if found != endpoint:
            logger.info(
                "Adopted performer moved",
                performer_id=self.performer_id,
                stored=endpoint,
                endpoint=found,
            )
        self.resource_id = attrs["Id"]
        self.endpoint = found
        return True

    def _stop(self, timeout: float) -> None:
        try:
            client = self._client()
        except RuntimeUnavailable as exc:
            logger.warning("Cannot stop docker performer", performer_id=self.performer_id,
                           reason=str(exc))  # fmt: skip
            return
        try:
            client.api.stop(self.resource_id, timeout=int(timeout))
        except NotFound:
            return
        except _ENGINE_ERRORS as exc:
            logger.warning(
                "Stopping container failed; removing it by force",
                container=self.container_name,
                reason=_reason(exc),
            )
        self._remove_quietly(client, self.resource_id)

    def _remove_quietly(self, client: docker.DockerClient, container_id: str) -> None:
        try:
            # v=True: the image's VOLUME declarations made anonymous volumes; they go too.
            client.api.remove_container(container_id, v=True, force=True)
        except NotFound:
            pass
        except _ENGINE_ERRORS as exc:
            logger.warning(
                "Removing container failed", container=self.container_name, reason=_reason(exc)
            )

    def _restart(self) -> None:
        """`docker restart` in place; a container that is gone is created again."""
        client = self._client()
        if self.resource_id:
            try:
                client.api.restart(self.resource_id, timeout=STOP_TIMEOUT)
                attrs = client.api.inspect_container(self.resource_id)
                # A restart may move a published port: read the endpoint again.
                self.endpoint = endpoint_from_inspect(attrs) or self.endpoint
                self._failure = ""
                logger.info(
                    "Restarted docker performer",
                    performer_id=self.performer_id,
                    container_id=self.resource_id[:12],
                    endpoint=self.endpoint,
                )
                return
            except NotFound:
                pass
            except _ENGINE_ERRORS as exc:
                logger.warning(
                    "Restarting container failed; recreating it",
                    container=self.container_name,
                    reason=_reason(exc),
                )
                self._remove_quietly(client, self.resource_id)
        old = self.resource_id
        self._start()
        logger.info(
            "Recreated docker performer",
            performer_id=self.performer_id,
            old_container_id=old[:12],
            container_id=self.resource_id[:12],
        )
