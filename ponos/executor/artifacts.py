"""Turning a DeployArtifact request into a performer spec.

For `process` performers an artifact is content-addressed: `registry_url` names a local
executable (or a Python file) and `digest` is `sha256:<hex>` of its bytes. The file is
verified and copied into the executor's artifact store under its digest, and the copy is what
runs, so later changes to the original path cannot change a deployed performer. For `docker`
performers `registry_url@digest` is the image reference.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
from pathlib import Path

from ponos.executor.errors import InvalidArgument
from ponos.executor.performers.spec import EnvVar, PerformerSpec, Runtime

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def store_process_artifact(source: str, digest: str, artifact_dir: Path) -> Path:
    """Verify `source` against `digest` and copy it into the store; blocking (run in a thread)."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise InvalidArgument(f"registry_url {source}: no such artifact file on this executor")
    actual = sha256_file(path)
    if actual != digest:
        raise InvalidArgument(
            f"digest mismatch for {source}: the file has {actual}, the request says {digest}"
        )
    artifact_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    target = artifact_dir / digest.replace(":", "-")
    if path.suffix == ".py":
        target = target.with_suffix(".py")
    if not target.exists():
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        os.chmod(partial, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP)
        os.replace(partial, target)
    if sha256_file(target) != digest:  # a corrupted store entry is never run
        target.unlink()
        raise InvalidArgument(f"stored artifact for {digest} was corrupt; retry the deploy")
    return target


def process_command(artifact: Path) -> tuple[str, ...]:
    if artifact.suffix == ".py":
        return (sys.executable, str(artifact))
    return (str(artifact),)


def choose_runtime(registry_url: str, configured: Runtime | None) -> Runtime:
    """The AVS's configured runtime, else a local file means process, anything else docker."""
    if configured is not None:
        return configured
    return "process" if Path(registry_url).expanduser().is_file() else "docker"


def env_from_request(env) -> tuple[EnvVar, ...]:
    result = []
    for i, item in enumerate(env):
        if not item.name:
            raise InvalidArgument(f"env[{i}].name is required")
        result.append(EnvVar(item.name, item.value, item.value_from_env or None))
    return tuple(result)


def docker_spec(
    avs: str,
    registry_url: str,
    digest: str,
    env: tuple[EnvVar, ...],
    base: PerformerSpec | None,
    network_name: str | None,
) -> PerformerSpec:
    return PerformerSpec(
        avs_address=avs,
        runtime="docker",
        image=f"{registry_url}@{digest}",
        artifact_registry=registry_url,
        artifact_digest=digest,
        env=env,
        network_name=network_name,
        health_interval=base.health_interval if base else 5.0,
        startup_timeout=base.startup_timeout if base else 60.0,
    )


def process_spec(
    avs: str,
    registry_url: str,
    digest: str,
    artifact: Path,
    env: tuple[EnvVar, ...],
    base: PerformerSpec | None,
) -> PerformerSpec:
    return PerformerSpec(
        avs_address=avs,
        runtime="process",
        command=process_command(artifact),
        artifact_registry=registry_url,
        artifact_digest=digest,
        env=env,
        health_interval=base.health_interval if base else 5.0,
        startup_timeout=base.startup_timeout if base else 60.0,
    )
