"""Secrets encrypted at rest with the keys in `settings.ENCRYPTION_KEYS`.

A model stores a secret in an `EncryptedField`: a text column that holds only the Fernet
token. Nothing decrypts on load, so a row rendered by mistake (a template, the admin, a
log line) shows ciphertext, never the secret; code that needs the secret calls `decrypt`.

The first key encrypts; every key decrypts. To rotate: put a new key first, keep the old
ones after it, run `manage.py rotate_encryption_keys` (which re-encrypts every
`EncryptedField` of every model under the new key), then drop the old keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, transaction

if TYPE_CHECKING:
    _TextField = models.TextField[str, str]
else:
    # Django's fields are generic only in django-stubs (no `__class_getitem__` at run time).
    _TextField = models.TextField


class EncryptedField(_TextField):
    """A text column holding a Fernet token; encrypt with `encrypt`, read with `decrypt`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)


def _keys() -> list[Fernet]:
    return [Fernet(key) for key in settings.ENCRYPTION_KEYS]


def encrypt(plaintext: str) -> str:
    """Return the token of `plaintext` under the first (current) key."""
    return _keys()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Return the plaintext of `token`, made under any configured key."""
    return MultiFernet(_keys()).decrypt(token.encode()).decode()


def mask_secret(secret: str) -> str:
    """Return a display hint such as `sk-...abcd` that does not reveal the secret."""
    # A short secret would be half revealed by its ends: show nothing of it.
    return f"{secret[:3]}...{secret[-4:]}" if len(secret) >= 16 else "..."


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedField]]:
    """Return every (model, field) pair of every installed model that holds a secret."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedField)
    ]


@dataclass(frozen=True)
class RotationCount:
    label: str
    rotated: int
    current: int


def _is_current(token: str, current: Fernet) -> bool:
    try:
        current.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def encrypted_fields_rotate() -> list[RotationCount]:
    """Re-encrypt, under the first key, every secret made under an older key.

    Idempotent: a token the first key already decrypts is left alone, so a second run
    rotates nothing. Raises `InvalidToken` if a secret decrypts under no configured key.
    """
    keys = _keys()
    multi = MultiFernet(keys)
    counts = []
    for model, field in encrypted_fields():
        rotated = current = 0
        # Operator code: every tenant's rows, through the plain base manager.
        rows = model._base_manager.exclude(**{field.attname: ""}).values_list("pk", field.attname)
        for pk, token in list(rows):
            if _is_current(token, keys[0]):
                current += 1
                continue
            new_token = multi.rotate(token.encode()).decode()
            with transaction.atomic():
                # Conditional: a secret changed meanwhile is already under the new key.
                rotated += model._base_manager.filter(pk=pk, **{field.attname: token}).update(
                    **{field.attname: new_token}
                )
        counts.append(RotationCount(f"{model._meta.label}.{field.name}", rotated, current))
    return counts
