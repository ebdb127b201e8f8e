# Every agent gets a workflow id of its own: the column is added nullable, existing rows are
# given fresh ids one by one (a column default would give them all the same one), then it
# becomes required and unique per tenant. Not atomic: PostgreSQL refuses to alter a table in
# the transaction that has just updated its rows; each step commits on its own instead.

import secrets

from django.db import migrations, models

import hosted_agents.models.agents


def give_every_agent_a_workflow_id(apps, schema_editor):
    Agent = apps.get_model("hosted_agents", "Agent")
    for agent in Agent.objects.filter(workflow_id__isnull=True).only("pk"):
        agent.workflow_id = "wf_" + secrets.token_hex(24)
        agent.save(update_fields=["workflow_id"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("hosted_agents", "0004_agent_version_immutable"),
    ]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="workflow_id",
            field=models.CharField(max_length=100, null=True),
        ),
        migrations.RunPython(give_every_agent_a_workflow_id, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="agent",
            name="workflow_id",
            field=models.CharField(
                default=hosted_agents.models.agents.workflow_id_generate, max_length=100
            ),
        ),
        migrations.AddConstraint(
            model_name="agent",
            constraint=models.UniqueConstraint(
                fields=("tenant", "workflow_id"), name="agent_unique_workflow_id"
            ),
        ),
    ]
