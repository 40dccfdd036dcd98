"""SLA attainment: the month's lines from the clocks, and freezing a closed month
(offload.work.attainment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.contracts import services as contract_services
from offload.contracts.models import Engagement, Process, SlaPolicy
from offload.contracts.tests.factories import make_engagement, make_policy, target
from offload.core import errors
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import make_principal
from offload.work import attainment
from offload.work.attainment import Line
from offload.work.models import AttainmentMonth, SlaClock
from offload.work.tests.factories import make_item, make_process

pytestmark = pytest.mark.django_db

MARCH = date(2026, 3, 1)


def at(day: int, hour: int = 12, *, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Setup:
    engagement: Engagement
    process: Process
    policy: SlaPolicy


def make_setup() -> Setup:
    """An engagement whose policy asks first response of P1 within 4 hours for 90 % of
    items, of any other priority within 8 hours for 95 % (the default), and turnaround
    within 2 days for 80 %. Its process runs on no policy, so intake starts no clocks
    and each test makes exactly the clocks it counts."""
    engagement = make_engagement()
    policy = make_policy(
        engagement,
        targets=[
            target("first_response", "P1", "4", attainment_percent=Decimal(90)),
            target("first_response", "", "8"),
            target("turnaround", "", "2", attainment_percent=Decimal(80)),
        ],
    )
    return Setup(engagement, make_process(engagement=engagement), policy)


def make_clock(
    setup: Setup,
    *,
    state: str,
    stopped_at: datetime | None,
    metric: str = "first_response",
    priority: str = "P3",
    policy: SlaPolicy | None = None,
    subject: str = "",
) -> SlaClock:
    """A clock of a new item of the setup's process, as the clocks module leaves it."""
    item = make_item(setup.process, priority=priority, subject=subject)
    started = (stopped_at or at(1)) - timedelta(hours=2)
    due = started + timedelta(hours=4)
    return SlaClock.objects.create(
        client_id=item.client_id,
        provider_id=item.provider_id,
        item=item,
        metric=metric,
        policy=policy or setup.policy,
        priority=priority,
        state=state,
        target=timedelta(hours=4),
        started_at=started,
        due_at=due,
        original_due_at=due,
        paused=timedelta(0),
        stopped_at=stopped_at,
        next_check_at=None,
        breached=state == "breached",
        data={},
    )


def make_march(setup: Setup) -> None:
    """First response P1: 9 met, 1 breached. First response P3: 2 met, 1 breached.
    Turnaround P3: 1 met at the last microsecond of March; and what is not March's or
    not measured: met at April's first instant, cancelled, running, breached but not
    stopped."""
    for n in range(9):
        make_clock(setup, state="met", stopped_at=at(2 + n), priority="P1")
    make_clock(setup, state="breached", stopped_at=at(20), priority="P1")
    make_clock(setup, state="met", stopped_at=at(1, 0), priority="P3")
    make_clock(setup, state="met", stopped_at=at(5), priority="P3")
    make_clock(setup, state="breached", stopped_at=at(6), priority="P3")
    last = datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    make_clock(setup, state="met", stopped_at=last, metric="turnaround")
    make_clock(setup, state="met", stopped_at=at(1, 0, month=4), metric="turnaround")
    make_clock(setup, state="cancelled", stopped_at=at(7), metric="turnaround")
    make_clock(setup, state="running", stopped_at=None, metric="turnaround")
    make_clock(setup, state="breached", stopped_at=None, metric="turnaround", priority="P1")


def march_lines(setup: Setup) -> list[Line]:
    v1 = setup.policy.pk
    return [
        Line("first_response", "P1", 10, 9, 1, Decimal("90.00"), Decimal(90), True, v1),
        Line("first_response", "P3", 3, 2, 1, Decimal("66.66"), Decimal(95), False, v1),
        Line("turnaround", "P3", 1, 1, 0, Decimal("100.00"), Decimal(80), True, v1),
    ]


# ------------------------------------------------------------------ months


def test_month_parse_takes_yyyy_mm_and_names_the_field_otherwise():
    assert attainment.month_parse("2026-03") == MARCH
    full_width = "\uff12\uff10\uff12\uff16-03"  # digits int() takes, but not ASCII
    for bad in ("2026-13", "2026-3", "March", "", "2026-03-01", full_width, "0000-01", "9999-12"):
        with pytest.raises(errors.ValidationFailed) as exc:
            attainment.month_parse(bad)
        assert [(e.field, e.message) for e in exc.value.errors] == [("month", attainment.BAD_MONTH)]


def test_months_are_utc_ranges_start_included_end_excluded():
    assert attainment.month_bounds(date(2026, 12, 1)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert attainment.month_previous(date(2026, 1, 1)) == date(2025, 12, 1)
    assert attainment.month_previous(MARCH) == date(2026, 2, 1)
    # 23:30 on 31 March in New York is already April in UTC
    new_york_evening = datetime(2026, 4, 1, 3, 30, tzinfo=UTC)
    assert attainment.month_current(new_york_evening) == date(2026, 4, 1)


def test_share_is_cut_not_rounded_and_target_met_uses_the_exact_share():
    assert attainment.share(2, 3) == Decimal("66.66")
    assert attainment.share(0, 0) is None
    assert attainment.share(18999, 20000) == Decimal("94.99")  # 94.995 exactly
    assert attainment.target_reached(18999, 20000, Decimal(95)) is False
    assert attainment.target_reached(19, 20, Decimal(95)) is True
    assert attainment.target_reached(0, 0, Decimal(95)) is True


# ------------------------------------------------------------------ the month's lines


def test_attainment_compute_counts_the_months_measured_clocks_per_metric_and_priority():
    # given
    setup = make_setup()
    make_march(setup)
    other = make_setup()  # another engagement's March
    make_clock(other, state="breached", stopped_at=at(10), priority="P1")
    # when
    lines = attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    # then
    assert lines == march_lines(setup)


def test_attainment_compute_is_one_grouped_query_and_one_for_targets_whatever_the_count():
    # given
    setup = make_setup()
    make_march(setup)
    # when
    with CaptureQueriesContext(connection) as ctx:
        attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    for n in range(5):
        make_clock(setup, state="met", stopped_at=at(10 + n), priority="P2")
    with CaptureQueriesContext(connection) as more:
        lines = attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    # then
    assert len(ctx.captured_queries) == 2
    assert len(more.captured_queries) == 2
    assert "GROUP BY" in ctx.captured_queries[0]["sql"]
    assert [(ln.priority, ln.measured) for ln in lines if ln.metric == "first_response"] == [
        ("P1", 10),
        ("P2", 5),
        ("P3", 3),
    ]


def test_an_empty_month_has_no_lines_and_takes_one_query():
    # given
    setup = make_setup()
    make_march(setup)
    # when
    with CaptureQueriesContext(connection) as ctx:
        lines = attainment.attainment_compute(engagement=setup.engagement, month=date(2026, 2, 1))
    # then
    assert lines == []
    assert len(ctx.captured_queries) == 1


def test_the_target_is_that_of_the_version_most_clocks_ran_on_ties_to_the_newest():
    # given: v2 asks 99 % of P1 first responses; 3 P1 clocks ran on v2, 2 on v1;
    # P2 clocks split 1 and 1
    setup = make_setup()
    v2 = contract_services.sla_policy_revise(
        actor=None,
        policy=setup.policy,
        targets=[
            target("first_response", "P1", "4", attainment_percent=Decimal(99)),
            target("first_response", "", "8", attainment_percent=Decimal("97.5")),
        ],
    )
    for policy in (setup.policy, setup.policy, v2, v2, v2):
        make_clock(setup, state="met", stopped_at=at(3), priority="P1", policy=policy)
    make_clock(setup, state="met", stopped_at=at(3), priority="P2", policy=setup.policy)
    make_clock(setup, state="breached", stopped_at=at(4), priority="P2", policy=v2)
    # when
    lines = attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    # then
    assert lines == [
        Line("first_response", "P1", 5, 5, 0, Decimal("100.00"), Decimal("99.00"), True, v2.pk),
        Line("first_response", "P2", 2, 1, 1, Decimal("50.00"), Decimal("97.50"), False, v2.pk),
    ]


def test_a_line_whose_version_has_no_target_for_it_has_no_target_and_is_not_missed():
    # given: a clock kept on a version that has no turnaround target
    setup = make_setup()
    bare = make_policy(setup.engagement, targets=[target("first_response", "P1", "4")])
    make_clock(setup, state="breached", stopped_at=at(9), metric="turnaround", policy=bare)
    # when
    (line,) = attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    # then
    assert (line.measured, line.missed, line.attainment_percent) == (1, 1, Decimal("0.00"))
    assert (line.target_percent, line.target_met) == (None, True)


def test_attainment_get_reads_a_live_month_in_three_queries():
    # given
    setup = make_setup()
    make_march(setup)
    viewer = make_principal(setup.engagement.client, "client_viewer")
    # when
    with CaptureQueriesContext(connection) as ctx:
        result = attainment.attainment_get(
            principal=viewer, engagement=setup.engagement, month=MARCH
        )
    # then
    assert (result.frozen, result.frozen_at, result.lines) == (False, None, march_lines(setup))
    assert len(ctx.captured_queries) == 3


def test_attainment_breaches_are_the_months_missed_clocks():
    # given
    setup = make_setup()
    make_march(setup)
    viewer = make_principal(setup.engagement.client, "client_viewer")
    # when
    clocks = attainment.attainment_breaches(
        principal=viewer, engagement=setup.engagement, month=MARCH
    )
    rows, cursor = attainment.newest_first(clocks, cursor=None, limit=50)
    # then
    assert [(c.priority, c.stopped_at) for c in rows] == [("P1", at(20)), ("P3", at(6))]
    assert cursor is None


def test_newest_first_pages_by_stop_then_id_through_equal_instants():
    # given: four breaches, two stopped at the same instant
    setup = make_setup()
    made = [
        make_clock(setup, state="breached", stopped_at=stop)
        for stop in (at(3), at(8), at(8), at(12))
    ]
    clocks = SlaClock.objects.filter(item__process=setup.process)
    # when
    first, cursor = attainment.newest_first(clocks, cursor=None, limit=2)
    assert cursor is not None
    second, end = attainment.newest_first(clocks, cursor=cursor, limit=2)
    # then
    assert [c.pk for c in first + second] == [made[3].pk, made[2].pk, made[1].pk, made[0].pk]
    assert end is None
    with pytest.raises(errors.ValidationFailed):
        attainment.newest_first(clocks, cursor="bm90LWEtY3Vyc29y", limit=2)


# ------------------------------------------------------------------ freezing


def test_attainment_freeze_stores_the_lines_and_audits_in_the_clients_chain():
    # given
    setup = make_setup()
    make_march(setup)
    finance = make_principal(setup.engagement.provider, "finance")
    # when
    result = attainment.attainment_freeze(actor=finance, engagement=setup.engagement, month=MARCH)
    # then
    assert result.frozen
    assert result.lines == march_lines(setup)
    rows = AttainmentMonth.objects.filter(engagement=setup.engagement).order_by(
        "metric", "priority"
    )
    assert [(r.month, r.metric, r.priority, r.measured, r.met, r.missed) for r in rows] == [
        (MARCH, "first_response", "P1", 10, 9, 1),
        (MARCH, "first_response", "P3", 3, 2, 1),
        (MARCH, "turnaround", "P3", 1, 1, 0),
    ]
    assert {(r.client_id, r.provider_id, r.frozen_by_id) for r in rows} == {
        (setup.engagement.client_id, setup.engagement.provider_id, finance.user.pk)  # type: ignore[union-attr]
    }
    event = AuditEvent.objects.get(organisation=setup.engagement.client, action="attainment.freeze")
    assert event.object_id == str(setup.engagement.pk)
    assert event.changes["attainment_month"] == [None, "2026-03"]
    assert [line["missed"] for line in event.changes["attainment_lines"][1]] == [1, 1, 0]


def test_a_frozen_month_reads_back_as_stored_in_one_query_whatever_the_clocks_do_later():
    # given: March frozen, then a met clock turns out breached and a late one lands in it
    setup = make_setup()
    make_march(setup)
    attainment.attainment_freeze(actor=None, engagement=setup.engagement, month=MARCH)
    SlaClock.objects.filter(item__process=setup.process, priority="P1", state="met").update(
        state="breached", breached=True
    )
    make_clock(setup, state="met", stopped_at=at(15), priority="P4")
    viewer = make_principal(setup.engagement.client, "client_viewer")
    # when
    with CaptureQueriesContext(connection) as ctx:
        result = attainment.attainment_get(
            principal=viewer, engagement=setup.engagement, month=MARCH
        )
    # then
    assert result.frozen
    assert result.frozen_at is not None
    assert result.frozen_by is None  # frozen by the system
    assert result.lines == march_lines(setup)
    assert len(ctx.captured_queries) == 1
    live = attainment.attainment_compute(engagement=setup.engagement, month=MARCH)
    assert [(ln.priority, ln.met) for ln in live if ln.metric == "first_response"] == [
        ("P1", 0),
        ("P3", 2),
        ("P4", 1),
    ]


def test_attainment_freeze_twice_is_a_conflict_and_changes_nothing():
    # given
    setup = make_setup()
    make_march(setup)
    ops = make_principal(setup.engagement.provider, "ops_manager")
    attainment.attainment_freeze(actor=ops, engagement=setup.engagement, month=MARCH)
    # when
    with pytest.raises(errors.Conflict) as exc:
        attainment.attainment_freeze(actor=ops, engagement=setup.engagement, month=MARCH)
    # then
    assert "2026-03 was frozen at" in exc.value.detail
    assert AttainmentMonth.objects.filter(engagement=setup.engagement).count() == 3
    assert AuditEvent.objects.filter(action="attainment.freeze").count() == 1


@pytest.mark.parametrize("months_ahead", [0, 1])
def test_a_month_not_over_cannot_be_frozen(months_ahead: int):
    # given: a measured clock in this month
    setup = make_setup()
    month = attainment.month_current()
    for _ in range(months_ahead):
        month = attainment.month_next(month)
    make_clock(setup, state="met", stopped_at=datetime.now(UTC))
    # when
    with pytest.raises(errors.Conflict) as exc:
        attainment.attainment_freeze(actor=None, engagement=setup.engagement, month=month)
    # then
    assert exc.value.detail == attainment.MONTH_OPEN.format(month=attainment.month_label(month))
    assert not AttainmentMonth.objects.exists()


def test_a_month_with_nothing_measured_cannot_be_frozen():
    # given
    setup = make_setup()
    make_clock(setup, state="cancelled", stopped_at=at(4))
    # when
    with pytest.raises(errors.Conflict) as exc:
        attainment.attainment_freeze(actor=None, engagement=setup.engagement, month=MARCH)
    # then
    assert exc.value.detail == attainment.NOTHING_MEASURED.format(month="2026-03")


@pytest.mark.parametrize("role", ["agent", "team_lead", "qa_analyst"])
def test_only_provider_admins_ops_managers_and_finance_freeze(role: str):
    # given
    setup = make_setup()
    make_march(setup)
    # when / then
    with pytest.raises(errors.PermissionDenied):
        attainment.attainment_freeze(
            actor=make_principal(setup.engagement.provider, role),
            engagement=setup.engagement,
            month=MARCH,
        )
    with pytest.raises(errors.PermissionDenied):
        attainment.attainment_freeze(
            actor=make_principal(setup.engagement.client, "client_admin"),
            engagement=setup.engagement,
            month=MARCH,
        )
    assert not AttainmentMonth.objects.exists()


def test_another_providers_admin_cannot_freeze_the_engagement():
    # given
    setup = make_setup()
    make_march(setup)
    stranger = make_principal(make_setup().engagement.provider, "admin")
    # when / then
    with pytest.raises(errors.NotFound):
        attainment.attainment_freeze(actor=stranger, engagement=setup.engagement, month=MARCH)
