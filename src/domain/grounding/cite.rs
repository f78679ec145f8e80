//! The streaming filter that takes the model's source citations out of its text.
//!
//! The model is told to cite a source by its number in square brackets, `[2]`, or several at
//! once, `[1, 3]`. The filter removes each citation that names only existing sources (and the
//! spaces before it), and notes where it stood in the text it emits, so the citation becomes an
//! annotation at that offset. Anything else in brackets (`[0]`, `[7]` with six sources,
//! `[note]`) comes out unchanged. Spaces and a possible citation start are held back until the
//! next character decides; the rest streams through at once.

/// Longest text between the brackets of a citation.
const MAX_INSIDE: usize = 12;

/// Removes `[n]` citations from a stream of text deltas and records them.
#[derive(Debug, Clone, Default)]
pub struct CitationFilter {
    /// Highest source number.
    sources: u32,
    /// Spaces, then possibly `[` and what followed it, not emitted yet.
    held: String,
    /// Characters emitted so far.
    emitted: usize,
    /// Sources cited, with the character offset where each citation stood.
    cited: Vec<(u32, usize)>,
}

impl CitationFilter {
    /// A filter for answers grounded in `sources` numbered sources (0: nothing is removed).
    pub fn new(sources: u32) -> Self {
        Self {
            sources,
            ..Self::default()
        }
    }

    /// Feeds one delta; returns the text that may be emitted now.
    pub fn push(&mut self, delta: &str) -> String {
        let mut out = String::new();
        if self.sources == 0 {
            self.emit(delta, &mut out);
            return out;
        }
        for c in delta.chars() {
            self.step(c, &mut out);
        }
        out
    }

    /// Ends the stream: what is still held back comes out.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        let held = std::mem::take(&mut self.held);
        self.emit(&held, &mut out);
        out
    }

    /// The sources cited, in order, each with the character offset of its citation in the
    /// emitted text.
    pub fn cited(&self) -> &[(u32, usize)] {
        &self.cited
    }

    fn emit(&mut self, text: &str, out: &mut String) {
        self.emitted += text.chars().count();
        out.push_str(text);
    }

    fn step(&mut self, c: char, out: &mut String) {
        let open = self.held.find('[');
        match open {
            None if c == ' ' || c == '[' => self.held.push(c),
            None => {
                let held = std::mem::take(&mut self.held);
                self.emit(&held, out);
                let mut buf = [0u8; 4];
                self.emit(c.encode_utf8(&mut buf), out);
            }
            Some(at) => {
                let inside = &self.held[at + 1..];
                if c == ']'
                    && let Some(numbers) = self.numbers(inside)
                {
                    let offset = self.emitted;
                    self.cited.extend(numbers.into_iter().map(|n| (n, offset)));
                    self.held.clear();
                    return;
                }
                let fits = inside.chars().count() < MAX_INSIDE;
                if fits && (c.is_ascii_digit() || c == ',' || c == ' ') {
                    self.held.push(c);
                    return;
                }
                // Not a citation: what was held goes out, and `c` starts afresh.
                let held = std::mem::take(&mut self.held);
                self.emit(&held, out);
                self.step(c, out);
            }
        }
    }

    /// The source numbers of a citation's inside (`2`, `1, 3`), when every one names a source.
    fn numbers(&self, inside: &str) -> Option<Vec<u32>> {
        let mut numbers = Vec::new();
        for part in inside.split(',') {
            let n: u32 = part.trim().parse().ok()?;
            if n == 0 || n > self.sources {
                return None;
            }
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
        Some(numbers)
    }
}
