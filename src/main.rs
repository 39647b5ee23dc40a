//! `omnistock`: config → telemetry → command (by default, serve).

mod cli;

use std::process::ExitCode;

use clap::Parser;
use omnistock::config::Config;
use omnistock::telemetry;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(&config.log, config.log_json) {
        eprintln!("{error}");
        return ExitCode::from(2);
    }
    match actix_web::rt::System::new().block_on(cli::run(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
