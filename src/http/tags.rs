//! OpenAPI tags that group operations in the spec and the docs UI.

use poem_openapi::Tags;

/// Operation groups.
#[derive(Tags)]
pub enum ApiTags {
    /// Service identity and links.
    Meta,
    /// Liveness and readiness probes.
    Health,
    /// The ChatKit protocol of the "Teach Me" panel.
    #[oai(rename = "ChatKit")]
    ChatKit,
    /// REST mirror of the study sessions for SDK users.
    Threads,
    /// Lessons of the book as the tutor teaches them.
    Lessons,
    /// Operator endpoints guarded by a shared secret.
    Admin,
    /// Signed notifications from GitHub.
    Webhooks,
    /// The book sync: jobs, their live progress, the table of contents and the quality
    /// report.
    Book,
    /// The service's own sign-in (GitHub, Google), tokens and the caller.
    Auth,
    /// What learners studied: their progress, and question analytics for authors.
    Learning,
}
