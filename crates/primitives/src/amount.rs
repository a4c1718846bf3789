//! Assets and amounts. Value is conserved per asset, and every sum is checked: an overflow is
//! a consensus failure, never a wrap.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Base units in one coin of any asset (amounts have 8 decimals).
pub const COIN: u64 = 100_000_000;

/// One of the chain's three native assets; the byte is part of every output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[repr(u8)]
pub enum Asset {
    /// TALANTON, asset id 0.
    Talanton = 0,
    /// DRACHMA, asset id 1.
    Drachma = 1,
    /// OBOLOS, asset id 2.
    Obolos = 2,
}

impl Asset {
    /// All assets in id order.
    pub const ALL: [Asset; 3] = [Asset::Talanton, Asset::Drachma, Asset::Obolos];

    /// The asset with this id, if any.
    pub fn from_id(id: u8) -> Option<Asset> {
        Asset::ALL.get(id as usize).copied()
    }

    /// The asset's id byte.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The asset's ticker.
    pub fn name(self) -> &'static str {
        match self {
            Asset::Talanton => "TALANTON",
            Asset::Drachma => "DRACHMA",
            Asset::Obolos => "OBOLOS",
        }
    }

    /// Parses a ticker case-insensitively (`talanton`, `DRACHMA`, …) or an id (`0`, `1`, `2`).
    pub fn parse(s: &str) -> Option<Asset> {
        let up = s.to_ascii_uppercase();
        Asset::ALL
            .into_iter()
            .find(|a| a.name() == up)
            .or_else(|| s.parse::<u8>().ok().and_then(Asset::from_id))
    }

    /// The most base units of this asset that can ever exist (21 M / 41 M / 61 M coins);
    /// no single output or sum may exceed it.
    pub fn max_money(self) -> u64 {
        match self {
            Asset::Talanton => 21_000_000 * COIN,
            Asset::Drachma => 41_000_000 * COIN,
            Asset::Obolos => 61_000_000 * COIN,
        }
    }

    /// The block subsidy at height 1, in base units (50 / 97 / 145 coins).
    pub fn initial_subsidy(self) -> u64 {
        match self {
            Asset::Talanton => 50 * COIN,
            Asset::Drachma => 97 * COIN,
            Asset::Obolos => 145 * COIN,
        }
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An amount of one asset in base units.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub struct Amount(pub u64);

impl Amount {
    /// Checked addition.
    pub fn checked_add(self, o: Amount) -> Option<Amount> {
        self.0.checked_add(o.0).map(Amount)
    }
    /// Checked subtraction.
    pub fn checked_sub(self, o: Amount) -> Option<Amount> {
        self.0.checked_sub(o.0).map(Amount)
    }
    /// Formats as a decimal coin value with 8 decimals.
    pub fn to_coin_string(self) -> String {
        format!("{}.{:08}", self.0 / COIN, self.0 % COIN)
    }
    /// Parses a decimal coin value with at most 8 decimals (`"1.5"` is 150,000,000 base units).
    pub fn from_coin_str(s: &str) -> Option<Amount> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() || frac.len() > 8 {
            return None;
        }
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let i: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let f: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<8}").parse().ok()?
        };
        i.checked_mul(COIN)?.checked_add(f).map(Amount)
    }
}

/// One amount per asset, indexed by [`Asset`], with checked arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetAmounts(pub [u64; 3]);

impl AssetAmounts {
    /// The amount of `asset`.
    pub fn get(&self, asset: Asset) -> u64 {
        self.0[asset as usize]
    }

    /// Adds `v` of `asset`; `None` on overflow.
    pub fn checked_add(&mut self, asset: Asset, v: u64) -> Option<()> {
        let slot = &mut self.0[asset as usize];
        *slot = slot.checked_add(v)?;
        Some(())
    }

    /// Subtracts `v` of `asset`; `None` on underflow.
    pub fn checked_sub(&mut self, asset: Asset, v: u64) -> Option<()> {
        let slot = &mut self.0[asset as usize];
        *slot = slot.checked_sub(v)?;
        Some(())
    }

    /// Adds every asset of `o`; `None` on overflow (self unchanged then).
    pub fn checked_add_all(&self, o: &AssetAmounts) -> Option<AssetAmounts> {
        let mut r = *self;
        for a in Asset::ALL {
            r.checked_add(a, o.get(a))?;
        }
        Some(r)
    }

    /// Whether every asset is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }

    /// The sum over assets as u128 (a policy ranking figure, not a consensus value).
    pub fn total_units(&self) -> u128 {
        self.0.iter().map(|v| *v as u128).sum()
    }

    /// Iterates `(asset, amount)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (Asset, u64)> + '_ {
        Asset::ALL.into_iter().map(|a| (a, self.get(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_ids_and_names() {
        for a in Asset::ALL {
            assert_eq!(Asset::from_id(a.id()), Some(a));
            assert_eq!(Asset::parse(&a.name().to_lowercase()), Some(a));
        }
        assert_eq!(Asset::from_id(3), None);
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let mut s = AssetAmounts::default();
        assert!(s.checked_add(Asset::Drachma, u64::MAX).is_some());
        assert!(s.checked_add(Asset::Drachma, 1).is_none());
        assert!(s.checked_sub(Asset::Obolos, 1).is_none());
    }

    #[test]
    fn coin_strings_parse_and_print() {
        assert_eq!(Amount::from_coin_str("1.5"), Some(Amount(150_000_000)));
        assert_eq!(Amount::from_coin_str("0.00000001"), Some(Amount(1)));
        assert_eq!(Amount::from_coin_str("1.000000001"), None);
        assert_eq!(Amount::from_coin_str("-1"), None);
        assert_eq!(Amount::from_coin_str("."), None);
        assert_eq!(Amount(150_000_000).to_coin_string(), "1.50000000");
    }

    #[test]
    fn caps_hold_the_whole_subsidy_schedule() {
        // A halving schedule pays less than 2 * 210,000 * the first subsidy in all.
        for a in Asset::ALL {
            assert!(2 * 210_000 * a.initial_subsidy() <= a.max_money());
        }
    }
}
