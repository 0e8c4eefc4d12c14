// SPDX-License-Identifier: Apache-2.0
//! Member paths: lexical cleaning (nothing in a name may point above the tree) and splitting.

/// Most path components of a member.
pub const MAX_COMPONENTS: usize = 1024;
/// Longest path component.
pub const MAX_COMPONENT: usize = 255;

/// Cleans a member path: drops leading `/`, empty and `.` components; refuses `..`, overlong
/// components and too deep paths. Returns the components joined by `/` (empty = root).
pub fn clean(path: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(path.len());
    let mut n = 0;
    for comp in path.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err("path contains '..'"),
            c if c.len() > MAX_COMPONENT => return Err("path component longer than 255 bytes"),
            c if c.contains(&0) => return Err("path contains NUL"),
            c => {
                n += 1;
                if n > MAX_COMPONENTS {
                    return Err("path too deep");
                }
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// `(parent, name)` of a clean path (parent empty for a top-level name).
pub(super) fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    }
}
