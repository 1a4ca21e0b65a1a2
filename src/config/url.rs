//! Where the API is and how to reach it: `server_url=` and `proxy=`. Both
//! become part of a request line or a socket address, so each is checked
//! to the character here, not where it is used.

use std::fmt;

use zeroize::Zeroizing;

use super::ConfigError;

/// Where the Werbot API lives: `https://{authority}{prefix}/auth/agent/nix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// `host`, `host:port` or `[v6]:port`, exactly as it goes into the URL.
    pub authority: String,
    /// The host name or IP address alone (no brackets): what is resolved
    /// and what the certificate must name.
    pub host: String,
    pub port: u16,
    /// Empty or `/something` without a trailing slash.
    pub prefix: String,
}

impl ServerUrl {
    pub fn endpoint(&self) -> String {
        format!("https://{}{}/auth/agent/nix", self.authority, self.prefix)
    }
}

/// `http://[user:password@]host:port` of an HTTP CONNECT proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Host name or IP address (no brackets).
    pub host: String,
    pub port: u16,
    /// `Basic` credentials (base64 of `user:password`), from the config file
    /// only; wiped when dropped, never logged.
    pub basic_auth: Option<Zeroizing<String>>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl fmt::Display for ProxyUrl {
    /// Without the credentials: what a log line may show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

/// `http://[user:password@]host:port`. Credentials are refused on the
/// pam.d line (which every local user can read): the config file only.
pub fn parse_proxy(v: &str, on_pam_line: bool) -> Result<ProxyUrl, ConfigError> {
    let bad = |why: &str| ConfigError::Invalid {
        key: "proxy",
        why: why.to_string(),
    };
    let rest = match v.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &v[7..],
        _ => return Err(bad("expected http://host:port (an HTTP CONNECT proxy)")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['/', '?', '#']) {
        return Err(bad("expected http://host:port, without a path"));
    }
    let (userinfo, authority) = match rest.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    if userinfo.is_some() && on_pam_line {
        return Err(bad(
            "credentials are accepted only in the root-only config file (config=), \
             never on the pam.d line",
        ));
    }
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| bad("not an IPv6 address inside [ ]"))?;
        (ip, tail.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !host_ok {
        return Err(bad("bad host"));
    }
    let port = match port.map(str::parse::<u16>) {
        Some(Ok(p)) if p > 0 => p,
        _ => return Err(bad("a port is required (http://host:port)")),
    };
    let basic_auth = userinfo.map(|u| Zeroizing::new(base64(u.as_bytes())));
    Ok(ProxyUrl {
        host: host.to_string(),
        port,
        basic_auth,
    })
}

/// Standard base64 (RFC 4648), for one Proxy-Authorization header: not
/// worth a dependency.
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn invalid(why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: "server_url",
        why: why.into(),
    }
}

/// `host`, `host:port`, `[v6]:port`, each with an optional `/prefix` and an
/// optional leading `https://`. `http://` is refused: the service key must not
/// travel in clear.
pub fn parse_server_url(v: &str) -> Result<ServerUrl, ConfigError> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &v[8..]
    } else if lower.starts_with("http://") {
        return Err(invalid(
            "http:// is refused; the service key must not travel in clear",
        ));
    } else if v.contains("://") {
        return Err(invalid("only https:// is supported"));
    } else {
        v
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(invalid("no host"));
    }
    if authority.contains('@') {
        return Err(invalid("credentials in the URL are not supported"));
    }
    let (host, port) = if let Some(after) = authority.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or_else(|| invalid("unclosed ["))?;
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| invalid("not an IPv6 address inside [ ]"))?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':').ok_or_else(|| invalid("junk after ]"))?),
        };
        (ip, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[') {
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !ok {
            return Err(invalid(format!("bad host {}", crate::log::quote(host))));
        }
    }
    // What the certificate must name: a DNS name or an IP address.
    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| {
        invalid(format!(
            "{} is not a valid host name",
            crate::log::quote(host)
        ))
    })?;
    let port = match port {
        None => 443,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(invalid(format!("bad port {}", crate::log::quote(p)))),
        },
    };
    // The prefix becomes part of a request line: only characters a URL
    // path may hold (RFC 3986 pchar and "/"), percent escapes complete.
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b))
        && path
            .split('%')
            .skip(1)
            .all(|t| t.len() >= 2 && t.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !path_ok {
        return Err(invalid(
            "the path prefix may hold only URL path characters (no query, fragment, spaces, \
             quotes, < > or incomplete % escapes)",
        ));
    }
    let url = ServerUrl {
        authority: authority.to_string(),
        host: host.to_string(),
        port,
        prefix: path.trim_end_matches('/').to_string(),
    };
    // The HTTP client must accept the URL as written; a URL that passes the
    // checks above but not this one would fail every call. (Its scheme and
    // host need no second look: endpoint() writes https:// and the host
    // checked above.)
    let endpoint = url.endpoint();
    match endpoint.parse::<ureq::http::Uri>() {
        Ok(_) => Ok(url),
        _ => Err(invalid(format!(
            "{} is not a URL the client can request",
            crate::log::quote(&endpoint)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn server_url_forms() {
        let cases = [
            ("host", "https://host/auth/agent/nix"),
            ("host:8443", "https://host:8443/auth/agent/nix"),
            ("[::1]:8443", "https://[::1]:8443/auth/agent/nix"),
            ("[::1]", "https://[::1]/auth/agent/nix"),
            ("host/api/", "https://host/api/auth/agent/nix"),
            ("https://host:1/p/q", "https://host:1/p/q/auth/agent/nix"),
            ("HTTPS://host", "https://host/auth/agent/nix"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_server_url(input).expect(input).endpoint(), want);
        }
    }

    #[test]
    fn server_url_rejects_clear_text_and_junk() {
        for bad in [
            "http://host",
            "ftp://host",
            "",
            "/path",
            "host:0",
            "host:99999",
            "host:x",
            "[::1",
            "[nothost]:1",
            "user@host",
            "ho st",
            "host/p?q=1",
            "[::1]x",
            "host:1/a<b",
            "host/a b",
            "host/a\"b",
            "host/%zz",
            "host/%4",
            "host/a{b}",
        ] {
            assert!(parse_server_url(bad).is_err(), "{bad} accepted");
        }
        let p = parse(&["server_url=http://h", "service_id=a", "service_key=b"]);
        let e = p.config.expect_err("refused").to_string();
        assert!(e.contains("server_url") && e.contains("http://"), "{e}");
    }

    #[test]
    fn proxy_urls_and_where_credentials_may_be() {
        let p = parse_proxy("http://proxy.example:3128", true).expect("plain");
        assert_eq!(
            (p.host.as_str(), p.port, p.basic_auth.is_none()),
            ("proxy.example", 3128, true)
        );
        assert_eq!(p.to_string(), "http://proxy.example:3128");
        let p = parse_proxy("http://user:pa:ss@[::1]:8080/", false).expect("with credentials");
        assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
        assert_eq!(
            p.basic_auth.as_deref().map(String::as_str),
            Some("dXNlcjpwYTpzcw==")
        );
        assert!(!format!("{p:?}").contains("dXNl") && !p.to_string().contains("user"));
        // Redacted, not left out.
        assert_eq!(
            format!("{p:?}"),
            r#"ProxyUrl { host: "::1", port: 8080, basic_auth: Some("[REDACTED]") }"#
        );
        let e = parse_proxy("http://user:pw@proxy:3128", true).expect_err("on the pam.d line");
        assert!(e.to_string().contains("config file"), "{e}");
        assert_eq!(
            parse_proxy("HTTP://Proxy.example:3128", false).map(|p| p.port),
            Ok(3128),
            "the scheme in any case"
        );
        for bad in [
            "socks5:proxy:3128",
            "https://proxy:3128",
            "proxy:3128",
            "http://proxy",
            "http://proxy:0",
            "http://pr oxy:1",
            "http://proxy:1/x",
        ] {
            assert!(parse_proxy(bad, false).is_err(), "{bad}");
        }
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn server_url_keeps_host_and_port_apart() {
        let u = parse_server_url("https://[::1]:8443/api").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("::1", 8443));
        let u = parse_server_url("api.example.com").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("api.example.com", 443));
    }
}
