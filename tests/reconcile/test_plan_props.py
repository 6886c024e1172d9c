"""Properties of the pure plan: spec order does not matter; applying then planning yields nothing to do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.reconcile.desired import Cell, Target
from runner.reconcile.plan import make_plan
from runner.state.store import State, TargetState

names = st.sampled_from(["a", "b", "c", "d"])
keys = st.text("0123456789abcdef", min_size=2, max_size=4)


@st.composite
def targets(draw: st.DrawFn) -> list[Target]:
    out = []
    for ev, ref in draw(st.sets(st.tuples(names, names), min_size=1, max_size=5)):
        ids = draw(st.lists(st.text("xyz", min_size=1, max_size=3), min_size=1, max_size=6, unique=True))
        cells = tuple(Cell(f"{i}#0", draw(keys), draw(keys), draw(st.floats(0, 1))) for i in ids)
        hashes = {
            "prompt": draw(keys),
            "graders": {"g": draw(keys)},
            "metrics": draw(keys),
            "items": dict.fromkeys(ids, "h"),
        }
        out.append(Target(ev, ref, "model", "endpoint", hashes, cells))
    return out


def applied(state: State, ts: list[Target]) -> State:
    for t in ts:
        state = state.with_target(
            t.eval,
            t.model_ref,
            TargetState(t.model_id, t.endpoint, t.hashes, {c.id: (c.call, c.grade) for c in t.cells}),
        )
    return state


@settings(max_examples=200)
@given(ts=targets(), prior=targets(), data=st.data())
def test_order_of_targets_does_not_change_the_plan(ts: list[Target], prior: list[Target], data: st.DataObject) -> None:
    state = applied(State("lineage", 3), prior)
    shuffled = data.draw(st.permutations(ts))
    assert make_plan(shuffled, state) == make_plan(ts, state)


@settings(max_examples=200)
@given(ts=targets(), prior=targets())
def test_applying_a_plan_then_planning_again_has_nothing_to_do(ts: list[Target], prior: list[Target]) -> None:
    state = applied(State("lineage", 0), prior)
    first = make_plan(ts, state)
    after = applied(
        State(
            state.lineage,
            state.serial + 1,
            {k: v for k, v in state.targets.items() if (k[0], k[1]) in {t.key for t in ts}},
        ),
        ts,
    )
    second = make_plan(ts, after)
    assert not second.has_changes
    assert second.count("reuse") == sum(len(t.cells) for t in ts)
    assert first.count("run") + first.count("regrade") + first.count("reuse") == sum(len(t.cells) for t in ts)
