//! A Lua script run by `EVALSHA`, loaded on first use and reloaded when Redis forgot it.

use fred::prelude::{Client, Error, FromValue, LuaInterface};
use tokio::sync::OnceCell;

/// A script and, once Redis has seen it, its SHA1.
pub struct Script {
    source: &'static str,
    sha: OnceCell<String>,
}

impl Script {
    /// A script not yet loaded.
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: OnceCell::const_new(),
        }
    }

    /// Runs the script; only the body's hash travels once Redis knows the script.
    pub async fn run<R: FromValue>(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, Error> {
        let sha = self
            .sha
            .get_or_try_init(|| client.script_load::<String, _>(self.source))
            .await?
            .clone();
        match client.evalsha(sha, keys.clone(), args.clone()).await {
            // A restarted or flushed Redis forgets scripts; the hash of the same body is the
            // same, so loading it again is enough.
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                let sha: String = client.script_load(self.source).await?;
                client.evalsha(sha, keys, args).await
            }
            other => other,
        }
    }
}
