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
                if depth == 0 {
                    roots += 1;
                    if roots > 1 {
                        return Err(err(pos, &"extra content at the end of the document"));
                    }
                }
                for attr in start.attributes().with_checks(true) {
                    let attr = attr.map_err(|e| err(pos, &e))?;
                    let value = match attr.unescape_value() {
                        Ok(v) => v.into_owned().into_bytes(),
                        Err(_) if has_doctype => attr.value.into_owned(),
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
                let value = match text.unescape() {
                    Ok(v) => v.into_owned().into_bytes(),
                    Err(_) if has_doctype => text.to_vec(),
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
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
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
