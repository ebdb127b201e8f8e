# A thread's items, feedback and attachments belong to the thread's tenant: on PostgreSQL
# the database refuses a child that names another tenant's thread (composite foreign keys
# on (tenant_id, thread_id)). Existing rows are checked first; see PinToParentTenant.

from django.db import migrations

from tenants.migration_operations import AddTenantIdKey, PinToParentTenant


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0003_link_threads_to_agents'),
    ]

    operations = [
        AddTenantIdKey('tenants_thread'),
        # Referred to by hosted_agents 0005 (Agent.provider_credential).
        AddTenantIdKey('tenants_providercredential'),
        PinToParentTenant('tenants_threaditem', 'thread_id', 'tenants_thread'),
        PinToParentTenant('tenants_attachment', 'thread_id', 'tenants_thread'),
        PinToParentTenant('tenants_feedback', 'thread_id', 'tenants_thread'),
    ]
