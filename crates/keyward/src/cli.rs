//! The command line: `keyward serve` (its flags are in [`crate::config`])
//! and the operator CLI (`keyward admin ...`, SPEC §8), what "support" does
//! for customers. Every command opens the store itself, so it works while
//! `serve` runs on the same data; changes reach the server's next request
//! through the store's change counter.
//!
//! Bad input exits non-zero with one line on stderr (with `--json`, a JSON
//! object `{"error": {"code", "message"}}`) and changes nothing. Admin
//! commands never create a store: only `serve` does.

mod lookup;

use crate::config::{ServeArgs, StoreArgs};
use crate::store::{Revoker, Store, StoreError};
use clap::{Args, Parser, Subcommand};
use keyward_core::validate::{bounded_text, check_password, normalize_email};
use keyward_core::{KeyId, Plan, Role, UserId, WorkspaceId};
use serde_json::{json, Value};
use std::io::Read;

/// keyward: API keys for User Evaluation.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of `Serve` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: /v1, the admin API and the API Keys page.
    Serve(ServeArgs),
    /// Operator commands ("support"): workspaces, users, members, keys.
    Admin(AdminArgs),
}

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
        /// free, starter, pro or enterprise (any case).
        #[arg(long)]
        plan: String,
    },
    /// List workspaces (oldest first) with their plan, members and keys.
    List {
        /// Only workspaces on this plan.
        #[arg(long)]
        plan: Option<String>,
    },
    /// A workspace: plan, rate-limit override, members and key counts.
    Show { workspace_id: WorkspaceId },
    /// Change a workspace's plan (applies on the next request).
    SetPlan { workspace_id: WorkspaceId, plan: String },
    /// Override the per-key rpm for a workspace, or --clear to return to the plan's.
    SetRateLimit {
        workspace_id: WorkspaceId,
        /// Requests per minute per key (checked by keyward, one message for every bad value).
        #[arg(required_unless_present = "clear", allow_hyphen_values = true)]
        rpm: Option<String>,
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
    /// A user: their workspaces and roles.
    Show { email: String },
}

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// Add a user to a workspace (or change their role).
    Add {
        #[arg(long)]
        workspace: WorkspaceId,
        #[arg(long)]
        email: String,
        /// participant, member, admin or superadmin.
        #[arg(long)]
        role: String,
    },
    /// List a workspace's members and their roles.
    List {
        #[arg(long)]
        workspace: WorkspaceId,
    },
    /// Remove a user from a workspace (their keys keep working).
    Remove {
        #[arg(long)]
        workspace: WorkspaceId,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// List a workspace's keys (masked), newest first.
    List {
        #[arg(long)]
        workspace: WorkspaceId,
    },
    /// One key: workspace, status, creator, last use, allowlist.
    Show { key_id: KeyId },
    /// Revoke a key (immediate, also for a running server), by id or by
    /// its full secret (hashed, never printed or stored).
    Revoke {
        /// `key_…`, or the secret `ue_live_…` as a customer pasted it.
        key: String,
    },
    /// Restrict a key to source IPs/CIDRs; no CIDR clears the list.
    AllowIps { key_id: KeyId, cidrs: Vec<String> },
    /// Roll a key: print its successor's secret once; the old key keeps
    /// working for the grace period (default 86400 s, at most 604800).
    Roll {
        key_id: KeyId,
        #[arg(long, default_value_t = 86_400)]
        grace_secs: i64,
    },
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

/// A CLI failure: one line for stderr, and a stable `code` for `--json`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    /// `invalid_argument`, `not_found`, `no_store`, `conflict`, `refused`
    /// or `storage_error`.
    pub code: &'static str,
    pub message: String,
}

/// A CLI failure caused by bad input (code `invalid_argument`), the most
/// common kind; [`CliError::new`] gives another code.
#[allow(non_snake_case)]
pub fn CliError(message: impl Into<String>) -> CliError {
    CliError::new("invalid_argument", message)
}

impl CliError {
    pub fn new(code: &'static str, message: impl Into<String>) -> CliError {
        CliError { code, message: message.into() }
    }

    /// What `--json` writes to stderr: `{"error": {"code", "message"}}`.
    pub fn to_json(&self) -> String {
        json!({ "error": { "code": self.code, "message": self.message } }).to_string()
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(msg.into()))
}

fn not_found<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::new("not_found", msg))
}

fn db(e: StoreError) -> CliError {
    match e {
        StoreError::Db(cause) => CliError::new("storage_error", format!("storage error: {cause}")),
        other => CliError::new("storage_error", format!("storage error: {other}")),
    }
}

async fn workspace_exists(store: &Store, id: &WorkspaceId) -> Result<(), CliError> {
    match store.workspace(id).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => not_found(format!("unknown workspace {id:?}")),
        Err(e) => Err(db(e)),
    }
}

async fn user_id(store: &Store, email: &str) -> Result<UserId, CliError> {
    let email = normalize_email(email).map_err(|e| CliError(format!("{email:?}: {e}")))?;
    match store.user_by_email(&email).await.map_err(db)? {
        Some(u) => Ok(u.id),
        None => not_found(format!("unknown user {email:?}")),
    }
}

/// A plan name in any case; the error lists the valid ones.
fn parse_plan(s: &str) -> Result<Plan, CliError> {
    s.trim().to_ascii_lowercase().parse().map_err(|_| {
        let all: Vec<&str> = Plan::ALL.iter().map(|p| p.as_str()).collect();
        CliError(format!("unknown plan {s:?}: use one of {}", all.join(", ")))
    })
}

/// A role name in any case; the error lists the valid ones.
fn parse_role(s: &str) -> Result<Role, CliError> {
    s.trim().to_ascii_lowercase().parse().map_err(|_| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        CliError(format!("unknown role {s:?}: use one of {}", all.join(", ")))
    })
}

/// The rpm override argument; every bad value gets the same message.
fn parse_rpm(s: &str) -> Result<u32, CliError> {
    let max = keyward_core::plan::MAX_RPM_OVERRIDE;
    match s.trim().parse::<u32>() {
        Ok(r) if (1..=max).contains(&r) => Ok(r),
        _ => fail(format!("rpm must be a whole number from 1 to {max} (got {s:?}); --clear returns to the plan's")),
    }
}

/// Run an admin command; returns what to print (text or JSON).
pub async fn run(args: AdminArgs) -> Result<String, CliError> {
    if let AdminCommand::SecretScanning(SecretScanningCmd::Pattern) = args.command {
        let (text, v) = secret_scanning_pattern();
        return Ok(if args.json { v.to_string() } else { text });
    }
    let loc = args.store.location().map_err(|e| CliError(e.to_string()))?;
    let store = Store::open_existing(&loc).await.map_err(|e| match e.downcast_ref::<crate::store::NoStore>() {
        Some(no) => CliError::new("no_store", no.to_string()),
        None => CliError::new("storage_error", format!("cannot open the store: {e:#}")),
    })?;
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
        AdminCommand::Workspace(WorkspaceCmd::List { plan }) => {
            let plan = plan.as_deref().map(parse_plan).transpose()?;
            lookup::workspace_list(store, plan).await
        }
        AdminCommand::Workspace(WorkspaceCmd::Show { workspace_id }) => {
            lookup::workspace_show(store, &workspace_id).await
        }
        AdminCommand::User(UserCmd::Show { email }) => lookup::user_show(store, &email).await,
        AdminCommand::Member(MemberCmd::List { workspace }) => lookup::member_list(store, &workspace).await,
        AdminCommand::Key(KeyCmd::Show { key_id }) => lookup::key_show(store, &key_id).await,
        AdminCommand::Workspace(WorkspaceCmd::SetRateLimit { workspace_id, rpm, clear }) => {
            let rpm = if clear { None } else { rpm.as_deref().map(parse_rpm).transpose()? };
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
                return Err(CliError::new("conflict", format!("a user with email {email:?} already exists")));
            }
            let p = password.clone();
            let hash = tokio::task::spawn_blocking(move || crate::password::hash(&p))
                .await
                .map_err(|e| CliError(e.to_string()))?
                .map_err(|e| CliError(e.to_string()))?;
            let user = store.create_user(&email, &hash).await.map_err(|e| match e {
                StoreError::Conflict(_) => {
                    CliError::new("conflict", format!("a user with email {email:?} already exists"))
                }
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
            let role = parse_role(&role)?;
            workspace_exists(store, &workspace).await?;
            let uid = user_id(store, &email).await?;
            store.set_member_role_keeping_an_admin(&workspace, &uid, role).await.map_err(|e| match e {
                StoreError::Conflict(crate::store::LAST_ADMIN) => last_admin(&email, &workspace, "demoted"),
                e => db(e),
            })?;
            Ok((
                format!("{email} is now {role} of {workspace}"),
                json!({ "workspace_id": workspace, "user_id": uid, "email": email.trim().to_lowercase(), "role": role }),
            ))
        }
        AdminCommand::Member(MemberCmd::Remove { workspace, email }) => {
            workspace_exists(store, &workspace).await?;
            let uid = user_id(store, &email).await?;
            match store.remove_member_keeping_an_admin(&workspace, &uid).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => return not_found(format!("{email} is not a member of {workspace}")),
                Err(StoreError::Conflict(crate::store::LAST_ADMIN)) => {
                    return Err(last_admin(&email, &workspace, "removed"))
                }
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
            Ok((lookup::key_table(&keys), json!({ "data": keys })))
        }
        AdminCommand::Key(KeyCmd::Revoke { key }) => {
            let (ws, key_id) = lookup::key_by_id_or_secret(store, &key).await?;
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
            if store.key(&ws, &key_id).await.map_err(db)?.revoked_at.is_some() {
                return Err(CliError::new(
                    "refused",
                    format!("{key_id} is revoked: its IP allowlist can no longer be changed"),
                ));
            }
            let k = store.set_allowed_cidrs(&ws, &key_id, &list.to_strings(), "support").await.map_err(db)?;
            let text = if k.allowed_cidrs.is_empty() {
                format!("{key_id}: any source IP")
            } else {
                format!("{key_id}: allowed from {}", k.allowed_cidrs.join(", "))
            };
            Ok((text, json!({ "id": key_id, "allowed_cidrs": k.allowed_cidrs })))
        }
        AdminCommand::Key(KeyCmd::Roll { key_id, grace_secs }) => {
            if !(0..=crate::store::MAX_GRACE_SECS).contains(&grace_secs) {
                return fail(format!("--grace-secs must be between 0 and {}", crate::store::MAX_GRACE_SECS));
            }
            let ws = key_workspace(store, &key_id).await?;
            let secret = keyward_core::ApiKeySecret::generate();
            let rolled = match store
                .roll_key(&ws, &key_id, grace_secs, &secret.hash(), secret.last4(), Revoker::Support)
                .await
            {
                Ok(r) => r,
                Err(StoreError::KeyNotActive(m)) => return Err(CliError::new("conflict", m)),
                Err(e) => return Err(db(e)),
            };
            let old_until = rolled.old.expires_at.map_or_else(String::new, |t| t.to_string());
            let text = format!(
                "rolled {key_id} to {} ({}); {key_id} works until {old_until}\n\
                 new key (shown once, store it now): {}",
                rolled.new.id,
                rolled.new.name,
                secret.expose()
            );
            let mut v = serde_json::to_value(&rolled.new).map_err(|e| CliError(e.to_string()))?;
            v["key"] = json!(secret.expose());
            v["rolled_from"] = json!({ "id": key_id, "expires_at": rolled.old.expires_at });
            Ok((text, v))
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
        let left = usize::try_from(keys - made).unwrap_or(usize::MAX);
        let (ws, secrets) = crate::demo::load_test_workspace(store, &user, "load test", left).await.map_err(db)?;
        for secret in &secrets {
            writeln!(file, "{}", secret.expose()).map_err(|e| CliError(e.to_string()))?;
        }
        made += u32::try_from(secrets.len()).unwrap_or(u32::MAX);
        workspaces.push(ws.id);
    }
    file.flush().map_err(|e| CliError(e.to_string()))?;
    Ok((
        format!("{made} keys in {} workspaces; secrets in {}", workspaces.len(), out.display()),
        json!({ "keys": made, "workspaces": workspaces }),
    ))
}

async fn key_workspace(store: &Store, key_id: &KeyId) -> Result<WorkspaceId, CliError> {
    match store.key_workspace(key_id).await {
        Ok(ws) => Ok(ws),
        Err(StoreError::NotFound) => not_found(format!("unknown key {key_id:?}")),
        Err(e) => Err(db(e)),
    }
}

fn last_admin(email: &str, workspace: &str, what: &str) -> CliError {
    CliError::new(
        "refused",
        format!(
            "{email} is the last admin of {workspace} and cannot be {what}: make another member admin first \
             (member add --role admin)"
        ),
    )
}
