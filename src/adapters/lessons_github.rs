//! Outbound adapter: LessonSource over raw files of a GitHub repository (reqwest).
