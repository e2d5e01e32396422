//! Unpredictable identifiers: stream ids, stanza ids, resumption ids,
//! generated resources.

use base64::Engine as _;

use crate::random::RandomSource;

/// 12 random bytes in unpadded URL-safe base64 (16 characters), or `None`
/// if the source failed.
pub(crate) fn random_id(random: &mut dyn RandomSource) -> Option<String> {
    let mut bytes = [0u8; 12];
    random.fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
