//! `parthenon node` configuration: command-line flags, `PARTHENON_*` environment variables
//! and the `--config` TOML file, resolved into a [`DevNodeConfig`].
//!
//! Every setting is taken from the first of these that gives it: **flag > environment >
//! file > default**. The flags are parsed by clap with no clap defaults (so "not given" is
//! visible as `None`/`false`); the environment tier is read here, through an injected
//! lookup, so the precedence is tested without touching the process environment (which is
//! global and shared by parallel tests). Boolean variables take clap's boolish values
//! (`1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`, …); list variables are comma-separated;
//! a variable set to the empty string counts as unset. A bad value is reported with where it
//! came from: the flag, the variable or the file key.
//!
//! `docs/config.md` lists every key with its flag, variable and default.

use anyhow::{anyhow, bail, Context, Result};
use clap::builder::TypedValueParser;
use clap::Args;
use parthenon_chain::MempoolPolicy;
use parthenon_crypto::AesMode;
use parthenon_net::{parse_peer_spec, PeerSpec};
use parthenon_node::datadir::DataDir;
use parthenon_node::dev_node::DevNodeConfig;
use parthenon_node::p2p::{P2pSettings, TlsSettings, DEFAULT_MAX_INBOUND, DEFAULT_MAX_OUTBOUND};
use parthenon_node::rpc::{Credentials, RpcConfig};
use parthenon_primitives::{ChainParams, Network};
use parthenon_storage::Durability;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default seconds between mined dev blocks.
pub(crate) const DEFAULT_BLOCK_INTERVAL: f64 = 2.0;
/// Default nonce-search threads.
const DEFAULT_MINE_THREADS: usize = 1;

/// The environment variables `parthenon node` reads (besides `PARTHENON_LOG` and
/// `PARTHENON_AES`), so that `devnet` can keep an operator's settings away from its nodes.
pub(crate) const NODE_ENV_VARS: &[&str] = &[
    "PARTHENON_DEV",
    "PARTHENON_NETWORK",
    "PARTHENON_CONFIG",
    "PARTHENON_DATADIR",
    "PARTHENON_BLOCK_INTERVAL",
    "PARTHENON_NO_MINE",
    "PARTHENON_MINE_THREADS",
    "PARTHENON_VERIFY_THREADS",
    "PARTHENON_SYNC_WRITES",
    "PARTHENON_SELF_SPEND",
    "PARTHENON_MIN_RELAY_FEE_RATE",
    "PARTHENON_DUST_THRESHOLD",
    "PARTHENON_RPC_LISTEN",
    "PARTHENON_METRICS",
    "PARTHENON_NO_P2P",
    "PARTHENON_P2P_LISTEN",
    "PARTHENON_CONNECT",
    "PARTHENON_ADDNODE",
    "PARTHENON_P2P_PLAINTEXT",
    "PARTHENON_MAX_OUTBOUND",
    "PARTHENON_MAX_INBOUND",
    "PARTHENON_MAX_INBOUND_PER_HOST",
    "PARTHENON_CONNECT_VERIFIED",
    "PARTHENON_TLS_CERT_FILE",
    "PARTHENON_TLS_KEY_FILE",
    "PARTHENON_TLS_CERT_DIR",
    "PARTHENON_TLS_CHECK_INTERVAL",
    "PARTHENON_TLS_WARN_DAYS",
    "PARTHENON_TLS_ALLOW_EARLIER_EXPIRY",
];

/// `parthenon node` flags. None has a clap default: an absent flag falls back to its
/// environment variable, then the configuration file, then the built-in default.
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct NodeArgs {
    /// Run the local development network (easiest target, mines on an interval)
    /// [env: PARTHENON_DEV] [file: node.dev].
    #[arg(long)]
    pub(crate) dev: bool,
    /// The network when not --dev: `test` or `main` (sync and relay; no mining there)
    /// [env: PARTHENON_NETWORK] [file: node.network].
    #[arg(long, value_name = "dev|test|main")]
    pub(crate) network: Option<String>,
    /// TOML configuration file, see docs/config.md [env: PARTHENON_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (default ./parthenon-data/dev) [env: PARTHENON_DATADIR]
    /// [file: node.datadir].
    #[arg(long, value_name = "DIR")]
    pub(crate) datadir: Option<PathBuf>,
    /// Seconds between mined blocks, fractions allowed (default 2)
    /// [env: PARTHENON_BLOCK_INTERVAL] [file: node.block_interval].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) block_interval: Option<f64>,
    /// Do not mine [env: PARTHENON_NO_MINE] [file: node.mine = false].
    #[arg(long)]
    pub(crate) no_mine: bool,
    /// Threads for the nonce search (default 1) [env: PARTHENON_MINE_THREADS]
    /// [file: node.mine_threads].
    #[arg(long, value_name = "N")]
    pub(crate) mine_threads: Option<usize>,
    /// Threads for signature checks (default: one per core; 0 = inline)
    /// [env: PARTHENON_VERIFY_THREADS] [file: node.verify_threads].
    #[arg(long, value_name = "N")]
    pub(crate) verify_threads: Option<usize>,
    /// fsync every block's batch (survives power loss, slower); default survives a process
    /// crash [env: PARTHENON_SYNC_WRITES] [file: node.sync_writes].
    #[arg(long)]
    pub(crate) sync_writes: bool,
    /// Dev only: before each block the wallet spends this many of its mature coins to itself,
    /// to exercise transactions on a lone node (default 0) [env: PARTHENON_SELF_SPEND]
    /// [file: node.self_spend].
    #[arg(long, value_name = "N")]
    pub(crate) self_spend: Option<usize>,
    /// Mempool policy: least fee per byte of a transaction, in base units summed over the
    /// assets it pays (default 1; 0 admits zero-fee transactions)
    /// [env: PARTHENON_MIN_RELAY_FEE_RATE] [file: mempool.min_relay_fee_rate].
    #[arg(long, value_name = "UNITS_PER_BYTE")]
    pub(crate) min_relay_fee_rate: Option<u64>,
    /// Mempool policy: least amount of any output, in base units (default 441)
    /// [env: PARTHENON_DUST_THRESHOLD] [file: mempool.dust_threshold].
    #[arg(long, value_name = "UNITS")]
    pub(crate) dust_threshold: Option<u64>,
    /// JSON-RPC listen address (default 127.0.0.1:27332 on dev) [env: PARTHENON_RPC_LISTEN]
    /// [file: rpc.listen].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) rpc_listen: Option<String>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (default: off)
    /// [env: PARTHENON_METRICS] [file: metrics.listen].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) metrics: Option<String>,
    /// A lone node: no peer-to-peer networking at all [env: PARTHENON_NO_P2P]
    /// [file: p2p.enabled = false].
    #[arg(long)]
    pub(crate) no_p2p: bool,
    /// Accept peers on this address (default 127.0.0.1:27333 on dev)
    /// [env: PARTHENON_P2P_LISTEN] [file: p2p.listen].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) p2p_listen: Option<String>,
    /// Connect only to this peer, HOST:PORT or HOST:PORT#SHA256FINGERPRINT (repeatable)
    /// [env: PARTHENON_CONNECT, comma-separated] [file: p2p.connect].
    #[arg(long, value_name = "PEER", value_delimiter = ',')]
    pub(crate) connect: Vec<String>,
    /// Also connect to this peer, HOST:PORT or HOST:PORT#SHA256FINGERPRINT (repeatable)
    /// [env: PARTHENON_ADDNODE, comma-separated] [file: p2p.addnode].
    #[arg(long, value_name = "PEER", value_delimiter = ',')]
    pub(crate) addnode: Vec<String>,
    /// Plain TCP instead of TLS 1.3 between peers, for trusted links only
    /// [env: PARTHENON_P2P_PLAINTEXT] [file: p2p.plaintext].
    #[arg(long)]
    pub(crate) p2p_plaintext: bool,
    /// Most outbound peer connections (default 8) [env: PARTHENON_MAX_OUTBOUND]
    /// [file: p2p.max_outbound].
    #[arg(long, value_name = "N")]
    pub(crate) max_outbound: Option<usize>,
    /// Most inbound peer connections (default 117) [env: PARTHENON_MAX_INBOUND]
    /// [file: p2p.max_inbound].
    #[arg(long, value_name = "N")]
    pub(crate) max_inbound: Option<usize>,
    /// Most inbound connections from one host, an IPv4 address or IPv6 /64 (default 4; a
    /// site, IPv4 /24 or IPv6 /48, gets four times as many; loopback is exempt)
    /// [env: PARTHENON_MAX_INBOUND_PER_HOST] [file: p2p.max_inbound_per_host].
    #[arg(long, value_name = "N")]
    pub(crate) max_inbound_per_host: Option<usize>,
    /// Connect only to this host-named peer (repeatable), verifying its certificate against
    /// the system's trust roots and its name [env: PARTHENON_CONNECT_VERIFIED, comma-separated]
    /// [file: p2p.connect_verified].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) connect_verified: Vec<String>,
    /// Certificate chain served to peers (PEM), with --tls-key-file; watched and hot-reloaded
    /// (default: the node's own pair in <datadir>/tls/) [env: PARTHENON_TLS_CERT_FILE]
    /// [file: tls.cert_file].
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_cert_file: Option<PathBuf>,
    /// Private key of --tls-cert-file (PEM) [env: PARTHENON_TLS_KEY_FILE] [file: tls.key_file].
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_key_file: Option<PathBuf>,
    /// Directory holding fullchain.pem + privkey.pem (certbot live/<name>/) or tls.crt +
    /// tls.key (Kubernetes secret) [env: PARTHENON_TLS_CERT_DIR] [file: tls.cert_dir].
    #[arg(long, value_name = "DIR")]
    pub(crate) tls_cert_dir: Option<PathBuf>,
    /// Seconds between certificate content checks besides file events (default 60)
    /// [env: PARTHENON_TLS_CHECK_INTERVAL] [file: tls.check_interval].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) tls_check_interval: Option<u64>,
    /// Warn when the certificate has fewer days left (default 30)
    /// [env: PARTHENON_TLS_WARN_DAYS] [file: tls.warn_days].
    #[arg(long, value_name = "DAYS")]
    pub(crate) tls_warn_days: Option<u32>,
    /// Accept a new certificate that expires before the one in service (e.g. moving from the
    /// 10-year self-signed one to a 90-day CA one) [env: PARTHENON_TLS_ALLOW_EARLIER_EXPIRY]
    /// [file: tls.allow_earlier_expiry].
    #[arg(long)]
    pub(crate) tls_allow_earlier_expiry: bool,
}

/// The `--config` TOML file. Unknown keys are errors, so a misspelt setting is not ignored.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    node: NodeSection,
    #[serde(default)]
    p2p: P2pSection,
    #[serde(default)]
    rpc: RpcSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    pub(crate) crypto: CryptoSection,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    mempool: MempoolSection,
}

/// `[mempool]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct MempoolSection {
    min_relay_fee_rate: Option<u64>,
    dust_threshold: Option<u64>,
}

/// `[tls]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    check_interval: Option<u64>,
    warn_days: Option<u32>,
    allow_earlier_expiry: Option<bool>,
}

/// `[node]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    dev: Option<bool>,
    network: Option<String>,
    datadir: Option<PathBuf>,
    block_interval: Option<f64>,
    mine: Option<bool>,
    mine_threads: Option<usize>,
    verify_threads: Option<usize>,
    sync_writes: Option<bool>,
    self_spend: Option<usize>,
}

/// `[p2p]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct P2pSection {
    enabled: Option<bool>,
    listen: Option<String>,
    connect: Option<Vec<String>>,
    addnode: Option<Vec<String>>,
    plaintext: Option<bool>,
    max_outbound: Option<usize>,
    max_inbound: Option<usize>,
    max_inbound_per_host: Option<usize>,
    connect_verified: Option<Vec<String>>,
}

/// `[rpc]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RpcSection {
    listen: Option<String>,
    user: Option<String>,
    password: Option<String>,
}

/// `[metrics]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    listen: Option<String>,
}

/// `[crypto]` of the configuration file.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CryptoSection {
    /// `crypto.aes = "auto" | "software"`.
    pub(crate) aes: Option<String>,
}

/// A configuration file as loaded: its settings and where it was read from.
#[derive(Debug, Default)]
pub(crate) struct LoadedConfig {
    /// The file's path; `None` when no file was given.
    pub(crate) path: Option<PathBuf>,
    /// Its settings (all unset without a file).
    pub(crate) file: ConfigFile,
}

impl LoadedConfig {
    /// Parses `text` as the file at `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<LoadedConfig> {
        let file = toml::from_str(text)
            .with_context(|| format!("configuration file {}", path.display()))?;
        Ok(LoadedConfig {
            path: Some(path.to_path_buf()),
            file,
        })
    }

    /// Reads and parses the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<LoadedConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading configuration file {}", path.display()))?;
        Self::parse(path, &text)
    }

    fn file_name(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the configuration file".into())
    }
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Flag(&'static str),
    Env(&'static str),
    File(&'static str, String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File(key, file) => write!(f, "{key} in {file}"),
        }
    }
}

/// Looks up an environment variable (injected, so tests need not touch the real one).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real process environment (non-UTF-8 values count as unset).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Names of one setting on each tier.
struct Names {
    flag: &'static str,
    env: &'static str,
    key: &'static str,
}

/// Resolves one setting's raw value from the first tier that gives it.
struct Resolver<'a> {
    env: EnvLookup<'a>,
    file_name: String,
}

impl Resolver<'_> {
    /// The raw value and its source: `flag`, else the variable (parsed by `parse_env`), else
    /// `file`; `None` when no tier gives it.
    fn raw<R>(
        &self,
        names: &Names,
        flag: Option<R>,
        parse_env: impl Fn(&str) -> Result<R, String>,
        file: Option<R>,
    ) -> Result<Option<(R, Source)>> {
        if let Some(v) = flag {
            return Ok(Some((v, Source::Flag(names.flag))));
        }
        if let Some(text) = (self.env)(names.env).filter(|t| !t.is_empty()) {
            let v = parse_env(&text).map_err(|reason| {
                anyhow!("environment variable {}={text:?}: {reason}", names.env)
            })?;
            return Ok(Some((v, Source::Env(names.env))));
        }
        Ok(file.map(|v| (v, Source::File(names.key, self.file_name.clone()))))
    }

    /// A value that needs no further check, or `default`.
    fn plain<R: std::str::FromStr>(
        &self,
        names: &Names,
        flag: Option<R>,
        file: Option<R>,
        default: R,
    ) -> Result<R>
    where
        R::Err: fmt::Display,
    {
        Ok(self
            .raw(names, flag, parse_from_str, file)?
            .map_or(default, |(v, _)| v))
    }

    /// A boolean: a present flag means `flag_means`; variables take clap's boolish values,
    /// negated when `env_negated` (`PARTHENON_NO_MINE=1` means `mine = false`).
    fn boolean(
        &self,
        names: &Names,
        flag: bool,
        flag_means: bool,
        env_negated: bool,
        file: Option<bool>,
        default: bool,
    ) -> Result<bool> {
        let parse = |s: &str| boolish(s).map(|b| b != env_negated);
        Ok(self
            .raw(names, flag.then_some(flag_means), parse, file)?
            .map_or(default, |(v, _)| v))
    }

    /// A `HOST:PORT` address, resolved now; `None` when no tier gives it.
    fn address(
        &self,
        names: &Names,
        flag: Option<&String>,
        file: Option<&String>,
    ) -> Result<Option<SocketAddr>> {
        let Some((text, source)) =
            self.raw(names, flag.cloned(), |s| Ok(s.to_owned()), file.cloned())?
        else {
            return Ok(None);
        };
        socket_addr(&text)
            .map(Some)
            .map_err(|reason| anyhow!("{source} = {text:?}: {reason}"))
    }

    /// A list of peer specs (`HOST:PORT` or `HOST:PORT#SHA256FINGERPRINT`).
    fn peers(
        &self,
        names: &Names,
        flag: &[String],
        file: Option<&Vec<String>>,
    ) -> Result<Vec<PeerSpec>> {
        let flag = (!flag.is_empty()).then(|| flag.to_vec());
        let split = |s: &str| -> Result<Vec<String>, String> {
            Ok(s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect())
        };
        let Some((list, source)) = self.raw(names, flag, split, file.cloned())? else {
            return Ok(Vec::new());
        };
        list.iter()
            .map(|text| {
                parse_peer_spec(text).map_err(|e| anyhow!("{source}: bad peer {text:?}: {e}"))
            })
            .collect()
    }
}

fn parse_from_str<R: std::str::FromStr>(s: &str) -> Result<R, String>
where
    R::Err: fmt::Display,
{
    s.trim().parse().map_err(|e: R::Err| e.to_string())
}

/// clap's boolish values: `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`, `y`/`n`, `t`/`f`.
fn boolish(s: &str) -> Result<bool, String> {
    clap::builder::BoolishValueParser::new()
        .parse_ref(
            &clap::Command::new("parthenon"),
            None,
            std::ffi::OsStr::new(s.trim()),
        )
        .map_err(|_| "expected a boolean (1/0, true/false, yes/no, on/off)".to_string())
}

/// Resolves a `HOST:PORT` text to one socket address.
fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| "the host has no address".to_string()),
        Err(e) => Err(format!("expected HOST:PORT ({e})")),
    }
}

/// The configuration file to read: `--config`, else `PARTHENON_CONFIG`, else none.
pub(crate) fn config_path(args: &NodeArgs, env: EnvLookup<'_>) -> Option<PathBuf> {
    args.config.clone().or_else(|| {
        env("PARTHENON_CONFIG")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    })
}

/// The node's network: `--dev` (or `PARTHENON_DEV`, `node.dev`) means the dev network;
/// otherwise `--network` > `PARTHENON_NETWORK` > `node.network`; `None` when nothing says.
pub(crate) fn network(
    args: &NodeArgs,
    env: EnvLookup<'_>,
    file: &LoadedConfig,
) -> Result<Option<Network>> {
    let r = Resolver {
        env,
        file_name: file.file_name(),
    };
    let f = &file.file;
    let dev = r.boolean(
        &Names {
            flag: "--dev",
            env: "PARTHENON_DEV",
            key: "node.dev",
        },
        args.dev,
        true,
        false,
        f.node.dev,
        false,
    )?;
    if dev {
        return Ok(Some(Network::Dev));
    }
    let parse = |s: &str| -> Result<Network, String> {
        Network::ALL
            .into_iter()
            .find(|n| n.name() == s.trim())
            .ok_or_else(|| format!("unknown network {s:?}: expected dev, test or main"))
    };
    let given = r.raw(
        &Names {
            flag: "--network",
            env: "PARTHENON_NETWORK",
            key: "node.network",
        },
        args.network.clone(),
        |s| Ok(s.to_string()),
        f.node.network.clone(),
    )?;
    match given {
        None => Ok(None),
        Some((text, source)) => parse(&text)
            .map(Some)
            .map_err(|reason| anyhow!("{source} = {text:?}: {reason}")),
    }
}

/// `crypto.aes`: the flag wins over the configuration file, which wins over the default.
/// (`PARTHENON_AES=software` is read by the crypto crate and forces software regardless.)
pub(crate) fn aes_mode(flag: Option<AesMode>, file: &ConfigFile) -> Result<AesMode> {
    if let Some(m) = flag {
        return Ok(m);
    }
    match &file.crypto.aes {
        Some(v) => v
            .parse()
            .with_context(|| format!("crypto.aes = {v:?} in the configuration file")),
        None => Ok(AesMode::Auto),
    }
}

/// A resolved `parthenon node` configuration.
#[derive(Debug)]
pub(crate) struct NodeSettings {
    /// Everything the dev node takes.
    pub(crate) config: DevNodeConfig,
}

/// Resolves every `parthenon node` setting for `params`' network: flag > environment (read
/// through `env`) > `file` > default. `aes_flag` is the global `--aes` flag.
pub(crate) fn resolve(
    args: &NodeArgs,
    env: EnvLookup<'_>,
    file: &LoadedConfig,
    aes_flag: Option<AesMode>,
    params: &'static ChainParams,
) -> Result<NodeSettings> {
    let r = Resolver {
        env,
        file_name: file.file_name(),
    };
    let f = &file.file;
    macro_rules! names {
        ($flag:literal, $env:literal, $key:literal) => {
            &Names {
                flag: $flag,
                env: $env,
                key: $key,
            }
        };
    }

    let datadir = r
        .raw(
            names!("--datadir", "PARTHENON_DATADIR", "node.datadir"),
            args.datadir.clone(),
            |s| Ok(PathBuf::from(s)),
            f.node.datadir.clone(),
        )?
        .map_or_else(|| DataDir::default_for(params), |(p, _)| DataDir::new(p));
    let block_interval = match r.raw(
        names!(
            "--block-interval",
            "PARTHENON_BLOCK_INTERVAL",
            "node.block_interval"
        ),
        args.block_interval,
        parse_from_str,
        f.node.block_interval,
    )? {
        None => DEFAULT_BLOCK_INTERVAL,
        Some((v, _)) if v > 0.0 && v.is_finite() && v < 1e9 => v,
        Some((v, source)) => bail!("{source} = {v}: must be a positive number of seconds"),
    };
    let mine = r.boolean(
        names!("--no-mine", "PARTHENON_NO_MINE", "node.mine"),
        args.no_mine,
        false,
        true,
        f.node.mine,
        true,
    )?;
    let mine_threads = r.plain(
        names!(
            "--mine-threads",
            "PARTHENON_MINE_THREADS",
            "node.mine_threads"
        ),
        args.mine_threads,
        f.node.mine_threads,
        DEFAULT_MINE_THREADS,
    )?;
    let verify_threads = r
        .raw(
            names!(
                "--verify-threads",
                "PARTHENON_VERIFY_THREADS",
                "node.verify_threads"
            ),
            args.verify_threads,
            parse_from_str,
            f.node.verify_threads,
        )?
        .map_or_else(crate::cores, |(v, _)| v);
    let sync_writes = r.boolean(
        names!("--sync-writes", "PARTHENON_SYNC_WRITES", "node.sync_writes"),
        args.sync_writes,
        true,
        false,
        f.node.sync_writes,
        false,
    )?;
    let self_spend = r.plain(
        names!("--self-spend", "PARTHENON_SELF_SPEND", "node.self_spend"),
        args.self_spend,
        f.node.self_spend,
        0,
    )?;

    let mempool_policy = MempoolPolicy {
        min_fee_rate: r.plain(
            names!(
                "--min-relay-fee-rate",
                "PARTHENON_MIN_RELAY_FEE_RATE",
                "mempool.min_relay_fee_rate"
            ),
            args.min_relay_fee_rate,
            f.mempool.min_relay_fee_rate,
            MempoolPolicy::default().min_fee_rate,
        )?,
        dust_threshold: r.plain(
            names!(
                "--dust-threshold",
                "PARTHENON_DUST_THRESHOLD",
                "mempool.dust_threshold"
            ),
            args.dust_threshold,
            f.mempool.dust_threshold,
            MempoolPolicy::default().dust_threshold,
        )?,
    };

    let rpc_listen = r
        .address(
            names!("--rpc-listen", "PARTHENON_RPC_LISTEN", "rpc.listen"),
            args.rpc_listen.as_ref(),
            f.rpc.listen.as_ref(),
        )?
        .unwrap_or_else(|| RpcConfig::default_listen(params));
    let mut rpc = RpcConfig::new(rpc_listen);
    rpc.user_password = match (&f.rpc.user, &f.rpc.password) {
        (Some(user), Some(password)) => {
            if user.is_empty() || user.contains(':') {
                bail!(
                    "rpc.user = {user:?} in {}: must be non-empty and contain no ':'",
                    r.file_name
                );
            }
            if password.is_empty() {
                bail!("rpc.password in {} must not be empty", r.file_name);
            }
            Some(Credentials {
                user: user.clone(),
                password: password.clone(),
            })
        }
        (None, None) => None,
        _ => bail!(
            "{} sets only one of rpc.user and rpc.password: set both, or neither",
            r.file_name
        ),
    };
    let metrics_listen = r.address(
        names!("--metrics", "PARTHENON_METRICS", "metrics.listen"),
        args.metrics.as_ref(),
        f.metrics.listen.as_ref(),
    )?;

    let p2p = P2pSettings {
        enabled: r.boolean(
            names!("--no-p2p", "PARTHENON_NO_P2P", "p2p.enabled"),
            args.no_p2p,
            false,
            true,
            f.p2p.enabled,
            true,
        )?,
        listen: Some(
            r.address(
                names!("--p2p-listen", "PARTHENON_P2P_LISTEN", "p2p.listen"),
                args.p2p_listen.as_ref(),
                f.p2p.listen.as_ref(),
            )?
            .unwrap_or_else(|| P2pSettings::default_listen(params)),
        ),
        connect: r.peers(
            names!("--connect", "PARTHENON_CONNECT", "p2p.connect"),
            &args.connect,
            f.p2p.connect.as_ref(),
        )?,
        addnode: r.peers(
            names!("--addnode", "PARTHENON_ADDNODE", "p2p.addnode"),
            &args.addnode,
            f.p2p.addnode.as_ref(),
        )?,
        plaintext: r.boolean(
            names!(
                "--p2p-plaintext",
                "PARTHENON_P2P_PLAINTEXT",
                "p2p.plaintext"
            ),
            args.p2p_plaintext,
            true,
            false,
            f.p2p.plaintext,
            false,
        )?,
        max_outbound: r.plain(
            names!(
                "--max-outbound",
                "PARTHENON_MAX_OUTBOUND",
                "p2p.max_outbound"
            ),
            args.max_outbound,
            f.p2p.max_outbound,
            DEFAULT_MAX_OUTBOUND,
        )?,
        max_inbound: r.plain(
            names!("--max-inbound", "PARTHENON_MAX_INBOUND", "p2p.max_inbound"),
            args.max_inbound,
            f.p2p.max_inbound,
            DEFAULT_MAX_INBOUND,
        )?,
        max_inbound_per_host: r.plain(
            names!(
                "--max-inbound-per-host",
                "PARTHENON_MAX_INBOUND_PER_HOST",
                "p2p.max_inbound_per_host"
            ),
            args.max_inbound_per_host,
            f.p2p.max_inbound_per_host,
            parthenon_net::p2p::DEFAULT_MAX_INBOUND_PER_HOST,
        )?,
        connect_verified: r.peers(
            names!(
                "--connect-verified",
                "PARTHENON_CONNECT_VERIFIED",
                "p2p.connect_verified"
            ),
            &args.connect_verified,
            f.p2p.connect_verified.as_ref(),
        )?,
        tls: TlsSettings {
            cert_file: r
                .raw(
                    names!(
                        "--tls-cert-file",
                        "PARTHENON_TLS_CERT_FILE",
                        "tls.cert_file"
                    ),
                    args.tls_cert_file.clone(),
                    |s| Ok(PathBuf::from(s)),
                    f.tls.cert_file.clone(),
                )?
                .map(|(p, _)| p),
            key_file: r
                .raw(
                    names!("--tls-key-file", "PARTHENON_TLS_KEY_FILE", "tls.key_file"),
                    args.tls_key_file.clone(),
                    |s| Ok(PathBuf::from(s)),
                    f.tls.key_file.clone(),
                )?
                .map(|(p, _)| p),
            cert_dir: r
                .raw(
                    names!("--tls-cert-dir", "PARTHENON_TLS_CERT_DIR", "tls.cert_dir"),
                    args.tls_cert_dir.clone(),
                    |s| Ok(PathBuf::from(s)),
                    f.tls.cert_dir.clone(),
                )?
                .map(|(p, _)| p),
            check_interval: Duration::from_secs(
                match r.raw(
                    names!(
                        "--tls-check-interval",
                        "PARTHENON_TLS_CHECK_INTERVAL",
                        "tls.check_interval"
                    ),
                    args.tls_check_interval,
                    parse_from_str,
                    f.tls.check_interval,
                )? {
                    None => TlsSettings::default().check_interval.as_secs(),
                    Some((v, _)) if v > 0 => v,
                    Some((v, source)) => bail!("{source} = {v}: must be at least 1 second"),
                },
            ),
            warn_days: r.plain(
                names!(
                    "--tls-warn-days",
                    "PARTHENON_TLS_WARN_DAYS",
                    "tls.warn_days"
                ),
                args.tls_warn_days,
                f.tls.warn_days,
                TlsSettings::default().warn_days,
            )?,
            allow_earlier_expiry: r.boolean(
                names!(
                    "--tls-allow-earlier-expiry",
                    "PARTHENON_TLS_ALLOW_EARLIER_EXPIRY",
                    "tls.allow_earlier_expiry"
                ),
                args.tls_allow_earlier_expiry,
                true,
                false,
                f.tls.allow_earlier_expiry,
                false,
            )?,
        },
    };

    Ok(NodeSettings {
        config: DevNodeConfig {
            network: params.network,
            datadir,
            block_interval: Duration::from_secs_f64(block_interval),
            mine,
            mine_threads: mine_threads.max(1),
            verify_threads,
            durability: if sync_writes {
                Durability::PowerLoss
            } else {
                Durability::Process
            },
            self_spend_per_block: self_spend,
            rpc,
            metrics_listen,
            aes: aes_mode(aes_flag, f)?,
            p2p,
            mempool_policy,
        },
    })
}

/// A warning when `file` holds an RPC password yet other users may read it.
pub(crate) fn password_exposure_warning(file: &LoadedConfig) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    file.file.rpc.password.as_ref()?;
    let path = file.path.as_deref()?;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{} holds rpc.password but is world-readable (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use parthenon_primitives::Network;
    use std::collections::HashMap;

    #[derive(Parser)]
    struct TestCli {
        #[command(flatten)]
        node: NodeArgs,
    }

    fn args(argv: &[&str]) -> NodeArgs {
        let mut full = vec!["parthenon"];
        full.extend_from_slice(argv);
        TestCli::try_parse_from(full).unwrap().node
    }

    fn file(text: &str) -> LoadedConfig {
        LoadedConfig::parse(Path::new("/etc/parthenon.toml"), text).unwrap()
    }

    fn resolve_with(argv: &[&str], env: &[(&str, &str)], text: &str) -> Result<NodeSettings> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.get(name).cloned();
        resolve(
            &args(argv),
            &lookup,
            &file(text),
            None,
            Network::Dev.params(),
        )
    }

    fn config(argv: &[&str], env: &[(&str, &str)], text: &str) -> DevNodeConfig {
        resolve_with(argv, env, text).unwrap().config
    }

    fn error(argv: &[&str], env: &[(&str, &str)], text: &str) -> String {
        format!("{:#}", resolve_with(argv, env, text).unwrap_err())
    }

    fn network_with(argv: &[&str], env: &[(&str, &str)], text: &str) -> Result<Option<Network>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.get(name).cloned();
        network(&args(argv), &lookup, &file(text))
    }

    #[test]
    fn network_is_dev_flag_then_network_flag_env_file() {
        assert_eq!(network_with(&[], &[], "").unwrap(), None);
        assert_eq!(
            network_with(&["--dev"], &[("PARTHENON_NETWORK", "main")], "").unwrap(),
            Some(Network::Dev)
        );
        assert_eq!(
            network_with(
                &["--network", "test"],
                &[("PARTHENON_NETWORK", "main")],
                "[node]\nnetwork = \"dev\"\n"
            )
            .unwrap(),
            Some(Network::Test)
        );
        assert_eq!(
            network_with(
                &[],
                &[("PARTHENON_NETWORK", "main")],
                "[node]\nnetwork = \"dev\"\n"
            )
            .unwrap(),
            Some(Network::Main)
        );
        assert_eq!(
            network_with(&[], &[], "[node]\nnetwork = \"test\"\n").unwrap(),
            Some(Network::Test)
        );
        let e = format!(
            "{:#}",
            network_with(&[], &[("PARTHENON_NETWORK", "moon")], "").unwrap_err()
        );
        assert!(e.contains("PARTHENON_NETWORK") && e.contains("moon"), "{e}");
    }

    #[test]
    fn no_configuration_at_all_gives_the_defaults() {
        let c = config(&["--dev"], &[], "");
        let params = Network::Dev.params();
        assert_eq!(c.block_interval, Duration::from_secs(2));
        assert!(c.mine);
        assert_eq!(c.mine_threads, 1);
        assert_eq!(c.durability, Durability::Process);
        assert_eq!(c.self_spend_per_block, 0);
        assert_eq!(c.mempool_policy, MempoolPolicy::default());
        assert_eq!(c.rpc.listen, RpcConfig::default_listen(params));
        assert!(c.rpc.user_password.is_none());
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.aes, AesMode::Auto);
        assert_eq!(c.p2p, P2pSettings::defaults(params));
        assert_eq!(c.datadir.root(), DataDir::default_for(params).root());
    }

    #[test]
    fn scalar_precedence_is_flag_env_file_default() {
        let f = "[node]\nblock_interval = 7\n";
        let env = [("PARTHENON_BLOCK_INTERVAL", "0.5")];
        let flag = ["--block-interval", "0.25"];
        assert_eq!(
            config(&flag, &env, f).block_interval,
            Duration::from_millis(250)
        );
        assert_eq!(
            config(&[], &env, f).block_interval,
            Duration::from_millis(500)
        );
        assert_eq!(config(&[], &[], f).block_interval, Duration::from_secs(7));
        assert_eq!(config(&[], &[], "").block_interval, Duration::from_secs(2));

        let f = "[p2p]\nmax_inbound = 3\nlisten = \"127.0.0.1:4000\"\n";
        let env = [
            ("PARTHENON_MAX_INBOUND", "5"),
            ("PARTHENON_P2P_LISTEN", "127.0.0.1:5000"),
        ];
        let c = config(&["--max-inbound", "9"], &env, f);
        assert_eq!(c.p2p.max_inbound, 9);
        assert_eq!(c.p2p.listen, Some("127.0.0.1:5000".parse().unwrap()));
        let c = config(&[], &[], f);
        assert_eq!(c.p2p.max_inbound, 3);
        assert_eq!(c.p2p.listen, Some("127.0.0.1:4000".parse().unwrap()));
        // The empty string counts as unset.
        let c = config(&[], &[("PARTHENON_MAX_INBOUND", "")], f);
        assert_eq!(c.p2p.max_inbound, 3);
        assert_eq!(c.p2p.max_inbound_per_host, 4);
        let f = "[p2p]\nmax_inbound_per_host = 6\n";
        assert_eq!(config(&[], &[], f).p2p.max_inbound_per_host, 6);
        let c = config(&["--max-inbound-per-host", "2"], &[], f);
        assert_eq!(c.p2p.max_inbound_per_host, 2);
    }

    #[test]
    fn mempool_policy_precedence_is_flag_env_file_default() {
        let f = "[mempool]\nmin_relay_fee_rate = 3\ndust_threshold = 1000\n";
        let env = [
            ("PARTHENON_MIN_RELAY_FEE_RATE", "2"),
            ("PARTHENON_DUST_THRESHOLD", "700"),
        ];
        let c = config(
            &["--min-relay-fee-rate", "0", "--dust-threshold", "0"],
            &env,
            f,
        );
        assert_eq!(
            c.mempool_policy,
            MempoolPolicy {
                min_fee_rate: 0,
                dust_threshold: 0
            }
        );
        let c = config(&[], &env, f);
        assert_eq!(
            (
                c.mempool_policy.min_fee_rate,
                c.mempool_policy.dust_threshold
            ),
            (2, 700)
        );
        let c = config(&[], &[], f);
        assert_eq!(
            (
                c.mempool_policy.min_fee_rate,
                c.mempool_policy.dust_threshold
            ),
            (3, 1000)
        );
        let e = error(&[], &[("PARTHENON_DUST_THRESHOLD", "-1")], "");
        assert!(e.contains("PARTHENON_DUST_THRESHOLD"), "{e}");
    }

    #[test]
    fn bool_precedence_is_flag_env_file_default() {
        // `mine`: --no-mine / PARTHENON_NO_MINE (negated) / node.mine / true.
        let off = "[node]\nmine = false\n";
        let on = "[node]\nmine = true\n";
        assert!(!config(&["--no-mine"], &[("PARTHENON_NO_MINE", "0")], on).mine);
        assert!(config(&[], &[("PARTHENON_NO_MINE", "false")], off).mine);
        assert!(!config(&[], &[("PARTHENON_NO_MINE", "1")], on).mine);
        assert!(!config(&[], &[("PARTHENON_NO_MINE", "yes")], on).mine);
        assert!(!config(&[], &[], off).mine);
        assert!(config(&[], &[], "").mine);

        // `p2p.plaintext`: --p2p-plaintext / PARTHENON_P2P_PLAINTEXT / p2p.plaintext / false.
        let f = "[p2p]\nplaintext = true\n";
        assert!(
            config(
                &["--p2p-plaintext"],
                &[("PARTHENON_P2P_PLAINTEXT", "off")],
                ""
            )
            .p2p
            .plaintext
        );
        assert!(
            !config(&[], &[("PARTHENON_P2P_PLAINTEXT", "off")], f)
                .p2p
                .plaintext
        );
        assert!(config(&[], &[], f).p2p.plaintext);
        assert!(!config(&[], &[], "").p2p.plaintext);

        // `--sync-writes` and `--no-p2p`.
        let c = config(&[], &[("PARTHENON_SYNC_WRITES", "true")], "");
        assert_eq!(c.durability, Durability::PowerLoss);
        assert!(
            !config(&["--no-p2p"], &[], "[p2p]\nenabled = true\n")
                .p2p
                .enabled
        );
        assert!(!config(&[], &[("PARTHENON_NO_P2P", "1")], "").p2p.enabled);
        assert!(!config(&[], &[], "[p2p]\nenabled = false\n").p2p.enabled);
        assert!(config(&[], &[], "").p2p.enabled);
    }

    #[test]
    fn list_precedence_is_flag_env_file_default() {
        let f = "[p2p]\naddnode = [\"10.0.0.1:1000\"]\nconnect = [\"10.0.0.9:9\"]\n";
        let env = [("PARTHENON_ADDNODE", "10.0.0.2:2000, 10.0.0.3:3000")];
        let flag = ["--addnode", "10.0.0.4:4000", "--addnode", "10.0.0.5:5000"];
        let ports = |c: DevNodeConfig| c.p2p.addnode.iter().map(|p| p.port).collect::<Vec<_>>();
        assert_eq!(ports(config(&flag, &env, f)), [4000, 5000]);
        assert_eq!(ports(config(&[], &env, f)), [2000, 3000]);
        assert_eq!(ports(config(&[], &[], f)), [1000]);
        assert_eq!(ports(config(&[], &[], "")), Vec::<u16>::new());

        let c = config(&["--connect", "127.0.0.1:7000"], &[], f);
        assert_eq!(c.p2p.connect, vec![PeerSpec::new("127.0.0.1", 7000)]);
        let c = config(&[], &[("PARTHENON_CONNECT", "127.0.0.1:7001")], f);
        assert_eq!(c.p2p.connect, vec![PeerSpec::new("127.0.0.1", 7001)]);
        let c = config(&[], &[], f);
        assert_eq!(c.p2p.connect, vec![PeerSpec::new("10.0.0.9", 9)]);
    }

    #[test]
    fn bad_values_name_their_source_and_value() {
        let e = error(&["--connect", "nope"], &[], "");
        assert!(e.contains("--connect") && e.contains("\"nope\""), "{e}");
        let e = error(&[], &[("PARTHENON_ADDNODE", "1.2.3.4:1,bad:port")], "");
        assert!(
            e.contains("PARTHENON_ADDNODE") && e.contains("bad:port"),
            "{e}"
        );
        let e = error(&[], &[], "[p2p]\naddnode = [\"1.2.3.4\"]\n");
        assert!(
            e.contains("p2p.addnode in /etc/parthenon.toml") && e.contains("1.2.3.4"),
            "{e}"
        );

        let e = error(&[], &[("PARTHENON_BLOCK_INTERVAL", "soon")], "");
        assert!(
            e.contains("PARTHENON_BLOCK_INTERVAL") && e.contains("soon"),
            "{e}"
        );
        let e = error(&["--block-interval", "0"], &[], "");
        assert!(e.contains("--block-interval"), "{e}");
        let e = error(&[], &[], "[node]\nblock_interval = -1\n");
        assert!(
            e.contains("node.block_interval in /etc/parthenon.toml"),
            "{e}"
        );

        let e = error(&[], &[("PARTHENON_NO_MINE", "maybe")], "");
        assert!(
            e.contains("PARTHENON_NO_MINE") && e.contains("maybe"),
            "{e}"
        );
        let e = error(&[], &[("PARTHENON_RPC_LISTEN", "localhost")], "");
        assert!(
            e.contains("PARTHENON_RPC_LISTEN") && e.contains("localhost"),
            "{e}"
        );
        let e = error(&[], &[], "[metrics]\nlisten = \"nowhere\"\n");
        assert!(e.contains("metrics.listen") && e.contains("nowhere"), "{e}");
        let e = error(&[], &[("PARTHENON_MAX_OUTBOUND", "-2")], "");
        assert!(
            e.contains("PARTHENON_MAX_OUTBOUND") && e.contains("-2"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_sections_are_rejected() {
        let p = Path::new("x.toml");
        let e = LoadedConfig::parse(p, "[node]\nblock_intervall = 2\n").unwrap_err();
        assert!(format!("{e:#}").contains("block_intervall"), "{e:#}");
        assert!(LoadedConfig::parse(p, "[p2pp]\nlisten = \"127.0.0.1:1\"\n").is_err());
        assert!(LoadedConfig::parse(p, "datadir = \"x\"\n").is_err());
        assert!(LoadedConfig::parse(p, "[node]\nmine = \"yes\"\n").is_err());
    }

    #[test]
    fn rpc_credentials_come_from_the_file_in_pairs() {
        let c = config(&[], &[], "[rpc]\nuser = \"alice\"\npassword = \"s3cret\"\n");
        let creds = c.rpc.user_password.unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.as_str()),
            ("alice", "s3cret")
        );
        let e = error(&[], &[], "[rpc]\nuser = \"alice\"\n");
        assert!(e.contains("rpc.user") && e.contains("rpc.password"), "{e}");
        assert!(resolve_with(&[], &[], "[rpc]\nuser = \"a:b\"\npassword = \"x\"\n").is_err());
    }

    #[test]
    fn world_readable_password_file_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "[rpc]\nuser = \"a\"\npassword = \"b\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = LoadedConfig::load(&path).unwrap();
        let w = password_exposure_warning(&loaded).expect("a warning");
        assert!(w.contains("world-readable") && w.contains("644"), "{w}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(password_exposure_warning(&loaded), None);

        std::fs::write(&path, "[node]\nmine = false\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            password_exposure_warning(&LoadedConfig::load(&path).unwrap()),
            None
        );
    }

    #[test]
    fn node_env_vars_lists_every_variable_read() {
        let asked = std::cell::RefCell::new(Vec::<String>::new());
        let lookup = |name: &str| {
            asked.borrow_mut().push(name.to_owned());
            None
        };
        let a = args(&[]);
        config_path(&a, &lookup);
        network(&a, &lookup, &file("")).unwrap();
        resolve(&a, &lookup, &file(""), None, Network::Dev.params()).unwrap();
        let asked = asked.into_inner();
        let mut distinct = asked.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), NODE_ENV_VARS.len(), "{asked:?}");
        for name in &asked {
            assert!(NODE_ENV_VARS.contains(&name.as_str()), "{name} missing");
        }
    }

    #[test]
    fn config_path_is_flag_then_env() {
        let env = |n: &str| (n == "PARTHENON_CONFIG").then(|| "/env.toml".to_string());
        let none = |_: &str| None;
        assert_eq!(
            config_path(&args(&["--config", "/flag.toml"]), &env),
            Some(PathBuf::from("/flag.toml"))
        );
        assert_eq!(
            config_path(&args(&[]), &env),
            Some(PathBuf::from("/env.toml"))
        );
        assert_eq!(config_path(&args(&[]), &none), None);
    }

    #[test]
    fn crypto_aes_precedence_is_flag_then_file_then_auto() {
        let file: ConfigFile = toml::from_str("[crypto]\naes = \"software\"\n").unwrap();
        assert_eq!(aes_mode(None, &file).unwrap(), AesMode::Software);
        assert_eq!(aes_mode(Some(AesMode::Auto), &file).unwrap(), AesMode::Auto);
        assert_eq!(
            aes_mode(None, &ConfigFile::default()).unwrap(),
            AesMode::Auto
        );
        let bad: ConfigFile = toml::from_str("[crypto]\naes = \"fast\"\n").unwrap();
        assert!(aes_mode(None, &bad).is_err());
        assert!(toml::from_str::<ConfigFile>("[crypt]\naes = \"auto\"\n").is_err());
    }
}
