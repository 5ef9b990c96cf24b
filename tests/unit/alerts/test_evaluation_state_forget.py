"""Erasure of the evaluator's memory: a tenant or one device goes, everything else stays,
and nothing of the forgotten keys is handed to the state store afterwards."""

from __future__ import annotations

from smdh.domain.alerts.evaluation_state import EvaluationState


def filled() -> EvaluationState:
    state = EvaluationState()
    for tenant in ("acme", "keeper"):
        for device in ("m1", "m2"):
            key = (tenant, "hot", device)
            state.get(key)
            state.pending.add(key)
            state.dirty.add(key)
            state.touched.add(key)
            state.last_seen[(tenant, device)] = (1.0, "plant", "machine")
            state.dirty_seen.add((tenant, device))
            state.bindings[(tenant, device)] = object()
    return state


def test_forgetting_a_device_keeps_its_siblings_and_other_tenants() -> None:
    state = filled()
    assert state.forget_tenant("acme", "m1") == 1
    assert ("acme", "hot", "m1") not in state.rules and ("acme", "m1") not in state.last_seen
    assert ("acme", "hot", "m2") in state.rules and ("keeper", "hot", "m1") in state.rules
    rules, seen = state.take_changes(statistics=True)
    assert "acme|hot|m1" not in rules and "acme|m1" not in seen
    assert {"acme|hot|m2", "keeper|hot|m1", "keeper|hot|m2"} <= set(rules)


def test_forgetting_a_tenant_leaves_nothing_of_it() -> None:
    state = filled()
    assert state.forget_tenant("acme") == 2
    everything = [
        *state.rules, *state.pending, *state.dirty, *state.touched, *state.last_seen,
        *state.dirty_seen, *state.bindings,
    ]  # fmt: skip
    assert everything and all(key[0] == "keeper" for key in everything)
