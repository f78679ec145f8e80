//! The correct-option marker: how the model tells the server which option of its question is
//! right, and the streaming filter that removes it before anything reaches a client or the store.
//!
//! The model is told to write `[[CORRECT:A]]` or `[[CORRECT:B]]`. Models do not always obey,
//! and a model's output can be steered by the student, so the filter does not trust the shape:
//! anything *marker-like* is removed, whatever follows it.
//!
//! Marker-like means: `[`, then any run of brackets, spaces, tabs, zero-width characters and
//! markdown decoration (`*`, `_`, `` ` ``), then the word `correct` in any case. The marker-like
//! sequence goes on to the first `]` (a second `]` right after it is removed too), or else to
//! the end of its line, or of the message. `[[ Correct answer: B ]]`, `[CORRECT: Option A]`,
//! `[[**correct**:A` and `[[correction]]` are all removed. A possible start of one (`[`, `[[`,
//! `[[ cor`) is held back until the next character rules it out, and dropped if the message
//! ends there: a model that stops at its token limit in the middle of a marker leaks nothing.
//!
//! The choice is read leniently from what follows the word (see [`read_choice`]): `:A`,
//! `: Option A`, `answer: b`, `: B) …`. A marker-like sequence that names no single option is
//! removed all the same and leaves the question without a checkable answer.

mod read;

pub use read::read_choice;

use super::teach::Choice;

/// Longest text after the word `correct` that is still read for a choice; a longer one is
/// removed but names no option.
pub const MAX_MARKER_BODY_CHARS: usize = 48;

/// The word every marker-like sequence contains, lowercase.
const WORD: &[u8] = b"correct";

/// The marker text for `choice`, as the model is instructed to write it.
pub fn render(choice: Choice) -> String {
    match choice {
        Choice::A => "[[CORRECT:A]]".to_string(),
        Choice::B => "[[CORRECT:B]]".to_string(),
    }
}

/// Whether `c` may sit between an opening bracket and the word `correct`.
fn is_gap(c: char) -> bool {
    matches!(
        c,
        '[' | '*' | '_' | '`' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    ) || (c.is_whitespace() && !matches!(c, '\n' | '\r'))
}

/// How the end of the text written so far relates to the start of a marker-like sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Opening {
    /// No marker-like sequence can be starting.
    #[default]
    None,
    /// After an opening bracket, before the word.
    Gap,
    /// After an opening bracket and this many letters of the word (1 to 6).
    Word(u8),
}

/// Where the filter is in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// Ordinary text (possibly inside an [`Opening`]).
    #[default]
    Text,
    /// After the word of a marker-like sequence: dropped up to `]` or the end of the line.
    Body,
    /// Right after the `]` that closed a marker: one more `]` is dropped.
    Closing,
}

/// Removes marker-like sequences from a stream of text deltas and reads the last one.
///
/// It works on the text it *emits*, not only on its input: when removing a marker joins the
/// text before it to the text after it (`[co` + marker + `rrect`), the joined text is checked
/// too, so no split of the deltas and no arrangement of the model's words gets `[correct`
/// through.
///
/// What it holds back, and why:
/// - a possible start of a marker-like sequence (see the module documentation);
/// - a trailing run of whitespace, because whitespace before a marker that ends the message is
///   dropped: when the message ends with a marker (nothing but whitespace after it), the
///   whitespace at the end of the output is trimmed, so the message ends with its last visible
///   character. Every other character, whitespace included, comes out exactly as it went in.
#[derive(Debug, Clone, Default)]
pub struct MarkerFilter {
    mode: Mode,
    /// State of the end of the emitted-or-held text.
    opening: Opening,
    /// The part of the current opening not emitted yet (all of it, unless a removed marker
    /// joined it to text emitted before).
    held: String,
    /// Letters matched by the openings that the current one interrupted (innermost last): if
    /// the current one turns out to be a marker, its removal resumes the one before it.
    outer: Vec<u8>,
    /// Text after the word of the current marker, up to [`MAX_MARKER_BODY_CHARS`] + 1 chars.
    body: String,
    /// Whitespace not yet emitted: it is trimmed if a final marker follows it.
    held_ws: String,
    /// A marker was removed and only whitespace came after it.
    after_marker: bool,
    /// Whether any marker-like sequence was removed.
    seen: bool,
    /// Choice named by the last marker-like sequence (`None` when it named none).
    choice: Option<Choice>,
}

impl MarkerFilter {
    /// An empty filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one delta; returns the text that is safe to emit now (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        let mut out = String::new();
        let mut rest = delta;
        while let Some(c) = rest.chars().next() {
            if self.mode == Mode::Text && self.opening == Opening::None && c != '[' {
                // Plain text up to the next `[` cannot start a marker: it goes out as one run
                // (emitting it at once or character by character gives the same output).
                let end = rest.find('[').unwrap_or(rest.len());
                self.emit(&rest[..end], &mut out);
                rest = &rest[end..];
                continue;
            }
            self.step(c, &mut out);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// Ends the stream: returns what may still be emitted. A possible marker start held back
    /// is dropped, an unclosed marker is read and removed, and the whitespace before a final
    /// marker is trimmed (see [`MarkerFilter`]). The filter can then be reused for a new stream.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        match self.mode {
            Mode::Body => self.end_marker(),
            Mode::Closing => {}
            Mode::Text => {
                if !self.held.is_empty() {
                    // The start of a marker cut off by the end of the answer: never shown.
                    self.held.clear();
                    self.after_marker = true;
                }
            }
        }
        if !self.after_marker {
            out.push_str(&self.held_ws);
        }
        self.mode = Mode::Text;
        self.opening = Opening::None;
        self.held.clear();
        self.outer.clear();
        self.body.clear();
        self.held_ws.clear();
        self.after_marker = false;
        out
    }

    /// The choice named by the last marker-like sequence; `None` when there was none or the
    /// last one named no single option.
    pub fn choice(&self) -> Option<Choice> {
        self.choice
    }

    /// Whether any marker-like sequence was removed, readable or not.
    pub fn saw_marker(&self) -> bool {
        self.seen
    }

    fn step(&mut self, c: char, out: &mut String) {
        match self.mode {
            Mode::Body => match c {
                ']' => {
                    self.end_marker();
                    self.mode = Mode::Closing;
                }
                '\n' | '\r' => {
                    self.end_marker();
                    self.text(c, out);
                }
                _ => {
                    if self.body.chars().count() <= MAX_MARKER_BODY_CHARS {
                        self.body.push(c);
                    }
                }
            },
            Mode::Closing => {
                self.mode = Mode::Text;
                if c != ']' {
                    self.text(c, out);
                }
            }
            Mode::Text => self.text(c, out),
        }
    }

    /// One character of ordinary text.
    fn text(&mut self, c: char, out: &mut String) {
        let lower = c.to_ascii_lowercase();
        match self.opening {
            Opening::Gap if is_gap(c) => self.held.push(c),
            Opening::Gap if lower == 'c' => {
                self.held.push(c);
                self.opening = Opening::Word(1);
            }
            Opening::Word(k)
                if WORD.get(usize::from(k)) == Some(&(lower as u8)) && c.is_ascii() =>
            {
                self.held.push(c);
                if usize::from(k) + 1 == WORD.len() {
                    self.held.clear();
                    self.opening = Opening::None;
                    self.mode = Mode::Body;
                    self.body.clear();
                } else {
                    self.opening = Opening::Word(k + 1);
                }
            }
            _ if c == '[' => {
                // A new opening; an interrupted one may resume if this one is removed.
                if let Opening::Word(k) = self.opening {
                    self.outer.push(k);
                }
                let before = std::mem::take(&mut self.held);
                self.emit(&before, out);
                self.held.push(c);
                self.opening = Opening::Gap;
            }
            Opening::None => {
                let mut buf = [0u8; 4];
                self.emit(c.encode_utf8(&mut buf), out);
            }
            _ => {
                // Ruled out: nothing before this character can start a marker any more.
                let mut text = std::mem::take(&mut self.held);
                text.push(c);
                self.emit(&text, out);
                self.opening = Opening::None;
                self.outer.clear();
            }
        }
    }

    /// The current marker ended: read its choice; the text before it takes up again.
    fn end_marker(&mut self) {
        self.seen = true;
        self.after_marker = true;
        self.choice = if self.body.chars().count() > MAX_MARKER_BODY_CHARS {
            None
        } else {
            read_choice(&self.body)
        };
        self.body.clear();
        self.mode = Mode::Text;
        self.opening = self.outer.pop().map_or(Opening::None, Opening::Word);
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

#[cfg(test)]
mod tests;
