//! The verified caller of a request, as every use case sees it.

use serde::{Deserialize, Serialize};

/// Largest credential (bearer token or API key) looked at; anything bigger is refused before
/// any parsing, lookup or fetch.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

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

/// Identity claims as an identity provider states them (JWT payload or userinfo answer);
/// every field optional so a missing claim is a typed error, never a panic.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdentityClaims {
    /// Subject: the user id.
    pub sub: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Role (`admin` makes the tier admin).
    pub role: Option<String>,
    /// Tier (`free`, `premium`, `admin`); anything else is free.
    pub tier: Option<String>,
    /// Organisation, first choice.
    pub tenant_id: Option<String>,
    /// Organisation, second choice.
    pub organization_id: Option<String>,
    /// Organisations; the first is used when neither of the above is present.
    pub organization_ids: Option<Vec<String>>,
}

impl IdentityClaims {
    /// The caller these claims describe.
    ///
    /// # Errors
    /// `"token has no subject"` when `sub` is missing or empty.
    pub fn into_principal(self) -> Result<Principal, &'static str> {
        let user_id = self
            .sub
            .filter(|sub| !sub.trim().is_empty())
            .ok_or("token has no subject")?;
        let tier = if self.role.as_deref() == Some("admin") {
            Tier::Admin
        } else {
            match self.tier.as_deref() {
                Some("premium") => Tier::Premium,
                Some("admin") => Tier::Admin,
                _ => Tier::Free,
            }
        };
        let organization_id = self
            .tenant_id
            .or(self.organization_id)
            .or_else(|| self.organization_ids.and_then(|ids| ids.into_iter().next()));
        Ok(Principal {
            user_id,
            organization_id,
            email: self.email,
            name: self.name,
            role: self.role,
            tier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_map_to_a_principal() {
        let claims = IdentityClaims {
            sub: Some("u1".into()),
            role: Some("admin".into()),
            organization_ids: Some(vec!["o1".into(), "o2".into()]),
            ..IdentityClaims::default()
        };
        let p = claims.into_principal().expect("principal");
        assert_eq!(p.user_id, "u1");
        assert_eq!(p.tier, Tier::Admin);
        assert_eq!(p.organization_id.as_deref(), Some("o1"));
    }

    #[test]
    fn tenant_wins_over_organization_and_unknown_tiers_are_free() {
        let claims = IdentityClaims {
            sub: Some("u1".into()),
            tier: Some("gold".into()),
            tenant_id: Some("t".into()),
            organization_id: Some("o".into()),
            ..IdentityClaims::default()
        };
        let p = claims.into_principal().expect("principal");
        assert_eq!(p.organization_id.as_deref(), Some("t"));
        assert_eq!(p.tier, Tier::Free);
    }

    #[test]
    fn claims_without_subject_are_refused() {
        for sub in [None, Some(String::new()), Some("  ".into())] {
            let claims = IdentityClaims {
                sub,
                ..IdentityClaims::default()
            };
            assert_eq!(claims.into_principal(), Err("token has no subject"));
        }
    }
}
