//! `parthenon`: the ParthenonChain full node and its tools.

mod cert_cmd;
mod chaos_cmd;
mod crypto_cmd;
mod devnet;
mod passphrase;
mod settings;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use parthenon_chain::{replay, ChainstateConfig, Workers};
use parthenon_crypto::{AesMode, KdfParams};
use parthenon_node::bench_chain::{self, BenchChainConfig};
use parthenon_node::control::{self, ControlError};
use parthenon_node::datadir::{DataDir, DataDirError};
use parthenon_node::dev_node;
use parthenon_node::info::{chain_info, coin_json};
use parthenon_node::rpc::client::{parse_cli_arg, RpcClient, RpcClientError};
use parthenon_node::rpc::{self, RpcConfig};
use parthenon_node::wallet::{parse_address, Balance, Wallet, WalletCoin};
use parthenon_primitives::amount::Amount;
use parthenon_primitives::{serialize, Asset, ChainParams, Network, OutPoint};
use parthenon_storage::Durability;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "parthenon", version, about = "ParthenonChain full node")]
struct Cli {
    /// AES-256-GCM path (the `crypto.aes` setting): auto (hardware when the CPU has AES-NI and
    /// PCLMULQDQ) or software (constant-time). PARTHENON_AES=software also forces software.
    #[arg(long, global = true)]
    aes: Option<AesMode>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (today: the single-node dev network, `--dev`).
    Node(Box<settings::NodeArgs>),
    /// Run a local multi-node dev network: N `node --dev` processes on loopback.
    Devnet(devnet::DevnetArgs),
    /// Inspect or check a chainstate.
    #[command(subcommand)]
    Chain(ChainCommand),
    /// The dev wallet: one key in <datadir>/wallet.key.
    #[command(subcommand)]
    Wallet(WalletCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Call a JSON-RPC method of the running node (authenticates with <datadir>/.cookie).
    Rpc(RpcArgs),
    /// BIP-340 signatures: sign, verify one, verify a file as a batch.
    #[command(subcommand)]
    Crypto(CryptoCommand),
    /// TLS certificates: generate a self-signed pair, show one, check its expiry.
    #[command(subcommand)]
    Cert(cert_cmd::CertCommand),
    /// Chaos suite: seeded whole-network simulations with injected faults (docs/chaos.md).
    Chaos(chaos_cmd::ChaosArgs),
}

#[derive(Subcommand)]
enum CryptoCommand {
    /// Sign a 32-byte message (hex) with the wallet's key; prints the public key and signature.
    Sign {
        #[command(flatten)]
        dd: DataDirArgs,
        /// The message, 64 hex digits.
        #[arg(long)]
        msg: String,
        #[command(flatten)]
        pass: PassphraseArgs,
    },
    /// Verify one signature; prints true/false, exits 0 when valid and 1 otherwise.
    Verify {
        /// x-only public key, 64 hex digits.
        #[arg(long)]
        pubkey: String,
        /// Message, 64 hex digits.
        #[arg(long)]
        msg: String,
        /// Signature, 128 hex digits.
        #[arg(long)]
        sig: String,
    },
    /// Verify lines `pubkey_hex,message_hex,signature_hex` as one batch; prints `INDEX,true|false`
    /// per line in input order and a summary (exit 1 if any is invalid).
    VerifyBatch {
        /// The input file.
        file: PathBuf,
        /// Threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// Where a wallet passphrase comes from (never the command line itself).
#[derive(Args, Clone)]
struct PassphraseArgs {
    /// Read the passphrase from the first line of FILE (else $PARTHENON_WALLET_PASSPHRASE,
    /// else a prompt on the terminal).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// `parthenon rpc METHOD [ARGS…]`.
#[derive(Args)]
struct RpcArgs {
    #[command(flatten)]
    dd: DataDirArgs,
    /// The node's JSON-RPC URL (default http://127.0.0.1:<network RPC port>/, 27332 on dev).
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// The method, e.g. getblockchaininfo, getblockhash, getblock, gettxout, generate.
    method: String,
    /// Positional parameters: each is taken as JSON when it parses (numbers, booleans,
    /// objects), as a string otherwise.
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Args, Clone)]
struct DataDirArgs {
    /// Data directory (default ./parthenon-data/<network>).
    #[arg(long, env = "PARTHENON_DATADIR")]
    datadir: Option<PathBuf>,
    /// Network of the data directory.
    #[arg(long, default_value = "dev")]
    network: Network,
}

impl DataDirArgs {
    fn params(&self) -> &'static ChainParams {
        self.network.params()
    }
    fn datadir(&self) -> DataDir {
        match &self.datadir {
            Some(p) => DataDir::new(p),
            None => DataDir::default_for(self.params()),
        }
    }
}

#[derive(Subcommand)]
enum ChainCommand {
    /// Print a JSON summary: network, height, best hash, chain work, UTXO count, supply.
    Info(DataDirArgs),
    /// Replay the active chain from the block files and compare with the stored coins.
    Verify(DataDirArgs),
    /// Print one unspent coin by its outpoint `u<txid>:<vout>` (exit 1 if it is not unspent).
    Coin {
        /// The outpoint in canonical text form.
        outpoint: String,
        #[command(flatten)]
        dd: DataDirArgs,
    },
    /// Print the hash of the active block at a height.
    BlockHash {
        #[command(flatten)]
        dd: DataDirArgs,
        /// The height.
        #[arg(long)]
        height: u32,
    },
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Create a new key file.
    New(DataDirArgs),
    /// Print the wallet's address.
    Address(DataDirArgs),
    /// Print spendable and pending balances per asset.
    Balance(DataDirArgs),
    /// Send coins through the running node (or, with --no-broadcast, only sign and print).
    Send(SendArgs),
    /// Encrypt the key file with a passphrase (Argon2id + AES-256-GCM).
    Encrypt {
        #[command(flatten)]
        dd: DataDirArgs,
        #[command(flatten)]
        pass: PassphraseArgs,
    },
    /// Store the key in the clear again.
    Decrypt {
        #[command(flatten)]
        dd: DataDirArgs,
        #[command(flatten)]
        pass: PassphraseArgs,
    },
    /// Re-encrypt the key file under a new passphrase.
    ChangePassphrase {
        #[command(flatten)]
        dd: DataDirArgs,
        #[command(flatten)]
        pass: PassphraseArgs,
        /// Read the new passphrase from FILE (else $PARTHENON_WALLET_NEW_PASSPHRASE, else a prompt).
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
    },
}

#[derive(Args)]
struct SendArgs {
    #[command(flatten)]
    dd: DataDirArgs,
    /// Recipient address (64 hex digits).
    #[arg(long)]
    to: String,
    /// Amount in coins (up to 8 decimals).
    #[arg(long)]
    amount: String,
    /// Asset: TALANTON, DRACHMA or OBOLOS.
    #[arg(long, default_value = "TALANTON")]
    asset: String,
    /// Fee in coins of the same asset.
    #[arg(long, default_value = "0.0001")]
    fee: String,
    /// Sign only: print the transaction's hex, txid and wtxid and submit it nowhere (no
    /// mempool, no peer). Coins come from the running node, else from the stopped node's
    /// chainstate (which knows nothing of mempool spends).
    #[arg(long)]
    no_broadcast: bool,
    #[command(flatten)]
    pass: PassphraseArgs,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Connect a generated chain on the on-disk store (signatures on and off).
    Chain(BenchChainArgs),
    /// Sync a generated chain with transactions from one P2P engine into an empty one over
    /// loopback, TLS 1.3 and plaintext TCP, against a local import of the same blocks.
    Sync(BenchSyncArgs),
    /// AES-256-GCM throughput and BIP-340 verification rates, with baselines from the same run.
    Crypto {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Shorter runs and fewer sizes (a smoke test, not for figures).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Args)]
struct BenchSyncArgs {
    /// Blocks with transactions (after 102 coinbase and fan-out blocks).
    #[arg(long, default_value_t = parthenon_node::bench_sync::DEFAULT_BLOCKS)]
    blocks: usize,
    /// Signed one-input-two-output transactions per block.
    #[arg(long, default_value_t = parthenon_node::bench_sync::DEFAULT_TXS_PER_BLOCK)]
    txs_per_block: usize,
    /// Signature-check threads of the syncing node (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The syncing node skips signature checks (isolates transport and storage).
    #[arg(long)]
    skip_signatures: bool,
    /// Rounds of the runs (rotating their order); figures are the median round.
    #[arg(long, default_value_t = parthenon_node::bench_sync::DEFAULT_ROUNDS)]
    rounds: usize,
    /// Directory for the temporary stores (default: system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct BenchChainArgs {
    /// Timed blocks.
    #[arg(long, default_value_t = 200)]
    blocks: usize,
    /// Transactions (one input, two outputs) per block.
    #[arg(long, default_value_t = 2000)]
    txs: usize,
    /// Signature-check threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Directory for the temporary stores (default: system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARTHENON_LOG")
                // The storage engine's recovery chatter is not news to an operator.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,fjall=warn,lsm_tree=warn")
                }),
        )
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The `--aes` flag, set once at start (the binary's edge; libraries take the mode as an
/// argument).
static AES_FLAG: std::sync::OnceLock<Option<AesMode>> = std::sync::OnceLock::new();

/// The `--aes` flag, if given.
fn cli_flag_aes() -> Option<AesMode> {
    AES_FLAG.get().copied().flatten()
}

/// The AES mode for commands without a configuration file: the flag, else auto.
fn cli_aes() -> AesMode {
    cli_flag_aes().unwrap_or_default()
}

fn run(cli: Cli) -> Result<ExitCode> {
    let _ = AES_FLAG.set(cli.aes);
    match cli.command {
        Command::Crypto(c) => crypto(c),
        Command::Cert(c) => cert_cmd::run(c),
        Command::Chaos(a) => chaos_cmd::run(a),
        Command::Bench(BenchCommand::Crypto { json, quick }) => {
            crypto_cmd::bench(json, quick, cli_aes())
        }
        Command::Node(a) => node(*a),
        Command::Devnet(a) => devnet::run(a, cli_flag_aes()),
        Command::Chain(ChainCommand::Info(dd)) => {
            let info = query_or_open(&dd, "chain_info", |chain| Ok(chain_info(chain)))?;
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Chain(ChainCommand::Verify(dd)) => {
            let chain = open_existing(&dd)?;
            let report = replay::verify_chainstate(&chain)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.is_consistent() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Chain(ChainCommand::Coin { outpoint, dd }) => {
            let op = OutPoint::parse_key_text(&outpoint)
                .with_context(|| format!("invalid outpoint {outpoint:?}"))?;
            let params = json!({ "outpoint": op.to_key_text() });
            let coin = match control::call(&dd.datadir().control_socket(), "get_coin", params) {
                Ok(v) => v,
                Err(ControlError::NotRunning(_)) => {
                    let chain = open_existing(&dd)?;
                    chain
                        .coin(&op)?
                        .map(|c| coin_json(&op, &c))
                        .unwrap_or(Value::Null)
                }
                Err(e) => return Err(e.into()),
            };
            if coin.is_null() {
                eprintln!("{op} is not an unspent coin");
                return Ok(ExitCode::FAILURE);
            }
            println!("{}", serde_json::to_string_pretty(&coin)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Chain(ChainCommand::BlockHash { dd, height }) => {
            let chain = open_existing(&dd)?;
            match chain.hash_at(height) {
                Some(h) => println!("{h}"),
                None => bail!(
                    "no active block at height {height} (tip is {})",
                    chain.height()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Wallet(w) => wallet(w),
        Command::Bench(BenchCommand::Chain(a)) => bench(a),
        Command::Bench(BenchCommand::Sync(a)) => bench_sync(a),
        Command::Rpc(a) => rpc_call(a),
    }
}

fn rpc_call(a: RpcArgs) -> Result<ExitCode> {
    let cookie = rpc::cookie_path(&a.dd.datadir());
    let credentials = rpc::Credentials::from_cookie_file(&cookie)
        .context("no readable RPC cookie: is the node running with this --datadir?")?;
    let url = a
        .rpc_url
        .unwrap_or_else(|| format!("http://{}/", RpcConfig::default_listen(a.dd.params())));
    let client = RpcClient::new(url.parse()?, Some(credentials));
    let params = Value::Array(a.args.iter().map(|s| parse_cli_arg(s)).collect());
    match client.call_blocking(&a.method, params) {
        Ok(result) => {
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(RpcClientError::Remote { code, message }) => {
            let error = json!({ "code": code, "message": message });
            eprintln!("{}", serde_json::to_string_pretty(&error)?);
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

fn node(a: settings::NodeArgs) -> Result<ExitCode> {
    let env = settings::process_env;
    let file = match settings::config_path(&a, &env) {
        Some(p) => settings::LoadedConfig::load(&p)?,
        None => settings::LoadedConfig::default(),
    };
    if let Some(warning) = settings::password_exposure_warning(&file) {
        tracing::warn!("{warning}");
    }
    let network = settings::network(&a, &env, &file)?.ok_or_else(|| {
        anyhow::anyhow!(
            "choose a network: `parthenon node --dev` runs a local development network; \
             `--network test` or `--network main` syncs and relays (no mining there)"
        )
    })?;
    let resolved = settings::resolve(&a, &env, &file, cli_flag_aes(), network.params())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(dev_node::run(resolved.config))?;
    Ok(ExitCode::SUCCESS)
}

/// Opens an existing data directory's chainstate (never creates one).
fn open_existing(dd: &DataDirArgs) -> Result<parthenon_chain::Chainstate> {
    let datadir = dd.datadir();
    if !datadir.chainstate_dir().exists() {
        bail!(
            "no chain data in {} (run `parthenon node --dev` first, or pass --datadir)",
            datadir.root().display()
        );
    }
    Ok(datadir.open_chainstate(
        dd.params(),
        Workers::inline(),
        ChainstateConfig::default(),
        Durability::Process,
    )?)
}

/// Runs `method` on the running node, or `local` on the store if no node holds it.
fn query_or_open(
    dd: &DataDirArgs,
    method: &str,
    local: impl FnOnce(&parthenon_chain::Chainstate) -> Result<Value>,
) -> Result<Value> {
    let datadir = dd.datadir();
    match control::call(&datadir.control_socket(), method, Value::Null) {
        Ok(v) => return Ok(v),
        Err(ControlError::NotRunning(_)) => {}
        Err(e) => return Err(e.into()),
    }
    match open_existing(dd) {
        Ok(chain) => local(&chain),
        Err(e) => match e.downcast_ref::<DataDirError>() {
            // The node started between our two attempts: ask it.
            Some(DataDirError::InUse { .. }) => Ok(control::call(
                &datadir.control_socket(),
                method,
                Value::Null,
            )?),
            _ => Err(e),
        },
    }
}

fn wallet_coins(dd: &DataDirArgs, wallet: &Wallet) -> Result<Vec<WalletCoin>> {
    let datadir = dd.datadir();
    let params = json!({ "key": wallet.address() });
    match control::call(&datadir.control_socket(), "wallet_coins", params) {
        Ok(v) => return Ok(serde_json::from_value(v)?),
        Err(ControlError::NotRunning(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let chain = open_existing(dd)?;
    let key = wallet.public_key();
    let mut mine = Vec::new();
    chain.for_each_coin(&mut |op, c| {
        if c.output.key() == Some(key) {
            mine.push((op, c));
        }
        true
    })?;
    Ok(parthenon_node::wallet::wallet_coins(
        mine,
        key,
        chain.height(),
        chain.params().coinbase_maturity,
        |_| false,
    ))
}

fn wallet(cmd: WalletCommand) -> Result<ExitCode> {
    match cmd {
        WalletCommand::New(dd) => {
            let datadir = dd.datadir();
            datadir.create()?;
            let w = Wallet::create(&datadir.wallet_path(), dd.network)?;
            println!("{}", w.address());
        }
        WalletCommand::Address(dd) => {
            println!("{}", Wallet::load(&dd.datadir().wallet_path())?.address());
        }
        WalletCommand::Balance(dd) => {
            let w = Wallet::load(&dd.datadir().wallet_path())?;
            let coins = wallet_coins(&dd, &w)?;
            let b = Balance::of(&coins);
            let per_asset = |v: [u64; 3]| -> Value {
                Asset::ALL
                    .into_iter()
                    .map(|a| {
                        (
                            a.name().to_string(),
                            json!(Amount(v[a as usize]).to_coin_string()),
                        )
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            let out = json!({
                "address": w.address(),
                "spendable": per_asset(b.spendable),
                "pending": per_asset(b.pending),
                "coins": coins.len(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        WalletCommand::Encrypt { dd, pass } => {
            let path = dd.datadir().wallet_path();
            let mut w = Wallet::load(&path)?;
            if w.is_encrypted() {
                bail!(
                    "{} is already encrypted (use change-passphrase)",
                    path.display()
                );
            }
            let p = passphrase::read(
                pass.passphrase_file.as_deref(),
                passphrase::PASSPHRASE_ENV,
                "New wallet passphrase: ",
                true,
            )?;
            w.encrypt(&path, p.as_bytes(), KdfParams::default(), cli_aes())?;
            println!("encrypted {}", path.display());
        }
        WalletCommand::Decrypt { dd, pass } => {
            let path = dd.datadir().wallet_path();
            let mut w = Wallet::load(&path)?;
            if !w.is_encrypted() {
                bail!("{} is not encrypted", path.display());
            }
            unlock(&mut w, &pass)?;
            w.decrypt(&path)?;
            println!(
                "decrypted {} (the key is now stored in the clear)",
                path.display()
            );
        }
        WalletCommand::ChangePassphrase {
            dd,
            pass,
            new_passphrase_file,
        } => {
            let path = dd.datadir().wallet_path();
            let mut w = Wallet::load(&path)?;
            if !w.is_encrypted() {
                bail!("{} is not encrypted (use encrypt)", path.display());
            }
            unlock(&mut w, &pass)?;
            let new = passphrase::read(
                new_passphrase_file.as_deref(),
                passphrase::NEW_PASSPHRASE_ENV,
                "New wallet passphrase: ",
                true,
            )?;
            w.change_passphrase(&path, new.as_bytes(), KdfParams::default(), cli_aes())?;
            println!("changed the passphrase of {}", path.display());
        }
        WalletCommand::Send(s) => {
            let mut w = Wallet::load(&s.dd.datadir().wallet_path())?;
            unlock(&mut w, &s.pass)?;
            let asset = Asset::parse(&s.asset).with_context(|| {
                format!(
                    "unknown asset {:?}; use TALANTON, DRACHMA or OBOLOS",
                    s.asset
                )
            })?;
            let amount = Amount::from_coin_str(&s.amount)
                .with_context(|| format!("invalid amount {:?}", s.amount))?;
            let fee = Amount::from_coin_str(&s.fee)
                .with_context(|| format!("invalid fee {:?}", s.fee))?;
            let to = parse_address(&s.to)?;
            if s.no_broadcast {
                let coins = wallet_coins(&s.dd, &w)?;
                let tx = w.build_send(&coins, to, asset, amount.0, fee.0)?;
                let out = json!({
                    "txid": tx.txid().to_hex(),
                    "wtxid": tx.wtxid().to_hex(),
                    "hex": hex::encode(serialize(&tx)),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::SUCCESS);
            }
            let socket = s.dd.datadir().control_socket();
            let coins = match control::call(&socket, "wallet_coins", json!({ "key": w.address() }))
            {
                Ok(v) => serde_json::from_value::<Vec<WalletCoin>>(v)?,
                Err(ControlError::NotRunning(p)) => bail!(
                    "sending needs a running node to take the transaction (no node at {}); \
                     start `parthenon node --dev`",
                    p.display()
                ),
                Err(e) => return Err(e.into()),
            };
            let tx = w.build_send(&coins, to, asset, amount.0, fee.0)?;
            let res = control::call(
                &socket,
                "submit_tx",
                json!({ "hex": hex::encode(serialize(&tx)) }),
            )?;
            println!("{}", serde_json::to_string_pretty(&res)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_sync(a: BenchSyncArgs) -> Result<ExitCode> {
    use parthenon_node::bench_sync::{self, BenchSyncConfig};
    if a.blocks == 0 || a.txs_per_block == 0 || a.rounds == 0 {
        bail!("--blocks, --txs-per-block and --rounds must be at least 1");
    }
    let cfg = BenchSyncConfig {
        blocks: a.blocks,
        txs_per_block: a.txs_per_block,
        threads: a.threads.unwrap_or_else(cores),
        check_signatures: !a.skip_signatures,
        dir: a.dir,
        rounds: a.rounds,
    };
    let quiet = a.json;
    let report = bench_sync::run(&cfg, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", bench_sync::render_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(a: BenchChainArgs) -> Result<ExitCode> {
    if a.blocks == 0 || a.txs == 0 {
        bail!("--blocks and --txs must be at least 1");
    }
    let cfg = BenchChainConfig {
        blocks: a.blocks,
        txs_per_block: a.txs,
        threads: a.threads.unwrap_or_else(cores),
        dir: a.dir,
    };
    let quiet = a.json;
    let report = bench_chain::run(&cfg, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "bench chain: {} blocks x {} txs (1 input, 2 outputs), fjall on disk, {} signature threads",
        report.blocks, report.txs_per_block, report.threads
    );
    println!(
        "{:<28} {:>12} {:>14} {:>14}",
        "run", "seconds", "tx/s", "inputs/s"
    );
    for r in &report.runs {
        let label = if r.check_signatures {
            "signatures checked"
        } else {
            "signatures skipped"
        };
        println!(
            "{:<28} {:>12.2} {:>14.0} {:>14.0}",
            label, r.seconds, r.tx_per_s, r.inputs_per_s
        );
    }
    println!(
        "{:<28} {:>12} {:>14} {:>14.0}",
        "baseline: libsecp verify 1t", "", "", report.libsecp_single_verify_per_s_1t
    );
    if let Some(on) = report.runs.iter().find(|r| r.check_signatures) {
        println!(
            "signature-checked connect = {:.2}x single-thread verification rate",
            on.inputs_per_s / report.libsecp_single_verify_per_s_1t
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unlock(w: &mut Wallet, pass: &PassphraseArgs) -> Result<()> {
    if w.is_encrypted() && !w.is_unlocked() {
        let p = passphrase::read(
            pass.passphrase_file.as_deref(),
            passphrase::PASSPHRASE_ENV,
            "Wallet passphrase: ",
            false,
        )?;
        w.unlock(p.as_bytes(), cli_aes())?;
    }
    Ok(())
}

fn crypto(cmd: CryptoCommand) -> Result<ExitCode> {
    match cmd {
        CryptoCommand::Sign { dd, msg, pass } => {
            let msg = crypto_cmd::parse_msg(&msg)?;
            let mut w = Wallet::load(&dd.datadir().wallet_path())?;
            unlock(&mut w, &pass)?;
            let sig = w.sign_message(&msg)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "pubkey": w.address(),
                    "msg": hex::encode(msg),
                    "sig": hex::encode(sig),
                }))?
            );
            Ok(ExitCode::SUCCESS)
        }
        CryptoCommand::Verify { pubkey, msg, sig } => crypto_cmd::verify_one(&pubkey, &msg, &sig),
        CryptoCommand::VerifyBatch { file, threads } => {
            crypto_cmd::verify_batch_file(&file, threads.unwrap_or_else(cores))
        }
    }
}
