"""Persistence: RDB snapshots (SAVE, BGSAVE by fork, save points, load at
start-up); the AOF joins here later."""
