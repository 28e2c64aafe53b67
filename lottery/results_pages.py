"""The published results.csv a page at a time, without reading the whole file.

At a million entries results.csv is about 110 MB, and the public draw page is open to anyone:
it must not read and split the whole file per view. The draw records where each page of
`PER_PAGE` lines starts (`Draw.results_index`: packed unsigned 64-bit offsets, about 80 KB for
a million lines, computed from the bytes the draw has just written), and a page is one
substring of the stored file (`blobs.read_range`; the column is stored uncompressed, so
PostgreSQL reads only the chunks of that range).
"""

from array import array
from collections.abc import Sequence

from lottery import blobs

PER_PAGE = 100


def page_index(results: bytes, per_page: int = PER_PAGE) -> bytes:
    """Offsets of the first line of each page of `per_page` result lines (after the header),
    then the end of the file, packed as unsigned 64-bit integers in machine order."""
    offsets, end = array("Q"), len(results)
    position, line, find = results.index(b"\n") + 1, 0, results.index
    while position < end:
        if line % per_page == 0:
            offsets.append(position)
        position = find(b"\n", position) + 1
        line += 1
    offsets.append(end)
    return offsets.tobytes()


class ResultLines(Sequence):
    """The result rows of a drawn draw as a sequence a `Paginator` can page through: its
    length is the number of entries, and a slice (page-aligned, as the Paginator asks) reads
    only those pages' bytes. Each item is a row: a list of results.csv's fields."""

    def __init__(self, draw, per_page: int = PER_PAGE):
        self.draw, self.per_page = draw, per_page
        self.offsets = array("Q")
        self.offsets.frombytes(bytes(draw.results_index))
        self.length = draw.counts["entries"]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _step = index.indices(self.length)
        if start >= stop:
            return []
        first, last = start // self.per_page, -(-stop // self.per_page)
        begin, end = self.offsets[first], self.offsets[last]
        text = blobs.read_range(self.draw, "results_csv", begin, end - begin).decode("ascii")
        rows = [line.split(",") for line in text.splitlines()]
        skip = start - first * self.per_page
        return rows[skip : skip + stop - start]
