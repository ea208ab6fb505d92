//! `t:normalizePath` / `t:normalizePathWin`: removes `./` self references, resolves `../`
//! back references (never above the root; a relative path keeps leading `..`), collapses
//! repeated slashes and keeps a trailing slash only if the input had one — a port of
//! ModSecurity's `normalize_path_inplace`. The Windows form first turns `\` into `/`.

use std::borrow::Cow;

/// `t:normalizePath`.
pub(crate) fn normalize_path(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() || !input.iter().any(|&b| b == b'/' || b == b'.') {
        return Cow::Borrowed(input);
    }
    let out = normalize(input.to_vec());
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// `t:normalizePathWin`.
pub(crate) fn normalize_path_win(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() || !input.iter().any(|&b| b == b'/' || b == b'.' || b == b'\\') {
        return Cow::Borrowed(input);
    }
    let converted = input
        .iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    let out = normalize(converted);
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// The in-place algorithm, with indices instead of pointers. `buf` is non-empty.
fn normalize(mut buf: Vec<u8>) -> Vec<u8> {
    let end = buf.len() - 1;
    let relative = buf[0] != b'/';
    let trailing = buf[end] == b'/';
    let (mut src, mut dst) = (0usize, 0usize);
    let mut hitroot = false;
    let mut done = false;

    while !done && src <= end && dst <= end {
        let mut skip_copy = false;
        let mut normalize_segment = true;
        if src == end {
            done = true;
        } else if buf[src + 1] != b'/' {
            normalize_segment = false;
        }
        if normalize_segment {
            if src != end && buf[src] == b'/' {
                // Empty segment: the copy below collapses the slashes.
            } else if buf[src] == b'.' {
                if dst > 0 && buf[dst - 1] == b'.' {
                    // Back reference.
                    if relative && (hitroot || dst <= 2) {
                        hitroot = true;
                    } else {
                        let mut d = dst as isize - 3;
                        while d > 0 && buf[d as usize] != b'/' {
                            d -= 1;
                        }
                        if d <= 0 {
                            hitroot = true;
                            d = 0;
                            if !relative && src == end {
                                d += 1;
                            }
                        }
                        dst = d as usize;
                        if done {
                            skip_copy = true;
                        } else {
                            src += 1;
                        }
                    }
                } else if dst == 0 {
                    // Relative self reference.
                    if done {
                        skip_copy = true;
                    } else {
                        src += 1;
                    }
                } else if buf[dst - 1] == b'/' {
                    // Self reference.
                    if done {
                        skip_copy = true;
                    } else {
                        dst -= 1;
                        src += 1;
                    }
                }
            } else if dst > 0 {
                hitroot = false;
            }
        }
        if skip_copy {
            continue;
        }
        if src > end {
            break;
        }
        if buf[src] == b'/' {
            while src < end && buf[src + 1] == b'/' {
                src += 1;
            }
            if relative && dst == 0 {
                src += 1;
                continue;
            }
        }
        buf[dst] = buf[src];
        dst += 1;
        src += 1;
    }
    if !trailing && dst > 0 && buf[dst - 1] == b'/' {
        dst -= 1;
    }
    buf.truncate(dst);
    buf
}
