"""results.csv by pages: the index points at page starts, and any slice read by range equals
the same slice of the whole file."""

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lottery import kit
from lottery.models import Draw
from lottery.results_pages import ResultLines, page_index

LINE = st.text(alphabet="0123456789abcdef,", min_size=1, max_size=40)


@given(lines=st.lists(LINE, max_size=300), per_page=st.integers(1, 50))
def test_the_index_points_at_every_page_start_and_the_end(lines, per_page):
    data = ("rank,entry_id\n" + "".join(f"{line}\n" for line in lines)).encode("ascii")
    offsets = array("Q")
    offsets.frombytes(page_index(data, per_page))

    starts, position = [], data.index(b"\n") + 1
    for line in lines:
        starts.append(position)
        position += len(line) + 1
    assert list(offsets) == [*starts[::per_page], len(data)]


@pytest.mark.django_db
def test_any_slice_read_by_range_equals_the_whole_files_slice(timeline):
    life = timeline(entries=23, slots=4)
    life.run_all()
    draw = Draw.objects.get(window=life.window)
    whole = kit.kit_files(draw)["results.csv"].decode().splitlines()[1:]
    rows = [line.split(",") for line in whole]
    per_page = 5
    draw.results_index = page_index(kit.kit_files(draw)["results.csv"], per_page)
    lines = ResultLines(draw, per_page=per_page)

    assert len(lines) == 23
    for start in range(0, 24, per_page):
        assert lines[start : start + per_page] == rows[start : start + per_page]
    assert lines[3:17] == rows[3:17] and lines[22] == rows[22] and lines[30:40] == []
