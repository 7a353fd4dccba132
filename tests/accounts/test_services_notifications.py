"""Opening one notification: the owner's only, marked read once."""

import pytest

from leadflow.accounts import services
from leadflow.accounts.models import Notification
from leadflow.core.errors import NotFound
from tests.factories import make_project, make_user


def _note(user, **kwargs) -> Notification:
    services.notify([user.pk], "lead_assigned", "Lead X was assigned to you.", **kwargs)
    return Notification.objects.filter(user=user).latest("pk")


def test_opening_marks_only_that_notification_read():
    project = make_project()
    agent = make_user(project, "agent")
    opened, other = _note(agent, lead_id=1), _note(agent, lead_id=2)

    result = services.open_notification(agent, opened.pk)

    assert result.pk == opened.pk and result.read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None


def test_another_users_notification_is_not_found_and_stays_unread():
    project = make_project()
    agent, other = make_user(project, "agent"), make_user(project, "agent")
    theirs = _note(other)

    with pytest.raises(NotFound):
        services.open_notification(agent, theirs.pk)

    assert Notification.objects.get(pk=theirs.pk).read_at is None
