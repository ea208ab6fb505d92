//! Request body processors (urlencoded, multipart, JSON, XML).
//!
//! Each processor turns the raw request body into the values the engine exposes as variables:
//! `ARGS_POST` pairs, `FILES*`, `MULTIPART_*` flags, the XML document behind `XML:<xpath>`
//! (with [`XPath`], the compiled XPath subset). They follow ModSecurity v3's semantics
//! (argument naming, strictness flags) and never panic, whatever the input bytes.

mod json;
mod multipart;
mod multipart_header;
mod urlencoded;
mod xml;
pub mod xpath;

pub use json::{JsonArgs, JsonBuffers, json_args, json_args_into, parse_json, parse_json_partial};
pub use multipart::parse_multipart;
pub use urlencoded::{for_each_pair, parse_urlencoded};
pub use xml::{XmlDocument, parse_xml, parse_xml_partial, parse_xml_values};
pub use xpath::{FastPath, XPath};

/// Name/value pairs in the order they appear in the body.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// One uploaded file of a multipart body (a part with a `filename` parameter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartFile {
    /// The part's `name` parameter (becomes `FILES_NAMES`).
    pub name: Vec<u8>,
    /// The part's `filename` parameter (becomes `FILES`).
    pub filename: Vec<u8>,
    /// Size of the file content in bytes (`FILES_SIZES`, `FILES_COMBINED_SIZE`).
    pub size: usize,
    /// The part's `Content-Type` header value, empty when absent.
    pub content_type: Vec<u8>,
}

/// The `MULTIPART_*` flags ModSecurity v3 sets while parsing a multipart body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartFlags {
    /// `MULTIPART_STRICT_ERROR`: any of the other flags (except `file_limit_exceeded`) or a parse error.
    pub strict_error: bool,
    /// `MULTIPART_BOUNDARY_QUOTED`.
    pub boundary_quoted: bool,
    /// `MULTIPART_BOUNDARY_WHITESPACE`.
    pub boundary_whitespace: bool,
    /// `MULTIPART_DATA_BEFORE`: content before the first boundary.
    pub data_before: bool,
    /// `MULTIPART_DATA_AFTER`: content after the final boundary.
    pub data_after: bool,
    /// `MULTIPART_HEADER_FOLDING`: a part header continued on the next line.
    pub header_folding: bool,
    /// `MULTIPART_LF_LINE`: lines terminated by LF only.
    pub lf_line: bool,
    /// `MULTIPART_CRLF_LF_LINES`: a mix of CRLF and LF line endings.
    pub crlf_lf_lines: bool,
    /// `MULTIPART_MISSING_SEMICOLON`.
    pub missing_semicolon: bool,
    /// `MULTIPART_INVALID_QUOTING`.
    pub invalid_quoting: bool,
    /// `MULTIPART_INVALID_PART`.
    pub invalid_part: bool,
    /// `MULTIPART_INVALID_HEADER_FOLDING`.
    pub invalid_header_folding: bool,
    /// `MULTIPART_FILE_LIMIT_EXCEEDED`. ModSecurity only sets it while storing uploaded files
    /// on disk (SecUploadKeepFiles / SecTmpSaveUploadedFiles), which portcullis never does,
    /// so the parser leaves it false.
    pub file_limit_exceeded: bool,
    /// `MULTIPART_UNMATCHED_BOUNDARY`.
    pub unmatched_boundary: bool,
}

/// Everything the multipart processor extracts from one body.
#[derive(Debug, Clone, Default)]
pub struct MultipartOutput {
    /// Form fields (parts without `filename`), in order.
    pub args: Pairs,
    /// Uploaded files, in order.
    pub files: Vec<MultipartFile>,
    /// `MULTIPART_PART_HEADERS`: (part name, "Header: value" line).
    pub part_headers: Pairs,
    /// The strictness flags.
    pub flags: MultipartFlags,
    /// A fatal parse error (becomes `REQBODY_ERROR` / `REQBODY_ERROR_MSG`).
    pub error: Option<String>,
}

/// Why a JSON or XML body could not be processed (becomes `REQBODY_ERROR_MSG`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The JSON text is not well formed.
    #[error("JSON parsing error: {0}")]
    Json(String),
    /// The JSON document nests deeper than `SecRequestBodyJsonDepthLimit`.
    #[error("JSON depth limit {0} exceeded")]
    JsonDepth(usize),
    /// The XML document is not well formed.
    #[error("XML parsing error: {0}")]
    Xml(String),
}
