"""Completeness check of encoded JPEG and PNG files.

Decoders are lenient with damaged files: OpenCV decodes a JPEG cut short
(an interrupted download or copy) with flat gray or black bottom rows and
no error, Pillow decodes a PNG whose last chunks are missing, and an empty
file fails inside ``cv2.imdecode`` (``!buf.empty()``) without naming the
file. :func:`check_image_bytes` looks at the encoded bytes before they are
decoded and raises :class:`DamagedImageError`, naming the file, when they
cannot be a complete image:

- **JPEG** (starts with the SOI marker ``FFD8``): the marker segments are
  walked by their lengths from SOI (stray bytes between segments are
  skipped, as decoders do); the entropy-coded data after each
  start-of-scan (``SOS``) runs to the next marker. The first image must
  reach its end-of-image marker (``EOI``, ``FFD9``) inside the file, and
  the file must end with ``FFD9``; zero bytes and ASCII whitespace after it
  (padding some encoders write) are allowed. Walking the segments instead
  of only looking at the last two bytes also catches a file cut right after
  the ``FFD9`` of an embedded EXIF thumbnail.
- **PNG** (starts with the 8-byte PNG signature): every chunk must be
  complete, with the CRC-32 (:func:`zlib.crc32`) of its type and data equal
  to the stored one, the first chunk must be ``IHDR`` and an ``IEND`` chunk
  must be reached. Bytes after ``IEND`` are ignored, as decoders do.
- An empty file and content that is neither JPEG nor PNG are errors.

The check reads only the bytes already in memory, so loaders read a file
once, check the buffer and decode the same buffer.
"""
import re
import zlib
from typing import Optional

#: The first bytes of every JPEG file: SOI (``FFD8``) and a marker's ``FF``.
JPEG_SIGNATURE = b'\xff\xd8\xff'
#: The 8-byte signature of every PNG file.
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
#: Bytes allowed after the JPEG end-of-image marker (zero padding, ASCII
#: whitespace).
JPEG_TRAILING_PADDING = b'\x00 \t\r\n'

# A marker inside or after entropy-coded data: 0xFF followed by a byte that
# is not a stuffed zero (0x00), a restart marker (0xD0-0xD7) or a fill byte
# (0xFF; the match then starts at the last 0xFF of a run of fill bytes).
_MARKER_IN_SCAN = re.compile(rb'\xff[^\x00\xd0-\xd7\xff]')
# Markers without a length field: TEM, RST0-7, SOI, EOI.
_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD8), 0xD8])
_EOI, _SOS = 0xD9, 0xDA
_REDOWNLOAD_HINT = ('re-extract or re-download it (or leave the sample out '
                    'of the split file)')


class DamagedImageError(ValueError):
    """An image file is empty, truncated, damaged or of an unknown format."""


def _jpeg_end(data: bytes, path: str) -> int:
    """Walk a JPEG's segments from SOI; return the offset after its EOI.

    Args:
        data (bytes): The file's bytes (starting with SOI).
        path (str): The file's name, for the error message.

    Returns:
        int: The offset just after the first image's ``FFD9``.

    Raises:
        DamagedImageError: The file ends before the end-of-image marker, or
            a marker segment is malformed.
    """
    n = len(data)
    pos = 2  # after SOI
    where = 'the header'
    while True:
        if pos >= n:
            raise DamagedImageError(
                f'{path} is a truncated JPEG file: its {n} bytes end in '
                f'{where} without the end-of-image marker FFD9; '
                f'{_REDOWNLOAD_HINT}.')
        if data[pos] != 0xFF:
            # extraneous bytes before a marker: decoders skip them
            pos = data.find(b'\xff', pos)
            pos = n if pos < 0 else pos
            continue
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= n:
            continue  # reported as truncated above
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            return pos
        if marker in _STANDALONE_MARKERS:
            continue
        if pos + 2 > n:
            where = f'the length of marker FF{marker:02X}'
            pos = n
            continue
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise DamagedImageError(
                f'{path} is a damaged JPEG file: marker FF{marker:02X} at '
                f'byte {pos - 2} has the invalid segment length {length}; '
                f'{_REDOWNLOAD_HINT}.')
        pos += length
        where = f'the segment of marker FF{marker:02X}'
        if marker == _SOS and pos <= n:
            match = _MARKER_IN_SCAN.search(data, pos)
            pos = n if match is None else match.start()
            where = 'the compressed image data'


def _check_png(data: bytes, path: str) -> None:
    """Check the chunk structure and CRCs of a PNG (see the module doc).

    Args:
        data (bytes): The file's bytes (starting with the PNG signature).
        path (str): The file's name, for the error message.

    Raises:
        DamagedImageError: A chunk is cut short or fails its CRC, the first
            chunk is not ``IHDR`` or the file ends before ``IEND``.
    """
    n = len(data)
    pos = len(PNG_SIGNATURE)
    first = True
    while True:
        if pos + 8 > n:
            raise DamagedImageError(
                f'{path} is a truncated PNG file: its {n} bytes end before '
                f'the IEND chunk (at byte {pos}, inside a chunk header); '
                f'{_REDOWNLOAD_HINT}.')
        length = int.from_bytes(data[pos:pos + 4], 'big')
        ctype = data[pos + 4:pos + 8]
        name = ctype.decode('latin-1')
        if length > 0x7FFFFFFF or not ctype.isalpha():
            raise DamagedImageError(
                f'{path} is a damaged PNG file: the chunk header at byte '
                f'{pos} is invalid (type {ctype!r}, length {length}); '
                f'{_REDOWNLOAD_HINT}.')
        if first and ctype != b'IHDR':
            raise DamagedImageError(
                f'{path} is a damaged PNG file: its first chunk is {name!r}, '
                f'not IHDR; {_REDOWNLOAD_HINT}.')
        first = False
        end = pos + 8 + length
        if end + 4 > n:
            raise DamagedImageError(
                f'{path} is a truncated PNG file: its {n} bytes end inside '
                f'the {name} chunk at byte {pos} ({length} bytes of data and '
                f'a 4-byte CRC expected), before the IEND chunk; '
                f'{_REDOWNLOAD_HINT}.')
        stored = int.from_bytes(data[end:end + 4], 'big')
        computed = zlib.crc32(memoryview(data)[pos + 4:end])
        if stored != computed:
            raise DamagedImageError(
                f'{path} is a damaged PNG file: the {name} chunk at byte '
                f'{pos} has the CRC {stored:08X} but its data give '
                f'{computed:08X}; {_REDOWNLOAD_HINT}.')
        if ctype == b'IEND':
            return
        pos = end + 4


def image_format(data: bytes) -> Optional[str]:
    """``'jpeg'`` or ``'png'`` from a file's first bytes, else ``None``."""
    if data.startswith(JPEG_SIGNATURE):
        return 'jpeg'
    if data.startswith(PNG_SIGNATURE):
        return 'png'
    return None


def check_image_bytes(data: bytes, path: str) -> str:
    """Check that encoded bytes are a complete JPEG or PNG file.

    Args:
        data (bytes | bytearray | memoryview): The whole content of the
            file (as a file backend returns it).
        path (str): The file's name, used in the error messages.

    Returns:
        str: The format, ``'jpeg'`` or ``'png'``.

    Raises:
        DamagedImageError: The file is empty, is neither a JPEG nor a PNG,
            or is truncated or damaged (see the module doc).
    """
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(data)
    if len(data) == 0:
        raise DamagedImageError(
            f'{path} is an empty file (0 bytes), not an image; '
            f'{_REDOWNLOAD_HINT}.')
    fmt = image_format(data)
    if fmt == 'jpeg':
        end = _jpeg_end(data, path)
        tail = data[end:].rstrip(JPEG_TRAILING_PADDING)
        if tail and not tail.endswith(b'\xff\xd9'):
            raise DamagedImageError(
                f'{path} is a truncated or damaged JPEG file: after the end '
                f'of its image (byte {end}) it holds {len(data) - end} more '
                'bytes that do not end with the end-of-image marker FFD9; '
                f'{_REDOWNLOAD_HINT}.')
    elif fmt == 'png':
        _check_png(data, path)
    else:
        raise DamagedImageError(
            f'{path} is neither a JPEG nor a PNG file (it starts with the '
            f'bytes {data[:8].hex(" ").upper()}), so its completeness cannot '
            'be checked; the multi-task data sets store JPEG or PNG images. '
            'Convert the file, or load unchecked images with mmcv\'s '
            '`LoadImageFromFile` in the pipeline.')
    return fmt
