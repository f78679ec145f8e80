//! Prompt building for teach and ask turns (pure functions over domain values).
//!
//! A prompt is one system message (instructions plus the lesson text), then the visible
//! conversation, then the student's new message. `history` is the thread as stored: when its
//! newest item is the student message being answered (the use case persists it before calling
//! the model), that item is dropped so the message is not sent twice.

use std::fmt::Write as _;

use super::teach::{Choice, TeachAction, Verdict};
use super::thread::{ItemKind, ThreadItem};
use super::title::is_auto_start;
use super::tutor::{Prompt, PromptMessage, Role, TutorContext};

/// Items of history an ask turn keeps (the newest ones).
pub const ASK_HISTORY_ITEMS: usize = 30;

/// Longest student name put in a prompt; a display name is not a place for instructions.
const MAX_NAME_CHARS: usize = 60;

/// What question-asking turns must end with; the marker is removed before anyone sees it.
const QUESTION_RULES: &str = "Explain in at most ~150 words of markdown, then ask exactly one \
multiple-choice question with two options on their own lines starting with `A)` and `B)`, then \
on the last line write the marker `[[CORRECT:X]]` where X is the correct option (A or B). Never \
reveal the correct option in the text: the marker is removed before the student sees your \
message. Do not always make the same option the correct one.";

/// The prompt of a teach turn for `ctx.action` (read as `Respond` when absent), keeping the
/// newest visible history whose text fits `history_budget_chars` characters.
pub fn teach_prompt(
    ctx: &TutorContext,
    history: &[ThreadItem],
    history_budget_chars: usize,
    max_tokens: u32,
) -> Prompt {
    let action = ctx.action.unwrap_or(TeachAction::Respond {
        chunk: ctx.chunk_index,
    });
    let mut messages = vec![message(Role::System, teach_instructions(ctx, action))];
    messages.extend(within_budget(
        conversation(ctx, history),
        history_budget_chars,
    ));
    messages.push(message(Role::User, final_message(ctx, action)));
    Prompt {
        messages,
        max_tokens,
        context: ctx.clone(),
    }
}

/// The prompt of an ask turn: a brief, grounded answer with the last
/// [`ASK_HISTORY_ITEMS`] visible items as memory.
pub fn ask_prompt(ctx: &TutorContext, history: &[ThreadItem], max_tokens: u32) -> Prompt {
    let mut messages = vec![message(Role::System, ask_instructions(ctx))];
    let past = conversation(ctx, history);
    let skip = past.len().saturating_sub(ASK_HISTORY_ITEMS);
    messages.extend(past.into_iter().skip(skip));
    let text = if has_words(&ctx.student_message) {
        ctx.student_message.clone()
    } else if ctx.selected_text.as_deref().is_some_and(has_words) {
        "Explain the highlighted text.".to_string()
    } else {
        "Explain the key idea of this lesson.".to_string()
    };
    messages.push(message(Role::User, text));
    Prompt {
        messages,
        max_tokens,
        context: ctx.clone(),
    }
}

fn message(role: Role, content: String) -> PromptMessage {
    PromptMessage { role, content }
}

/// Whether a message says anything (not empty, not only whitespace or the auto-start trigger).
fn has_words(text: &str) -> bool {
    !text.trim().is_empty() && !is_auto_start(text)
}

/// Visible user and assistant messages, oldest first, without the message being answered.
fn conversation(ctx: &TutorContext, history: &[ThreadItem]) -> Vec<PromptMessage> {
    let mut past: Vec<PromptMessage> = history
        .iter()
        .filter(|item| item.kind.is_visible())
        .filter_map(|item| {
            let role = match item.kind {
                ItemKind::UserMessage { .. } => Role::User,
                ItemKind::AssistantMessage { .. } => Role::Assistant,
                ItemKind::HiddenContext { .. } => return None,
            };
            let text = item.kind.text();
            (!text.trim().is_empty()).then(|| message(role, text))
        })
        .collect();
    let current = ctx.student_message.trim();
    if past
        .last()
        .is_some_and(|m| m.role == Role::User && m.content.trim() == current)
    {
        past.pop();
    }
    past
}

/// The newest messages whose text fits `budget` characters, oldest first. Stops at the first
/// message that does not fit, so the model never sees a conversation with a hole in it.
fn within_budget(messages: Vec<PromptMessage>, budget: usize) -> Vec<PromptMessage> {
    let mut used = 0usize;
    let mut kept: Vec<PromptMessage> = Vec::new();
    for m in messages.into_iter().rev() {
        used = used.saturating_add(m.content.chars().count());
        if used > budget {
            break;
        }
        kept.push(m);
    }
    kept.reverse();
    kept
}

/// The student's message, or an instruction when the turn was triggered without words.
fn final_message(ctx: &TutorContext, action: TeachAction) -> String {
    if has_words(&ctx.student_message) {
        return ctx.student_message.clone();
    }
    match action {
        TeachAction::Introduce { .. } => "Start the lesson.".to_string(),
        _ => "Continue the lesson.".to_string(),
    }
}

fn student_name(ctx: &TutorContext) -> Option<String> {
    let name = ctx.student_name.as_deref()?.trim();
    (!name.is_empty()).then(|| name.chars().take(MAX_NAME_CHARS).collect())
}

fn option(choice: Choice) -> &'static str {
    match choice {
        Choice::A => "A",
        Choice::B => "B",
    }
}

/// How to acknowledge the student's last answer before moving on.
fn verdict_line(verdict: Option<Verdict>) -> Option<String> {
    let line = match verdict? {
        Verdict::Correct => "The student answered your question correctly: begin with \
            \"Correct!\" and one sentence on why."
            .to_string(),
        Verdict::Revealed { correct } => format!(
            "The student used all attempts on your question. Kindly tell them the right answer \
             was option {} and explain in one or two sentences why.",
            option(correct)
        ),
        Verdict::Skipped {
            correct: Some(correct),
        } => format!(
            "The student skipped your question. Tell them the right answer was option {} with \
             one sentence on why.",
            option(correct)
        ),
        Verdict::Skipped { correct: None } => "The student asked to move on.".to_string(),
        Verdict::Wrong { attempts_left } => format!(
            "The student's answer to your question was not right ({attempts_left} attempt(s) \
             left)."
        ),
    };
    Some(line)
}

fn teach_instructions(ctx: &TutorContext, action: TeachAction) -> String {
    let name = student_name(ctx);
    let mut s = format!(
        "You are a warm, patient Socratic tutor teaching the lesson \"{}\" one part at a time. \
         Write markdown. Stay on the lesson; if the student drifts, steer gently back.\n",
        ctx.lesson_title
    );
    if let Some(name) = &name {
        let _ = writeln!(s, "The student's name is {name}.");
    }
    if action == TeachAction::Complete {
        let _ = writeln!(s, "\nThis turn: the lesson is finished.");
        if let Some(line) = verdict_line(ctx.verdict) {
            let _ = writeln!(s, "{line}");
        }
        let greet = name.map(|n| format!(" {n}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "Congratulate the student{greet} and summarise what they learned, one short line \
             per part:"
        );
        for title in &ctx.chunk_titles {
            let _ = writeln!(s, "- {title}");
        }
        s.push_str("Do not ask a question and do not write any answer marker.");
        return s;
    }
    let total = ctx.chunk_titles.len();
    let title = ctx
        .chunk_titles
        .get(ctx.chunk_index as usize)
        .map(String::as_str)
        .unwrap_or_default();
    let _ = writeln!(
        s,
        "\nCurrent part: {}/{total} \"{title}\". Its text:\n<lesson_part>\n{}\n</lesson_part>\n",
        ctx.chunk_index.saturating_add(1),
        ctx.chunk_text
    );
    s.push_str("This turn:\n");
    match action {
        TeachAction::Introduce { .. } => {
            let whom = name.map(|n| format!(" by name ({n})")).unwrap_or_default();
            let _ = write!(
                s,
                "Greet the student{whom}, say in one sentence what the lesson covers, then \
                 teach this part.\n{QUESTION_RULES}"
            );
        }
        TeachAction::Teach { .. } => {
            if let Some(line) = verdict_line(ctx.verdict) {
                let _ = writeln!(s, "{line}");
            }
            let _ = write!(s, "Teach this new part.\n{QUESTION_RULES}");
        }
        TeachAction::Reexplain { .. } => {
            if let Some(line) = verdict_line(ctx.verdict) {
                let _ = writeln!(s, "{line}");
            }
            let _ = write!(
                s,
                "Say kindly that it was not quite right, without revealing which option is \
                 correct. Explain the same idea differently (another angle, an analogy or a \
                 small example), then ask a NEW question about this part.\n{QUESTION_RULES}"
            );
        }
        TeachAction::Hint { .. } => {
            s.push_str(
                "The student asked for a hint on your open question. Give one short hint that points \
                 toward the right idea without revealing the correct option, then repeat the \
                 question with its A) and B) options. No new answer marker is needed.",
            );
            if let Some(correct) = ctx.pending_correct {
                s.push_str(&format!(
                    " (For you only: the correct option is {correct:?}. Never write that letter as the answer.)"
                ));
            }
        }
        TeachAction::Respond { .. } | TeachAction::Complete => s.push_str(
            "The student wrote something other than an answer. Answer briefly (2-3 sentences) \
             from this part of the lesson, then, if your last question is still open, repeat it \
             with its A) and B) options so they can answer. Do not write an answer marker.",
        ),
    }
    s
}

fn ask_instructions(ctx: &TutorContext) -> String {
    let mut s = format!(
        "You are a tutor answering a quick question about the lesson \"{}\". Answer directly and \
         briefly, in 1-2 sentences. Put key terms in **bold**. Do not ask a follow-up question. \
         Ground your answer in the lesson excerpt below",
        ctx.lesson_title
    );
    let selected = ctx.selected_text.as_deref().filter(|t| has_words(t));
    if selected.is_some() {
        s.push_str(" and the text the student highlighted");
    }
    s.push_str(
        "; if they do not cover the question, say so in a few words and answer from general \
         knowledge.\n",
    );
    if let Some(name) = student_name(ctx) {
        let _ = writeln!(s, "The student's name is {name}.");
    }
    let _ = write!(
        s,
        "\n<lesson_excerpt>\n{}\n</lesson_excerpt>\n",
        ctx.chunk_text
    );
    if let Some(selected) = selected {
        let _ = write!(s, "\n<highlighted_text>\n{selected}\n</highlighted_text>\n");
    }
    s
}

#[cfg(test)]
mod tests;
