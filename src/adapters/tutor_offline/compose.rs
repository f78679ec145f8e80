//! The offline tutor's messages, one per teach action plus the ask-mode answer, written from
//! the prompt's [`TutorContext`] alone.

use super::question::Section;
use super::text;
use crate::domain::grounding;
use crate::domain::marker;
use crate::domain::teach::{Choice, MAX_ATTEMPTS, TeachAction, Verdict};
use crate::domain::tutor::{SourcePassage, StudyMode, TutorContext};

/// The whole answer to a turn.
pub(super) fn compose(ctx: &TutorContext) -> String {
    match ctx.mode {
        StudyMode::Ask => ask(ctx),
        StudyMode::Teach => {
            // A teach prompt without an action can only be the start of a lesson.
            let action = ctx.action.unwrap_or(TeachAction::Introduce {
                chunk: ctx.chunk_index,
            });
            teach(ctx, action)
        }
    }
}

fn teach(ctx: &TutorContext, action: TeachAction) -> String {
    match action {
        TeachAction::Introduce { chunk } => introduce(ctx, &Section::new(ctx, chunk)),
        TeachAction::Teach { chunk } => next_section(ctx, &Section::new(ctx, chunk)),
        TeachAction::Reexplain { chunk } => reexplain(ctx, &Section::new(ctx, chunk)),
        TeachAction::Reask { chunk } => reask(ctx, &Section::new(ctx, chunk)),
        // The open question: the one the student is looking at, whatever its ordinal.
        TeachAction::Hint { chunk } => Section::new(ctx, chunk)
            .question(ctx.question_variant)
            .hint(),
        TeachAction::Respond { chunk } => respond(ctx, &Section::new(ctx, chunk)),
        TeachAction::Complete => complete(ctx),
    }
}

fn introduce(ctx: &TutorContext, section: &Section) -> String {
    let name = ctx
        .student_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty());
    let greeting = match name {
        Some(name) => format!("Hi {}!", clean(name)),
        None => "Hi there!".to_string(),
    };
    let lesson = lesson_name(ctx);
    let opening = format!("{greeting} Let's study {lesson} together, one idea at a time.");
    with_question(
        &[opening, heading(ctx, section), section.excerpt(0)],
        section,
        0,
    )
}

fn next_section(ctx: &TutorContext, section: &Section) -> String {
    let parts: Vec<String> = feedback(ctx.verdict)
        .into_iter()
        .chain([heading(ctx, section), section.excerpt(0)])
        .collect();
    with_question(&parts, section, 0)
}

fn reexplain(ctx: &TutorContext, section: &Section) -> String {
    let (by_attempts, left) = match ctx.verdict {
        Some(Verdict::Wrong { attempts_left }) => (
            u32::from(MAX_ATTEMPTS.saturating_sub(attempts_left).max(1)),
            Some(attempts_left),
        ),
        _ => (1, None),
    };
    // The turn says which question it asks; a context built without it (ordinal 0, which a
    // re-explanation never asks) falls back to counting the attempts.
    let variant = match ctx.question_variant {
        0 => by_attempts,
        n => n,
    };
    let mut opening = "Not quite — let's look at it from another angle.".to_string();
    match left {
        Some(1) => opening.push_str(" You have 1 attempt left."),
        Some(n) if n > 1 => opening.push_str(&format!(" You have {n} attempts left.")),
        _ => {}
    }
    let excerpt = if section.is_empty() {
        format!("Think about what **{}** is about.", section.title)
    } else {
        section.excerpt(variant)
    };
    with_question(&[opening, excerpt], section, variant)
}

/// Another question on the same section, without judging the reply to the last one (the
/// offline tutor always marks its questions, so this only answers a hand-built context).
fn reask(ctx: &TutorContext, section: &Section) -> String {
    let opening = format!("Let's try another question about **{}**.", section.title);
    with_question(&[opening], section, ctx.question_variant.max(1))
}

fn respond(ctx: &TutorContext, section: &Section) -> String {
    let reply = match text::best_overlap(&ctx.student_message, section.sentences()) {
        Some((sentence, word)) => format!(
            "Here's what this section says about that: {}",
            text::bold_word(sentence, &word)
        ),
        None => format!(
            "Let's stay with **{}** for now — we can come back to that later.",
            section.title
        ),
    };
    let back = format!("Back to our question about **{}**:", section.title);
    // The open question again, with its marker: the answer is checked against the same option.
    with_question(&[reply, back], section, ctx.question_variant)
}

fn complete(ctx: &TutorContext) -> String {
    let mut parts = feedback(ctx.verdict);
    let title = clean(ctx.lesson_title.trim());
    parts.push(if title.is_empty() {
        "🎉 You finished this lesson!".to_string()
    } else {
        format!("🎉 You finished **{title}**!")
    });
    let covered: Vec<String> = ctx
        .chunk_titles
        .iter()
        .map(|t| clean(t.trim()))
        .filter(|t| !t.is_empty())
        .map(|t| format!("- {t}"))
        .collect();
    if !covered.is_empty() {
        parts.push(format!("Here's what we covered:\n\n{}", covered.join("\n")));
    }
    match &ctx.next_lesson {
        Some(next) if !clean(next.title.trim()).is_empty() => parts.push(format!(
            "Up next: **{}** (`{}`) builds on what you just learned.",
            clean(next.title.trim()),
            clean(next.path.trim()).replace('`', "")
        )),
        _ => {}
    }
    parts.push("Great work — come back any time to review.".to_string());
    parts.join("\n\n")
}

/// Ask mode: the sentence of the highlighted text or of the book's passages (the prompt's
/// sources) that best matches the question, quoted with its lesson and cited by its source
/// number, as a model is told to; when nothing matches, the tutor says so.
fn ask(ctx: &TutorContext) -> String {
    // A sentence that is itself a question would read as a follow-up question.
    let statements = |text: &str| -> Vec<String> {
        text::sentences(text)
            .into_iter()
            .filter(|s| !s.ends_with('?'))
            .collect()
    };
    let mut pool: Vec<String> = Vec::new();
    // Where each sentence of the pool comes from: the highlight (None) or a source.
    let mut origin: Vec<Option<usize>> = Vec::new();
    if let Some(selected) = ctx.selected_text.as_deref() {
        for sentence in statements(selected) {
            pool.push(sentence);
            origin.push(None);
        }
    }
    for (i, source) in ctx.sources.iter().enumerate() {
        for sentence in statements(&source.text) {
            pool.push(sentence);
            origin.push(Some(i));
        }
    }
    let found = best_sentence(&ctx.student_message, &pool).map(|at| {
        let sentence = text::truncate_words(&pool[at], text::EXCERPT_CHARS);
        let quoted = match text::best_overlap(&ctx.student_message, std::slice::from_ref(&sentence))
        {
            Some((_, word)) => text::bold_word(&sentence, &word),
            None => sentence,
        };
        (origin.get(at).copied().flatten(), quoted)
    });
    match found {
        Some((None, quoted)) => format!("From the passage you highlighted: “{}”", clean(&quoted)),
        Some((Some(i), quoted)) => quote(&ctx.sources[i], &quoted, "Here's what the book says"),
        None => match ctx.sources.first() {
            // The book matched the question's words, but no single sentence shares enough.
            Some(first) => {
                let opening = statements(&first.text)
                    .into_iter()
                    .next()
                    .map(|s| text::truncate_words(&s, text::EXCERPT_CHARS))
                    .unwrap_or_default();
                quote(first, &opening, "The closest passage I found")
            }
            None => "I couldn't find that in the book. Try asking with words from the lesson, \
                     or highlight a passage and ask about it."
                .to_string(),
        },
    }
}

/// The sentence of `pool` sharing the most of the question's words (a plural matches its
/// singular); on a tie the one where they weigh most (fewest other words), then the first.
fn best_sentence(question: &str, pool: &[String]) -> Option<usize> {
    let wanted = grounding::terms(question);
    let mut best: Option<(usize, usize, usize)> = None;
    for (at, sentence) in pool.iter().enumerate() {
        let words = grounding::terms(sentence);
        let shared = wanted.iter().filter(|w| words.contains(w)).count();
        if shared == 0 {
            continue;
        }
        let better =
            best.is_none_or(|(_, s, len)| shared > s || (shared == s && words.len() < len));
        if better {
            best = Some((at, shared, words.len()));
        }
    }
    best.map(|(at, _, _)| at)
}

/// `quoted` as a quotation from `source`, named by lesson and section, with its citation.
fn quote(source: &SourcePassage, quoted: &str, lead: &str) -> String {
    let lesson = clean(source.lesson_title.trim());
    let section = clean(source.section_title.trim());
    let place = match (lesson.is_empty(), section.is_empty()) {
        (false, false) => format!("**{lesson}** — *{section}*"),
        (false, true) => format!("**{lesson}**"),
        (true, false) => format!("*{section}*"),
        (true, true) => "the book".to_string(),
    };
    format!(
        "{lead}, in {place}:\n\n> {} [{}]",
        clean(quoted),
        source.number
    )
}

/// What the student's last answer earned, as the opening paragraph.
fn feedback(verdict: Option<Verdict>) -> Vec<String> {
    let line = match verdict {
        Some(Verdict::Correct) => "Correct! 🎉".to_string(),
        Some(Verdict::Revealed { correct }) => {
            format!("The correct answer was **{}**.", letter(correct))
        }
        Some(Verdict::Skipped {
            correct: Some(correct),
        }) => format!("Skipping — the answer was **{}**.", letter(correct)),
        Some(Verdict::Skipped { correct: None }) => "Skipping ahead.".to_string(),
        Some(Verdict::Unchecked) => "Thanks — let's move on.".to_string(),
        Some(Verdict::Wrong { .. }) | None => return Vec::new(),
    };
    vec![line]
}

fn heading(ctx: &TutorContext, section: &Section) -> String {
    let total = ctx.chunk_titles.len();
    let position = usize::try_from(section.index).unwrap_or(usize::MAX);
    match total {
        0 => format!("### {}", section.title),
        _ if position < total => format!(
            "### {}\n\n*Section {} of {total}*",
            section.title,
            position + 1
        ),
        _ => format!("### {}", section.title),
    }
}

/// `parts` as paragraphs, then the question of `variant` and its marker as the last line.
fn with_question(parts: &[String], section: &Section, variant: u32) -> String {
    let question = section.question(variant);
    let mut paragraphs: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    let rendered = question.render();
    paragraphs.push(&rendered);
    format!(
        "{}\n{}",
        paragraphs.join("\n\n"),
        marker::render(question.correct)
    )
}

fn lesson_name(ctx: &TutorContext) -> String {
    let title = clean(ctx.lesson_title.trim());
    if title.is_empty() {
        "this lesson".to_string()
    } else {
        format!("**{title}**")
    }
}

fn letter(choice: Choice) -> char {
    match choice {
        Choice::A => 'A',
        Choice::B => 'B',
    }
}

/// Text from the context, unable to form a correct-option marker.
fn clean(text: &str) -> String {
    text.replace("[[", "[").replace("]]", "]")
}
