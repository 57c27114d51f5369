"""The numbers of the RDB format (Redis 7.0's rdb.h), in one place."""

RDB_VERSION = 10            # what Redis 7.0 writes and the newest it reads
MAGIC = b"REDIS"

# Value types (the byte before a key).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3               # scores as text
TYPE_HASH = 4
TYPE_ZSET_2 = 5             # scores as binary doubles
TYPE_MODULE_PRE_GA = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14    # nodes are ziplists
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18  # nodes are listpacks or plain elements
TYPE_STREAM_LISTPACKS_2 = 19
TYPE_SET_LISTPACK = 20      # Redis 7.2 (RDB 11); read for completeness

VALUE_TYPES = frozenset(range(0, 21)) - {8}

# Opcodes (bytes where a type would be).
OPCODE_FUNCTION_PRE_GA = 246
OPCODE_FUNCTION2 = 245
OPCODE_MODULE_AUX = 247
OPCODE_IDLE = 248
OPCODE_FREQ = 249
OPCODE_AUX = 250
OPCODE_RESIZEDB = 251
OPCODE_EXPIRETIME_MS = 252
OPCODE_EXPIRETIME = 253
OPCODE_SELECTDB = 254
OPCODE_EOF = 255

# Length prefixes: the top two bits of the first byte.
LEN_6BIT = 0
LEN_14BIT = 1
LEN_32BIT = 0x80
LEN_64BIT = 0x81
LEN_ENCVAL = 3
# Special string encodings (after an ENCVAL prefix).
ENC_INT8 = 0
ENC_INT16 = 1
ENC_INT32 = 2
ENC_LZF = 3

# Quicklist 2 node containers.
QUICKLIST_NODE_PLAIN = 1
QUICKLIST_NODE_PACKED = 2

# Module type ids: 54 bits of name (9 characters of this set), 10 of version.
MODULE_CHARSET = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  b"0123456789-_")

# Stream listpack entry flags.
STREAM_ITEM_FLAG_NONE = 0
STREAM_ITEM_FLAG_DELETED = 1
STREAM_ITEM_FLAG_SAMEFIELDS = 2


def module_name(module_id):
    """The 9-character module name packed in a module type id."""
    id_ = module_id >> 10
    chars = bytearray(9)
    for i in range(8, -1, -1):
        chars[i] = MODULE_CHARSET[id_ & 63]
        id_ >>= 6
    return chars.decode()
