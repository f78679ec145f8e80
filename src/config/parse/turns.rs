//! The turn lock's section: lease length and the replica's name in its owner tokens.

use super::Collector;
use crate::config::{RawEnv, ReplicaId, TurnLockConfig};

/// Longest `REPLICA_ID`: it is stored in every lease this replica takes.
const MAX_REPLICA_ID: usize = 100;
/// Longest host name kept for the default id: room for `:port` and `:pid` (6 + 11).
const MAX_HOST: usize = MAX_REPLICA_ID - 17;

pub(super) fn turn_lock(c: &mut Collector, raw: &RawEnv, reuse_port: bool) -> TurnLockConfig {
    // Renewed every third of its length: 3 s is a renewal a second, and past 5 minutes a dead
    // replica's threads stay locked longer than any student waits.
    let lease = c.secs("TURN_LEASE_SECS", &raw.turn_lease_secs, 10, (3, 300));
    let replica = match raw.replica_id.as_deref().map(str::trim) {
        Some(id) => {
            if let Err(why) = check_replica_id(id) {
                c.push("REPLICA_ID", why);
            }
            ReplicaId::Explicit(id.to_owned())
        }
        None => ReplicaId::Host {
            name: host_name(raw.hostname.as_deref()),
            process: reuse_port.then(std::process::id),
        },
    };
    TurnLockConfig { lease, replica }
}

fn allowed(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | ':' | '-')
}

fn check_replica_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_REPLICA_ID {
        return Err(format!("must be 1 to {MAX_REPLICA_ID} characters"));
    }
    if !id.chars().all(allowed) {
        return Err(format!(
            "{id:?} may hold only letters, digits, '.', '_', ':' and '-'"
        ));
    }
    Ok(())
}

/// `HOSTNAME`, else the kernel's host name, else `local`; reduced to the id's characters.
fn host_name(env: Option<&str>) -> String {
    let name = env
        .map(str::to_owned)
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .map(|ch| if allowed(ch) { ch } else { '-' })
        .take(MAX_HOST)
        .collect();
    if name.is_empty() {
        "local".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, ReplicaId};

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_lease_is_ten_seconds_and_the_replica_is_named_after_host_and_port_by_default() {
        let c = cfg(&[("HOSTNAME", "web-7")]).unwrap();
        assert_eq!(c.turn_lock.lease.as_secs(), 10);
        assert_eq!(c.turn_lock.replica.resolve(8000), "web-7:8000");
    }

    #[test]
    fn processes_sharing_a_port_get_the_process_id_in_their_default_replica_id() {
        let c = cfg(&[("HOSTNAME", "web-7"), ("REUSE_PORT", "true")]).unwrap();
        assert_eq!(
            c.turn_lock.replica,
            ReplicaId::Host {
                name: "web-7".into(),
                process: Some(std::process::id()),
            }
        );
        assert_eq!(
            c.turn_lock.replica.resolve(8000),
            format!("web-7:8000:{}", std::process::id())
        );
    }

    #[test]
    fn an_explicit_replica_id_is_kept_whatever_the_port() {
        let c = cfg(&[("REPLICA_ID", "eu-1.b"), ("TURN_LEASE_SECS", "30")]).unwrap();
        assert_eq!(c.turn_lock.replica.resolve(9000), "eu-1.b");
        assert_eq!(c.turn_lock.lease.as_secs(), 30);
    }

    #[test]
    fn a_host_name_with_other_characters_is_reduced_to_the_allowed_ones() {
        let c = cfg(&[("HOSTNAME", "my host/1")]).unwrap();
        assert_eq!(c.turn_lock.replica.resolve(1), "my-host-1:1");
    }

    #[test]
    fn invalid_turn_lock_settings_are_each_reported() {
        let long = "r".repeat(101);
        for (var, value) in [
            ("TURN_LEASE_SECS", "2"),
            ("TURN_LEASE_SECS", "301"),
            ("REPLICA_ID", "a b"),
            ("REPLICA_ID", "a%"),
            ("REPLICA_ID", long.as_str()),
        ] {
            let err = cfg(&[(var, value)]).expect_err(value);
            let vars: Vec<_> = err.problems.iter().map(|p| p.var.as_str()).collect();
            assert_eq!(vars, [var], "{value}");
        }
    }
}
