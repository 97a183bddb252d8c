//! Support's look-ups (SPEC §8): from a customer's email to their
//! workspaces, members, keys and one key, as text tables or `--json`.
use super::{db, fail, key_workspace, not_found, user_id, CliError};
use crate::store::{Store, StoreError};
use keyward_core::api::KeyObject;
use keyward_core::key::{self, KeyParseError};
use keyward_core::{KeyId, Plan, WorkspaceId};
use serde_json::{json, Value};

type Out = Result<(String, Value), CliError>;

/// One row of cells per item (`row` gives them), in columns padded to their
/// widest cell; the last column is not padded.
fn table<T>(header: &[&str], items: &[T], row: impl Fn(&T) -> Vec<String>) -> String {
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let mut s = String::new();
        for (i, (c, w)) in cells.into_iter().zip(&widths).enumerate() {
            s.push_str(c);
            if i + 1 < n {
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

fn rpm_text(rpm: Option<u32>, custom: bool) -> String {
    match (rpm, custom) {
        (None, _) => "no API access".into(),
        (Some(r), true) => format!("{r}/min (custom)"),
        (Some(r), false) => format!("{r}/min"),
    }
}

pub(super) async fn workspace_list(store: &Store, plan: Option<Plan>) -> Out {
    let all = store.list_workspaces(plan).await.map_err(db)?;
    let text = if all.is_empty() {
        "no workspaces".to_string()
    } else {
        table(&["ID", "PLAN", "RATE LIMIT", "MEMBERS", "KEYS", "NAME"], &all, |w| {
            vec![
                w.id.clone(),
                w.plan.to_string(),
                rpm_text(w.requests_per_minute, w.rpm_override.is_some()),
                w.members.to_string(),
                format!("{} active, {} revoked", w.active_keys, w.revoked_keys),
                w.name.clone(),
            ]
        })
    };
    Ok((text, json!({ "data": all })))
}

pub(super) async fn workspace_show(store: &Store, id: &WorkspaceId) -> Out {
    let w = match store.workspace_summary(id).await {
        Ok(w) => w,
        Err(StoreError::NotFound) => return not_found(format!("unknown workspace {id:?}")),
        Err(e) => return Err(db(e)),
    };
    let members = store.members(id).await.map_err(db)?;
    let mut text = format!(
        "workspace  {}\nname       {}\nplan       {}\nrate limit {}\ncreated    {}\nkeys       {} active, {} revoked\n\
         members    {}",
        w.id,
        w.name,
        w.plan,
        rpm_text(w.requests_per_minute, w.rpm_override.is_some()),
        w.created_at,
        w.active_keys,
        w.revoked_keys,
        w.members,
    );
    if !members.is_empty() {
        text.push_str("\n\n");
        text.push_str(&table(&["EMAIL", "ROLE", "SINCE"], &members, |m| {
            vec![m.email.clone(), m.role.to_string(), m.since.to_string()]
        }));
    }
    let mut v = serde_json::to_value(&w).unwrap_or(Value::Null);
    v["members"] = json!(members);
    v["member_count"] = json!(w.members);
    Ok((text, v))
}

pub(super) async fn member_list(store: &Store, workspace: &WorkspaceId) -> Out {
    super::workspace_exists(store, workspace).await?;
    let members = store.members(workspace).await.map_err(db)?;
    let text = if members.is_empty() {
        format!("{workspace} has no members")
    } else {
        table(&["EMAIL", "ROLE", "SINCE", "USER ID"], &members, |m| {
            vec![m.email.clone(), m.role.to_string(), m.since.to_string(), m.user_id.clone()]
        })
    };
    Ok((text, json!({ "workspace_id": workspace, "data": members })))
}

pub(super) async fn user_show(store: &Store, email: &str) -> Out {
    let uid = user_id(store, email).await?;
    let user = store.user_by_email(&email.trim().to_lowercase()).await.map_err(db)?;
    let email = user.map(|u| u.email).unwrap_or_else(|| email.to_string());
    let ms = store.memberships_of(&uid).await.map_err(db)?;
    let mut text = format!("user {uid} ({email})\n");
    if ms.is_empty() {
        text.push_str("member of no workspace");
    } else {
        text.push('\n');
        text.push_str(&table(&["WORKSPACE", "ROLE", "PLAN", "NAME"], &ms, |m| {
            vec![m.workspace.id.to_string(), m.role.to_string(), m.workspace.plan.to_string(), m.workspace.name.clone()]
        }));
    }
    let workspaces: Vec<Value> = ms
        .iter()
        .map(|m| json!({ "id": m.workspace.id, "name": m.workspace.name, "plan": m.workspace.plan, "role": m.role }))
        .collect();
    Ok((text, json!({ "id": uid, "email": email, "workspaces": workspaces })))
}

fn status_text(k: &KeyObject) -> String {
    match (&k.revoked_at, k.revoke_reason) {
        (None, _) if k.status == keyward_core::api::KeyStatus::Expired => "expired".to_string(),
        (None, _) => "active".to_string(),
        (Some(at), r) => format!("revoked {at} ({})", r.unwrap_or(keyward_core::RevokeReason::Manual)),
    }
}

fn last_used_text(k: &KeyObject) -> String {
    match (&k.last_used_at, &k.last_used_ip) {
        (None, _) => "never".to_string(),
        (Some(at), Some(ip)) => format!("{at} from {ip}"),
        (Some(at), None) => at.to_string(),
    }
}

fn ips_text(k: &KeyObject) -> String {
    if k.allowed_cidrs.is_empty() {
        "any".to_string()
    } else {
        k.allowed_cidrs.join(",")
    }
}

/// `key list`: a header, then one key per line.
pub(super) fn key_table(keys: &[KeyObject]) -> String {
    if keys.is_empty() {
        return "no keys".to_string();
    }
    let header =
        ["ID", "KEY", "STATUS", "LAST USED", "IPS", "EXPIRES", "SCOPES", "REQ 24H", "ROLLED TO", "CREATED BY", "NAME"];
    table(&header, keys, |k| {
        vec![
            k.id.clone(),
            k.masked.clone(),
            status_text(k),
            last_used_text(k),
            ips_text(k),
            k.expires_at.map_or_else(|| "never".to_string(), |t| t.to_string()),
            if k.scopes.is_all() { "all".to_string() } else { k.scopes.to_stored() },
            k.requests_24h.to_string(),
            k.rolled_to.clone().unwrap_or_else(|| "-".to_string()),
            k.created_by.email.clone(),
            k.name.clone(),
        ]
    })
}

pub(super) async fn key_show(store: &Store, key_id: &KeyId) -> Out {
    let ws = key_workspace(store, key_id).await?;
    let k = store.key(&ws, key_id).await.map_err(db)?;
    let w = store.workspace(&ws).await.map_err(db)?;
    let text = format!(
        "key        {}\nname       {}\nkey        {}\nworkspace  {} ({}, {})\nstatus     {}\ncreated    {} by {}{}\n\
         last used  {}\nallowed IPs {}",
        k.id,
        k.name,
        k.masked,
        w.id,
        w.name,
        w.plan,
        status_text(&k),
        k.created_at,
        k.created_by.email,
        if k.created_by.is_member { "" } else { " (no longer a member)" },
        last_used_text(&k),
        ips_text(&k),
    );
    let mut v = serde_json::to_value(&k).unwrap_or(Value::Null);
    v["workspace"] = json!({ "id": w.id, "name": w.name, "plan": w.plan });
    Ok((text, v))
}

/// `key revoke`'s argument: a key id, or a full secret (hashed here; the
/// secret itself is never printed, logged or stored). Returns (workspace, key id).
pub(super) async fn key_by_id_or_secret(store: &Store, arg: &str) -> Result<(WorkspaceId, KeyId), CliError> {
    let arg = arg.trim();
    if arg.starts_with("key_") {
        let key_id = KeyId::new(arg);
        return Ok((key_workspace(store, &key_id).await?, key_id));
    }
    if !arg.starts_with("ue_") {
        return fail("expected a key id (key_…) or a full secret (ue_live_…)");
    }
    let parsed = match key::parse(arg) {
        Ok(parsed) => parsed,
        Err(KeyParseError::Checksum) => {
            return fail("this is not a valid secret (its checksum does not match): it was mistyped or cut")
        }
        Err(_) => {
            return fail(format!(
                "this is not a valid secret: secrets are {} characters, ue_live_ then letters and digits",
                key::KEY_LEN
            ))
        }
    };
    match store.auth_key(&parsed.hash()).await.map_err(db)? {
        Some(k) => Ok((WorkspaceId::new(&*k.workspace_id), KeyId::new(&*k.id))),
        None => not_found("no key of this store has this secret"),
    }
}
