//! Manages the accounts of a server's database (an SQLite file or
//! PostgreSQL) from the command line, without editing files.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example accounts -- --db server.db add alice
//! cargo run -p xmpp-transport-std --example accounts -- --db server.db list
//! cargo run -p xmpp-transport-std --example accounts -- --db postgres://xmpp@/xmpp list
//! ```

use std::io::BufRead;
use std::process::ExitCode;

#[path = "support/db.rs"]
mod db;

const HELP: &str = "\
accounts: manage the accounts in a server's database.

Usage: accounts --db FILE|postgres://URL COMMAND

Commands:
  add NAME [PASSWORD]      add an account (or set its password)
  passwd NAME [PASSWORD]   set the password of an existing account
  remove NAME              remove an account with its roster and messages
  list                     print every account's name

A missing PASSWORD is read from the first line of standard input, so that
it stays out of the shell's history. Names are prepared like a JID's
localpart (Alice is alice).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accounts: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [flag, path, command, rest @ ..] = args else {
        return Err("expected --db FILE COMMAND (see --help)".into());
    };
    if flag != "--db" {
        return Err(format!(
            "unexpected {flag:?}: expected --db FILE or --db URL (see --help)"
        ));
    }
    let store = db::open(path)?;
    match (command.as_str(), rest) {
        ("add", [name, password @ ..]) => {
            let password = password_from(password)?;
            store
                .add_account(name, &password)
                .map_err(|e| e.to_string())?;
            println!("added {name}");
        }
        ("passwd", [name, password @ ..]) => {
            let password = password_from(password)?;
            match store
                .set_password(name, &password)
                .map_err(|e| e.to_string())?
            {
                true => println!("password of {name} changed"),
                false => return Err(format!("no account {name:?}")),
            }
        }
        ("remove", [name]) => match store.remove_account(name).map_err(|e| e.to_string())? {
            true => println!("removed {name}"),
            false => return Err(format!("no account {name:?}")),
        },
        ("list", []) => {
            for name in store.account_names() {
                println!("{name}");
            }
        }
        _ => {
            return Err(format!(
                "unknown command {command:?} or wrong arguments (see --help)"
            ));
        }
    }
    Ok(())
}

/// The password given, or the first line of standard input.
fn password_from(given: &[String]) -> Result<String, String> {
    match given {
        [password] => Ok(password.clone()),
        [] => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password: {e}"))?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            if password.is_empty() {
                return Err("empty password".into());
            }
            Ok(password)
        }
        _ => Err("too many arguments (see --help)".into()),
    }
}
