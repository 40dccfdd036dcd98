"""Skill-based routing in Ciw, to cross-check the twin on a genuine two-skill centre.

Plain Ciw serves every customer class from one pool of identical servers; its
server priority functions only order the servers. Here a `ciw.Node` subclass gives
each server a set of skills (the customer classes it may serve) and routes as the
twin's engine does (docs/twin.md, "Routing"):

- push: an arriving customer goes to the free server skilled for its class that
  has been idle longest (idle since its last completion, or since the start);
  ties go to the server listed first; if there is none, it waits;
- pull: a server that frees takes, among the waiting customers it is skilled for,
  the one with the lowest (priority, due time, arrival, arrival order) key: the
  platform's pull rule across queues (`routing.DEFAULT_ORDERING`), the due time
  being arrival + the class's first-response target.

Everything else is Ciw's own: exponential arrivals (stopped at the horizon so the
run drains, as the twin's does), exponential service, reneging (exponential
patience, counted from arrival, never during service), records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ciw


@dataclass(frozen=True)
class CustomerClass:
    name: str
    per_hour: float
    aht_s: float
    patience_s: float | None
    target_s: float
    priority: int = 3


@dataclass(frozen=True)
class AgentGroup:
    name: str
    size: int
    skills: frozenset[str]  # customer class names


@dataclass(frozen=True)
class ClassFigures:
    service_level: float  # met the target / arrived (abandoned ones miss)
    abandon_rate: float
    asa_s: float  # mean wait of the served


@dataclass(frozen=True)
class Figures:
    by_class: dict[str, ClassFigures]
    asa_s: float  # mean wait of every served customer
    occupancy: dict[str, float]  # per agent group, over [warm-up, end of run]


class ArrivalsUntil(ciw.dists.Distribution):  # type: ignore[misc]
    """Exponential inter-arrival times, none past the horizon (the run drains)."""

    def __init__(self, per_second: float, horizon_s: float) -> None:
        self.inner = ciw.dists.Exponential(per_second)
        self.horizon_s = horizon_s

    def sample(self, t: float | None = None, ind: Any = None) -> float:
        gap: float = self.inner.sample(t=t, ind=ind)
        return gap if (t or 0.0) + gap <= self.horizon_s else math.inf


class SkilledNode(ciw.Node):  # type: ignore[misc]
    """One node whose servers have skills; `skilled_node` sets the class data."""

    server_skills: tuple[frozenset[str], ...] = ()
    server_group: tuple[str, ...] = ()
    keys: dict[str, tuple[int, float]] = {}  # class -> (priority, first-response target)

    def create_starting_servers(self) -> list[Any]:
        servers: list[Any] = super().create_starting_servers()
        for server, skills, group in zip(
            servers, self.server_skills, self.server_group, strict=True
        ):
            server.skills = skills
            server.group = group
            server.idle_since = 0.0
        return servers

    def _start(self, server: Any, ind: Any) -> None:
        self.attach_server(server, ind)
        ind.service_start_date = self.now
        ind.service_time = self.get_service_time(ind)
        ind.service_end_date = self.now + ind.service_time
        self.number_in_service += 1
        server.next_end_service_date = ind.service_end_date

    def begin_service_if_possible_accept(self, next_individual: Any) -> None:
        # Push: the longest-idle free server skilled for the arriving class.
        next_individual.arrival_date = self.now
        if self.reneging is True:
            next_individual.reneging_date = self.get_reneging_date(next_individual)
        best = None
        for server in self.servers:
            if server.busy or next_individual.customer_class not in server.skills:
                continue
            if best is None or server.idle_since < best.idle_since:
                best = server
        if best is not None:
            self._start(best, next_individual)

    def _key(self, ind: Any) -> tuple[float, float, float, int]:
        priority, target = self.keys[ind.customer_class]
        return (priority, ind.arrival_date + target, ind.arrival_date, ind.id_number)

    def begin_service_if_possible_release(
        self, next_individual: Any, newly_free_server: Any
    ) -> None:
        # Pull: the freed server takes the first waiting customer it is skilled for.
        server = newly_free_server
        if server is None or server not in self.servers:
            return
        server.idle_since = self.now
        waiting = [
            ind
            for ind in self.all_individuals
            if not ind.server and ind.customer_class in server.skills
        ]
        if waiting:
            self._start(server, min(waiting, key=self._key))


def skilled_node(
    classes: Sequence[CustomerClass], groups: Sequence[AgentGroup]
) -> type[SkilledNode]:
    skills = tuple(g.skills for g in groups for _ in range(g.size))
    names = tuple(g.name for g in groups for _ in range(g.size))
    keys = {c.name: (c.priority, c.target_s) for c in classes}
    return type(
        "Skilled",
        (SkilledNode,),
        {"server_skills": skills, "server_group": names, "keys": keys},
    )


def replicate(
    classes: Sequence[CustomerClass],
    groups: Sequence[AgentGroup],
    *,
    horizon_s: float,
    warmup_s: float,
    seed: int,
) -> Figures:
    """One Ciw replication: arrivals until the horizon, then the run drains; the
    figures count customers arriving from the warm-up on, as the twin does."""
    network = ciw.create_network(
        arrival_distributions={
            c.name: [ArrivalsUntil(c.per_hour / 3600.0, horizon_s)] for c in classes
        },
        service_distributions={c.name: [ciw.dists.Exponential(1 / c.aht_s)] for c in classes},
        reneging_time_distributions={
            c.name: [None if c.patience_s is None else ciw.dists.Exponential(1 / c.patience_s)]
            for c in classes
        },
        number_of_servers=[sum(g.size for g in groups)],
    )
    node = skilled_node(classes, groups)
    ciw.seed(seed)
    simulation = ciw.Simulation(network, node_class=node)
    simulation.simulate_until_max_time(math.inf)
    records = simulation.get_all_records(only=["service", "renege"])
    assert not simulation.nodes[1].all_individuals  # everyone served or gone
    served_by = [(r.customer_class, r.server_id) for r in records if r.record_type == "service"]
    # Servers are numbered from 1 in the order of `node.server_skills`.
    assert all(c in node.server_skills[s - 1] for c, s in served_by)  # skills held
    counted = [r for r in records if r.arrival_date >= warmup_s]
    by_class: dict[str, ClassFigures] = {}
    for c in classes:
        mine = [r for r in counted if r.customer_class == c.name]
        served = [r for r in mine if r.record_type == "service"]
        met = sum(r.waiting_time <= c.target_s for r in served)
        by_class[c.name] = ClassFigures(
            service_level=met / len(mine),
            abandon_rate=(len(mine) - len(served)) / len(mine),
            asa_s=sum(r.waiting_time for r in served) / len(served),
        )
    served_all = [r for r in counted if r.record_type == "service"]
    end = max(horizon_s, max(r.exit_date for r in records))
    group_of = dict(enumerate(node.server_group, start=1))
    busy = {g.name: 0.0 for g in groups}
    for r in records:
        if r.record_type == "service":
            busy[group_of[r.server_id]] += max(
                0.0, min(r.service_end_date, end) - max(r.service_start_date, warmup_s)
            )
    return Figures(
        by_class=by_class,
        asa_s=sum(r.waiting_time for r in served_all) / len(served_all),
        occupancy={g.name: busy[g.name] / (g.size * (end - warmup_s)) for g in groups},
    )
