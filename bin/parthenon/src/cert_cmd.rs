//! `parthenon cert …`: make, show and check TLS certificates.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use parthenon_net::tls::rotation::{
    generate_self_signed, inspect_certificate_file, write_pem_pair, CertificateInfo, ExpiryState,
    DEFAULT_WARN_DAYS,
};
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Certificate file `generate` writes (certbot's name, which a `cert_dir` source reads).
const CERT_NAME: &str = "fullchain.pem";
/// Key file `generate` writes.
const KEY_NAME: &str = "privkey.pem";

#[derive(Subcommand)]
pub(crate) enum CertCommand {
    /// Make a P-256 key and a self-signed certificate: DIR/fullchain.pem and DIR/privkey.pem
    /// (mode 0600), each written to a temporary file and renamed into place.
    Generate {
        /// Directory to write to (created, mode 0700, if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Days of validity.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Subject alternative name (host name or IP address); repeat for several. The first
        /// is also the common name. Default: parthenon-node.
        #[arg(long = "san", value_name = "NAME")]
        sans: Vec<String>,
        /// Replace existing files (a running node with a rotator picks the new pair up).
        #[arg(long)]
        force: bool,
    },
    /// Print a certificate's subject, issuer, names, validity, days remaining and SHA-256
    /// fingerprint (the first certificate of a chain file).
    Show {
        /// The certificate (chain) file, PEM.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check a certificate's validity: exit 0 when valid, 1 when it expires within the
    /// warning window, 2 when it has expired, is not yet valid or cannot be read.
    Check {
        /// The certificate (chain) file, PEM.
        file: PathBuf,
        /// The warning window, in days.
        #[arg(long, default_value_t = DEFAULT_WARN_DAYS)]
        warn_days: u32,
    },
}

/// Runs a `parthenon cert` command.
pub(crate) fn run(cmd: CertCommand) -> Result<ExitCode> {
    match cmd {
        CertCommand::Generate {
            dir,
            days,
            sans,
            force,
        } => generate(&dir, days, &sans, force),
        CertCommand::Show { file, json } => show(&file, json),
        CertCommand::Check { file, warn_days } => Ok(check(&file, warn_days)),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn generate(dir: &Path, days: u32, sans: &[String], force: bool) -> Result<ExitCode> {
    if days == 0 {
        bail!("--days must be at least 1");
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let (cert, key) = (dir.join(CERT_NAME), dir.join(KEY_NAME));
    if !force {
        for path in [&cert, &key] {
            if path.exists() {
                bail!(
                    "{} exists; pass --force to replace it (peers pinning the old fingerprint \
                     must then update their pin)",
                    path.display()
                );
            }
        }
    }
    let pair = generate_self_signed(sans, days)?;
    write_pem_pair(&cert, &key, &pair)?;
    let info = inspect_certificate_file(&cert)?;
    println!("wrote {} and {}", cert.display(), key.display());
    print_info(&info);
    Ok(ExitCode::SUCCESS)
}

fn show(file: &Path, json: bool) -> Result<ExitCode> {
    let info = inspect_certificate_file(file)?;
    if json {
        let mut value = info.to_json();
        value["days_remaining"] = info.days_remaining_at(now_unix()).into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_info(&info);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_info(info: &CertificateInfo) {
    let now = now_unix();
    println!("file:           {}", info.cert_path.display());
    println!("subject:        {}", info.subject);
    println!("issuer:         {}", info.issuer);
    println!("names:          {}", info.names.join(", "));
    println!("valid from:     {}", info.valid_from);
    println!("valid until:    {}", info.valid_until);
    println!("days remaining: {}", info.days_remaining_at(now));
    println!("fingerprint:    {}", info.fingerprint);
    println!("chain:          {} certificate(s)", info.chain_len);
}

/// `parthenon cert check`: 0 valid, 1 expiring within `warn_days`, 2 expired, not yet valid
/// or unreadable.
fn check(file: &Path, warn_days: u32) -> ExitCode {
    let info = match inspect_certificate_file(file) {
        Ok(info) => info,
        Err(error) => {
            println!("INVALID: {error}");
            return ExitCode::from(2);
        }
    };
    let now = now_unix();
    let days = info.days_remaining_at(now);
    match ExpiryState::of(&info, now, warn_days) {
        ExpiryState::Valid => {
            println!(
                "OK: {} valid until {} ({days} days)",
                file.display(),
                info.valid_until
            );
            ExitCode::SUCCESS
        }
        ExpiryState::Expiring | ExpiryState::Critical => {
            println!(
                "EXPIRING: {} expires {} ({days} days left, warning at {warn_days})",
                file.display(),
                info.valid_until
            );
            ExitCode::from(1)
        }
        ExpiryState::Expired => {
            println!("EXPIRED: {} expired {}", file.display(), info.valid_until);
            ExitCode::from(2)
        }
        ExpiryState::NotYetValid => {
            println!(
                "NOT YET VALID: {} is valid from {}",
                file.display(),
                info.valid_from
            );
            ExitCode::from(2)
        }
    }
}
