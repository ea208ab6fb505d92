//! Body types on both sides of the proxy. Both stream: nothing is buffered.
//!
//! - [`RequestBody`] is what goes upstream: the client's body counted against the body limit
//!   (a chunked body that grows past it fails the upstream request, which becomes a 413), or
//!   a body the proxy built itself (the WAF request-body phase will buffer, inspect and then
//!   forward through [`RequestBody::full`]).
//! - [`ResponseBody`] is what goes to the client: the upstream's body or a local text
//!   response. It carries the request's completion (`crate::completion`), run exactly once
//!   when the body ends or is dropped: access log line, metrics, and return of the upstream
//!   connection to its pool (only when the upstream body was read to its end).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::completion::Completion;
use crate::h1_client::{DirectBody, ExchangeError};

/// Why the request body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body exceeds the limit")]
    TooLarge,
    #[error("reading the client body failed: {0}")]
    Client(#[source] hyper::Error),
}

enum RequestInner {
    Stream(Incoming),
    Full(Option<Bytes>),
}

/// The body sent upstream.
pub struct RequestBody {
    inner: RequestInner,
    /// Bytes already read from `inner` (WAF inspection), sent before the rest.
    prefix: Option<Bytes>,
    /// Maximum number of bytes; `u64::MAX` when unlimited.
    limit: u64,
    seen: u64,
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("limit", &self.limit)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl RequestBody {
    /// The client's body, streamed, failing once more than `limit` bytes went through.
    pub fn streaming(body: Incoming, limit: Option<u64>) -> Self {
        RequestBody {
            inner: RequestInner::Stream(body),
            prefix: None,
            limit: limit.unwrap_or(u64::MAX),
            seen: 0,
        }
    }

    /// A body the proxy already holds in memory (e.g. after inspection).
    pub fn full(bytes: Bytes) -> Self {
        RequestBody {
            inner: RequestInner::Full((!bytes.is_empty()).then_some(bytes)),
            prefix: None,
            limit: u64::MAX,
            seen: 0,
        }
    }

    pub fn empty() -> Self {
        RequestBody::full(Bytes::new())
    }

    /// The whole body when the proxy holds all of it in memory (after inspection).
    pub(crate) fn in_memory(&self) -> Option<Bytes> {
        match (&self.inner, &self.prefix) {
            (RequestInner::Full(b), None) => Some(b.clone().unwrap_or_default()),
            _ => None,
        }
    }

    /// This body with `prefix` (bytes already read from it) sent first; the limit keeps
    /// counting from where it was.
    pub fn with_prefix(mut self, prefix: Bytes) -> Self {
        self.prefix = (!prefix.is_empty()).then_some(prefix);
        self
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        match &mut this.inner {
            RequestInner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            RequestInner::Stream(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        this.seen = this.seen.saturating_add(data.len() as u64);
                        if this.seen > this.limit {
                            return Poll::Ready(Some(Err(BodyError::TooLarge)));
                        }
                    }
                    Poll::Ready(Some(Ok(frame)))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Client(e)))),
                other => other.map(|o| o.map(|r| r.map_err(BodyError::Client))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.prefix.is_some() {
            return false;
        }
        match &self.inner {
            RequestInner::Full(b) => b.is_none(),
            RequestInner::Stream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let hint = match &self.inner {
            RequestInner::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            RequestInner::Full(None) => SizeHint::with_exact(0),
            RequestInner::Stream(body) => body.size_hint(),
        };
        match &self.prefix {
            None => hint,
            Some(p) => {
                let n = p.len() as u64;
                let mut h = SizeHint::new();
                h.set_lower(hint.lower().saturating_add(n));
                if let Some(u) = hint.upper() {
                    h.set_upper(u.saturating_add(n));
                }
                h
            }
        }
    }
}

enum ResponseInner {
    Upstream(Incoming),
    /// Read straight from the upstream socket by the request's task ([`crate::h1_client`]).
    Direct(DirectBody),
    Local(Option<Bytes>),
}

/// Why the body sent to the client stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ResponseBodyError {
    #[error(transparent)]
    Upstream(#[from] hyper::Error),
    #[error(transparent)]
    Direct(#[from] ExchangeError),
}

/// The body sent to the client.
pub struct ResponseBody {
    inner: ResponseInner,
    sent: u64,
    ended: bool,
    completion: Option<Completion>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("sent", &self.sent)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub fn upstream(body: Incoming) -> Self {
        ResponseBody {
            inner: ResponseInner::Upstream(body),
            sent: 0,
            ended: false,
            completion: None,
        }
    }

    pub(crate) fn direct(body: DirectBody) -> Self {
        ResponseBody {
            inner: ResponseInner::Direct(body),
            sent: 0,
            ended: false,
            completion: None,
        }
    }

    pub fn local(bytes: Bytes) -> Self {
        ResponseBody {
            inner: ResponseInner::Local((!bytes.is_empty()).then_some(bytes)),
            sent: 0,
            ended: false,
            completion: None,
        }
    }

    pub fn empty() -> Self {
        ResponseBody::local(Bytes::new())
    }

    /// Attaches what must run once the body has been sent (or abandoned).
    pub(crate) fn set_completion(&mut self, completion: Completion) {
        self.completion = Some(completion);
    }

    fn finish(&mut self) {
        if let Some(c) = self.completion.take() {
            let clean = self.ended || self.is_end_stream();
            c.finish(self.sent, clean);
        }
    }

    /// Reads the whole body (for tests and small local bodies).
    pub async fn collect_bytes(self) -> Result<Bytes, ResponseBodyError> {
        match BodyExt::collect(self).await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) => Err(e),
        }
    }
}

use http_body_util::BodyExt;

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ResponseBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ResponseBodyError>>> {
        let this = self.get_mut();
        let polled = match &mut this.inner {
            ResponseInner::Local(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseInner::Direct(body) => body.poll_frame(cx).map_err_into(),
            ResponseInner::Upstream(body) => Pin::new(body).poll_frame(cx).map_err_into(),
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                this.ended = true;
                this.finish();
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended
            || match &self.inner {
                ResponseInner::Local(b) => b.is_none(),
                ResponseInner::Direct(body) => body.is_done(),
                ResponseInner::Upstream(body) => body.is_end_stream(),
            }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            ResponseInner::Local(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseInner::Local(None) => SizeHint::with_exact(0),
            ResponseInner::Direct(body) => body.size_hint(),
            ResponseInner::Upstream(body) => body.size_hint(),
        }
    }
}

/// `Poll<Option<Result<T, E>>>` → the same with the error converted.
trait MapErrInto<T> {
    fn map_err_into(self) -> Poll<Option<Result<T, ResponseBodyError>>>;
}

impl<T, E: Into<ResponseBodyError>> MapErrInto<T> for Poll<Option<Result<T, E>>> {
    fn map_err_into(self) -> Poll<Option<Result<T, ResponseBodyError>>> {
        self.map(|o| o.map(|r| r.map_err(Into::into)))
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}
