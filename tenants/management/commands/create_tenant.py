from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.actors import Actor
from tenants.exceptions import DomainError
from tenants.services import tenant_create, user_get_or_create

# Commands run as the platform; the label says which one made the change.
ACTOR = Actor.system(label="manage.py create_tenant")


class Command(BaseCommand):
    help = "Create a tenant with its first owner (the user is created if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="short name used in URLs, like acme")
        parser.add_argument("name", help="display name, like 'Acme Corp'")
        parser.add_argument("--owner-username", required=True)
        parser.add_argument("--owner-email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        username, email = options["owner_username"], options["owner_email"]
        try:
            owner, created = user_get_or_create(username=username, email=email)
            tenant = tenant_create(
                slug=options["slug"], name=options["name"], owner=owner, actor=ACTOR
            )
        except DomainError as error:
            raise CommandError(str(error)) from None
        if created:
            self.stdout.write(
                f"Created user {username} without a password; set one with "
                f"`manage.py changepassword {username}`."
            )
        else:
            self.stdout.write(f"Using existing user {username}.")
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name}), owner {username}.")
        )
