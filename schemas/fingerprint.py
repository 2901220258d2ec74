"""CRC-64-AVRO, the Rabin fingerprint the Avro spec uses for single-object encoding.

Written from the spec's description (polynomial ``EMPTY = 0xc15d213aa4d7a795``, table-driven,
reflected) so that tests can check it against an independent implementation.
"""

_EMPTY = 0xC15D213AA4D7A795


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """The 64-bit fingerprint of ``data`` (normally a schema's Parsing Canonical Form)."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp
