"""Sending messages to customers: e-mail over SMTP, SMS and chat through apprise URLs."""
