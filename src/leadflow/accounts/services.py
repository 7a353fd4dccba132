"""Users, memberships and API tokens."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.accounts import access, throttle
from leadflow.accounts.models import (
    ROLE_DEFAULT_GRANTS,
    ApiToken,
    Grant,
    Membership,
    Role,
    User,
    hash_token,
    new_secret,
)
from leadflow.core.actor import Actor
from leadflow.core.cache import config_changed
from leadflow.core.db import insert_rows
from leadflow.core.errors import (
    Conflict,
    ErrorCollector,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from leadflow.core.normalize import InvalidValue, normalize_email

TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)

# Sign-in lockouts and unlocks go to this log (there is no timeline of users).
security_log = logging.getLogger("leadflow.security")


def create_user(
    email: str, *, actor: Actor, name: str = "", password: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create a login (admins). Without a password the user cannot log in until one is set.
    Errors: PermissionDenied, ValidationFailed (email), Conflict (email taken)."""
    access.require_admin(actor)
    errors = ErrorCollector()
    try:
        email = normalize_email(email).lower()
    except InvalidValue as exc:
        errors.add("email", exc.code, exc.message)
    if len(name) > 200:
        errors.add("name", "too_long", "At most 200 characters.")
    elif "\x00" in name:
        errors.add("name", "invalid", "A name cannot contain a NUL character.")
    if password is not None and len(password) < 8:
        errors.add("password", "too_short", "At least 8 characters.")
    errors.raise_if_any()
    try:
        with transaction.atomic():
            return User.objects.create_user(email, password, name=name, is_admin=is_admin)
    except IntegrityError:
        raise Conflict(f"A user with e-mail {email} exists already.", code="exists")


def update_user(user: User, *, actor: Actor, name=None, is_admin=None, is_active=None,
                password=None) -> User:
    """Change a user's name, admin flag, active flag or password (admins; users their own
    name and password)."""
    if actor.user != user or is_admin is not None or is_active is not None:
        access.require_admin(actor)
    fields = []
    if name is not None:
        if len(name) > 200:
            raise ValidationFailed.one("name", "too_long", "At most 200 characters.")
        if "\x00" in name:
            raise ValidationFailed.one("name", "invalid", "A name cannot contain a NUL character.")
        user.name, fields = name, [*fields, "name"]
    if is_admin is not None:
        user.is_admin, fields = is_admin, [*fields, "is_admin"]
    if is_active is not None:
        user.is_active, fields = is_active, [*fields, "is_active"]
    if password is not None:
        if len(password) < 8:
            raise ValidationFailed.one("password", "too_short", "At least 8 characters.")
        user.set_password(password)
        fields.append("password")
    if fields:
        user.save(update_fields=fields)
        if is_active is not None:
            config_changed()  # routing keeps pool members per process
    return user


def set_membership(
    user: User, project, role: str, *, actor: Actor, grants: dict[str, bool] | None = None
) -> Membership:
    """Add `user` to `project` with `role`, or change their role. Managers of the project and
    admins may; an agent joins the project's default pool. Grants default to the role's."""
    access.require_manager(actor, project.pk)
    if role not in Role.values:
        raise ValidationFailed.one("role", "invalid", "Role must be manager or agent.")
    defaults = {g: g in ROLE_DEFAULT_GRANTS[Role(role)] for g in Grant.values}
    for grant, value in (grants or {}).items():
        if grant not in Grant.values:
            raise ValidationFailed.one(grant, "unknown_field", f"No grant '{grant}'.")
        defaults[grant] = bool(value)
    with transaction.atomic():
        membership, _ = Membership.objects.update_or_create(
            user=user, project=project, defaults={"role": role, **defaults}
        )
        if role == Role.AGENT:
            default_pool = project.pools.filter(is_default=True).first()
            if default_pool is not None:
                default_pool.members.add(user)
    if hasattr(user, "_membership_cache"):
        del user._membership_cache
    config_changed()  # routing keeps pool members per process
    return membership


def remove_membership(user: User, project, *, actor: Actor) -> None:
    """Take `user` out of `project` and its pools. Their leads keep their owner until a
    manager reassigns them."""
    access.require_manager(actor, project.pk)
    with transaction.atomic():
        deleted, _ = Membership.objects.filter(user=user, project=project).delete()
        if not deleted:
            raise NotFound("Membership not found.")
        for pool in project.pools.filter(members=user):
            pool.members.remove(user)
    config_changed()  # routing keeps pool members per process


def issue_token(user: User, *, actor: Actor, name: str = "") -> str:
    """A new API token for `user` (themselves, or an admin). Returns the secret, shown once;
    only its SHA-256 is stored."""
    if actor.user != user:
        access.require_admin(actor)
    raw = new_secret()
    ApiToken.objects.create(user=user, name=name[:100], token_hash=hash_token(raw), prefix=raw[:8])
    return raw


def authenticate_token(raw: str) -> User | None:
    """The active user of a bearer token, found by its hash through the unique index."""
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw)).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        # At most one write a minute per token, not one per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- sign-in and credential throttles ---------------------------------------------------------


def _too_many(wait: int) -> RateLimited:
    return RateLimited(f"Too many failed sign-ins. Try again in {throttle.in_words(wait)}.",
                       retry_after=wait)


def sign_in(email: str, password: str, *, address: str) -> User:
    """Check an e-mail and password from the client at `address`; returns the user.

    Rules: failed sign-ins are counted per account (the e-mail, whether or not such a user
    exists) and per client address, over the last hour. An account's first 5 failures pass;
    after that each attempt waits 2, 4, 8, 16 seconds after the previous failure, and from 10
    failures the account is locked for 15 minutes after the last one. An address's first 90
    failures (any accounts) pass; the 91st waits 2 seconds, then the delay doubles, up to 15
    minutes. A waiting attempt is refused without checking the password, with the same message
    whether or not the account exists. A successful sign-in clears the account's failures (the
    address keeps its own). When a failure locks an existing account, its owner gets an in-app
    notification (`sign_in_locked`) saying until when, and the lockout is logged on
    `leadflow.security`.

    Errors: RateLimited (with `retry_after` seconds), Unauthenticated (wrong e-mail or
    password, or an inactive user)."""
    account_key = throttle.sign_in_account_key(email)
    address_key = throttle.sign_in_address_key(address)
    attempt = throttle.attempt([(account_key, throttle.SIGN_IN_ACCOUNT),
                                (address_key, throttle.SIGN_IN_ADDRESS)])
    if attempt.wait:
        raise _too_many(attempt.wait)
    user = authenticate(None, username=email, password=password)
    if user is not None and user.is_active:
        throttle.clear(account_key)
        throttle.forgive([attempt.ids[address_key]])
        return user
    failures = attempt.counts[account_key]
    if throttle.SIGN_IN_ACCOUNT.locks(failures):
        _lock_out(email, failures, address)
    raise Unauthenticated("Wrong e-mail or password.", code="invalid_login")


def _lock_out(email: str, failures: int, address: str) -> None:
    until = timezone.now() + throttle.SIGN_IN_ACCOUNT.lockout
    owner = User.objects.filter(email=email.strip().lower()).first()
    security_log.warning(
        "Sign-in to %s locked until %s after %d failed attempts in an hour (last from %s).",
        email.strip().lower(), until.isoformat(timespec="seconds"), failures, address,
    )
    if owner is not None:
        notify([owner.pk], "sign_in_locked",
               f"Someone tried to sign in to your account with a wrong password {failures} "
               f"times in the last hour, so signing in is locked until {local_time(until)}. "
               "If it was not you, tell an admin.")


def local_time(moment: datetime) -> str:
    """'14:05 on 7 December (UTC)': a time as people of this install read it."""
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local.day} {local:%B} ({local.tzname()})"


def sign_in_locked_until(user: User) -> tuple[datetime | None, int]:
    """Until when `user`'s sign-ins wait (None: they do not) and how many failed sign-ins
    count against the account now."""
    return throttle.waiting(throttle.sign_in_account_key(user.email), throttle.SIGN_IN_ACCOUNT)


def sign_in_locked_emails() -> dict[str, datetime]:
    """The e-mails whose sign-ins wait now, with until when (one query over the last hour's
    failed sign-ins, for the users screen)."""
    return throttle.waiting_keys(throttle.SIGN_IN_ACCOUNT_PREFIX, throttle.SIGN_IN_ACCOUNT)


def unlock_user(user: User, *, actor: Actor) -> int:
    """Forget `user`'s failed sign-ins, which lifts a lockout or delay of the account at once
    (admins). Failures counted against a client address stay. Returns how many failures were
    forgotten; logged on `leadflow.security`. Errors: PermissionDenied."""
    access.require_admin(actor)
    forgotten = throttle.clear(throttle.sign_in_account_key(user.email))
    by = actor.user.email if actor.user is not None else f"the {actor.channel}"
    security_log.warning("Sign-in to %s unlocked by %s (%d failed attempts forgotten).",
                         user.email, by, forgotten)
    return forgotten


def count_wrong_credential(address: str) -> None:
    """Count a wrong bearer token or bucket key from the client at `address`. More than 20 in
    a minute (sliding) from one address: RateLimited, with `retry_after` seconds until the
    oldest counted one leaves the minute; refused ones are not counted. Callers call this only
    once the credential failed: a correct one is never slowed by others' mistakes."""
    attempt = throttle.attempt([(throttle.wrong_credential_key(address),
                                 throttle.WRONG_CREDENTIAL)])
    if attempt.wait:
        raise RateLimited("Too many requests with a wrong API token or key from your address. "
                          f"Try again in {throttle.in_words(attempt.wait)}.",
                          retry_after=attempt.wait)


# --- notifications ------------------------------------------------------------------------


def notify(user_ids, kind: str, message: str, *, project_id: int | None = None,
           lead_id: int | None = None, offer_id: int | None = None) -> None:
    """Write in-app notifications (outbox rows) in the caller's transaction."""
    from leadflow.accounts.models import Notification

    now = timezone.now()
    Notification.objects.bulk_create([
        Notification(user_id=user_id, kind=kind, message=message[:500], project_id=project_id,
                     lead_id=lead_id, offer_id=offer_id, created_at=now)
        for user_id in dict.fromkeys(u for u in user_ids if u is not None)
    ])


def notify_each(items) -> None:
    """Write several notifications at once: `items` of (user id, kind, message, project id,
    lead id)."""
    from leadflow.accounts.models import Notification

    now = timezone.now()
    insert_rows(Notification, [
        Notification(user_id=user_id, kind=kind, message=message[:500], project_id=project_id,
                     lead_id=lead_id, created_at=now)
        for user_id, kind, message, project_id, lead_id in items if user_id is not None
    ])


def mark_notifications_read(user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when `ids` is None)."""
    from leadflow.accounts.models import Notification

    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


def open_notification(user, notification_id: int):
    """The user opens one of their notifications: it is marked read (once; reading it again
    keeps the first time) and returned, so the caller can show what it tells of. Another
    user's notification does not exist for them. Errors: NotFound."""
    from leadflow.accounts.models import Notification

    notification = Notification.objects.filter(pk=notification_id, user_id=user.pk).first()
    if notification is None:
        raise NotFound("Notification not found.")
    if notification.read_at is None:
        now = timezone.now()
        # Conditional, so two tabs opening it at once keep one read time.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.refresh_from_db(fields=["read_at"])
    return notification


def set_away(project_id: int, user: User, away: bool, *, actor: Actor) -> Membership:
    """Mark a member away (skipped by automatic routing) or back. Members set their own flag;
    managers anyone's in their project. Errors: NotFound, PermissionDenied."""
    access.require_member(actor, project_id)
    if actor.user != user and not access.is_manager(actor, project_id):
        raise PermissionDenied("Only a manager may set another member's away flag.")
    found = Membership.objects.filter(project_id=project_id, user=user).first()
    if found is None:
        raise NotFound("That user is not a member of this project.")
    if found.away != away:
        found.away = away
        found.save(update_fields=["away"])
        config_changed()  # routing keeps away flags per process
    return found
