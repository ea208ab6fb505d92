//! XML bodies: well-formedness check and the values behind `XML:/*` and `XML://@*`.
//!
//! ModSecurity evaluates `XML:/*` with libxml2: the XPath selects the root element and its
//! value is the element's text content, i.e. all descendant text and CDATA concatenated in
//! document order (comments and processing instructions excluded). `XML://@*` yields every
//! attribute value. A document that is not well formed (mismatched or unclosed tags, several
//! roots, text outside the root, undefined entities, invalid UTF-8, control characters, bad
//! names or declarations, `]]>` in text, `<` in attribute values) is an error, which the
//! engine exposes as `REQBODY_ERROR`; [`parse_xml_partial`] also keeps what libxml2 would
//! have built before the error. Line ends are normalized (CRLF/CR to LF; whitespace in
//! attribute values to spaces). Errors and values were compared with libmodsecurity 3.0.9
//! (libxml2) on the table cases and on a few thousand mutated documents.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::BodyError;

/// A parsed XML body.
#[derive(Debug, Clone, Default)]
pub struct XmlDocument {
    /// Every text/CDATA node in document order, entities decoded.
    texts: Vec<Vec<u8>>,
    /// Every attribute value in document order, entities decoded.
    attributes: Vec<Vec<u8>>,
    /// Whether a root element was opened (`XML:/*` has no value otherwise).
    root_seen: bool,
}

impl XmlDocument {
    /// values for the XPath `/*` (all text nodes): one value, the root element's text content
    /// (the concatenation of every text node), as libxml2 gives it to ModSecurity.
    pub fn text_values(&self) -> Vec<Vec<u8>> {
        if self.root_seen {
            vec![self.texts.concat()]
        } else {
            Vec::new()
        }
    }

    /// The individual text and CDATA nodes, in document order.
    pub fn text_nodes(&self) -> &[Vec<u8>] {
        &self.texts
    }

    /// Values for the XPath `//@*`: every attribute value.
    pub fn attribute_values(&self) -> Vec<Vec<u8>> {
        self.attributes.clone()
    }
}

/// Parses an XML body; malformed documents are an error.
pub fn parse_xml(body: &[u8]) -> Result<XmlDocument, BodyError> {
    match parse_xml_partial(body) {
        (doc, None) => Ok(doc),
        (_, Some(error)) => Err(error),
    }
}

/// Like [`parse_xml`], but also returns what was parsed before an error: libxml2 builds the
/// tree as it goes, so ModSecurity still sees `XML:/*` values (the first root's text so far)
/// for a malformed document, alongside `REQBODY_ERROR`.
pub fn parse_xml_partial(body: &[u8]) -> (XmlDocument, Option<BodyError>) {
    let utf8_end = std::str::from_utf8(body).err().map(|e| e.valid_up_to());
    let control = body
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'));
    let bad = match (utf8_end, control) {
        (Some(u), Some(c)) if c < u => Some((c, "control character not allowed in XML")),
        (Some(u), _) => Some((u, "document is not valid UTF-8")),
        (None, Some(c)) => Some((c, "control character not allowed in XML")),
        (None, None) => None,
    };
    let mut doc = XmlDocument::default();
    let end = bad.map_or(body.len(), |(pos, _)| pos);
    let result = scan(&body[..end], &mut doc);
    let error = match bad {
        Some((pos, what)) => Some(error_at(pos as u64, &what)),
        None => result.err(),
    };
    (doc, error)
}

fn error_at(pos: u64, what: &dyn std::fmt::Display) -> BodyError {
    BodyError::Xml(format!("{what} at byte {pos}"))
}

/// Parses `body` (valid UTF-8 without control characters) into `doc`, stopping at the first
/// well-formedness error.
fn scan(body: &[u8], doc: &mut XmlDocument) -> Result<(), BodyError> {
    let err = error_at;
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut has_doctype = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| err(pos, &e))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                if !is_xml_name(start.name().as_ref()) {
                    return Err(err(pos, &"invalid element name"));
                }
                // The whole start tag is checked before the element counts (as in libxml2).
                let mut values = Vec::new();
                for attr in start.attributes().with_checks(true) {
                    let attr = attr.map_err(|e| err(pos, &e))?;
                    if !is_xml_name(attr.key.as_ref()) {
                        return Err(err(pos, &"invalid attribute name"));
                    }
                    if attr.value.contains(&b'<') {
                        return Err(err(pos, &"unescaped '<' not allowed in attribute values"));
                    }
                    // Attribute-value normalization: literal line ends and tabs become spaces.
                    let raw = normalize_line_ends(&attr.value).replace(['\n', '\t'], " ");
                    values.push(match quick_xml::escape::unescape(&raw) {
                        Ok(v) => v.into_owned().into_bytes(),
                        Err(_) if has_doctype => raw.into_bytes(),
                        Err(e) => return Err(err(pos, &e)),
                    });
                }
                if depth == 0 {
                    roots += 1;
                    if roots > 1 {
                        return Err(err(pos, &"extra content at the end of the document"));
                    }
                    doc.root_seen = true;
                }
                doc.attributes.extend(values);
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(text) => {
                if depth == 0 {
                    if text.iter().all(|b| b.is_ascii_whitespace()) {
                        continue;
                    }
                    return Err(err(pos, &"content outside the root element"));
                }
                if text.windows(3).any(|w| w == b"]]>") {
                    return Err(err(pos, &"sequence ']]>' not allowed in content"));
                }
                let raw = normalize_line_ends(&text);
                let value = match quick_xml::escape::unescape(&raw) {
                    Ok(v) => v.into_owned().into_bytes(),
                    Err(_) if has_doctype => raw.into_bytes(),
                    Err(e) => {
                        // The text before the bad reference is already in libxml2's tree.
                        let good = raw.split('&').next().unwrap_or_default();
                        doc.texts.push(good.as_bytes().to_vec());
                        return Err(err(pos, &e));
                    }
                };
                doc.texts.push(value);
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(err(pos, &"CDATA outside the root element"));
                }
                doc.texts.push(data.to_vec());
            }
            Event::DocType(_) => has_doctype = true,
            Event::Decl(decl) => {
                let version = decl.version().map_err(|e| err(pos, &e))?;
                if !is_version_number(&version) {
                    return Err(err(pos, &"malformed declaration: bad version"));
                }
                if let Some(encoding) = decl.encoding() {
                    encoding.map_err(|e| err(pos, &e))?;
                }
                if let Some(standalone) = decl.standalone() {
                    standalone.map_err(|e| err(pos, &e))?;
                }
            }
            Event::PI(pi) => {
                // The target must be a name, and `xml` is reserved for the declaration.
                let target = pi
                    .split(|c| c.is_ascii_whitespace())
                    .next()
                    .unwrap_or_default();
                if !is_xml_name(target) || target.eq_ignore_ascii_case(b"xml") {
                    return Err(err(pos, &"invalid processing instruction target"));
                }
            }
            Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(BodyError::Xml(
            "premature end of data: unclosed element".into(),
        ));
    }
    if roots == 0 {
        return Err(BodyError::Xml("document is empty".into()));
    }
    Ok(())
}

/// An XML `Name` (ASCII rules; any non-ASCII byte is accepted as a name character).
fn is_xml_name(name: &[u8]) -> bool {
    let start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80;
    match name.split_first() {
        Some((&first, rest)) => {
            start(first)
                && rest
                    .iter()
                    .all(|&c| start(c) || c.is_ascii_digit() || c == b'-' || c == b'.')
        }
        None => false,
    }
}

/// `VersionNum ::= [0-9]+ '.' [0-9]*`, as lenient as libxml2 is.
fn is_version_number(version: &[u8]) -> bool {
    let Some(dot) = version.iter().position(|&c| c == b'.') else {
        return false;
    };
    let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    dot > 0 && digits(&version[..dot]) && digits(&version[dot + 1..])
}

/// XML end-of-line handling: CRLF and lone CR become LF. The input is valid UTF-8 (checked
/// up front), so the lossy conversion never replaces anything.
fn normalize_line_ends(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}
