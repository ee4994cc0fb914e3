"""What is stored about a performer is enough to rebuild exactly the spec it ran with: after
a restart, "same artifact as configured" must compare equal, or every restart would redeploy."""

from __future__ import annotations

import pytest

from ponos.config.executor import PerformerConfig
from ponos.executor.performers.instance import PerformerInfo
from ponos.executor.performers.spec import EnvVar, PerformerSpec, spec_from_config
from ponos.executor.state import spec_from_state, state_from_info

AVS = "0x" + "ab" * 20


def info_for(spec: PerformerSpec, status: str = "InService") -> PerformerInfo:
    return PerformerInfo(
        performer_id="performer-1",
        avs_address=spec.avs_address,
        status=status,
        runtime=spec.runtime,
        endpoint=spec.endpoint or "127.0.0.1:5000",  # an endpoint performer is at its address
        resource_id="123:456",
        resource_healthy=True,
        application_healthy=True,
        last_health_check=1.0,
        created_at=2.0,
        deployment_id="deployment-x",
        restarts=0,
        spec=spec,
    )


@pytest.mark.parametrize(
    "config",
    [
        {
            "avsAddress": AVS,
            "command": ["/usr/bin/env", "performer"],
            "envs": [{"name": "A", "value": "1"}, {"name": "B", "valueFromEnv": "HOME"}],
        },
        {"avsAddress": AVS, "image": {"repository": "hello", "tag": "v2"}},
        {"avsAddress": AVS, "image": {"repository": "hello", "digest": "sha256:" + "0" * 64}},
        {"avsAddress": AVS, "endpoint": "performer.svc:8080"},
    ],
    ids=["process", "docker-tag", "docker-digest", "endpoint"],
)
def test_a_stored_performer_rebuilds_the_configured_spec(config):
    configured = spec_from_config(PerformerConfig.model_validate(config), "perf-net")
    state = state_from_info(info_for(configured))
    rebuilt = spec_from_state(state, configured)
    assert rebuilt.fingerprint() == configured.fingerprint()
    assert rebuilt == configured


def test_a_changed_env_is_a_different_artifact():
    base = PerformerSpec(avs_address=AVS, runtime="process", command=("perf",))
    changed = PerformerSpec(
        avs_address=AVS, runtime="process", command=("perf",), env=(EnvVar("LEVEL", "2"),)
    )
    assert base.fingerprint() != changed.fingerprint()
    # Timing knobs are not part of what runs.
    slower = PerformerSpec(avs_address=AVS, runtime="process", command=("perf",), health_interval=9)
    assert base.fingerprint() == slower.fingerprint()


@pytest.mark.parametrize(
    ("status", "slot"), [("InService", "current"), ("Draining", "current"), ("Staged", "staged")]
)
def test_every_live_status_maps_to_a_slot_the_store_accepts(status, slot):
    state = state_from_info(info_for(PerformerSpec(AVS, "process", ("perf",)), status))
    assert (state.status, state.slot) == (status, slot)
