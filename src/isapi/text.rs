//! Strings from a device are data. Every one that hiktalk keeps (XML text, JSON values, header
//! values it reports) passes through [`clean`] when it is parsed: bounded in length (counted in
//! characters, never sliced by byte index) and with control and bidirectional-override
//! characters escaped, so nothing a device says can move the cursor, clear a line, recolour the
//! terminal or forge a line of output. Whatever hiktalk later prints, serialises or validates
//! for a request is already safe to show.

/// The longest device string kept, in characters. ISAPI values are short (ids, codec names,
/// status words, model numbers); anything longer is cut and marked.
pub const MAX_CHARS: usize = 256;

/// `s` bounded to [`MAX_CHARS`] characters, control characters escaped (`\r`, `\n`, `\u{1b}`).
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_CHARS + 8));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_CHARS {
            out.push('…');
            break;
        }
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters a terminal acts on rather than shows: C0/C1 controls, DEL, and the Unicode
/// bidirectional overrides and isolates that reorder what follows them.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_text_is_kept() {
        assert_eq!(clean("G.711ulaw"), "G.711ulaw");
        assert_eq!(clean("DS\r\n\u{1b}[31mRED"), "DS\\r\\n\\u{1b}[31mRED");
        assert_eq!(clean("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(clean("Türklingel ☎"), "Türklingel ☎");
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_CHARS + 10);
        let c = clean(&long);
        assert_eq!(c.chars().count(), MAX_CHARS + 1);
        assert!(c.ends_with('…'));
    }
}
