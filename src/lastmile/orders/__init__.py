"""Orders: import, lifecycle (state machine), status history."""
