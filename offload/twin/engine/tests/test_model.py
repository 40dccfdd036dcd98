"""Scenarios and results survive JSON; starts are read as instants."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from offload.twin import engine
from offload.twin.engine import __main__ as cli
from offload.twin.engine import examples, model
from offload.twin.engine.model import Result, Scenario


@pytest.mark.parametrize(
    "scenario",
    [examples.mmc(max_arrivals=500, replications=2), examples.multiskill(days=1)],
    ids=["mmc", "multiskill"],
)
def test_a_scenario_survives_a_json_round_trip(scenario: Scenario) -> None:
    # given a scenario as JSON text
    text = json.dumps(scenario.to_dict(), allow_nan=False)

    # when it is read back
    back = Scenario.from_dict(json.loads(text))

    # then it is the same scenario
    assert back == scenario


def test_a_result_survives_a_json_round_trip() -> None:
    # given a result of a short multi-skill run
    result = engine.run(examples.multiskill(days=1, replications=2))

    # when it goes through JSON
    back = Result.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))

    # then it is the same result
    assert back == result
    assert back.overall.service_level["first_response"].mean is not None


def test_a_minimal_scenario_takes_defaults() -> None:
    # given the least a scenario needs
    raw = {
        "name": "tiny",
        "max_arrivals": 100,
        "processes": [{"id": 1, "aht_s": 120, "arrivals": [10], "queues": {"": 1}}],
        "queues": [{"id": 1, "process_id": 1}],
        "agents": [{"id": 1, "certified": [1]}],
    }

    # when it is read
    scenario = Scenario.from_dict(raw)

    # then the defaults fill in, and it runs
    assert scenario.replications == 10
    assert scenario.processes[0].priority_mix == {3: 1.0}
    assert scenario.agents[0].capacity == {"chat": 1}
    result = engine.run(scenario)
    assert result.overall.arrivals.mean == 100


@pytest.mark.parametrize(
    ("start", "epoch"),
    [
        ("2026-01-05T00:00:00+00:00", 1767571200.0),
        ("2026-01-05T01:00:00+01:00", 1767571200.0),
        ("2026-01-05T00:00:00Z", 1767571200.0),
        (1767571200, 1767571200.0),
    ],
)
def test_start_is_an_instant(start: str | float, epoch: float) -> None:
    # when/then
    assert model.start_epoch(start) == epoch


@pytest.mark.parametrize("start", ["2026-01-05T00:00:00", "next monday", None])
def test_a_start_without_a_zone_is_refused(start: object) -> None:
    # when/then
    with pytest.raises(ValueError, match="start must be"):
        model.start_epoch(start)  # type: ignore[arg-type]


def test_the_command_line_runs_a_scenario_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an example scenario written to a file by the command line itself
    assert cli.main(["--example", "mmc"]) == 0
    raw = json.loads(capsys.readouterr().out)
    raw["max_arrivals"] = 200
    raw["replications"] = 2
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(raw))

    # when it runs the file
    assert cli.main([str(path), "--summary"]) == 0

    # then it prints the summary as JSON
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "fast"
    assert out["customers"] == 400
    assert out["overall"]["arrivals"]["mean"] == 200


def test_problems_name_everything_that_keeps_a_scenario_from_running() -> None:
    # given a scenario with bad numbers and a process without its queue
    good = examples.mmc(max_arrivals=100, replications=2)
    process = dataclasses.replace(good.processes[0], aht_s=0.0, bot_share=1.5, queues={"": 9})
    bad = dataclasses.replace(good, replications=0, processes=(process,), confidence=1.0)

    # when it is checked, and run
    found = model.problems(bad)

    # then every problem is named, and run() refuses it with them
    assert found == [
        "replications must be between 1 and 1000",
        "confidence must be between 0 and 1",
        "processes[1].aht_s must be above 0",
        "processes[1].bot_share must be between 0 and 1",
        "processes[1].queues: no queue 9 for language ''",
    ]
    assert model.problems(good) == []
    with pytest.raises(ValueError, match="aht_s must be above 0"):
        engine.run(bad)


def test_processes_with_different_languages_each_route_their_own() -> None:
    # given a process in English only (no default queue) beside one in Spanish only
    base = examples.mmc(horizon_s=3600.0, replications=1)
    english = dataclasses.replace(base.processes[0], language_mix={"en": 1.0}, queues={"en": 1})
    spanish = dataclasses.replace(
        base.processes[0], id=2, language_mix={"es": 1.0}, queues={"es": 2}
    )
    queue_2 = dataclasses.replace(base.queues[0], id=2, process_id=2)
    agents = tuple(
        dataclasses.replace(a, languages=frozenset({"en", "es"}), certified=frozenset({1, 2}))
        for a in base.agents
    )
    scenario = dataclasses.replace(
        base,
        processes=(english, spanish),
        queues=(base.queues[0], queue_2),
        agents=agents,
    )

    # when it runs
    result = engine.run(scenario)

    # then both processes were served
    assert model.problems(scenario) == []
    by_process = result.overall.service_level_by_process
    assert by_process[1]["first_response"].mean is not None
    assert by_process[2]["first_response"].mean is not None
    assert result.replications[0].answered > 0
