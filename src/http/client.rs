//! The address a request comes from: the peer, or the first untrusted hop of
//! `X-Forwarded-For` when the peer is a proxy listed in `TRUSTED_PROXIES`.
//!
//! Used wherever a request is attributed to a client without a principal: security events of
//! refused requests, operator actions, and keys of anonymous traffic.

use std::net::IpAddr;

use poem::Request;

/// Most `X-Forwarded-For` hops looked at; a longer chain is not believed past this.
const MAX_HOPS: usize = 16;

/// The client address of `req` given the trusted proxies.
pub fn client_ip(req: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip())?;
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(resolve(peer, &forwarded, trusted))
}

/// Walks `X-Forwarded-For` from the right while the current hop is trusted; the first hop
/// that is not a trusted proxy is the client. Unparsable entries stop the walk there.
pub fn resolve(peer: IpAddr, forwarded: &str, trusted: &[IpAddr]) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .take(MAX_HOPS)
    {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(
            resolve(ip("203.0.113.9"), "1.2.3.4", &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("203.0.113.9"), "1.2.3.4", &[ip("10.0.0.1")]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_is_looked_through_to_the_first_untrusted_hop() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            resolve(ip("10.0.0.1"), "198.51.100.7, 10.0.0.2", &trusted),
            ip("198.51.100.7")
        );
        // A client cannot hide behind a forged left-most entry.
        assert_eq!(
            resolve(ip("10.0.0.1"), "6.6.6.6, 198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_or_missing_forwarding_keeps_the_last_believed_hop() {
        let trusted = [ip("10.0.0.1")];
        assert_eq!(resolve(ip("10.0.0.1"), "", &trusted), ip("10.0.0.1"));
        assert_eq!(
            resolve(ip("10.0.0.1"), "not-an-ip", &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), "1.1.1.1, junk", &trusted),
            ip("10.0.0.1")
        );
    }
}
