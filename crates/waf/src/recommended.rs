//! The engine settings and body-processor selection rules of a normal ModSecurity v3
//! deployment (what `modsecurity.conf-recommended` provides), written here as SecLang so
//! that callers can load them in front of CRS. ModSecurity only picks the urlencoded and
//! multipart processors by itself; JSON and XML bodies are parsed because of rules 200000
//! and 200001 below.

/// Load this before CRS (`builder.add_text(MODSECURITY_RECOMMENDED, "recommended", dir)`).
pub const MODSECURITY_RECOMMENDED: &str = r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml
SecResponseBodyLimit 524288
SecResponseBodyLimitAction ProcessPartial
SecArgumentSeparator &

SecRule REQUEST_HEADERS:Content-Type "@rx (?:application(?:/soap\+|/)|text/)xml" \
     "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@rx application/json" \
     "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
"#;
