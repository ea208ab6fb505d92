//! XML bodies: well-formedness check, the values behind `XML:/*` and `XML://@*`, and the
//! document tree other XPaths are evaluated on ([`super::XPath`]).
//!
//! ModSecurity evaluates `XML:/*` with libxml2: the XPath selects the root element and its
//! value is the element's text content, i.e. all descendant text and CDATA concatenated in
//! document order (comments and processing instructions excluded). `XML://@*` yields every
//! attribute value (here including `xmlns` declarations, which libxml2 leaves out). Both are
//! computed while parsing. The tree ([`parse_xml`]; [`parse_xml_values`] skips it) keeps the
//! document node, elements (names as written, prefix included), attributes in order, text
//! and CDATA nodes (a text run with its entity references is one node, as libxml2 merges
//! them), comments and processing instructions, in document order; a partial document keeps
//! the nodes built before the error, its open elements closed.
//!
//! A document that is not well formed (mismatched or unclosed tags, several roots, text
//! outside the root, undefined entities, invalid UTF-8, control characters, bad names or
//! declarations, `]]>` in text, `<` in attribute values) is an error, which the engine
//! exposes as `REQBODY_ERROR` (and then no `XML` values); [`parse_xml_partial`] also keeps
//! what libxml2 would have built before the error. Line ends are normalized (CRLF/CR to LF;
//! whitespace in attribute values to spaces). Errors and values were compared with
//! libmodsecurity 3.0.9 (libxml2) on the table cases and on a few thousand mutated documents;
//! XPath values on the XPath table and on random expressions (`tests/body_oracle.rs`).

use quick_xml::Reader;
use quick_xml::events::Event;

use super::BodyError;

/// What a node of the document tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// The document node (node 0), parent of the root element and of top-level comments
    /// and processing instructions.
    Document,
    Element,
    Attribute,
    /// An `xmlns` / `xmlns:p` attribute: a namespace declaration for libxml2, which XPath
    /// does not see as an attribute (`//@*` keeps its values, as before the tree existed).
    NamespaceDecl,
    /// A text or CDATA node.
    Text,
    Comment,
    ProcessingInstruction,
}

/// One node of the tree. Nodes are stored in document order (preorder, an element's
/// attributes right after it and before its children), so a node's subtree is the index
/// range `id + 1 .. end` and sorting node ids sorts them in document order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// The parent node (the owner element for attributes); 0 for the document itself.
    pub parent: u32,
    /// One past the last node of this node's subtree.
    pub end: u32,
    /// Element / attribute name: `start, len` in [`XmlDocument::names`].
    pub name: (u32, u32),
    /// Index of the value: in `texts` (text), `attributes` (attributes, namespace
    /// declarations) or `others` (comments, processing instructions).
    pub value: u32,
}

const OPEN: u32 = u32::MAX;

/// A parsed XML body.
#[derive(Debug, Clone)]
pub struct XmlDocument {
    /// Every text/CDATA node in document order, entities decoded.
    texts: Vec<Vec<u8>>,
    /// Every attribute value in document order, entities decoded.
    attributes: Vec<Vec<u8>>,
    /// Comment and processing-instruction contents.
    others: Vec<Vec<u8>>,
    /// Element and attribute names, back to back.
    names: Vec<u8>,
    /// The tree, in document order; node 0 is the document node.
    nodes: Vec<Node>,
    /// Whether a root element was opened (`XML:/*` has no value otherwise).
    root_seen: bool,
    /// Whether `nodes` is built (see [`parse_xml_values`]).
    tree: bool,
}

impl Default for XmlDocument {
    fn default() -> Self {
        XmlDocument {
            texts: Vec::new(),
            attributes: Vec::new(),
            others: Vec::new(),
            names: Vec::new(),
            nodes: vec![Node {
                kind: NodeKind::Document,
                parent: 0,
                end: OPEN,
                name: (0, 0),
                value: 0,
            }],
            root_seen: false,
            tree: true,
        }
    }
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

    /// Values for the XPath `//@*`: every attribute value (namespace declarations included).
    pub fn attribute_values(&self) -> Vec<Vec<u8>> {
        self.attributes.clone()
    }

    /// The values of an XPath selector (`XML:<xpath>`): one per node of the node-set, its
    /// string value, in document order (see [`super::xpath`]). A document from
    /// [`parse_xml_values`] has no tree: only `/*` and `//@*` give values.
    pub fn select(&self, xpath: &super::XPath) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        xpath.select(self, |v| out.push(v.to_vec()));
        out
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub(crate) fn name(&self, node: &Node) -> &[u8] {
        let (start, len) = node.name;
        &self.names[start as usize..(start + len) as usize]
    }

    /// Appends a node's string value (XPath / `xmlNodeGetContent`) to `out`: an element's or
    /// the document's text and CDATA descendants concatenated, the value of anything else.
    pub(crate) fn string_value(&self, id: u32, out: &mut Vec<u8>) {
        let node = &self.nodes[id as usize];
        match node.kind {
            NodeKind::Document | NodeKind::Element => {
                for n in &self.nodes[id as usize + 1..node.end as usize] {
                    if n.kind == NodeKind::Text {
                        out.extend_from_slice(&self.texts[n.value as usize]);
                    }
                }
            }
            NodeKind::Text => out.extend_from_slice(&self.texts[node.value as usize]),
            NodeKind::Attribute | NodeKind::NamespaceDecl => {
                out.extend_from_slice(&self.attributes[node.value as usize])
            }
            NodeKind::Comment | NodeKind::ProcessingInstruction => {
                out.extend_from_slice(&self.others[node.value as usize])
            }
        }
    }

    fn add(&mut self, kind: NodeKind, parent: u32, name: &[u8], value: usize) -> u32 {
        if !self.tree {
            return 0;
        }
        let id = self.nodes.len() as u32;
        let start = self.names.len() as u32;
        self.names.extend_from_slice(name);
        self.nodes.push(Node {
            kind,
            parent,
            end: if kind == NodeKind::Element {
                OPEN
            } else {
                id + 1
            },
            name: (start, name.len() as u32),
            value: value as u32,
        });
        id
    }

    /// Closes every element left open (a partial document) and the document node.
    fn finish(&mut self) {
        let len = self.nodes.len() as u32;
        for node in &mut self.nodes {
            if node.end == OPEN {
                node.end = len;
            }
        }
    }
}

/// Parses an XML body; malformed documents are an error.
pub fn parse_xml(body: &[u8]) -> Result<XmlDocument, BodyError> {
    match parse_xml_partial(body) {
        (doc, None) => Ok(doc),
        (_, Some(error)) => Err(error),
    }
}

/// Like [`parse_xml`], without building the element tree: the values of `/*` and `//@*`
/// only (what the engine needs when no rule has another XPath; a little faster).
pub fn parse_xml_values(body: &[u8]) -> Result<XmlDocument, BodyError> {
    let mut doc = XmlDocument {
        tree: false,
        ..XmlDocument::default()
    };
    match parse_into(body, &mut doc) {
        None => Ok(doc),
        Some(error) => Err(error),
    }
}

/// Like [`parse_xml`], but also returns what was parsed before an error: libxml2 builds the
/// tree as it goes, so ModSecurity still sees `XML:/*` values (the first root's text so far)
/// for a malformed document, alongside `REQBODY_ERROR`.
pub fn parse_xml_partial(body: &[u8]) -> (XmlDocument, Option<BodyError>) {
    let mut doc = XmlDocument::default();
    let error = parse_into(body, &mut doc);
    (doc, error)
}

fn parse_into(body: &[u8], doc: &mut XmlDocument) -> Option<BodyError> {
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
    let end = bad.map_or(body.len(), |(pos, _)| pos);
    let result = scan(&body[..end], doc);
    doc.finish();
    match bad {
        Some((pos, what)) => Some(error_at(pos as u64, &what)),
        None => result.err(),
    }
}

/// Open elements above which a new element is an error (libxml2's `xmlParserMaxDepth`).
const MAX_DEPTH: usize = 256;

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
    // Open elements (node ids); the innermost is the parent of new nodes.
    let mut open: Vec<u32> = Vec::new();
    let mut has_doctype = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| err(pos, &e))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                // libxml2 without XML_PARSE_HUGE (as ModSecurity parses) stops at this depth;
                // it also bounds `XML://*`, whose values repeat the text below each element.
                if depth > MAX_DEPTH {
                    return Err(err(pos, &"excessive depth in document"));
                }
                if !is_xml_name(start.name().as_ref()) {
                    return Err(err(pos, &"invalid element name"));
                }
                // The whole start tag is checked before the element counts (as in libxml2).
                let mut values = Vec::new();
                let mut attr_names: Vec<&[u8]> = Vec::new();
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
                    if doc.tree {
                        attr_names.push(attr.key.into_inner());
                    }
                }
                if depth == 0 {
                    roots += 1;
                    if roots > 1 {
                        return Err(err(pos, &"extra content at the end of the document"));
                    }
                    doc.root_seen = true;
                }
                let parent = open.last().copied().unwrap_or(0);
                let element = doc.add(NodeKind::Element, parent, start.name().as_ref(), 0);
                let first = doc.attributes.len();
                for (i, name) in attr_names.into_iter().enumerate() {
                    let kind = if name == b"xmlns" || name.starts_with(b"xmlns:") {
                        NodeKind::NamespaceDecl
                    } else {
                        NodeKind::Attribute
                    };
                    doc.add(kind, element, name, first + i);
                }
                doc.attributes.extend(values);
                if empty {
                    if doc.tree {
                        doc.nodes[element as usize].end = doc.nodes.len() as u32;
                    }
                } else {
                    depth += 1;
                    open.push(element);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some(element) = open.pop().filter(|_| doc.tree) {
                    doc.nodes[element as usize].end = doc.nodes.len() as u32;
                }
            }
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
                        push_text(doc, &open, good.as_bytes().to_vec());
                        return Err(err(pos, &e));
                    }
                };
                push_text(doc, &open, value);
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(err(pos, &"CDATA outside the root element"));
                }
                push_text(doc, &open, data.to_vec());
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
                if !doc.tree {
                    continue;
                }
                // Its content (XPath string value) is the data after the target.
                let data = pi[target.len()..].trim_ascii_start();
                let parent = open.last().copied().unwrap_or(0);
                let value = normalize_line_ends(data).into_bytes();
                doc.add(
                    NodeKind::ProcessingInstruction,
                    parent,
                    target,
                    doc.others.len(),
                );
                doc.others.push(value);
            }
            Event::Comment(_) if !doc.tree => {}
            Event::Comment(comment) => {
                let parent = open.last().copied().unwrap_or(0);
                doc.add(NodeKind::Comment, parent, b"", doc.others.len());
                doc.others.push(normalize_line_ends(&comment).into_bytes());
            }
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

/// Appends a text/CDATA node under the innermost open element.
fn push_text(doc: &mut XmlDocument, open: &[u32], value: Vec<u8>) {
    let parent = open.last().copied().unwrap_or(0);
    doc.add(NodeKind::Text, parent, b"", doc.texts.len());
    doc.texts.push(value);
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
