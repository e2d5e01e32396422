//! Why a connection of the driver ended below the XMPP stream: the same
//! error as the blocking transport's.

pub use xmpp_transport_std::Error;
