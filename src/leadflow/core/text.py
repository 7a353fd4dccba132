"""Text no database stores verbatim, refused wherever input arrives.

NUL characters: PostgreSQL text and jsonb cannot hold them (SQLite would store them silently).
Lone UTF-16 surrogates (`"\\udfff"` in JSON): not Unicode, so no encoder writes them and the
database driver fails. The API's parser (`leadflow.core.api.CheckedParser`) runs this check
on every JSON body, query value and form field, intake on its raw payloads and
`UnstorableInputMiddleware` on the UI's query strings and forms; each answers 400 with the
offending fields."""

from __future__ import annotations

from leadflow.core.errors import FieldError, ValidationFailed

MAX_DEPTH = 64
MESSAGE = "Text cannot contain a NUL character or invalid Unicode (a lone surrogate)."


def storable(text: str) -> bool:
    """False for text with a NUL character or a lone surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def unstorable_fields(value, root: str = "") -> list[str]:
    """The dotted paths of the strings (values or keys) in a parsed JSON value that no
    database stores, in document order; `root` names the value itself. Nesting beyond
    MAX_DEPTH levels is ValidationFailed (it would exhaust the JSON encoder later)."""
    found: list[str] = []
    stack = [(value, root, 1)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValidationFailed.one(root or "body", "invalid",
                                       f"The body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, str):
            if not storable(item):
                found.append(path)
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key_text = str(key)
                child_path = f"{path}.{key_text}" if path else key_text
                if not storable(key_text):
                    found.append(path)
                    continue
                children.append((child, child_path, depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(
                reversed([(child, f"{path}.{i}" if path else str(i), depth + 1)
                          for i, child in enumerate(item)])
            )
    return found


def check_storable(value, root: str = "") -> None:
    """ValidationFailed (`invalid`, one error per field) when `value` holds unstorable text;
    a field at the top level without a name is `body`."""
    fields = unstorable_fields(value, root)
    if fields:
        unique = list(dict.fromkeys(field or "body" for field in fields))
        raise ValidationFailed([FieldError(field, "invalid", MESSAGE) for field in unique])


def check_query(data) -> None:
    """The same check for a QueryDict (query string or form fields), by parameter name."""
    bad = [key for key in data if not storable(key)
           or not all(storable(v) for v in data.getlist(key) if isinstance(v, str))]
    if bad:
        raise ValidationFailed([FieldError(key if storable(key) else "query", "invalid",
                                           MESSAGE) for key in dict.fromkeys(bad)])
