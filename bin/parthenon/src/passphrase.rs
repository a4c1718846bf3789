//! Reading wallet passphrases without putting them on the command line (where `ps` and shell
//! history would show them): from a file, from an environment variable, or from the terminal
//! without echo.

use anyhow::{bail, Context, Result};
use std::io::IsTerminal;
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable holding the wallet passphrase (for scripts and tests).
pub(crate) const PASSPHRASE_ENV: &str = "PARTHENON_WALLET_PASSPHRASE";
/// Environment variable holding the new passphrase for `change-passphrase`.
pub(crate) const NEW_PASSPHRASE_ENV: &str = "PARTHENON_WALLET_NEW_PASSPHRASE";

/// Reads a passphrase: `file` if given (first line), else `env_var`, else a terminal
/// prompt; `confirm` asks twice on a terminal.
pub(crate) fn read(
    file: Option<&Path>,
    env_var: &str,
    prompt: &str,
    confirm: bool,
) -> Result<Zeroizing<String>> {
    if let Some(f) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading passphrase file {}", f.display()))?,
        );
        let line = text.lines().next().unwrap_or("");
        return non_empty(Zeroizing::new(line.to_string()));
    }
    if let Ok(v) = std::env::var(env_var) {
        return non_empty(Zeroizing::new(v));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no passphrase: pass --passphrase-file FILE or set {env_var} (stdin is not a terminal)"
        );
    }
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).context("reading the passphrase")?);
    if confirm {
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat: ").context("reading the passphrase")?,
        );
        if *first != *again {
            bail!("the passphrases differ");
        }
    }
    non_empty(first)
}

fn non_empty(p: Zeroizing<String>) -> Result<Zeroizing<String>> {
    if p.is_empty() {
        bail!("the passphrase is empty");
    }
    Ok(p)
}
