//! A lean HTTP/1.1 client for the common exchange: a request without a body and without an
//! upgrade (GET, HEAD, ... — nearly all traffic; on a WAF route the request phases run before
//! and the response phases on the response, see `service::forward_direct_inspected`). The request
//! task writes the head and reads the response on the pooled socket itself: no connection
//! task, no channels between tasks, no wake-ups between them; the head is encoded into a
//! reused buffer and sent with one `send`. The response body ([`DirectBody`]) reads from the same socket while the
//! server sends it to the client, and puts the connection back into its pool as soon as the
//! last byte has been read (or closes it when it cannot be reused).
//!
//! Everything else (request bodies, which need full-duplex streaming; upgrades) goes through
//! hyper's client in [`crate::upstream`].
//!
//! Framing follows RFC 9112 §6.3: no body for `HEAD`, 1xx, 204 and 304; `Transfer-Encoding`
//! whose last coding is `chunked` → chunked (trailers are read and dropped); any other
//! `Transfer-Encoding` → until close; `Content-Length` (identical repeated values allowed,
//! anything else is an error) → that many bytes; nothing → until close. Interim 1xx answers
//! are skipped; `101` is an error (no upgrade was asked for). A connection is reused only after
//! a complete, length-delimited response with keep-alive and no extra bytes after it.

use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version, response};
use hyper::body::{Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::headers::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REQUEST_ID};
use crate::upstream::EndpointPool;

/// Largest response head accepted (status line, headers, and chunked trailers).
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
const MAX_HEADERS: usize = 128;

/// A kept response field as offsets into the head: (name start, name length, value start,
/// value length).
type Field = (usize, usize, usize, usize);
/// Read size while waiting for a head.
const HEAD_READ: usize = 8 * 1024;
/// Read size for body bytes beyond what came with the head.
const BODY_READ: usize = 64 * 1024;
/// Longest chunk-size line (with extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// Why an exchange on a direct connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("upstream I/O: {0}")]
    Io(#[from] io::Error),
    #[error("upstream closed the connection before answering")]
    ClosedBeforeResponse,
    #[error("upstream closed the connection in the middle of the response")]
    Truncated,
    #[error("invalid upstream response: {0}")]
    Protocol(&'static str),
}

/// How far a failed exchange got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The request could not be written: the peer had closed, nothing was processed.
    NotSent,
    /// Written, then the connection closed before any byte of an answer.
    NoAnswer,
    /// The answer was malformed or cut short.
    Answering,
}

/// One keep-alive connection to an endpoint, driven by whichever request task holds it.
pub(crate) struct DirectConn {
    io: TcpStream,
    /// Bytes read from the socket and not yet consumed.
    buf: BytesMut,
    /// The request head being written; kept for its capacity.
    out: Vec<u8>,
    /// Scratch for `parse_head` (offsets of the kept response fields); kept for its capacity.
    kept: Vec<Field>,
    /// The last read returned less than it could take: the socket was drained then.
    drained: bool,
    /// Requests sent on this connection (0 = fresh).
    pub(crate) used: u64,
    /// When it went idle (pool time-to-live).
    pub(crate) since: Instant,
}

impl DirectConn {
    pub fn new(io: TcpStream) -> Self {
        DirectConn {
            io,
            buf: BytesMut::new(),
            out: Vec::with_capacity(512),
            kept: Vec::new(),
            drained: false,
            used: 0,
            since: Instant::now(),
        }
    }

    /// Whether an idle connection still looks usable: nothing arrived while it was idle (no
    /// EOF, no stray bytes). Costs a syscall only when the socket is marked readable (see
    /// [`DirectConn::forget_readiness`]).
    pub fn is_reusable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readiness may be left over from the last read; a non-blocking probe tells.
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Called when a response has been read to its end and the connection goes idle: when
    /// the last read drained the socket, the readable mark left by that read is dropped, so
    /// that the next checkout needs no probing `recv` to tell "still idle" from "closed"; an
    /// EOF arriving later marks the socket again. (One arriving in the instant between that
    /// read and this call loses its mark: the next request on the connection then reads the
    /// EOF and, having had no answer, is retried on a new connection when its method is
    /// idempotent — the same race any keep-alive client has with a closing server.)
    fn forget_readiness(&mut self) {
        if self.drained {
            let _ = self.io.try_io(tokio::io::Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
    }

    /// Sends the head (and the in-memory body, if any) of a request and reads the response
    /// head. On success the
    /// connection moves into the returned body (which gives it back to `pool`); on failure it
    /// is closed, and the error says how far the exchange got.
    pub async fn exchange(
        mut self: Box<Self>,
        req: &DirectRequest<'_>,
        pool: Arc<EndpointPool>,
    ) -> Result<response::Response<DirectBody>, (ExchangeError, Stage)> {
        self.used += 1;
        encode_head(&mut self.out, req);
        if let Err(e) = self.io.write_all(&self.out).await {
            return Err((e.into(), Stage::NotSent));
        }
        let (parts, framing, keep_alive) = match self.read_head(req.method).await {
            Ok(h) => h,
            Err(e @ ExchangeError::ClosedBeforeResponse) => return Err((e, Stage::NoAnswer)),
            Err(e) => return Err((e, Stage::Answering)),
        };
        let state = match framing {
            Framing::Empty => Decode::Done,
            Framing::Length(n) => Decode::Length(n),
            Framing::Chunked => Decode::Chunked(Chunked::Size),
            Framing::Close => Decode::UntilClose,
        };
        let reusable = keep_alive && !matches!(framing, Framing::Close);
        let mut body = DirectBody {
            conn: Some(self),
            pool,
            state,
            reusable,
        };
        body.settle();
        Ok(response::Response::from_parts(parts, body))
    }

    /// Reads until a complete final (non-1xx) response head is in the buffer and parses it.
    async fn read_head(
        &mut self,
        method: &Method,
    ) -> Result<(response::Parts, Framing, bool), ExchangeError> {
        let mut received = false;
        loop {
            if !self.buf.is_empty() {
                received = true;
                if let Some(parsed) = parse_head(&mut self.buf, method, &mut self.kept)? {
                    match parsed {
                        Parsed::Interim => continue,
                        Parsed::Final(head) => return Ok(head),
                    }
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(ExchangeError::Protocol("response head too large"));
                }
            }
            self.buf.reserve(HEAD_READ);
            let n = match read_buf(&mut self.io, &mut self.buf, &mut self.drained).await {
                Ok(n) => n,
                // A reset before any answer: like an EOF, the request may not have been seen.
                Err(_) if !received => 0,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Err(if received {
                    ExchangeError::Truncated
                } else {
                    ExchangeError::ClosedBeforeResponse
                });
            }
        }
    }
}

async fn read_buf(io: &mut TcpStream, buf: &mut BytesMut, drained: &mut bool) -> io::Result<usize> {
    std::future::poll_fn(|cx| poll_read_buf(io, buf, drained, cx)).await
}

/// Reads into the spare capacity of `buf`; `drained` tells whether the read came back short
/// (nothing more was waiting in the socket).
fn poll_read_buf(
    io: &mut TcpStream,
    buf: &mut BytesMut,
    drained: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(io.poll_read_ready(cx))?;
        let room = buf.capacity() - buf.len();
        match io.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Ok(n) => {
                *drained = n < room;
                return Poll::Ready(Ok(n));
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// What the proxy adds to the request head: `Host` (kept as the client sent it),
/// `X-Forwarded-For` (appended to), `-Proto`, `-Host` and `X-Request-Id`. Written while
/// encoding instead of inserted into the client's header map first.
pub(crate) struct Forwarded<'a> {
    pub host: Option<&'a HeaderValue>,
    pub client_ip: &'a HeaderValue,
    pub tls: bool,
    pub request_id: &'a HeaderValue,
}

/// A body-less request: method, origin-form target, the client's headers (hop-by-hop already
/// removed) and the proxy's additions.
pub(crate) struct DirectRequest<'a> {
    pub method: &'a Method,
    pub target: &'a str,
    pub headers: &'a HeaderMap,
    pub forwarded: Forwarded<'a>,
    /// A body the proxy holds in full (after WAF inspection): sent with a `Content-Length`
    /// of its own, in the same write as the head; the client's `Content-Length` and
    /// `Transfer-Encoding` are left out. `None`: no body, the headers pass as they are.
    pub body: Option<&'a [u8]>,
}

fn encode_head(out: &mut Vec<u8>, req: &DirectRequest<'_>) {
    fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let fwd = &req.forwarded;
    // Without a host (HTTP/1.0 without Host) the X-Forwarded-* headers pass unchanged, as in
    // `headers::set_forwarded`'s caller.
    let rewrite = fwd.host.is_some();
    let mut prior_xff: Option<&HeaderValue> = None;
    for (name, value) in req.headers {
        if *name == X_REQUEST_ID || (rewrite && *name == header::HOST) {
            continue;
        }
        if req.body.is_some()
            && (*name == header::CONTENT_LENGTH || *name == header::TRANSFER_ENCODING)
        {
            continue;
        }
        if rewrite && *name == X_FORWARDED_FOR {
            prior_xff = prior_xff.or(Some(value));
            continue;
        }
        if rewrite && (*name == X_FORWARDED_PROTO || *name == X_FORWARDED_HOST) {
            continue;
        }
        line(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(host) = fwd.host {
        line(out, b"host", host.as_bytes());
        match prior_xff.map(|v| v.as_bytes()) {
            Some(prev) if !prev.trim_ascii().is_empty() => {
                out.extend_from_slice(b"x-forwarded-for: ");
                out.extend_from_slice(prev);
                out.extend_from_slice(b", ");
                out.extend_from_slice(fwd.client_ip.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            _ => line(out, b"x-forwarded-for", fwd.client_ip.as_bytes()),
        }
        let proto: &[u8] = if fwd.tls { b"https" } else { b"http" };
        line(out, b"x-forwarded-proto", proto);
        line(out, b"x-forwarded-host", host.as_bytes());
    }
    line(out, b"x-request-id", fwd.request_id.as_bytes());
    if let Some(body) = req.body {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        return;
    }
    out.extend_from_slice(b"\r\n");
}

enum Framing {
    Empty,
    Length(u64),
    Chunked,
    Close,
}

enum Parsed {
    /// A 1xx answer other than 101, consumed from the buffer.
    Interim,
    Final((response::Parts, Framing, bool)),
}

/// Parses a response head at the start of `buf`; `None` when it is not complete yet. The head
/// is split off the buffer; header values share its memory. Hop-by-hop fields (RFC 9110
/// §7.6.1: `Connection` and the names it lists, `Keep-Alive`, `TE`, `Trailer`,
/// `Transfer-Encoding`, `Upgrade`, `Proxy-*`) are read for framing and keep-alive and left
/// out of the returned map, as `headers::strip_hop_by_hop` would remove them.
fn parse_head(
    buf: &mut BytesMut,
    method: &Method,
    kept: &mut Vec<Field>,
) -> Result<Option<Parsed>, ExchangeError> {
    // Uninitialised slots: httparse writes only the ones it fills (zeroing 128 slots for
    // every response was a third of the proxy's per-request instructions).
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ExchangeError::Protocol("too many response headers"));
        }
        Err(_) => return Err(ExchangeError::Protocol("malformed response head")),
    };
    let code = resp.code.unwrap_or(0);
    let status =
        StatusCode::from_u16(code).map_err(|_| ExchangeError::Protocol("invalid status code"))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(ExchangeError::Protocol("unexpected 101 without upgrade"));
    }
    if status.is_informational() {
        let _ = buf.split_to(len);
        return Ok(Some(Parsed::Interim));
    }
    let version = match resp.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };

    // Pass 1, on the raw fields: framing and connection options.
    let mut conn = ConnectionOptions::default();
    let mut transfer_encoding: Option<Option<&[u8]>> = None;
    let mut length: Option<u64> = None;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"connection") {
            conn.add(h.value);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = tokens(h.value).last();
            transfer_encoding = Some(last.or(transfer_encoding.flatten()));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for part in h.value.split(|b| *b == b',') {
                let n = parse_decimal(part.trim_ascii())
                    .ok_or(ExchangeError::Protocol("invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(ExchangeError::Protocol("conflicting content-length"));
                }
                length = Some(n);
            }
        }
    }
    let framing = if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else {
        match (transfer_encoding, length) {
            (Some(Some(last)), _) if last.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
            (Some(_), _) | (None, None) => Framing::Close,
            (None, Some(0)) => Framing::Empty,
            (None, Some(n)) => Framing::Length(n),
        }
    };
    let keep_alive = match version {
        Version::HTTP_10 => conn.keep_alive,
        _ => !conn.close,
    };

    // Pass 2: the end-to-end fields, as offsets into the head (which is then split off).
    let base = buf.as_ptr() as usize;
    let offset = |b: &[u8]| b.as_ptr() as usize - base;
    kept.clear();
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if crate::headers::is_hop_by_hop(name) || conn.lists(name) {
            continue;
        }
        kept.push((offset(name), name.len(), offset(h.value), h.value.len()));
    }
    let head = buf.split_to(len).freeze();
    // Room for what the proxy adds to the response (`X-Request-Id`) without regrowing.
    let mut headers = HeaderMap::with_capacity(kept.len() + 1);
    for &(ns, nl, vs, vl) in kept.iter() {
        let name = HeaderName::from_bytes(&head[ns..ns + nl])
            .map_err(|_| ExchangeError::Protocol("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(vs..vs + vl))
            .map_err(|_| ExchangeError::Protocol("invalid header value"))?;
        headers.append(name, value);
    }
    let (mut parts, ()) = response::Response::new(()).into_parts();
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(Parsed::Final((parts, framing, keep_alive))))
}

/// Comma-separated tokens of a field value, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// What the `Connection` fields of a response say.
#[derive(Default)]
struct ConnectionOptions<'a> {
    close: bool,
    keep_alive: bool,
    /// Other listed names: hop-by-hop fields of this message.
    listed: Vec<&'a [u8]>,
}

impl<'a> ConnectionOptions<'a> {
    fn add(&mut self, value: &'a [u8]) {
        for t in tokens(value) {
            if t.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if t.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else {
                self.listed.push(t);
            }
        }
    }

    fn lists(&self, name: &[u8]) -> bool {
        self.listed.iter().any(|l| l.eq_ignore_ascii_case(name))
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

enum Chunked {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty line.
    Trailers,
}

enum Decode {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
    Done,
    /// A framing error found ahead of time, reported by the next poll.
    Failed(Option<ExchangeError>),
}

/// A response body read straight from the upstream connection.
pub(crate) struct DirectBody {
    conn: Option<Box<DirectConn>>,
    pool: Arc<EndpointPool>,
    state: Decode,
    reusable: bool,
}

impl DirectBody {
    pub fn is_done(&self) -> bool {
        matches!(self.state, Decode::Done)
    }

    /// Finishes the framing when the rest of the body is already buffered (a chunked body
    /// often ends in the same read as its last data), and gives the connection back once the
    /// body is complete.
    fn settle(&mut self) {
        if let (Decode::Chunked(_), Some(conn)) = (&self.state, self.conn.as_mut()) {
            if let Err(e) = step_chunked(&mut self.state, &mut conn.buf, false) {
                self.state = Decode::Failed(Some(e));
            }
        }
        match self.state {
            Decode::Done => {
                if let Some(mut conn) = self.conn.take() {
                    if self.reusable && conn.buf.is_empty() {
                        conn.forget_readiness();
                        self.pool.put_direct(conn);
                    }
                }
            }
            Decode::Failed(_) => self.conn = None,
            _ => {}
        }
    }

    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ExchangeError>>> {
        loop {
            if let Decode::Failed(e) = &mut self.state {
                let e = e.take();
                self.state = Decode::Done;
                return Poll::Ready(e.map(Err));
            }
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let produced = match self.state {
                Decode::Done | Decode::Failed(_) => None,
                Decode::Length(_) if conn.buf.is_empty() => None,
                Decode::Length(left) => {
                    let n = conn
                        .buf
                        .len()
                        .min(usize::try_from(left).unwrap_or(usize::MAX));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        Decode::Done
                    } else {
                        Decode::Length(left)
                    };
                    Some(conn.buf.split_to(n).freeze())
                }
                Decode::UntilClose => (!conn.buf.is_empty()).then(|| conn.buf.split().freeze()),
                Decode::Chunked(_) => match step_chunked(&mut self.state, &mut conn.buf, true) {
                    Ok(d) => d,
                    Err(e) => {
                        self.conn = None;
                        self.state = Decode::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            };
            if let Some(data) = produced {
                self.settle();
                return Poll::Ready(Some(Ok(data)));
            }
            if matches!(self.state, Decode::Done) {
                self.settle();
                return Poll::Ready(None);
            }
            // Need more bytes from the socket.
            let want = match self.state {
                Decode::Length(left) => usize::try_from(left).unwrap_or(BODY_READ).min(BODY_READ),
                _ => BODY_READ,
            };
            conn.buf.reserve(want.max(1024));
            match ready!(poll_read_buf(
                &mut conn.io,
                &mut conn.buf,
                &mut conn.drained,
                cx
            )) {
                Ok(0) => {
                    self.conn = None;
                    let complete = matches!(self.state, Decode::UntilClose);
                    self.state = Decode::Done;
                    return Poll::Ready((!complete).then_some(Err(ExchangeError::Truncated)));
                }
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    self.state = Decode::Done;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

/// Advances the chunked decoder over `buf`: `Some(data)` for chunk bytes (only with
/// `take_data`; otherwise it stops in front of them), `None` when more input is needed or the
/// body is complete (state `Done`).
fn step_chunked(
    state: &mut Decode,
    buf: &mut BytesMut,
    take_data: bool,
) -> Result<Option<Bytes>, ExchangeError> {
    loop {
        let Decode::Chunked(chunked) = state else {
            return Ok(None);
        };
        match chunked {
            Chunked::Size => {
                let Some(line) = take_line(buf, MAX_CHUNK_LINE)? else {
                    return Ok(None);
                };
                let digits = line[..]
                    .split(|b| *b == b';')
                    .next()
                    .unwrap_or(&[])
                    .trim_ascii();
                let size =
                    parse_hex(digits).ok_or(ExchangeError::Protocol("invalid chunk size"))?;
                *chunked = if size == 0 {
                    Chunked::Trailers
                } else {
                    Chunked::Data(size)
                };
            }
            Chunked::Data(left) => {
                if buf.is_empty() || !take_data {
                    return Ok(None);
                }
                let n = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= n as u64;
                if *left == 0 {
                    *chunked = Chunked::DataEnd;
                }
                return Ok(Some(buf.split_to(n).freeze()));
            }
            Chunked::DataEnd => {
                let Some(line) = take_line(buf, 2)? else {
                    return Ok(None);
                };
                if !line.is_empty() {
                    return Err(ExchangeError::Protocol("missing CRLF after chunk"));
                }
                *chunked = Chunked::Size;
            }
            Chunked::Trailers => {
                let Some(line) = take_line(buf, MAX_HEAD)? else {
                    return Ok(None);
                };
                if line.is_empty() {
                    *state = Decode::Done;
                    return Ok(None);
                }
            }
        }
    }
}

/// Removes one CRLF- (or LF-) terminated line from the front of `buf`, without the line end.
fn take_line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, ExchangeError> {
    match buf.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i);
            if line.last() == Some(&b'\r') {
                line.truncate(i - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() > max => Err(ExchangeError::Protocol("line too long in chunked body")),
        None => Ok(None),
    }
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        let v = (*d as char).to_digit(16)?;
        Some(n * 16 + u64::from(v))
    })
}

impl DirectBody {
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        self.poll_data(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }

    pub fn size_hint(&self) -> SizeHint {
        match self.state {
            Decode::Done => SizeHint::with_exact(0),
            Decode::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}
