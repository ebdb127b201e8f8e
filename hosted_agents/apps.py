from django.apps import AppConfig


class HostedAgentsConfig(AppConfig):
    name = "hosted_agents"
    verbose_name = "Agents, tools and their runtime"

    def ready(self) -> None:
        from agents import set_tracing_disabled
        from django.conf import settings

        # openai-agents exports traces of every run (tenants' conversations) to OpenAI by
        # default. A self-hosted platform sends nothing anywhere unless the operator asks.
        set_tracing_disabled(not settings.OPENAI_AGENTS_TRACING)
