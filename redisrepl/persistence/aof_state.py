"""Redis's aof_state: the one word both halves of the AOF (aof.py, the
writer; aof_bgrewrite.py, the rewrite's parent side) agree on."""

OFF = "off"                     # appendonly no: nothing recorded
ON = "on"                       # recording into the last incr file
WAIT_REWRITE = "wait-rewrite"   # turned on at runtime: the first rewrite runs
#                                 (or is scheduled); writes go to a temp incr
