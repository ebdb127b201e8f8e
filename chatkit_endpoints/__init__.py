"""The interface end users reach: ChatKit endpoints and the OpenAI-shaped sessions API."""
