//! JSON bodies, flattened into arguments named as ModSecurity v3 names them.
//!
//! Naming (ModSecurity v3 with yajl): the top-level container is called `json`; an object
//! member adds `.key`; an array element adds `.array_N` to its array's name, so `{"a":{"b":1},
//! "c":[true,{"d":null}]}` gives `json.a.b=1`, `json.c.array_0=true`, `json.c.array_1.d=`
//! (null is empty, booleans are `true`/`false`, numbers keep their text). A top-level scalar is
//! named `json`; an empty key becomes `empty-key`. Strings must be valid UTF-8 (yajl checks),
//! nothing may follow the top-level value, and containers nested deeper than the depth limit
//! are an error. The scanner is iterative, so deep nesting cannot overflow the stack. Names,
//! values, errors and the arguments kept before an error ([`parse_json_partial`]) were
//! compared with libmodsecurity 3.0.9 (yajl) on the table cases and on mutated documents.
//! Note: libmodsecurity 3.0.9 adds JSON arguments to `ARGS` only, not to `ARGS_POST`.

use super::{BodyError, Pairs};

/// Argument names as ModSecurity v3 names them (e.g. `json.a.b`, arrays per ModSecurity v3).
pub fn parse_json(body: &[u8], depth_limit: usize) -> Result<Pairs, BodyError> {
    match parse_json_partial(body, depth_limit) {
        (pairs, None) => Ok(pairs),
        (_, Some(error)) => Err(error),
    }
}

/// Like [`parse_json`], but keeps the arguments found before an error, as ModSecurity does
/// (its yajl callbacks add each argument as soon as it is parsed): a malformed document still
/// has its well-formed prefix inspected, and the error becomes `REQBODY_ERROR`.
pub fn parse_json_partial(body: &[u8], depth_limit: usize) -> (Pairs, Option<BodyError>) {
    let (args, error) = json_args(body, depth_limit);
    let pairs = args.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    (pairs, error)
}

/// The arguments of a JSON body in one buffer: (name, value) byte ranges of `bytes`.
#[derive(Debug, Default)]
pub struct JsonArgs {
    bytes: Vec<u8>,
    /// Per argument: where its name starts, where its value starts (the name's end) and
    /// where the value ends.
    spans: Vec<(u32, u32, u32)>,
}

impl JsonArgs {
    /// (name, value) of each argument, in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|&(a, b, c)| {
            let (a, b, c) = (a as usize, b as usize, c as usize);
            (&self.bytes[a..b], &self.bytes[b..c])
        })
    }
}

/// [`parse_json_partial`] without an allocation per name and value: the arguments in one
/// buffer (a 1 KB JSON body has ~40 arguments).
pub fn json_args(body: &[u8], depth_limit: usize) -> (JsonArgs, Option<BodyError>) {
    let mut buffers = JsonBuffers::default();
    let error = json_args_into(body, depth_limit, &mut buffers);
    (buffers.namer.args, error)
}

/// The buffers of [`json_args_into`], reusable from one body to the next (a transaction's
/// scratch keeps them: parsing a body then allocates only when it is larger or deeper than
/// the ones before).
#[derive(Debug, Default)]
pub struct JsonBuffers {
    namer: Namer,
    /// Open containers: true = object.
    stack: Vec<bool>,
    /// A string value, decoded.
    text: Vec<u8>,
}

impl JsonBuffers {
    /// The arguments of the last body parsed.
    pub fn args(&self) -> &JsonArgs {
        &self.namer.args
    }

    /// Roughly the bytes held on the heap.
    pub fn heap_size(&self) -> usize {
        let n = &self.namer;
        n.args.bytes.capacity()
            + n.args.spans.capacity() * 12
            + n.current_key.capacity()
            + n.containers
                .iter()
                .chain(&n.spare)
                .map(|(name, _)| name.capacity() + 32)
                .sum::<usize>()
            + self.stack.capacity()
            + self.text.capacity()
    }
}

/// [`json_args`] into reused buffers: the arguments are then in `buffers.args()` (those
/// found before the error, if any).
pub fn json_args_into(
    body: &[u8],
    depth_limit: usize,
    buffers: &mut JsonBuffers,
) -> Option<BodyError> {
    let JsonBuffers { namer, stack, text } = buffers;
    namer.reset();
    stack.clear();
    if body.is_empty() {
        return None;
    }
    scan(body, depth_limit, namer, stack, text).err()
}

/// Walks the document, reporting values to `namer`; stops at the first error.
fn scan(
    body: &[u8],
    depth_limit: usize,
    namer: &mut Namer,
    stack: &mut Vec<bool>,
    text: &mut Vec<u8>,
) -> Result<(), BodyError> {
    let mut scanner = Scanner {
        input: body,
        pos: 0,
    };
    let mut expect_value = true;
    let mut done = false;
    loop {
        scanner.skip_ws();
        let Some(c) = scanner.peek() else { break };
        if done {
            return Err(scanner.error("trailing garbage"));
        }
        if expect_value {
            match c {
                b'{' | b'[' => {
                    scanner.pos += 1;
                    stack.push(c == b'{');
                    if stack.len() > depth_limit {
                        return Err(BodyError::JsonDepth(depth_limit));
                    }
                    namer.open(c == b'[');
                    scanner.skip_ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if scanner.peek() == Some(close) {
                        scanner.pos += 1;
                        stack.pop();
                        namer.close();
                        done = stack.is_empty();
                        expect_value = false;
                        continue;
                    }
                    if c == b'{' {
                        scanner.key(&mut namer.current_key)?;
                    }
                    continue;
                }
                b'"' => {
                    text.clear();
                    scanner.string(text)?;
                    namer.value(text);
                }
                b't' => namer.value(scanner.literal(b"true")?),
                b'f' => namer.value(scanner.literal(b"false")?),
                b'n' => {
                    scanner.literal(b"null")?;
                    namer.value(b"");
                }
                b'-' | b'0'..=b'9' => namer.value(scanner.number()?),
                _ => return Err(scanner.error("invalid char in json text")),
            }
            expect_value = false;
            done = stack.is_empty();
            continue;
        }
        // After a value: ',' or the closing bracket of the innermost container.
        let Some(&is_object) = stack.last() else {
            return Err(scanner.error("trailing garbage"));
        };
        scanner.pos += 1;
        match (c, is_object) {
            (b',', true) => {
                scanner.key(&mut namer.current_key)?;
                expect_value = true;
            }
            (b',', false) => expect_value = true,
            (b'}', true) | (b']', false) => {
                stack.pop();
                namer.close();
                done = stack.is_empty();
            }
            _ => return Err(scanner.error("after value, expected ',' or closing bracket")),
        }
    }
    if !done {
        return Err(scanner.error("premature EOF"));
    }
    Ok(())
}

/// Builds argument names from container events, exactly as ModSecurity's JSON processor.
#[derive(Debug, Default)]
struct Namer {
    /// (name, Some(element counter) for arrays / None for objects)
    containers: Vec<(Vec<u8>, Option<usize>)>,
    /// Closed containers, their name buffers kept for the next ones.
    spare: Vec<(Vec<u8>, Option<usize>)>,
    /// The last object key read (decoded); consumed by the member's value or container.
    current_key: Vec<u8>,
    args: JsonArgs,
}

/// The name part of the next value or container: the current key, `json` at the top level,
/// nothing for an array element, `empty-key` for an empty key.
fn member_name<'a>(containers: &[(Vec<u8>, Option<usize>)], key: &'a [u8]) -> &'a [u8] {
    match (containers.last(), key.is_empty()) {
        (None, _) => b"json",
        (Some((_, Some(_))), true) => b"",
        (Some(_), true) => b"empty-key",
        (Some(_), false) => key,
    }
}

impl Namer {
    /// Empty, keeping the buffers.
    fn reset(&mut self) {
        self.spare.append(&mut self.containers);
        self.current_key.clear();
        self.args.bytes.clear();
        self.args.spans.clear();
    }

    fn open(&mut self, array: bool) {
        let mut entry = self.spare.pop().unwrap_or_default();
        entry.0.clear();
        entry
            .0
            .extend_from_slice(member_name(&self.containers, &self.current_key));
        entry.1 = array.then_some(0);
        self.current_key.clear();
        self.containers.push(entry);
    }

    fn close(&mut self) {
        if let Some(entry) = self.containers.pop() {
            self.spare.push(entry);
        }
        if let Some((_, Some(counter))) = self.containers.last_mut() {
            *counter += 1;
        }
    }

    fn value(&mut self, value: &[u8]) {
        let Namer {
            containers,
            current_key,
            args,
            ..
        } = self;
        let path = &mut args.bytes;
        let start = path.len();
        for (name, counter) in containers.iter() {
            path.extend_from_slice(name);
            match counter {
                Some(n) => {
                    path.extend_from_slice(b".array_");
                    crate::setvar::push_int(path, *n as i64);
                }
                None => path.push(b'.'),
            }
        }
        path.extend_from_slice(member_name(containers, current_key));
        match containers.last_mut() {
            Some((_, Some(counter))) => *counter += 1,
            _ => current_key.clear(),
        }
        let mid = path.len();
        path.extend_from_slice(value);
        let end = path.len();
        args.spans.push((start as u32, mid as u32, end as u32));
    }
}

struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn error(&self, what: &str) -> BodyError {
        BodyError::Json(format!("{what} at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        // yajl also skips vertical tab and form feed.
        while matches!(
            self.peek(),
            Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
        ) {
            self.pos += 1;
        }
    }

    /// An object key and its colon; the key decoded into `key` (emptied first).
    fn key(&mut self, key: &mut Vec<u8>) -> Result<(), BodyError> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("invalid object key (must be a string)"));
        }
        key.clear();
        self.string(key)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error("object key and value must be separated by a colon"));
        }
        self.pos += 1;
        Ok(())
    }

    fn literal<'w>(&mut self, word: &'w [u8]) -> Result<&'w [u8], BodyError> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(word)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<&[u8], BodyError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => {
                return Err(
                    self.error("malformed number, a digit is required after the minus sign")
                );
            }
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(
                    self.error("malformed number, a digit is required after the decimal point")
                );
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("malformed number, a digit is required after the exponent"));
            }
            self.digits();
        }
        Ok(&self.input[start..self.pos])
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// A string starting at the opening quote, appended to `out`: escapes decoded, UTF-8
    /// validated.
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), BodyError> {
        self.pos += 1;
        let from = out.len();
        loop {
            // Plain bytes in one copy, up to the next quote, backslash or control byte.
            let rest = &self.input[self.pos..];
            let run = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..run]);
            self.pos += run;
            let Some(c) = self.peek() else {
                return Err(self.error("premature EOF in string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("premature EOF in string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let ch = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(self.error(
                                "inside a string, '\\' occurs before a character which it may not",
                            ));
                        }
                    }
                }
                _ => return Err(self.error("invalid character inside string")),
            }
        }
        let text = &out[from..];
        if !text.is_ascii() && std::str::from_utf8(text).is_err() {
            return Err(self.error("invalid bytes in UTF8 string"));
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, BodyError> {
        let digits = self
            .input
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("invalid \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.error("invalid \\u escape"))?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.error("invalid \\u escape"));
        }
        self.pos += 4;
        Ok(v)
    }

    /// yajl turns unpaired surrogates into '?'.
    fn unicode_escape(&mut self) -> Result<char, BodyError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            if self.input[self.pos..].starts_with(b"\\u") {
                self.pos += 2;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return Ok(char::from_u32(code).unwrap_or('?'));
                }
                return Ok('?');
            }
            return Ok('?');
        }
        Ok(char::from_u32(first).unwrap_or('?'))
    }
}
