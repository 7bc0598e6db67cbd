//! The rule for human-readable metadata that people are shown (`client_name` and its
//! language-tagged variants, `software_id`, `software_version`): consent pages and the
//! administration API display these names, so a name must look like what it is.
//!
//! Rule: such text is **refused, never silently changed** (the client learns what to fix; nothing
//! stored differs from what was sent) when it contains
//! - a control character (Unicode category Cc: C0, DEL, C1, including tab and newlines);
//! - a bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which can
//!   make a name display in another order than it is stored ("Trojan Source", CVE-2021-42574);
//! - an invisible format character (the rest of category Cf, e.g. U+200B ZERO WIDTH SPACE, U+2060
//!   WORD JOINER, U+FEFF, U+00AD SOFT HYPHEN, the tag characters U+E0000–U+E007F), a line or
//!   paragraph separator (U+2028, U+2029), or a blank that renders as nothing (the Hangul fillers
//!   U+115F, U+1160, U+3164, U+FFA0, U+2800 BRAILLE PATTERN BLANK, U+034F COMBINING GRAPHEME
//!   JOINER), which let two different names look the same;
//! - U+200C ZERO WIDTH NON-JOINER or U+200D ZERO WIDTH JOINER anywhere but between two visible
//!   characters: Persian, Indic scripts and emoji sequences need them there, and only there;
//! - nothing visible at all (only spaces).
//!
//! The error names the member, the code point, its name and its position (in characters, from 1).

/// Checks `value` against the rule above; the error text has no member name.
pub(crate) fn check_display_text(value: &str) -> Result<(), String> {
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let position = i + 1;
        if let Some(kind) = forbidden(c) {
            return Err(format!(
                "contains {} ({kind}) at character {position}; names are shown to people and must display as what they are",
                code_point(c)
            ));
        }
        if matches!(c, '\u{200C}' | '\u{200D}') {
            let visible = |n: Option<&char>| n.is_some_and(|n| is_visible(*n));
            let between_visible = i > 0 && visible(chars.get(i - 1)) && visible(chars.get(i + 1));
            if !between_visible {
                return Err(format!(
                    "contains {} at character {position}, not between two visible characters (the only place a joiner does anything)",
                    code_point(c)
                ));
            }
        }
    }
    if !chars.iter().any(|c| is_visible(*c)) && !chars.is_empty() {
        return Err("has no visible character".into());
    }
    Ok(())
}

/// Why `c` is never allowed, or `None`.
fn forbidden(c: char) -> Option<&'static str> {
    if c.is_control() {
        return Some("a control character");
    }
    match c {
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some("a bidirectional control"),
        '\u{2028}' | '\u{2029}' => Some("a line or paragraph separator"),
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' | '\u{034F}' => {
            Some("a character that displays as nothing")
        }
        // Category Cf (format) without the joiners, which are judged by their neighbours.
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{180E}'
        | '\u{200B}'
        | '\u{2060}'..='\u{2065}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E007F}' => Some("an invisible format character"),
        _ => None,
    }
}

/// Whether `c` leaves a mark: not a space, not a joiner, not a variation selector or combining
/// mark standing alone (approximated: not whitespace and not one of the zero-width characters).
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && forbidden(c).is_none()
        && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// `U+200B ZERO WIDTH SPACE` for the characters the rule names, `U+XXXX` otherwise.
fn code_point(c: char) -> String {
    let name = match c {
        '\u{200B}' => " ZERO WIDTH SPACE",
        '\u{200C}' => " ZERO WIDTH NON-JOINER",
        '\u{200D}' => " ZERO WIDTH JOINER",
        '\u{200E}' => " LEFT-TO-RIGHT MARK",
        '\u{200F}' => " RIGHT-TO-LEFT MARK",
        '\u{202A}' => " LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => " RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => " POP DIRECTIONAL FORMATTING",
        '\u{202D}' => " LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => " RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => " LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => " RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => " FIRST STRONG ISOLATE",
        '\u{2069}' => " POP DIRECTIONAL ISOLATE",
        '\u{2060}' => " WORD JOINER",
        '\u{FEFF}' => " ZERO WIDTH NO-BREAK SPACE",
        '\u{00AD}' => " SOFT HYPHEN",
        '\u{2028}' => " LINE SEPARATOR",
        '\u{2029}' => " PARAGRAPH SEPARATOR",
        '\u{3164}' => " HANGUL FILLER",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::check_display_text;

    #[test]
    fn invisible_and_direction_changing_characters_are_refused_with_their_position() {
        let err = check_display_text("Cl\u{200B}aude").expect_err("refused");
        assert!(err.contains("U+200B ZERO WIDTH SPACE"), "{err}");
        assert!(err.contains("at character 3"), "{err}");
        for (text, says) in [
            ("Good\u{202E}evil", "U+202E RIGHT-TO-LEFT OVERRIDE"),
            ("a\u{2066}b\u{2069}", "U+2066"),
            ("\u{200F}name", "U+200F"),
            ("na\u{FEFF}me", "U+FEFF"),
            ("na\u{2060}me", "U+2060"),
            ("soft\u{00AD}hyphen", "U+00AD"),
            ("tag\u{E0041}", "U+E0041"),
            ("\u{3164}", "U+3164 HANGUL FILLER"),
            ("x\u{2028}y", "U+2028"),
            ("tab\there", "U+0009"),
        ] {
            let err = check_display_text(text).expect_err(text);
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn joiners_are_allowed_only_between_visible_characters() {
        // Persian "می‌خواهم" needs ZWNJ; a family emoji is joined with ZWJ.
        check_display_text("می\u{200C}خواهم").expect("Persian with ZWNJ");
        check_display_text("👨\u{200D}👩\u{200D}👧 Family").expect("emoji ZWJ sequence");
        check_display_text("❤\u{FE0F} app").expect("emoji presentation selector");
        for text in [
            "\u{200D}Claude",
            "Claude\u{200C}",
            "a \u{200D} b",
            "a\u{200D}\u{200D}b",
        ] {
            assert!(check_display_text(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn names_with_nothing_visible_are_refused() {
        assert!(check_display_text("   ").is_err());
        assert!(check_display_text("\u{2003}").is_err());
        check_display_text("Claude Code").expect("plain name");
        check_display_text("تطبيق").expect("right-to-left script");
        check_display_text("日本語のアプリ").expect("CJK");
    }
}
