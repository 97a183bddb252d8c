//! keyward: the API Keys feature of User Evaluation and the public REST API
//! those keys unlock. `main.rs` only parses the command line; everything
//! else lives here so tests drive the very app that ships.

pub mod app;
pub mod changes;
pub mod cli;
pub mod config;
pub mod demo;
pub mod histogram;
pub mod http;
pub mod keycache;
pub mod leaked;
pub mod lifecycle;
pub mod outbound;
pub mod password;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod store;
pub mod usage;
pub mod webhooks;

use config::ServeArgs;
use std::io::Write;

/// The whole command line, from parsed flags to the exit status, on a
/// Tokio runtime started here: everything the binary runs is compiled (and
/// its generic code instantiated) once, in this crate. With the runtime in
/// `main.rs`, the futures of `serve` and `cli::run` were first polled
/// there, so the binary's crate compiled their whole call tree again
/// (20 s of a cold release build, docs/benchmarks.md §5).
pub fn main(cli: cli::Cli) -> std::process::ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(dispatch(cli)),
        Err(e) => {
            eprintln!("keyward: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: cli::Cli) -> std::process::ExitCode {
    use std::process::ExitCode;
    match cli.command {
        cli::Command::Serve(args) => {
            init_tracing();
            match serve(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("keyward: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        cli::Command::Admin(args) => {
            let json = args.json;
            match cli::run(args).await {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) if json => {
                    eprintln!("{}", e.to_json());
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("keyward: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `keyward serve`: open the store, seed the demo if asked, bind, print the
/// URL, and serve until SIGTERM/SIGINT.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Bind before the store is touched: a busy address must not leave a new
    // store (and a demo password nobody can use) behind.
    let listener = bind(args.listen).await?;
    let loc = args.store.location()?;
    let store = store::Store::open(&loc).await?;
    let mut out = std::io::stdout().lock();
    if args.demo {
        match demo::ensure(&store).await? {
            demo::DemoOutcome::Created { email, password, .. } => {
                writeln!(out, "demo workspace created; sign in with")?;
                writeln!(out, "email: {email}")?;
                writeln!(out, "password: {password}")?;
            }
            demo::DemoOutcome::Exists { email } => {
                writeln!(
                    out,
                    "the store is not empty: the demo already exists (its password was printed when it was created)"
                )?;
                writeln!(out, "email: {email}")?;
            }
        }
    }
    // Install the handlers before announcing the address, so a SIGTERM sent
    // right after start-up already means "drain and exit 0".
    let shutdown = shutdown_signals()?;
    let addr = listener.local_addr()?;
    writeln!(out, "keyward listening on http://{addr} (sign in at http://{addr}/login)")?;
    out.flush()?;
    drop(out);
    let (state, background) = state::AppState::new(store, args).await?;
    app::run(state, background, listener, shutdown).await
}

/// The server's listener; a busy or forbidden address says which and how to
/// choose another.
async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (is another keyward already running there? stop it, or choose another address with --listen)"
        } else {
            " (choose another address with --listen)"
        };
        anyhow::anyhow!("cannot listen on {addr}: {e}{hint}")
    })
}

/// Resolves on the first SIGTERM or SIGINT; the handlers are registered now.
fn shutdown_signals() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown signal received: draining requests");
    })
}

/// Logs to stderr; `RUST_LOG` filters (default `info,sqlx=warn`) with
/// `level` and `target=level` directives, comma-separated; a value that does
/// not parse is reported and the default used. Never logs secrets: request
/// logging writes method, path and status only.
pub fn init_tracing() {
    use tracing::Level;
    use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};
    let default = Targets::new().with_default(Level::INFO).with_target("sqlx", Level::WARN);
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let parsed = from_env.as_deref().map(str::parse::<Targets>);
    let filter = match &parsed {
        Some(Ok(t)) => t.clone(),
        _ => default,
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if tracing_subscriber::registry().with(fmt).with(filter).try_init().is_ok() {
        if let Some(Err(e)) = parsed {
            tracing::warn!(error = %e, "RUST_LOG does not parse; logging at info,sqlx=warn");
        }
    }
}
