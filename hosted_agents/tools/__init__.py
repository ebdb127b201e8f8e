"""Tools agents can use: code tools (registry, builtin), HTTP tools and client tools.

Importing this package registers the builtin code tools.
"""

from hosted_agents.tools import builtin as builtin
