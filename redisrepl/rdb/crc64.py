"""CRC-64/Jones as Redis computes it (crc64.c), from anycrc's C code.

Every full sync and every dump runs through this, so it must be compiled:
anycrc does about 10 GB/s here, a Python loop would do a few MB/s.
"""

import anycrc

_MODEL = anycrc.Model("CRC64-REDIS")


def crc64(data, crc=0):
    """The CRC of ``data`` continuing from ``crc`` (0 to start)."""
    return _MODEL.calc(data, crc)
