from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from tenants.encryption import encrypted_fields_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the first key of ENCRYPTION_KEYS. "
        "Safe to run again; afterwards the older keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = encrypted_fields_rotate()
        except InvalidToken:
            raise CommandError(
                "A stored secret decrypts under none of ENCRYPTION_KEYS; "
                "add the key it was made with and run again."
            ) from None
        for count in counts:
            self.stdout.write(
                f"{count.label}: {count.rotated} re-encrypted, {count.current} already current"
            )
        total = sum(count.rotated for count in counts)
        self.stdout.write(self.style.SUCCESS(f"Done: {total} secret(s) re-encrypted."))
