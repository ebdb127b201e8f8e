"""State changes of the hosted_agents app: one module per entity, every name re-exported here.

Usage metering lives in hosted_agents/metering.py, next to the quota check.
"""

from hosted_agents.services.agents import (
    agent_check,
    agent_create,
    agent_delete,
    agent_publish,
    agent_rollback,
    agent_set_allowed_origins,
    agent_set_workflow_id,
    agent_update,
    code_tool_choices,
    resolve_tools,
)
from hosted_agents.services.tools import (
    args_schema_normalized,
    client_tool_check,
    client_tool_create,
    client_tool_delete,
    client_tool_update,
    http_tool_check,
    http_tool_create,
    http_tool_delete,
    http_tool_set_headers,
    http_tool_try,
    http_tool_update,
)

__all__ = [
    "agent_check",
    "agent_create",
    "agent_delete",
    "agent_publish",
    "agent_rollback",
    "agent_set_allowed_origins",
    "agent_set_workflow_id",
    "agent_update",
    "args_schema_normalized",
    "client_tool_check",
    "client_tool_create",
    "client_tool_delete",
    "client_tool_update",
    "code_tool_choices",
    "http_tool_check",
    "http_tool_create",
    "http_tool_delete",
    "http_tool_set_headers",
    "http_tool_try",
    "http_tool_update",
    "resolve_tools",
]
