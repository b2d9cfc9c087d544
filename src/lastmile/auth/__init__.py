"""Users, passwords, access tokens, API keys and login rate limiting."""
