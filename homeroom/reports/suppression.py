"""Small-cell suppression: the one home for hiding counts of students too small to publish.

Every table Homeroom publishes (the board and annual reports, public CSV exports, student
group breakdowns) is a grid of counts of students with its totals. A table passes through
`suppress` before anyone sees it:

1. Primary suppression: a count below the district's minimum (`minimum_cell`, default 10;
   `ReportSettings`) is hidden, whether it is a cell or a total.
2. Complementary suppression: a hidden count must not be recoverable by subtraction from
   its row or column and their total. Every row and every column (their totals included)
   must therefore hide either nothing or at least two counts. Where one hides exactly one,
   the smallest count still shown in that line is hidden too (a total only when nothing
   else is left), and the check runs again over every line until nothing changes.

3. Two or more unknowns in every line stop any one line being solved, but lines solved
   together can still pin a count (two groups of hidden counts joined by a single one give
   that one away). So the table is checked as a whole, by linear algebra over all its lines
   at once; a count it pins gets one more count hidden beside it (the smallest that frees
   it), and steps 2 and 3 run again until no hidden count is pinned, or until every count
   is hidden (a count pinned then is pinned by the table's shape alone: the total of a
   table without rows is 0).

Subtracting rows and columns, however often repeated, then recovers no hidden count, and
neither does solving all the lines together (the tests attack tables both ways).

A rate is shown only when both of its counts are: `rate` returns None otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_MINIMUM_CELL = 10
HIDDEN = "*"  # what a published table prints for a hidden count or rate


@dataclass(frozen=True)
class Suppressed:
    """A table of counts with its totals, each either shown (an int) or hidden (None).

    `cells[i][j]` is row i, column j; `row_totals[i]` the sum of row i; `column_totals[j]`
    the sum of column j; `total` the sum of all. Totals the table does not publish are
    None in `row_totals`/`column_totals` from the start (`publishes_*` say which)."""

    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    minimum: int


def suppress(
    counts: Sequence[Sequence[int]],
    minimum: int = DEFAULT_MINIMUM_CELL,
    *,
    row_totals: bool = True,
    column_totals: bool = True,
    zero_shown: bool = False,
) -> Suppressed:
    """Hide the small counts of a table and enough others that none can be recovered.

    `row_totals`/`column_totals` say whether the table publishes those totals (a table of
    mixed measures, e.g. cases opened and contacts logged per month, has no row totals);
    a line whose total is not published reveals nothing by subtraction. A zero is a small
    count like any other (it says every student of the row is in another column), except
    where `zero_shown` says the table counts events, not students (a month with no case
    opened discloses no one).
    """
    if minimum < 1:
        raise ValueError(f"the minimum cell size must be at least 1, not {minimum}")
    rows = len(counts)
    columns = len(counts[0]) if rows else 0
    if any(len(row) != columns for row in counts):
        raise ValueError("every row of a table must have the same number of columns")
    if any(value < 0 for row in counts for value in row):
        raise ValueError("a table of counts cannot hold a negative count")
    # The table with its margins: row `rows` holds the column totals, column `columns` the
    # row totals, the corner the grand total (present only when both margins are).
    grid = [[*row, sum(row)] for row in counts]
    grid.append([sum(counts[i][j] for i in range(rows)) for j in range(columns)])
    grid[rows].append(sum(grid[rows][:columns]))
    published = [
        [(i < rows or column_totals) and (j < columns or row_totals) for j in range(columns + 1)]
        for i in range(rows + 1)
    ]
    hidden = [
        [
            published[i][j] and grid[i][j] < minimum and not (zero_shown and grid[i][j] == 0)
            for j in range(columns + 1)
        ]
        for i in range(rows + 1)
    ]

    # Each line: the positions it relates (cells and, where published, its total).
    lines: list[list[tuple[int, int]]] = []
    for i in range(rows + (1 if column_totals else 0)):
        if row_totals:
            lines.append([(i, j) for j in range(columns + 1) if published[i][j]])
    for j in range(columns + (1 if row_totals else 0)):
        if column_totals:
            lines.append([(i, j) for i in range(rows + 1) if published[i][j]])

    inner = {(i, j) for i in range(rows) for j in range(columns)}
    while True:
        _complete_lines(lines, hidden, grid, inner)
        exposed = _determined(lines, hidden)
        # Stop too when nothing is left to hide: a count pinned with every count hidden is
        # pinned by the table's shape alone (the total of a table without rows is 0), and
        # hiding cannot free it. Looping on would never end (issue 26: the board report of
        # a district whose schools have no figures from last year never finished).
        if not exposed or not _cover(exposed[0], lines, hidden, grid, inner, published):
            break

    def value(i: int, j: int) -> int | None:
        return None if hidden[i][j] or not published[i][j] else grid[i][j]

    return Suppressed(
        cells=[[value(i, j) for j in range(columns)] for i in range(rows)],
        row_totals=[value(i, columns) for i in range(rows)],
        column_totals=[value(rows, j) for j in range(columns)],
        total=value(rows, columns),
        minimum=minimum,
    )


def _complete_lines(lines, hidden, grid, inner) -> None:
    """Until no line hides exactly one count: in each such line hide another count, a cell
    before a total (hiding a total hides more than the table needs), one whose other line
    already hides a count before one that would start a new gap there, then the smallest;
    ties go to the first in the line."""
    crossing: dict[tuple[int, int], list[list[tuple[int, int]]]] = {}
    for line in lines:
        for place in line:
            crossing.setdefault(place, []).append(line)

    def opens(place: tuple[int, int], own: list) -> int:
        """How many other lines hiding `place` would leave with one hidden count: a count
        in a line that already hides one closes the gap instead of opening another."""
        return sum(
            1
            for line in crossing[place]
            if line is not own and not any(hidden[i][j] for i, j in line)
        )

    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[i][j] for i, j in line) != 1:
                continue
            candidates = [(i, j) for i, j in line if not hidden[i][j]]
            if not candidates:  # a line of one count: nothing beside it to give it away
                continue
            cells = [place for place in candidates if place in inner]
            i, j = min(
                cells or candidates,
                key=lambda place: (opens(place, line), grid[place[0]][place[1]]),
            )
            hidden[i][j] = True
            changed = True


def _determined(lines, hidden) -> list[tuple[int, int]]:
    """The hidden counts that all the lines together pin down (solving them at once, not
    one line at a time: two groups of hidden counts joined by a single one give it away).
    An unknown is pinned exactly when every solution of the lines' homogeneous system
    leaves it at zero."""
    import numpy as np  # a dependency of the metrics engine; only this check needs it

    unknowns = sorted({(i, j) for line in lines for i, j in line if hidden[i][j]})
    if not unknowns:
        return []
    index = {place: k for k, place in enumerate(unknowns)}
    matrix = np.zeros((len(lines), len(unknowns)))
    for row, line in enumerate(lines):
        *parts, total = line
        for place in parts:
            if place in index:
                matrix[row, index[place]] += 1
        if total in index:
            matrix[row, index[total]] -= 1
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    free = vt[rank:]
    return [place for place, k in index.items() if np.all(np.abs(free[:, k]) < 1e-9)]


def _cover(place, lines, hidden, grid, inner, published) -> bool:
    """Hide one more count so that `place` is no longer pinned: the smallest (cells before
    totals) whose hiding frees it. False when every count is hidden already."""
    shown = [
        (i, j)
        for i, row in enumerate(grid)
        for j in range(len(row))
        if published[i][j] and not hidden[i][j]
    ]
    shown.sort(key=lambda p: (p not in inner, grid[p[0]][p[1]], p))
    before = [list(row) for row in hidden]
    for i, j in shown:
        hidden[i][j] = True
        _complete_lines(lines, hidden, grid, inner)
        if place not in _determined(lines, hidden):
            return True
        for k, row in enumerate(before):  # undo the try and what it hid beside it
            hidden[k][:] = row
    for i, j in shown:  # nothing alone frees it: hide everything left
        hidden[i][j] = True
    return bool(shown)


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """A share of two published counts; None where either is hidden (or nothing counted)."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
