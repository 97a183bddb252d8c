//! Validated input newtypes (parse, don't validate).

/// A key name: 1–100 Unicode characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    Control,
    #[error(
        "must not contain invisible or text-direction characters (U+200B-U+200D, U+202A-U+202E, U+2066-U+2069, U+FEFF)"
    )]
    Invisible,
}

impl NameError {
    /// Stable snake_case code for field errors.
    pub fn code(&self) -> &'static str {
        match self {
            NameError::Empty => "empty",
            NameError::TooLong(_) => "too_long",
            NameError::Control | NameError::Invisible => "invalid_characters",
        }
    }
}

/// Trim `s` and check it holds 1..=max characters and no control characters.
pub fn bounded_text(s: &str, max: usize) -> Result<String, NameError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(NameError::Empty);
    }
    if t.chars().count() > max {
        return Err(NameError::TooLong(max));
    }
    if t.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(t.to_string())
}

/// Zero-width characters and bidirectional embeddings, overrides, isolates.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

impl KeyName {
    pub const MAX_CHARS: usize = 100;

    /// Bounded text without zero-width or bidi-override characters, which
    /// would make a name look like another one (or reorder the page).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let t = bounded_text(s, Self::MAX_CHARS)?;
        if t.chars().any(is_invisible) {
            return Err(NameError::Invisible);
        }
        Ok(KeyName(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Password policy: 8–1024 characters (long enough, short enough to hash).
pub fn check_password(p: &str) -> Result<(), &'static str> {
    let n = p.chars().count();
    if n < 8 {
        Err("password must be at least 8 characters")
    } else if n > 1024 {
        Err("password must be at most 1024 characters")
    } else {
        Ok(())
    }
}

/// A normalised email: trimmed, lowercased, with one `@` and text on both sides.
pub fn normalize_email(s: &str) -> Result<String, &'static str> {
    let e = s.trim().to_lowercase();
    let mut parts = e.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(d), None)
            if !l.is_empty() && !d.is_empty() && e.len() <= 254 && !e.chars().any(char::is_whitespace) =>
        {
            Ok(e)
        }
        _ => Err("not a valid email address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(KeyName::parse("  Zapier — onboarding  ").unwrap().as_str(), "Zapier — onboarding");
        assert_eq!(KeyName::parse("   "), Err(NameError::Empty));
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(KeyName::parse(&"é".repeat(101)), Err(NameError::TooLong(100)));
        assert_eq!(KeyName::parse("a\u{0}b"), Err(NameError::Control));
    }

    #[test]
    fn key_names_refuse_zero_width_and_bidi_characters() {
        for c in ['\u{200B}', '\u{200C}', '\u{200D}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{FEFF}'] {
            assert_eq!(KeyName::parse(&format!("prod{c}key")), Err(NameError::Invisible), "{:?}", c);
        }
        assert!(KeyName::parse("Produktion – Schlüssel ✓").is_ok());
        assert!(KeyName::parse("מפתח ראשי").is_ok(), "right-to-left text itself is fine");
    }

    #[test]
    fn passwords_between_8_and_1024() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(1024)).is_ok());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn emails_are_lowercased() {
        assert_eq!(normalize_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        assert!(normalize_email("nope").is_err());
        assert!(normalize_email("a@b@c").is_err());
        assert!(normalize_email("@b").is_err());
    }
}
