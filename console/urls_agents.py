"""The agents sections of the console: agents, their versions, tools and the playground.

Included under /console/<tenant>/ by console/urls.py, in the `console` namespace. URL
arguments: `agent` (an agent's slug), `version` (a version number), `tool` (a tool's id),
`mcp_server` (an MCP server's id).
"""

from django.urls import URLPattern, URLResolver, path

from console.views import agents, mcp, playground, tools

urlpatterns: list[URLPattern | URLResolver] = [
    path("agents/", agents.agent_list, name="agents"),
    path("agents/new/", agents.agent_new, name="agent_new"),
    path("agents/models/", agents.agent_models, name="agent_models"),
    path("agents/<slug:agent>/", agents.agent_detail, name="agent"),
    path("agents/<slug:agent>/edit/", agents.agent_edit, name="agent_edit"),
    path("agents/<slug:agent>/publish/", agents.agent_publish_view, name="agent_publish"),
    path("agents/<slug:agent>/duplicate/", agents.agent_duplicate_view, name="agent_duplicate"),
    path("agents/<slug:agent>/diff/", agents.agent_diff, name="agent_diff"),
    path("agents/<slug:agent>/versions/<int:version>/", agents.agent_version, name="agent_version"),
    path(
        "agents/<slug:agent>/versions/<int:version>/rollback/",
        agents.agent_rollback_view,
        name="agent_rollback",
    ),
    path("agents/<slug:agent>/playground/", playground.playground, name="playground"),
    path(
        "agents/<slug:agent>/playground/official/",
        playground.playground_official,
        name="playground_official",
    ),
    path(
        "agents/<slug:agent>/playground/session/",
        playground.playground_session,
        name="playground_session",
    ),
    path("tools/", tools.tool_list, name="tools"),
    path("mcp/", mcp.mcp_server_list_view, name="mcp_servers"),
    path("mcp/new/", mcp.mcp_server_new, name="mcp_server_new"),
    path("mcp/<int:mcp_server>/", mcp.mcp_server_detail, name="mcp_server"),
    path("mcp/<int:mcp_server>/edit/", mcp.mcp_server_edit, name="mcp_server_edit"),
    path("mcp/<int:mcp_server>/refresh/", mcp.mcp_server_refresh_view, name="mcp_server_refresh"),
    path("mcp/<int:mcp_server>/delete/", mcp.mcp_server_delete_view, name="mcp_server_delete"),
    path("tools/http/new/", tools.http_tool_new, name="http_tool_new"),
    path("tools/http/<int:tool>/", tools.http_tool_detail, name="http_tool"),
    path("tools/http/<int:tool>/edit/", tools.http_tool_edit, name="http_tool_edit"),
    path("tools/http/<int:tool>/try/", tools.http_tool_try_view, name="http_tool_try"),
    path("tools/http/<int:tool>/delete/", tools.http_tool_delete_view, name="http_tool_delete"),
    path("tools/client/new/", tools.client_tool_new, name="client_tool_new"),
    path("tools/client/<int:tool>/edit/", tools.client_tool_edit, name="client_tool_edit"),
    path(
        "tools/client/<int:tool>/delete/", tools.client_tool_delete_view, name="client_tool_delete"
    ),
]
