//! `serve --demo`: a workspace to click through on a fresh machine.
use crate::store::{KeyTerms, NewStudy, NewTranscript, Segment, Store, User, Workspace, MAX_ACTIVE_KEYS};
use keyward_core::WorkspaceId;
use keyward_core::{ApiKeySecret, Plan, Role};
use serde::Deserialize;

/// The demo admin's email.
pub const DEMO_EMAIL: &str = "admin@demo.example";
/// The demo workspace's name.
pub const DEMO_WORKSPACE: &str = "Demo";

/// What `--demo` printed.
#[derive(Debug)]
pub enum DemoOutcome {
    Created { email: String, password: String, workspace_id: WorkspaceId },
    Exists { email: String },
}

/// A load-test workspace: enterprise plan at the highest per-key rate limit,
/// `user` its admin, and `keys` keys (at most [`MAX_ACTIVE_KEYS`]) named
/// `name`. The fixture of `admin bench-seed` (`scripts/load.sh`) and of the
/// request-path benchmark; the secrets are returned, not stored.
pub async fn load_test_workspace(
    store: &Store,
    user: &User,
    name: &str,
    keys: usize,
) -> crate::store::Result<(Workspace, Vec<ApiKeySecret>)> {
    let ws = store.create_workspace("Load test", Plan::Enterprise).await?;
    store.set_rate_limit(&ws.id, Some(keyward_core::plan::MAX_RPM_OVERRIDE)).await?;
    store.upsert_member(&ws.id, &user.id, Role::Admin).await?;
    let n = keys.min(usize::try_from(MAX_ACTIVE_KEYS).unwrap_or(usize::MAX));
    let mut secrets = Vec::with_capacity(n);
    for _ in 0..n {
        let secret = ApiKeySecret::generate();
        let by = (user.id.as_str(), user.email.as_str());
        store.create_key(&ws.id, name, &secret.hash(), secret.last4(), by, KeyTerms::default()).await?;
        secrets.push(secret);
    }
    Ok((ws, secrets))
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

/// One sample transcript: participant, email, language, and segments as
/// (speaker, start s, end s, text).
#[derive(Deserialize)]
struct SampleTranscript {
    participant: String,
    email: Option<String>,
    language: String,
    segments: Vec<(String, u64, u64, String)>,
}

/// One sample study with its transcripts.
#[derive(Deserialize)]
struct SampleStudy {
    name: String,
    description: Option<String>,
    transcripts: Vec<SampleTranscript>,
}

/// The sample content: `demo/samples.json`, data rather than code (each
/// segment is `[speaker, start s, end s, text]`).
fn samples() -> serde_json::Result<Vec<SampleStudy>> {
    serde_json::from_str(include_str!("demo/samples.json"))
}

/// Sample studies and transcripts for the demo workspace: three studies with
/// multi-speaker transcripts in several languages, so `/v1/studies` and
/// `/v1/transcripts` have something to show at once.
pub async fn seed_sample_data(store: &Store, workspace_id: &WorkspaceId) -> anyhow::Result<()> {
    for s in samples()? {
        let study = store.create_study(workspace_id, &s.new_study()).await?;
        for t in &s.transcripts {
            store.create_transcript(workspace_id, &study.id, &t.new_transcript()).await?;
        }
    }
    Ok(())
}

impl SampleStudy {
    fn new_study(&self) -> NewStudy {
        NewStudy { name: self.name.clone(), description: self.description.clone() }
    }
}

impl SampleTranscript {
    fn new_transcript(&self) -> NewTranscript {
        NewTranscript {
            participant_name: self.participant.clone(),
            participant_email: self.email.clone(),
            language: self.language.clone(),
            segments: self
                .segments
                .iter()
                .map(|(speaker, start, end, text)| Segment {
                    speaker: speaker.to_string(),
                    start_ms: start * 1000,
                    // A short pause before the next speaker.
                    end_ms: end * 1000 - 200,
                    text: text.to_string(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::v1::input;
    use serde_json::json;

    /// The samples are what a client could have sent: they pass `/v1`'s own validation.
    #[test]
    fn sample_data_passes_the_api_validation() {
        for s in samples().unwrap() {
            let body = json!({ "name": s.name, "description": s.description });
            assert_eq!(input::new_study(&body).unwrap(), s.new_study());
            for t in &s.transcripts {
                let new = t.new_transcript();
                let body = json!({
                    "participant": { "name": new.participant_name, "email": new.participant_email },
                    "language": new.language,
                    "segments": new.segments,
                });
                assert_eq!(input::new_transcript(&body).unwrap(), new, "{}", t.participant);
            }
        }
    }
}
