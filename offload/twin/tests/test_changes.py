"""offload/twin/changes.py: each change kind, exactly (pure, no database)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload.twin import changes
from offload.twin.engine.model import (
    AgentModel,
    BotModel,
    ProcessModel,
    QueueModel,
    RelaxStepModel,
    ReplayArrival,
    Scenario,
    Shift,
)

CHAT, INVOICES = 10, 20
CHAT_QUEUE, CHAT_ES_QUEUE, INVOICE_QUEUE = 100, 101, 200
MANILA_SHIFT = (Shift(0.0, 28_800.0),)
MTY_SHIFTS = ((Shift(3_600.0, 32_400.0),), (Shift(7_200.0, 36_000.0),))


def base() -> Scenario:
    return Scenario(
        name="base",
        horizon_s=86_400.0,
        processes=(
            ProcessModel(
                id=CHAT,
                name="Chat",
                aht_s=300.0,
                arrivals=(10.0, 20.0),
                channel="chat",
                language_mix={"en": 0.75, "es": 0.25},
                queues={"": CHAT_QUEUE, "es": CHAT_ES_QUEUE},
            ),
            ProcessModel(
                id=INVOICES,
                name="Invoices",
                aht_s=600.0,
                arrivals=(4.0,),
                channel="back_office",
                queues={"": INVOICE_QUEUE},
            ),
        ),
        queues=(
            QueueModel(CHAT_QUEUE, CHAT, "chat", {"live_chat": 3}),
            QueueModel(CHAT_ES_QUEUE, CHAT, "chat", {"live_chat": 3}),
            QueueModel(INVOICE_QUEUE, INVOICES, "back_office", {}),
        ),
        agents=(
            AgentModel(
                1,
                "Manila",
                9.5,
                {"live_chat": 3},
                frozenset({"en"}),
                frozenset({CHAT}),
                {"chat": 2},
                MANILA_SHIFT,
            ),
            AgentModel(
                2,
                "Monterrey",
                14.0,
                {"live_chat": 4},
                frozenset({"es", "en"}),
                frozenset({CHAT}),
                {"chat": 3},
                MTY_SHIFTS[0],
            ),
            AgentModel(
                3,
                "Monterrey",
                14.0,
                {"live_chat": 1},
                frozenset({"en"}),
                frozenset({INVOICES}),
                {"back_office": 1},
                MTY_SHIFTS[1],
            ),
            AgentModel(
                4,
                "Austin",
                38.0,
                {"live_chat": 3},
                frozenset({"en", "es"}),
                frozenset({CHAT}),
                {"chat": 2},
            ),
        ),
        bots=(BotModel(50, frozenset({INVOICES}), 60.0, 4, 0.1),),
    )


def made(*raw: dict[str, object]) -> Scenario:
    return changes.apply_all(base(), list(raw)).scenario


# ------------------------------------------------------------------ add_agents


def test_add_agents_like_an_agent_copies_it_and_takes_the_sites_shifts_in_turn():
    # when
    after = made({"kind": "add_agents", "count": 3, "site": "Monterrey", "like": 1})
    # then: ids after every worker (the bot is 50), Manila agent 1's skills, Monterrey's
    # cost and its agents' shifts in turn
    new = after.agents[4:]
    assert [a.id for a in new] == [51, 52, 53]
    assert {a.site for a in new} == {"Monterrey"}
    assert {a.hourly_cost for a in new} == {14.0}
    assert all(a.skills == {"live_chat": 3} and a.capacity == {"chat": 2} for a in new)
    assert all(a.certified == frozenset({CHAT}) for a in new)
    assert [a.shifts for a in new] == [MTY_SHIFTS[0], MTY_SHIFTS[1], MTY_SHIFTS[0]]
    assert after.agents[:4] == base().agents


def test_add_agents_with_given_processes_gets_one_slot_per_channel_and_the_given_cost():
    # when
    after = made(
        {
            "kind": "add_agents",
            "count": 1,
            "site": "Cebu",
            "processes": [INVOICES],
            "languages": ["en"],
            "hourly_cost": 8,
        }
    )
    # then: a new site without agents: always on, the cost given
    (agent,) = after.agents[4:]
    assert agent == AgentModel(
        51, "Cebu", 8.0, {}, frozenset({"en"}), frozenset({INVOICES}), {"back_office": 1}, None
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"kind": "add_agents", "count": 0, "site": "Manila", "like": 1}, "changes[0].count"),
        ({"kind": "add_agents", "count": 2, "site": "Manila"}, "changes[0].processes"),
        ({"kind": "add_agents", "count": 2, "site": "Manila", "like": 9}, "changes[0].like"),
        (
            {"kind": "add_agents", "count": 2, "site": "Cebu", "processes": [CHAT]},
            "changes[0].hourly_cost",
        ),
        ({"kind": "add_agents", "count": "2", "site": "Manila", "like": 1}, "changes[0].count"),
        ({"kind": "add_agents", "count": 2, "site": "Manila", "bogus": 1}, "changes[0].bogus"),
        ({"kind": "hire"}, "changes[0].kind"),
        ("add 5", "changes[0].kind"),
    ],
)
def test_a_bad_change_names_its_field(raw, field):
    # when
    with pytest.raises(changes.ChangeError) as caught:
        made(raw)
    # then
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


# ------------------------------------------------------------------ remove_agents


def test_remove_agents_takes_the_sites_most_recent_agents():
    # when
    after = made({"kind": "remove_agents", "site": "Monterrey", "count": 1})
    # then
    assert [a.id for a in after.agents] == [1, 2, 4]


def test_remove_more_agents_than_the_site_has_names_the_count():
    # when / then
    with pytest.raises(changes.ChangeError, match="only 2 agents") as caught:
        made({"kind": "remove_agents", "site": "Monterrey", "count": 3})
    assert caught.value.field == "changes[0].count"


# ------------------------------------------------------------------ move_work


def test_moving_a_whole_process_certifies_the_site_and_uncertifies_the_rest():
    # when
    after = made({"kind": "move_work", "process": INVOICES, "site": "Manila"})
    # then: Manila's agent serves invoices with a back-office slot; agent 3 no longer
    agents = {a.id: a for a in after.agents}
    assert agents[1].certified == frozenset({CHAT, INVOICES})
    assert agents[1].capacity == {"chat": 2, "back_office": 1}
    assert agents[3].certified == frozenset()
    assert after.processes == base().processes


def test_moving_a_language_splits_it_into_a_process_of_its_own_served_by_the_site():
    # when: Spanish chat moves to Monterrey
    after = made({"kind": "move_work", "process": CHAT, "language": "es", "site": "Monterrey"})
    # then: chat keeps its English items, 3/4 of the arrivals and its default queue
    chat, invoices, spanish = after.processes
    assert (chat.id, invoices.id) == (CHAT, INVOICES)
    assert chat.arrivals == (7.5, 15.0)
    assert chat.language_mix == {"en": 0.75}
    assert chat.queues == {"": CHAT_QUEUE}
    # the Spanish items are process 21 with the Spanish queue, a quarter of the arrivals
    assert spanish.id == 21
    assert spanish.name == "Chat (es)"
    assert spanish.arrivals == (2.5, 5.0)
    assert spanish.language_mix == {"es": 1.0}
    assert spanish.queues == {"": CHAT_ES_QUEUE, "es": CHAT_ES_QUEUE}
    assert spanish.aht_s == chat.aht_s
    assert {q.id: q.process_id for q in after.queues}[CHAT_ES_QUEUE] == 21
    # Monterrey's agents serve it (agent 3 trained to level 3, given a chat slot, taught
    # Spanish); Manila and Austin keep English chat only
    agents = {a.id: a for a in after.agents}
    assert agents[2].certified == frozenset({CHAT, 21})
    assert agents[3].certified == frozenset({INVOICES, 21})
    assert agents[3].skills == {"live_chat": 3}
    assert agents[3].capacity == {"back_office": 1, "chat": 1}
    assert agents[3].languages == frozenset({"en", "es"})
    assert agents[1].certified == frozenset({CHAT})
    assert agents[4].certified == frozenset({CHAT})


def test_moving_a_language_without_a_queue_of_its_own_copies_the_default_queue():
    # given: Spanish chat shares the default queue
    scenario = base()
    chat = scenario.processes[0]
    scenario = dataclasses.replace(
        scenario,
        processes=(dataclasses.replace(chat, queues={"": CHAT_QUEUE}), *scenario.processes[1:]),
    )
    # when
    after = changes.apply_all(
        scenario, [{"kind": "move_work", "process": CHAT, "language": "es", "site": "Monterrey"}]
    ).scenario
    # then: a new queue 201 like the default, for the new process
    new_queue = after.queues[-1]
    assert (new_queue.id, new_queue.process_id) == (201, 21)
    assert new_queue.required_skills == {"live_chat": 3}
    assert after.queues[0] == scenario.queues[0]


def test_moving_a_language_the_process_never_gets_names_the_language():
    # when / then
    with pytest.raises(changes.ChangeError) as caught:
        made({"kind": "move_work", "process": CHAT, "language": "pl", "site": "Monterrey"})
    assert caught.value.field == "changes[0].language"


# ------------------------------------------------------------------ bot_share


def test_bot_share_sets_the_share_for_a_process_a_bot_serves():
    # when
    after = made({"kind": "bot_share", "process": INVOICES, "share": 0.3})
    # then
    assert after.processes[1].bot_share == 0.3
    assert after.bots == base().bots


def test_bot_share_without_a_bot_adds_one_when_given_its_service_time():
    # when
    after = made({"kind": "bot_share", "process": CHAT, "share": 0.5, "service_s": 30})
    # then
    assert after.bots[-1] == BotModel(51, frozenset({CHAT}), 30.0, 1, 0.0)
    with pytest.raises(changes.ChangeError) as caught:
        made({"kind": "bot_share", "process": CHAT, "share": 0.5})
    assert caught.value.field == "changes[0].process"


# ------------------------------------------------------------------ routing_rule


def test_routing_rule_sets_ordering_and_relaxation_of_one_queue():
    # when
    after = made(
        {
            "kind": "routing_rule",
            "queue": CHAT_QUEUE,
            "ordering": ["due_at", "priority"],
            "relaxation": [{"after_s": 120, "skill_drop": 1, "languages": ["es"]}],
        }
    )
    # then
    queue = after.queues[0]
    assert queue.ordering == ("due_at", "priority")
    assert queue.relaxation == (RelaxStepModel(120, 1, ("es",)),)
    assert after.queues[1:] == base().queues[1:]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"kind": "routing_rule", "queue": CHAT_QUEUE}, "changes[0].ordering"),
        (
            {"kind": "routing_rule", "queue": CHAT_QUEUE, "ordering": ["age"]},
            "changes[0].ordering",
        ),
        ({"kind": "routing_rule", "queue": 999, "ordering": ["priority"]}, "changes[0].queue"),
        (
            {"kind": "routing_rule", "queue": CHAT_QUEUE, "relaxation": [{"skill_drop": 1}]},
            "changes[0].relaxation[0].after_s",
        ),
    ],
)
def test_a_bad_routing_rule_names_its_field(raw, field):
    with pytest.raises(changes.ChangeError) as caught:
        made(raw)
    assert caught.value.field == field


# ------------------------------------------------------------------ volume and aht


def test_volume_and_aht_scale_one_process_or_every_one():
    # when
    after = made(
        {"kind": "volume", "process": CHAT, "percent": 50},
        {"kind": "aht", "percent": -10},
    )
    # then
    assert after.processes[0].arrivals == (15.0, 30.0)
    assert after.processes[1].arrivals == (4.0,)
    assert [p.aht_s for p in after.processes] == [270.0, 540.0]


def test_changes_apply_in_order_and_name_their_position():
    # when / then: the second change names an agent the first removed
    with pytest.raises(changes.ChangeError) as caught:
        made(
            {"kind": "remove_agents", "site": "Manila", "count": 1},
            {"kind": "add_agents", "count": 1, "site": "Manila", "like": 1},
        )
    assert caught.value.field == "changes[1].like"


def test_describe_reads_like_the_issue():
    # given
    scenario = base()
    # then
    assert changes.describe(
        changes.parse({"kind": "add_agents", "count": 5, "site": "Monterrey", "like": 2})
    ) == ("Add 5 agents at Monterrey like agent 2")
    assert (
        changes.describe(
            changes.parse(
                {"kind": "move_work", "process": CHAT, "language": "es", "site": "Monterrey"}
            ),
            scenario,
        )
        == "Move Chat (es) to Monterrey"
    )
    assert (
        changes.describe(
            changes.parse({"kind": "bot_share", "process": INVOICES, "share": 0.3}), scenario
        )
        == "Bots take 30% of Invoices"
    )


KIND_EXAMPLES = [
    {"kind": "add_agents", "count": 2, "site": "Manila", "like": 1, "languages": ["en"]},
    {"kind": "remove_agents", "site": "Monterrey", "count": 1},
    {"kind": "move_work", "process": CHAT, "site": "Monterrey", "language": "es", "capacity": 2},
    {"kind": "bot_share", "process": INVOICES, "share": 0.25, "concurrency": 2},
    {
        "kind": "routing_rule",
        "queue": CHAT_QUEUE,
        "relaxation": [{"after_s": 60, "skill_drop": 1, "languages": []}],
    },
    {"kind": "volume", "percent": 12.5},
    {"kind": "aht", "process": CHAT, "percent": -20},
]


@pytest.mark.parametrize("raw", KIND_EXAMPLES, ids=lambda r: r["kind"])
def test_a_change_survives_its_json_form(raw):
    # when
    change = changes.parse(raw)
    # then
    assert changes.parse(changes.to_dict(change)) == change


@given(st.floats(min_value=-100, max_value=1000), st.floats(min_value=0, max_value=1))
def test_volume_never_makes_negative_arrivals_and_share_stays_a_share(percent, share):
    # when
    after = made(
        {"kind": "volume", "percent": percent},
        {"kind": "bot_share", "process": INVOICES, "share": share},
    )
    # then: the arrivals scale by the same factor, never below zero
    assert all(a >= 0 for p in after.processes for a in p.arrivals)
    assert after.processes[0].arrivals[1] == pytest.approx(2 * after.processes[0].arrivals[0])
    assert 0 <= after.processes[1].bot_share <= 1


@given(st.integers(min_value=1, max_value=40))
def test_adding_then_removing_agents_gives_the_agents_back(count):
    # when
    after = made(
        {"kind": "add_agents", "count": count, "site": "Austin", "like": 4},
        {"kind": "remove_agents", "site": "Austin", "count": count},
    )
    # then
    assert after.agents == base().agents


# ------------------------------------------------------------------ volume on a replay


def replayed(n: int = 200, seed: int = 1) -> Scenario:
    """The base with a replay: `n` chat arrivals (every 7 minutes, P1 in Spanish with a
    handle time of 240 s) and 10 invoices."""
    chat = tuple(
        ReplayArrival(at_s=420.0 * i, process_id=CHAT, priority=1, language="es", aht_s=240.0)
        for i in range(n)
    )
    invoices = tuple(ReplayArrival(at_s=900.0 * i, process_id=INVOICES) for i in range(10))
    replay = tuple(sorted(chat + invoices, key=lambda r: (r.at_s, r.process_id)))
    return dataclasses.replace(base(), replay=replay, seed=seed)


def chat_of(scenario: Scenario) -> list[ReplayArrival]:
    return [r for r in scenario.replay or () if r.process_id == CHAT]


def test_volume_on_a_replay_thins_its_arrivals_by_the_scenarios_seed():
    # given
    change = [{"kind": "volume", "process": CHAT, "percent": -25}]
    # when
    once = changes.apply_all(replayed(seed=1), change).scenario
    again = changes.apply_all(replayed(seed=1), change).scenario
    other = changes.apply_all(replayed(seed=2), change).scenario
    # then: each chat arrival kept with probability 0.75, the same ones for the same
    # seed; the invoices untouched
    kept = chat_of(once)
    assert len(kept) == 152
    assert once.replay == again.replay
    assert chat_of(other) != kept
    assert len(chat_of(other)) == 147
    assert set(kept) <= set(chat_of(replayed()))
    assert [r for r in once.replay or () if r.process_id == INVOICES] == [
        r for r in replayed().replay or () if r.process_id == INVOICES
    ]
    assert once.processes[0].arrivals == (7.5, 15.0)


def test_volume_on_a_replay_copies_arrivals_into_their_own_interval():
    # when: 150 % more: every arrival kept, one copy each, and a second for half of them
    after = changes.apply_all(
        replayed(), [{"kind": "volume", "process": CHAT, "percent": 150}]
    ).scenario
    # then
    chat = chat_of(after)
    assert len(chat) == 508
    originals = set(chat_of(replayed()))
    assert originals <= set(chat)
    for copy in set(chat) - originals:
        assert (copy.process_id, copy.priority, copy.language, copy.aht_s) == (CHAT, 1, "es", 240.0)
    # every interval gets 2 to 3 times its arrivals
    per_interval_before = Counter(int(r.at_s // 1800) for r in originals)
    per_interval_after = Counter(int(r.at_s // 1800) for r in chat)
    for slot, n in per_interval_before.items():
        assert 2 * n <= per_interval_after[slot] <= 3 * n
    assert set(per_interval_after) == set(per_interval_before)
    assert [r.at_s for r in after.replay or ()] == sorted(r.at_s for r in after.replay or ())


def test_volume_minus_100_on_a_replay_removes_every_arrival():
    # when
    after = changes.apply_all(replayed(), [{"kind": "volume", "percent": -100}]).scenario
    # then
    assert after.replay == ()


@given(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=0, max_value=2**31 - 1),
)
def test_volume_by_whole_factors_on_a_replay_gives_exactly_that_many(factor, n, seed):
    # when
    after = changes.apply_all(
        replayed(n, seed), [{"kind": "volume", "process": CHAT, "percent": 100 * (factor - 1)}]
    ).scenario
    # then: exactly factor times the arrivals, within the horizon
    assert len(chat_of(after)) == factor * n
    assert all(0 <= r.at_s <= 86_400.0 for r in after.replay or ())
    assert len(after.replay or ()) == factor * n + 10
