//! Why a credential was refused: the error of [`super::TokenVerifier`] and of authentication.

/// Why a presented credential is not accepted. A closed set, so it can be a metric label; the
/// message of [`AuthError::Invalid`] says the same in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    /// Not a credential that can be read: not a token, an unreadable header, another scheme
    /// than Bearer, two credentials at once, an API key of the wrong shape.
    Malformed,
    /// Over the size any credential may have.
    TooLarge,
    /// Past its expiry.
    Expired,
    /// Before its `nbf`.
    NotYetValid,
    /// The signature does not verify.
    BadSignature,
    /// Signed with an algorithm not allowed.
    WrongAlgorithm,
    /// Signed by a key not in the key set; an API key that does not exist (or whose secret does
    /// not match: the two read the same).
    UnknownKey,
    /// Issued by someone else.
    WrongIssuer,
    /// Meant for someone else.
    WrongAudience,
    /// Without a claim it must have (subject, issuer, audience).
    MissingClaim,
    /// Revoked: an API key, or the session of an own token (signed out).
    Revoked,
    /// The identity provider does not know the token.
    NotRecognised,
    /// A kind of credential this deployment does not take.
    NotAccepted,
}

impl InvalidReason {
    /// Every reason, in label order.
    pub const ALL: [Self; 13] = [
        Self::Malformed,
        Self::TooLarge,
        Self::Expired,
        Self::NotYetValid,
        Self::BadSignature,
        Self::WrongAlgorithm,
        Self::UnknownKey,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::MissingClaim,
        Self::Revoked,
        Self::NotRecognised,
        Self::NotAccepted,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim => "missing_claim",
            Self::Revoked => "revoked",
            Self::NotRecognised => "not_recognised",
            Self::NotAccepted => "not_accepted",
        }
    }
}

/// Why a token was refused (`Clone`: one lookup's answer is shared by concurrent callers).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No credentials were presented where they are required.
    #[error("missing credentials")]
    Missing,
    /// Credentials were presented but are not valid: why, and the plain words shown to the
    /// client.
    #[error("{1}")]
    Invalid(InvalidReason, String),
    /// The identity provider could not be reached and no cached keys exist.
    #[error("identity provider unavailable")]
    Unavailable,
}

impl AuthError {
    /// [`AuthError::Invalid`] for `reason`, in the words of `message`.
    pub fn invalid(reason: InvalidReason, message: impl Into<String>) -> Self {
        Self::Invalid(reason, message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_a_closed_set_of_distinct_snake_case_names() {
        let names: std::collections::BTreeSet<_> =
            InvalidReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), InvalidReason::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
