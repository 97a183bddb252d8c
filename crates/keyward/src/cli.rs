//! The operator CLI (`keyward admin ...`, SPEC §8): what "support" does for
//! customers. Every command opens the store itself, so it works while
//! `serve` runs on the same data; changes reach the server's next request
//! through the store's change counter.
//!
//! Bad input exits non-zero with one line on stderr and changes nothing.

use crate::config::StoreArgs;
use crate::store::{Revoker, Store, StoreError};
use clap::{Args, Subcommand};
use keyward_core::validate::{bounded_text, check_password, normalize_email};
use keyward_core::{Plan, Role};
use serde_json::{json, Value};
use std::io::Read;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Workspaces and their plans.
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// User accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Who belongs to which workspace, with which role.
    #[command(subcommand)]
    Member(MemberCmd),
    /// API keys (support's view across workspaces).
    #[command(subcommand)]
    Key(KeyCmd),
    /// GitHub secret scanning: what to register with GitHub's partner program.
    #[command(subcommand)]
    SecretScanning(SecretScanningCmd),
    /// Load-test fixtures (hidden): workspaces with a very high rpm override
    /// and many keys, whose secrets are written to a file for the load tool.
    #[command(hide = true)]
    BenchSeed {
        /// How many keys (spread over workspaces of 100 keys each).
        #[arg(long, default_value_t = 1000)]
        keys: u32,
        /// Where to write the secrets, one per line (a load-test artefact:
        /// delete it afterwards).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCmd {
    /// Create a workspace.
    Create {
        #[arg(long)]
        name: String,
        /// free, starter, pro or enterprise.
        #[arg(long)]
        plan: String,
    },
    /// Change a workspace's plan (applies on the next request).
    SetPlan { workspace_id: String, plan: String },
    /// Override the per-key rpm for a workspace, or --clear to return to the plan's.
    SetRateLimit {
        workspace_id: String,
        #[arg(required_unless_present = "clear")]
        rpm: Option<u32>,
        #[arg(long, conflicts_with = "rpm")]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user; prints a generated password unless --password-stdin.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// Add a user to a workspace (or change their role).
    Add {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        /// participant, member, admin or superadmin.
        #[arg(long)]
        role: String,
    },
    /// Remove a user from a workspace (their keys keep working).
    Remove {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// List a workspace's keys (masked), newest first.
    List {
        #[arg(long)]
        workspace: String,
    },
    /// Revoke a key (immediate, also for a running server).
    Revoke { key_id: String },
    /// Restrict a key to source IPs/CIDRs; no CIDR clears the list.
    AllowIps { key_id: String, cidrs: Vec<String> },
}

#[derive(Debug, Subcommand)]
pub enum SecretScanningCmd {
    /// Print the token type, the regex and the endpoint path to register
    /// with GitHub (needs no store).
    Pattern,
}

/// What `admin secret-scanning pattern` prints: (text, JSON).
pub fn secret_scanning_pattern() -> (String, Value) {
    use keyward_core::secret_scanning::{GITHUB_ENDPOINT_PATH, TOKEN_REGEX, TOKEN_TYPE};
    (
        format!(
            "token type: {TOKEN_TYPE}\nregex: {TOKEN_REGEX}\nendpoint: {GITHUB_ENDPOINT_PATH} \
             (POST, under the server's public URL, e.g. https://api.example.com{GITHUB_ENDPOINT_PATH})"
        ),
        json!({ "token_type": TOKEN_TYPE, "regex": TOKEN_REGEX, "endpoint_path": GITHUB_ENDPOINT_PATH }),
    )
}

/// A CLI failure: one line for stderr.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(msg.into()))
}

fn db(e: StoreError) -> CliError {
    match e {
        StoreError::Db(cause) => CliError(format!("storage error: {cause}")),
        other => CliError(format!("storage error: {other}")),
    }
}

async fn workspace_exists(store: &Store, id: &str) -> Result<(), CliError> {
    match store.workspace(id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => fail(format!("unknown workspace {id:?}")),
        Err(e) => Err(db(e)),
    }
}

async fn user_id(store: &Store, email: &str) -> Result<String, CliError> {
    let email = normalize_email(email).map_err(|e| CliError(format!("{email:?}: {e}")))?;
    match store.user_by_email(&email).await.map_err(db)? {
        Some(u) => Ok(u.id),
        None => fail(format!("unknown user {email:?}")),
    }
}

fn parse_plan(s: &str) -> Result<Plan, CliError> {
    s.parse().map_err(|e: keyward_core::plan::UnknownPlan| CliError(e.to_string()))
}

/// Run an admin command; returns what to print (text or JSON).
pub async fn run(args: AdminArgs) -> Result<String, CliError> {
    if let AdminCommand::SecretScanning(SecretScanningCmd::Pattern) = args.command {
        let (text, v) = secret_scanning_pattern();
        return Ok(if args.json { v.to_string() } else { text });
    }
    let loc = args.store.location().map_err(|e| CliError(e.to_string()))?;
    let store = Store::open(&loc).await.map_err(|e| CliError(format!("cannot open the store: {e:#}")))?;
    let out = execute(&store, args.command).await;
    store.close().await;
    let (text, json_value) = out?;
    Ok(if args.json { json_value.to_string() } else { text })
}

async fn execute(store: &Store, cmd: AdminCommand) -> Result<(String, Value), CliError> {
    match cmd {
        AdminCommand::Workspace(WorkspaceCmd::Create { name, plan }) => {
            let plan = parse_plan(&plan)?;
            let name = bounded_text(&name, 200).map_err(|e| CliError(format!("workspace name {e}")))?;
            let ws = store.create_workspace(&name, plan).await.map_err(db)?;
            Ok((
                format!("created workspace {} ({}, {})", ws.id, ws.name, plan),
                json!({ "id": ws.id, "name": ws.name, "plan": plan }),
            ))
        }
        AdminCommand::Workspace(WorkspaceCmd::SetPlan { workspace_id, plan }) => {
            let plan = parse_plan(&plan)?;
            workspace_exists(store, &workspace_id).await?;
            store.set_plan(&workspace_id, plan).await.map_err(db)?;
            Ok((format!("workspace {workspace_id} is now on {plan}"), json!({ "id": workspace_id, "plan": plan })))
        }
        AdminCommand::Workspace(WorkspaceCmd::SetRateLimit { workspace_id, rpm, clear }) => {
            let rpm = if clear { None } else { rpm };
            if let Some(r) = rpm {
                if r == 0 || r > keyward_core::plan::MAX_RPM_OVERRIDE {
                    return fail(format!("rpm must be between 1 and {}", keyward_core::plan::MAX_RPM_OVERRIDE));
                }
            }
            workspace_exists(store, &workspace_id).await?;
            store.set_rate_limit(&workspace_id, rpm).await.map_err(db)?;
            let text = match rpm {
                Some(r) => format!("workspace {workspace_id}: {r} requests per minute per key (custom)"),
                None => format!("workspace {workspace_id}: rate limit back to the plan's"),
            };
            Ok((text, json!({ "id": workspace_id, "rpm_override": rpm })))
        }
        AdminCommand::User(UserCmd::Create { email, password_stdin }) => {
            let email = normalize_email(&email).map_err(|e| CliError(format!("{email:?}: {e}")))?;
            let (password, generated) = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).map_err(|e| CliError(format!("cannot read stdin: {e}")))?;
                let p = s.strip_suffix('\n').map(|p| p.strip_suffix('\r').unwrap_or(p)).unwrap_or(&s).to_string();
                (p, false)
            } else {
                (crate::password::generate(), true)
            };
            check_password(&password).map_err(|e| CliError(e.to_string()))?;
            if store.user_by_email(&email).await.map_err(db)?.is_some() {
                return fail(format!("a user with email {email:?} already exists"));
            }
            let p = password.clone();
            let hash = tokio::task::spawn_blocking(move || crate::password::hash(&p))
                .await
                .map_err(|e| CliError(e.to_string()))?
                .map_err(|e| CliError(e.to_string()))?;
            let user = store.create_user(&email, &hash).await.map_err(|e| match e {
                StoreError::Conflict(_) => CliError(format!("a user with email {email:?} already exists")),
                e => db(e),
            })?;
            let mut text = format!("created user {} ({})", user.id, user.email);
            let mut v = json!({ "id": user.id, "email": user.email });
            if generated {
                text.push_str(&format!("\npassword: {password}"));
                v["password"] = json!(password);
            }
            Ok((text, v))
        }
        AdminCommand::Member(MemberCmd::Add { workspace, email, role }) => {
            let role: Role = role.parse().map_err(|e: keyward_core::role::UnknownRole| CliError(e.to_string()))?;
            workspace_exists(store, &workspace).await?;
            let uid = user_id(store, &email).await?;
            store.upsert_member(&workspace, &uid, role).await.map_err(db)?;
            Ok((
                format!("{email} is now {role} of {workspace}"),
                json!({ "workspace_id": workspace, "user_id": uid, "email": email.trim().to_lowercase(), "role": role }),
            ))
        }
        AdminCommand::Member(MemberCmd::Remove { workspace, email }) => {
            workspace_exists(store, &workspace).await?;
            let uid = user_id(store, &email).await?;
            match store.remove_member(&workspace, &uid).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => return fail(format!("{email} is not a member of {workspace}")),
                Err(e) => return Err(db(e)),
            }
            Ok((
                format!("{email} removed from {workspace}"),
                json!({ "workspace_id": workspace, "user_id": uid, "removed": true }),
            ))
        }
        AdminCommand::BenchSeed { keys, out } => bench_seed(store, keys, &out).await,
        AdminCommand::SecretScanning(SecretScanningCmd::Pattern) => Ok(secret_scanning_pattern()),
        AdminCommand::Key(KeyCmd::List { workspace }) => {
            workspace_exists(store, &workspace).await?;
            let keys = store.list_keys(&workspace).await.map_err(db)?;
            let mut text = String::new();
            for k in &keys {
                let status = match (&k.revoked_at, k.revoke_reason) {
                    (None, _) => "active".to_string(),
                    (Some(at), r) => format!("revoked {at} ({})", r.unwrap_or(keyward_core::RevokeReason::Manual)),
                };
                let ips = if k.allowed_cidrs.is_empty() { "any".to_string() } else { k.allowed_cidrs.join(",") };
                text.push_str(&format!("{}  {}  {}  {}  ips={}\n", k.id, k.masked, k.name, status, ips));
            }
            if keys.is_empty() {
                text.push_str("no keys\n");
            }
            Ok((text.trim_end().to_string(), json!({ "data": keys })))
        }
        AdminCommand::Key(KeyCmd::Revoke { key_id }) => {
            let ws = key_workspace(store, &key_id).await?;
            let newly = store
                .revoke_key(&ws, &key_id, Revoker::Support, keyward_core::RevokeReason::Manual, json!({}))
                .await
                .map_err(db)?;
            let text = if newly { format!("revoked {key_id}") } else { format!("{key_id} was already revoked") };
            Ok((text, json!({ "id": key_id, "status": "revoked" })))
        }
        AdminCommand::Key(KeyCmd::AllowIps { key_id, cidrs }) => {
            let list = keyward_core::allowlist::Allowlist::parse(&cidrs).map_err(|errs| {
                CliError(
                    errs.iter()
                        .map(|e| format!("invalid CIDR {:?}: {}", e.entry, e.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
            let ws = key_workspace(store, &key_id).await?;
            let k = store.set_allowed_cidrs(&ws, &key_id, &list.to_strings(), "support").await.map_err(db)?;
            let text = if k.allowed_cidrs.is_empty() {
                format!("{key_id}: any source IP")
            } else {
                format!("{key_id}: allowed from {}", k.allowed_cidrs.join(", "))
            };
            Ok((text, json!({ "id": key_id, "allowed_cidrs": k.allowed_cidrs })))
        }
    }
}

/// `admin bench-seed`: fixtures for `scripts/load.sh`.
async fn bench_seed(store: &Store, keys: u32, out: &std::path::Path) -> Result<(String, Value), CliError> {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).map_err(|e| CliError(format!("cannot write {}: {e}", out.display())))?,
    );
    let user = match store.user_by_email("load@bench.example").await.map_err(db)? {
        Some(u) => u,
        None => store.create_user("load@bench.example", "!").await.map_err(db)?,
    };
    let mut workspaces = vec![];
    let mut made = 0;
    while made < keys {
        let ws = store.create_workspace("Load test", Plan::Enterprise).await.map_err(db)?;
        store.set_rate_limit(&ws.id, Some(keyward_core::plan::MAX_RPM_OVERRIDE)).await.map_err(db)?;
        store.upsert_member(&ws.id, &user.id, Role::Admin).await.map_err(db)?;
        for _ in 0..(keys - made).min(crate::store::MAX_ACTIVE_KEYS as u32) {
            let secret = keyward_core::ApiKeySecret::generate();
            store
                .create_key(&ws.id, "load test", &secret.hash(), secret.last4(), (&user.id, &user.email))
                .await
                .map_err(db)?;
            writeln!(file, "{}", secret.expose()).map_err(|e| CliError(e.to_string()))?;
            made += 1;
        }
        workspaces.push(ws.id);
    }
    file.flush().map_err(|e| CliError(e.to_string()))?;
    Ok((
        format!("{made} keys in {} workspaces; secrets in {}", workspaces.len(), out.display()),
        json!({ "keys": made, "workspaces": workspaces }),
    ))
}

async fn key_workspace(store: &Store, key_id: &str) -> Result<String, CliError> {
    match store.key_workspace(key_id).await {
        Ok(ws) => Ok(ws),
        Err(StoreError::NotFound) => fail(format!("unknown key {key_id:?}")),
        Err(e) => Err(db(e)),
    }
}
