//! Output: human text on stdout by default (colours only on a terminal, never with `NO_COLOR`),
//! one JSON document on stdout with `--json`, progress on stderr only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

/// What a command hands back to be printed.
pub enum Report {
    /// Text for humans and the same facts as one JSON document.
    Done {
        /// For humans.
        human: String,
        /// For machines (`--json`).
        json: serde_json::Value,
    },
    /// Nothing to print (the daemon).
    Nothing,
}

impl Report {
    /// A report.
    pub fn new(human: impl Into<String>, json: serde_json::Value) -> Self {
        Report::Done {
            human: human.into(),
            json,
        }
    }
}

/// How to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Machine output.
    pub json: bool,
    /// ANSI colours on stdout.
    pub colour: bool,
    /// Progress indicators on stderr.
    pub progress: bool,
}

impl Ui {
    /// Decides from the flags and the terminals.
    pub fn detect(json: bool) -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some();
        Ui {
            json,
            colour: !json && !no_colour && std::io::stdout().is_terminal(),
            progress: std::io::stderr().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Good news (green).
    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Bad news (red).
    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// A warning (yellow).
    pub fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// A heading (bold).
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Secondary detail (dim).
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// A spinner with `message` on stderr (a no-op when stderr is not a terminal).
    pub fn spinner(&self, message: impl Into<String>) -> Progress {
        if !self.progress {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// A bar of `len` steps with `message` on stderr (a no-op when stderr is not a terminal).
    pub fn bar(&self, len: u64, message: impl Into<String>) -> Progress {
        if !self.progress {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress(Some(bar))
    }
}

/// A progress indicator; cleared when dropped.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// Changes the message.
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(b) = &self.0 {
            b.set_message(message.into());
        }
    }

    /// Sets the position of a bar.
    pub fn set_position(&self, pos: u64) {
        if let Some(b) = &self.0 {
            b.set_position(pos);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A table for humans: columns padded to their widest cell (colour codes are not counted).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let visible = |s: &str| -> usize {
        let mut n = 0;
        let mut in_escape = false;
        for c in s.chars() {
            match (in_escape, c) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, _) => n += 1,
            }
        }
        n
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(visible(cell));
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(visible(cell));
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_to_the_visible_width() {
        let ui = Ui {
            json: false,
            colour: true,
            progress: false,
        };
        let t = table(
            &["a", "bb"],
            &[
                vec!["xxx".into(), ui.good("ok")],
                vec!["y".into(), "z".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "a    bb");
        assert_eq!(lines[1], "xxx  \x1b[32mok\x1b[0m");
        assert_eq!(lines[2], "y    z");
    }
}
