//! Replays decision-table requests over HTTP/1.1 to a running proxy: the training run of the
//! profile-guided build (`scripts/build-pgo.sh`), which needs real traffic through the real
//! binary — keep-alive connections, benign and attack requests, bodies, the WAF's 403s.
//!
//! Each request goes out as the table writes it (method, URI, protocol, headers, body), with
//! the `Host` header replaced so the proxy routes it and the URI under a route's path
//! prefix. Responses are read by their framing (`Content-Length`, chunked, or to the end of
//! a closing connection); a connection the proxy closes or breaks is replaced and counted.

use crate::http_file::Case;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What a replay saw: answers by status, and requests that got no answer.
#[derive(Debug, Default)]
pub struct Tally {
    pub by_status: BTreeMap<u16, u64>,
    pub failed: u64,
}

/// Where and how to send: the proxy's address, the `Host` to route by, and the path prefixes
/// to put the URIs under (used in turn, one per request).
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub prefixes: Vec<String>,
}

/// Sends every case `rounds` times, in order, over keep-alive connections.
pub fn replay_http(target: &Target, cases: &[Case], rounds: u32) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut n = 0usize;
    for _ in 0..rounds {
        for case in cases {
            let prefix = match target.prefixes.len() {
                0 => "",
                len => target.prefixes[n % len].as_str(),
            };
            n += 1;
            let request = raw_request(case, &target.host, prefix);
            match exchange(&mut conn, target.addr, &request, case.method == "HEAD") {
                Ok((status, keep)) => {
                    *tally.by_status.entry(status).or_default() += 1;
                    if !keep {
                        conn = None;
                    }
                }
                Err(_) => {
                    tally.failed += 1;
                    conn = None;
                }
            }
        }
    }
    tally
}

/// The request's bytes: the case with `Host: host` and its URI under `prefix`.
pub fn raw_request(case: &Case, host: &str, prefix: &str) -> Vec<u8> {
    let uri = match case.uri.starts_with('/') {
        true => format!("{}{}", prefix.trim_end_matches('/'), case.uri),
        false => case.uri.clone(),
    };
    let mut out = format!(
        "{} {} {}\r\nHost: {host}\r\n",
        case.method, uri, case.protocol
    );
    for (name, value) in &case.headers {
        if !name.eq_ignore_ascii_case("host") {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&case.body);
    bytes
}

/// Sends `request` on the open connection (or a new one) and reads one final response:
/// its status and whether the connection stays open.
fn exchange(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &[u8],
    head: bool,
) -> io::Result<(u16, bool)> {
    let reader = match conn {
        Some(reader) => reader,
        None => {
            let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.set_nodelay(true)?;
            conn.insert(BufReader::new(stream))
        }
    };
    reader.get_mut().write_all(request)?;
    let mut response = read_head(reader)?;
    while (100..200).contains(&response.status) {
        // 100 Continue: the final response follows.
        response = read_head(reader)?;
    }
    let no_body = head || response.status == 204 || response.status == 304;
    match (no_body, response.framing) {
        (true, _) => {}
        (false, Framing::Length(len)) => {
            io::copy(&mut (&mut *reader).take(len), &mut io::sink())?;
        }
        (false, Framing::Chunked) => skip_chunked(reader)?,
        (false, Framing::Close) => {
            io::copy(reader, &mut io::sink())?;
            return Ok((response.status, false));
        }
    }
    Ok((response.status, response.keep_alive))
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// Reads a response's status line and headers.
fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let line = read_line(reader)?;
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut framing = Framing::Close;
    let mut keep_alive = version == "HTTP/1.1";
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("bad header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len = value.parse().map_err(|_| bad("bad content-length"))?;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(len);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            keep_alive = match version {
                "HTTP/1.1" => !value.contains("close"),
                _ => value.contains("keep-alive"),
            };
        }
    }
    Ok(Head {
        status,
        framing,
        keep_alive,
    })
}

/// One CRLF-terminated line (at most 64 KiB), without its terminator.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    (&mut *reader).take(65_536).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-response",
        ));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Skips a chunked body and its trailers.
fn skip_chunked(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(());
        }
        io::copy(&mut (&mut *reader).take(size), &mut io::sink())?;
        read_line(reader)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn case(method: &str, uri: &str, body: &str) -> Case {
        Case {
            name: "t".into(),
            origin: "t:1".into(),
            method: method.into(),
            uri: uri.into(),
            protocol: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "shop.example.com".into()),
                ("Accept".into(), "*/*".into()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn request_goes_under_the_prefix_with_our_host() {
        let raw = raw_request(&case("POST", "/a?b=1", "x=1"), "myapp.com", "/blog/");
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            "POST /blog/a?b=1 HTTP/1.1\r\nHost: myapp.com\r\nAccept: */*\r\n\r\nx=1"
        );
        let raw = raw_request(&case("GET", "*", ""), "myapp.com", "/blog");
        assert!(raw.starts_with(b"GET * HTTP/1.1\r\n"));
    }

    #[test]
    fn responses_are_framed() {
        let mut r = Cursor::new(&b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"[..]);
        let head = read_head(&mut r).unwrap();
        assert_eq!(head.status, 200);
        assert!(head.keep_alive);
        assert!(matches!(head.framing, Framing::Length(3)));
        let mut r = Cursor::new(
            &b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEXT"[..],
        );
        let head = read_head(&mut r).unwrap();
        assert_eq!((head.status, head.keep_alive), (403, false));
        assert!(matches!(head.framing, Framing::Chunked));
        skip_chunked(&mut r).unwrap();
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT");
        let mut r = Cursor::new(&b"HTTP/1.0 200 OK\r\n\r\n"[..]);
        assert!(!read_head(&mut r).unwrap().keep_alive);
        assert!(read_head(&mut Cursor::new(&b"HTTP/1.1 2"[..])).is_err());
        assert!(read_head(&mut Cursor::new(&b"HTTP/1.1 abc OK\r\n\r\n"[..])).is_err());
    }
}
