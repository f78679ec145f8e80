//! Property tests of the offline tutor: any lesson text gives a well-formed question.

use proptest::prelude::*;

use super::super::{compose::compose, flip::flip};
use super::{marker_count, parse_question, teach};
use crate::domain::marker;
use crate::domain::teach::TeachAction;

proptest! {
    #[test]
    fn any_chunk_text_gives_one_marker_on_the_last_line(
        chunk in ".{0,400}",
        other in proptest::option::of(".{0,200}"),
        index in 0u32..6,
    ) {
        for action in [
            TeachAction::Introduce { chunk: index },
            TeachAction::Reexplain { chunk: index },
            TeachAction::Reask { chunk: index },
        ] {
            let mut context = teach(action, None);
            context.chunk_text = chunk.clone();
            context.other_text = other.clone();

            let answer = compose(&context);

            prop_assert_eq!(marker_count(&answer), 1);
            let (correct, a, b) = parse_question(&answer);
            prop_assert_ne!(a, b);
            prop_assert!(answer.ends_with(&marker::render(correct)));
        }
    }
}

proptest! {
    #[test]
    fn flip_always_changes_the_sentence(sentence in "[A-Za-z ,.']{1,120}") {
        prop_assert_ne!(flip(&sentence), sentence);
    }
}
