//! Outbound adapter: LessonSource over a local folder laid out like the book's docs prefix.
