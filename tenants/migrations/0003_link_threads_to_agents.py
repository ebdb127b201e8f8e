# Data only: PostgreSQL refuses ALTER TABLE in a transaction that has already updated the
# table, so the backfill runs after 0002's schema changes have been committed.

from django.db import migrations
from django.db.models import OuterRef, Subquery


def link_to_agents(apps, schema_editor):
    """Give existing threads and attachments the agent their slug names, if it still exists.

    A thread whose agent was deleted and whose slug was reused before this migration cannot
    be told apart from the new agent's: the link then goes to the agent that exists now.
    """
    Agent = apps.get_model("hosted_agents", "Agent")
    for name in ("Thread", "Attachment"):
        model = apps.get_model("tenants", name)
        agent = Agent.objects.filter(tenant=OuterRef("tenant"), slug=OuterRef("agent_slug"))
        rows = model.objects.filter(agent__isnull=True).exclude(agent_slug="")
        rows.update(agent=Subquery(agent.values("pk")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('hosted_agents', '0001_initial'),
        ('tenants', '0002_thread_agent_and_append_only_audit'),
    ]

    operations = [
        migrations.RunPython(link_to_agents, migrations.RunPython.noop),
    ]
