"""Ready-made scenarios: the M/M/c(+M) model of the validation tests and the
benchmark, and a realistic multi-skill centre (pure)."""

from __future__ import annotations

from offload.twin.engine.model import (
    FIRST_RESPONSE,
    TURNAROUND,
    AgentModel,
    BotModel,
    Break,
    ProcessModel,
    QueueModel,
    RelaxStepModel,
    Scenario,
    Shift,
    SlaTarget,
)

HOUR = 3600.0
DAY = 24 * HOUR


def mmc(
    *,
    agents: int = 14,
    calls_per_hour: float = 200.0,
    aht_s: float = 180.0,
    patience_s: float | None = 300.0,
    target_s: float = 20.0,
    max_arrivals: int | None = None,
    horizon_s: float | None = None,
    replications: int = 10,
    warmup_s: float = 0.0,
    seed: int = 1,
    confidence: float = 0.99,
    site: str = "main",
) -> Scenario:
    """One process, one queue, `agents` identical always-on agents: M/M/c, or
    M/M/c+M with an exponential patience."""
    interval = 1800.0
    return Scenario(
        name=f"M/M/{agents}" + ("" if patience_s is None else "+M"),
        seed=seed,
        replications=replications,
        horizon_s=horizon_s,
        max_arrivals=max_arrivals,
        interval_s=interval,
        warmup_s=warmup_s,
        confidence=confidence,
        processes=(
            ProcessModel(
                id=1,
                name="calls",
                channel="voice",
                arrivals=(calls_per_hour * interval / HOUR,),
                aht_s=aht_s,
                patience_s=patience_s,
                sla=(SlaTarget(FIRST_RESPONSE, target_s),),
                queues={"": 1},
            ),
        ),
        queues=(QueueModel(id=1, process_id=1, channel="voice"),),
        agents=tuple(
            AgentModel(
                id=i + 1,
                site=site,
                hourly_cost=20.0,
                languages=frozenset({"en"}),
                certified=frozenset({1}),
                capacity={"voice": 1},
            )
            for i in range(agents)
        ),
    )


def _day_shifts(start_h: float, days: int) -> tuple[Shift, ...]:
    """Eight-hour shifts with a 30-minute break after four hours, every day."""
    out = []
    for d in range(days):
        begin = d * DAY + start_h * HOUR
        out.append(
            Shift(
                start_s=begin,
                end_s=begin + 8 * HOUR,
                breaks=(Break(begin + 4 * HOUR, begin + 4.5 * HOUR),),
            )
        )
    return tuple(out)


def multiskill(*, days: int = 7, replications: int = 5, seed: int = 7) -> Scenario:
    """A realistic centre: four processes (voice, chat, email, back office), two
    languages (en, es), four sites, 60 agents on shifts with breaks, priorities,
    SLA targets, a language relaxation step and a bot on the back office."""
    weekday = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    calendar = {"timezone": "America/New_York", "hours": weekday}
    # A daily profile of 48 half hours: quiet at night, busy by day.
    profile = tuple(0.2 if h < 14 or h >= 42 else (1.0 if 18 <= h < 34 else 0.6) for h in range(48))

    def process(
        pid: int, name: str, channel: str, per_half_hour: float, aht: float, patience: float | None
    ) -> ProcessModel:
        return ProcessModel(
            id=pid,
            name=name,
            channel=channel,
            arrivals=tuple(per_half_hour * x for x in profile),
            aht_s=aht,
            aht_cv=0.8,
            patience_s=patience,
            priority_mix={2: 0.2, 3: 0.8},
            language_mix={"en": 0.7, "es": 0.3},
            sla=(
                SlaTarget(FIRST_RESPONSE, 60.0 if channel != "email" else 4 * HOUR),
                SlaTarget(FIRST_RESPONSE, 30.0 if channel != "email" else 2 * HOUR, priority=2),
                SlaTarget(TURNAROUND, 8 * HOUR),
            ),
            calendar=calendar if channel in ("email", "backoffice") else None,
            bot_share=0.4 if channel == "backoffice" else 0.0,
            queues={"en": pid * 10, "es": pid * 10 + 1, "": pid * 10},
        )

    processes = (
        process(1, "support calls", "voice", 60.0, 300.0, 240.0),
        process(2, "sales chat", "chat", 40.0, 420.0, 600.0),
        process(3, "billing email", "email", 25.0, 480.0, None),
        process(4, "claims", "backoffice", 20.0, 600.0, None),
    )
    relax = (RelaxStepModel(after_s=120, languages=("en", "es")),)
    queues = tuple(
        QueueModel(
            id=p.id * 10 + k,
            process_id=p.id,
            channel=p.channel,
            required_skills={p.channel: 2},
            relaxation=relax if p.channel in ("voice", "chat") else (),
        )
        for p in processes
        for k in (0, 1)
    )
    sites = ("Manila", "Cebu", "Bogota", "Lisbon")
    agents = []
    for i in range(60):
        site = sites[i % 4]
        spanish = site == "Bogota" or i % 5 == 0
        languages = frozenset({"en", "es"} if spanish else {"en"})
        # Blend skills: everyone voice or chat, some email, a few back office.
        skills = {
            "voice": 3 if i % 3 != 2 else 1,
            "chat": 3 if i % 3 != 0 else 2,
            "email": 2 if i % 2 == 0 else 0,
        }
        skills["backoffice"] = 3 if i % 6 == 0 else 0
        certified = frozenset(
            pid
            for pid, channel in ((1, "voice"), (2, "chat"), (3, "email"), (4, "backoffice"))
            if skills[channel] >= 2
        )
        start_h = (6.0, 9.0, 12.0, 16.0, 22.0)[i % 5]
        agents.append(
            AgentModel(
                id=i + 1,
                site=site,
                hourly_cost={"Manila": 9.0, "Cebu": 8.0, "Bogota": 11.0, "Lisbon": 18.0}[site],
                skills=skills,
                languages=languages,
                certified=certified,
                capacity={
                    channel: {"chat": 2}.get(channel, 1)
                    for pid, channel in ((1, "voice"), (2, "chat"), (3, "email"), (4, "backoffice"))
                    if pid in certified
                },
                shifts=_day_shifts(start_h, days),
            )
        )
    return Scenario(
        name="multi-skill centre",
        seed=seed,
        replications=replications,
        start="2026-01-05T00:00:00+00:00",
        horizon_s=days * DAY,
        interval_s=1800.0,
        drain_s=DAY,
        confidence=0.95,
        processes=processes,
        queues=queues,
        agents=tuple(agents),
        bots=(
            BotModel(
                id=1, processes=frozenset({4}), service_s=90.0, concurrency=5, failure_rate=0.25
            ),
        ),
    )
