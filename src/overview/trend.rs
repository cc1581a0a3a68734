//! Trend across rounds as a server-rendered SVG line chart: one line per level showing the
//! share of the assessed children at that level in each round, in the scale's colour, each
//! line with its own dash pattern and its level's name written at its end, so the chart does
//! not speak in colour alone. The page puts a data table with the counts beside it. Pure.

use crate::assessment::routes::LevelView;

/// Chart geometry (SVG user units).
const LEFT: u32 = 44;
const TOP: u32 = 12;
const PLOT_H: u32 = 150;
const STEP: u32 = 90;
const LABEL_W: u32 = 150;

/// One round on the x axis, its name on at most two lines that fit between neighbours.
pub struct Tick {
    pub x: u32,
    pub label: String,
    pub lines: Vec<String>,
}

/// How many characters of a round's name fit on one line under its point (11-unit text,
/// `STEP` units apart).
const LINE_CHARS: usize = 14;

/// A round's name on at most two lines of at most [`LINE_CHARS`], broken between words; what
/// does not fit ends in "…" (the full name is in the table beside the chart).
fn tick_lines(name: &str) -> Vec<String> {
    let fits = |s: &str| s.chars().count() <= LINE_CHARS;
    let cut = |s: &str| -> String {
        let kept: String = s.chars().take(LINE_CHARS - 1).collect();
        format!("{}…", kept.trim_end())
    };
    let mut lines: Vec<String> = Vec::new();
    for word in name.split_whitespace() {
        match lines.last_mut() {
            Some(line) if fits(&format!("{line} {word}")) => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > 2 {
        let rest = lines[1..].join(" ");
        lines.truncate(1);
        lines.push(cut(&rest));
    }
    lines
        .into_iter()
        .map(|l| if fits(&l) { l } else { cut(&l) })
        .collect()
}

/// One level's line.
pub struct Series {
    pub level: LevelView,
    /// `x,y x,y …` for a `<polyline>`.
    pub points: String,
    pub dots: Vec<Dot>,
    /// Where the level's name is written, after the last point.
    pub label_x: u32,
    pub label_y: u32,
    /// `stroke-dasharray`, different for each level.
    pub dash: &'static str,
}

pub struct Dot {
    pub x: u32,
    pub y: u32,
    /// For the tooltip: "Efterår 2026: 12 % (3)".
    pub title: String,
}

/// A trend chart and the figures behind it.
pub struct TrendChart {
    pub width: u32,
    pub height: u32,
    /// Baseline of the round names under the x axis.
    pub axis_y: u32,
    /// y of the 0, 50 and 100 % grid lines.
    pub grid: Vec<(u32, &'static str)>,
    pub ticks: Vec<Tick>,
    pub series: Vec<Series>,
    /// Per round: its name, the count at each level and the number assessed.
    pub rows: Vec<(String, Vec<i64>, i64)>,
}

const DASHES: [&str; 6] = ["none", "8 4", "2 3", "10 3 2 3", "4 4", "1 6"];

/// The chart for `rounds` (oldest first), each with its counts per level (rank order).
/// `None` when no round has any position.
pub fn chart(rounds: &[(String, Vec<i64>)], levels: &[LevelView]) -> Option<TrendChart> {
    if rounds.iter().all(|(_, c)| c.iter().all(|&n| n == 0)) {
        return None;
    }
    let x = |i: usize| LEFT + 20 + i as u32 * STEP;
    let y = |share: f64| TOP + PLOT_H - (share * f64::from(PLOT_H)).round() as u32;
    let last = rounds.len().saturating_sub(1);
    let series = levels
        .iter()
        .enumerate()
        .map(|(rank, level)| {
            let mut points = Vec::new();
            let mut dots = Vec::new();
            for (i, (name, counts)) in rounds.iter().enumerate() {
                let total: i64 = counts.iter().sum();
                if total == 0 {
                    continue;
                }
                let n = counts.get(rank).copied().unwrap_or(0);
                let share = n as f64 / total as f64;
                let (px, py) = (x(i), y(share));
                points.push(format!("{px},{py}"));
                dots.push(Dot {
                    x: px,
                    y: py,
                    title: format!("{name}: {} {} % ({n})", level.name, (share * 100.0).round()),
                });
            }
            let (label_x, label_y) = dots
                .last()
                .map_or((x(last) + 10, y(0.0)), |d| (d.x + 10, d.y + 4));
            Series {
                level: level.clone(),
                points: points.join(" "),
                dots,
                label_x,
                label_y,
                dash: DASHES[rank % DASHES.len()],
            }
        })
        .collect::<Vec<Series>>();
    let mut series = series;
    spread_labels(&mut series);
    Some(TrendChart {
        width: x(last) + LABEL_W,
        height: (TOP + PLOT_H + 48).max(series.iter().map(|s| s.label_y + 8).max().unwrap_or(0)),
        axis_y: TOP + PLOT_H + 20,
        grid: vec![(y(0.0), "0 %"), (y(0.5), "50 %"), (y(1.0), "100 %")],
        ticks: rounds
            .iter()
            .enumerate()
            .map(|(i, (name, _))| Tick {
                x: x(i),
                label: name.clone(),
                lines: tick_lines(name),
            })
            .collect(),
        series,
        rows: rounds
            .iter()
            .map(|(name, counts)| (name.clone(), counts.clone(), counts.iter().sum()))
            .collect(),
    })
}

/// Moves the level names at the lines' ends apart so that close values stay readable: at
/// least `GAP` units between neighbours, in the order of the lines.
fn spread_labels(series: &mut [Series]) {
    const GAP: u32 = 12;
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&i| (series[i].label_y, i));
    let mut floor = 0;
    for i in order {
        let y = series[i].label_y.max(floor);
        series[i].label_y = y;
        floor = y + GAP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Vec<LevelView> {
        ["green", "yellow", "orange", "red"]
            .iter()
            .enumerate()
            .map(|(rank, id)| LevelView {
                rank,
                id: id.to_string(),
                name: id.to_string(),
                colour: "#000000".into(),
            })
            .collect()
    }

    #[test]
    fn lines_show_each_levels_share_per_round() {
        let rounds = vec![
            ("R1".to_string(), vec![3, 1, 0, 0]),
            ("R2".to_string(), vec![0, 0, 0, 0]),
            ("R3".to_string(), vec![1, 1, 1, 1]),
        ];
        let c = chart(&rounds, &levels()).unwrap();
        assert_eq!(c.series.len(), 4);
        // Green: 75 % in R1, nothing assessed in R2 (no point), 25 % in R3.
        let green = &c.series[0];
        assert_eq!(green.dots.len(), 2);
        assert_eq!(green.dots[0].y, TOP + PLOT_H - 113); // 0.75 × 150 = 112.5 → 113
        assert_eq!(green.dots[1].y, TOP + PLOT_H - 38); // 0.25 × 150 = 37.5 → 38
        assert_eq!(green.dots[1].x, LEFT + 20 + 2 * STEP);
        assert!(green.dots[0].title.contains("75 % (3)"));
        // Every level has its own dash pattern, so lines differ without colour.
        let dashes: std::collections::HashSet<_> = c.series.iter().map(|s| s.dash).collect();
        assert_eq!(dashes.len(), 4);
        assert_eq!(c.rows[0].2, 4);
        assert_eq!(c.ticks.len(), 3);
        // The names at the lines' ends do not overlap, though three lines end at 25 %.
        let mut ys: Vec<u32> = c.series.iter().map(|s| s.label_y).collect();
        ys.sort();
        assert!(ys.windows(2).all(|w| w[1] - w[0] >= 12), "{ys:?}");
    }

    #[test]
    fn round_names_break_between_words_and_never_run_into_the_next() {
        assert_eq!(tick_lines("Efterår 2026"), vec!["Efterår 2026"]);
        assert_eq!(
            tick_lines("Forår 2027 ekstra runde"),
            vec!["Forår 2027", "ekstra runde"]
        );
        assert_eq!(
            tick_lines("Vinter 2027 ekstra runde for indskolingen"),
            vec!["Vinter 2027", "ekstra runde…"]
        );
        assert_eq!(
            tick_lines("Sundhedsplejerskerunden"),
            vec!["Sundhedspleje…"]
        );
        for name in [
            "Efterår 2026",
            "Forår 2027 ekstra runde",
            "Sundhedsplejerskerunden x y z",
        ] {
            let lines = tick_lines(name);
            assert!(lines.len() <= 2);
            assert!(
                lines.iter().all(|l| l.chars().count() <= LINE_CHARS),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn no_positions_no_chart() {
        assert!(chart(&[("R1".into(), vec![0, 0, 0, 0])], &levels()).is_none());
        assert!(chart(&[], &levels()).is_none());
    }
}
