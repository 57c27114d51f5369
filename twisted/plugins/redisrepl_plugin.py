from twisted.application.service import ServiceMaker

redisrepl = ServiceMaker(
    "redisrepl", "redisrepl.tap", "A Redis-compatible server built around replication",
    "redisrepl")
