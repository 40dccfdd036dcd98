"""The demo's workers: its 40 agents and 2 bots, ready for routing."""

import pytest

from offload.contracts.models import Process
from offload.demo import seed
from offload.workers.models import PresenceChange, Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(tmp_path) -> None:
    seed.load(credentials_path=tmp_path / "credentials.json")


def test_every_agent_is_a_worker_at_its_site_speaking_its_sites_languages(loaded):
    # when
    agents = Worker.objects.filter(kind="agent").select_related("site", "user")
    # then
    assert agents.count() == 40
    for agent in agents:
        assert agent.site is not None
        code = agent.user.username[len("agent.") : -2]
        assert {"mnl": "manila", "krk": "krakow", "mty": "monterrey", "aus": "austin"}[
            code
        ] == agent.site.slug
        assert agent.languages
        assert set(agent.languages) <= set(agent.site.languages), agent
        assert agent.skills
        assert all(1 <= level <= 5 for level in agent.skills.values())
        assert agent.processes.exists(), agent
        assert agent.channels.filter(capacity__gt=0).exists(), agent


def test_every_process_has_certified_agents_who_meet_it(loaded):
    # given
    processes = Process.objects.filter(client__slug__in=["acme", "globex"])
    # then: someone available, skilled enough, speaking a language, with room on the channel
    for process in processes:
        fit = [
            w
            for w in Worker.objects.filter(kind="agent", processes=process, presence="available")
            if all(w.skills.get(s, 0) >= level for s, level in process.required_skills.items())
            and set(w.languages) & set(process.languages)
            and w.channels.filter(channel=process.channel, capacity__gt=0).exists()
        ]
        assert len(fit) >= 2, process.slug


def test_agents_follow_the_engagements_sites(loaded):
    # then: Acme from Manila, Monterrey and Austin; Globex from Krakow and Manila
    def sites(client: str) -> set[str]:
        workers = Worker.objects.filter(processes__client__slug=client)
        return set(workers.values_list("site__slug", flat=True).distinct())

    assert sites("acme") == {"manila", "monterrey", "austin"}
    assert sites("globex") - {None} == {"krakow", "manila"}


def test_the_bots_are_unattended_workers_on_globex_processes(loaded):
    # when
    bots = {w.user.username: w for w in Worker.objects.filter(kind="bot").select_related("user")}
    # then
    assert set(bots) == {"bot.invoice-check", "bot.claims-intake"}
    for username, slug in (
        ("bot.invoice-check", "ap-invoices"),
        ("bot.claims-intake", "claims-entry"),
    ):
        bot = bots[username]
        assert bot.bot_mode == "unattended"
        assert bot.presence == "available"
        assert list(bot.processes.values_list("client__slug", "slug")) == [("globex", slug)]
        assert dict(bot.channels.values_list("channel", "capacity")) == {
            "back_office": bot.concurrency
        }


def test_the_floor_has_a_presence_log(loaded):
    # then: every worker not offline got there through a logged change
    for worker in Worker.objects.exclude(presence="offline"):
        change = PresenceChange.objects.get(worker=worker)
        assert (change.previous, change.presence) == ("offline", worker.presence)
        assert worker.presence_changed_at == change.at
    assert Worker.objects.filter(presence="available").count() >= 25
