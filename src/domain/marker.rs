//! The correct-option marker: how the model tells the server which option of its question is
//! right, and the streaming filter that removes it before anything reaches a client or the store.
//!
//! The marker is `[[CORRECT:A]]` or `[[CORRECT:B]]` (case-insensitive, spaces or tabs allowed
//! after `[[`, around `:` and before `]]`, at most [`MAX_MARKER_CHARS`] characters). It never
//! leaves the server.

use super::teach::Choice;

/// Longest text still read as a marker, so a stray `[[` holds the stream back only briefly.
pub const MAX_MARKER_CHARS: usize = 32;

/// The marker text for `choice`, as the model is instructed to write it.
pub fn render(choice: Choice) -> String {
    match choice {
        Choice::A => "[[CORRECT:A]]".to_string(),
        Choice::B => "[[CORRECT:B]]".to_string(),
    }
}

/// Removes markers from a stream of text deltas and remembers the last one.
///
/// What it holds back, and why:
/// - the shortest suffix that could still become a marker (at most [`MAX_MARKER_CHARS`]), so a
///   marker split across deltas never leaks;
/// - a trailing run of whitespace, because whitespace before a marker that ends the message is
///   dropped: when the message ends with a marker (nothing but whitespace after it), the
///   whitespace at the end of the output is trimmed, so the message ends with its last visible
///   character. Every other character, whitespace included, comes out exactly as it went in,
///   only the marker text itself is removed.
///
/// An unterminated marker at the end of the stream is not a marker and is emitted by
/// [`MarkerFilter::finish`].
#[derive(Debug, Clone, Default)]
pub struct MarkerFilter {
    /// A possible marker prefix, starting with `[`.
    partial: String,
    /// Whitespace not yet emitted: it is trimmed if a final marker follows it.
    held_ws: String,
    /// A marker was removed and only whitespace came after it.
    after_marker: bool,
    /// Choice of the last complete marker.
    choice: Option<Choice>,
}

/// How the text at a `[` relates to a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// A complete marker of `len` bytes.
    Marker { len: usize, choice: Choice },
    /// Everything so far fits a marker, but the text ends before it is complete.
    Partial,
    /// Not a marker.
    NoMatch,
}

impl MarkerFilter {
    /// An empty filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one delta; returns the text that is safe to emit now (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        let mut input = std::mem::take(&mut self.partial);
        input.push_str(delta);
        let mut out = String::new();
        let mut rest = input.as_str();
        while let Some(at) = rest.find('[') {
            self.emit(&rest[..at], &mut out);
            let candidate = &rest[at..];
            match scan(candidate) {
                Scan::Marker { len, choice } => {
                    self.choice = Some(choice);
                    self.after_marker = true;
                    rest = &candidate[len..];
                }
                Scan::Partial => {
                    self.partial = candidate.to_string();
                    return out;
                }
                Scan::NoMatch => {
                    self.emit("[", &mut out);
                    rest = &candidate[1..];
                }
            }
        }
        self.emit(rest, &mut out);
        out
    }

    /// Ends the stream: returns what was held back, with the whitespace before a final marker
    /// trimmed (see [`MarkerFilter`]). The filter can then be reused for a new stream.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        let partial = std::mem::take(&mut self.partial);
        self.emit(&partial, &mut out);
        if !self.after_marker {
            out.push_str(&self.held_ws);
        }
        self.held_ws.clear();
        self.after_marker = false;
        out
    }

    /// The choice of the last complete marker seen, if any.
    pub fn choice(&self) -> Option<Choice> {
        self.choice
    }

    /// Emits marker-free `text`, keeping its trailing whitespace back.
    fn emit(&mut self, text: &str, out: &mut String) {
        let visible = text.trim_end();
        if !visible.is_empty() {
            out.push_str(&self.held_ws);
            self.held_ws.clear();
            out.push_str(visible);
            self.after_marker = false;
        }
        self.held_ws.push_str(&text[visible.len()..]);
    }
}

/// Reads `text` (which starts with `[`) against the marker grammar.
fn scan(text: &str) -> Scan {
    /// Where the scanner is in `[[ correct : X ]]`.
    #[derive(Clone, Copy)]
    enum State {
        Open(u8),
        Word(usize),
        Colon,
        Letter,
        Close(u8),
    }
    const WORD: &[u8] = b"correct";
    let is_space = |c: char| c == ' ' || c == '\t';
    let mut state = State::Open(0);
    let mut choice = Choice::A;
    for (n, (at, c)) in text.char_indices().enumerate() {
        if n >= MAX_MARKER_CHARS {
            return Scan::NoMatch;
        }
        let lower = c.to_ascii_lowercase();
        state = match state {
            State::Open(0) if c == '[' => State::Open(1),
            State::Open(1) if c == '[' => State::Word(0),
            State::Word(0) if is_space(c) => State::Word(0),
            State::Word(i) if i < WORD.len() && lower == char::from(WORD[i]) => {
                if i + 1 == WORD.len() {
                    State::Colon
                } else {
                    State::Word(i + 1)
                }
            }
            State::Colon if is_space(c) => State::Colon,
            State::Colon if c == ':' => State::Letter,
            State::Letter if is_space(c) => State::Letter,
            State::Letter if lower == 'a' || lower == 'b' => {
                choice = if lower == 'a' { Choice::A } else { Choice::B };
                State::Close(0)
            }
            State::Close(0) if is_space(c) => State::Close(0),
            State::Close(0) if c == ']' => State::Close(1),
            State::Close(1) if c == ']' => {
                return Scan::Marker {
                    len: at + c.len_utf8(),
                    choice,
                };
            }
            _ => return Scan::NoMatch,
        };
    }
    Scan::Partial
}

#[cfg(test)]
mod tests;
