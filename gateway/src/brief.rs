//! What the gateway says about bad input stays one short line, whatever the input: a value quoted
//! in a message is cut to [`VALUE_CHARS`] characters, a whole message to [`LINE_CHARS`] (counted
//! after escaping, then `…`), and
//! control characters (and the invisible ones that reorder a terminal's text) are escaped. A file
//! of NUL bytes, a key of five million emoji or a request with a megabyte of query string
//! cannot flood a terminal, a log or an API reply.

/// Characters of an offending value shown in a message.
pub const VALUE_CHARS: usize = 40;
/// Characters of a key (a config key path, which can be anything a file spells) in a message.
pub const KEY_CHARS: usize = 60;
/// Characters of a whole message line.
pub const LINE_CHARS: usize = 300;

/// A value as a message quotes it: in double quotes, escaped, cut to [`VALUE_CHARS`] with `…`.
pub fn value(raw: &str) -> String {
    let mut out = String::from('"');
    push_cut(&mut out, raw, VALUE_CHARS, true);
    out.push('"');
    out
}

/// A key or name shown without quotes, escaped and cut to [`KEY_CHARS`].
pub fn key(raw: &str) -> String {
    cut(raw, KEY_CHARS)
}

/// One line of a message: escaped (a line break becomes `\n`) and cut to [`LINE_CHARS`].
pub fn line(raw: &str) -> String {
    cut(raw, LINE_CHARS)
}

/// `raw` escaped and cut to `max` characters (then `…`).
pub fn cut(raw: &str, max: usize) -> String {
    let mut out = String::new();
    push_cut(&mut out, raw, max, false);
    out
}

/// A message that may span lines (a TOML parse error shows the offending line and a caret under
/// it) as one line: the source excerpt is dropped, the rest joined with `: `, then [`line`].
pub fn fold(raw: &str) -> String {
    let kept: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_source_excerpt(l))
        .collect();
    line(&kept.join(": "))
}

/// `|`, `  |     ^`, `12 | key = …`: the lines a parser prints to point at the input.
fn is_source_excerpt(line: &str) -> bool {
    let rest = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    rest.starts_with('|')
}

/// Appends `raw` escaped, stopping before the escaped text would pass `max` characters.
fn push_cut(out: &mut String, raw: &str, max: usize, quoted: bool) {
    let mut shown = 0;
    let mut one = String::new();
    for c in raw.chars() {
        one.clear();
        push_escaped(&mut one, c, quoted);
        let n = one.chars().count();
        if shown + n > max {
            out.push('…');
            return;
        }
        out.push_str(&one);
        shown += n;
    }
}

fn push_escaped(out: &mut String, c: char, quoted: bool) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '"' | '\\' if quoted => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() || is_invisible(c) => {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
        c => out.push(c),
    }
}

/// Characters that change how a terminal shows the text around them without showing themselves:
/// bidirectional overrides and isolates, zero-width and byte-order marks.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_cut_and_quoted() {
        let v = value(&"😀".repeat(5_000_000));
        assert_eq!(v.chars().count(), VALUE_CHARS + 3);
        assert!(v.ends_with("…\""), "{v}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(value("a\0b\n\"c\u{202e}"), r#""a\u{0}b\n\"c\u{202e}""#);
        assert_eq!(line("x\u{1b}[31m"), "x\\u{1b}[31m");
        let nuls = line(&"\0".repeat(1 << 20));
        assert!(!nuls.contains('\0'));
        assert!(nuls.chars().count() <= LINE_CHARS + 1, "{nuls}");
    }

    #[test]
    fn a_parse_error_is_folded_to_one_line() {
        let raw = "TOML parse error at line 2, column 7\n  |\n2 | key = \"\u{7}oops\n  |       ^\ninvalid basic string\n";
        assert_eq!(
            fold(raw),
            "TOML parse error at line 2, column 7: invalid basic string"
        );
    }
}
