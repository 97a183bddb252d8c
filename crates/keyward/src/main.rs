//! The `keyward` binary: parse the command line and hand over to the library.
use clap::Parser;
use keyward::config::{Cli, Command};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            keyward::init_tracing();
            match keyward::serve(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("keyward: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Admin(args) => match keyward::cli::run(args).await {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("keyward: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
