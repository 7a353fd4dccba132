"""Domain errors. Services raise them; callers translate them (HTTP status, form errors, exit 1)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, detail: str, *, code: str | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class ValidationFailed(DomainError):
    """Bad input: one or more field errors. HTTP 400."""

    code = "invalid"
    status = 400

    def __init__(self, errors: list[FieldError] | FieldError, detail: str | None = None):
        self.errors = errors if isinstance(errors, list) else [errors]
        if detail is None:
            detail = "; ".join(f"{e.field}: {e.message}" for e in self.errors) or "Invalid input."
        super().__init__(detail)

    @classmethod
    def one(cls, field_name: str, code: str, message: str) -> ValidationFailed:
        return cls([FieldError(field_name, code, message)])


class PermissionDenied(DomainError):
    """Visible but not allowed. HTTP 403."""

    code = "forbidden"
    status = 403


class NotFound(DomainError):
    """Missing or not visible; the two are never told apart. HTTP 404."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    """A lost race, a duplicate without a choice, or a state that forbids the action. HTTP 409."""

    code = "conflict"
    status = 409


@dataclass
class ErrorCollector:
    """Gathers field errors during validation and raises them together."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field_name, code, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


class Unauthenticated(DomainError):
    """No or bad credentials (e.g. a bucket key). HTTP 401."""

    code = "unauthorized"
    status = 401


class RateLimited(DomainError):
    """Too many requests (from one address, or for one account). HTTP 429; `retry_after` is
    the number of seconds to wait (the Retry-After header)."""

    code = "rate_limited"
    status = 429

    def __init__(self, detail: str, *, retry_after: int | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class TooLarge(DomainError):
    """A body or item over its size limit. HTTP 413."""

    code = "too_large"
    status = 413
