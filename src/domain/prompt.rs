//! Prompt building for teach and ask turns (pure functions over domain values).
