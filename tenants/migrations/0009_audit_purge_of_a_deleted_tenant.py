from django.db import migrations

from tenants.migration_operations import RunSQLOnPostgreSQL

# Audit events stay append-only, with one more exception: the purge of a tenant whose
# deletion came due (tenants/services/tenant_deletion.py) deletes that tenant's events, and
# only that tenant's, in a transaction that names it with
# `set_config('chatkit.purging_tenant', '<id>', true)` (local to the transaction).
ALLOW_PURGE = """
CREATE OR REPLACE FUNCTION tenants_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
            AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE'
            AND current_setting('chatkit.purging_tenant', true) = OLD.tenant_id::text THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'tenants_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tenants_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
            AND to_jsonb(NEW) - 'actor_id' = to_jsonb(OLD) - 'actor_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'tenants_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("tenants", "0008_tenant_retention_and_deletion"),
    ]

    operations = [RunSQLOnPostgreSQL(ALLOW_PURGE, APPEND_ONLY)]
