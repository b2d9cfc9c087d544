"""Customer notifications: templates, the message log, caps and quiet hours."""
