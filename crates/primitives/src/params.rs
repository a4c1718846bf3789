//! Chain parameters of the `main`, `test` and `dev` networks and their genesis blocks.
//!
//! Each network has its own magic bytes (so no message or block file of one network is taken
//! for another's), ports, proof-of-work limit and a genesis block built deterministically
//! from these parameters by [`ChainParams::genesis_block`]. The genesis coinbase creates no
//! spendable coins: the subsidy starts at height 1.

use crate::amount::Asset;
use crate::block::{merkle_root, Block, BlockHeader};
use crate::hash::Hash256;
use crate::outpoint::OutPoint;
use crate::transaction::{Transaction, TxIn, TxOut};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One of the chain's networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The production network.
    Main,
    /// The public test network.
    Test,
    /// A local development network: easiest target, no retargeting, blocks on demand.
    Dev,
}

impl Network {
    /// All networks.
    pub const ALL: [Network; 3] = [Network::Main, Network::Test, Network::Dev];

    /// The network's name as used in paths and output.
    pub fn name(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Test => "test",
            Network::Dev => "dev",
        }
    }

    /// This network's parameters.
    pub fn params(self) -> &'static ChainParams {
        match self {
            Network::Main => &MAIN,
            Network::Test => &TEST,
            Network::Dev => &DEV,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown network name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {0:?}; expected main, test or dev")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Network::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| UnknownNetwork(s.to_string()))
    }
}

/// Consensus and network parameters of one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    /// Which network.
    pub network: Network,
    /// Message and block-file magic bytes.
    pub magic: [u8; 4],
    /// Default P2P port.
    pub p2p_port: u16,
    /// Default JSON-RPC port.
    pub rpc_port: u16,
    /// The easiest target allowed, in compact form.
    pub pow_limit_bits: u32,
    /// Whether the target is recomputed every `retarget_interval` blocks (false on dev).
    pub retarget: bool,
    /// Blocks per retarget window.
    pub retarget_interval: u32,
    /// Intended seconds between blocks.
    pub target_spacing_secs: u32,
    /// Blocks a coinbase output must wait before it can be spent.
    pub coinbase_maturity: u32,
    /// Blocks between subsidy halvings.
    pub halving_interval: u32,
    /// How far in the future (seconds) a block's time may be.
    pub max_future_block_time_secs: u32,
    /// Genesis block time.
    pub genesis_time: u32,
    /// Genesis nonce (found once, so that the genesis header meets `pow_limit_bits`).
    pub genesis_nonce: u32,
    /// Text in the genesis coinbase.
    pub genesis_message: &'static str,
    /// Least cumulative work (see [`ChainParams::minimum_chain_work`]) a header chain must prove
    /// before a node stores its headers: below it, headers are only validated and counted
    /// (headers pre-sync). A floor against header spam from a chain no one worked on; the
    /// node also requires a fork to come within a day of blocks of its own tip's work.
    pub min_chain_work: u128,
}

/// Number of timestamps whose median a new block's time must exceed.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// How many seconds the first block of a retarget window may be dated before its parent, on
/// networks that retarget (BIP-94's time-warp bound).
pub const MAX_TIMEWARP_SECS: u32 = 600;

static MAIN: ChainParams = ChainParams {
    network: Network::Main,
    magic: [0xf1, 0xa7, 0x3e, 0x91],
    p2p_port: 7333,
    rpc_port: 7332,
    pow_limit_bits: 0x1e0f_ffff,
    retarget: true,
    retarget_interval: 2016,
    target_spacing_secs: 600,
    coinbase_maturity: 100,
    halving_interval: 210_000,
    max_future_block_time_secs: 2 * 60 * 60,
    genesis_time: 1_780_000_000,
    genesis_nonce: 1_229_615,
    genesis_message: "ParthenonChain main: every claim measured",
    // 2,016 blocks at the easiest target (one retarget window, about 2^31 hashes).
    min_chain_work: 0x7e00_07e0,
};

static TEST: ChainParams = ChainParams {
    network: Network::Test,
    magic: [0x0b, 0x7a, 0xe1, 0x52],
    p2p_port: 17333,
    rpc_port: 17332,
    pow_limit_bits: 0x1f00_ffff,
    retarget: true,
    retarget_interval: 2016,
    target_spacing_secs: 600,
    coinbase_maturity: 100,
    halving_interval: 210_000,
    max_future_block_time_secs: 2 * 60 * 60,
    genesis_time: 1_780_000_000,
    genesis_nonce: 25_516,
    genesis_message: "ParthenonChain test",
    // 144 blocks at the easiest target (a day of blocks, about 2^23 hashes).
    min_chain_work: 0x0090_0090,
};

static DEV: ChainParams = ChainParams {
    network: Network::Dev,
    magic: [0xde, 0x70, 0x1a, 0x5c],
    p2p_port: 27333,
    rpc_port: 27332,
    pow_limit_bits: 0x207f_ffff,
    retarget: false,
    retarget_interval: 2016,
    target_spacing_secs: 600,
    coinbase_maturity: 100,
    halving_interval: 210_000,
    max_future_block_time_secs: 2 * 60 * 60,
    genesis_time: 1_780_000_000,
    genesis_nonce: 0,
    genesis_message: "ParthenonChain dev",
    // None: a dev network starts from genesis with a single CPU miner, so its header
    // spam defence is the relative rule (within a day of blocks of the tip's work).
    min_chain_work: 0,
};

impl ChainParams {
    /// The `min_chain_work` field as chain work.
    pub fn minimum_chain_work(&self) -> crate::pow::ChainWork {
        crate::pow::ChainWork(crate::pow::U256::from(self.min_chain_work))
    }

    /// The genesis block, built from these parameters.
    pub fn genesis_block(&self) -> Block {
        self.genesis_with_nonce(self.genesis_nonce)
    }

    /// The hash of [`genesis_block`](Self::genesis_block): the network's identity, committed
    /// to by every signature hash (replay protection between networks). Computed on each call
    /// (a few SHA-256 compressions); callers on hot paths keep it.
    pub fn genesis_hash(&self) -> Hash256 {
        self.genesis_block().hash()
    }

    /// The genesis block with another nonce (used to find `genesis_nonce`).
    pub fn genesis_with_nonce(&self, nonce: u32) -> Block {
        let coinbase = Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::NULL,
                signature: self.genesis_message.as_bytes().to_vec(),
                sequence: u32::MAX,
            }],
            // One zero-value output to an all-zero key: the genesis block pays nothing.
            outputs: vec![TxOut::to_key(Asset::Talanton, 0, [0; 32])],
            lock_time: 0,
        };
        let header = BlockHeader {
            version: 1,
            prev_hash: Hash256::ZERO,
            merkle_root: merkle_root(vec![coinbase.wtxid()]),
            time: self.genesis_time,
            bits: self.pow_limit_bits,
            nonce,
        };
        Block {
            header,
            txs: vec![coinbase],
        }
    }

    /// The block subsidy of `asset` at `height`: the initial subsidy halved every
    /// `halving_interval` blocks; nothing at height 0 (genesis) or after 64 halvings.
    pub fn subsidy(&self, height: u32, asset: Asset) -> u64 {
        if height == 0 {
            return 0;
        }
        let halvings = height / self.halving_interval;
        if halvings >= 64 {
            return 0;
        }
        asset.initial_subsidy() >> halvings
    }

    /// Total subsidy of `asset` paid by heights `1..=height`.
    pub fn cumulative_subsidy(&self, height: u32, asset: Asset) -> u64 {
        let interval = self.halving_interval as u64;
        let mut total = 0u64;
        let mut start = 1u64;
        while start <= height as u64 {
            let era_end = ((start / interval) + 1) * interval - 1;
            let end = era_end.min(height as u64);
            total += (end - start + 1) * self.subsidy(start as u32, asset);
            start = end + 1;
        }
        total
    }

    /// Seconds a retarget window is meant to take.
    pub fn target_timespan_secs(&self) -> i64 {
        self.retarget_interval as i64 * self.target_spacing_secs as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::{check_proof_of_work, ChainWork, U256};

    #[test]
    fn minimum_chain_work_is_the_stated_number_of_easiest_blocks() {
        let blocks = |n: Network, count: u64| {
            let one = ChainWork::from_bits(n.params().pow_limit_bits).unwrap();
            ChainWork(one.0 * U256::from(count))
        };
        assert_eq!(
            Network::Main.params().minimum_chain_work(),
            blocks(Network::Main, 2016)
        );
        assert_eq!(
            Network::Test.params().minimum_chain_work(),
            blocks(Network::Test, 144)
        );
        assert_eq!(
            Network::Dev.params().minimum_chain_work(),
            ChainWork::default()
        );
    }

    #[test]
    fn every_genesis_meets_its_pow_limit() {
        for n in Network::ALL {
            let p = n.params();
            let g = p.genesis_block();
            assert_eq!(g.header.merkle_root, g.compute_merkle_root());
            check_proof_of_work(&g.hash(), g.header.bits, p.pow_limit_bits)
                .unwrap_or_else(|e| panic!("{n} genesis: {e}"));
        }
    }

    #[test]
    fn networks_are_distinct() {
        let [m, t, d] = Network::ALL.map(|n| n.params());
        assert!(m.magic != t.magic && t.magic != d.magic && m.magic != d.magic);
        assert!(m.p2p_port != t.p2p_port && t.p2p_port != d.p2p_port);
        let hashes = Network::ALL.map(|n| n.params().genesis_block().hash());
        assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2]);
        assert_eq!("dev".parse::<Network>(), Ok(Network::Dev));
        assert!("regtest".parse::<Network>().is_err());
    }

    #[test]
    fn subsidy_halves_and_cumulates() {
        let p = Network::Main.params();
        assert_eq!(p.subsidy(0, Asset::Talanton), 0);
        assert_eq!(p.subsidy(1, Asset::Talanton), 50 * crate::amount::COIN);
        assert_eq!(
            p.subsidy(210_000, Asset::Drachma),
            97 * crate::amount::COIN / 2
        );
        assert_eq!(
            p.cumulative_subsidy(3, Asset::Obolos),
            3 * 145 * crate::amount::COIN
        );
        let h = 420_005;
        let slow: u64 = (1..=h).map(|x| p.subsidy(x, Asset::Obolos)).sum();
        assert_eq!(p.cumulative_subsidy(h, Asset::Obolos), slow);
        for a in Asset::ALL {
            assert!(p.cumulative_subsidy(u32::MAX, a) <= a.max_money());
        }
    }

    /// Finds the genesis nonces; run with `--ignored --nocapture` after changing parameters.
    #[test]
    #[ignore]
    fn find_genesis_nonces() {
        for n in Network::ALL {
            let p = n.params();
            let nonce = (0..=u32::MAX)
                .find(|&nonce| {
                    let h = p.genesis_with_nonce(nonce).hash();
                    check_proof_of_work(&h, p.pow_limit_bits, p.pow_limit_bits).is_ok()
                })
                .expect("a nonce exists");
            println!("{n}: genesis_nonce = {nonce}");
        }
    }
}
