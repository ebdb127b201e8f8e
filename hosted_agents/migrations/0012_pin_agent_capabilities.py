# An agent's capabilities row belongs to an agent of its own tenant: on PostgreSQL the
# database refuses a row naming another tenant's agent (see tenants.migration_operations).

from django.db import migrations

from tenants.migration_operations import PinToParentTenant


class Migration(migrations.Migration):

    dependencies = [
        ("hosted_agents", "0011_merge_traces_and_approvals"),
    ]

    operations = [
        PinToParentTenant("hosted_agents_agentcapabilities", "agent_id", "hosted_agents_agent"),
    ]
