//! XML bodies: well-formedness check and the values behind `XML:/*` and `XML://@*`.
//!
//! ModSecurity evaluates `XML:/*` with libxml2: the XPath selects the root element and its
//! value is the element's text content, i.e. all descendant text and CDATA concatenated in
//! document order (comments and processing instructions excluded). `XML://@*` yields every
//! attribute value. A document that is not well formed (mismatched or unclosed tags, several
//! roots, text outside the root, undefined entities, invalid UTF-8) is an error, which the
//! engine exposes as `REQBODY_ERROR`.

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
}

impl XmlDocument {
    /// values for the XPath `/*` (all text nodes): one value, the root element's text content
    /// (the concatenation of every text node), as libxml2 gives it to ModSecurity.
    pub fn text_values(&self) -> Vec<Vec<u8>> {
        vec![self.texts.concat()]
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
    let err =
        |pos: u64, what: &dyn std::fmt::Display| BodyError::Xml(format!("{what} at byte {pos}"));
    if std::str::from_utf8(body).is_err() {
        return Err(BodyError::Xml("document is not valid UTF-8".into()));
    }
    if let Some(pos) = body
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return Err(err(pos as u64, &"control character not allowed in XML"));
    }
    let mut reader = Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut doc = XmlDocument::default();
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
                if depth == 0 {
                    roots += 1;
                    if roots > 1 {
                        return Err(err(pos, &"extra content at the end of the document"));
                    }
                }
                for attr in start.attributes().with_checks(true) {
                    let attr = attr.map_err(|e| err(pos, &e))?;
                    if !is_xml_name(attr.key.as_ref()) {
                        return Err(err(pos, &"invalid attribute name"));
                    }
                    // Attribute-value normalization: literal line ends and tabs become spaces.
                    let raw = normalize_line_ends(&attr.value).replace(['\n', '\t'], " ");
                    let value = match quick_xml::escape::unescape(&raw) {
                        Ok(v) => v.into_owned().into_bytes(),
                        Err(_) if has_doctype => raw.into_bytes(),
                        Err(e) => return Err(err(pos, &e)),
                    };
                    doc.attributes.push(value);
                }
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
                    Err(e) => return Err(err(pos, &e)),
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
    Ok(doc)
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

/// `VersionNum ::= [0-9]+ '.' [0-9]+` as libxml2 parses it.
fn is_version_number(version: &[u8]) -> bool {
    let Some(dot) = version.iter().position(|&c| c == b'.') else {
        return false;
    };
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    digits(&version[..dot]) && digits(&version[dot + 1..])
}

/// XML end-of-line handling: CRLF and lone CR become LF. The input is valid UTF-8 (checked
/// up front), so the lossy conversion never replaces anything.
fn normalize_line_ends(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}
