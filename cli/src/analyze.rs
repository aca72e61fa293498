//! `polc analyze --overlaps`: the pairs of policies that can apply to one person, each with
//! a witness (a user record and a date), for review. Built on [`polc::analysis`].

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::common::{at_or_today, load_bundle, BundleArgs};
use super::{parse_date, print_stdout, Exit, InputError};
use polc::analysis::overlaps::{overlaps, Overlaps};
use polc::analysis::policies::BundleAnalysis;
use polc::ir::{Bundle, PolicyId};

#[derive(Clone, Copy, ValueEnum)]
pub enum AnalyzeFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    bundle: BundleArgs,
    /// List the pairs of policies that can apply to one person, with witnesses
    #[arg(long)]
    overlaps: bool,
    /// The first day considered (default: today, UTC); the analysis looks five years ahead
    #[arg(long, visible_alias = "today", value_parser = parse_date)]
    at: Option<chrono::NaiveDate>,
    /// The output format
    #[arg(long, value_enum, default_value = "human")]
    format: AnalyzeFormat,
}

pub fn run(a: AnalyzeArgs) -> Result<Exit, InputError> {
    if !a.overlaps {
        return Err(InputError(
            "nothing to analyze: pass `--overlaps` (the pairs of policies that can apply to one person)"
                .into(),
        ));
    }
    let today = at_or_today(a.at);
    // A reachable conflict (E0501) does not stop a review: it is what reviews are for.
    let bundle = load_bundle(&a.bundle)?;
    let mut ba = BundleAnalysis::new(&bundle, today);
    let found = overlaps(&mut ba);
    let text = match a.format {
        AnalyzeFormat::Human => polc::text::terminal_lines(&human(&bundle, &found)).into_owned(),
        AnalyzeFormat::Json => {
            let mut s = serde_json::to_string_pretty(&json(&bundle, &ba, &found))?;
            s.push('\n');
            s
        }
    };
    print_stdout(&text)?;
    Ok(0)
}

fn human(b: &Bundle, o: &Overlaps) -> String {
    let name = |p: PolicyId| b.policy(p).name.as_str();
    let mut out = String::new();
    for x in &o.pairs {
        out.push_str(&format!(
            "`{}` and `{}` can apply to one person\n  witness: {}\n",
            name(x.a),
            name(x.b),
            x.witness
        ));
    }
    for &(a, b) in &o.unknown {
        out.push_str(&format!(
            "`{}` and `{}`: undecided (conditions the analysis does not model)\n",
            name(a),
            name(b)
        ));
    }
    let pairs = |n: usize| if n == 1 { "pair" } else { "pairs" };
    out.push_str(&format!(
        "{} {} of policies can apply to one person ({} {} examined, {} undecided)\n",
        o.pairs.len(),
        pairs(o.pairs.len()),
        o.examined,
        pairs(o.examined),
        o.unknown.len()
    ));
    out
}

#[derive(Serialize)]
struct Report<'a> {
    from: String,
    to: String,
    overlaps: Vec<Pair<'a>>,
    undecided: Vec<[&'a str; 2]>,
    examined: usize,
}

#[derive(Serialize)]
struct Pair<'a> {
    policies: [&'a str; 2],
    witness: serde_json::Value,
    date: String,
}

fn json<'a>(b: &'a Bundle, ba: &BundleAnalysis<'_>, o: &Overlaps) -> Report<'a> {
    let name = |p: PolicyId| b.policy(p).name.as_str();
    Report {
        from: ba.horizon.from.to_string(),
        to: ba.horizon.to.to_string(),
        overlaps: o
            .pairs
            .iter()
            .map(|x| Pair {
                policies: [name(x.a), name(x.b)],
                witness: x.witness.json(),
                date: x.witness.date.to_string(),
            })
            .collect(),
        undecided: o.unknown.iter().map(|&(a, c)| [name(a), name(c)]).collect(),
        examined: o.examined,
    }
}
