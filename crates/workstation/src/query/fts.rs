//! Turning what a user types into an FTS5 query that can only match text.
//!
//! Every whitespace-separated word becomes one FTS5 string with a prefix star:
//! `blue "wid` → `"blue"* """wid"*`. Inside an FTS5 string nothing is an operator (`OR`,
//! `NEAR(`, `AND NOT`, `^`, `col:`, brackets); a double quote is written twice. The tokenizer
//! (unicode61) splits a string into its letter/digit runs, so `SKU-001` becomes the phrase
//! `sku 001*`. Words without any letter or digit would be empty phrases and are dropped.
//!
//! Refused, as [`CacheError::InvalidInput`]: a NUL or other control character, text longer
//! than [`MAX_TEXT_CHARS`] characters, more than [`MAX_WORDS`] words.

use crate::CacheError;

/// The longest search text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// The most words a search may have.
pub const MAX_WORDS: usize = 16;

/// Checks search text: no control characters, bounded length. Returns it trimmed.
pub(crate) fn check_text(text: &str) -> Result<&str, CacheError> {
    if text.chars().any(char::is_control) {
        return Err(CacheError::InvalidInput(
            "search text contains a control character (NUL, tab, newline…): type plain text".into(),
        ));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(CacheError::InvalidInput(format!(
            "search text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text.trim())
}

/// The FTS5 query for `text` (see the module docs), `None` when no word has a letter or
/// digit (then only the SKU prefix can match).
pub fn fts_query(text: &str) -> Result<Option<String>, CacheError> {
    let text = check_text(text)?;
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > MAX_WORDS {
        return Err(CacheError::InvalidInput(format!(
            "search text has more than {MAX_WORDS} words"
        )));
    }
    let parts: Vec<String> = words
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    Ok((!parts.is_empty()).then(|| parts.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_prefix_strings() {
        assert_eq!(
            fts_query("blue wid").ok().flatten().as_deref(),
            Some("\"blue\"* \"wid\"*")
        );
        assert_eq!(
            fts_query("a\"b OR").ok().flatten().as_deref(),
            Some("\"a\"\"b\"* \"OR\"*")
        );
        assert_eq!(fts_query("  * ( ) \" ").ok().flatten(), None);
        assert_eq!(fts_query("").ok().flatten(), None);
        assert!(fts_query("a\0b").is_err());
        assert!(fts_query(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(fts_query(&"x ".repeat(MAX_WORDS + 1)).is_err());
    }
}
