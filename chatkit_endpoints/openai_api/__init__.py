"""The sessions and threads API under /v1/chatkit/, shaped like OpenAI's hosted ChatKit API.

Code written for OpenAI's hosted sessions works against it with the official `openai`
client, given the platform's base URL and a tenant API key with the chat scope.
"""
