"""Users routes and API tokens."""

import json
from datetime import datetime, timedelta

import pytest
import time_machine

from leadflow.accounts import services
from leadflow.accounts.models import ApiToken, User, hash_token
from leadflow.core.errors import PermissionDenied
from tests.factories import SYSTEM, World, as_actor, auth, make_project, make_user

T0 = datetime.fromisoformat("2030-06-01T10:00:00+00:00")


def call(client, w, who, method, path, body=None):
    headers = auth(w.user(who)) if who != "anonymous" else {}
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json",
                                   **headers)


def error_codes(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def user_rows() -> list[dict]:
    return list(User.objects.order_by("pk").values())


# --- /users ------------------------------------------------------------------------------------


def test_me_describes_the_caller(client):
    w = World()

    response = call(client, w, "viewer", "get", "/api/v1/users/me")

    assert response.status_code == 200
    assert response.json() == {"id": w.viewer.pk, "email": w.viewer.email, "name": w.viewer.name,
                               "is_admin": False,
                               "memberships": [{"project": w.project.pk, "role": "agent"}]}


def test_me_without_credentials_is_401(client):
    assert client.get("/api/v1/users/me").status_code == 401


@pytest.mark.parametrize("_case, who, expected", [
    ("agent", "agent", "team"),
    ("manager", "manager", "team"),
    ("admin", "admin", "everyone"),
    ("non_member", "outsider", "outsider"),
])
def test_users_list_matrix(client, _case, who, expected):
    w = World()
    team = {w.agent.pk, w.other_agent.pk, w.viewer.pk, w.manager.pk}

    response = call(client, w, who, "get", "/api/v1/users")

    assert response.status_code == 200
    seen = [u["id"] for u in response.json()]
    assert len(seen) == len(set(seen))
    assert set(seen) == {
        "team": team,
        "everyone": set(User.objects.values_list("pk", flat=True)),
        "outsider": {w.outsider.pk, w.foreign_manager.pk},
    }[expected]


def test_users_list_needs_credentials(client):
    assert client.get("/api/v1/users").status_code == 401


def test_user_of_another_project_is_404(client):
    w = World()

    assert call(client, w, "agent", "get", f"/api/v1/users/{w.manager.pk}").status_code == 200
    assert call(client, w, "agent", "get", f"/api/v1/users/{w.outsider.pk}").status_code == 404
    assert call(client, w, "admin", "get", f"/api/v1/users/{w.outsider.pk}").status_code == 200


@pytest.mark.parametrize("_case, who, status", [
    ("anonymous", "anonymous", 401),
    ("agent", "agent", 403),
    ("manager", "manager", 403),
    ("admin", "admin", 201),
    ("non_member", "outsider", 403),
])
def test_create_user_matrix(client, _case, who, status):
    w = World()
    before = user_rows()

    response = call(client, w, who, "post", "/api/v1/users",
                    {"email": "New.Person@Example.com", "name": "New Person",
                     "password": "s3cret-pass"})

    assert response.status_code == status
    if status == 201:
        user = User.objects.get(email="new.person@example.com")
        assert response.json() == {"id": user.pk, "email": "new.person@example.com",
                                   "name": "New Person", "is_admin": False, "memberships": []}
        assert user.check_password("s3cret-pass")
    else:
        assert user_rows() == before


def test_create_user_rules(client):
    w = World()

    taken = call(client, w, "admin", "post", "/api/v1/users", {"email": w.agent.email.upper()})
    invalid = call(client, w, "admin", "post", "/api/v1/users",
                   {"email": "nope", "password": "short"})
    unknown = call(client, w, "admin", "post", "/api/v1/users", {"email": "a@b.io", "role": "x"})

    assert taken.status_code == 409
    assert (invalid.status_code, sorted(error_codes(invalid))) == (
        400, [("email", "invalid_email"), ("password", "too_short")])
    assert (unknown.status_code, error_codes(unknown)) == (400, [("role", "unknown_field")])


def test_user_changes_their_own_name_and_password(client):
    w = World()

    response = call(client, w, "agent", "patch", f"/api/v1/users/{w.agent.pk}",
                    {"name": "Renamed", "password": "another-pass"})

    assert (response.status_code, response.json()["name"]) == (200, "Renamed")
    assert User.objects.get(pk=w.agent.pk).check_password("another-pass")


@pytest.mark.parametrize("_case, who, target, body, status", [
    ("agent_makes_self_admin", "agent", "agent", {"is_admin": True}, 403),
    ("agent_renames_colleague", "agent", "other_agent", {"name": "X"}, 403),
    ("manager_deactivates_agent", "manager", "agent", {"is_active": False}, 403),
    ("agent_renames_stranger", "agent", "outsider", {"name": "X"}, 404),
    ("anonymous", "anonymous", "agent", {"name": "X"}, 401),
])
def test_update_user_refusals(client, _case, who, target, body, status):
    w = World()
    before = user_rows()

    response = call(client, w, who, "patch", f"/api/v1/users/{w.user(target).pk}", body)

    assert response.status_code == status
    assert user_rows() == before


def test_admin_deactivates_a_user_and_their_token_stops_working(client):
    w = World()
    headers = auth(w.agent)
    assert client.get("/api/v1/users/me", **headers).status_code == 200

    response = call(client, w, "admin", "patch", f"/api/v1/users/{w.agent.pk}",
                    {"is_active": False})

    assert response.status_code == 200
    assert client.get("/api/v1/users/me", **headers).status_code == 401


# --- tokens ------------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_its_hash():
    user = make_user(make_project(), "agent")

    raw = services.issue_token(user, actor=as_actor(user), name="laptop")

    token = ApiToken.objects.get(user=user)
    assert len(raw) >= 43
    assert (token.token_hash, token.prefix, token.name) == (hash_token(raw), raw[:8], "laptop")
    assert raw not in token.token_hash


def test_each_token_is_new():
    user = make_user()

    first = services.issue_token(user, actor=as_actor(user))
    second = services.issue_token(user, actor=as_actor(user))

    assert first != second
    assert ApiToken.objects.filter(user=user).count() == 2


def test_only_an_admin_issues_a_token_for_someone_else():
    project = make_project()
    manager, agent = make_user(project, "manager"), make_user(project, "agent")

    with pytest.raises(PermissionDenied):
        services.issue_token(agent, actor=as_actor(manager))

    assert not ApiToken.objects.filter(user=agent).exists()
    assert services.issue_token(agent, actor=as_actor(make_user(admin=True)))
    assert services.issue_token(agent, actor=SYSTEM)


def test_authenticate_token_finds_the_active_user():
    user = make_user()
    raw = services.issue_token(user, actor=as_actor(user))

    assert services.authenticate_token(raw) == user
    assert services.authenticate_token(raw + "x") is None
    assert services.authenticate_token("") is None


def test_last_used_is_written_at_most_once_a_minute(client):
    user = make_user(make_project(), "agent")
    raw = services.issue_token(user, actor=as_actor(user))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    with time_machine.travel(T0, tick=False):
        client.get("/api/v1/users/me", **headers)
    with time_machine.travel(T0 + timedelta(seconds=59), tick=False):
        client.get("/api/v1/users/me", **headers)
        assert ApiToken.objects.get(user=user).last_used_at == T0
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        client.get("/api/v1/users/me", **headers)
        assert ApiToken.objects.get(user=user).last_used_at == T0 + timedelta(seconds=61)


def test_a_bearer_without_a_value_is_401(client):
    assert client.get("/api/v1/users/me", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get("/api/v1/users/me", HTTP_AUTHORIZATION="Basic abc").status_code == 401


def test_membership_changes_role_and_grants():
    project = make_project()
    user = make_user(project, "agent")

    membership = services.set_membership(user, project, "manager", actor=SYSTEM,
                                         grants={"view_all_leads": False})

    assert (membership.role, membership.manage_leads, membership.view_all_leads) == (
        "manager", True, False)
    assert user.memberships.get().role == "manager"
