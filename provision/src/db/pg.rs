//! The PostgreSQL back end: the synchronous `postgres` client, statements prepared once per
//! connection (from the common SQL, rewritten by [`super::dialect`]), parameters converted to
//! the types the server inferred, columns converted from theirs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::{pg_tls, DbError, DbResult, Value, ValueRef};

pub(super) struct Pg {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
}

/// How long to wait for the server before giving up, unless the URL says
/// (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configuration of `url`, with polc's defaults; the error never repeats the URL (it
/// may hold a password).
pub fn config(url: &str) -> DbResult<postgres::Config> {
    Ok(config_tls(url)?.0)
}

/// [`config`], and how the connection is encrypted (see [`super::pg_tls`]).
fn config_tls(url: &str) -> DbResult<(postgres::Config, pg_tls::Tls)> {
    let (url, tls) = pg_tls::split_url(url)?;
    let mut cfg = postgres::Config::from_str(&url)?;
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("polc");
    }
    Ok((cfg, tls))
}

/// A connection of its own to `url` (a system's lock holds one), encrypted as the URL
/// says, like the state's; `application_name` names it in `pg_stat_activity`.
pub fn client(url: &str, application_name: Option<&str>) -> DbResult<Client> {
    let (mut cfg, tls) = config_tls(url)?;
    if let Some(name) = application_name {
        cfg.application_name(name);
    }
    Ok(match tls.mode {
        pg_tls::SslMode::Disable => cfg.connect(NoTls)?,
        _ => cfg.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
            pg_tls::client_config(&tls)?,
        ))?,
    })
}

impl Pg {
    pub(super) fn connect(url: &str) -> DbResult<Pg> {
        let client = client(url, None)?;
        Ok(Pg {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
        })
    }

    pub(super) fn prepare(&self, sql: &str) -> DbResult<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let text = super::dialect::to_postgres(sql);
        let s = self.client.borrow_mut().prepare(&text)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(super) fn execute(&self, s: &Statement, values: &[Value<'_>]) -> DbResult<usize> {
        let args: Vec<Arg<'_>> = values.iter().map(Arg).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        let n = self.client.borrow_mut().execute(s, &refs)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(
        &self,
        s: &Statement,
        values: &[Value<'_>],
    ) -> DbResult<Vec<postgres::Row>> {
        let args: Vec<Arg<'_>> = values.iter().map(Arg).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        Ok(self.client.borrow_mut().query(s, &refs)?)
    }

    pub(super) fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }
}

/// A parameter, converted to the type the server inferred for it.
#[derive(Debug)]
struct Arg<'a>(&'a Value<'a>);

// `Value` holds only plain data: shared between threads is fine.
impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let text_like = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                _ if text_like => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ if text_like => f.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("a real cannot be sent as {ty}").into()),
            },
            Value::Text(t) => match *ty {
                Type::INT8 => t.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => t.parse::<i32>()?.to_sql(ty, out),
                Type::BYTEA => t.as_bytes().to_sql(ty, out),
                _ if text_like => t.to_sql(ty, out),
                _ => Err(format!("text cannot be sent as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(format!("a blob cannot be sent as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Column `i` of a row.
pub(super) fn value(r: &postgres::Row, i: usize) -> DbResult<ValueRef<'_>> {
    let Some(col) = r.columns().get(i) else {
        return Err(DbError::Type {
            column: i,
            message: "no such column".into(),
        });
    };
    let ty = col.type_().clone();
    Ok(match ty {
        Type::INT8 => r
            .try_get::<_, Option<i64>>(i)?
            .map_or(ValueRef::Null, ValueRef::Int),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)?
            .map_or(ValueRef::Null, |v| ValueRef::Int(v.into())),
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)?
            .map_or(ValueRef::Null, |v| ValueRef::Int(v.into())),
        Type::BOOL => r
            .try_get::<_, Option<bool>>(i)?
            .map_or(ValueRef::Null, |v| ValueRef::Int(v.into())),
        Type::FLOAT8 => r
            .try_get::<_, Option<f64>>(i)?
            .map_or(ValueRef::Null, ValueRef::Real),
        Type::FLOAT4 => r
            .try_get::<_, Option<f32>>(i)?
            .map_or(ValueRef::Null, |v| ValueRef::Real(v.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => r
            .try_get::<_, Option<&str>>(i)?
            .map_or(ValueRef::Null, ValueRef::Text),
        Type::BYTEA => r
            .try_get::<_, Option<&[u8]>>(i)?
            .map_or(ValueRef::Null, ValueRef::Blob),
        other => {
            return Err(DbError::Type {
                column: i,
                message: format!(
                    "PostgreSQL type {other} is not read by polc (cast it to BIGINT or TEXT)"
                ),
            })
        }
    })
}

/// A PostgreSQL error in words: the server's message, detail and hint when it sent them.
pub(super) fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("PostgreSQL: {}", db.message());
            if let Some(d) = db.detail() {
                m.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("; hint: {h}"));
            }
            m
        }
        None => match e.source() {
            Some(s) => format!("PostgreSQL: {e}: {s}"),
            None => format!("PostgreSQL: {e}"),
        },
    }
}

/// `url` with its password replaced by `***`, for messages and the audit log: both URL
/// (`postgres://user:secret@host/db`) and key-value (`host=… password=secret`) forms.
pub fn redact_url(url: &str) -> String {
    let scheme = ["postgres://", "postgresql://"]
        .into_iter()
        .find(|p| url.starts_with(p));
    if let Some(scheme) = scheme {
        let rest = &url[scheme.len()..];
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***{host}"),
                    None => format!("{userinfo}{host}"),
                }
            }
            None => authority.to_string(),
        };
        // a password given as a query parameter
        let tail = redact_pairs(tail, '&');
        return format!("{scheme}{authority}{tail}");
    }
    redact_pairs(url, ' ')
}

fn redact_pairs(s: &str, sep: char) -> String {
    s.split(sep)
        .map(|part| {
            let (lead, kv) = match part.find('?') {
                Some(q) if sep == '&' => part.split_at(q + 1),
                _ => ("", part),
            };
            match kv.split_once('=') {
                Some((k, _)) if k.trim().eq_ignore_ascii_case("password") => {
                    format!("{lead}{k}=***")
                }
                _ => part.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_shown() {
        for (url, want) in [
            (
                "postgres://polc:s3cret@db:5432/polc",
                "postgres://polc:***@db:5432/polc",
            ),
            ("postgresql://polc@db/polc", "postgresql://polc@db/polc"),
            ("postgres://a:b@h", "postgres://a:***@h"),
            (
                "postgres://db/polc?user=polc&password=s3cret&sslmode=disable",
                "postgres://db/polc?user=polc&password=***&sslmode=disable",
            ),
            (
                "postgres://db/polc?password=x",
                "postgres://db/polc?password=***",
            ),
            (
                "host=db user=polc password=s3cret dbname=polc",
                "host=db user=polc password=*** dbname=polc",
            ),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
            assert!(!redact_url(url).contains("s3cret"));
        }
    }
}
