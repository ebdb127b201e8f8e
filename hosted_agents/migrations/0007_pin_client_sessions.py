# A client session serves one agent of its own tenant: on PostgreSQL the database refuses
# a session naming another tenant's agent (see tenants.migration_operations).

from django.db import migrations

from tenants.migration_operations import PinToParentTenant


class Migration(migrations.Migration):

    dependencies = [
        ('hosted_agents', '0006_merge_workflow_id_and_pinned_children'),
        ('tenants', '0006_merge_sessions_and_pinned_children'),
    ]

    operations = [
        PinToParentTenant('tenants_clientsession', 'agent_id', 'hosted_agents_agent'),
    ]
