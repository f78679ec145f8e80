//! Outbound adapter: TutorModel that needs no network; it teaches from the lesson text itself.
