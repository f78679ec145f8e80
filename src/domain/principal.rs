//! The verified caller of a request, as every use case sees it.

use serde::{Deserialize, Serialize};

/// Service tier that selects quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Default for every student.
    #[default]
    Free,
    /// Paying students and partner services.
    Premium,
    /// Operators; unlimited by default.
    Admin,
}

impl Tier {
    /// Stable lowercase name used in configuration keys and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
            Tier::Admin => "admin",
        }
    }
}

/// A caller whose identity was established by a [`crate::domain::ports::TokenVerifier`].
///
/// Identity and organisation never come from request headers once a token was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable user id (`sub`). Never empty.
    pub user_id: String,
    /// Organisation (tenant) the user acts for, when known.
    pub organization_id: Option<String>,
    /// E-mail address, when the identity provider shares it.
    pub email: Option<String>,
    /// Display name, when known.
    pub name: Option<String>,
    /// Role claim (`admin`, `student`, …), when present.
    pub role: Option<String>,
    /// Quota tier.
    pub tier: Tier,
}
