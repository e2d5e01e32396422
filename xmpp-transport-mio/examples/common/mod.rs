//! Shared by the examples: flag parsing, client sessions for a farm of
//! accounts, percentiles.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use xmpp_proto::client::{Client, ClientConfig, ClientTlsPolicy};
use xmpp_proto::jid::Jid;
use xmpp_transport_mio::{ConnId, Driver};
use xmpp_transport_std::clock;
use xmpp_transport_std::tls::{ClientTls, TrustAnchors};

/// The end of an example's `main`: an error is one line on stderr and a
/// failure exit code.
pub fn exit(program: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The flags a help text lists, and whether each takes a value.
fn known_flags(help: &str) -> HashMap<&str, bool> {
    help.lines()
        .filter_map(|line| line.trim_start().strip_prefix("--"))
        .filter_map(|rest| {
            let end = rest.find(' ').unwrap_or(rest.len());
            let (name, after) = rest.split_at(end);
            let takes_value = after.starts_with(' ') && !after.starts_with("  ");
            (!name.is_empty()).then_some((name, takes_value))
        })
        .collect()
}

/// `--name value` flags; `--flag` alone for switches.
pub struct Flags {
    values: HashMap<String, Vec<String>>,
}

impl Flags {
    /// Parses the process arguments against the flags `help` lists (a
    /// line starting `--name VALUE` takes a value, `--name` followed by
    /// two spaces is a switch); an unknown flag is an error. Prints `help`
    /// and exits for `--help`.
    pub fn parse(help: &str) -> Result<Flags, String> {
        let known = known_flags(help);
        let mut values = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{help}");
                std::process::exit(0);
            }
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?} (see --help)"));
            };
            let Some(&takes_value) = known.get(name) else {
                return Err(format!("unknown flag --{name} (see --help)"));
            };
            let value = if takes_value {
                args.next().ok_or(format!("--{name} needs a value"))?
            } else {
                "true".to_owned()
            };
            values
                .entry(name.to_owned())
                .or_insert_with(Vec::new)
                .push(value);
        }
        Ok(Flags { values })
    }

    /// The flag's value (the last one, if given more than once).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name)?.last().map(String::as_str)
    }

    /// Every value of a repeatable flag, in order.
    #[allow(dead_code)] // not every example has one
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or(format!("--{name} is required (see --help)"))
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v:?}")),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// `HOST:PORT` resolved to its first address.
pub fn resolve(server: &str) -> Result<SocketAddr, String> {
    server
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or(format!("{server}: no address"))
}

/// The TLS settings for a farm: the CA file if given, else the public
/// roots; certificates are checked against the XMPP domain.
pub fn client_tls(ca: Option<&str>, domain: &str) -> Result<Arc<ClientTls>, String> {
    let anchors = match ca {
        Some(path) => TrustAnchors::from_pem_file(path).map_err(|e| e.to_string())?,
        None => TrustAnchors::webpki_roots(),
    };
    Ok(Arc::new(
        ClientTls::new(&anchors, domain).map_err(|e| e.to_string())?,
    ))
}

/// One account of a farm: `PREFIX<n>@DOMAIN`.
pub struct Account<'a> {
    pub prefix: &'a str,
    pub domain: &'a str,
    pub password: &'a str,
    pub direct_tls: bool,
    pub resource: &'a str,
}

impl<'a> Account<'a> {
    /// The accounts named by `--users`, `--domain`, `--password` and
    /// `--direct-tls`, each logged in with `resource`.
    pub fn from_flags(flags: &'a Flags, resource: &'a str) -> Result<Self, String> {
        Ok(Account {
            prefix: flags.required("users")?,
            domain: flags.required("domain")?,
            password: flags.required("password")?,
            direct_tls: flags.flag("direct-tls"),
            resource,
        })
    }

    pub fn jid(&self, n: usize) -> String {
        format!("{}{n}@{}/{}", self.prefix, self.domain, self.resource)
    }

    /// Connects account `n` and adds its client to `driver`.
    pub fn connect(
        &self,
        driver: &mut Driver<Client>,
        n: usize,
        addr: SocketAddr,
        tls: &Arc<ClientTls>,
        configure: impl FnOnce(ClientConfig) -> ClientConfig,
    ) -> Result<ConnId, String> {
        let jid = Jid::new(&self.jid(n)).map_err(|e| e.to_string())?;
        let policy = if self.direct_tls {
            ClientTlsPolicy::Direct
        } else {
            ClientTlsPolicy::RequireStartTls
        };
        let config = configure(ClientConfig::new(jid, self.password).with_tls(policy));
        let socket = mio::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        let _ = socket.set_nodelay(true);
        driver
            .add_client(socket, Client::new(config, clock::now()), tls.clone())
            .map_err(|e| e.to_string())
    }
}

/// The `p`-th percentile (0..=100) of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
