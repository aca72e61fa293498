//! `polc audit verify [--head HASH]`: the audit log's hash chain; `polc audit export`: the
//! evidence pack for a period.

use clap::{Args, Subcommand};

use super::project::{fail, print, Format, ProjectArgs};
use super::{Exit, InputError};

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log's hash chain; exit 1 if it is broken
    Verify(VerifyArgs),
    /// The evidence pack for a period (HTML, Markdown, CSV or JSON), optionally signed
    Export(ExportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// First day of the period (default: 90 days before --to)
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    from: Option<chrono::NaiveDate>,
    /// Last day of the period (default: today, UTC)
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    to: Option<chrono::NaiveDate>,
    /// The pack's format: html (one self-contained page), md, csv or json
    #[arg(long, default_value = "html", value_name = "FORMAT")]
    format: String,
    /// Sign the pack with this ed25519 key (`polc keygen`); the signature is written to FILE.sig
    #[arg(long, value_name = "KEY", requires = "output")]
    sign_key: Option<std::path::PathBuf>,
    /// Write the pack here (default: standard output)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    #[command(flatten)]
    project: ProjectArgs,
}

#[derive(Args)]
struct VerifyArgs {
    /// A head hash recorded earlier: it must still be in the chain (detects a cut tail or a
    /// recomputed chain)
    #[arg(long, value_name = "HASH")]
    head: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    #[command(flatten)]
    project: ProjectArgs,
}

pub fn run(a: AuditArgs) -> Result<Exit, InputError> {
    let a = match a.command {
        AuditCommand::Verify(a) => a,
        AuditCommand::Export(a) => return export(a),
    };
    let p = match a.project.open_for_reading() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    match p.audit_verify(a.head.as_deref()) {
        Ok(r) => {
            print(a.format, &r, |r| r.human())?;
            Ok(if r.intact { 0 } else { 1 })
        }
        Err(e) => fail(e),
    }
}

fn export(a: ExportArgs) -> Result<Exit, InputError> {
    let format = polc_provision::evidence::Format::parse(&a.format).ok_or_else(|| {
        InputError(format!(
            "--format {}: expected html, md, csv or json",
            a.format
        ))
    })?;
    let to = a.to.unwrap_or_else(polc::db::today_utc);
    let from = a.from.unwrap_or_else(|| polc::dates::sub_days(to, 90));
    let p = match a.project.open_for_reading() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let pack = match p.evidence(from, to, format, a.sign_key.as_deref()) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    match &a.output {
        None => super::print_stdout(&String::from_utf8_lossy(&pack.bytes))?,
        Some(path) => {
            std::fs::write(path, &pack.bytes)
                .map_err(|e| InputError(format!("{}: cannot write: {e}", path.display())))?;
            if let Some(sig) = &pack.signature {
                let mut sig_path = path.clone().into_os_string();
                sig_path.push(".sig");
                std::fs::write(&sig_path, sig).map_err(|e| {
                    InputError(format!("{}: cannot write: {e}", sig_path.to_string_lossy()))
                })?;
            }
            eprintln!("evidence pack for {from} to {to}: {}", path.display());
        }
    }
    Ok(0)
}
