//! The baseline (scenario e): a bare poem server answering `GET /hello` with `hello`, no
//! middleware, run as a child process (`--hello-server`) so it is measured like the service.

use poem::{Route, get, handler};

use crate::error::HarnessError;

#[handler]
fn hello() -> &'static str {
    "hello"
}

/// Binds 127.0.0.1:0, prints `listening ADDR` on stdout, and serves until killed.
///
/// # Errors
/// When the port cannot be bound or the server fails.
pub async fn serve() -> Result<(), HarnessError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener)?;
    println!("listening {addr}");
    poem::Server::new_with_acceptor(acceptor)
        .run(Route::new().at("/hello", get(hello)))
        .await?;
    Ok(())
}
