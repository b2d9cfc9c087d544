"""Pure domain code: no database, no HTTP, no environment, no clock."""
