//! What a row found: problems (the test fails when there is any, grouped by symptom in the
//! report) and notes (figures printed either way).

use super::service::Service;

/// Problems found (the test fails when there is any) and notes (printed either way).
pub struct Findings {
    row: String,
    problems: Vec<String>,
    notes: Vec<String>,
}

impl Findings {
    /// Findings of the row `row`.
    pub fn new(row: &str) -> Self {
        Self {
            row: row.to_string(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records `what` as a problem unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(what());
        }
    }

    /// Records a figure or an observation for the report.
    pub fn note(&mut self, what: impl Into<String>) {
        self.notes.push(what.into());
    }

    /// Prints the notes and fails with every problem and the services' last warnings.
    pub fn finish(self, services: &[&Service]) {
        eprintln!("== fault row {}: notes", self.row);
        for n in &self.notes {
            eprintln!("  {n}");
        }
        if self.problems.is_empty() {
            eprintln!("== fault row {}: no problem found", self.row);
            return;
        }
        let mut report = format!(
            "fault row {}: {} problem(s)\n",
            self.row,
            self.problems.len()
        );
        // Many problems repeat one symptom (one per thread or turn): group them by their
        // wording with ids and numbers masked, and show a few examples of each.
        let mut groups: Vec<(String, Vec<&String>)> = Vec::new();
        for p in &self.problems {
            let key = symptom(p);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(p),
                None => groups.push((key, vec![p])),
            }
        }
        for (_, list) in &groups {
            report.push_str(&format!("  - {}× {}\n", list.len(), cut(list[0], 600)));
            for p in list.iter().skip(1).take(2) {
                report.push_str(&format!("      e.g. {}\n", cut(p, 300)));
            }
        }
        for s in services {
            report.push_str(&format!(
                "--- last warnings and errors of service {}:\n{}\n",
                s.name,
                s.log_problems(25)
            ));
        }
        panic!("{report}");
    }
}

/// A problem's wording with every word that holds a digit masked, cut to 50 characters.
fn symptom(problem: &str) -> String {
    let masked: Vec<&str> = problem
        .split(' ')
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                "#"
            } else {
                w
            }
        })
        .collect();
    masked.join(" ").chars().take(50).collect()
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
