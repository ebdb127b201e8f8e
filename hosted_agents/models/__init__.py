# Each module lists its models in __all__; this package re-exports them so Django
# finds every model when it imports hosted_agents.models.
from hosted_agents.models.agents import *  # noqa: F403
from hosted_agents.models.capabilities import *  # noqa: F403
from hosted_agents.models.runs import *  # noqa: F403
from hosted_agents.models.tool_calls import *  # noqa: F403
from hosted_agents.models.tools import *  # noqa: F403
from hosted_agents.models.usage import *  # noqa: F403
