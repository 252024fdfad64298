"""`python -m app.mcp_server`: the AI booking tools over MCP (see app/agents/mcp.py and docs/ai.md)."""
from app.agents.mcp import main

if __name__ == "__main__":
    main()
