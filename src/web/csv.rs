//! CSV exports in two formats. By default for people: what Danish Excel opens in columns —
//! UTF-8 with a byte-order mark, semicolons between cells, headers and level names in the user's
//! language, dates as dd-mm-yyyy. With `?format=raw`, for machines: UTF-8 without a mark, commas,
//! stable English keys, level ids and ISO dates. In both, every cell that comes from user data is
//! neutralised against formula injection ([`cell`]).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Which of the two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Danish Excel.
    People,
    /// `?format=raw`.
    Raw,
}

impl Format {
    /// The format a `format` query parameter asks for.
    pub fn of(param: Option<&str>) -> Format {
        match param {
            Some("raw") => Format::Raw,
            _ => Format::People,
        }
    }

    /// A new sheet in this format.
    pub fn writer(self) -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new()
            .delimiter(match self {
                Format::People => b';',
                Format::Raw => b',',
            })
            .from_writer(Vec::new())
    }

    /// The sheet's bytes: with the byte-order mark by which Excel knows UTF-8, for people.
    pub fn finish(self, w: csv::Writer<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
        let body = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
        Ok(match self {
            Format::People => [b"\xEF\xBB\xBF".as_slice(), &body].concat(),
            Format::Raw => body,
        })
    }

    /// `header` for people, `key` for machines.
    pub fn pick<'a>(self, header: &'a str, key: &'a str) -> &'a str {
        match self {
            Format::People => header,
            Format::Raw => key,
        }
    }

    /// A date: dd-mm-yyyy for people, ISO for machines.
    pub fn date(self, d: chrono::NaiveDate) -> String {
        match self {
            Format::People => d.format("%d-%m-%Y").to_string(),
            Format::Raw => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// A text cell made safe for spreadsheets: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return would make Excel or LibreOffice evaluate the cell as a formula, so it is prefixed
/// with an apostrophe.
pub fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// The file as a download named `name`.
pub fn response(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("Alma"), "Alma");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn people_get_semicolons_and_a_byte_order_mark() {
        let mut w = Format::People.writer();
        w.write_record(["Æble", "1"]).unwrap();
        assert_eq!(
            Format::People.finish(w).unwrap(),
            "\u{feff}Æble;1\n".as_bytes()
        );
        let mut w = Format::Raw.writer();
        w.write_record(["a", "1"]).unwrap();
        assert_eq!(Format::Raw.finish(w).unwrap(), b"a,1\n");
    }
}
