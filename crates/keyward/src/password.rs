//! Password hashing: argon2id with OWASP's minimum parameters
//! (m = 19456 KiB, t = 2, p = 1). Hashing and verifying take tens of
//! milliseconds by design, so async callers run them on the blocking pool.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a password into a PHC string.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
        .to_string())
}

/// Verify a password against a PHC string; `false` for any malformed hash.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody knows, verified against when the email is
/// unknown, so unknown email and wrong password cost the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("keyward-dummy-password-never-matches").expect("dummy hash"))
}

/// Bounds how many password checks run at once.
///
/// Each argon2id verification holds ~19 MiB for tens of milliseconds, so an
/// unbounded login flood turns into gigabytes of memory and starves the
/// request path of CPU. The gate runs at most one check per core, lets a
/// short queue wait ([`HashGate::QUEUE_PER_PERMIT`] per permit, at most
/// [`HashGate::MAX_WAIT`]) and refuses the rest at once with [`Busy`]
/// (answered 503 with `Retry-After`). The permit travels into the blocking
/// task, so a client that hangs up mid-check does not free its slot before
/// the memory is.
pub struct HashGate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    queued: std::sync::atomic::AtomicUsize,
    queue_cap: usize,
}

/// The gate is full: try again in a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl HashGate {
    /// Waiting checks allowed per running one.
    pub const QUEUE_PER_PERMIT: usize = 4;
    /// The longest a check waits for its turn before [`Busy`].
    pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

    /// A gate with one permit per available core.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        HashGate {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits)),
            queued: Default::default(),
            queue_cap: permits * Self::QUEUE_PER_PERMIT,
        }
    }

    /// [`verify`] on the blocking pool, once the gate lets it run.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, Busy> {
        use std::sync::atomic::Ordering;
        let permit = match std::sync::Arc::clone(&self.permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::AcqRel) >= self.queue_cap {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let waited =
                    tokio::time::timeout(Self::MAX_WAIT, std::sync::Arc::clone(&self.permits).acquire_owned()).await;
                self.queued.fetch_sub(1, Ordering::AcqRel);
                match waited {
                    Ok(Ok(p)) => p,
                    _ => return Err(Busy),
                }
            }
        };
        let check = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify(&password, &phc)
        });
        // A join error is a panic inside argon2 (none is known): fail closed.
        Ok(check.await.unwrap_or(false))
    }
}

/// A random password for `admin user create` without `--password-stdin`.
pub fn generate() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| keyward_core::key::BASE62[rng.gen_range(0..62)] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_with_owasp_params() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[tokio::test]
    async fn the_gate_refuses_beyond_its_permits_and_queue() {
        let gate = std::sync::Arc::new(HashGate::new(1));
        let h = hash("pw").unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (g, h) = (std::sync::Arc::clone(&gate), h.clone());
                tokio::spawn(async move { g.verify("pw".into(), h).await })
            })
            .collect();
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(true) => ok += 1,
                Ok(false) => panic!("a right password failed"),
                Err(Busy) => busy += 1,
            }
        }
        assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
        assert!(ok <= 1 + HashGate::QUEUE_PER_PERMIT + 2, "ok {ok}");
    }
}
