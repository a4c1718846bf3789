//! The constant-time software backend: RustCrypto `aes-gcm` over the fixsliced AES.
//!
//! `aes-gcm` 0.10 is generic over its block cipher. The current `aes` crate (0.8) picks AES-NI
//! at run time whenever the CPU has it and offers no run-time way to ask for its software code
//! (only a process-global `--cfg aes_force_soft`). The `aes` 0.7 line exposes the same
//! fixsliced software implementation through a crate-scoped Cargo feature, `force-soft`,
//! which this workspace enables (the dependency is renamed `aes-fixslice`), so its `Aes256`
//! *is* the software code whatever the CPU. [`FixslicedAes256`] adapts that type (written
//! against `cipher` 0.3) to the `cipher` 0.4 traits `aes-gcm` 0.10 expects. The adapter only
//! moves blocks in and out; every AES operation is the fixsliced code's.

use aes_fixslice::cipher::{
    BlockEncrypt as LegacyBlockEncrypt, NewBlockCipher as LegacyNewBlockCipher,
};
use aes_gcm::aead::consts::{U12, U16, U8};
use aes_gcm::aead::AeadInPlace;
use cipher::inout::{InOut, InOutBuf};
use cipher::{
    Block, BlockBackend, BlockCipher, BlockClosure, BlockEncrypt, BlockSizeUser, ParBlocks,
    ParBlocksSizeUser,
};

use super::{AeadError, KEY_LEN, NONCE_LEN, TAG_LEN};

/// AES-256 block encryption by RustCrypto's fixsliced software implementation.
///
/// Key schedule and encryption use only AND/OR/XOR/NOT, shifts and rotations on 64-bit
/// words (fixslicing, Adomnicai and Peyrin, TCHES 2021): no table look-ups indexed by secret
/// data and no secret-dependent branches, so its timing is independent of key and data on
/// every CPU.
#[derive(Clone)]
pub(crate) struct FixslicedAes256(aes_fixslice::Aes256);

impl FixslicedAes256 {
    /// Expands `key` with the fixsliced key schedule.
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(aes_fixslice::Aes256::new(key.into()))
    }
}

impl BlockSizeUser for FixslicedAes256 {
    type BlockSize = U16;
}

impl BlockCipher for FixslicedAes256 {}

impl BlockEncrypt for FixslicedAes256 {
    fn encrypt_with_backend(&self, f: impl BlockClosure<BlockSize = Self::BlockSize>) {
        f.call(&mut FixslicedBackend(&self.0));
    }
}

/// `cipher` 0.4 block backend over the fixsliced cipher. Eight blocks at a time, as the
/// fixsliced code processes them (two fixsliced batches of four on 64-bit targets).
struct FixslicedBackend<'a>(&'a aes_fixslice::Aes256);

impl BlockSizeUser for FixslicedBackend<'_> {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for FixslicedBackend<'_> {
    type ParBlocksSize = U8;
}

impl BlockBackend for FixslicedBackend<'_> {
    #[inline]
    fn proc_block(&mut self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b = block.clone_in();
        self.0.encrypt_block(&mut b);
        *block.get_out() = b;
    }

    #[inline]
    fn proc_par_blocks(&mut self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let mut b = blocks.clone_in();
        self.0.encrypt_par_blocks(&mut b);
        *blocks.get_out() = b;
    }

    #[inline]
    fn proc_tail_blocks(&mut self, mut blocks: InOutBuf<'_, '_, Block<Self>>) {
        // One batched call instead of one (internally four-wide) call per block.
        let n = blocks.len();
        let mut b = ParBlocks::<Self>::default();
        b[..n].copy_from_slice(blocks.get_in());
        self.0.encrypt_par_blocks(&mut b);
        blocks.get_out().copy_from_slice(&b[..n]);
    }
}

/// AES-256-GCM with 96-bit nonces over the fixsliced AES.
pub(crate) struct SoftAes256Gcm(aes_gcm::AesGcm<FixslicedAes256, U12>);

impl SoftAes256Gcm {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(aes_gcm::AesGcm::from(FixslicedAes256::new(key)))
    }

    /// Encrypts `in_out` in place and returns the tag.
    pub(crate) fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        let tag = self
            .0
            .encrypt_in_place_detached(nonce.into(), aad, in_out)
            .map_err(|_| AeadError::TooLong)?;
        Ok(tag.into())
    }

    /// Verifies `tag` and, only if it matches, decrypts `in_out` in place. On failure the
    /// contents of `in_out` are unspecified (the caller erases them).
    pub(crate) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        self.0
            .decrypt_in_place_detached(nonce.into(), aad, in_out, tag.into())
            .map_err(|_| AeadError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `force-soft` feature must be in effect: without it `aes` 0.7 exports its run-time
    /// dispatching type (`aes::autodetect::Aes256`, which uses AES-NI when present) under the
    /// same name.
    #[test]
    fn aes_type_is_the_software_implementation() {
        let name = std::any::type_name::<aes_fixslice::Aes256>();
        assert_eq!(name, "aes::soft::Aes256");
    }

    /// FIPS-197 appendix C.3 (AES-256 single block), through the `cipher` 0.4 adapter, both
    /// the single-block and the batched paths.
    #[test]
    fn fips197_c3_block() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let pt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        let expected = hex::decode("8ea2b7ca516745bfeafc49904b496089").unwrap();
        let aes = FixslicedAes256::new(&key);

        let mut block = Block::<FixslicedAes256>::from(pt);
        aes.encrypt_block(&mut block);
        assert_eq!(block.as_slice(), expected.as_slice());

        let mut blocks = [Block::<FixslicedAes256>::from(pt); 11];
        aes.encrypt_blocks(&mut blocks);
        for b in &blocks {
            assert_eq!(b.as_slice(), expected.as_slice());
        }
    }
}
