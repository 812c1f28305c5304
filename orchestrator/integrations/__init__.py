"""Bicameral in its ecosystem: MCP servers as tools, pipelines as MCP servers, LangGraph Server.

Everything here is optional (``pip install 'bicameral[mcp]'`` for the MCP parts) and imported
only when a pipeline or a command uses it.
"""
