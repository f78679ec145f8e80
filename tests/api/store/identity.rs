//! The own sign-in's stores on the SQL adapters: `UserStore` (sign-in, linking, operator
//! changes), `RefreshTokenStore` (rotation, revocation) and `UserDataStore` (export, erasure),
//! each test on a fresh database of each engine.

mod refresh_tokens;
mod user_data;
mod users;

use study_mode_api::adapters::sql::refresh_tokens::SqlRefreshTokenStore;
use study_mode_api::adapters::sql::user_data::SqlUserDataStore;
use study_mode_api::adapters::sql::users::SqlUserStore;
use study_mode_api::domain::identity::{Provider, ProviderProfile};

use super::Fixture;

/// The user store on the fixture's database.
fn users(fx: &Fixture) -> SqlUserStore {
    SqlUserStore::new(fx.db.clone())
}

/// The refresh token store on the fixture's database.
fn tokens(fx: &Fixture) -> SqlRefreshTokenStore {
    SqlRefreshTokenStore::new(fx.db.clone())
}

/// The user data store on the fixture's database.
fn user_data(fx: &Fixture) -> SqlUserDataStore {
    SqlUserDataStore::new(fx.db.clone())
}

/// A profile of `provider` account `subject` with `email` (verified or not).
fn profile(
    provider: Provider,
    subject: &str,
    email: Option<&str>,
    verified: bool,
) -> ProviderProfile {
    ProviderProfile {
        provider,
        subject: subject.to_owned(),
        email: email.map(str::to_owned),
        email_verified: verified,
        name: Some(format!("Account {subject}")),
    }
}
