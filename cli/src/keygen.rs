//! `polc keygen -o KEY`: a new ed25519 key pair for signing bundles: `KEY` (the secret
//! seed, mode 0600) and `KEY.pub` (the public key that `--verify-key` takes).

use std::path::PathBuf;

use clap::Args;

use super::{Exit, InputError};
use polc::bundle::keys::{write_pair, SecretKey};

#[derive(Args)]
pub struct KeygenArgs {
    /// The secret key file to write; the public key goes to the same name plus `.pub`
    #[arg(short = 'o', long = "output", value_name = "KEY")]
    output: PathBuf,
    /// Replace existing key files
    #[arg(long)]
    force: bool,
}

pub fn run(a: KeygenArgs) -> Result<Exit, InputError> {
    let key = SecretKey::generate()?;
    let pub_path = write_pair(&key, &a.output, a.force)?;
    eprintln!(
        "wrote the secret key {} (keep it private) and the public key {} (key id {})",
        a.output.display(),
        pub_path.display(),
        key.public().id()
    );
    Ok(0)
}
