//! Small-cell suppression for aggregate tables with row and column totals. Pure.
//!
//! - *Primary*: every count from 1 to `threshold - 1` is hidden and shown as "<threshold".
//! - *Complementary*: while a row or column has exactly one hidden cell, its smallest other
//!   non-zero cell is hidden too (shown as "•"), so no hidden count can be worked out by
//!   subtracting the visible ones from the line's total.
//! - *Totals*: a total below the threshold is hidden; a line whose only non-zero cells are
//!   hidden (so no complement exists) has its total hidden as well, and when exactly one row
//!   (or column) total is hidden, the smallest other non-zero one is hidden with it, so the
//!   grand total cannot give it away.

/// A shown cell: the count, or hidden (primary: a small count; complementary: to protect one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(i64),
    Small,
    Hidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub col_totals: Vec<Cell>,
    pub total: Cell,
}

fn complement_line(values: &[i64], hidden: &mut [bool]) -> bool {
    if hidden.iter().filter(|h| **h).count() != 1 {
        return false;
    }
    match (0..values.len())
        .filter(|&i| !hidden[i] && values[i] > 0)
        .min_by_key(|&i| values[i])
    {
        Some(i) => {
            hidden[i] = true;
            true
        }
        None => false,
    }
}

/// Hides totals: small ones, those of lines left with a lone hidden cell, and a complement
/// when exactly one is hidden.
fn totals(sums: &[i64], lone: &[bool], threshold: i64) -> Vec<bool> {
    let mut hidden: Vec<bool> = sums
        .iter()
        .zip(lone)
        .map(|(&s, &l)| (s > 0 && s < threshold) || l)
        .collect();
    complement_line(sums, &mut hidden);
    hidden
}

pub fn suppress(table: &[Vec<i64>], threshold: i64) -> Suppressed {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    let primary: Vec<Vec<bool>> = table
        .iter()
        .map(|r| r.iter().map(|&n| n > 0 && n < threshold).collect())
        .collect();
    let mut hidden = primary.clone();
    loop {
        let mut changed = false;
        for row in hidden.iter_mut().zip(table) {
            changed |= complement_line(row.1, row.0);
        }
        for c in 0..cols {
            let values: Vec<i64> = table.iter().map(|r| r[c]).collect();
            let mut col: Vec<bool> = hidden.iter().map(|r| r[c]).collect();
            if complement_line(&values, &mut col) {
                for (r, h) in col.into_iter().enumerate() {
                    hidden[r][c] = h;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let row_sums: Vec<i64> = table.iter().map(|r| r.iter().sum()).collect();
    let col_sums: Vec<i64> = (0..cols)
        .map(|c| table.iter().map(|r| r[c]).sum())
        .collect();
    let row_lone: Vec<bool> = hidden
        .iter()
        .map(|r| r.iter().filter(|h| **h).count() == 1)
        .collect();
    let col_lone: Vec<bool> = (0..cols)
        .map(|c| (0..rows).filter(|&r| hidden[r][c]).count() == 1)
        .collect();
    let row_hidden = totals(&row_sums, &row_lone, threshold);
    let col_hidden = totals(&col_sums, &col_lone, threshold);
    let grand: i64 = row_sums.iter().sum();
    let show = |n: i64, hide: bool, small: bool| match (hide, small) {
        (false, _) => Cell::Shown(n),
        (true, true) => Cell::Small,
        (true, false) => Cell::Hidden,
    };
    Suppressed {
        cells: table
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(|(c, &n)| show(n, hidden[r][c], primary[r][c]))
                    .collect()
            })
            .collect(),
        row_totals: row_sums
            .iter()
            .zip(&row_hidden)
            .map(|(&n, &h)| show(n, h, n > 0 && n < threshold))
            .collect(),
        col_totals: col_sums
            .iter()
            .zip(&col_hidden)
            .map(|(&n, &h)| show(n, h, n > 0 && n < threshold))
            .collect(),
        total: show(grand, grand > 0 && grand < threshold, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_hidden(c: Cell) -> bool {
        !matches!(c, Cell::Shown(_))
    }

    #[test]
    fn small_cells_and_their_complements_are_hidden() {
        let t = vec![vec![20, 3, 7], vec![15, 9, 6]];
        let s = suppress(&t, 5);
        assert_eq!(s.cells[0][1], Cell::Small);
        assert_eq!(s.cells[0][2], Cell::Hidden);
        assert_eq!(s.cells[1][1], Cell::Hidden);
        assert_eq!(s.cells[1][2], Cell::Hidden);
        assert_eq!(s.cells[0][0], Cell::Shown(20));
        assert_eq!(s.total, Cell::Shown(60));
    }

    /// Exhaustive over small tables: no hidden count can be recomputed from a shown total, i.e.
    /// a line with a shown total never has exactly one hidden cell; a line's hidden total is
    /// never alone among shown ones when the grand total is shown; every small count is hidden.
    #[test]
    fn nothing_hidden_can_be_worked_out() {
        for a in 0..7 {
            for b in 0..7 {
                for c in 0..7 {
                    for d in 0..7 {
                        for e in [0, 3, 10] {
                            let t = vec![vec![a, b, e], vec![c, d, 12]];
                            let s = suppress(&t, 5);
                            for (r, row) in s.cells.iter().enumerate() {
                                let lone = row.iter().filter(|x| is_hidden(**x)).count() == 1;
                                assert!(!lone || is_hidden(s.row_totals[r]), "{t:?} → {s:?}");
                            }
                            for col in 0..3 {
                                let lone =
                                    s.cells.iter().filter(|r| is_hidden(r[col])).count() == 1;
                                assert!(!lone || is_hidden(s.col_totals[col]), "{t:?} → {s:?}");
                            }
                            if !is_hidden(s.total) {
                                assert_ne!(
                                    s.row_totals.iter().filter(|x| is_hidden(**x)).count(),
                                    1,
                                    "{t:?} → {s:?}"
                                );
                                assert_ne!(
                                    s.col_totals.iter().filter(|x| is_hidden(**x)).count(),
                                    1,
                                    "{t:?} → {s:?}"
                                );
                            }
                            for (r, row) in t.iter().enumerate() {
                                for (ci, &v) in row.iter().enumerate() {
                                    if v > 0 && v < 5 {
                                        assert_eq!(s.cells[r][ci], Cell::Small);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(
            suppress(&[vec![10, 10], vec![10, 10]], 5)
                .cells
                .iter()
                .flatten()
                .all(|c| !is_hidden(*c))
        );
    }
}
