"""Small-cell suppression: an attacker holding a published table tries to recover each
hidden count by arithmetic on its rows, columns and totals, and must fail; with primary
suppression alone the same attack succeeds (so the attack is a real one)."""

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeroom.reports.suppression import Suppressed, rate, suppress


def _grid(table: Suppressed) -> list[list[int | None]]:
    """The published table with its margins, as the attacker reads it (None: hidden)."""
    grid = [[*row, total] for row, total in zip(table.cells, table.row_totals, strict=True)]
    grid.append([*table.column_totals, table.total])
    return grid


def subtraction_attack(grid: list[list[int | None]], rows: int, columns: int) -> dict:
    """Solve every line (row or column with its total) that has exactly one unknown, and
    repeat with what was learnt until nothing more is learnt. Returns what was recovered:
    {(row, column): value}."""
    known = [list(line) for line in grid]
    recovered = {}
    lines = [[(i, j) for j in range(columns + 1)] for i in range(rows + 1)]
    lines += [[(i, j) for i in range(rows + 1)] for j in range(columns + 1)]
    progress = True
    while progress:
        progress = False
        for line in lines:
            unknown = [(i, j) for i, j in line if known[i][j] is None]
            if len(unknown) != 1:
                continue
            (ui, uj), total_place = unknown[0], line[-1]
            parts = [known[i][j] for i, j in line[:-1] if (i, j) != (ui, uj)]
            if (ui, uj) == total_place:
                value = sum(parts)
            else:
                value = known[total_place[0]][total_place[1]] - sum(parts)
            known[ui][uj] = value
            recovered[(ui, uj)] = value
            progress = True
    return recovered


def determined_by_algebra(grid: list[list[int | None]], rows: int, columns: int) -> set:
    """The hidden entries the linear system of all the lines at once pins down: an unknown
    is determined exactly when every solution of the homogeneous system leaves it at 0."""
    unknowns = [(i, j) for i in range(rows + 1) for j in range(columns + 1) if grid[i][j] is None]
    if not unknowns:
        return set()
    index = {place: k for k, place in enumerate(unknowns)}
    equations = []
    for i in range(rows + 1):
        line = [(i, j) for j in range(columns + 1)]
        equations.append(_equation(line, index))
    for j in range(columns + 1):
        line = [(i, j) for i in range(rows + 1)]
        equations.append(_equation(line, index))
    matrix = np.array(equations, dtype=float)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    return {place for place, k in index.items() if np.all(np.abs(null_space[:, k]) < 1e-9)}


def _equation(line, index) -> list[float]:
    """cells - total = 0 over the unknowns of one line (the total is the line's last)."""
    row = [0.0] * len(index)
    for place in line[:-1]:
        if place in index:
            row[index[place]] += 1
    if line[-1] in index:
        row[index[line[-1]]] -= 1
    return row


def _primary_only(counts, minimum) -> list[list[int | None]]:
    """The same table with only its small counts hidden (no complementary suppression)."""
    full = [[*row, sum(row)] for row in counts]
    full.append([sum(column) for column in zip(*full, strict=True)])
    return [[None if value < minimum else value for value in row] for row in full]


# A board-report table: schools x [chronic, not chronic], hand-made with one small school.
SCHOOLS = [[40, 160], [3, 12], [25, 95], [60, 200]]


def test_a_hand_made_table_hides_the_small_counts_and_their_complements():
    # given four schools, one with 3 chronically absent students of 15
    table = suppress(SCHOOLS, 10)
    # then the 3 is hidden, with the 12 beside it (the only other count of its row)
    assert table.cells[1] == [None, None]
    # each of their columns then hides its next smallest count: the 25 and the 95
    assert table.cells[2] == [None, None]
    # and every total stays shown (15 and 120 are not small)
    assert table.row_totals == [200, 15, 120, 260]
    assert table.cells[0] == [40, 160] and table.cells[3] == [60, 200]
    assert table.column_totals == [128, 467] and table.total == 595
    # and the attacker recovers nothing, by subtraction or by algebra
    grid = _grid(table)
    assert subtraction_attack(grid, 4, 2) == {}
    assert determined_by_algebra(grid, 4, 2) == set()


def test_primary_suppression_alone_gives_the_small_count_away():
    # given the same table with only its small count hidden
    grid = _primary_only(SCHOOLS, 10)
    # when the attacker subtracts the row's shown cell from its total
    recovered = subtraction_attack(grid, 4, 2)
    # then the hidden 3 is recovered: complementary suppression is what protects it
    assert recovered == {(1, 0): 3}
    assert determined_by_algebra(grid, 4, 2) == {(1, 0)}


def test_a_total_below_the_minimum_is_hidden_too():
    # a school of 6 students: its total and both its cells are small
    table = suppress([[2, 4], [30, 50], [20, 40]], 10)
    assert table.row_totals[0] is None and table.cells[0] == [None, None]
    assert subtraction_attack(_grid(table), 3, 2) == {}
    assert determined_by_algebra(_grid(table), 3, 2) == set()


def test_a_table_without_row_totals_only_protects_its_columns():
    # months x [cases opened, contacts]: the measures do not add up across a row
    table = suppress([[4, 30], [25, 40], [30, 50]], 10, row_totals=False)
    assert table.row_totals == [None, None, None]
    assert table.cells[0][0] is None and table.cells[1][0] is None  # 4, then the next (25)
    assert table.cells[0][1] == 30
    assert table.column_totals == [59, 120]


def test_rates_of_hidden_counts_are_hidden():
    table = suppress([[3, 40], [30, 40]], 10)
    assert rate(table.cells[0][0], table.row_totals[0]) is None
    assert rate(table.cells[1][0], table.row_totals[1]) is None  # hidden beside the 3
    assert rate(None, 50) is None and rate(5, 0) is None and rate(10, 40) == 0.25


def test_bad_tables_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="at least 1"):
        suppress([[1]], 0)
    with pytest.raises(ValueError, match="same number of columns"):
        suppress([[1, 2], [3]], 10)
    with pytest.raises(ValueError, match="negative"):
        suppress([[-1, 2]], 10)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=6).flatmap(
        lambda columns: st.lists(
            st.lists(st.integers(min_value=0, max_value=60), min_size=columns, max_size=columns),
            min_size=1,
            max_size=7,
        )
    ),
    st.sampled_from([3, 5, 10, 11]),
)
def test_no_hidden_count_of_any_table_can_be_recovered(counts, minimum):
    # given any table of counts (random sizes and values, many of them small)
    table = suppress(counts, minimum)
    rows, columns = len(counts), len(counts[0])
    grid = _grid(table)
    # then every shown count is the true one, and every small count is hidden
    full = [[*row, sum(row)] for row in counts]
    full.append([sum(column) for column in zip(*full, strict=True)])
    for i in range(rows + 1):
        for j in range(columns + 1):
            if grid[i][j] is not None:
                assert grid[i][j] == full[i][j] and grid[i][j] >= minimum
    # and no hidden count falls to subtraction, iterated, or to all the lines at once
    assert subtraction_attack(grid, rows, columns) == {}
    assert determined_by_algebra(grid, rows, columns) == set()


def test_the_attack_succeeds_on_many_tables_with_primary_suppression_alone():
    # the attack is not toothless: over random tables with a small count somewhere, it
    # recovers a hidden value from most primary-only tables
    rng = random.Random(7)
    recovered = tables = 0
    for _ in range(200):
        counts = [[rng.randint(0, 60) for _ in range(3)] for _ in range(4)]
        counts[rng.randrange(4)][rng.randrange(3)] = rng.randint(1, 9)
        grid = _primary_only(counts, 10)
        tables += 1
        attack = subtraction_attack(grid, 4, 3)
        for (i, j), value in attack.items():
            full = counts[i][j] if i < 4 and j < 3 else None
            if full is not None:
                assert value == full  # what it recovers is the truth
        recovered += bool(attack)
    assert recovered > tables / 2


def test_a_table_without_rows_is_published_empty():
    # a year no school has figures for (issue 26: suppressing it never ended): nothing to
    # show, and its total of 0 is hidden like any small count
    table = suppress([], 10)
    assert (table.cells, table.row_totals, table.column_totals) == ([], [], [])
    assert table.total is None
    # unless the table counts events, where a 0 discloses no one
    assert suppress([], 10, zero_shown=True).total == 0


def _board_table(schools: int, columns: int, seed: int) -> list[list[int]]:
    """A district of many schools: most counts large, about one in five small."""
    pick = random.Random(seed)
    return [
        [
            pick.randint(0, 9) if pick.random() < 0.2 else pick.randint(10, 400)
            for _ in range(columns)
        ]
        for _ in range(schools)
    ]


@pytest.mark.parametrize("columns", [2, 3, 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_board_table_of_many_schools_hides_what_it_must(columns, seed):
    # given 84 schools (a 50,000-student district), some with small counts
    counts = _board_table(84, columns, seed)
    table = suppress(counts, 10)
    grid = _grid(table)
    # then every small count is hidden
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            if value < 10:
                assert table.cells[i][j] is None
    # and none of the hidden counts can be recovered, by subtraction or by algebra
    assert subtraction_attack(grid, 84, columns) == {}
    assert determined_by_algebra(grid, 84, columns) == set()
    # and what is shown is the true count
    for i, row in enumerate(counts):
        assert table.row_totals[i] in (None, sum(row))
        for j, value in enumerate(row):
            assert table.cells[i][j] in (None, value)
    # while the attack on primary suppression alone recovers something (the table is a
    # real test of complementary suppression)
    assert subtraction_attack(_primary_only(counts, 10), 84, columns)
