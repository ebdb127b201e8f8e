# An agent's versions, usage, threads and attachments belong to the agent's tenant, and an
# agent uses only its own tenant's credentials and versions: on PostgreSQL the database
# refuses anything else (composite foreign keys on (tenant_id, parent_id)). Existing rows
# are checked first; see PinToParentTenant.

from django.db import migrations

from tenants.migration_operations import AddTenantIdKey, PinToParentTenant


class Migration(migrations.Migration):

    dependencies = [
        ('hosted_agents', '0004_agent_version_immutable'),
        ('tenants', '0004_tenant_pinned_children'),
    ]

    operations = [
        AddTenantIdKey('hosted_agents_agent'),
        AddTenantIdKey('hosted_agents_agentversion'),
        PinToParentTenant(
            'hosted_agents_agent', 'provider_credential_id', 'tenants_providercredential'
        ),
        PinToParentTenant(
            'hosted_agents_agent', 'published_version_id', 'hosted_agents_agentversion'
        ),
        PinToParentTenant('hosted_agents_agentversion', 'agent_id', 'hosted_agents_agent'),
        PinToParentTenant('hosted_agents_usagedaily', 'agent_id', 'hosted_agents_agent'),
        PinToParentTenant('tenants_thread', 'agent_id', 'hosted_agents_agent'),
        PinToParentTenant('tenants_attachment', 'agent_id', 'hosted_agents_agent'),
    ]
