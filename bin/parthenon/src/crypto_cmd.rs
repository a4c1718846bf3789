//! `parthenon crypto …` and `parthenon bench crypto`.

use anyhow::{bail, Context, Result};
use parthenon_crypto::aead::{bench_seal, openssl_speed_gbps};
use parthenon_crypto::batch::{bench as batch_bench, BatchItem, BatchVerifier, CpuBatchVerifier};
use parthenon_crypto::{active_backend, AeadBackend, AesMode};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn hex32(s: &str, what: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut out)
        .with_context(|| format!("{what} must be 64 hex digits (32 bytes)"))?;
    Ok(out)
}

fn hex64(s: &str, what: &str) -> Result<[u8; 64]> {
    let mut out = [0u8; 64];
    hex::decode_to_slice(s.trim(), &mut out)
        .with_context(|| format!("{what} must be 128 hex digits (64 bytes)"))?;
    Ok(out)
}

/// Parses one `pubkey_hex,message_hex,signature_hex` line.
pub(crate) fn parse_batch_line(line: &str) -> Result<BatchItem> {
    let mut parts = line.split(',');
    let (Some(pk), Some(msg), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("expected pubkey_hex,message_hex,signature_hex");
    };
    Ok(BatchItem {
        pubkey: hex32(pk, "pubkey")?,
        msg: hex32(msg, "message")?,
        sig: hex64(sig, "signature")?,
    })
}

/// `parthenon crypto verify-batch FILE`: one `INDEX,true|false` line per input line, in
/// input order, then a summary. Malformed lines are reported invalid, and named on stderr.
pub(crate) fn verify_batch_file(path: &Path, threads: usize) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut items = Vec::with_capacity(lines.len());
    let mut malformed = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        match parse_batch_line(l) {
            Ok(item) => items.push((i, item)),
            Err(e) => {
                eprintln!("line {}: {e:#}", i + 1);
                malformed.push(i);
            }
        }
    }
    let verifier = CpuBatchVerifier::new(threads)?;
    let batch: Vec<BatchItem> = items.iter().map(|(_, it)| *it).collect();
    let started = Instant::now();
    let result = verifier.verify_batch(&batch);
    let elapsed = started.elapsed();
    let mut valid = vec![false; lines.len()];
    for ((i, _), ok) in items.iter().zip(result.as_slice()) {
        valid[*i] = *ok;
    }
    let mut out = String::with_capacity(lines.len() * 8);
    for (i, v) in valid.iter().enumerate() {
        out.push_str(&format!("{i},{v}\n"));
    }
    let n_valid = valid.iter().filter(|v| **v).count();
    out.push_str(&format!(
        "# {} signatures: {} valid, {} invalid ({} malformed); batch verified on {} thread(s) in {:.3} ms\n",
        lines.len(),
        n_valid,
        lines.len() - n_valid,
        malformed.len(),
        verifier.threads(),
        elapsed.as_secs_f64() * 1000.0
    ));
    print!("{out}");
    Ok(if n_valid == lines.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `parthenon crypto verify --pubkey --msg --sig`: exit 0 when valid, 1 otherwise.
pub(crate) fn verify_one(pubkey: &str, msg: &str, sig: &str) -> Result<ExitCode> {
    let pk = hex32(pubkey, "pubkey")?;
    let m = hex32(msg, "message")?;
    let s = hex64(sig, "signature")?;
    match parthenon_crypto::verify(&pk, &m, &s) {
        Ok(()) => {
            println!("true");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("false ({e})");
            Ok(ExitCode::from(1))
        }
    }
}

/// Parses a 32-byte message in hex.
pub(crate) fn parse_msg(msg: &str) -> Result<[u8; 32]> {
    hex32(msg, "message")
}

/// `parthenon bench crypto [--json]`.
pub(crate) fn bench(json_out: bool, quick: bool, mode: AesMode) -> Result<ExitCode> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let dur = if quick {
        Duration::from_millis(150)
    } else {
        Duration::from_secs(1)
    };
    let selection = active_backend(mode)?;
    let hardware = selection.backend == AeadBackend::Hardware;
    if !json_out {
        eprintln!("{selection}");
        eprintln!("measuring AES-256-GCM…");
    }
    let gbps_16k = bench_seal(mode, 16 * 1024, dur)?;
    let gbps_1m = bench_seal(mode, 1024 * 1024, dur)?;
    let soft_16k = bench_seal(AesMode::Software, 16 * 1024, dur)?;
    let soft_1m = bench_seal(AesMode::Software, 1024 * 1024, dur)?;
    let openssl_16k = if quick {
        None
    } else {
        openssl_speed_gbps(16 * 1024)
    };
    if !json_out {
        eprintln!("measuring BIP-340 verification…");
    }
    let sizes: &[usize] = if quick {
        &[64, 256]
    } else {
        &[64, 256, 1024, 4096]
    };
    let report = batch_bench(sizes, threads)?;
    let single_1t = report
        .rows
        .iter()
        .map(|r| r.single_one_thread)
        .fold(0.0, f64::max);
    let single_all = report
        .rows
        .iter()
        .map(|r| r.single_all_threads)
        .fold(0.0, f64::max);
    if json_out {
        let batch: Vec<_> = report
            .rows
            .iter()
            .map(|r| json!({"size": r.size, "per_s_1t": r.batch_one_thread, "per_s_all": r.batch_all_threads}))
            .collect();
        let out = json!({
            "aes_gcm": {
                "backend": selection.to_string(),
                "hardware": hardware,
                "gbps_16k": gbps_16k,
                "gbps_1m": gbps_1m,
                "software_gbps_16k": soft_16k,
                "software_gbps_1m": soft_1m,
                "openssl_gbps_16k": openssl_16k,
            },
            "schnorr": {
                "threads": threads,
                "libsecp_single_1t": single_1t,
                "libsecp_single_all": single_all,
                "batch": batch,
            }
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{selection}");
    println!(
        "{:<40} {:>10} {:>10}",
        "AES-256-GCM seal (1 thread)", "16 KiB", "1 MiB"
    );
    println!(
        "{:<40} {:>8.2} GB/s {:>6.2} GB/s",
        "active path", gbps_16k, gbps_1m
    );
    println!(
        "{:<40} {:>8.2} GB/s {:>6.2} GB/s",
        "software path (forced)", soft_16k, soft_1m
    );
    match openssl_16k {
        Some(o) => println!(
            "{:<40} {:>8.2} GB/s   (active path = {:.2}x openssl)",
            "openssl speed -evp aes-256-gcm",
            o,
            gbps_16k / o
        ),
        None => println!("{:<40} {:>10}", "openssl speed -evp aes-256-gcm", "n/a"),
    }
    println!();
    println!("BIP-340 verification, signatures/s (libsecp256k1 single vs our batch verifier)");
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}
