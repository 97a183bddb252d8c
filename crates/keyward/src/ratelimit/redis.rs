//! The Redis rate limiter: the exact sliding log of
//! [`keyward_core::ratelimit`], kept in Redis so that every node counts
//! against the same log.
//!
//! # Contract
//!
//! One Lua script does what [`keyward_core::ratelimit::SlidingLog`] does, in
//! one atomic step on the Redis server: take `now` from Redis `TIME` (one
//! clock for all nodes), clamp it to the newest entry, drop the entries that
//! have left the 60 s window, count, add a member if under the limit, and
//! compute `remaining`, `reset` and `retry-after` with the same arithmetic as
//! [`Decision`]. Every write sets `PEXPIRE` to the moment the newest entry
//! leaves the window, so idle keys vanish by themselves. Redis 7 replicates
//! scripts by effects, which is what allows `TIME` before a write.
//!
//! Keys (`PREFIX` is `--redis-prefix`, default `keyward:`):
//! - `PREFIX rl:{hex sha256 of the API key}`: a key's successes;
//! - `PREFIX fa:{client}`: the failed-auth log of an IPv4 address or IPv6 /64;
//! - `PREFIX lk:{client}`: the client's calls to the public leak report
//!   endpoint, over an hour ([`RedisLimiter::client_calls`]).
//!
//! Redis holds counters only. Keys, revocations, plans and sessions live in
//! the database, so losing or flushing Redis can reset a window (the
//! affected keys get at most a fresh window) but never resurrects anything.
//!
//! # When Redis does not answer
//!
//! The request is decided by an in-process limiter on this node alone, at
//! `--redis-fallback-share` of the key's limit (default 1: the full limit per
//! node), and the failed-auth throttle likewise at its full limit per node.
//! A warning is logged when Redis is lost (and at most every 30 s while it
//! stays lost), [`RedisStats`] counts errors and fallback decisions.
//!
//! A failed call is retried once at once (the connection manager reconnects
//! in between: a connection that died while idle is noticed only when used),
//! both within [`CALL_TIMEOUT`]. Only when the retry fails too does the node
//! fall back, and then a circuit breaker sends every request to the local
//! limiter without touching Redis, while a watcher PINGs Redis every 200 ms
//! and closes the breaker on the first answer. While Redis answers, the
//! watcher PINGs every second, so a dead connection is usually replaced
//! before a request needs it.

use keyward_core::ratelimit::{throttle_key, Decision, FailedAuthThrottle, KeyedLimiter, FAILED_AUTH_LIMIT, WINDOW_MS};
use keyward_core::HashedKey;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// The sliding log, atomically. KEYS[1]: the log (a sorted set of success
/// times in ms); ARGV: limit, window (ms), a nonce that makes the member
/// unique. Returns `{allowed (0|1), remaining, reset_secs, retry_after_secs
/// (-1 when allowed)}`. Mirrors `SlidingLog::try_acquire` line for line.
const SLIDING_LOG: &str = r#"
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local real_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = real_now
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if newest[2] then
  local n = tonumber(newest[2])
  if n > now then now = n end
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = count < limit
if allowed then
  redis.call('ZADD', key, now, string.format('%d:%s', now, ARGV[3]))
  count = count + 1
end
local remaining = limit - count
if remaining < 0 then remaining = 0 end
local reset = 0
local k = count - limit
if k < 0 then k = 0 end
if limit > 0 and k < count then
  local e = redis.call('ZRANGE', key, k, k, 'WITHSCORES')
  reset = math.ceil((tonumber(e[2]) + window - now) / 1000)
end
local retry = -1
if not allowed then
  if limit == 0 then retry = window / 1000 else retry = math.max(reset, 1) end
end
if count > 0 then
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, string.format('%d', tonumber(last[2]) + window - real_now))
end
return {allowed and 1 or 0, remaining, reset, retry}
"#;

/// The login throttle's reservation: KEYS are the logs, ARGV their limits,
/// then the window (ms) and the member. Adds the member to every log only if
/// each is under its limit; returns 0 (reserved) or the retry-after seconds.
const LOGIN_RESERVE: &str = r#"
local n = #KEYS
local window = tonumber(ARGV[n + 1])
local member = ARGV[n + 2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local retry = 0
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local limit = tonumber(ARGV[i])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local e = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local r = math.ceil((tonumber(e[2]) + window - now) / 1000)
    if r < 1 then r = 1 end
    if r > retry then retry = r end
  end
end
if retry > 0 then return retry end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
"#;

/// Give a login reservation back: ZREM the member (ARGV[1]) from every log.
const LOGIN_RELEASE: &str = r#"
for i = 1, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
return 0
"#;

/// The longest a request waits on Redis before deciding on this node alone.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// While Redis answers, check the connection this often.
const PING_EVERY: Duration = Duration::from_secs(1);
/// While Redis is down, check this often (requests meanwhile never wait on it).
const PING_EVERY_WHILE_DOWN: Duration = Duration::from_millis(200);
/// The connection manager's longest pause between reconnection attempts.
const PROBE_EVERY_MS: u64 = 1_000;
/// While Redis stays down, repeat the warning at most this often.
const WARN_EVERY_MS: u64 = 30_000;
/// Initial connection attempt at start-up, and the retry pause after it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Health and fallback counters, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisStats {
    /// Whether the last call to Redis succeeded.
    pub up: bool,
    /// Calls to Redis that failed or timed out.
    pub errors: u64,
    /// Decisions made by the local fallback limiter.
    pub fallback_decisions: u64,
}

/// Rate limits and failed-auth counters in Redis, shared by every node.
/// Cloning is cheap and shares everything (connection, fallback, counters).
#[derive(Clone)]
pub struct RedisLimiter(Arc<Inner>);

struct Inner {
    client: redis::Client,
    /// `None` until the first connection succeeds; afterwards the manager
    /// reconnects by itself.
    conn: RwLock<Option<ConnectionManager>>,
    /// Bumped whenever `conn` is replaced.
    generation: AtomicU64,
    /// Held while a fresh connection is being made.
    reconnecting: tokio::sync::Mutex<()>,
    script: redis::Script,
    login_reserve: redis::Script,
    login_release: redis::Script,
    prefix: String,
    share: f64,
    fallback_keys: KeyedLimiter<HashedKey>,
    fallback_failed: FailedAuthThrottle,
    /// 0 while Redis answers; otherwise when (ms) it stopped.
    down_since: AtomicU64,
    last_warn: AtomicU64,
    errors: AtomicU64,
    fallback_decisions: AtomicU64,
}

impl RedisLimiter {
    /// Parse `url` (a bad URL is a start-up error) and try to connect. When
    /// Redis does not answer, start anyway on the local fallback and keep
    /// trying in the background.
    pub async fn connect(url: &str, prefix: &str, fallback_share: f64) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("bad --redis-url {}: {e}", crate::store::redact_url(url)))?;
        let inner = Arc::new(Inner {
            client,
            conn: RwLock::new(None),
            generation: AtomicU64::new(0),
            reconnecting: tokio::sync::Mutex::new(()),
            script: redis::Script::new(SLIDING_LOG),
            login_reserve: redis::Script::new(LOGIN_RESERVE),
            login_release: redis::Script::new(LOGIN_RELEASE),
            prefix: prefix.to_string(),
            share: fallback_share.clamp(f64::MIN_POSITIVE, 1.0),
            fallback_keys: KeyedLimiter::new(),
            fallback_failed: FailedAuthThrottle::new(),
            down_since: AtomicU64::new(0),
            last_warn: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            fallback_decisions: AtomicU64::new(0),
        });
        if let Err(e) = inner.establish().await {
            inner.failed(now_ms(), &e);
        }
        tokio::spawn(watch(Arc::downgrade(&inner)));
        Ok(RedisLimiter(inner))
    }

    /// Step 6 against the shared log of `key`.
    pub async fn try_acquire(&self, key: &HashedKey, limit: u32, now_ms: u64) -> Decision {
        let redis_key = format!("{}rl:{}", self.0.prefix, hex::encode(key.as_bytes()));
        match self.0.eval(redis_key, limit, WINDOW_MS, now_ms).await {
            Some(d) => d,
            None => {
                let local = local_limit(limit, self.0.share);
                self.0.fallback_keys.try_acquire(key, local, now_ms)
            }
        }
    }

    /// The failed-auth throttle against the shared log of the client.
    pub async fn failed_auth(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        let redis_key = format!("{}fa:{}", self.0.prefix, throttle_key(ip));
        match self.0.eval(redis_key, FAILED_AUTH_LIMIT, WINDOW_MS, now_ms).await {
            Some(d) => d.retry_after_secs,
            None => self.0.fallback_failed.check_and_record(ip, now_ms),
        }
    }

    /// Count a call from the client of `ip` (IPv4 address or IPv6 /64) in
    /// the shared log `name` over `window_ms`, if it is under `limit`
    /// (e.g. the public leak report endpoint: 60 an hour). `None` when Redis
    /// does not answer: the caller decides on this node alone.
    pub async fn client_calls(
        &self,
        name: &str,
        ip: IpAddr,
        limit: u32,
        window_ms: u64,
        now_ms: u64,
    ) -> Option<Decision> {
        let redis_key = format!("{}{name}:{}", self.0.prefix, throttle_key(ip));
        self.0.eval(redis_key, limit, window_ms, now_ms).await
    }

    /// The login throttle's reservation (see [`super::login`]): one attempt
    /// in each of `keys` if every one is under its limit, atomically.
    /// `Some(Ok)` reserved, `Some(Err(retry_after_secs))` refused, `None`
    /// when Redis did not answer (decide locally).
    pub async fn login_reserve(
        &self,
        keys: &[String; 3],
        limits: &[u32; 3],
        member: &str,
        now_ms: u64,
    ) -> Option<Result<(), u64>> {
        let mut invocation = self.0.login_reserve.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for l in limits {
            invocation.arg(*l);
        }
        invocation.arg(WINDOW_MS).arg(member);
        let retry: i64 = self.0.run_script(&invocation, now_ms).await?;
        Some(if retry > 0 { Err(retry.unsigned_abs()) } else { Ok(()) })
    }

    /// Give a login reservation back (best effort: it expires in a minute).
    pub async fn login_release(&self, keys: &[String; 3], member: &str) {
        let mut invocation = self.0.login_release.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        invocation.arg(member);
        let _: Option<i64> = self.0.run_script(&invocation, now_ms()).await;
    }

    /// Sweep the fallback limiters (Redis expires its own keys).
    pub fn evict_idle(&self, now_ms: u64) {
        self.0.fallback_keys.evict_idle(now_ms);
        self.0.fallback_failed.evict_idle(now_ms);
    }

    pub fn stats(&self) -> RedisStats {
        RedisStats {
            up: self.0.down_since.load(Ordering::Acquire) == 0,
            errors: self.0.errors.load(Ordering::Relaxed),
            fallback_decisions: self.0.fallback_decisions.load(Ordering::Relaxed),
        }
    }
}

/// The per-node limit while Redis is down: `share` of `limit`, at least 1
/// (0 stays 0: nothing passes either way).
fn local_limit(limit: u32, share: f64) -> u32 {
    if limit == 0 {
        return 0;
    }
    // `share` is in (0, 1], so the product is in [0, limit]: it fits a u32.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (f64::from(limit) * share).floor() as u32;
    n.clamp(1, limit)
}

impl Inner {
    fn manager_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(CALL_TIMEOUT)
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1)
            .set_factor(50)
            .set_max_delay(PROBE_EVERY_MS)
    }

    /// The current connection and its generation.
    fn current(&self) -> Option<(ConnectionManager, u64)> {
        let conn = self.conn.read().unwrap_or_else(|e| e.into_inner()).clone()?;
        Some((conn, self.generation.load(Ordering::Acquire)))
    }

    /// Replace the connection of generation `seen`, which just failed, by a
    /// fresh one before `deadline` (unless another caller already did: then
    /// that one). One reconnection at a time.
    async fn reconnect(&self, seen: u64, deadline: tokio::time::Instant) -> Option<ConnectionManager> {
        let _one = tokio::time::timeout_at(deadline, self.reconnecting.lock()).await.ok()?;
        if self.generation.load(Ordering::Acquire) != seen {
            return self.current().map(|(c, _)| c);
        }
        let connecting = ConnectionManager::new_with_config(self.client.clone(), Self::manager_config());
        let conn = tokio::time::timeout_at(deadline, connecting).await.ok()?.ok()?;
        *self.conn.write().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        self.generation.fetch_add(1, Ordering::AcqRel);
        Some(conn)
    }

    async fn establish(&self) -> Result<(), String> {
        let connecting = ConnectionManager::new_with_config(self.client.clone(), Self::manager_config());
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(conn)) => {
                *self.conn.write().unwrap_or_else(|e| e.into_inner()) = Some(conn);
                self.generation.fetch_add(1, Ordering::AcqRel);
                self.recovered();
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connection timed out".into()),
        }
    }

    /// Run the script; `None` means "decide locally" (Redis down, or not
    /// yet due for a probe).
    async fn eval(&self, key: String, limit: u32, window_ms: u64, now_ms: u64) -> Option<Decision> {
        let decision = self.eval_redis(key, limit, window_ms, now_ms).await;
        if decision.is_none() {
            self.fallback_decisions.fetch_add(1, Ordering::Relaxed);
        }
        decision
    }

    async fn eval_redis(&self, key: String, limit: u32, window_ms: u64, now_ms: u64) -> Option<Decision> {
        let mut invocation = self.script.key(key);
        invocation.arg(limit).arg(window_ms).arg(rand::random::<u64>());
        let (allowed, remaining, reset, retry): (i64, i64, i64, i64) = self.run_script(&invocation, now_ms).await?;
        Some(Decision {
            allowed: allowed == 1,
            limit,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_secs: u64::try_from(reset).unwrap_or(0),
            retry_after_secs: u64::try_from(retry).ok(),
        })
    }

    /// Run one script; `None` means "decide locally" (Redis down, or not
    /// yet due for a probe).
    async fn run_script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        now_ms: u64,
    ) -> Option<T> {
        // Circuit breaker: while Redis is known to be down, decide locally
        // at no cost; the watcher closes the breaker as soon as Redis answers.
        if self.down_since.load(Ordering::Acquire) != 0 {
            return None;
        }
        let (mut conn, generation) = self.current()?;
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let result: Result<T, String> = match tokio::time::timeout_at(deadline, invocation.invoke_async(&mut conn))
            .await
        {
            Ok(Ok(v)) => Ok(v),
            // A failed call (typically a connection that died while idle,
            // noticed only now): a fresh connection and one retry, within
            // what is left of the budget, before falling back.
            Ok(Err(first)) => match self.reconnect(generation, deadline).await {
                Some(mut fresh) => match tokio::time::timeout_at(deadline, invocation.invoke_async(&mut fresh)).await {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(format!("{first}; retried: {e}")),
                    Err(_) => Err(format!("{first}; the retry got no answer within the call timeout")),
                },
                None => Err(format!("{first}; no new connection within the call timeout")),
            },
            Err(_) => Err("no answer within the call timeout".into()),
        };
        match result {
            Ok(v) => {
                self.recovered();
                Some(v)
            }
            Err(e) => {
                self.failed(now_ms, &e);
                None
            }
        }
    }

    /// A call failed: go local, schedule the next probe, warn (rate-limited).
    fn failed(&self, now_ms: u64, error: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let since = now_ms.max(1);
        if self.down_since.compare_exchange(0, since, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.last_warn.store(now_ms, Ordering::Release);
            tracing::warn!(
                error,
                share = self.share,
                "redis unreachable: rate limits are now enforced by each node alone at this share of every limit"
            );
        } else {
            let last = self.last_warn.load(Ordering::Acquire);
            if now_ms >= last + WARN_EVERY_MS
                && self.last_warn.compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Acquire).is_ok()
            {
                tracing::warn!(
                    error,
                    errors = self.errors.load(Ordering::Relaxed),
                    fallback_decisions = self.fallback_decisions.load(Ordering::Relaxed),
                    "redis still unreachable: rate limits are per node"
                );
            }
        }
    }

    fn recovered(&self) {
        let since = self.down_since.swap(0, Ordering::AcqRel);
        if since != 0 {
            tracing::info!(down_ms = now_ms().saturating_sub(since), "redis answers again: shared rate limits resumed");
        }
    }
}

/// Keeps the connection known-good: until the first connection succeeds
/// (Redis was down at start-up) it tries every second; afterwards it PINGs
/// every [`PING_EVERY`] (every [`PING_EVERY_WHILE_DOWN`] while down), so a
/// connection that died while the node was idle is noticed (and replaced)
/// before a request needs it, and the breaker closes as soon as Redis
/// answers. Stops when the limiter is dropped.
async fn watch(inner: Weak<Inner>) {
    loop {
        let pause = match inner.upgrade() {
            Some(i) if i.down_since.load(Ordering::Acquire) != 0 => PING_EVERY_WHILE_DOWN,
            Some(_) => PING_EVERY,
            None => return,
        };
        tokio::time::sleep(pause).await;
        let Some(inner) = inner.upgrade() else { return };
        let Some((mut conn, generation)) = inner.current() else {
            if let Err(e) = inner.establish().await {
                inner.failed(now_ms(), &e);
            }
            continue;
        };
        let down = inner.down_since.load(Ordering::Acquire) != 0;
        // While up, PING the connection requests use; a failure opens the
        // breaker at once (requests stop using that connection) and a fresh
        // connection is tried right away. While down, only fresh ones: the
        // old manager may still be busy reconnecting on its own.
        let mut answer = if down { Err("redis is down".to_string()) } else { ping(&mut conn).await };
        if let Err(e) = &answer {
            if !down {
                inner.failed(now_ms(), e);
            }
            let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
            answer = match inner.reconnect(generation, deadline).await {
                Some(mut fresh) => ping(&mut fresh).await,
                None => Err(format!("{e}; no new connection within the call timeout")),
            };
        }
        match answer {
            Ok(()) => inner.recovered(),
            Err(e) => inner.failed(now_ms(), &e),
        }
    }
}

async fn ping(conn: &mut ConnectionManager) -> Result<(), String> {
    match tokio::time::timeout(CALL_TIMEOUT, redis::cmd("PING").query_async::<String>(conn)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer to PING within the call timeout".into()),
    }
}

fn now_ms() -> u64 {
    crate::store::unsigned_ms(crate::store::now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_share_of_a_limit() {
        assert_eq!(local_limit(60, 1.0), 60);
        assert_eq!(local_limit(60, 0.5), 30);
        assert_eq!(local_limit(1000, 1.0 / 3.0), 333);
        assert_eq!(local_limit(1, 0.1), 1, "never below one");
        assert_eq!(local_limit(0, 1.0), 0);
    }
}
