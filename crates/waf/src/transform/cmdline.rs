//! `t:cmdLine` as ModSecurity v3 implements it: deletes `\ " ' ^`, turns runs of
//! space/`,`/`;`/tab/CR/LF into one space, removes a space before `/` or `(`, and lower-cases
//! everything else.

use std::borrow::Cow;

/// `t:cmdLine`.
pub(crate) fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(input.len());
    let mut space = false;
    for &a in input {
        match a {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                space = false;
                out.push(a);
            }
            _ => {
                out.push(a.to_ascii_lowercase());
                space = false;
            }
        }
    }
    if out == input {
        return Cow::Borrowed(input);
    }
    Cow::Owned(out)
}
