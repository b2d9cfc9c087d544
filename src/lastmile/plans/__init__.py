"""Plans (solver runs), their routes and stops, and dispatch."""
