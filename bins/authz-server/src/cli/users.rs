//! `authz-server user create|list|disable|enable|set-password`: local user accounts.
//!
//! Passwords never appear on the command line (where `ps` and shell history would show them):
//! they are read from standard input, one line, or prompted for without echo when standard input
//! is a terminal. Every change is audited with the actor `cli`, never with the password.

use std::io::{BufRead, IsTerminal, Read};

use anyhow::{anyhow, bail, Context as _};
use authz_domain::audit::RequestContext;
use authz_domain::users::{
    parse_display_name, User, UserError, UserQuery, UserService, Username, MAX_USERS_PER_PAGE,
};
use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

use super::admin_token::timestamp;

/// How audit records name the command line.
const ACTOR: &str = "cli";
/// The most bytes read from standard input for one password line: far above any password
/// policy (`users.password_max_chars` counts characters, at most 4096 of up to 4 bytes).
const MAX_PASSWORD_LINE_BYTES: u64 = 4 * 4096 + 2;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user. The password is read from standard input (one line; the trailing newline
    /// is not part of it), or prompted for twice without echo when standard input is a terminal.
    Create {
        /// The sign-in name: 1 to 64 visible characters; unique regardless of case
        /// (`Alice` and `alice` are one account).
        #[arg(long)]
        username: String,
        /// A name to show instead of the username (at most 128 characters).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users: id, username, display name, state and creation (never a password or hash).
    List,
    /// Disable a user: they can no longer sign in, and every session of theirs ends at once.
    Disable {
        /// The username (any case).
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The username (any case).
        username: String,
    },
    /// Set a user's password, read like `create` reads it; every session of theirs ends.
    SetPassword {
        /// The username (any case).
        username: String,
    },
}

/// Runs one user command against `users`.
pub(super) fn run(users: &UserService, command: UserCommand) -> anyhow::Result<()> {
    let context = RequestContext::default();
    match command {
        UserCommand::Create {
            username,
            display_name,
        } => {
            // Refuse a bad or taken name before asking for a password.
            let name = Username::parse(&username).map_err(|e| anyhow!("--username: {e}"))?;
            parse_display_name(display_name.as_deref())
                .map_err(|e| anyhow!("--display-name: {e}"))?;
            if let Some(existing) = users.find_by_username(name.as_str())? {
                return Err(taken(name.as_str(), Some(&existing)));
            }
            let password = read_password()?;
            let user = users
                .create_user(
                    &username,
                    display_name.as_deref(),
                    password,
                    ACTOR,
                    &context,
                )
                .map_err(|e| match e {
                    UserError::UsernameTaken(_) => {
                        let existing = users.find_by_username(name.as_str()).ok().flatten();
                        taken(name.as_str(), existing.as_ref())
                    }
                    e => explain(e),
                })?;
            // The id alone on stdout, so `ID=$(authz-server user create …)` works.
            println!("{}", user.id);
            eprintln!(
                "created user {:?}{} with id {}",
                user.username.as_str(),
                user.display_name
                    .as_deref()
                    .map_or(String::new(), |d| format!(" ({d:?})")),
                user.id
            );
            Ok(())
        }
        UserCommand::List => {
            println!(
                "{:<22} {:<24} {:<24} {:<8} CREATED",
                "ID", "USERNAME", "DISPLAY NAME", "STATE"
            );
            for page in 1.. {
                let query = UserQuery::new(page, MAX_USERS_PER_PAGE)?;
                let listed = users.list_users(&query)?;
                for user in &listed.users {
                    println!("{}", row(user));
                }
                if listed.users.is_empty() || query.offset() + query.per_page >= listed.total {
                    break;
                }
            }
            Ok(())
        }
        UserCommand::Disable { username } => {
            let user = existing(users, &username)?;
            users
                .set_disabled(&user.id, true, ACTOR, &context)
                .map_err(explain)?;
            println!(
                "disabled user {:?}; every session and grant of theirs has ended",
                user.username.as_str()
            );
            Ok(())
        }
        UserCommand::Enable { username } => {
            let user = existing(users, &username)?;
            users
                .set_disabled(&user.id, false, ACTOR, &context)
                .map_err(explain)?;
            println!("enabled user {:?}", user.username.as_str());
            Ok(())
        }
        UserCommand::SetPassword { username } => {
            let user = existing(users, &username)?;
            let password = read_password()?;
            users
                .set_password(&user.id, password, ACTOR, &context)
                .map_err(explain)?;
            println!(
                "set the password of user {:?}; every session of theirs has ended",
                user.username.as_str()
            );
            Ok(())
        }
    }
}

/// One line of `user list`.
fn row(user: &User) -> String {
    format!(
        "{:<22} {:<24} {:<24} {:<8} {}",
        user.id,
        user.username.as_str(),
        user.display_name.as_deref().unwrap_or("-"),
        if user.is_disabled {
            "disabled"
        } else {
            "active"
        },
        timestamp(user.created_at)
    )
}

/// The user named `username` (compared case-folded), or an error naming it.
fn existing(users: &UserService, username: &str) -> anyhow::Result<User> {
    users
        .find_by_username(username)
        .map_err(|e| match e {
            UserError::InvalidUsername(m) => anyhow!("USERNAME: {m}"),
            e => explain(e),
        })?
        .ok_or_else(|| {
            anyhow!(
                "no user is named {username:?} (compared regardless of case); `authz-server user list` shows the users"
            )
        })
}

/// The refusal of a username another account has after case folding.
fn taken(wanted: &str, existing: Option<&User>) -> anyhow::Error {
    match existing {
        Some(user) if user.username.as_str() != wanted => anyhow!(
            "--username: {wanted:?} is taken: the user {:?} (id {}) has the same username regardless of case",
            user.username.as_str(),
            user.id
        ),
        Some(user) => anyhow!(
            "--username: {wanted:?} is taken by the user with id {}",
            user.id
        ),
        None => anyhow!("--username: {wanted:?} is taken (usernames are compared regardless of case)"),
    }
}

/// A domain refusal as a message naming what was refused.
fn explain(e: UserError) -> anyhow::Error {
    match e {
        UserError::InvalidUsername(m) => anyhow!("--username: {m}"),
        UserError::InvalidDisplayName(m) => anyhow!("--display-name: {m}"),
        UserError::InvalidPassword(m) => anyhow!("password: {m}"),
        e => anyhow::Error::new(e),
    }
}

/// Reads a new password: prompted twice without echo on the terminal, otherwise the first line of
/// standard input without its line ending. An empty password is refused here; the password policy
/// is applied by the domain.
fn read_password() -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = SecretString::from(
            rpassword::prompt_password("New password: ").context("reading the password")?,
        );
        let again = SecretString::from(
            rpassword::prompt_password("Repeat it: ").context("reading the password")?,
        );
        if again.expose_secret() != first.expose_secret() {
            bail!("password: the two entries differ; nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .take(MAX_PASSWORD_LINE_BYTES)
            .read_line(&mut line)
            .context("password: reading standard input")?;
        let trimmed = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line);
        SecretString::from(trimmed.to_owned())
    };
    if password.expose_secret().is_empty() {
        bail!(
            "password: empty; write the password as one line on standard input (printf '%s\\n' \"$PASSWORD\" | authz-server user …) or run the command on a terminal to be prompted"
        );
    }
    Ok(password)
}
