import pytest

from offload.contracts.tests.factories import make_engagement, make_process
from offload.tenancy.tests.factories import api_client, key_for, make_client, make_provider

pytestmark = pytest.mark.django_db


def test_process_list_shows_only_own_client():
    # given
    provider = make_provider()
    acme, globex = make_client(), make_client()
    make_process(make_engagement(acme, provider), name="Email support")
    make_process(make_engagement(globex, provider), name="Claims")
    # when
    response = api_client(key_for(acme)).get("/api/v1/processes")
    # then
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["Email support"]
