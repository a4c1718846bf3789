//! `parthenon devnet`: a local multi-node dev network, as real processes.
//!
//! Starts N `parthenon node --dev` children (this same executable) on loopback, each with its
//! own data directory `<dir>/nodeN` and its own P2P and JSON-RPC ports. `node0` mines every
//! `--block-interval`; the others run with `--no-mine` and `--addnode` every earlier node.
//! Peers talk TLS 1.3 unless `--p2p-plaintext` is given.
//!
//! Logs: every child's stdout and stderr lines are copied to this process's stderr, each
//! prefixed with the node's name (`[node1] …`); the table of nodes goes to stdout. Children
//! run in their own process group (so a terminal's Ctrl-C reaches only `devnet`, which then
//! stops them in order) and, on Linux, get SIGTERM if `devnet` itself dies.
//!
//! On SIGINT or SIGTERM every child gets SIGTERM and is waited for (killed after
//! `--stop-timeout`); `devnet` exits 0 when all stopped cleanly. If a child exits on its own,
//! `devnet` names it and its exit status, stops the rest and exits 1.

use crate::settings::{DEFAULT_BLOCK_INTERVAL, NODE_ENV_VARS};
use anyhow::{bail, Context, Result};
use clap::Args;
use parthenon_crypto::AesMode;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `parthenon devnet` flags.
#[derive(Args, Debug)]
pub(crate) struct DevnetArgs {
    /// How many nodes to run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    nodes: u16,
    /// Folder holding each node's data directory (`<dir>/node0`, `<dir>/node1`, …).
    #[arg(long, value_name = "DIR", default_value = "./parthenon-data/devnet")]
    dir: PathBuf,
    /// Seconds between the blocks node0 mines (fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_BLOCK_INTERVAL)]
    block_interval: f64,
    /// Plain TCP between the nodes instead of TLS 1.3.
    #[arg(long)]
    p2p_plaintext: bool,
    /// Fixed ports: nodeN takes BASE+2N for P2P and BASE+2N+1 for RPC (default: free ports
    /// the OS picks).
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Seconds to wait for the nodes to stop after SIGTERM before killing them.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    stop_timeout: f64,
}

/// One node of the devnet, before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodePlan {
    name: String,
    datadir: PathBuf,
    p2p: SocketAddr,
    rpc: SocketAddr,
}

impl NodePlan {
    fn rpc_url(&self) -> String {
        format!("http://{}/", self.rpc)
    }
}

/// `n` free loopback ports, all distinct: each is bound (to port 0) until all are chosen,
/// then released for the nodes to take.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .context("choosing free loopback ports")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Names, data directories and addresses of `nodes` nodes under `dir`.
fn plan(nodes: u16, dir: &Path, base_port: Option<u16>) -> Result<Vec<NodePlan>> {
    let n = usize::from(nodes);
    let ports = match base_port {
        Some(base) => {
            let last = u32::from(base) + 2 * n as u32 - 1;
            if base == 0 || last > u32::from(u16::MAX) {
                bail!("--base-port {base}: {n} nodes need ports {base}..={last}, past 65535 or from 0");
            }
            (0..2 * n as u16).map(|i| base + i).collect()
        }
        None => free_ports(2 * n)?,
    };
    Ok((0..n)
        .map(|i| NodePlan {
            name: format!("node{i}"),
            datadir: dir.join(format!("node{i}")),
            p2p: SocketAddr::from((Ipv4Addr::LOCALHOST, ports[2 * i])),
            rpc: SocketAddr::from((Ipv4Addr::LOCALHOST, ports[2 * i + 1])),
        })
        .collect())
}

/// The `parthenon` arguments that start node `i` of `plan`.
fn node_args(
    plan: &[NodePlan],
    i: usize,
    block_interval: f64,
    plaintext: bool,
    aes: Option<AesMode>,
) -> Vec<OsString> {
    let node = &plan[i];
    let mut args: Vec<OsString> = Vec::new();
    if let Some(aes) = aes {
        args.extend(["--aes".into(), aes.as_str().into()]);
    }
    args.extend(["node".into(), "--dev".into(), "--datadir".into()]);
    args.push(node.datadir.clone().into());
    args.extend([
        "--p2p-listen".into(),
        node.p2p.to_string().into(),
        "--rpc-listen".into(),
        node.rpc.to_string().into(),
        "--block-interval".into(),
        block_interval.to_string().into(),
    ]);
    if i > 0 {
        args.push("--no-mine".into());
    }
    for earlier in &plan[..i] {
        args.extend(["--addnode".into(), earlier.p2p.to_string().into()]);
    }
    if plaintext {
        args.push("--p2p-plaintext".into());
    }
    args
}

/// A running child node.
struct NodeChild {
    name: String,
    process: Child,
    /// Set once the child has been reaped.
    status: Option<ExitStatus>,
    log_copiers: Vec<JoinHandle<()>>,
}

/// Copies `stream`'s lines to stderr, each prefixed with `[name] `.
fn copy_log(name: String, stream: impl Read + Send + 'static) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let mut err = std::io::stderr().lock();
                    let _ = writeln!(err, "[{name}] {}", text.trim_end_matches(['\n', '\r']));
                }
            }
        }
    })
}

fn spawn(exe: &Path, name: &str, args: Vec<OsString>) -> Result<NodeChild> {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // The operator's node settings (PARTHENON_CONNECT, PARTHENON_CONFIG, …) are not the
    // devnet's: only the flags above configure its nodes. PARTHENON_LOG and PARTHENON_AES pass.
    for var in NODE_ENV_VARS {
        cmd.env_remove(var);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and the closure touches no shared state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut process = cmd
        .spawn()
        .with_context(|| format!("starting {name} ({})", exe.display()))?;
    let mut log_copiers = Vec::new();
    if let Some(out) = process.stdout.take() {
        log_copiers.push(copy_log(name.to_owned(), out));
    }
    if let Some(err) = process.stderr.take() {
        log_copiers.push(copy_log(name.to_owned(), err));
    }
    Ok(NodeChild {
        name: name.to_owned(),
        process,
        status: None,
        log_copiers,
    })
}

/// The table of nodes and a command to try, as printed on stdout.
fn table(dir: &Path, plan: &[NodePlan], block_interval: f64, plaintext: bool) -> String {
    let mut out = format!(
        "devnet: {} node(s) under {}; node0 mines every {block_interval} s, the others do not \
         mine; P2P over {}\n",
        plan.len(),
        dir.display(),
        if plaintext { "plain TCP" } else { "TLS 1.3" },
    );
    let width = plan
        .iter()
        .map(|p| p.datadir.display().to_string().len())
        .max()
        .unwrap_or(0)
        .max("DATADIR".len());
    out += &format!("{:<6} {:<width$} {:<21} RPC\n", "NAME", "DATADIR", "P2P");
    for p in plan {
        out += &format!(
            "{:<6} {:<width$} {:<21} {}\n",
            p.name,
            p.datadir.display(),
            p.p2p.to_string(),
            p.rpc_url()
        );
    }
    if let Some(first) = plan.first() {
        out += &format!(
            "try: parthenon rpc --datadir {} --rpc-url {} getblockchaininfo\n",
            first.datadir.display(),
            first.rpc_url()
        );
    }
    out += "logs: on stderr, each line prefixed [nodeN]; Ctrl-C stops every node\n";
    out
}

/// Why the devnet is stopping.
enum Stop {
    Signal(&'static str),
    ChildExited(usize),
}

/// Waits for SIGINT, SIGTERM or a child's exit.
fn watch(rt: &tokio::runtime::Runtime, children: &mut [NodeChild]) -> Result<Stop> {
    use tokio::signal::unix::{signal, SignalKind};
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(Stop::Signal("SIGTERM")),
                _ = int.recv() => return Ok(Stop::Signal("SIGINT")),
                _ = tick.tick() => {
                    for (i, c) in children.iter_mut().enumerate() {
                        if let Some(status) = c.process.try_wait()? {
                            c.status = Some(status);
                            return Ok(Stop::ChildExited(i));
                        }
                    }
                }
            }
        }
    })
}

/// Sends SIGTERM to every child still running, waits up to `timeout` for all, kills the rest;
/// returns whether every child exited with status 0.
fn stop_all(children: &mut [NodeChild], timeout: Duration) -> bool {
    for c in children.iter_mut() {
        if c.status.is_none() {
            match c.process.try_wait() {
                Ok(Some(status)) => c.status = Some(status),
                // Not reaped yet, so the pid is still this child's.
                _ => unsafe {
                    libc::kill(c.process.id() as libc::pid_t, libc::SIGTERM);
                },
            }
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let mut running = 0;
        for c in children.iter_mut().filter(|c| c.status.is_none()) {
            match c.process.try_wait() {
                Ok(Some(status)) => c.status = Some(status),
                _ => running += 1,
            }
        }
        if running == 0 {
            break;
        }
        if Instant::now() >= deadline {
            for c in children.iter_mut().filter(|c| c.status.is_none()) {
                eprintln!(
                    "devnet: {} did not stop within {timeout:?}; killing it",
                    c.name
                );
                let _ = c.process.kill();
                c.status = c.process.wait().ok();
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut clean = true;
    for c in children.iter_mut() {
        for copier in c.log_copiers.drain(..) {
            let _ = copier.join();
        }
        match c.status {
            Some(s) if s.success() => eprintln!("devnet: {} stopped ({s})", c.name),
            Some(s) => {
                clean = false;
                eprintln!("devnet: {} stopped with {s}", c.name);
            }
            None => {
                clean = false;
                eprintln!("devnet: {} could not be waited for", c.name);
            }
        }
    }
    clean
}

/// Runs `parthenon devnet` until SIGINT/SIGTERM or a node's unexpected exit. `aes` is the
/// global `--aes` flag, passed on to the nodes.
pub(crate) fn run(args: DevnetArgs, aes: Option<AesMode>) -> Result<ExitCode> {
    if !(args.block_interval > 0.0 && args.block_interval.is_finite()) {
        bail!("--block-interval must be a positive number of seconds");
    }
    if !(args.stop_timeout >= 0.0 && args.stop_timeout.is_finite()) {
        bail!("--stop-timeout must be a non-negative number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.stop_timeout);
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let plan = plan(args.nodes, &args.dir, args.base_port)?;
    let exe = std::env::current_exe().context("finding the parthenon executable")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let mut children = Vec::with_capacity(plan.len());
    for (i, node) in plan.iter().enumerate() {
        let argv = node_args(&plan, i, args.block_interval, args.p2p_plaintext, aes);
        match spawn(&exe, &node.name, argv) {
            Ok(child) => children.push(child),
            Err(e) => {
                stop_all(&mut children, timeout);
                return Err(e);
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    let printed = stdout
        .write_all(table(&args.dir, &plan, args.block_interval, args.p2p_plaintext).as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);

    let stop = match printed {
        Ok(()) => watch(&rt, &mut children),
        Err(e) => Err(anyhow::Error::from(e).context("printing the devnet table")),
    };
    match stop {
        Ok(Stop::Signal(sig)) => {
            eprintln!("devnet: {sig}: stopping {} node(s)", children.len());
            if stop_all(&mut children, timeout) {
                eprintln!("devnet: all nodes stopped cleanly");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("devnet: not every node stopped cleanly");
                Ok(ExitCode::FAILURE)
            }
        }
        Ok(Stop::ChildExited(i)) => {
            let c = &children[i];
            let status = c
                .status
                .map_or_else(|| "unknown status".into(), |s| s.to_string());
            eprintln!(
                "devnet: {} exited unexpectedly ({status}); stopping the others",
                c.name
            );
            stop_all(&mut children, timeout);
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            stop_all(&mut children, timeout);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn plan_gives_each_node_its_own_dir_and_distinct_ports() {
        let p = plan(3, Path::new("/d"), None).unwrap();
        assert_eq!(p.len(), 3);
        let mut ports: Vec<u16> = p
            .iter()
            .flat_map(|n| [n.p2p.port(), n.rpc.port()])
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 6);
        assert_eq!(p[2].name, "node2");
        assert_eq!(p[2].datadir, Path::new("/d/node2"));
        assert!(p
            .iter()
            .all(|n| n.p2p.ip().is_loopback() && n.rpc.ip().is_loopback()));

        let p = plan(2, Path::new("/d"), Some(40000)).unwrap();
        assert_eq!(p[1].p2p.port(), 40002);
        assert_eq!(p[1].rpc.port(), 40003);
        assert!(plan(2, Path::new("/d"), Some(65534)).is_err());
    }

    #[test]
    fn node0_mines_and_later_nodes_add_every_earlier_one() {
        let p = plan(3, Path::new("/d"), Some(41000)).unwrap();
        let a0 = strings(node_args(&p, 0, 0.5, false, None));
        assert_eq!(
            a0,
            [
                "node",
                "--dev",
                "--datadir",
                "/d/node0",
                "--p2p-listen",
                "127.0.0.1:41000",
                "--rpc-listen",
                "127.0.0.1:41001",
                "--block-interval",
                "0.5"
            ]
        );
        let a2 = strings(node_args(&p, 2, 2.0, true, Some(AesMode::Software)));
        assert_eq!(&a2[..2], ["--aes", "software"]);
        assert!(a2.contains(&"--no-mine".to_string()));
        assert!(a2.ends_with(&[
            "--addnode".into(),
            "127.0.0.1:41000".into(),
            "--addnode".into(),
            "127.0.0.1:41002".into(),
            "--p2p-plaintext".into(),
        ]));
    }

    #[test]
    fn table_lists_every_node_and_an_rpc_example() {
        let p = plan(2, Path::new("/d"), Some(42000)).unwrap();
        let t = table(Path::new("/d"), &p, 2.0, false);
        assert!(t.contains("TLS 1.3"), "{t}");
        let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("node")).collect();
        assert_eq!(rows.len(), 2, "{t}");
        assert_eq!(
            rows[1].split_whitespace().collect::<Vec<_>>(),
            [
                "node1",
                "/d/node1",
                "127.0.0.1:42002",
                "http://127.0.0.1:42003/"
            ]
        );
        assert!(t.contains(
            "try: parthenon rpc --datadir /d/node0 --rpc-url http://127.0.0.1:42001/ getblockchaininfo"
        ));
    }
}
