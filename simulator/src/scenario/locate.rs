//! Where a key of a scenario file is: a second, span-keeping parse of the same text
//! (`toml::de::DeTable`) answers "which line and column holds `jobs[2].by`" for the semantic
//! checks, and "which key holds this byte range" for serde's errors. The public scenario types stay
//! plain (no `Spanned` fields) because of it.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A position in a scenario file: the key path (`jobs[2].by`, indices from 0) and, when the
/// scenario came from text, its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The key path, e.g. `network.threshold` or `faults[1].restart_at` (array indices from 0).
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column (in characters), when known.
    pub column: Option<u32>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column, self.path.is_empty()) {
            (Some(l), Some(c), true) => write!(f, "line {l}, column {c}"),
            (Some(l), Some(c), false) => write!(f, "line {l}, column {c}, at `{}`", self.path),
            (_, _, false) => write!(f, "at `{}`", self.path),
            (_, _, true) => f.write_str("in the scenario"),
        }
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

/// Splits `jobs[2].by` into `jobs`, `2`, `by`.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some((index, after)) = rest.split_once(']') {
            if let Ok(i) = index.parse() {
                out.push(Segment::Index(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

/// Finds the lines and columns of keys in one scenario text.
pub(crate) struct Locator<'a> {
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    /// A locator over `text` (which already parsed once; if the second parse fails, positions
    /// are simply unknown).
    pub(crate) fn new(text: &'a str) -> Locator<'a> {
        Locator {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// A locator that knows no positions (for scenarios built in code).
    pub(crate) fn none() -> Locator<'static> {
        Locator {
            text: "",
            root: None,
        }
    }

    /// The location of `path`: the value's position if the key is written, else the position of
    /// the nearest enclosing table that is.
    pub(crate) fn at(&self, path: &str) -> Location {
        let span = self.span(path);
        let (line, column) = match span {
            Some(s) => {
                let (l, c) = self.line_column(s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Location {
            path: path.to_string(),
            line,
            column,
        }
    }

    /// The byte range of the value at `path`, or of its nearest written ancestor.
    pub(crate) fn span(&self, path: &str) -> Option<Range<usize>> {
        self.walk(path).0.map(Spanned::span)
    }

    /// The value at `path` (exactly, no ancestor) and its source text.
    pub(crate) fn raw_value(&self, path: &str) -> Option<(usize, &'a str)> {
        let (found, exact) = self.walk(path);
        let span = found.filter(|_| exact)?.span();
        Some((span.start, self.text.get(span)?))
    }

    /// Follows `path` as far as it is written: the deepest value reached, and whether that is
    /// the whole path.
    fn walk(&self, path: &str) -> (Option<&Spanned<DeValue<'a>>>, bool) {
        let Some(root) = self.root.as_ref() else {
            return (None, false);
        };
        let mut table: Option<&DeTable<'a>> = Some(root.get_ref());
        let mut value: Option<&Spanned<DeValue<'a>>> = None;
        for segment in segments(path) {
            let next = match (segment, table, value) {
                (Segment::Key(k), Some(t), _) => t.get(k),
                (Segment::Index(i), _, Some(v)) => v.get_ref().as_array().and_then(|a| a.get(i)),
                _ => None,
            };
            let Some(next) = next else {
                return (value, false);
            };
            table = next.get_ref().as_table();
            value = Some(next);
        }
        (value, true)
    }

    /// The position of the key named `key` inside the table at `table_path` (for "unknown key"
    /// errors whose span covers a whole table).
    pub(crate) fn key_in(&self, table: Range<usize>, key: &str) -> Option<Range<usize>> {
        let text = self.text.get(table.clone())?;
        // The key starts a line (after indentation) or follows `{` / `,` in an inline table.
        let mut search = 0;
        while let Some(found) = text.get(search..)?.find(key) {
            let start = search + found;
            let before = text.get(..start)?.trim_end_matches([' ', '\t']);
            let after = text
                .get(start + key.len()..)?
                .trim_start_matches([' ', '\t']);
            if (before.is_empty() || before.ends_with(['\n', '{', ','])) && after.starts_with('=') {
                return Some(table.start + start..table.start + start + key.len());
            }
            search = start + key.len();
        }
        None
    }

    /// The key path of the innermost key or value containing byte `offset`.
    pub(crate) fn path_of(&self, offset: usize) -> String {
        let mut path = String::new();
        if let Some(root) = self.root.as_ref() {
            find_in_table(root.get_ref(), offset, &mut path);
        }
        path
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_column(&self, offset: usize) -> (u32, u32) {
        line_column(self.text, offset)
    }

    /// The text.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }
}

/// The byte range a value covers. A table of an `[[x]]` array or a `[x]` header spans only its
/// header line: its extent runs to the end of the last key or value written under it.
fn extent(value: &Spanned<DeValue<'_>>) -> Range<usize> {
    let own = value.span();
    let inner = match value.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .map(|(k, v)| k.span().start.min(extent(v).start)..extent(v).end)
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end)),
        DeValue::Array(a) => a
            .iter()
            .map(extent)
            .reduce(|a, b| a.start.min(b.start)..a.end.max(b.end)),
        _ => None,
    };
    match inner {
        Some(r) => own.start.min(r.start)..own.end.max(r.end),
        None => own,
    }
}

fn contains(range: &Range<usize>, offset: usize) -> bool {
    range.start <= offset && offset < range.end.max(range.start + 1)
}

fn find_in_table(table: &DeTable<'_>, offset: usize, path: &mut String) {
    for (key, value) in table.iter() {
        if contains(&key.span(), offset) {
            push_key(path, key.get_ref());
            return;
        }
        if contains(&extent(value), offset) {
            push_key(path, key.get_ref());
            find_in_value(value, offset, path);
            return;
        }
    }
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut String) {
    match value.get_ref() {
        DeValue::Table(t) => find_in_table(t, offset, path),
        DeValue::Array(a) => {
            if let Some((i, e)) = a
                .iter()
                .enumerate()
                .find(|(_, e)| contains(&extent(e), offset))
            {
                path.push_str(&format!("[{i}]"));
                find_in_value(e, offset, path);
            }
        }
        _ => {}
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut line: u32 = 1;
    let mut column: u32 = 1;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line = line.saturating_add(1);
            column = 1;
        } else {
            column = column.saturating_add(1);
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n\n[network]\nnodes = 5\nthreshold = 2\n\n[[jobs]]\nname = \"a\"\nby = \"alice\"\n\n[[jobs]]\nname = \"b\"\nsource = { rows = 3, seed = 1 }\n";

    #[test]
    fn paths_resolve_to_lines() {
        let l = Locator::new(TEXT);
        let at = |p: &str| {
            let loc = l.at(p);
            (loc.line, loc.column)
        };
        assert_eq!(at("network.threshold"), (Some(5), Some(13)));
        assert_eq!(at("jobs[0].by"), (Some(9), Some(6)));
        assert_eq!(at("jobs[1].name"), (Some(12), Some(8)));
        assert_eq!(at("jobs[1].source.seed"), (Some(13), Some(29)));
        // A missing key falls back to its table.
        assert_eq!(at("jobs[1].by"), (Some(11), Some(1)));
        assert_eq!(Locator::none().at("jobs[0]").line, None);
    }

    #[test]
    fn spans_map_back_to_paths() {
        let l = Locator::new(TEXT);
        let find = |needle: &str| l.path_of(TEXT.find(needle).unwrap());
        assert_eq!(find("threshold"), "network.threshold");
        assert_eq!(find("\"alice\""), "jobs[0].by");
        assert_eq!(find("seed"), "jobs[1].source.seed");
        assert_eq!(find("\"b\""), "jobs[1].name");
        assert_eq!(find("[[jobs]]\nname = \"b"), "jobs[1]");
        assert_eq!(find("[network]"), "network");
    }

    #[test]
    fn keys_are_found_inside_a_table() {
        let l = Locator::new(TEXT);
        let table = l.span("jobs[1]").unwrap();
        let whole = table.start..TEXT.len();
        let k = l.key_in(whole, "source").unwrap();
        assert_eq!(&TEXT[k.clone()], "source");
        assert_eq!(l.line_column(k.start), (13, 1));
        assert_eq!(l.key_in(0..TEXT.len(), "nam"), None);
    }

    #[test]
    fn segments_split_keys_and_indices() {
        assert_eq!(
            segments("faults[1].groups[0]"),
            vec![
                Segment::Key("faults"),
                Segment::Index(1),
                Segment::Key("groups"),
                Segment::Index(0)
            ]
        );
    }
}
