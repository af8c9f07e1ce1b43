//! Hand-written lexer: query text to tokens with spans. Stops at the first error.

use super::ast::{Number, Span};
use super::error::QueryError;

/// The largest number of decimal places in a literal (the same bound as a column's scale).
pub const MAX_LITERAL_SCALE: u8 = 12;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare identifier or keyword, as written.
    Ident(String),
    /// A double-quoted identifier (never a keyword), without its quotes.
    QuotedIdent(String),
    Number(Number),
    /// A single-quoted string, unescaped.
    Str(String),
    LParen,
    RParen,
    Comma,
    Semicolon,
    Star,
    Plus,
    Minus,
    Slash,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Tilde,
    Dot,
    Eof,
}

impl Tok {
    /// How the token is shown in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => {
                if super::ast::is_reserved(s) {
                    format!("keyword {}", s.to_ascii_uppercase())
                } else {
                    format!("`{s}`")
                }
            }
            Tok::QuotedIdent(s) => format!("\"{s}\""),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Semicolon => "`;`".into(),
            Tok::Star => "`*`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Slash => "`/`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Ne => "`<>`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Tilde => "`~`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Eof => "end of query".into(),
        }
    }
}

/// A token and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    column: u32,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.text[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// A span from a saved start to the current position.
    fn span_from(&self, start: (usize, u32, u32)) -> Span {
        Span {
            start: start.0,
            end: self.pos,
            line: start.1,
            column: start.2,
        }
    }

    fn mark(&self) -> (usize, u32, u32) {
        (self.pos, self.line, self.column)
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `text` into tokens; the last one is [`Tok::Eof`].
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut c = Cursor {
        text,
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        // Whitespace and comments.
        while let Some(ch) = c.peek() {
            if ch.is_whitespace() {
                c.bump();
            } else if ch == '-' && c.peek2() == Some('-') {
                while let Some(ch) = c.peek() {
                    if ch == '\n' {
                        break;
                    }
                    c.bump();
                }
            } else {
                break;
            }
        }
        let start = c.mark();
        let Some(ch) = c.bump() else {
            out.push(Token {
                tok: Tok::Eof,
                span: c.span_from(start),
            });
            return Ok(out);
        };
        let tok = match ch {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            ';' => Tok::Semicolon,
            '*' => Tok::Star,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '~' => Tok::Tilde,
            '/' => {
                if c.peek() == Some('*') {
                    c.bump();
                    return Err(QueryError::Unsupported {
                        feature: "block comments (/* ... */)".into(),
                        instead: "write comments with -- to the end of the line".into(),
                        span: c.span_from(start),
                    });
                }
                Tok::Slash
            }
            '=' => {
                if c.peek() == Some('=') {
                    c.bump();
                    return Err(QueryError::Unsupported {
                        feature: "`==`".into(),
                        instead: "compare with a single `=`".into(),
                        span: c.span_from(start),
                    });
                }
                Tok::Eq
            }
            '<' => match c.peek() {
                Some('=') => {
                    c.bump();
                    Tok::Le
                }
                Some('>') => {
                    c.bump();
                    Tok::Ne
                }
                _ => Tok::Lt,
            },
            '>' => {
                if c.peek() == Some('=') {
                    c.bump();
                    Tok::Ge
                } else {
                    Tok::Gt
                }
            }
            '!' if c.peek() == Some('=') => {
                c.bump();
                Tok::Ne
            }
            '.' => {
                if c.peek().is_some_and(|d| d.is_ascii_digit()) {
                    while c.peek().is_some_and(is_ident_char) {
                        c.bump();
                    }
                    let span = c.span_from(start);
                    return Err(QueryError::BadNumber {
                        text: text[span.start..span.end].to_string(),
                        reason: "a number must start with a digit (write 0.5, not .5)".into(),
                        span,
                    });
                }
                Tok::Dot
            }
            '\'' => Tok::Str(quoted(&mut c, start, '\'', "string literal")?),
            '"' => {
                let name = quoted(&mut c, start, '"', "quoted identifier")?;
                let reason = if name.is_empty() {
                    Some("it is empty")
                } else if !name.starts_with(is_ident_start) || !name.chars().all(is_ident_char) {
                    Some(
                        "only letters, digits and _ are allowed, and it must not start with a digit",
                    )
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(QueryError::BadIdentifier {
                        text: name,
                        reason: reason.into(),
                        span: c.span_from(start),
                    });
                }
                Tok::QuotedIdent(name)
            }
            d if d.is_ascii_digit() => Tok::Number(number(&mut c, start, text)?),
            a if is_ident_start(a) => {
                while c.peek().is_some_and(is_ident_char) {
                    c.bump();
                }
                Tok::Ident(text[start.0..c.pos].to_string())
            }
            other => {
                return Err(QueryError::UnexpectedCharacter {
                    found: other,
                    span: c.span_from(start),
                });
            }
        };
        out.push(Token {
            tok,
            span: c.span_from(start),
        });
    }
}

/// Reads the rest of a quoted string or identifier (the opening quote is consumed); a doubled
/// quote stands for one quote. Must close on the same line.
fn quoted(
    c: &mut Cursor<'_>,
    start: (usize, u32, u32),
    quote: char,
    what: &'static str,
) -> Result<String, QueryError> {
    let mut s = String::new();
    loop {
        match c.peek() {
            None | Some('\n') | Some('\r') => {
                return Err(QueryError::Unterminated {
                    what,
                    span: c.span_from(start),
                });
            }
            Some(ch) if ch == quote => {
                c.bump();
                if c.peek() == Some(quote) {
                    c.bump();
                    s.push(quote);
                } else {
                    return Ok(s);
                }
            }
            Some(ch) => {
                c.bump();
                s.push(ch);
            }
        }
    }
}

/// Reads a numeric literal whose first digit is consumed.
fn number(c: &mut Cursor<'_>, start: (usize, u32, u32), text: &str) -> Result<Number, QueryError> {
    while c.peek().is_some_and(|d| d.is_ascii_digit()) {
        c.bump();
    }
    let int_end = c.pos;
    let mut frac_start = None;
    if c.peek() == Some('.') {
        c.bump();
        if !c.peek().is_some_and(|d| d.is_ascii_digit()) {
            let span = c.span_from(start);
            return Err(QueryError::BadNumber {
                text: text[span.start..span.end].to_string(),
                reason: "a decimal point must be followed by digits (write 3.0 or 3)".into(),
                span,
            });
        }
        frac_start = Some(c.pos);
        while c.peek().is_some_and(|d| d.is_ascii_digit()) {
            c.bump();
        }
    }
    let end = c.pos;
    let trailing = c.peek();
    if trailing.is_some_and(|ch| is_ident_char(ch) || ch == '.') {
        let exponent = matches!(trailing, Some('e' | 'E'))
            && c.peek2()
                .is_some_and(|ch| ch.is_ascii_digit() || ch == '+' || ch == '-');
        while c.peek().is_some_and(|ch| is_ident_char(ch) || ch == '.') {
            c.bump();
        }
        let span = c.span_from(start);
        return Err(QueryError::BadNumber {
            text: text[span.start..span.end].to_string(),
            reason: if exponent {
                "exponent notation is not supported; write the number out in full".into()
            } else {
                "a number must be followed by a space, an operator or a parenthesis".into()
            },
            span,
        });
    }
    let span = c.span_from(start);
    let written = &text[start.0..end];
    let bad = |reason: String| QueryError::BadNumber {
        text: written.to_string(),
        reason,
        span,
    };
    let frac = frac_start.map_or("", |f| &text[f..end]);
    if frac.len() > usize::from(MAX_LITERAL_SCALE) {
        return Err(bad(format!(
            "{} decimal places; at most {MAX_LITERAL_SCALE} are allowed",
            frac.len()
        )));
    }
    let mut units: i64 = 0;
    for d in text[start.0..int_end].bytes().chain(frac.bytes()) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(d - b'0')))
            .ok_or_else(|| {
                bad(format!(
                    "out of range: without its decimal point it must be at most {}",
                    i64::MAX
                ))
            })?;
    }
    Ok(Number {
        units,
        // `frac.len() <= 12` was checked above.
        scale: u8::try_from(frac.len()).unwrap_or(MAX_LITERAL_SCALE),
    })
}
