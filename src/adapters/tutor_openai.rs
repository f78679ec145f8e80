//! Outbound adapter: TutorModel over any OpenAI-compatible Chat Completions API (streaming).
