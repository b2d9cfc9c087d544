"""Running lastmile in production: health checks, metrics, request logs, backups, erasure."""
