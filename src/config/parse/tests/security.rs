//! Deployments the configuration must refuse (or tighten): unchecked JWT claims, the development
//! principal outside a loopback bind, plaintext upstreams and origins in production.

use super::{cfg, vars};

/// A production configuration that is valid on its own, plus `extra`.
fn production(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut pairs = vec![
        ("APP_ENV", "production"),
        ("ALLOWED_ORIGINS", "https://book.example"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

#[test]
fn production_with_an_sso_refuses_to_start_without_issuer_and_audience() {
    let err = cfg(&production(&[("SSO_URL", "https://sso.example")])).unwrap_err();
    assert_eq!(vars(&err), vec!["JWT_ISSUER", "JWT_AUDIENCE"], "{err}");
    let err = cfg(&production(&[
        ("JWKS_URL", "https://sso.example/jwks"),
        ("JWT_ISSUER", "https://sso.example"),
    ]))
    .unwrap_err();
    assert_eq!(vars(&err), vec!["JWT_AUDIENCE"], "{err}");
    assert!(err.to_string().contains("ALLOW_UNCHECKED_JWT_CLAIMS=aud"));
    // Without JWTs there is nothing to check.
    assert!(cfg(&production(&[])).is_ok());
}

#[test]
fn production_leaves_a_claim_unchecked_only_when_allow_unchecked_jwt_claims_names_it() {
    let c = cfg(&production(&[
        ("SSO_URL", "https://sso.example"),
        ("JWT_ISSUER", "https://sso.example"),
        ("ALLOW_UNCHECKED_JWT_CLAIMS", "aud"),
    ]))
    .unwrap();
    assert_eq!(c.auth.unchecked_claims, vec!["aud"]);
    let shown = c.to_string();
    assert!(shown.contains("ALLOW_UNCHECKED_JWT_CLAIMS=aud"), "{shown}");
}

#[test]
fn allow_unchecked_jwt_claims_takes_claim_names_not_booleans_nor_a_configured_claim() {
    for value in ["true", "1", "audience", "*"] {
        let err = cfg(&[("ALLOW_UNCHECKED_JWT_CLAIMS", value)]).unwrap_err();
        assert_eq!(vars(&err), vec!["ALLOW_UNCHECKED_JWT_CLAIMS"], "{value}");
    }
    let err = cfg(&[
        ("JWT_AUDIENCE", "study-mode"),
        ("ALLOW_UNCHECKED_JWT_CLAIMS", "aud"),
    ])
    .unwrap_err();
    assert_eq!(vars(&err), vec!["ALLOW_UNCHECKED_JWT_CLAIMS"]);
}

#[test]
fn development_principal_is_on_by_default_only_on_a_loopback_bind_without_an_sso() {
    for host in ["127.0.0.1", "::1", "localhost"] {
        let c = cfg(&[("HOST", host)]).unwrap();
        assert!(c.dev.enabled && !c.dev.explicit, "{host}");
    }
    for extra in [
        ("HOST", "0.0.0.0"),
        ("HOST", "10.1.2.3"),
        ("SSO_URL", "https://sso.example"),
        ("JWKS_URL", "https://sso.example/jwks"),
        ("USERINFO_URL", "https://sso.example/userinfo"),
        ("DEV_MODE", "false"),
    ] {
        let c = cfg(&[extra]).unwrap();
        assert!(
            !c.dev.enabled,
            "{extra:?} must turn the development principal off"
        );
    }
}

#[test]
fn explicit_dev_mode_true_keeps_the_development_principal_and_says_so() {
    let c = cfg(&[
        ("HOST", "0.0.0.0"),
        ("SSO_URL", "https://sso.example"),
        ("DEV_MODE", "true"),
    ])
    .unwrap();
    assert!(c.dev.enabled && c.dev.explicit);
    assert!(c.to_string().contains("DEV_MODE=true (set explicitly)"));
    assert!(
        cfg(&[])
            .unwrap()
            .to_string()
            .contains("DEV_MODE=true (loopback bind, no SSO)")
    );
}

#[test]
fn production_refuses_plaintext_upstreams_naming_each_variable_loopback_included() {
    let err = cfg(&production(&[
        ("SSO_URL", "http://sso.internal"),
        ("JWKS_URL", "http://127.0.0.1:9000/jwks"),
        ("USERINFO_URL", "HTTP://sso.internal/userinfo"),
        ("OPENAI_BASE_URL", "http://localhost:11434/v1"),
        ("GITHUB_RAW_BASE_URL", "http://raw.internal"),
        ("JWT_ISSUER", "https://sso.example"),
        ("JWT_AUDIENCE", "study-mode"),
    ]))
    .unwrap_err();
    assert_eq!(
        vars(&err),
        vec![
            "JWKS_URL",
            "SSO_URL",
            "USERINFO_URL",
            "OPENAI_BASE_URL",
            "GITHUB_RAW_BASE_URL"
        ],
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("ALLOW_INSECURE_UPSTREAMS=OPENAI_BASE_URL")
    );
}

#[test]
fn allow_insecure_upstreams_exempts_only_the_variables_it_names() {
    let c = cfg(&production(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("SSO_URL", "http://sso.internal"),
        ("JWT_ISSUER", "https://sso.example"),
        ("JWT_AUDIENCE", "study-mode"),
        ("ALLOW_INSECURE_UPSTREAMS", "OPENAI_BASE_URL, SSO_URL"),
    ]))
    .unwrap();
    assert!(c.plaintext_allowed("SSO_URL") && !c.plaintext_allowed("JWKS_URL"));
    // The userinfo URL derived from SSO_URL follows SSO_URL's choice.
    assert_eq!(
        c.auth.userinfo_url.as_deref(),
        Some("http://sso.internal/api/auth/oauth2/userinfo")
    );
    let err = cfg(&production(&[
        ("GITHUB_RAW_BASE_URL", "http://raw.internal"),
        (
            "ALLOW_INSECURE_UPSTREAMS",
            "OPENAI_BASE_URL,DATABASE_URL,true",
        ),
    ]))
    .unwrap_err();
    assert_eq!(
        vars(&err),
        vec![
            "ALLOW_INSECURE_UPSTREAMS",
            "ALLOW_INSECURE_UPSTREAMS",
            "GITHUB_RAW_BASE_URL"
        ],
        "{err}"
    );
}

#[test]
fn development_accepts_plaintext_upstreams_and_origins() {
    let c = cfg(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("ALLOWED_ORIGINS", "http://localhost:5173"),
    ])
    .unwrap();
    assert!(c.plaintext_allowed("OPENAI_BASE_URL"));
}

#[test]
fn production_needs_allowed_origins_set_and_every_entry_https() {
    let err = cfg(&[("APP_ENV", "production")]).unwrap_err();
    assert_eq!(vars(&err), vec!["ALLOWED_ORIGINS"]);
    let err = cfg(&[
        ("APP_ENV", "production"),
        (
            "ALLOWED_ORIGINS",
            "https://book.example,http://book.example,http://localhost:3000",
        ),
    ])
    .unwrap_err();
    assert_eq!(
        vars(&err),
        vec!["ALLOWED_ORIGINS", "ALLOWED_ORIGINS"],
        "{err}"
    );
}
