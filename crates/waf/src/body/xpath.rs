//! The XPath subset of `XML:<xpath>` targets, compiled when rules load and evaluated on the
//! parsed body ([`XmlDocument`]) the way ModSecurity v3 does it with libxml2: the
//! expression's node-set, in document order without duplicates, gives one value per node,
//! the node's string value (`xmlNodeGetContent`): an element's (or the document's) text and
//! CDATA descendants concatenated, an attribute's value, a text node's text, a comment's or
//! processing instruction's content.
//!
//! Supported: absolute location paths (`/`, `/a/b`, `//b`, `/a//b/@c`) whose steps are
//! - a node test: an element name (`name`, `prefix:name`), `prefix:*`, `*`, `text()`,
//!   `node()`, `comment()`, `processing-instruction()`;
//! - on the axes `child` (default), `attribute` (`@`), `descendant`, `descendant-or-self`,
//!   `self` (`.`) and `parent` (`..`), also written out (`child::a`);
//! - with predicates `[n]` (position), `[@name]` and `[@name='value']` / `[@name="value"]`.
//!
//! Names are compared literally, prefix included: the engine has no `xmlns` action to bind
//! prefixes to namespace URIs, so `p:item` selects elements written `<p:item>` and `item`
//! selects `<item>` even under a default namespace (libxml2 would select nothing in both
//! cases). `xmlns` declarations are not attributes (as in libxml2).
//!
//! Everything else — relative paths (ModSecurity evaluates them without a context node, so
//! they select nothing), functions, other axes, operators, numbers or strings outside the
//! predicates above, variables — is rejected when the rule loads, with the expression and
//! the reason. `/*` and `//@*` (the only XPaths of the Core Rule Set) are recognized and
//! answered from values extracted once per body instead of walking the tree.

use super::xml::{NodeKind, XmlDocument};

/// A compiled `XML:` XPath.
#[derive(Debug, Clone)]
pub struct XPath {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `/*`: the root element's text.
    RootText,
    /// `//@*`: every attribute value.
    AllAttributes,
    /// Any other absolute path: steps from the document node.
    Path(Vec<Step>),
}

/// The two CRS XPaths, answered from precomputed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastPath {
    /// `/*`.
    RootText,
    /// `//@*`.
    AllAttributes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Child,
    Attribute,
    Descendant,
    DescendantOrSelf,
    SelfNode,
    Parent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// `*`: any element (any attribute on the attribute axis).
    Any,
    /// `name` or `prefix:name`, compared literally.
    Name(Box<[u8]>),
    /// `prefix:*`: names starting with `prefix:`.
    Prefix(Box<[u8]>),
    Text,
    Node,
    Comment,
    ProcessingInstruction,
}

#[derive(Debug, Clone)]
enum Predicate {
    /// `[n]`, 1-based.
    Position(u64),
    /// `[@name]`.
    HasAttribute(Box<[u8]>),
    /// `[@name='value']`.
    AttributeEquals(Box<[u8]>, Box<[u8]>),
}

#[derive(Debug, Clone)]
struct Step {
    axis: Axis,
    test: Test,
    predicates: Vec<Predicate>,
}

impl XPath {
    /// Compiles an XPath; the error names the expression and says what is not supported.
    pub fn parse(text: &str) -> Result<XPath, String> {
        let fail = |why: String| format!("unsupported XPath {text:?} in XML:{text}: {why}");
        let steps = Parser {
            s: text.as_bytes(),
            i: 0,
        }
        .path()
        .map_err(fail)?;
        let kind = match text.trim() {
            "/*" => Kind::RootText,
            "//@*" => Kind::AllAttributes,
            _ => Kind::Path(steps),
        };
        Ok(XPath {
            text: text.to_string(),
            kind,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// `Some` for `/*` and `//@*`, whose values are extracted once per body.
    pub fn fast_path(&self) -> Option<FastPath> {
        match self.kind {
            Kind::RootText => Some(FastPath::RootText),
            Kind::AllAttributes => Some(FastPath::AllAttributes),
            Kind::Path(_) => None,
        }
    }

    /// Calls `emit` with the string value of every node the expression selects in `doc`, in
    /// document order.
    pub fn select(&self, doc: &XmlDocument, mut emit: impl FnMut(&[u8])) {
        let mut buf = Vec::new();
        let steps = match &self.kind {
            Kind::RootText => {
                for v in doc.text_values() {
                    emit(&v);
                }
                return;
            }
            Kind::AllAttributes => {
                for v in doc.attribute_values() {
                    emit(&v);
                }
                return;
            }
            Kind::Path(steps) => steps,
        };
        for id in evaluate(doc, steps) {
            buf.clear();
            doc.string_value(id, &mut buf);
            emit(&buf);
        }
    }
}

/// The node-set of `steps` from the document node, sorted in document order.
fn evaluate(doc: &XmlDocument, steps: &[Step]) -> Vec<u32> {
    let nodes = doc.nodes();
    let mut context = vec![0u32];
    let mut next = Vec::new();
    let mut candidates = Vec::new();
    for step in steps {
        next.clear();
        // Descendant steps without predicates from a node inside an earlier context node's
        // subtree add nothing new: skipping them keeps `//a//b` linear.
        let mut covered = 0u32;
        let skip_covered = step.predicates.is_empty()
            && matches!(step.axis, Axis::Descendant | Axis::DescendantOrSelf);
        for &c in &context {
            if skip_covered && c < covered {
                continue;
            }
            let node = &nodes[c as usize];
            candidates.clear();
            let matches = |id: u32| test(doc, step.axis, &step.test, id);
            match step.axis {
                Axis::Child => {
                    let mut j = c + 1;
                    while j < node.end {
                        let n = &nodes[j as usize];
                        if !is_attribute(n.kind) && matches(j) {
                            candidates.push(j);
                        }
                        j = n.end;
                    }
                }
                Axis::Attribute => {
                    if node.kind == NodeKind::Element {
                        let mut j = c + 1;
                        while j < node.end && is_attribute(nodes[j as usize].kind) {
                            if nodes[j as usize].kind == NodeKind::Attribute && matches(j) {
                                candidates.push(j);
                            }
                            j += 1;
                        }
                    }
                }
                Axis::Descendant | Axis::DescendantOrSelf => {
                    if step.axis == Axis::DescendantOrSelf && matches(c) {
                        candidates.push(c);
                    }
                    if !is_attribute(node.kind) {
                        for j in c + 1..node.end {
                            if !is_attribute(nodes[j as usize].kind) && matches(j) {
                                candidates.push(j);
                            }
                        }
                        covered = covered.max(node.end);
                    }
                }
                Axis::SelfNode => {
                    if matches(c) {
                        candidates.push(c);
                    }
                }
                Axis::Parent => {
                    if c != 0 && matches(node.parent) {
                        candidates.push(node.parent);
                    }
                }
            }
            for p in &step.predicates {
                filter(doc, p, &mut candidates);
            }
            next.extend_from_slice(&candidates);
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut context, &mut next);
    }
    context
}

fn is_attribute(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Attribute | NodeKind::NamespaceDecl)
}

/// Whether node `id` passes the node test on `axis`.
fn test(doc: &XmlDocument, axis: Axis, test: &Test, id: u32) -> bool {
    let node = &doc.nodes()[id as usize];
    // The principal node type: attributes on the attribute axis, elements elsewhere.
    let principal = if axis == Axis::Attribute {
        NodeKind::Attribute
    } else {
        NodeKind::Element
    };
    match test {
        Test::Any => node.kind == principal,
        Test::Name(name) => node.kind == principal && doc.name(node) == &name[..],
        Test::Prefix(prefix) => {
            let n = doc.name(node);
            node.kind == principal
                && n.len() > prefix.len()
                && n.starts_with(prefix)
                && n[prefix.len()] == b':'
        }
        Test::Text => node.kind == NodeKind::Text,
        Test::Node => node.kind != NodeKind::NamespaceDecl,
        Test::Comment => node.kind == NodeKind::Comment,
        Test::ProcessingInstruction => node.kind == NodeKind::ProcessingInstruction,
    }
}

/// Keeps the candidates (one context node's, in axis order) that satisfy `p`.
fn filter(doc: &XmlDocument, p: &Predicate, candidates: &mut Vec<u32>) {
    let nodes = doc.nodes();
    let attribute = |id: u32, name: &[u8]| -> Option<u32> {
        let node = &nodes[id as usize];
        if node.kind != NodeKind::Element {
            return None;
        }
        (id + 1..node.end)
            .take_while(|&j| is_attribute(nodes[j as usize].kind))
            .find(|&j| {
                nodes[j as usize].kind == NodeKind::Attribute
                    && doc.name(&nodes[j as usize]) == name
            })
    };
    match p {
        Predicate::Position(n) => {
            let keep = usize::try_from(*n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| candidates.get(i).copied());
            candidates.clear();
            candidates.extend(keep);
        }
        Predicate::HasAttribute(name) => candidates.retain(|&id| attribute(id, name).is_some()),
        Predicate::AttributeEquals(name, value) => {
            let mut buf = Vec::new();
            candidates.retain(|&id| {
                attribute(id, name).is_some_and(|a| {
                    buf.clear();
                    doc.string_value(a, &mut buf);
                    buf == value[..]
                })
            });
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_name_char(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == b'-' || c == b'.'
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, token: &str) -> bool {
        self.ws();
        let ok = self.s[self.i..].starts_with(token.as_bytes());
        if ok {
            self.i += token.len();
        }
        ok
    }

    fn unexpected(&self) -> String {
        match std::str::from_utf8(&self.s[self.i..]) {
            Ok(rest) => match rest.chars().next() {
                Some(c) => format!("unexpected {c:?} at offset {}", self.i),
                None => "unexpected end of expression".into(),
            },
            Err(_) => format!("unexpected byte at offset {}", self.i),
        }
    }

    fn ncname(&mut self) -> Option<&[u8]> {
        self.ws();
        let start = self.i;
        if !self.s.get(self.i).is_some_and(|&c| is_name_start(c)) {
            return None;
        }
        while self.s.get(self.i).is_some_and(|&c| is_name_char(c)) {
            self.i += 1;
        }
        Some(&self.s[start..self.i])
    }

    fn path(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        match self.peek() {
            None => return Err("empty expression".into()),
            Some(b'/') => {}
            Some(_) => {
                return Err(
                    "only absolute location paths (starting with / or //) are supported; \
                     ModSecurity evaluates others without a context node"
                        .into(),
                );
            }
        }
        loop {
            if self.eat("//") {
                steps.push(Step {
                    axis: Axis::DescendantOrSelf,
                    test: Test::Node,
                    predicates: Vec::new(),
                });
                steps.push(self.step()?);
            } else if self.eat("/") {
                // `/` alone selects the document node.
                if steps.is_empty() && self.peek().is_none() {
                    return Ok(steps);
                }
                steps.push(self.step()?);
            } else if self.peek().is_none() {
                return Ok(steps);
            } else if self.peek() == Some(b'|') {
                return Err("unions (|) are not supported".into());
            } else {
                return Err(self.unexpected());
            }
        }
    }

    fn step(&mut self) -> Result<Step, String> {
        let simple = |axis| Step {
            axis,
            test: Test::Node,
            predicates: Vec::new(),
        };
        if self.eat("..") {
            return Ok(simple(Axis::Parent));
        }
        if self.eat(".") {
            return Ok(simple(Axis::SelfNode));
        }
        let mut axis = Axis::Child;
        if self.eat("@") {
            axis = Axis::Attribute;
        } else {
            let save = self.i;
            if let Some(name) = self.ncname() {
                let name = name.to_vec();
                if self.eat("::") {
                    axis = match &name[..] {
                        b"child" => Axis::Child,
                        b"attribute" => Axis::Attribute,
                        b"descendant" => Axis::Descendant,
                        b"descendant-or-self" => Axis::DescendantOrSelf,
                        b"self" => Axis::SelfNode,
                        b"parent" => Axis::Parent,
                        other => {
                            return Err(format!(
                                "the {} axis is not supported",
                                String::from_utf8_lossy(other)
                            ));
                        }
                    };
                } else {
                    self.i = save;
                }
            }
        }
        let test = self.node_test()?;
        let mut predicates = Vec::new();
        while self.eat("[") {
            predicates.push(self.predicate()?);
            if !self.eat("]") {
                return Err(format!(
                    "{} (predicates: [n], [@name], [@name='value'])",
                    self.unexpected()
                ));
            }
        }
        Ok(Step {
            axis,
            test,
            predicates,
        })
    }

    fn node_test(&mut self) -> Result<Test, String> {
        if self.eat("*") {
            return Ok(Test::Any);
        }
        let Some(first) = self.ncname().map(<[u8]>::to_vec) else {
            return Err(match self.peek() {
                Some(b'$') => "variables are not supported".into(),
                Some(c) if c.is_ascii_digit() => "numbers are only supported as [n]".into(),
                Some(b'(') => "parenthesized expressions are not supported".into(),
                Some(b'\'' | b'"') => {
                    "string literals are only supported in [@name='value']".into()
                }
                _ => format!("{}: expected a node test", self.unexpected()),
            });
        };
        // A QName has no blanks around its colon.
        if self.s.get(self.i) == Some(&b':') && self.s.get(self.i + 1) != Some(&b':') {
            self.i += 1;
            if self.s.get(self.i) == Some(&b'*') {
                self.i += 1;
                return Ok(Test::Prefix(first.into()));
            }
            let start = self.i;
            while self.s.get(self.i).is_some_and(|&c| is_name_char(c)) {
                self.i += 1;
            }
            if start == self.i || !is_name_start(self.s[start]) {
                return Err(format!("{}: expected a local name", self.unexpected()));
            }
            let mut name = first;
            name.push(b':');
            name.extend_from_slice(&self.s[start..self.i]);
            return Ok(Test::Name(name.into()));
        }
        if self.peek() == Some(b'(') {
            let test = match &first[..] {
                b"text" => Test::Text,
                b"node" => Test::Node,
                b"comment" => Test::Comment,
                b"processing-instruction" => Test::ProcessingInstruction,
                other => {
                    return Err(format!(
                        "functions ({}()) are not supported",
                        String::from_utf8_lossy(other)
                    ));
                }
            };
            self.eat("(");
            if !self.eat(")") {
                return Err(format!(
                    "{}() takes no argument here",
                    String::from_utf8_lossy(&first)
                ));
            }
            return Ok(test);
        }
        Ok(Test::Name(first.into()))
    }

    fn predicate(&mut self) -> Result<Predicate, String> {
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let start = self.i;
            while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            if self.s.get(self.i) == Some(&b'.') {
                return Err("only integer positions are supported in predicates".into());
            }
            let n = std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .ok_or_else(|| "position out of range".to_string())?;
            return Ok(Predicate::Position(n));
        }
        let unsupported = "only [n], [@name] and [@name='value'] predicates are supported";
        if !self.eat("@") {
            return Err(unsupported.into());
        }
        let name = match self.node_test()? {
            Test::Name(name) => name,
            _ => return Err(unsupported.into()),
        };
        if self.peek() == Some(b']') {
            return Ok(Predicate::HasAttribute(name));
        }
        if !self.eat("=") || self.eat("=") {
            return Err(unsupported.into());
        }
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(unsupported.into()),
        };
        self.i += 1;
        let start = self.i;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| "unterminated string literal".to_string())?;
        self.i = start + len + 1;
        Ok(Predicate::AttributeEquals(
            name,
            self.s[start..start + len].into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_paths_are_recognized() {
        assert_eq!(
            XPath::parse("/*").unwrap().fast_path(),
            Some(FastPath::RootText)
        );
        assert_eq!(
            XPath::parse("//@*").unwrap().fast_path(),
            Some(FastPath::AllAttributes)
        );
        assert_eq!(XPath::parse("/a/*").unwrap().fast_path(), None);
    }

    #[test]
    fn errors_name_the_expression() {
        for (x, why) in [
            ("a/b", "absolute"),
            ("count(//b)", "absolute"),
            ("/a/count(b)", "functions"),
            ("//ancestor::a", "ancestor axis"),
            ("/a[last()]", "predicates"),
            ("/a[b='1']", "predicates"),
            ("/a[1.5]", "integer"),
            ("/$x", "variables"),
            ("", "empty"),
            ("/a/", "node test"),
            ("/a[@b='1]", "unterminated"),
            ("/a[@b!='1']", "predicates"),
        ] {
            let e = XPath::parse(x).unwrap_err();
            assert!(e.contains(&format!("{x:?}")), "{e}");
            assert!(e.contains(why), "{x}: {e}");
        }
    }
}
