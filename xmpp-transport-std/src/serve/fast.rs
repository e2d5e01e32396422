//! FAST tokens (XEP-0484) as a store keeps them: minting a secret with
//! its expiry, and the keeping rule every store follows.
//!
//! The rule: per account and user agent, a store keeps the newest token
//! and the one the login that asked for it used (`replacing`), so that a
//! client whose connection broke before it received the new token can
//! still log in with the old one, once; that login replaces both. Expired
//! tokens are never handed out.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use xmpp_proto::jid::BareJid;
use xmpp_proto::negotiation::FastToken;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::sasl::Mechanism;

/// How long a token lives: 21 days, as in Prosody (a token is renewed at
/// every login, so only an installation unused this long has to log in
/// with its password again).
pub const DEFAULT_FAST_LIFETIME: Duration = Duration::from_secs(21 * 86_400);

/// A freshly minted token: the secret, its expiry in seconds since 1970,
/// and the same as a XEP-0082 stamp for the client.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The secret.
    pub secret: String,
    /// Expiry, seconds since 1970.
    pub expires: u64,
    /// Expiry as XEP-0082 UTC date and time.
    pub expiry: String,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl MintedToken {
    /// A new random secret (32 bytes from the operating system) that
    /// expires `lifetime` after `now`. `None` if the system has no
    /// randomness to give.
    pub fn mint(now: SystemTime, lifetime: Duration) -> Option<Self> {
        let mut bytes = [0u8; 32];
        OsRandom.fill(&mut bytes).ok()?;
        let expires_at = now + lifetime;
        Some(MintedToken {
            secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            expires: unix_seconds(expires_at),
            expiry: crate::clock::utc_stamp(expires_at),
        })
    }

    /// What the client is given.
    pub fn to_token(&self) -> FastToken {
        FastToken {
            token: self.secret.clone(),
            expiry: self.expiry.clone(),
        }
    }
}

/// Seconds since 1970 (0 before).
pub fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One kept token.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Kept {
    mechanism: Mechanism,
    secret: String,
    expires: u64,
}

/// FAST tokens in memory, by account and user agent: what [`Accounts`]
/// keeps (lost at a restart).
///
/// [`Accounts`]: super::Accounts
#[derive(Debug, Default)]
pub struct FastTokenBook {
    tokens: HashMap<(BareJid, String), Vec<Kept>>,
}

impl FastTokenBook {
    /// The unexpired secrets for these three, newest first.
    pub fn tokens(
        &self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        now: SystemTime,
    ) -> Vec<String> {
        let now = unix_seconds(now);
        self.tokens
            .get(&(account.clone(), user_agent.to_owned()))
            .map(|kept| {
                kept.iter()
                    .filter(|k| k.mechanism == mechanism && k.expires > now)
                    .map(|k| k.secret.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Keeps `minted` as the newest token, and `replacing` if it is one
    /// of ours; forgets the rest.
    pub fn issue(
        &mut self,
        account: &BareJid,
        user_agent: &str,
        mechanism: Mechanism,
        replacing: Option<&str>,
        minted: &MintedToken,
    ) {
        let key = (account.clone(), user_agent.to_owned());
        let kept = self.tokens.entry(key).or_default();
        let previous = replacing.and_then(|r| kept.iter().find(|k| k.secret == r).cloned());
        kept.clear();
        kept.push(Kept {
            mechanism,
            secret: minted.secret.clone(),
            expires: minted.expires,
        });
        kept.extend(previous);
    }

    /// Forgets every token of the user agent.
    pub fn revoke(&mut self, account: &BareJid, user_agent: &str) {
        self.tokens
            .remove(&(account.clone(), user_agent.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_keeps_the_newest_and_the_replaced_token_only() {
        let mut book = FastTokenBook::default();
        let juliet = BareJid::new("juliet@example.com").unwrap();
        let m = Mechanism::HtSha256Expr;
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mint = || MintedToken::mint(now, DEFAULT_FAST_LIFETIME).unwrap();
        let (a, b, c) = (mint(), mint(), mint());
        assert_ne!(a.secret, b.secret, "random secrets");
        book.issue(&juliet, "agent", m, None, &a);
        book.issue(&juliet, "agent", m, Some(&a.secret), &b);
        assert_eq!(
            book.tokens(&juliet, "agent", m, now),
            [b.secret.clone(), a.secret.clone()]
        );
        // A login with the old one replaces both.
        book.issue(&juliet, "agent", m, Some(&a.secret), &c);
        assert_eq!(
            book.tokens(&juliet, "agent", m, now),
            [c.secret.clone(), a.secret.clone()]
        );
        // Not another agent's, not another mechanism's, not expired ones.
        assert!(book.tokens(&juliet, "other", m, now).is_empty());
        assert!(
            book.tokens(&juliet, "agent", Mechanism::HtSha256None, now)
                .is_empty()
        );
        let later = now + DEFAULT_FAST_LIFETIME + Duration::from_secs(1);
        assert!(book.tokens(&juliet, "agent", m, later).is_empty());
        book.revoke(&juliet, "agent");
        assert!(book.tokens(&juliet, "agent", m, now).is_empty());
    }

    #[test]
    fn expiry_is_a_utc_stamp_lifetime_ahead() {
        let t = MintedToken::mint(UNIX_EPOCH, Duration::from_secs(86_400)).unwrap();
        assert_eq!(t.expiry, "1970-01-02T00:00:00Z");
        assert_eq!(t.expires, 86_400);
        assert!(!format!("{t:?}").contains(&t.secret));
    }
}
