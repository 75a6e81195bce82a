"""Create (or refresh) the demo clinician used by `make run`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

DEMO_TEAM = "Demo care team"


class Command(BaseCommand):
    help = "Create the demo clinician 'demo' in the demo care team, with the given password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", required=True)

    @transaction.atomic
    def handle(self, *args: object, username: str, password: str, **options: object) -> None:
        team, _ = Group.objects.get_or_create(name=DEMO_TEAM)
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": "Demo", "last_name": "Clinician"}
        )
        user.set_password(password)
        user.save()
        user.groups.add(team)
        verb = "created" if created else "updated"
        self.stdout.write(f"demo clinician '{username}' {verb}, member of '{DEMO_TEAM}'")
