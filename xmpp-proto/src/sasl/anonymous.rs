//! ANONYMOUS (RFC 4505): one optional trace message, no credentials.

use super::SaslError;
use super::error::Malformed;

/// Longest trace RFC 4505 §3 allows, in characters.
const MAX_TRACE_CHARS: usize = 255;

/// Checks an ANONYMOUS message (the server side): UTF-8, at most 255
/// characters. Returns the trace, if any.
pub(crate) fn parse_trace(input: &[u8]) -> Result<Option<String>, SaslError> {
    // Four bytes per character at most: refuse long input before decoding.
    if input.len() > MAX_TRACE_CHARS * 4 {
        return Err(Malformed::TooLong {
            len: input.len(),
            max: MAX_TRACE_CHARS * 4,
        }
        .into());
    }
    let trace = core::str::from_utf8(input).map_err(|_| Malformed::NotUtf8)?;
    let chars = trace.chars().count();
    if chars > MAX_TRACE_CHARS {
        return Err(Malformed::TooLong {
            len: chars,
            max: MAX_TRACE_CHARS,
        }
        .into());
    }
    Ok((!trace.is_empty()).then(|| trace.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_short_utf8() {
        assert_eq!(parse_trace(b""), Ok(None));
        assert_eq!(
            parse_trace(b"sirhc").ok().flatten().as_deref(),
            Some("sirhc")
        );
        assert!(parse_trace(b"\xff").is_err());
        assert!(parse_trace("x".repeat(256).as_bytes()).is_err());
    }
}
