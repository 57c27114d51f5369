"""The HELP reply every container command shares (Redis's addReplyHelp)."""

from redisrepl.resp.values import Status

_HELP_TAIL = [Status(b"HELP"), Status(b"    Prints this help.")]


def help_reply(argv, lines):
    """The banner naming the command, its own lines, then HELP itself."""
    banner = b"%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" \
        % argv[0].upper()
    return [Status(banner)] + [Status(line.encode()) for line in lines] + _HELP_TAIL
