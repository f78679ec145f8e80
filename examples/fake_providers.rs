//! Fake GitHub and Google on 127.0.0.1, to try the own sign-in by hand without registering an
//! OAuth app anywhere (docs/auth.md, "Try it locally"). They are the fakes the test suite uses:
//! every authorization is approved at once, as `octocat` at GitHub and `Ada Lovelace` at Google.
//!
//! ```sh
//! cargo run --example fake_providers > fake-providers.env   # keeps running; Ctrl-C stops it
//! set -a; . ./fake-providers.env; set +a; cargo run          # in another shell
//! ```
//!
//! Test-only: the fakes sign ID tokens with a key that is public in this repository.

#![allow(dead_code, unused_imports, clippy::duplicate_mod)]

/// The one helper of the test suite the fakes use.
mod helpers {
    /// `(name, value)` pairs as owned strings.
    pub fn pairs(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[path = "../tests/api/fake_sso.rs"]
mod fake_sso;

#[path = "../tests/api/fake_oauth.rs"]
mod fake_oauth;

#[tokio::main]
async fn main() {
    let github = fake_oauth::FakeGithub::start().await;
    let google = fake_oauth::FakeGoogle::start().await;
    println!(
        "# Fake GitHub at {} and fake Google at {}",
        github.base, google.base
    );
    println!("# (test-only; from `cargo run --example fake_providers`)");
    println!("OAUTH2_PROVIDERS=github,google");
    println!("JWT_SECRET_KEY=local-test-only-secret-change-me-0123456789");
    println!("PUBLIC_BASE_URL=http://127.0.0.1:8000");
    println!("AUTH_ALLOWED_REDIRECTS=http://localhost:3000,http://127.0.0.1:8000");
    println!("LESSONS_DIR=examples/lessons");
    for (name, value) in github.env().into_iter().chain(google.env()) {
        println!("{name}={value}");
    }
    eprintln!("fake providers running; Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
}
