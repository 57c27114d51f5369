"""The PSYNC decision: continue from the backlog, or resync fully.

A pure function of the master's replication ids and offsets, its backlog
window and what the replica asked for, as Redis's
masterTryPartialResynchronization decides it:

- the replica's replid must be our replid, or our previous one (replid2)
  with an offset not past where that history ended (second_repl_offset);
- the offset must fall inside the backlog (first_byte_offset ..
  first_byte_offset + histlen);
- ``PSYNC ? -1`` (a replica with no history) always resyncs fully.
"""

from typing import NamedTuple


class Decision(NamedTuple):
    partial: bool        # True: +CONTINUE, send the backlog from ``offset``
    reason: str          # for the log: why a full resync was needed
    replid_changed: bool = False  # it asked with replid2: tell it the new id


def decide(replid, replid2, second_repl_offset, backlog, master_repl_offset,
           asked_replid, asked_offset):
    """``backlog`` is a Backlog or None; ``asked_offset`` the replica's
    offset + 1 as sent in PSYNC (the first byte it lacks)."""
    if asked_replid == b"?":
        return Decision(False, "Full resync requested by replica")
    if asked_replid != replid:
        if asked_replid != replid2:
            return Decision(False, "Replication ID mismatch (Replica asked for "
                                   f"'{asked_replid.decode(errors='replace')}', my replication IDs "
                                   f"are '{replid.decode()}' and '{replid2.decode()}')")
        if asked_offset > second_repl_offset:
            return Decision(False, f"Requested offset for second ID was {asked_offset}, "
                                   f"but I can reply up to {second_repl_offset}")
    if backlog is None or not backlog.covers(asked_offset):
        reason = f"lack of backlog (Replica request was: {asked_offset})"
        if asked_offset > master_repl_offset:
            reason += (". Warning: the replica tried to PSYNC with an offset that is "
                       "greater than the master replication offset")
        return Decision(False, reason)
    return Decision(True, "", replid_changed=asked_replid != replid)
