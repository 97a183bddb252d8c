//! `serve --demo`: a workspace to click through on a fresh machine.
use crate::store::{NewStudy, NewTranscript, Segment, Store};
use keyward_core::WorkspaceId;
use keyward_core::{Plan, Role};

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
struct SampleTranscript {
    participant: &'static str,
    email: Option<&'static str>,
    language: &'static str,
    segments: &'static [(&'static str, u64, u64, &'static str)],
}

/// One sample study with its transcripts.
struct SampleStudy {
    name: &'static str,
    description: Option<&'static str>,
    transcripts: &'static [SampleTranscript],
}

const SAMPLES: &[SampleStudy] = &[
    SampleStudy {
        name: "Checkout redesign: moderated usability test",
        description: Some(
            "Five remote sessions on the new one-page checkout. Goal: find where people hesitate before paying.",
        ),
        transcripts: &[
            SampleTranscript {
                participant: "Zoë Müller",
                email: Some("zoe.mueller@example.com"),
                language: "en",
                segments: &[
                    ("Moderator", 0, 6, "Thanks for joining, Zoë. Could you buy the blue running shoes in size 39?"),
                    ("Zoë Müller", 7, 15, "Sure. I'm adding them to the cart… okay, where is the cart? Ah, top right."),
                    ("Moderator", 16, 19, "What do you expect to happen next?"),
                    (
                        "Zoë Müller",
                        20,
                        31,
                        "A summary, then payment. Oh, it's all on one page. That's quick, actually.",
                    ),
                    ("Zoë Müller", 32, 44, "I'm not sure the discount code was applied — the total didn't change 🤔"),
                    ("Moderator", 45, 48, "Interesting. What would reassure you?"),
                    ("Zoë Müller", 49, 58, "A line that says \"−10 % applied\" right under the code field."),
                ],
            },
            SampleTranscript {
                participant: "Kenji Watanabe",
                email: Some("kenji@example.jp"),
                language: "en",
                segments: &[
                    ("Moderator", 0, 5, "Please start wherever you like."),
                    (
                        "Kenji Watanabe",
                        6,
                        14,
                        "I go straight to checkout. I want to see shipping costs before anything else.",
                    ),
                    (
                        "Kenji Watanabe",
                        15,
                        26,
                        "Shipping is only shown after the address. I would leave here, honestly.",
                    ),
                    ("Moderator", 27, 30, "How often does that happen to you?"),
                    (
                        "Kenji Watanabe",
                        31,
                        40,
                        "Every week. 送料が最初に分かると助かります — knowing shipping first helps.",
                    ),
                ],
            },
            SampleTranscript {
                participant: "Amara Okafor",
                email: None,
                language: "en-GB",
                segments: &[
                    ("Moderator", 0, 4, "Could you pay with the saved card?"),
                    (
                        "Amara Okafor",
                        5,
                        12,
                        "The saved card is pre-selected, good. But the CVC field is tiny on my phone.",
                    ),
                    (
                        "Amara Okafor",
                        13,
                        21,
                        "Done. The confirmation page is lovely, but I didn't get an order number.",
                    ),
                ],
            },
        ],
    },
    SampleStudy {
        name: "Onboarding interviews (DACH)",
        description: Some(
            "Discovery interviews with new customers in Germany, Austria and Switzerland, held in German.",
        ),
        transcripts: &[
            SampleTranscript {
                participant: "Jürgen Weiß",
                email: Some("j.weiss@example.de"),
                language: "de-DE",
                segments: &[
                    ("Interviewerin", 0, 7, "Wie sind Sie auf unser Produkt aufmerksam geworden?"),
                    ("Jürgen Weiß", 8, 19, "Über eine Empfehlung aus der Branche. Die erste Woche war aber mühsam."),
                    ("Interviewerin", 20, 24, "Was genau war mühsam?"),
                    (
                        "Jürgen Weiß",
                        25,
                        39,
                        "Die Einladung für das Team. Ich habe drei Mal gesucht, wo man Kolleg:innen hinzufügt.",
                    ),
                    ("Jürgen Weiß", 40, 47, "Danach lief es gut. Die Vorlagen sparen uns viel Zeit."),
                ],
            },
            SampleTranscript {
                participant: "Zoë Müller",
                email: Some("zoe.mueller@example.com"),
                language: "de-CH",
                segments: &[
                    ("Interviewerin", 0, 5, "Grüezi! Erzählen Sie von Ihrem ersten Tag mit dem Tool."),
                    (
                        "Zoë Müller",
                        6,
                        18,
                        "Ich habe sofort eine Studie angelegt. Die Transkripte kamen schneller als erwartet.",
                    ),
                    ("Zoë Müller", 19, 27, "Nur die Sprache der Transkripte musste ich von Hand umstellen."),
                ],
            },
        ],
    },
    SampleStudy {
        name: "Mobile app diary study",
        description: None,
        transcripts: &[
            SampleTranscript {
                participant: "Léa Fontaine",
                email: Some("lea.fontaine@example.fr"),
                language: "fr",
                segments: &[
                    ("Chercheur", 0, 5, "Qu'avez-vous noté dans votre journal cette semaine ?"),
                    ("Léa Fontaine", 6, 16, "Surtout les notifications : trop nombreuses le matin, aucune le soir."),
                    ("Léa Fontaine", 17, 25, "J'aimerais choisir l'heure du résumé quotidien."),
                ],
            },
            SampleTranscript {
                participant: "Omar Haddad",
                email: None,
                language: "ar",
                segments: &[
                    ("Researcher", 0, 6, "Which entry from this week stands out?"),
                    ("Omar Haddad", 7, 15, "التطبيق سريع، لكن الوضع الليلي غير مريح للعينين."),
                    ("Omar Haddad", 16, 24, "The app is fast, but dark mode is hard on the eyes at night."),
                ],
            },
            SampleTranscript {
                participant: "Priya Raman",
                email: Some("priya@example.in"),
                language: "en-IN",
                segments: &[
                    ("Researcher", 0, 4, "How did offline mode work on your commute?"),
                    ("Priya Raman", 5, 14, "Mostly fine. Two entries vanished in the tunnel, then came back later. 😅"),
                    ("Researcher", 15, 18, "Did you notice when they came back?"),
                    ("Priya Raman", 19, 27, "Only because I checked. A small \"synced ✓\" would be nice."),
                ],
            },
        ],
    },
];

/// Sample studies and transcripts for the demo workspace: three studies with
/// multi-speaker transcripts in several languages, so `/v1/studies` and
/// `/v1/transcripts` have something to show at once.
pub async fn seed_sample_data(store: &Store, workspace_id: &WorkspaceId) -> anyhow::Result<()> {
    for s in SAMPLES {
        let study = store.create_study(workspace_id, &s.new_study()).await?;
        for t in s.transcripts {
            store.create_transcript(workspace_id, &study.id, &t.new_transcript()).await?;
        }
    }
    Ok(())
}

impl SampleStudy {
    fn new_study(&self) -> NewStudy {
        NewStudy { name: self.name.to_string(), description: self.description.map(str::to_string) }
    }
}

impl SampleTranscript {
    fn new_transcript(&self) -> NewTranscript {
        NewTranscript {
            participant_name: self.participant.to_string(),
            participant_email: self.email.map(str::to_string),
            language: self.language.to_string(),
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
        for s in SAMPLES {
            let body = json!({ "name": s.name, "description": s.description });
            assert_eq!(input::new_study(&body).unwrap(), s.new_study());
            for t in s.transcripts {
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
