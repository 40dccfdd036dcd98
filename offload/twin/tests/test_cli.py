"""`offload twin run|compare|export` on small scenario files."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from offload.twin.tests.factories import (
    START,
    make_history_item,
    make_live,
    recent_replay_day,
    tiny_scenario,
    write_scenario,
)


def twin(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("twin", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_run_prints_a_summary_table(tmp_path):
    # given
    path = write_scenario(tmp_path / "two.json", tiny_scenario())
    # when
    out, _ = twin("run", str(path))
    # then
    lines = out.splitlines()
    assert lines[0].split() == ["two.json"]
    assert any(line.startswith("Items offered") and "40 ± 0" in line for line in lines)
    assert any(line.startswith("Service level (first response)") for line in lines)
    assert "95% confidence" in out or "99% confidence" in out


def test_run_json_is_the_engine_result_with_the_options_applied(tmp_path):
    # given
    path = write_scenario(tmp_path / "two.json", tiny_scenario())
    # when
    out, _ = twin("run", str(path), "--replications", "3", "--seed", "9", "--json")
    # then
    result = json.loads(out)
    assert len(result["replications"]) == 3
    assert result["overall"]["arrivals"]["values"] == [40.0, 40.0, 40.0]


def test_a_files_changes_are_made_before_it_runs(tmp_path):
    # given: three agents less one
    data = {
        **tiny_scenario(agents=3),
        "changes": [{"kind": "remove_agents", "site": "main", "count": 1}],
    }
    changed = write_scenario(tmp_path / "changed.json", data)
    two = write_scenario(tmp_path / "two.json", tiny_scenario(agents=2))
    # when
    a, _ = twin("run", str(changed), "--json")
    b, _ = twin("run", str(two), "--json")
    # then: the same as two agents from the start
    assert json.loads(a)["overall"] == json.loads(b)["overall"]


def test_compare_prints_the_files_side_by_side(tmp_path):
    # given
    a = write_scenario(tmp_path / "two.json", tiny_scenario())
    b = write_scenario(tmp_path / "three.json", tiny_scenario(agents=3))
    # when
    out, _ = twin("compare", str(a), str(b))
    # then
    header = out.splitlines()[0].split()
    assert header == ["two.json", "three.json"]
    asa = next(line for line in out.splitlines() if line.startswith("ASA"))
    assert asa.count(" s ± ") == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing.json: no such file"),
        ("{not json", "bad.json: not JSON"),
        ("[1, 2]", "bad.json: a scenario file is a JSON object"),
        ('{"processes": [{"id": 1}]}', "bad.json: not an engine scenario: aht_s is missing"),
    ],
)
def test_a_bad_file_is_a_clear_error(tmp_path, content, message):
    # given
    name = "missing.json" if content is None else "bad.json"
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    # when / then
    with pytest.raises(CommandError) as caught:
        twin("run", str(path))
    assert str(caught.value).startswith(str(tmp_path / message.split(":")[0]) + ":")
    assert message.split(": ", 1)[1] in str(caught.value)


def test_a_bad_change_in_a_file_names_the_field(tmp_path):
    # given
    data = {**tiny_scenario(), "changes": [{"kind": "add_agents", "count": 1, "site": "main"}]}
    path = write_scenario(tmp_path / "bad.json", data)
    # when / then
    with pytest.raises(CommandError, match=r"changes\[0\]\.processes"):
        twin("run", str(path))


@pytest.mark.django_db
def test_export_writes_the_live_configuration_as_a_scenario_file_that_runs(tmp_path):
    # given
    world = make_live()
    path = tmp_path / "live.json"
    # when
    _, err = twin(
        "export",
        "--provider",
        world.provider.slug,
        "--start",
        START.isoformat(),
        "--days",
        "1",
        "-o",
        str(path),
    )
    # then
    data = json.loads(path.read_text())
    assert data["changes"] == []
    assert data["start"] == START.isoformat()
    assert {a["site"] for a in data["agents"]} == {"Manila", "Monterrey"}
    assert "note:" in err
    out, _ = twin("run", str(path), "--replications", "1")
    assert "Occupancy Manila" in out


@pytest.mark.django_db
def test_export_names_an_unknown_provider():
    with pytest.raises(CommandError, match="no provider organisation with the slug 'nobody'"):
        twin("export", "--provider", "nobody")


@pytest.mark.django_db
def test_export_replay_from_writes_the_days_items_as_the_replay_and_it_runs(tmp_path):
    # given: two items of a past day, the first handled in 90 + 30 s
    world = make_live()
    day, since = recent_replay_day()
    make_history_item(world.chat, since + timedelta(minutes=10), priority="P1", leases=((90, 30),))
    make_history_item(world.chat, since + timedelta(hours=4), language="es")
    path = tmp_path / "replay.json"
    # when
    _, err = twin(
        "export",
        "--provider",
        world.provider.slug,
        "--start",
        START.isoformat(),
        "--days",
        "1",
        "--replay-from",
        day.isoformat(),
        "-o",
        str(path),
    )
    # then
    data = json.loads(path.read_text())
    assert data["replay"] == [
        {"at_s": 600.0, "process_id": world.chat.pk, "priority": 1, "language": "", "aht_s": 120.0},
        {
            "at_s": 14_400.0,
            "process_id": world.chat.pk,
            "priority": 3,
            "language": "es",
            "aht_s": None,
        },
    ]
    assert data["horizon_s"] == 86_400.0
    assert "note: replay: the 2 items created from" in err
    out, _ = twin("run", str(path), "--replications", "2", "--json")
    assert json.loads(out)["overall"]["arrivals"]["values"] == [2.0, 2.0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("last monday", "--replay-from must be an ISO 8601 date"),
        ("9999-12-31T23:00:00Z", "--replay-from must be an ISO 8601 date"),
        ("today", "must be in the past"),
    ],
)
def test_export_names_a_bad_replay_from(value, message):
    # given
    world = make_live()
    if value == "today":
        value = recent_replay_day(0)[0].isoformat()
    # when / then
    with pytest.raises(CommandError, match=message):
        twin("export", "--provider", world.provider.slug, "--days", "1", "--replay-from", value)
