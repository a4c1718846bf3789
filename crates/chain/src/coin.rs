//! [`Coin`]: an unspent output with the height and kind of the transaction that made it, and
//! its database encoding.

use parthenon_primitives::encode::{deserialize, Decodable, DecodeError, Encodable, Reader};
use parthenon_primitives::TxOut;

/// An unspent transaction output as the chainstate stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coin {
    /// The output (asset, amount, key).
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether a coinbase created it (then it matures after `coinbase_maturity` blocks).
    pub is_coinbase: bool,
}

impl Coin {
    /// The database value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        self.encode(&mut out);
        out
    }

    /// Parses a database value.
    pub fn from_bytes(b: &[u8]) -> Result<Coin, DecodeError> {
        deserialize(b)
    }
}

impl Encodable for Coin {
    fn encode(&self, out: &mut Vec<u8>) {
        self.output.encode(out);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.push(self.is_coinbase as u8);
    }
}

impl Decodable for Coin {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let output = TxOut::decode(r)?;
        let height = r.u32_le()?;
        let is_coinbase = match r.u8()? {
            0 => false,
            1 => true,
            other => {
                return Err(DecodeError::LengthTooLarge {
                    what: "coinbase flag",
                    len: other as u64,
                    max: 1,
                })
            }
        };
        Ok(Coin {
            output,
            height,
            is_coinbase,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::Asset;

    #[test]
    fn coin_round_trips() {
        let c = Coin {
            output: TxOut::to_key(Asset::Obolos, 42, [9; 32]),
            height: 7,
            is_coinbase: true,
        };
        assert_eq!(Coin::from_bytes(&c.to_bytes()), Ok(c));
        let mut bad = Coin {
            output: TxOut::to_key(Asset::Talanton, 1, [0; 32]),
            height: 1,
            is_coinbase: false,
        }
        .to_bytes();
        *bad.last_mut().unwrap() = 2;
        assert!(Coin::from_bytes(&bad).is_err());
    }
}
