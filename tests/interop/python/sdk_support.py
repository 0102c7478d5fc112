"""Shared by mcp_client.py and mcp_client_stateless.py: an in-memory token
store for the SDK's OAuth provider, and the text of a tool result."""


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def text_of(result):
    return "".join(getattr(block, "text", "") for block in result.content)
