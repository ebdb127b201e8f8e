from django.apps import AppConfig


class HostedAgentsConfig(AppConfig):
    name = "hosted_agents"
    verbose_name = "Agents, tools and their runtime"

    def ready(self) -> None:
        from django.conf import settings

        from hosted_agents.tracing import tracing_configure

        # openai-agents exports traces of every run (tenants' conversations) to OpenAI by
        # default. The platform keeps them in the tenant's own tables instead, and sends
        # them to OpenAI as well only when the operator asks.
        tracing_configure(export_to_openai=settings.OPENAI_AGENTS_TRACING)
